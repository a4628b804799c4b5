/*
** tensorops.c: the ops on tensors, in the graph Values live in. Each op here checks its
** operands, words the contract's errors, works out its result's descriptor and makes one
** node of core/tops.c (whose forward and backward do the numbers); a composite (matmul's
** 1-D and batched forms, outer, reshape that copies, flatten) is a few such nodes. An op
** records history when an operand wants a gradient (a tensor that requires grad, or a
** Value) and no_grad is off; otherwise its result is a leaf whose slots are constants, so
** no sweep walks past it (a view still anchors its base, whose storage it reads). The
** elementwise ops and the reductions sum and dot are ops.c's, which come here when an
** operand is a tensor. Last, the .grad tensors a backward over tensors adds into.
*/
#include <math.h>
#include <string.h>

#include "lua/lg_lua.h"

#if LUA_VERSION_NUM == 501 && defined(__has_include)
#if __has_include("luajit.h")
#include "luajit.h"
#endif
#endif

#define LGI_TNEWGRAD 32u   /* a leaf's .grad was made by the sweep under way (tgrads) */

/* {==================================================================
** Operands and nodes
** =================================================================== */

typedef struct Operand {
  lg_Value *v;   /* a tensor or a Value; NULL for a number */
  double x;      /* the number */
  int at;        /* its stack index */
} Operand;

static int istensor (const Operand *o) { return o->v != NULL && o->v->kind == LGI_KTENSOR; }

static const lg_TDesc *descof (const Operand *o) { return &lgI_trec(o->v)->d; }

int lgL_anytensor (lua_State *L, int f, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (lgL_istensor(L, f + i)) return 1;
  return 0;
}

/* The operand at i: a tensor, a Value or a number, or the error naming op. */
static void operand (lua_State *L, int i, int argn, const char *op, Operand *o) {
  o->at = lua_absindex(L, i);
  o->x = 0.0;
  if ((o->v = lgL_totensor(L, i)) != NULL) return;
  if ((o->v = lgL_tovalue(L, i)) != NULL) {
    o->x = o->v->data;
    return;
  }
  if (lua_type(L, i) == LUA_TNUMBER) {
    o->x = (double)lua_tonumber(L, i);
    return;
  }
  luaL_error(L, "luagrad: bad operand #%d to '%s' (number, value or tensor expected, got %s)",
             argn, op, lgL_typename(L, i));
}

/* The tensor at arg, as an operand, or fn's argument error. */
static lg_Value *checkoperand (lua_State *L, int arg, const char *fn, Operand *o) {
  o->v = lgL_checktensor(L, arg, fn);
  o->x = 0.0;
  o->at = lua_absindex(L, arg);
  return o->v;
}

static int wants (const Operand *o) {
  return o->v != NULL && (o->v->kind != LGI_KTENSOR ||
                          (lgI_trec(o->v)->tflags & LGI_TREQGRAD));
}

/*
** Pushes a new node of tensor op top on the operands o[0..n-1]: a tensor of descriptor d,
** owning new data or (view) sharing o[0]'s storage; or, for d NULL, a Value (a node of kind
** LGI_KTVALUE); with extra bytes at the end of its block (at lgI_tensorsize's size rounded
** up to 8). *hist says whether it records history. Made before anything else can fail, as
** every node; its slots are set, its forward not yet run.
*/
static lg_Value *newnodex (lua_State *L, int top, int n, const Operand *o, const lg_TDesc *d,
                           int view, size_t extra, int *hist) {
  lg_Work *W = lgL_getwork(L);
  int h = 0, np = 0, p[3], i;
  size_t size;
  lg_Value *t;
  if (W->recording) lgL_unguarded(L);   /* lg.compile's tapes hold no tensors yet */
  if (!(W->mode & LGI_NOGRAD))
    for (i = 0; i < n; i++) h |= wants(&o[i]);
  for (i = 0; i < n; i++)
    if (o[i].v != NULL && (h || (view && i == 0))) p[np++] = o[i].at;
  if (d == NULL) size = lgI_tvaluesize((uint32_t)n);
  else if (lgI_tensorsize((uint32_t)n, d, !view, &size) != LG_OK) lgL_memerror(L);
  size = (size + 7) & ~(size_t)7;
  if (extra > (size_t)-1 - size) lgL_memerror(L);
  size += extra;   /* the caller's room at the end of the block, 8-aligned */
#ifdef LUAJIT_VERSION
  if (size > 0x7fffff00u) lgL_memerror(L);   /* LuaJIT's largest userdata */
#endif
  t = (lg_Value *)lgC_newuserdata(L, size, np);
  if (d == NULL) {
    lua_pushvalue(L, UV_MT);
    lua_setmetatable(L, -2);
    lgI_initnode(t, top, (uint32_t)n);
    t->kind = LGI_KTVALUE;
    memset(lgI_tvrec(t), 0, sizeof(lg_TValueRec));
  }
  else {
    lg_TensorRec *r;
    luaL_getmetatable(L, TENSOR_MT);
    lua_setmetatable(L, -2);
    lgI_inittensor(t, (uint32_t)n, d, !view);
    r = lgI_trec(t);
    r->top = (uint16_t)top;
    if (view) {
      const lg_TensorRec *base = lgI_trec(o[0].v);
      r->data = base->data;
      r->version = base->version;
    }
  }
  for (i = 0; i < n; i++) {
    if (o[i].v != NULL) lgI_setarg(t, (uint32_t)i, o[i].v);
    else lgI_setconst(t, (uint32_t)i, o[i].x);
  }
  lgC_setparents(L, p, np);
  *hist = h;
  return t;
}

static lg_Value *newnode (lua_State *L, int top, int n, const Operand *o, const lg_TDesc *d,
                          int view, int *hist) {
  return newnodex(L, top, n, o, d, view, 0, hist);
}

static int hasnan (const lg_TensorRec *r) {
  int64_t i, n = lgI_tnumel(&r->d);
  for (i = 0; i < n; i++) {
    double y = lgI_tget(r, r->d.offset + i);
    if (y != y) return 1;
  }
  return 0;
}

/*
** Runs the node's forward (on top of the stack) and settles what it is: with history, a
** result that requires grad; without, a leaf whose slots are constants (a Value without
** history becomes a plain leaf Value).
*/
static lg_Value *finish (lua_State *L, lg_Value *t, int hist) {
  lg_Work *W = lgL_getwork(L);
  int top = (t->kind == LGI_KTENSOR) ? lgI_trec(t)->top : t->op, err;
  uint32_t i;
  if ((err = lgI_tops[top].forward(W, t)) != LG_OK) lgL_coreerror(L, err, W);
  lgI_tsaw(t);
  if (!hist) {
    for (i = 0; i < t->n; i++) lgI_setconst(t, i, 0.0);
    if (t->kind == LGI_KTVALUE) {
      lgL_newleaf(L, t->data);
      lua_replace(L, -2);
      return (lg_Value *)lua_touserdata(L, -1);
    }
    lgI_trec(t)->top = LGI_TLEAFOP;
    return t;
  }
  if (t->kind == LGI_KTENSOR) {
    lg_TensorRec *r = lgI_trec(t);
    r->tflags = (uint8_t)((r->tflags & ~LGI_TLEAF) | LGI_TREQGRAD);
    if ((W->mode & LGI_ANOMALY) && top < LGI_FIRSTVIEW && hasnan(r)) {
      double nan = 0.0 / 0.0;
      lgL_anomaly(L, -1, lgI_opname(t), &nan, 1);
    }
  }
  else if (W->mode & LGI_ANOMALY) lgL_anomaly(L, -1, lgI_opname(t), &t->data, 1);
  return t;
}

/* The dtype of a result: float32 only when every tensor operand is (numbers and Values
   never change it). */
static int resultdtype (const Operand *o, int n) {
  int i, any = 0;
  for (i = 0; i < n; i++) {
    if (!istensor(&o[i])) continue;
    if (descof(&o[i])->dtype != LGI_F32) return LGI_F64;
    any = 1;
  }
  return any ? LGI_F32 : LGI_F64;
}

/* }================================================================== */


/* {==================================================================
** Elementwise ops: a scalar op's row over the elements, broadcast
** =================================================================== */

/* A mask op (sign, the comparisons) has derivative 0: its result has no history. */
static int ismask (int op) { return op == LGI_SIGN || (op >= LGI_GT && op <= LGI_NE); }

int lgL_tmap (lua_State *L, int op, int f, int n) {
  const lg_OpDef *def = lgI_opdef(op);
  Operand o[3];
  lg_TDesc d;
  int64_t size[LGI_MAXDIM];
  int ndim = 0, i, hist;
  lg_Value *t;
  for (i = 0; i < n; i++) operand(L, f + i, i + 1, def->name, &o[i]);
  for (i = 0; i < n; i++) {
    int nd;
    int64_t out[LGI_MAXDIM];
    const lg_TDesc *od;
    if (!istensor(&o[i])) continue;
    od = descof(&o[i]);
    if (lgI_broadcast(ndim, size, od->ndim, od->size, &nd, out, NULL, NULL) != LG_OK)
      luaL_error(L, "luagrad: bad operand shapes to '%s' (%s and %s: not broadcastable)",
                 def->name, lgL_pushshape(L, ndim, size), lgL_pushshape(L, od->ndim, od->size));
    ndim = nd;
    memcpy(size, out, (size_t)nd * sizeof(int64_t));
  }
  if (lgI_tinit(&d, resultdtype(o, n), ndim, size) != LG_OK) lgL_memerror(L);
  t = newnode(L, LGI_TMAP, n, o, &d, 0, &hist);
  lgI_trec(t)->sop = (uint8_t)op;
  finish(L, t, hist && !ismask(op));
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Views, copies and shapes
** =================================================================== */

/* Pushes view op top of the tensor at i with the op's parameters (args[0..narg-1]), or
   the kernel's error code (nothing pushed). */
static int pushview (lua_State *L, int i, int top, int narg, const int64_t *args) {
  Operand o;
  lg_TensorRec tmp, *r;
  lg_TDesc d;
  lg_Value *t;
  int err, hist;
  o.v = lgL_totensor(L, i);
  o.x = 0.0;
  o.at = lua_absindex(L, i);
  tmp.narg = narg;
  memcpy(tmp.arg, args, (size_t)narg * sizeof(int64_t));
  if ((err = lgI_tops[top].view(&lgI_trec(o.v)->d, &tmp, &d)) != LG_OK) return err;
  t = newnode(L, top, 1, &o, &d, 1, &hist);
  r = lgI_trec(t);
  r->narg = narg;
  memcpy(r->arg, args, (size_t)narg * sizeof(int64_t));
  finish(L, t, hist);
  return LG_OK;
}

/* Pushes a contiguous copy of the tensor at i in dtype (history kept). */
static void pushcopy (lua_State *L, int i, int dtype) {
  Operand o;
  lg_TDesc d;
  lg_Value *t;
  int hist;
  o.v = lgL_totensor(L, i);
  o.x = 0.0;
  o.at = lua_absindex(L, i);
  if (lgI_tinit(&d, dtype, descof(&o)->ndim, descof(&o)->size) != LG_OK) lgL_memerror(L);
  t = newnode(L, LGI_TCOPY, 1, &o, &d, 0, &hist);
  finish(L, t, hist);
}

/* t:clone() -> a copy with history */
static int t_clone (lua_State *L) {
  Operand o;
  checkoperand(L, 1, "clone", &o);
  pushcopy(L, 1, descof(&o)->dtype);
  return 1;
}

/* t:contiguous() -> t itself when contiguous, else a copy */
static int t_contiguous (lua_State *L) {
  Operand o;
  checkoperand(L, 1, "contiguous", &o);
  if (lgI_iscontig(descof(&o))) lua_settop(L, 1);
  else pushcopy(L, 1, descof(&o)->dtype);
  return 1;
}

/* t:to(dtype) -> t itself in its own dtype, else a converted copy */
static int t_to (lua_State *L) {
  Operand o;
  const char *name;
  int dtype;
  checkoperand(L, 1, "to", &o);
  if (lua_type(L, 2) != LUA_TSTRING) lgL_argerror(L, "to", 2, "string");
  name = lua_tostring(L, 2);
  if (strcmp(name, "float64") == 0) dtype = LGI_F64;
  else if (strcmp(name, "float32") == 0) dtype = LGI_F32;
  else
    return luaL_error(L, "luagrad.to: bad argument #2 ('float64' or 'float32' expected, got "
                         "'%s')", name);
  if (dtype == descof(&o)->dtype) lua_settop(L, 1);
  else pushcopy(L, 1, dtype);
  return 1;
}

/* The sizes of view, reshape (one may be -1, inferred) for the tensor at 1. */
static void viewsizes (lua_State *L, const char *fn, const lg_TDesc *x, int *ndim,
                       int64_t *size) {
  int64_t given[LGI_MAXDIM];
  lgL_checkshape(L, fn, 2, ndim, size, 1);
  memcpy(given, size, (size_t)*ndim * sizeof(int64_t));
  if (lgI_infersize(lgI_tnumel(x), *ndim, size) != LG_OK) {
    char sn[32];
    luaL_error(L, "luagrad.%s: shape %s is invalid for a tensor of %s elements", fn,
               lgL_pushshape(L, *ndim, given),
               lgI_fmtshortest(sn, (double)lgI_tnumel(x), 0));
  }
}

/* t:view(sizes) -> a view (no copy: the strides must allow it) */
static int t_view (lua_State *L) {
  Operand o;
  int64_t size[LGI_MAXDIM];
  int ndim;
  checkoperand(L, 1, "view", &o);
  viewsizes(L, "view", descof(&o), &ndim, size);
  if (pushview(L, 1, LGI_TVIEW, ndim, size) != LG_OK)
    luaL_error(L, "luagrad.view: a tensor of shape %s and these strides cannot be viewed as "
                  "%s without a copy (use reshape)",
               lgL_pushshape(L, descof(&o)->ndim, descof(&o)->size),
               lgL_pushshape(L, ndim, size));
  return 1;
}

/* Pushes the tensor at 1 with the sizes: a view when its strides allow, else a copy. */
static void reshaped (lua_State *L, int ndim, const int64_t *size) {
  if (pushview(L, 1, LGI_TVIEW, ndim, size) == LG_OK) return;
  pushcopy(L, 1, lgI_trec(lgL_totensor(L, 1))->d.dtype);
  lua_replace(L, 1);
  if (pushview(L, 1, LGI_TVIEW, ndim, size) != LG_OK) lgL_memerror(L);   /* contiguous */
}

/* t:reshape(sizes) -> a view, or a copy when needed */
static int t_reshape (lua_State *L) {
  Operand o;
  int64_t size[LGI_MAXDIM];
  int ndim;
  checkoperand(L, 1, "reshape", &o);
  viewsizes(L, "reshape", descof(&o), &ndim, size);
  lua_settop(L, 1);
  reshaped(L, ndim, size);
  return 1;
}

/* t:flatten([from [, to]]) -> dimensions from..to (default all) merged into one */
static int t_flatten (lua_State *L) {
  Operand o;
  const lg_TDesc *x;
  int64_t size[LGI_MAXDIM];
  int from, to, i, n = 0;
  checkoperand(L, 1, "flatten", &o);
  x = descof(&o);
  from = lua_isnoneornil(L, 2) ? 0 : lgL_tdim(L, "flatten", 2, x->ndim);
  to = lua_isnoneornil(L, 3) ? x->ndim - 1 : lgL_tdim(L, "flatten", 3, x->ndim);
  if (from > to)
    luaL_error(L, "luagrad.flatten: bad argument #3 (a last dimension not before the first "
                  "expected)");
  for (i = 0; i < from; i++) size[n++] = x->size[i];
  size[n] = 1;
  for (i = from; i <= to; i++) size[n] *= x->size[i];
  n++;
  for (i = to + 1; i < x->ndim; i++) size[n++] = x->size[i];
  lua_settop(L, 1);
  reshaped(L, n, size);
  return 1;
}

/* t:transpose(d1, d2), t:t() (at most 2-D) */
static int t_transpose (lua_State *L) {
  Operand o;
  int64_t dims[2];
  checkoperand(L, 1, "transpose", &o);
  dims[0] = lgL_tdim(L, "transpose", 2, descof(&o)->ndim);
  dims[1] = lgL_tdim(L, "transpose", 3, descof(&o)->ndim);
  (void)pushview(L, 1, LGI_TTRANSPOSE, 2, dims);   /* dims are valid: cannot fail */
  return 1;
}

static int t_t (lua_State *L) {
  Operand o;
  static const int64_t dims[2] = {0, 1};
  checkoperand(L, 1, "t", &o);
  if (descof(&o)->ndim > 2)
    luaL_error(L, "luagrad.t: bad argument #1 (a tensor of at most 2 dimensions expected, "
                  "got %d; transpose(d1, d2) swaps any two)", descof(&o)->ndim);
  if (descof(&o)->ndim < 2) lua_settop(L, 1);
  else (void)pushview(L, 1, LGI_TTRANSPOSE, 2, dims);
  return 1;
}

/* Dimension numbers given as numbers from arg on or as one array at arg. */
static int checkdims (lua_State *L, const char *fn, int arg, int ndim, int64_t *dims) {
  int n = 0;
  if (lua_type(L, arg) == LUA_TTABLE) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, arg);
    if (len > LGI_MAXDIM) return LGI_MAXDIM + 1;
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, arg, (int)i);
      dims[n++] = lgL_tdim(L, fn, lua_gettop(L), ndim);
      lua_pop(L, 1);
    }
    return n;
  }
  while (!lua_isnone(L, arg + n)) {
    if (n == LGI_MAXDIM) return n + 1;
    dims[n] = lgL_tdim(L, fn, arg + n, ndim);
    n++;
  }
  return n;
}

/* t:permute(dims) -> a view with its dimensions in that order */
static int t_permute (lua_State *L) {
  Operand o;
  int64_t dims[LGI_MAXDIM];
  int n;
  checkoperand(L, 1, "permute", &o);
  n = checkdims(L, "permute", 2, descof(&o)->ndim, dims);
  lua_settop(L, 1);
  if (n != descof(&o)->ndim || pushview(L, 1, LGI_TPERMUTE, n, dims) != LG_OK)
    luaL_error(L, "luagrad.permute: bad argument #2 (a permutation of the %d dimensions "
                  "expected)", descof(&o)->ndim);
  return 1;
}

/* t:squeeze([dim]), t:unsqueeze(dim) */
static int t_squeeze (lua_State *L) {
  Operand o;
  const lg_TDesc *x;
  int64_t dim;
  checkoperand(L, 1, "squeeze", &o);
  x = descof(&o);
  dim = lua_isnoneornil(L, 2) ? -1 : lgL_tdim(L, "squeeze", 2, x->ndim);
  lua_settop(L, 1);
  if (dim >= 0 && (x->size[dim] != 1 || x->ndim == 1)) return 1;   /* nothing to remove */
  if (dim < 0 && lgI_tnumel(x) == 1) {   /* no 0-d tensors: one dimension stays */
    int64_t one = 1;
    reshaped(L, 1, &one);
    return 1;
  }
  (void)pushview(L, 1, LGI_TSQUEEZE, 1, &dim);
  return 1;
}

static int t_unsqueeze (lua_State *L) {
  Operand o;
  int64_t dim;
  checkoperand(L, 1, "unsqueeze", &o);
  if (descof(&o)->ndim == LGI_MAXDIM)
    luaL_error(L, "luagrad.unsqueeze: a tensor of %d dimensions cannot have more",
               LGI_MAXDIM);
  dim = lgL_tdim(L, "unsqueeze", 2, descof(&o)->ndim + 1);
  (void)pushview(L, 1, LGI_TUNSQUEEZE, 1, &dim);
  return 1;
}

/* t:expand(sizes) -> a view broadcast to the sizes (-1 keeps a size) */
static int t_expand (lua_State *L) {
  Operand o;
  int64_t size[LGI_MAXDIM];
  int ndim, i;
  const lg_TDesc *x;
  checkoperand(L, 1, "expand", &o);
  x = descof(&o);
  lgL_checkshape(L, "expand", 2, &ndim, size, 1);
  lua_settop(L, 1);
  if (ndim >= x->ndim)   /* -1 stands for the size it keeps */
    for (i = 0; i < x->ndim; i++)
      if (size[ndim - x->ndim + i] == -1) size[ndim - x->ndim + i] = x->size[i];
  if (pushview(L, 1, LGI_TEXPAND, ndim, size) != LG_OK)
    luaL_error(L, "luagrad.expand: cannot expand shape %s to %s",
               lgL_pushshape(L, x->ndim, x->size), lgL_pushshape(L, ndim, size));
  return 1;
}

/* t:narrow(dim, start, length) -> elements start .. start + length - 1 of a dimension */
static int t_narrow (lua_State *L) {
  Operand o;
  int64_t args[3];
  double len;
  checkoperand(L, 1, "narrow", &o);
  args[0] = lgL_tdim(L, "narrow", 2, descof(&o)->ndim);
  args[1] = lgL_tindex(L, "narrow", 3, descof(&o)->size[args[0]], (int)args[0]);
  len = lgL_checknumber(L, 4, "narrow");
  if (!(len >= 0) || len != floor(len) ||
      (double)args[1] + len > (double)descof(&o)->size[args[0]]) {
    char sl[32], sn[32];
    luaL_error(L, "luagrad.narrow: length %s from index %d out of range for dimension %d "
                  "of size %s", lgI_fmtshortest(sl, len, 0), (int)args[1] + 1,
               (int)args[0] + 1, lgI_fmtshortest(sn, (double)descof(&o)->size[args[0]], 0));
  }
  args[2] = (int64_t)len;
  lua_settop(L, 1);
  (void)pushview(L, 1, LGI_TNARROW, 3, args);
  return 1;
}

/* Pushes index i (0-based) of dimension dim of the tensor at t: a view, or for a 1-D
   tensor the element as a Value. */
static void pushselect (lua_State *L, int t, int dim, int64_t i) {
  Operand o;
  checkoperand(L, t, "select", &o);
  if (descof(&o)->ndim == 1) {
    int hist;
    lg_Value *v = newnode(L, LGI_VITEM, 1, &o, NULL, 0, &hist);
    lgI_tvrec(v)->index = i;
    finish(L, v, hist);
  }
  else {
    int64_t args[2];
    args[0] = dim;
    args[1] = i;
    (void)pushview(L, t, LGI_TSELECT, 2, args);
  }
}

/* t:select(dim, i) */
static int t_select (lua_State *L) {
  Operand o;
  int dim;
  checkoperand(L, 1, "select", &o);
  dim = lgL_tdim(L, "select", 2, descof(&o)->ndim);
  pushselect(L, 1, dim, lgL_tindex(L, "select", 3, descof(&o)->size[dim], dim));
  return 1;
}

/*
** Pushes t[{s1, s2, ...}] of the tensor at 1 (Torch7's slicing; the table at 2): each s an
** index (the dimension goes), {first, last} inclusive, or {} (the whole dimension); the
** dimensions not named are whole. With region (an assignment's), a last dimension indexed
** stays, of size 1, so that the region is a tensor even when every index is a number.
*/
static void pushslice (lua_State *L, int region) {
  const char *fn = region ? "setindex" : "index";
  int n = (int)lua_rawlen(L, 2), k, dim = 0, cur;
  if (n > lgI_trec(lgL_checktensor(L, 1, fn))->d.ndim)
    luaL_error(L, "luagrad: too many indices (%d) for a tensor of %d dimensions", n,
               lgI_trec(lgL_totensor(L, 1))->d.ndim);
  lua_pushvalue(L, 1);
  cur = lua_gettop(L);
  for (k = 1; k <= n; k++) {
    const lg_TDesc *x = &lgI_trec(lgL_totensor(L, cur))->d;
    int64_t args[3];
    lua_rawgeti(L, 2, k);
    if (lua_type(L, -1) == LUA_TNUMBER) {
      int64_t i = lgL_tindex(L, fn, lua_gettop(L), x->size[dim], k - 1);
      lua_pop(L, 1);
      if (region && x->ndim == 1) {
        args[0] = dim; args[1] = i; args[2] = 1;
        (void)pushview(L, cur, LGI_TNARROW, 3, args);
      }
      else pushselect(L, cur, dim, i);
    }
    else if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) == 0) {
      lua_pop(L, 1);
      dim++;
      continue;
    }
    else if (lua_type(L, -1) == LUA_TTABLE && lua_rawlen(L, -1) == 2) {
      int s = lua_gettop(L);
      int64_t first, last;
      lua_rawgeti(L, s, 1);
      first = lgL_tindex(L, fn, lua_gettop(L), x->size[dim], k - 1);
      lua_rawgeti(L, s, 2);
      last = lgL_tindex(L, fn, lua_gettop(L), x->size[dim], k - 1);
      lua_settop(L, s - 1);
      if (last < first)
        luaL_error(L, "luagrad: empty range {%d, %d} for dimension %d", (int)first + 1,
                   (int)last + 1, k);
      args[0] = dim; args[1] = first; args[2] = last - first + 1;
      (void)pushview(L, cur, LGI_TNARROW, 3, args);
      dim++;
    }
    else
      luaL_error(L, "luagrad: bad index %d in t[{...}] (a number, {first, last} or {} "
                    "expected, got %s)", k, lgL_typename(L, -1));
    lua_replace(L, cur);
  }
}

/* t[i] (select on dimension 1), t[{...}] (slicing); t.name goes to the fields and methods
   (upvalue 4: the __index of tensor.c) */
static int tensor_index (lua_State *L) {
  if (lua_type(L, 2) == LUA_TNUMBER) {
    const lg_TDesc *x = &lgI_trec(lgL_checktensor(L, 1, "__index"))->d;
    pushselect(L, 1, 0, lgL_tindex(L, "index", 2, x->size[0], 0));
    return 1;
  }
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_settop(L, 2);
    pushslice(L, 0);
    return 1;
  }
  lua_pushvalue(L, UV_EXTRA);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* {==================================================================
** Reductions, products
** =================================================================== */

/* The dimensions of a reduction (a number or an array of numbers at arg) as a mask. */
static uint32_t checkmask (lua_State *L, const char *fn, int arg, int ndim) {
  int64_t dims[LGI_MAXDIM + 1];
  uint32_t mask = 0;
  int n, i;
  if (lua_type(L, arg) == LUA_TTABLE) n = checkdims(L, fn, arg, ndim, dims);
  else {
    dims[0] = lgL_tdim(L, fn, arg, ndim);
    n = 1;
  }
  for (i = 0; i < n && i < LGI_MAXDIM; i++) {
    uint32_t bit = (uint32_t)1 << dims[i];
    if (mask & bit)
      luaL_error(L, "luagrad.%s: dimension %d repeated", fn, (int)dims[i] + 1);
    mask |= bit;
  }
  if (n == 0) lgL_argerror(L, fn, arg, "a dimension or a non-empty array of dimensions");
  return mask;
}

/* sum or mean of the tensor at 1: everything (a Value), or over dims [, keepdim] */
static int reduction (lua_State *L, const char *fn, int top, int vtop) {
  Operand o;
  const lg_TDesc *x;
  uint32_t all, mask;
  int keepdim = 0, hist;
  lg_Value *t;
  checkoperand(L, 1, fn, &o);
  x = descof(&o);
  all = x->ndim >= 32 ? 0xffffffffu : (((uint32_t)1 << x->ndim) - 1);
  mask = lua_isnoneornil(L, 2) ? all : checkmask(L, fn, 2, x->ndim);
  if (!lua_isnoneornil(L, 3)) {
    if (!lua_isboolean(L, 3)) lgL_argerror(L, fn, 3, "boolean");
    keepdim = lua_toboolean(L, 3);
  }
  lua_settop(L, 1);
  if (mask == all && !keepdim) {   /* nothing left: a Value */
    t = newnode(L, vtop, 1, &o, NULL, 0, &hist);
    finish(L, t, hist);
  }
  else {
    lg_TDesc d;
    if (lgI_reduceshape(x, mask, keepdim, &d) != LG_OK) lgL_memerror(L);
    t = newnode(L, top, 1, &o, &d, 0, &hist);
    lgI_trec(t)->arg[0] = (int64_t)mask;
    lgI_trec(t)->arg[1] = keepdim;
    lgI_trec(t)->narg = 2;
    finish(L, t, hist);
  }
  return 1;
}

int lgL_tsum (lua_State *L) { return reduction(L, "sum", LGI_TSUM, LGI_VSUM); }
static int t_mean (lua_State *L) { return reduction(L, "mean", LGI_TMEAN, LGI_VMEAN); }

/* The dims [, keepdim] of a reduction at 2 and 3 of the tensor at 1: the mask (every
   dimension when none is given). */
static uint32_t reducedims (lua_State *L, const char *fn, int *keepdim) {
  const lg_TDesc *x = &lgI_trec(lgL_checktensor(L, 1, fn))->d;
  uint32_t all = ((uint32_t)1 << x->ndim) - 1;   /* ndim <= 16 */
  uint32_t mask = lua_isnoneornil(L, 2) ? all : checkmask(L, fn, 2, x->ndim);
  *keepdim = 0;
  if (!lua_isnoneornil(L, 3)) {
    if (!lua_isboolean(L, 3)) lgL_argerror(L, fn, 3, "boolean");
    *keepdim = lua_toboolean(L, 3);
  }
  lua_settop(L, 1);
  return mask;
}

/* Pushes reduction kind (a kernel's LGI_R*) of the tensor at 1 over mask; over every
   dimension without keepdim, a Value (the kept one-element tensor's element). */
static void pushreduce (lua_State *L, int kind, uint32_t mask, int keepdim,
                        int correction) {
  Operand o;
  lg_TDesc d;
  lg_TensorRec *r;
  lg_Value *t;
  uint32_t all;
  int hist, value;
  checkoperand(L, 1, "reduce", &o);
  all = ((uint32_t)1 << descof(&o)->ndim) - 1;
  value = (mask == all && !keepdim);
  if (lgI_reduceshape(descof(&o), mask, keepdim || value, &d) != LG_OK) lgL_memerror(L);
  if (kind != LGI_RSUM && lgI_tnumel(descof(&o)) == 0 &&
      (kind == LGI_RMAX || kind == LGI_RMIN))
    luaL_error(L, "luagrad.%s: a tensor of no elements has none", kind == LGI_RMAX ? "amax"
                                                                                   : "amin");
  t = newnode(L, LGI_TREDUCE, 1, &o, &d, 0, &hist);
  r = lgI_trec(t);
  r->arg[0] = (int64_t)mask;
  r->arg[1] = keepdim;
  r->arg[2] = kind;
  r->arg[3] = correction;
  r->narg = 4;
  finish(L, t, hist);
  if (value) {   /* {1, ..., 1} -> {1} -> its element */
    int64_t one = 1;
    lua_replace(L, 1);
    (void)pushview(L, 1, LGI_TVIEW, 1, &one);
    lua_replace(L, 1);
    pushselect(L, 1, 0, 0);
  }
}

static int reducefn (lua_State *L, const char *fn, int kind) {
  int keepdim;
  uint32_t mask = reducedims(L, fn, &keepdim);
  pushreduce(L, kind, mask, keepdim, 0);
  return 1;
}

static int t_prod (lua_State *L) { return reducefn(L, "prod", LGI_RPROD); }
static int t_amax (lua_State *L) { return reducefn(L, "amax", LGI_RMAX); }
static int t_amin (lua_State *L) { return reducefn(L, "amin", LGI_RMIN); }
static int t_logsumexp (lua_State *L) { return reducefn(L, "logsumexp", LGI_RLSE); }

/* var and std: (dim [, keepdim]) then {unbiased = false} last, if given */
static int variance (lua_State *L, const char *fn, int root) {
  static const char *const names[] = {"unbiased", NULL};
  int top = lua_gettop(L), unbiased = 1, keepdim;
  uint32_t mask;
  if (top >= 2 && lua_type(L, top) == LUA_TTABLE && lua_rawlen(L, top) == 0) {
    lgL_checkoptions(L, top, fn, names);
    lua_pushliteral(L, "unbiased");
    lua_rawget(L, top);
    if (!lua_isnil(L, -1)) unbiased = lgL_optboolean(L, top, "unbiased", fn);
    lua_settop(L, top - 1);
  }
  mask = reducedims(L, fn, &keepdim);
  pushreduce(L, LGI_RVAR, mask, keepdim, unbiased);
  if (root) {
    if (lgL_tovalue(L, -1) != NULL) lgL_apply(L, LGI_SQRT, -1, -1);
    else lgL_tmap(L, LGI_SQRT, lua_gettop(L), 1);
  }
  return 1;
}

static int t_var (lua_State *L) { return variance(L, "var", 0); }
static int t_std (lua_State *L) { return variance(L, "std", 1); }

/* log_softmax(dim) = x - logsumexp(x, dim, keepdim); softmax its exp */
static int softmax (lua_State *L, const char *fn, int logs) {
  Operand o;
  int dim;
  checkoperand(L, 1, fn, &o);
  dim = lgL_tdim(L, fn, 2, descof(&o)->ndim);
  lua_settop(L, 1);
  pushreduce(L, LGI_RLSE, (uint32_t)1 << dim, 1, 0);   /* at 2 */
  lgL_tmap(L, LGI_SUB, 1, 2);
  if (!logs) lgL_tmap(L, LGI_EXP, 3, 1);
  return 1;
}

static int t_softmax (lua_State *L) { return softmax(L, "softmax", 0); }
static int t_log_softmax (lua_State *L) { return softmax(L, "log_softmax", 1); }

/* t:norm([p]) -> a Value: (sum |x|^p)^(1/p); p = 2 (default), 1, math.huge */
static int t_norm (lua_State *L) {
  double p = 2.0;
  lgL_checktensor(L, 1, "norm");
  if (!lua_isnoneornil(L, 2)) p = lgL_checknumber(L, 2, "norm");
  if (!(p > 0))
    luaL_error(L, "luagrad.norm: bad argument #2 (a positive p expected)");
  lua_settop(L, 1);
  lgL_tmap(L, LGI_ABS, 1, 1);   /* at 2 */
  lua_replace(L, 1);
  if (p == HUGE_VAL) {
    pushreduce(L, LGI_RMAX, ((uint32_t)1 << lgI_trec(lgL_totensor(L, 1))->d.ndim) - 1, 0, 0);
    return 1;
  }
  if (p != 1.0) {
    lua_pushnumber(L, p);
    lgL_tmap(L, LGI_POW, 1, 2);   /* at 3 */
    lua_replace(L, 1);
    lua_settop(L, 1);
  }
  lgL_tsum(L);
  if (p != 1.0) {
    lua_pushnumber(L, 1.0 / p);
    lgL_apply(L, LGI_POW, -2, -1);
  }
  return 1;
}

/* t:argmax([dim [, keepdim]]), t:argmin(...): 1-based indices as a float64 tensor (no
   gradient); without dim, the index into the flattened tensor, as a number */
static int argext (lua_State *L, const char *fn, int max) {
  Operand o;
  lg_TDesc d;
  lg_TensorRec *r;
  lg_Value *t;
  int dim, keepdim = 0, hist, flat = lua_isnoneornil(L, 2);
  checkoperand(L, 1, fn, &o);
  if (lgI_tnumel(descof(&o)) == 0)
    luaL_error(L, "luagrad.%s: a tensor of no elements has none", fn);
  if (flat) {
    int64_t all = lgI_tnumel(descof(&o));
    lua_settop(L, 1);
    reshaped(L, 1, &all);
    lua_replace(L, 1);
    checkoperand(L, 1, fn, &o);
    dim = 0;
  }
  else {
    dim = lgL_tdim(L, fn, 2, descof(&o)->ndim);
    if (!lua_isnoneornil(L, 3)) {
      if (!lua_isboolean(L, 3)) lgL_argerror(L, fn, 3, "boolean");
      keepdim = lua_toboolean(L, 3);
    }
  }
  lua_settop(L, 1);
  if (lgI_reduceshape(descof(&o), (uint32_t)1 << dim, keepdim || descof(&o)->ndim == 1,
                      &d) != LG_OK)
    lgL_memerror(L);
  d.dtype = LGI_F64;
  t = newnode(L, LGI_TARG, 1, &o, &d, 0, &hist);
  r = lgI_trec(t);
  r->arg[0] = dim;
  r->arg[1] = max;
  r->narg = 2;
  finish(L, t, 0);
  if (flat) lua_pushinteger(L, (lua_Integer)lgI_tget(r, 0));
  return 1;
}

static int t_argmax (lua_State *L) { return argext(L, "argmax", 1); }
static int t_argmin (lua_State *L) { return argext(L, "argmin", 0); }

static void dimserror (lua_State *L, const char *fn, const lg_TDesc *a, const lg_TDesc *b,
                       int64_t ka, int64_t kb) {
  char s1[32], s2[32];
  luaL_error(L, "luagrad.%s: cannot multiply shapes %s and %s (%s ~= %s)", fn,
             lgL_pushshape(L, a->ndim, a->size), lgL_pushshape(L, b->ndim, b->size),
             lgI_fmtshortest(s1, (double)ka, 0), lgI_fmtshortest(s2, (double)kb, 0));
}

/* Pushes the dot product (a Value) of the 1-D tensors at 1 and 2. */
static void pushdot (lua_State *L, const char *fn) {
  Operand o[2];
  lg_Value *v;
  int hist;
  checkoperand(L, 1, fn, &o[0]);
  checkoperand(L, 2, fn, &o[1]);
  if (descof(&o[0])->size[0] != descof(&o[1])->size[0])
    dimserror(L, fn, descof(&o[0]), descof(&o[1]), descof(&o[0])->size[0],
              descof(&o[1])->size[0]);
  v = newnode(L, LGI_VDOT, 2, o, NULL, 0, &hist);
  finish(L, v, hist);
}

/* lg.dot(a, b) of two 1-D tensors -> a Value */
int lgL_tdot (lua_State *L) {
  int i;
  for (i = 1; i <= 2; i++) {
    lg_Value *t = lgL_checktensor(L, i, "dot");
    if (lgI_trec(t)->d.ndim != 1)
      luaL_error(L, "luagrad.dot: bad argument #%d (a 1-D tensor expected, got %d-D)", i,
                 lgI_trec(t)->d.ndim);
  }
  lua_settop(L, 2);
  pushdot(L, "dot");
  return 1;
}

/* Makes the tensors at 1 and 2 of one dtype (float64 unless both are float32). */
static void samedtype (lua_State *L) {
  int da = lgI_trec(lgL_totensor(L, 1))->d.dtype, db = lgI_trec(lgL_totensor(L, 2))->d.dtype;
  if (da == db) return;
  pushcopy(L, da == LGI_F32 ? 1 : 2, LGI_F64);
  lua_replace(L, da == LGI_F32 ? 1 : 2);
}

/* Replaces the tensor at i by its expansion to batch dimensions batch then its last two */
static void expandbatch (lua_State *L, int i, int nb, const int64_t *batch) {
  const lg_TDesc *x = &lgI_trec(lgL_totensor(L, i))->d;
  int64_t size[LGI_MAXDIM];
  if (x->ndim == nb + 2 && memcmp(x->size, batch, (size_t)nb * sizeof(int64_t)) == 0) return;
  memcpy(size, batch, (size_t)nb * sizeof(int64_t));
  size[nb] = x->size[x->ndim - 2];
  size[nb + 1] = x->size[x->ndim - 1];
  if (pushview(L, i, LGI_TEXPAND, nb + 2, size) != LG_OK) lgL_memerror(L);   /* checked */
  lua_replace(L, i);
}

/* PyTorch's matmul rules on the tensors at 1 and 2 */
static int matmul (lua_State *L, const char *fn) {
  Operand o[2];
  lg_TDesc a, b, d;
  int64_t batch[LGI_MAXDIM];
  int nb, squeeze = 0, hist, ba, bb;
  lg_Value *t;
  checkoperand(L, 1, fn, &o[0]);
  checkoperand(L, 2, fn, &o[1]);
  lua_settop(L, 2);
  a = *descof(&o[0]);
  b = *descof(&o[1]);
  if (a.ndim == 1 && b.ndim == 1) {
    pushdot(L, fn);
    return 1;
  }
  if (a.size[a.ndim - 1] != b.size[b.ndim == 1 ? 0 : b.ndim - 2])
    dimserror(L, fn, &a, &b, a.size[a.ndim - 1], b.size[b.ndim == 1 ? 0 : b.ndim - 2]);
  samedtype(L);
  if (a.ndim == 1) {   /* (k) as (1, k), the 1 removed after */
    int64_t dim = 0;
    (void)pushview(L, 1, LGI_TUNSQUEEZE, 1, &dim);
    lua_replace(L, 1);
    squeeze = -2;
  }
  if (b.ndim == 1) {   /* (k) as (k, 1) */
    int64_t dim = 1;
    (void)pushview(L, 2, LGI_TUNSQUEEZE, 1, &dim);
    lua_replace(L, 2);
    squeeze = -1;
  }
  a = lgI_trec(lgL_totensor(L, 1))->d;
  b = lgI_trec(lgL_totensor(L, 2))->d;
  if (lgI_broadcast(a.ndim - 2, a.size, b.ndim - 2, b.size, &nb, batch, &ba, &bb) != LG_OK) {
    lg_TDesc a0 = *descof(&o[0]), b0 = *descof(&o[1]);
    luaL_error(L, "luagrad.%s: cannot multiply shapes %s and %s (batch dimensions not "
                  "broadcastable)", fn, lgL_pushshape(L, a0.ndim, a0.size),
               lgL_pushshape(L, b0.ndim, b0.size));
  }
  if (nb + 2 > LGI_MAXDIM) luaL_error(L, "luagrad.%s: too many dimensions", fn);
  expandbatch(L, 1, nb, batch);
  expandbatch(L, 2, nb, batch);
  checkoperand(L, 1, fn, &o[0]);
  checkoperand(L, 2, fn, &o[1]);
  batch[nb] = a.size[a.ndim - 2];
  batch[nb + 1] = b.size[b.ndim - 1];
  if (lgI_tinit(&d, a.dtype, nb + 2, batch) != LG_OK) lgL_memerror(L);
  t = newnode(L, LGI_TMATMUL, 2, o, &d, 0, &hist);
  finish(L, t, hist);
  if (squeeze != 0) {   /* the 1 a 1-D operand was given goes */
    int64_t dim;
    lua_replace(L, 1);
    dim = lgI_trec(lgL_totensor(L, 1))->d.ndim + squeeze;
    (void)pushview(L, 1, LGI_TSQUEEZE, 1, &dim);
  }
  return 1;
}

static int mod_matmul (lua_State *L) { return matmul(L, "matmul"); }

/* a:mm(b): 2-D x 2-D only */
static int t_mm (lua_State *L) {
  int i;
  for (i = 1; i <= 2; i++) {
    lg_Value *t = lgL_checktensor(L, i, "mm");
    if (lgI_trec(t)->d.ndim != 2)
      luaL_error(L, "luagrad.mm: bad argument #%d (a 2-D tensor expected, got %d-D)", i,
                 lgI_trec(t)->d.ndim);
  }
  return matmul(L, "mm");
}

/* lg.outer(a, b) of two 1-D tensors: a (n) times b (m) -> (n, m) */
static int mod_outer (lua_State *L) {
  int64_t one = 1, zero = 0;
  int i;
  for (i = 1; i <= 2; i++) {
    lg_Value *t = lgL_checktensor(L, i, "outer");
    if (lgI_trec(t)->d.ndim != 1)
      luaL_error(L, "luagrad.outer: bad argument #%d (a 1-D tensor expected, got %d-D)", i,
                 lgI_trec(t)->d.ndim);
  }
  lua_settop(L, 2);
  (void)pushview(L, 1, LGI_TUNSQUEEZE, 1, &one);    /* (n, 1) */
  (void)pushview(L, 2, LGI_TUNSQUEEZE, 1, &zero);   /* (1, m) */
  return lgL_tmap(L, LGI_MUL, 3, 2);
}

/* }================================================================== */


/* {==================================================================
** In place: fill_ zero_ copy_ add_ sub_ mul_ div_, t[i] = x, t[{...}] = x
** =================================================================== */

/* The tensor at i, which an in-place op of fn may write: one that no graph can observe
   (it does not require grad, or no_grad is on), and not an expanded view (several of its
   elements share memory). */
static lg_TensorRec *checkwritable (lua_State *L, int i, const char *fn) {
  lg_TensorRec *r = lgI_trec(lgL_checktensor(L, i, fn));
  int k;
  if ((r->tflags & LGI_TREQGRAD) && !(lgL_getwork(L)->mode & LGI_NOGRAD))
    luaL_error(L, "luagrad.%s: an in-place op on a tensor that requires grad is allowed only "
                  "under lg.no_grad (as an optimizer's step does)", fn);
  for (k = 0; k < r->d.ndim; k++)
    if (r->d.stride[k] == 0 && r->d.size[k] > 1)
      luaL_error(L, "luagrad.%s: cannot write into an expanded tensor (several of its "
                    "elements share one memory location; clone() it first)", fn);
  if (lgL_getwork(L)->recording) lgL_unguarded(L);
  return r;
}

/* The source at i of an in-place op on dst: a number, a Value's number or a tensor that
   broadcasts to dst's shape (copied first when it shares dst's storage). */
static void source (lua_State *L, int i, const char *fn, const lg_TensorRec *dst,
                    lg_TDesc *d, void **data, double *x) {
  lg_Value *t = lgL_totensor(L, i);
  lg_TDesc e;
  if (t == NULL) {
    lg_Value *v = lgL_tovalue(L, i);
    if (v != NULL) *x = v->data;
    else if (lua_type(L, i) == LUA_TNUMBER) *x = (double)lua_tonumber(L, i);
    else lgL_argerror(L, fn, i, "number, value or tensor");
    (void)lgI_tinit(d, LGI_F64, 0, NULL);
    *data = x;
    return;
  }
  *d = lgI_trec(t)->d;
  if (lgI_expand(d, dst->d.ndim, dst->d.size, &e) != LG_OK)
    luaL_error(L, "luagrad.%s: bad argument #%d (shape %s does not broadcast to the "
                  "tensor's %s)", fn, i, lgL_pushshape(L, d->ndim, d->size),
               lgL_pushshape(L, dst->d.ndim, dst->d.size));
  *data = lgI_trec(t)->data;
  if (lgI_trec(t)->version == dst->version) {   /* the same storage: read a copy */
    lg_TDesc c;
    lg_Value *copy;
    (void)lgI_tinit(&c, d->dtype, d->ndim, d->size);
    copy = lgL_newtensor(L, &c);
    (void)lgI_copy(&lgI_trec(copy)->d, lgI_trec(copy)->data, d, *data);
    lua_replace(L, i);
    *d = c;
    *data = lgI_trec(copy)->data;
  }
}

#define ICOPY (-1)
#define IAXPY (-2)

/* dst op= the source at i (ICOPY: dst = it; IAXPY: dst += alpha it) */
static void writeinto (lua_State *L, lg_TensorRec *dst, int i, const char *fn, int kernel,
                       double alpha) {
  lg_TDesc d;
  void *data;
  double x;
  int err;
  source(L, i, fn, dst, &d, &data, &x);
  if (kernel == ICOPY) err = lgI_copy(&dst->d, dst->data, &d, data);
  else if (kernel == IAXPY) err = lgI_taxpy(&dst->d, dst->data, alpha, &d, data);
  else err = lgI_binary(kernel, &dst->d, dst->data, &dst->d, dst->data, &d, data);
  if (err != LG_OK) lgL_coreerror(L, err, lgL_getwork(L));
  (*dst->version)++;
}

static int t_fill_ (lua_State *L) {
  writeinto(L, checkwritable(L, 1, "fill_"), 2, "fill_", ICOPY, 0.0);
  lua_settop(L, 1);
  return 1;
}

static int t_zero_ (lua_State *L) {
  lg_TensorRec *r = checkwritable(L, 1, "zero_");
  lua_settop(L, 1);
  lua_pushnumber(L, 0);
  writeinto(L, r, 2, "zero_", ICOPY, 0.0);
  lua_settop(L, 1);
  return 1;
}

static int t_copy_ (lua_State *L) {
  lg_TensorRec *r = checkwritable(L, 1, "copy_");
  if (!lgL_istensor(L, 2)) lgL_argerror(L, "copy_", 2, "tensor");
  writeinto(L, r, 2, "copy_", ICOPY, 0.0);
  lua_settop(L, 1);
  return 1;
}

/* t:add_(x [, alpha]), t:sub_(x [, alpha]): t += alpha x, t -= alpha x */
static int addsub (lua_State *L, const char *fn, double sign) {
  lg_TensorRec *r = checkwritable(L, 1, fn);
  double alpha = lua_isnoneornil(L, 3) ? 1.0 : lgL_checknumber(L, 3, fn);
  writeinto(L, r, 2, fn, IAXPY, sign * alpha);
  lua_settop(L, 1);
  return 1;
}

static int t_add_ (lua_State *L) { return addsub(L, "add_", 1.0); }
static int t_sub_ (lua_State *L) { return addsub(L, "sub_", -1.0); }

static int t_mul_ (lua_State *L) {
  writeinto(L, checkwritable(L, 1, "mul_"), 2, "mul_", LGI_TMUL, 0.0);
  lua_settop(L, 1);
  return 1;
}

static int t_div_ (lua_State *L) {
  writeinto(L, checkwritable(L, 1, "div_"), 2, "div_", LGI_TDIV, 0.0);
  lua_settop(L, 1);
  return 1;
}

/* t[i] = x, t[{...}] = x (x a number, a Value's number or a broadcastable tensor); other
   keys go to tensor.c's __newindex (upvalue 4) */
static int tensor_newindex (lua_State *L) {
  int kt = lua_type(L, 2);
  if (kt == LUA_TNUMBER || kt == LUA_TTABLE) {
    lg_TensorRec *r;
    lua_settop(L, 3);
    if (kt == LUA_TNUMBER) {
      const lg_TDesc *x = &lgI_trec(lgL_checktensor(L, 1, "setindex"))->d;
      int64_t args[3];
      args[0] = 0;
      args[1] = lgL_tindex(L, "setindex", 2, x->size[0], 0);
      args[2] = 1;
      if (x->ndim == 1) (void)pushview(L, 1, LGI_TNARROW, 3, args);
      else pushselect(L, 1, 0, args[1]);
    }
    else pushslice(L, 1);
    r = checkwritable(L, 4, "setindex");
    writeinto(L, r, 3, "setindex", ICOPY, 0.0);
    return 0;
  }
  lua_pushvalue(L, UV_EXTRA);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 0);
  return 0;
}

/* }================================================================== */


/* {==================================================================
** cat, stack of tensors, split, chunk, index
** =================================================================== */

/* Pushes the tensors of the array at list concatenated along dim (0-based; checked
   against the first's dimensions by the caller) */
static void pushcat (lua_State *L, int list, int dim, const char *fn) {
  lg_Work *W = lgL_getwork(L);
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, list);
  lg_TDesc d, first;
  int64_t along = 0;
  int hist = 0, f32 = 1, node, anchor;
  size_t bytes = 0;
  lg_Value *t;
  if (n == 0 || n > INT32_MAX / 2)
    luaL_error(L, "luagrad.%s: bad argument #1 (a non-empty array of tensors expected)", fn);
  for (i = 1; i <= n; i++) {
    lg_Value *x;
    const lg_TDesc *xd;
    int k;
    lua_rawgeti(L, list, (int)i);
    if ((x = lgL_totensor(L, -1)) == NULL) lgL_argerrorat(L, fn, 1, "tensor", i, -1);
    xd = &lgI_trec(x)->d;
    if (i == 1) first = *xd;
    for (k = 0; k < first.ndim; k++)
      if (xd->ndim != first.ndim || (k != dim && xd->size[k] != first.size[k]))
        luaL_error(L, "luagrad.%s: tensor %d has shape %s, which does not match %s (sizes may "
                      "differ along dimension %d only)", fn, (int)i,
                   lgL_pushshape(L, xd->ndim, xd->size),
                   lgL_pushshape(L, first.ndim, first.size), dim + 1);
    along += xd->size[dim];
    if (xd->dtype != LGI_F32) f32 = 0;
    if (lgI_trec(x)->tflags & LGI_TREQGRAD) hist = 1;
    lua_pop(L, 1);
  }
  if (W->mode & LGI_NOGRAD) hist = 0;
  if (W->recording) lgL_unguarded(L);
  first.size[dim] = along;
  if (lgI_tinit(&d, f32 ? LGI_F32 : LGI_F64, first.ndim, first.size) != LG_OK ||
      lgI_tensorsize((uint32_t)n, &d, 1, &bytes) != LG_OK)
    lgL_memerror(L);
  t = (lg_Value *)lgC_newuserdata(L, bytes, hist ? 1 : 0);
  node = lua_gettop(L);
  luaL_getmetatable(L, TENSOR_MT);
  lua_setmetatable(L, -2);
  lgI_inittensor(t, (uint32_t)n, &d, 1);
  lgI_trec(t)->top = LGI_TCAT;
  lgI_trec(t)->arg[0] = dim;
  lgI_trec(t)->narg = 1;
  for (i = 0; i < n; i++) lgI_setconst(t, (uint32_t)i, 0.0);
  lua_createtable(L, hist ? (int)n : 0, 0);   /* the operands, anchored as one table */
  anchor = lua_gettop(L);
  for (i = 1; i <= n; i++) {   /* again: a finalizer may have changed the list meanwhile */
    lg_Value *x;
    lua_rawgeti(L, list, (int)i);
    x = lgL_totensor(L, -1);
    if (x == NULL || lgI_trec(x)->d.ndim != d.ndim || (along -= lgI_trec(x)->d.size[dim]) < 0)
      luaL_error(L, "luagrad.%s: list changed while being read", fn);
    lgI_setarg(t, (uint32_t)(i - 1), x);
    lua_rawseti(L, anchor, (int)i);
  }
  if (along != 0) luaL_error(L, "luagrad.%s: list changed while being read", fn);
  if (hist) lgC_setanchors(L, node);
  lua_settop(L, node);
  finish(L, t, hist);
}

/* The dimension of a list's tensors at arg (default 1), with extra more allowed (stack) */
static int listdim (lua_State *L, const char *fn, int list, int arg, int extra) {
  lg_Value *x;
  if (lua_type(L, list) != LUA_TTABLE) lgL_argerror(L, fn, list, "table");
  lua_rawgeti(L, list, 1);
  if ((x = lgL_totensor(L, -1)) == NULL) {
    if (lua_isnil(L, -1))
      luaL_error(L, "luagrad.%s: bad argument #1 (a non-empty array of tensors expected)", fn);
    lgL_argerrorat(L, fn, 1, "tensor", 1, -1);
  }
  lua_pop(L, 1);
  return lua_isnoneornil(L, arg) ? 0 : lgL_tdim(L, fn, arg, lgI_trec(x)->d.ndim + extra);
}

/* lg.cat(list [, dim]) */
static int mod_cat (lua_State *L) {
  int dim = listdim(L, "cat", 1, 2, 0);
  lua_settop(L, 1);
  pushcat(L, 1, dim, "cat");
  return 1;
}

/* lg.stack of tensors: each unsqueezed at dim, then cat */
static int stacktensors (lua_State *L) {
  int dim = listdim(L, "stack", 1, 2, 1), list;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
  int64_t d = dim;
  lua_settop(L, 1);
  lua_createtable(L, n < INT32_MAX ? (int)n : 0, 0);
  list = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (int)i);
    if (lgL_totensor(L, -1) == NULL) lgL_argerrorat(L, "stack", 1, "tensor", i, -1);
    (void)pushview(L, lua_gettop(L), LGI_TUNSQUEEZE, 1, &d);
    lua_rawseti(L, list, (int)i);
    lua_pop(L, 1);
  }
  pushcat(L, list, dim, "stack");
  return 1;
}

/* Pushes an array of the narrows of the tensor at 1 along dim, of the sizes (which the
   caller keeps anchored) */
static void pushparts (lua_State *L, int dim, int n, const int64_t *sizes) {
  int i, list;
  int64_t start = 0;
  lua_createtable(L, n, 0);
  list = lua_gettop(L);
  for (i = 0; i < n; i++) {
    int64_t args[3];
    args[0] = dim; args[1] = start; args[2] = sizes[i];
    (void)pushview(L, 1, LGI_TNARROW, 3, args);
    lua_rawseti(L, list, i + 1);
    start += sizes[i];
  }
}

/* t:split(size [, dim]): parts of size (the last may be smaller); size may be an array of
   the parts' sizes, which add up to the dimension's */
static int t_split (lua_State *L) {
  Operand o;
  int dim, n = 0;
  int64_t *sizes, total = 0, len;
  checkoperand(L, 1, "split", &o);
  dim = lua_isnoneornil(L, 3) ? 0 : lgL_tdim(L, "split", 3, descof(&o)->ndim);
  len = descof(&o)->size[dim];
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_Integer i, m = (lua_Integer)lua_rawlen(L, 2);
    if (m > INT32_MAX / 16) luaL_error(L, "luagrad.split: too many parts");
    sizes = (int64_t *)lua_newuserdata(L, (size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    for (i = 1; i <= m; i++) {
      double x;
      lua_rawgeti(L, 2, (int)i);
      x = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
      if (!(x >= 0) || x != floor(x) || x > (double)len)
        lgL_argerrorat(L, "split", 2, "non-negative integer size", i, -1);
      sizes[n++] = (int64_t)x;
      total += (int64_t)x;
      lua_pop(L, 1);
    }
    if (total != len) {
      char st[32], sl[32];
      luaL_error(L, "luagrad.split: sizes that add up to %s expected (the size of dimension "
                    "%d), got %s", lgI_fmtshortest(sl, (double)len, 0), dim + 1,
                 lgI_fmtshortest(st, (double)total, 0));
    }
  }
  else {
    double size = lgL_checknumber(L, 2, "split");
    int64_t k, step;
    if (!(size >= 1) || size != floor(size))
      luaL_error(L, "luagrad.split: bad argument #2 (a positive integer size expected)");
    step = size > (double)len ? (len > 0 ? len : 1) : (int64_t)size;
    k = (len + step - 1) / step;
    if (k > INT32_MAX / 16) luaL_error(L, "luagrad.split: too many parts");
    sizes = (int64_t *)lua_newuserdata(L, (size_t)(k > 0 ? k : 1) * sizeof(int64_t));
    for (total = 0; total < len; total += step)
      sizes[n++] = (len - total < step) ? len - total : step;
  }
  pushparts(L, dim, n, sizes);
  return 1;
}

/* t:chunk(n [, dim]): n parts (fewer when the size is smaller), as PyTorch's */
static int t_chunk (lua_State *L) {
  Operand o;
  double chunks;
  int64_t len, step;
  int dim;
  checkoperand(L, 1, "chunk", &o);
  chunks = lgL_checknumber(L, 2, "chunk");
  if (!(chunks >= 1) || chunks != floor(chunks))
    luaL_error(L, "luagrad.chunk: bad argument #2 (a positive integer number of parts "
                  "expected)");
  dim = lua_isnoneornil(L, 3) ? 0 : lgL_tdim(L, "chunk", 3, descof(&o)->ndim);
  len = descof(&o)->size[dim];
  step = (chunks >= (double)len) ? 1 : (len + (int64_t)chunks - 1) / (int64_t)chunks;
  lua_settop(L, 1);
  lua_pushnumber(L, (lua_Number)(step > 0 ? step : 1));
  lua_pushinteger(L, dim + 1);
  return t_split(L);
}

/* t:index(dim, idx): a copy of the entries at the 1-based indices idx (an array or a 1-D
   tensor) along dim */
static int t_index (lua_State *L) {
  Operand o;
  lg_TDesc d;
  lg_Value *t, *it;
  int64_t n, j, *idx;
  size_t base;
  int dim, hist;
  checkoperand(L, 1, "index", &o);
  dim = lgL_tdim(L, "index", 2, descof(&o)->ndim);
  if ((it = lgL_totensor(L, 3)) != NULL) {
    if (lgI_trec(it)->d.ndim != 1)
      luaL_error(L, "luagrad.index: bad argument #3 (a 1-D tensor of indices expected, got "
                    "%d-D)", lgI_trec(it)->d.ndim);
    n = lgI_trec(it)->d.size[0];
  }
  else if (lua_type(L, 3) == LUA_TTABLE) n = (int64_t)lua_rawlen(L, 3);
  else return lgL_argerror(L, "index", 3, "table or tensor");
  {
    int64_t size[LGI_MAXDIM];
    memcpy(size, descof(&o)->size, sizeof(size));
    size[dim] = n;
    if (n > INT32_MAX || lgI_tinit(&d, descof(&o)->dtype, descof(&o)->ndim, size) != LG_OK)
      lgL_memerror(L);
  }
  if (
      lgI_tensorsize(1, &d, 1, &base) != LG_OK)
    lgL_memerror(L);
  t = newnodex(L, LGI_TINDEX, 1, &o, &d, 0, (size_t)(n > 0 ? n : 1) * sizeof(int64_t), &hist);
  idx = (int64_t *)((char *)t + ((base + 7) & ~(size_t)7));
  for (j = 0; j < n; j++) {
    const lg_TensorRec *ir = (it != NULL) ? lgI_trec(it) : NULL;
    if (ir != NULL) {
      lua_pushnumber(L, (lua_Number)lgI_tget(ir, ir->d.offset + j * ir->d.stride[0]));
    }
    else {
      lua_rawgeti(L, 3, (int)(j + 1));
      if (lua_type(L, -1) != LUA_TNUMBER) lgL_argerrorat(L, "index", 3, "number", j + 1, -1);
    }
    idx[j] = lgL_tindex(L, "index", lua_gettop(L), descof(&o)->size[dim], dim);
    lua_pop(L, 1);
  }
  lgI_trec(t)->arg[0] = dim;
  lgI_trec(t)->arg[1] = n;
  lgI_trec(t)->arg[2] = (int64_t)(uintptr_t)idx;
  lgI_trec(t)->narg = 3;
  finish(L, t, hist);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** lg.stack of Values and numbers
** =================================================================== */

/* lg.stack(list) of Values and numbers -> a 1-D tensor connected to the Values */
static int mod_stack (lua_State *L) {
  lg_Work *W = lgL_getwork(L);
  lua_Integer i, n;
  int64_t size;
  uint32_t nv = 0, k = 0;
  int node, anchor, hist;
  lg_TDesc d;
  lg_Value *t;
  if (lua_type(L, 1) != LUA_TTABLE) lgL_argerror(L, "stack", 1, "table");
  lua_rawgeti(L, 1, 1);
  if (lgL_totensor(L, -1) != NULL) {
    lua_pop(L, 1);
    return stacktensors(L);
  }
  lua_pop(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    double dim = lgL_checknumber(L, 2, "stack");
    char sd[32];
    if (dim != 1 && dim != -1)
      luaL_error(L, "luagrad.stack: dimension %s out of range for a stack of Values (1 "
                    "expected)", lgI_fmtshortest(sd, dim, 0));
  }
  n = (lua_Integer)lua_rawlen(L, 1);
  if (n == 0 || n > INT32_MAX / 2)
    luaL_error(L, "luagrad.stack: bad argument #1 (a non-empty array expected)");
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, (int)i);
    if (lgL_tovalue(L, -1) != NULL) nv++;
    else if (lua_type(L, -1) != LUA_TNUMBER) {
      lgL_argerrorat(L, "stack", 1, "number or value", i, -1);
    }
    lua_pop(L, 1);
  }
  size = (int64_t)n;
  if (lgI_tinit(&d, LGI_F64, 1, &size) != LG_OK) lgL_memerror(L);
  hist = nv > 0 && !(W->mode & LGI_NOGRAD);
  if (W->recording) lgL_unguarded(L);
  {
    size_t bytes;
    if (lgI_tensorsize((uint32_t)n, &d, 1, &bytes) != LG_OK) lgL_memerror(L);
    t = (lg_Value *)lgC_newuserdata(L, bytes, hist ? 1 : 0);
  }
  node = lua_gettop(L);
  luaL_getmetatable(L, TENSOR_MT);
  lua_setmetatable(L, -2);
  lgI_inittensor(t, (uint32_t)n, &d, 1);
  lgI_trec(t)->top = LGI_TSTACK;
  for (i = 0; i < n; i++) lgI_setconst(t, (uint32_t)i, 0.0);
  lua_createtable(L, hist ? (int)nv : 0, 0);   /* the Values, anchored as one table */
  anchor = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    lg_Value *v;
    lua_rawgeti(L, 1, (int)i);
    if ((v = lgL_tovalue(L, -1)) != NULL) {
      if (++k > nv) luaL_error(L, "luagrad.stack: list changed while being read");
      lgI_setarg(t, (uint32_t)(i - 1), v);
      lua_rawseti(L, anchor, (int)k);
    }
    else {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "luagrad.stack: list changed while being read");
      lgI_setconst(t, (uint32_t)(i - 1), (double)lua_tonumber(L, -1));
      lua_pop(L, 1);
    }
  }
  if (hist) lgC_setanchors(L, node);
  else lua_pop(L, 1);
  lua_settop(L, node);
  finish(L, t, hist);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Backward over tensors, and the .grad tensors it adds into
** =================================================================== */

/* Whether the sweep's tensor node v gives its adjoint to a .grad */
static int getsgrad (const lg_Value *v) {
  const lg_TensorRec *r;
  if (v->kind != LGI_KTENSOR) return 0;
  r = lgI_trec(v);
  return r->adj != NULL && (((r->tflags & LGI_TLEAF) && (r->tflags & LGI_TREQGRAD)) ||
                            (r->tflags & LGI_TRETAIN));
}

/* Protected: for each node that gets a .grad, its tensor's .grad (made, zeroed, when it has
   none: flagged LGI_TNEWGRAD until the sweep is done) becomes its gradto. */
static int makegrads (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, 1);
  size_t i;
  lgL_weaktable(L, TNODES_KEY, "v");
  lgL_weaktable(L, TGRADS_KEY, "k");
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    lg_TensorRec *r, *g;
    if (!getsgrad(v)) continue;
    r = lgI_trec(v);
    lua_pushlightuserdata(L, v);
    lua_rawget(L, 2);   /* its tensor (registered when it came to want a .grad) */
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    if (r->tflags & LGI_THASGRAD) {
      lua_pushvalue(L, -1);
      lua_rawget(L, 3);
      g = lgI_trec((lg_Value *)lua_touserdata(L, -1));
      lua_pop(L, 2);
    }
    else {
      lg_TDesc d;
      lgI_tcontig(&r->d, &d);
      g = lgI_trec(lgL_newtensor(L, &d));
      memset(g->data, 0, (size_t)lgI_tnumel(&d) * lgI_elemsize(d.dtype));
      lua_rawset(L, 3);   /* may fail: the flags below are set only once it is there */
      r->tflags |= LGI_THASGRAD | LGI_TNEWGRAD;
    }
    (*g->version)++;
    r->gradto = g;
  }
  return 0;
}

int lgL_tgrads (lg_Work *W) {
  lua_State *L = (lua_State *)W->ctx;
  size_t i;
  int ok;
  if (!lua_checkstack(L, 8)) return LG_EMEM;
  lua_pushcfunction(L, makegrads);
  lua_pushlightuserdata(L, W);
  ok = lua_pcall(L, 1, 0, 0) == LUA_OK;
  if (!ok) lua_pop(L, 1);
  for (i = 0; i < W->count; i++) {   /* undo the .grads made, on failure */
    lg_Value *v = W->order[i];
    lg_TensorRec *r;
    if (v->kind != LGI_KTENSOR || !((r = lgI_trec(v))->tflags & LGI_TNEWGRAD)) continue;
    r->tflags &= (uint8_t)~LGI_TNEWGRAD;
    if (ok) continue;
    lua_getfield(L, LUA_REGISTRYINDEX, TNODES_KEY);
    lua_pushlightuserdata(L, v);
    lua_rawget(L, -2);
    lua_getfield(L, LUA_REGISTRYINDEX, TGRADS_KEY);
    lua_insert(L, -2);
    lua_pushnil(L);
    lua_rawset(L, -3);   /* removing a key never allocates */
    lua_pop(L, 2);
    r->tflags &= (uint8_t)~LGI_THASGRAD;
  }
  return ok ? LG_OK : LG_EMEM;
}

/* t:backward(g): g of t's shape (any dtype) seeds the sweep */
static int t_backward (lua_State *L) {
  lg_Value *t = lgL_checktensor(L, 1, "backward"), *g;
  const lg_TensorRec *r = lgI_trec(t), *gr;
  lg_Work *W;
  void *saved;
  int err;
  if (lua_isnoneornil(L, 2))
    luaL_error(L, "luagrad.backward: a tensor's backward needs a gradient of its shape %s "
                  "(t:backward(g); a Value, such as t:sum(), needs none)",
               lgL_pushshape(L, r->d.ndim, r->d.size));
  g = lgL_checktensor(L, 2, "backward");
  gr = lgI_trec(g);
  if (gr->d.ndim != r->d.ndim ||
      memcmp(gr->d.size, r->d.size, (size_t)r->d.ndim * sizeof(int64_t)) != 0)
    luaL_error(L, "luagrad.backward: bad argument #2 (a gradient of shape %s expected, got "
                  "%s)", lgL_pushshape(L, r->d.ndim, r->d.size),
               lgL_pushshape(L, gr->d.ndim, gr->d.size));
  if (!(r->tflags & LGI_TREQGRAD))
    luaL_error(L, "luagrad.backward: the tensor does not require grad (it has no graph to "
                  "differentiate)");
  if (lgL_getwork(L)->recording) lgL_unguarded(L);
  W = lgL_beginsweep(L, &saved);
  W->tgrads = lgL_tgrads;
  err = lgI_backwardt(W, t, &gr->d, gr->data);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  return 0;
}

/* }================================================================== */


static const luaL_Reg tensor_methods[] = {
  {"mean", t_mean},
  {"prod", t_prod},
  {"amax", t_amax},
  {"amin", t_amin},
  {"logsumexp", t_logsumexp},
  {"var", t_var},
  {"std", t_std},
  {"norm", t_norm},
  {"argmax", t_argmax},
  {"argmin", t_argmin},
  {"split", t_split},
  {"chunk", t_chunk},
  {"index", t_index},
  {"softmax", t_softmax},
  {"log_softmax", t_log_softmax},
  {"matmul", mod_matmul},
  {"mm", t_mm},
  {"clone", t_clone},
  {"contiguous", t_contiguous},
  {"to", t_to},
  {"view", t_view},
  {"reshape", t_reshape},
  {"flatten", t_flatten},
  {"t", t_t},
  {"transpose", t_transpose},
  {"permute", t_permute},
  {"squeeze", t_squeeze},
  {"unsqueeze", t_unsqueeze},
  {"expand", t_expand},
  {"narrow", t_narrow},
  {"select", t_select},
  {"backward", t_backward},
  {"fill_", t_fill_},
  {"zero_", t_zero_},
  {"copy_", t_copy_},
  {"add_", t_add_},
  {"sub_", t_sub_},
  {"mul_", t_mul_},
  {"div_", t_div_},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"outer", mod_outer},
  {"stack", mod_stack},
  {"cat", mod_cat},
  {NULL, NULL}
};

void lgL_opentensorops (lua_State *L, int module, int mt) {
  int tmt, methods, op;
  const luaL_Reg *l;
  luaL_getmetatable(L, TENSOR_MT);
  tmt = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, TMETHODS_KEY);
  methods = lua_gettop(L);
  for (op = 1; op < lgI_nops; op++) {   /* the op table's, as ops.c made them */
    const lg_OpDef *d = lgI_opdef(op);
    if (d->metamethod != NULL) {
      lua_getfield(L, mt, d->metamethod);
      lua_setfield(L, tmt, d->metamethod);
    }
    if (d->luaname != NULL) {
      lua_getfield(L, module, d->luaname);
      lua_setfield(L, methods, d->luaname);
    }
  }
  for (l = tensor_methods; l->name != NULL; l++) {
    if (strcmp(l->name, "backward") != 0) {   /* lg.backward is not a function */
      lgL_setclosure(L, module, l->name, l->func, methods);
    }
    lgL_setclosure(L, methods, l->name, l->func, methods);
  }
  for (l = module_funcs; l->name != NULL; l++) lgL_setclosure(L, module, l->name, l->func,
                                                              methods);
  lua_getfield(L, tmt, "__index");   /* t[i] before tensor.c's fields and methods */
  lgL_setclosure(L, tmt, "__index", tensor_index, lua_gettop(L));
  lua_getfield(L, tmt, "__newindex");
  lgL_setclosure(L, tmt, "__newindex", tensor_newindex, lua_gettop(L));
  lua_settop(L, tmt - 1);
}
