/*
** arena.c: the public C API for callers without Lua. Values live in an arena of chunks
** taken from the caller's allocator (allocate as you go, free all at once, as Stan's tape),
** and the arena's scratch buffers serve its traversals.
*/
#include <stdlib.h>
#include <string.h>
#include "graph/lg_graph.h"

#define CHUNKSIZE 65536   /* bytes per chunk; a larger node gets a chunk of its own */

typedef struct Chunk {
  struct Chunk *next;
  size_t size, used;   /* bytes of mem[] */
  double mem[];        /* double: keeps nodes aligned */
} Chunk;

struct lg_Arena {
  lg_Work W;
  Chunk *chunks;
  size_t bytes;
};

static void *stdalloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

const char *lg_strerror (int code) {
  switch (code) {
    case LG_OK: return "no error";
    case LG_EMEM: return "not enough memory";
    case LG_EARG: return "bad argument";
    case LG_ELEAF: return "not a leaf";
    case LG_EHOST: return "error in host function";
    default: return "unknown error";
  }
}

lg_Arena *lg_arena_new (lg_Alloc allocf, void *ud) {
  lg_Arena *A;
  if (allocf == NULL) allocf = stdalloc;
  A = (lg_Arena *)allocf(ud, NULL, 0, sizeof(lg_Arena));
  if (A == NULL) return NULL;
  lgI_workinit(&A->W, allocf, ud);
  A->chunks = NULL;
  A->bytes = sizeof(lg_Arena);
  return A;
}

void lg_arena_clear (lg_Arena *A) {
  Chunk *c = A->chunks;
  while (c != NULL) {
    Chunk *next = c->next;
    size_t sz = sizeof(Chunk) + c->size;
    lgI_alloc(&A->W, c, sz, 0);
    A->bytes -= sz;
    c = next;
  }
  A->chunks = NULL;
}

void lg_arena_free (lg_Arena *A) {
  if (A == NULL) return;
  lg_arena_clear(A);
  lgI_workfree(&A->W);
  A->W.allocf(A->W.ud, A, sizeof(lg_Arena), 0);
}

size_t lg_arena_bytes (const lg_Arena *A) {
  return A->bytes + (A->W.nstack + A->W.norder) * sizeof(lg_Value *)
                  + A->W.nx * sizeof(double);
}

static void *arenaalloc (lg_Arena *A, size_t size) {
  Chunk *c = A->chunks;
  size = (size + 7) & ~(size_t)7;
  if (c == NULL || c->size - c->used < size) {
    size_t csize = (size > CHUNKSIZE) ? size : CHUNKSIZE;
    c = (Chunk *)lgI_alloc(&A->W, NULL, 0, sizeof(Chunk) + csize);
    if (c == NULL) return NULL;
    c->size = csize;
    c->used = 0;
    c->next = A->chunks;
    A->chunks = c;
    A->bytes += sizeof(Chunk) + csize;
  }
  c->used += size;
  return (char *)c->mem + (c->used - size);
}

lg_Value *lg_leaf (lg_Arena *A, double x) {
  void *mem = arenaalloc(A, lgI_nodesize(0));
  lg_Value *v;
  if (mem == NULL) return NULL;
  v = lgI_initnode(mem, LGI_LEAF, 0);
  v->data = x;
  return v;
}

static lg_Value *fail (int *err, int code) {
  if (err != NULL) *err = code;
  return NULL;
}

lg_Value *lg_apply (lg_Arena *A, int op, int nargs, const lg_Arg *args, int *err) {
  const lg_OpDef *def;
  lg_Value *v;
  void *mem;
  int i;
  if (op <= LGI_LEAF || op >= lgI_nops || nargs < 0 || (nargs > 0 && args == NULL))
    return fail(err, LG_EARG);
  def = lgI_opdef(op);
  if ((def->arity > 0 && nargs != def->arity) || (def->arity == LGI_PAIRS && nargs % 2 != 0))
    return fail(err, LG_EARG);
  if (lgI_reservex(&A->W, (size_t)nargs) != LG_OK) return fail(err, LG_EMEM);
  mem = arenaalloc(A, lgI_nodesize((uint32_t)nargs));
  if (mem == NULL) return fail(err, LG_EMEM);
  v = lgI_initnode(mem, op, (uint32_t)nargs);
  for (i = 0; i < nargs; i++) {
    if (args[i].value != NULL) lgI_setarg(v, (uint32_t)i, args[i].value);
    else lgI_setconst(v, (uint32_t)i, args[i].number);
  }
  lgI_forward(v, A->W.x);
  if (err != NULL) *err = LG_OK;
  return v;
}

int lg_call (lg_Arena *A, const lg_Func *f, const lg_Arg *args, lg_Value **out) {
  lg_Value *call;
  void *mem;
  int i, err;
  if (!lgI_validfunc(f) || args == NULL || out == NULL) return LG_EARG;
  if (lgI_reservex(&A->W, 2 * (size_t)f->nin) != LG_OK) return LG_EMEM;
  if ((mem = arenaalloc(A, lgI_callsize((uint32_t)f->nin, (uint32_t)f->nout))) == NULL)
    return LG_EMEM;
  call = lgI_initcall(mem, f);
  for (i = 0; i < f->nin; i++) {
    if (args[i].value != NULL) lgI_setarg(call, (uint32_t)i, args[i].value);
    else lgI_setconst(call, (uint32_t)i, args[i].number);
  }
  if ((err = lgI_callforward(&A->W, call)) != LG_OK) return err;
  for (i = 0; i < f->nout; i++) {
    if ((mem = arenaalloc(A, lgI_nodesize(2))) == NULL) return LG_EMEM;
    out[i] = lgI_initoutput(mem, call, (uint32_t)i);
  }
  return LG_OK;
}

const char *lg_arena_message (const lg_Arena *A) { return A->W.msg; }

double lg_data (const lg_Value *v) { return v->data; }
double lg_grad (const lg_Value *v) { return v->grad; }
void lg_set_grad (lg_Value *v, double g) { v->grad = g; }

int lg_set_data (lg_Value *v, double x) {
  if (v->kind != LGI_KLEAF) return LG_ELEAF;
  v->data = x;
  return LG_OK;
}

int lg_value_op (const lg_Value *v) {
  return (v->kind == LGI_KLEAF || v->kind == LGI_KOP) ? v->op : -1;
}

const char *lg_value_opname (const lg_Value *v) { return lgI_opname(v); }
int lg_value_nargs (const lg_Value *v) { return (int)v->n; }

int lg_value_arg (const lg_Value *v, int i, lg_Value **value, double *number) {
  if (i < 0 || (uint32_t)i >= v->n) return LG_EARG;
  if (lgI_isconst(v, (uint32_t)i)) {
    if (value) *value = NULL;
    if (number) *number = v->in[i].k;
  }
  else {
    if (value) *value = v->in[i].v;
    if (number) *number = v->in[i].v->data;
  }
  return LG_OK;
}

int lg_backward (lg_Arena *A, lg_Value *root, double seed) {
  if (root == NULL) return LG_EARG;
  return lgI_backward(&A->W, root, seed);
}

int lg_zero_grad (lg_Arena *A, lg_Value *root) {
  if (root == NULL) return LG_EARG;
  return lgI_zerograd(&A->W, root);
}

/* Are the n Values of vs all there? */
static int allvalues (lg_Value *const *vs, size_t n) {
  size_t i;
  if (n > 0 && vs == NULL) return 0;
  for (i = 0; i < n; i++) {
    if (vs[i] == NULL) return 0;
  }
  return 1;
}

int lg_gradients (lg_Arena *A, size_t nout, lg_Value *const *outs, const double *seeds,
                  size_t nin, lg_Value *const *ins, double *grads) {
  if (!allvalues(outs, nout) || !allvalues(ins, nin) || (nout > 0 && seeds == NULL)
      || (nin > 0 && grads == NULL))
    return LG_EARG;
  return lgI_gradients(&A->W, outs, seeds, nout, ins, nin, grads);
}

int lg_tangents (lg_Arena *A, size_t nin, lg_Value *const *ins, const double *tins,
                 size_t nout, lg_Value *const *outs, double *touts) {
  if (!allvalues(outs, nout) || !allvalues(ins, nin) || (nin > 0 && tins == NULL)
      || (nout > 0 && touts == NULL))
    return LG_EARG;
  return lgI_jvp(&A->W, ins, tins, nin, outs, nout, touts);
}

int lg_op_count (void) { return lgI_nops; }

const char *lg_op_name (int op) {
  return (op >= 0 && op < lgI_nops) ? lgI_opdef(op)->name : NULL;
}

int lg_op_arity (int op) {
  if (op < 0 || op >= lgI_nops) return 0;
  return (lgI_opdef(op)->arity < 0) ? -1 : lgI_opdef(op)->arity;
}

int lg_op_find (const char *name) {
  int i;
  if (name == NULL) return -1;
  for (i = 0; i < lgI_nops; i++) {
    const lg_OpDef *d = lgI_opdef(i);
    if (strcmp(d->name, name) == 0 || (d->luaname && strcmp(d->luaname, name) == 0))
      return i;
  }
  return -1;
}
