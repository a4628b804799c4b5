/*
** lg_internal.h: what the core's files share. Never installed; knows nothing of Lua.
*/
#ifndef LG_INTERNAL_H
#define LG_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include "luagrad.h"

#if defined(__GNUC__)
#define LGI_FUNC __attribute__((visibility("hidden"))) extern
#else
#define LGI_FUNC extern
#endif

/* An argument slot of a node: a parent Value or a folded constant (constants never become
   nodes). Which one it holds is recorded in the node's constant mask. */
typedef union lg_Slot {
  lg_Value *v;
  double k;
} lg_Slot;

/*
** A node. The caller owns its memory (a Lua userdata, or an arena block) and hands it to
** lgI_initnode; lgI_nodesize tells how much it needs. Layout: 32 bytes, then one slot per
** argument, then (for more than LGI_INLINEMASK arguments) a bitmap of which are constants.
*/
struct lg_Value {
  double data;
  double grad;
  double adj;        /* scratch adjoint, 0 outside backward */
  uint32_t n;        /* number of argument slots */
  uint8_t op;        /* index into lgI_ops */
  uint8_t flags;     /* LGI_MARK* during traversals, LGI_LABELED */
  uint16_t kmask;    /* bit i: slot i is a constant (i < LGI_INLINEMASK) */
  lg_Slot in[];      /* n slots, then the bitmap when n > LGI_INLINEMASK */
};

#define LGI_INLINEMASK 16
#define LGI_HEADSIZE offsetof(lg_Value, in)

#define LGI_MARKED 1u    /* visited by the current traversal */
#define LGI_DONE 2u      /* emitted in post-order */
#define LGI_LABELED 4u   /* the binding holds a label for it */
#define LGI_INPUT 8u     /* an input leaf of the recording being flattened into a tape */
#define LGI_GRADVALUE 16u  /* the binding holds its grad as a Value (create_graph) */
#define LGI_NESTED 32u   /* marked by a traversal nested in another's callback (W->nested) */
#define LGI_GIVEN 64u    /* forward mode: its tangent is given, not computed */

/* Forward: y = f(x[0..n-1]). Backward: dx[i] = g * dy/dx[i], given x, y and g = dJ/dy. */
typedef double (*lgI_Forward) (int n, const double *x);
typedef void (*lgI_Backward) (int n, const double *x, double y, double g, double *dx);

#define LGI_VARIADIC (-1)   /* any number of arguments, as a list */
#define LGI_PAIRS (-2)      /* a list of pairs (x1, y1, x2, y2, ...), as two lists */

/*
** An op's derivative built from ops, so that it can be differentiated again (higher order,
** forward mode on graphs). Whoever builds (the binding: Values on the Lua stack) implements
** the callbacks; a handle names a value the builder holds: a Value or a number.
*/
typedef struct lgI_Builder lgI_Builder;
struct lgI_Builder {
  const double *x;   /* the arguments' numbers, for the ops that branch on them */
  double y;          /* the op's result */
  int n;             /* number of arguments */
  int want;          /* the one argument whose contribution is wanted, or -1 for all */
  int (*arg) (lgI_Builder *B, int i);          /* argument i */
  int (*out) (lgI_Builder *B);                 /* the op's result, as its node */
  int (*grad) (lgI_Builder *B);                /* g = dJ/dy */
  int (*num) (lgI_Builder *B, double k);       /* the number k */
  int (*apply) (lgI_Builder *B, int op, int a, int b);   /* op(a) or op(a, b) */
  void (*dx) (lgI_Builder *B, int i, int h);   /* dJ/dx[i] += h */
};

/* Adds g * dy/dx[i] to each wanted argument's dx, as the op's backward computes it. */
typedef void (*lgI_Build) (lgI_Builder *B);

typedef struct lg_OpDef {
  const char *name;     /* as Value.op and the graph printer show it */
  const char *luaname;  /* lg.<luaname> and v:<luaname>(); NULL for operator-only ops */
  const char *metamethod;  /* "__add", ...; NULL if none */
  int arity;            /* 0 (leaf), 1, 2, LGI_VARIADIC or LGI_PAIRS */
  lgI_Forward forward;
  lgI_Backward backward;
  lgI_Build build;      /* the backward again, as ops */
} lg_OpDef;

/* The rows of lgI_ops, for ops that name others (derivatives built from ops). */
enum {
  LGI_LEAF, LGI_ADD, LGI_SUB, LGI_MUL, LGI_DIV, LGI_POW, LGI_NEG, LGI_EXP, LGI_LOG, LGI_SQRT,
  LGI_SIN, LGI_COS, LGI_TAN, LGI_TANH, LGI_SIGMOID, LGI_RELU, LGI_ABS, LGI_MAX, LGI_MIN,
  LGI_SUM, LGI_DOT, LGI_NOPS
};

LGI_FUNC const lg_OpDef lgI_ops[];
LGI_FUNC const int lgI_nops;

static inline int lgI_isconst (const lg_Value *v, uint32_t i) {
  if (v->n <= LGI_INLINEMASK) return (v->kmask >> i) & 1u;
  else {
    const uint64_t *bits = (const uint64_t *)(v->in + v->n);
    return (int)((bits[i >> 6] >> (i & 63)) & 1u);
  }
}

static inline double lgI_argdata (const lg_Value *v, uint32_t i) {
  return lgI_isconst(v, i) ? v->in[i].k : v->in[i].v->data;
}

/* Nodes are made on every op, so these few are inline. */

static inline size_t lgI_maskwords (uint32_t n) {
  return (n <= LGI_INLINEMASK) ? 0 : ((size_t)n + 63) / 64;
}

/* Bytes a node with n argument slots needs. */
static inline size_t lgI_nodesize (uint32_t n) {
  return LGI_HEADSIZE + (size_t)n * sizeof(lg_Slot) + lgI_maskwords(n) * sizeof(uint64_t);
}

/* Makes mem (lgI_nodesize(n) bytes) a node of op with n slots, every one of which the
   caller then sets with lgI_setarg or lgI_setconst before lgI_forward. */
static inline lg_Value *lgI_initnode (void *mem, int op, uint32_t n) {
  lg_Value *v = (lg_Value *)mem;
  v->data = v->grad = v->adj = 0.0;
  v->n = n;
  v->op = (uint8_t)op;
  v->flags = 0;
  v->kmask = 0;
  if (n > LGI_INLINEMASK) memset(v->in + n, 0, lgI_maskwords(n) * sizeof(uint64_t));
  return v;
}

static inline void lgI_setmask (lg_Value *v, uint32_t i, int isconst) {
  if (v->n <= LGI_INLINEMASK) {
    if (isconst) v->kmask |= (uint16_t)(1u << i);
    else v->kmask &= (uint16_t)~(1u << i);
  }
  else {
    uint64_t *bits = (uint64_t *)(v->in + v->n);
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (isconst) bits[i >> 6] |= bit;
    else bits[i >> 6] &= ~bit;
  }
}

static inline void lgI_setarg (lg_Value *v, uint32_t i, lg_Value *parent) {
  v->in[i].v = parent;
  lgI_setmask(v, i, 0);
}

static inline void lgI_setconst (lg_Value *v, uint32_t i, double k) {
  v->in[i].k = k;
  lgI_setmask(v, i, 1);
}

/* Computes v->data from the arguments; x is scratch for at least v->n doubles. */
LGI_FUNC void lgI_forward (lg_Value *v, double *x);

/* ---- scratch memory for traversals ----------------------------------------- */

/* Growable buffers for traversals. Owned by whoever runs them (a lua_State's registry, an
   arena), never static, so several threads can work at once. */
typedef struct lg_Work {
  lg_Alloc allocf;
  void *ud;
  lg_Value **stack; size_t nstack;   /* DFS stack */
  lg_Value **order; size_t norder;   /* post-order result */
  double *x; size_t nx;              /* argument values and partials, 2 per slot */
  char *text; size_t ntext;          /* text being written (the graph printer) */
  size_t count;                      /* nodes in order after lgI_toposort */
  size_t maxn;                       /* largest n among them */
  int hascall;                       /* a host function's call among them */
  char msg[256];                     /* a host function's last error message */
  const char *msgfrom;               /* and that function's name */
  int recording;                     /* the binding records guards (lg.compile) */
  int busy;                          /* a sweep holds these buffers (callbacks may run) */
  void *ctx;                         /* the caller's context for host callbacks (the
                                        binding's lua_State during a sweep) */
  int nested;                        /* runs inside a callback of a sweep that holds
                                        other buffers: marks with LGI_NESTED, and meeting a
                                        node the outer sweep holds is LGI_EBUSY */
  int mode;                          /* LGI_NOGRAD | LGI_ANOMALY, set by the binding */
  const void *mt;                    /* the binding's Value metatable: operand checks */
  lg_Value *bad;                     /* LGI_ENAN: the node whose derivative gave NaN */
  uint32_t badarg;                   /* and for which of its arguments */
} lg_Work;

#define LGI_NOGRAD 1    /* ops make leaves, not nodes (lg.no_grad): the binding's alone */
#define LGI_ANOMALY 2   /* backward checks every derivative for NaN (lg.detect_anomaly) */

LGI_FUNC void lgI_workinit (lg_Work *W, lg_Alloc allocf, void *ud);
LGI_FUNC void lgI_workfree (lg_Work *W);
LGI_FUNC void *lgI_alloc (lg_Work *W, void *p, size_t osize, size_t nsize);
/* Ensures room for n doubles in W->x; LG_EMEM on failure. */
LGI_FUNC int lgI_reservex (lg_Work *W, size_t n);

/* W->order[0 .. W->count-1] := every node root depends on, parents before children, with
   LGI_MARKED set on each; LG_EMEM (and no marks left) on failure. lgI_unmark clears them. */
LGI_FUNC int lgI_toposort (lg_Work *W, lg_Value *root);
/* The same over several roots: every node any of them depends on, once. */
LGI_FUNC int lgI_toposortn (lg_Work *W, lg_Value *const *roots, size_t nroots);
LGI_FUNC void lgI_unmark (lg_Work *W);
/* Under LGI_ANOMALY, LGI_ENAN: the derivative of W->bad gave NaN for argument W->badarg
   (and, as for any failure, no grad changed). */
#define LGI_ENAN 101
/* A traversal nested in a sweep's callback met a node of that sweep's graph. */
#define LGI_EBUSY 102
LGI_FUNC int lgI_backward (lg_Work *W, lg_Value *root, double seed);
/* grads[j] := d(sum of seeds[i] * outs[i]) / d(ins[j]); no grad changes. */
LGI_FUNC int lgI_gradients (lg_Work *W, lg_Value *const *outs, const double *seeds,
                            size_t nout, lg_Value *const *ins, size_t nin, double *grads);
/* Forward mode: touts[i] := d(outs[i]) in the direction tins of ins (whose own
   dependencies are ignored). */
LGI_FUNC int lgI_jvp (lg_Work *W, lg_Value *const *ins, const double *tins, size_t nin,
                      lg_Value *const *outs, size_t nout, double *touts);
LGI_FUNC int lgI_zerograd (lg_Work *W, lg_Value *root);

/* ---- host functions (lg_call.c) -------------------------------------------- */

/* A call of a host function is a node with one slot per input; its outputs are nodes of
   op LGI_OUTPUT with two slots: the call, and the constant index of the output. Neither op
   is in lgI_ops: their work needs the host's function, which a row cannot hold. */
#define LGI_CALL 254
#define LGI_OUTPUT 255

typedef struct lg_CallRec {
  const lg_Func *f;
  double y[];   /* f->nout outputs, then their adjoints during backward */
} lg_CallRec;

LGI_FUNC int lgI_validfunc (const lg_Func *f);
LGI_FUNC size_t lgI_callsize (uint32_t nin, uint32_t nout);
/* Makes mem (lgI_callsize bytes) a call of f with f->nin slots, set by the caller. */
LGI_FUNC lg_Value *lgI_initcall (void *mem, const lg_Func *f);
LGI_FUNC lg_CallRec *lgI_callrec (const lg_Value *call);
/* Runs f's forward; LG_EHOST with W->msg and W->msgfrom on failure. */
LGI_FUNC int lgI_hostforward (lg_Work *W, const lg_Func *f, const double *x, double *y);
/* Runs the host's forward on the call's arguments; LG_EHOST with W->msg on failure.
   W->x must hold 2 * nin doubles. */
LGI_FUNC int lgI_callforward (lg_Work *W, lg_Value *call);
LGI_FUNC lg_Value *lgI_initoutput (void *mem, lg_Value *call, uint32_t j);
/* The name Value.op shows for any node, host functions' included. */
LGI_FUNC const char *lgI_opname (const lg_Value *v);
/* Runs f's vjp into gx (zeroed first: f->nin doubles); LG_EHOST with W->msg and
   W->msgfrom on failure. */
LGI_FUNC int lgI_hostvjp (lg_Work *W, const lg_Func *f, const double *x, const double *y,
                          const double *gy, double *gx);
/* Backward through a call: the host's vjp from its outputs' adjoints to its arguments'. */
LGI_FUNC int lgI_callbackward (lg_Work *W, lg_Value *call);
LGI_FUNC void lgI_outputbackward (lg_Value *out);
LGI_FUNC void lgI_callabandon (lg_Value *call);

/* ---- tapes: a recorded graph flattened for replay (lg_tape.c) ---------------- */

#define LGI_EGUARD 100   /* a replay found a guard broken: record again */

enum { LGI_GLT, LGI_GLE, LGI_GDATA };

/* A fact Lua saw while recording: a < b or a <= b gave expect, or a's data was ka. */
typedef struct lg_Guard {
  uint8_t kind, expect;
  int32_t a, b;     /* tape indices; -1: the constant ka / kb */
  double ka, kb;
} lg_Guard;

/* A host function's call in a tape. Its outputs and their adjoints are the tape's own
   (cy and cg, from index y on), so that a replay never writes into the recorded graph. */
typedef struct lg_TapeCall {
  const lg_Func *f;
  uint32_t node;   /* its index in the tape */
  uint32_t y;      /* its first output's index in cy and cg */
} lg_TapeCall;

/*
** The nodes of a tape are the recorded graph's, in its order: first everything the result
** depends on, ending with the result at index out, then what only guards read. A call node
** has its arguments as any op; an output node has one argument, its call, and keeps in the
** next argidx entry the index of its value in cy (and of its adjoint in cg).
*/
typedef struct lg_Tape {
  lg_Alloc allocf; void *ud;
  void *block; size_t blocksize;     /* every array below lives in this one block */
  uint32_t nnodes, nargs, ninputs, nexternal, nguards, maxn, out;
  uint32_t nslots;                   /* nodes, then one slot per constant argument */
  uint32_t ncalls, ny;               /* host calls, and their outputs in all */
  double *val, *adj, *x;             /* val, adj: nslots each; x: scratch, 2 * maxn */
  double *cy, *cg;                   /* the calls' outputs and their adjoints: ny each */
  lg_Value **ext;                    /* external leaves: read and credited on each replay */
  lg_TapeCall *call;                 /* the calls, in tape order */
  lg_Guard *guard;
  uint32_t *first, *n, *extidx;
  uint32_t *argidx;                  /* every argument's slot in val */
  int32_t *input;                    /* -1: an input the result does not use */
  uint8_t *op;
} lg_Tape;

/* From W->order (lgI_toposortn over out and the guards' nodes, marks still set) makes T
   the flat tape; leaves flagged LGI_INPUT are the inputs, other leaves external. Until
   lgI_tapeend, lgI_tapeindex maps a node to its index (-1 if not in the tape) so that the
   caller can fill T->input and T->guard. LG_EMEM when out of memory (or for more than
   INT32_MAX nodes). */
LGI_FUNC int lgI_tapebegin (lg_Tape *T, lg_Work *W, lg_Value *out, uint32_t ninputs,
                            uint32_t nguards);
LGI_FUNC int32_t lgI_tapeindex (const lg_Value *v);
LGI_FUNC void lgI_tapeend (lg_Work *W);
LGI_FUNC void lgI_tapefree (lg_Tape *T);
/* Recomputes every value from T->val at the inputs and the external leaves' data; then
   LGI_EGUARD if a guard no longer holds. A host function that fails gives LG_EHOST with
   W->msg, or LGI_EGUARD if a guard on values computed before it is broken (Lua would have
   taken another path, and maybe never called it). */
LGI_FUNC int lgI_tapeforward (lg_Tape *T, lg_Work *W);
/* Adjoints from the output (seeded 1) back to every node; then external leaves' grads get
   theirs added. LG_EHOST with W->msg, and no grad changed, if a host's vjp fails. */
LGI_FUNC int lgI_tapebackward (lg_Tape *T, lg_Work *W);

/* ---- text ------------------------------------------------------------------- */

/* Text appended to W->text (so the text always has an owner, even if the caller's use of it
   fails); the first failed append sets err and later appends do nothing. */
typedef struct lg_Buffer {
  lg_Work *W;
  size_t len;
  int err;   /* LG_EMEM once any append failed */
} lg_Buffer;

LGI_FUNC void lgI_bufinit (lg_Buffer *B, lg_Work *W);
LGI_FUNC void lgI_bufadd (lg_Buffer *B, const char *s, size_t len);
LGI_FUNC void lgI_bufaddstr (lg_Buffer *B, const char *s);
LGI_FUNC void lgI_bufaddnum (lg_Buffer *B, double x);
/* x as "%.14g" with '.' as the decimal point whatever the locale; buf of 32 bytes. */
LGI_FUNC const char *lgI_fmtnum (char *buf, double x);

/* The label of a node for the graph printer (*len bytes), or NULL. */
typedef const char *(*lgI_Labeler) (void *ud, const lg_Value *v, size_t *len);
/* Appends Graphviz DOT text for the graph ending at root. */
LGI_FUNC int lgI_todot (lg_Work *W, lg_Value *root, lgI_Labeler label, void *ud,
                        lg_Buffer *B);

/* ---- the module's Lua parts, compiled in (generated from the files in lua/luagrad) ------ */

typedef struct lg_Source {
  const char *module;     /* "luagrad", "luagrad.nn", ... */
  const char *chunkname;  /* "=luagrad/init.lua", ... */
  const char *text;
  size_t len;
} lg_Source;

LGI_FUNC const lg_Source lgI_sources[];   /* ends with a NULL module */

#endif
