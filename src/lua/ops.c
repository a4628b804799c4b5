/*
** ops.c: the operations, made from the op table (core/ops.c): one C function per form of
** op (unary, binary, n-ary; module function, method or metamethod), told which op by
** upvalue 4. A module function given only numbers returns a number. An op may leave its
** last operands out: a number stands for each (optionals, below).
*/
#include <math.h>

#include "lua/lg_lua.h"

/* {==================================================================
** Ops of fixed arity: unary and binary (the hot paths), and ternary (where)
** =================================================================== */

static int opindex (lua_State *L) {  /* upvalue 4: the op's row, as a light userdata */
  return lgI_opnumber((const lg_OpDef *)lua_touserdata(L, UV_EXTRA));
}


/* Pushes a node of unary op on the Value a (the operand at stack index f: 1 for an op
   called from Lua). */
static lg_Value *unarynode (lua_State *L, int op, lg_Value *a, double x, int f) {
  lg_Value *v = lgL_newnode(L, op, 1, 1);
  lgI_setarg(v, 0, a);
  v->data = lgI_opdef(op)->forward(1, &x);
  lgC_setparents(L, &f, 1);
  return v;
}

/* Pushes a node of binary op on the operands at f and f + 1, at least one a Value. */
static lg_Value *binarynode (lua_State *L, int op, lg_Value *a, lg_Value *b, const double *x,
                             int f) {
  lg_Value *v;
  int parent[2], np = 0;   /* stack indices of the Value operands */
  if (a != NULL) parent[np++] = f;
  if (b != NULL) parent[np++] = f + 1;
  v = lgL_newnode(L, op, 2, np);
  if (a != NULL) lgI_setarg(v, 0, a); else lgI_setconst(v, 0, x[0]);
  if (b != NULL) lgI_setarg(v, 1, b); else lgI_setconst(v, 1, x[1]);
  v->data = lgI_opdef(op)->forward(2, x);
  lgC_setparents(L, parent, np);
  return v;
}

/* Pushes a node of op on its n operands at f, f + 1, ..., at least one a Value: any fixed
   arity, for the ops off the hot paths (where). */
static lg_Value *fixednode (lua_State *L, int op, int n, lg_Value *const *v, const double *x,
                            int f) {
  lg_Value *node;
  int parent[3], np = 0, i;
  for (i = 0; i < n; i++) {
    if (v[i] != NULL) parent[np++] = f + i;
  }
  node = lgL_newnode(L, op, (uint32_t)n, np);
  for (i = 0; i < n; i++) {
    if (v[i] != NULL) lgI_setarg(node, (uint32_t)i, v[i]);
    else lgI_setconst(node, (uint32_t)i, x[i]);
  }
  node->data = lgI_opdef(op)->forward(n, x);
  lgC_setparents(L, parent, np);
  return node;
}

/* The slow path of an op on operands f..f+n-1, taken when no_grad or anomaly detection is
   on: under no_grad a leaf holding the result; otherwise the node, checked for NaN. */
static int moded (lua_State *L, int op, int n, lg_Value *const *v, const double *x, int mode,
                  int f) {
  lg_Value *node;
  if (mode & LGI_NOGRAD) {
    lgL_unrecorded(L, lgI_opdef(op)->forward(n, x), f, f + n - 1);
    return 1;
  }
  node = (n == 1) ? unarynode(L, op, v[0], x[0], f)
       : (n == 2) ? binarynode(L, op, v[0], v[1], x, f) : fixednode(L, op, n, v, x, f);
  lgL_anomaly(L, -1, lgI_opdef(op)->name, &node->data, 1);
  return 1;
}

/* Pushes the result of a unary op on the operand at f (already checked); mode is
   W->mode. */
static int unary (lua_State *L, int op, lg_Value *const *v, const double *x, int mode, int f) {
  if (v[0] == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_opdef(op)->forward(1, x));
    return 1;
  }
  if (mode != 0) return moded(L, op, 1, v, x, mode, f);
  unarynode(L, op, v[0], x[0], f);
  return 1;
}

/* Pushes the result of a binary op on the operands at f and f + 1 (already checked). */
static int binary (lua_State *L, int op, lg_Value *const *v, const double *x, int mode, int f) {
  if (v[0] == NULL && v[1] == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_opdef(op)->forward(2, x));
    return 1;
  }
  if (mode != 0) return moded(L, op, 2, v, x, mode, f);
  binarynode(L, op, v[0], v[1], x, f);
  return 1;
}

/* Pushes the result of a ternary op on the operands at f, f + 1, f + 2 (already checked). */
static int ternary (lua_State *L, int op, lg_Value *const *v, const double *x, int mode,
                    int f) {
  if (v[0] == NULL && v[1] == NULL && v[2] == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_opdef(op)->forward(3, x));
    return 1;
  }
  if (mode != 0) return moded(L, op, 3, v, x, mode, f);
  fixednode(L, op, 3, v, x, f);
  return 1;
}

/* Pushes op (of arity 1, 2 or 3) applied to the Values or numbers at stack indices ia, ib,
   ic (those past its arity unused): what the derivative builders make their nodes with. */
void lgL_apply3 (lua_State *L, int op, int ia, int ib, int ic) {
  lg_Value *v[3];
  double x[3];
  int n = lgI_opdef(op)->arity, at[3], f, i, mode;
  at[0] = lua_absindex(L, ia);
  at[1] = lua_absindex(L, ib);
  at[2] = lua_absindex(L, ic);
  luaL_checkstack(L, 5, "derivative too large");
  for (i = 0; i < n; i++) lua_pushvalue(L, at[i]);   /* side by side, as from Lua */
  f = lua_gettop(L) - n + 1;
  for (i = 0; i < n; i++) {
    if (!lgL_operand(L, f + i, &v[i], &x[i])) lgL_operror(L, lgI_opdef(op)->name, i + 1);
  }
  mode = lgL_getwork(L)->mode;
  if (n == 1) unary(L, op, v, x, mode, f);
  else if (n == 2) binary(L, op, v, x, mode, f);
  else ternary(L, op, v, x, mode, f);
  lua_replace(L, f);
  lua_settop(L, f);
}

void lgL_apply (lua_State *L, int op, int ia, int ib) { lgL_apply3(L, op, ia, ib, ib); }

/* lg.exp(x), v:exp(), ... -> Value or number */
static int unary_fn (lua_State *L) {
  const lg_Work *W = lgL_fastwork(L);
  int op = opindex(L);
  lg_Value *v[1];
  double x[1];
  if (lgL_operands(L, W, 1, v, x) != 0) {
    if (lgL_anytensor(L, 1, 1)) return lgL_tmap(L, op, 1, 1);
    lgL_argerror(L, lgI_opdef(op)->luaname, 1, "number or value");
  }
  return unary(L, op, v, x, W->mode, 1);
}

/* __unm (Lua passes the operand twice) */
static int unary_mm (lua_State *L) {
  const lg_Work *W = lgL_fastwork(L);
  int op = opindex(L);
  lg_Value *v[1];
  double x[1];
  if (lgL_operands(L, W, 1, v, x) != 0) {
    if (lgL_anytensor(L, 1, 1)) return lgL_tmap(L, op, 1, 1);
    lgL_operror(L, "-", 1);
  }
  return unary(L, op, v, x, W->mode, 1);
}

/* lg.pow(x, y), v:max(w), ... -> Value or number */
static int binary_fn (lua_State *L) {
  const lg_Work *W = lgL_fastwork(L);
  int op = opindex(L), bad;
  lg_Value *v[2];
  double x[2];
  if ((bad = lgL_operands(L, W, 2, v, x)) != 0) {
    if (lgL_anytensor(L, 1, 2)) return lgL_tmap(L, op, 1, 2);
    lgL_argerror(L, lgI_opdef(op)->luaname, bad, "number or value");
  }
  return binary(L, op, v, x, W->mode, 1);
}

/* lg.where(c, a, b), c:where(a, b) -> Value or number */
static int ternary_fn (lua_State *L) {
  const lg_Work *W = lgL_fastwork(L);
  int op = opindex(L), bad;
  lg_Value *v[3];
  double x[3];
  if ((bad = lgL_operands(L, W, 3, v, x)) != 0) {
    if (lgL_anytensor(L, 1, 3)) return lgL_tmap(L, op, 1, 3);
    lgL_argerror(L, lgI_opdef(op)->luaname, bad, "number or value");
  }
  return ternary(L, op, v, x, W->mode, 1);
}

/*
** Operands that may be left out (nil or absent), and the number each stands for: the
** slope of leaky_relu (0.01, as PyTorch's), and the bounds of clamp (-inf and +inf, so
** either alone gives a one-sided clamp, as PyTorch's None; not both, as PyTorch). The
** node holds the number, so compile, the builders and DOT see an ordinary operand.
*/
typedef struct Optional {
  int op;
  int first;      /* the first operand that may be left out; the rest, to the arity, too */
  int needone;    /* at least one of them must be given */
  double x[2];    /* what stands for operand first, first + 1 */
} Optional;

static const Optional optionals[] = {
  {LGI_LEAKY_RELU, 2, 0, {0.01, 0.0}},
  {LGI_CLAMP, 2, 1, {-HUGE_VAL, HUGE_VAL}},
};

static const Optional *optionalof (int op) {
  size_t i;
  for (i = 0; i < sizeof(optionals) / sizeof(optionals[0]); i++)
    if (optionals[i].op == op) return &optionals[i];
  return NULL;
}

/* lg.leaky_relu(x [, slope]), lg.clamp(x, lo, hi) with lo or hi nil, ... -> the op on
   the operands, a number standing for each one left out */
static int optional_fn (lua_State *L) {
  int op = opindex(L), n = lgI_opdef(op)->arity, i, given = 0;
  const Optional *o = optionalof(op);
  for (i = 1; i < o->first; i++)   /* the operands that may not be left out */
    if (lua_isnoneornil(L, i)) lgL_argerror(L, lgI_opdef(op)->luaname, i, "number or value");
  lua_settop(L, n);   /* an absent operand is nil */
  for (i = o->first; i <= n; i++) {
    if (!lua_isnil(L, i)) given++;
    else {
      lua_pushnumber(L, (lua_Number)o->x[i - o->first]);
      lua_replace(L, i);
    }
  }
  if (o->needone && given == 0)
    luaL_error(L, "luagrad.%s: bad argument #%d (number or value expected when #%d is nil, "
               "got nil)", lgI_opdef(op)->luaname, o->first, o->first + 1);
  return (n == 2) ? binary_fn(L) : ternary_fn(L);
}

/* __add, __sub, __mul, __div, __pow */
static int binary_mm (lua_State *L) {
  const lg_Work *W = lgL_fastwork(L);
  int op = opindex(L), bad;
  lg_Value *v[2];
  double x[2];
  if ((bad = lgL_operands(L, W, 2, v, x)) != 0) {
    if (lgL_anytensor(L, 1, 2)) return lgL_tmap(L, op, 1, 2);
    lgL_operror(L, lgI_opdef(op)->name, bad);
  }
  return binary(L, op, v, x, W->mode, 1);
}

/* Length of the array at arg, which must be a table. */
static uint32_t checklist (lua_State *L, int arg, const char *fn) {
  size_t len;
  if (lua_type(L, arg) != LUA_TTABLE) lgL_argerror(L, fn, arg, "table");
  len = (size_t)lua_rawlen(L, arg);
  if (len > (size_t)(UINT32_MAX / 2)) luaL_error(L, "luagrad.%s: list too long", fn);
  return (uint32_t)len;
}

/* Element i of the list at arg, left on the stack: a Value (returned) or a number (*x). */
static lg_Value *element (lua_State *L, int arg, lua_Integer i, double *x, const char *fn) {
  lg_Value *v;
  lua_rawgeti(L, arg, (int)i);   /* an int before 5.3; i < 2^31 (checklist) */
  if (!lgL_operand(L, -1, &v, x))
    lgL_argerrorat(L, fn, arg, "number or value", i, -1);
  return v;
}

/* nary under no_grad, after the first pass: a leaf holding the result. Reading the lists
   allocates nothing, so no finalizer can change them before the forward has run; the guards
   of a recording (one per Value read) come after it. */
static int naryleaf (lua_State *L, int op, int nlists, uint32_t n) {
  lg_Work *W = lgL_getwork(L);
  uint32_t i;
  double y;
  for (i = 0; i < n; i++) {
    element(L, 1 + (int)(i % nlists), i / nlists + 1, &W->x[i], lgI_opdef(op)->luaname);
    lua_pop(L, 1);
  }
  y = lgI_opdef(op)->forward((int)n, W->x);
  for (i = 0; i < n && W->recording; i++) {
    double x;
    if (element(L, 1 + (int)(i % nlists), i / nlists + 1, &x, lgI_opdef(op)->luaname))
      lgL_addguard(L, LGI_GDATA, lua_gettop(L), 0, 1);
    lua_pop(L, 1);
  }
  lgL_unrecorded(L, y, 1, 0);
  return 1;
}

/*
** An n-ary node over the lists at args (one list for sum; two, interleaved, for dot), each
** of length len. A first pass checks the elements and counts the Values; a second fills
** the node and anchors each Value as a user value (or, for many, or before 5.4, in a table).
*/
static int nary (lua_State *L, int op, int nlists, uint32_t len) {
  const char *fn = lgI_opdef(op)->luaname;
  uint32_t n = len * (uint32_t)nlists, i, nvalues = 0;
  int nuv, intable, node, anchor;
  lg_Work *W = lgL_usework(L);
  lg_Value *v;
  double x;
  for (i = 0; i < n; i++) {
    if (element(L, 1 + (int)(i % nlists), i / nlists + 1, &x, fn)) nvalues++;
    lua_pop(L, 1);
  }
  if (lgI_reservex(W, n) != LG_OK) lgL_memerror(L);
  if (W->mode & LGI_NOGRAD) return naryleaf(L, op, nlists, n);
  intable = nvalues > LGC_MAXUV;
  nuv = intable ? 1 : (int)nvalues;
  v = lgL_newnode(L, op, n, nuv);
  node = lua_gettop(L);
  if (intable) {
    lua_createtable(L, (int)nvalues, 0);
    lua_pushvalue(L, -1);
    lgC_setanchors(L, node);
  }
  anchor = lua_gettop(L);
  nvalues = 0;
  for (i = 0; i < n; i++) {
    lg_Value *a = element(L, 1 + (int)(i % nlists), i / nlists + 1, &x, fn);
    if (a == NULL) lgI_setconst(v, i, x);
    else if ((int)++nvalues > (intable ? INT32_MAX : nuv))  /* changed by a finalizer */
      luaL_error(L, "luagrad.%s: list changed while being read", fn);
    else {
      lgI_setarg(v, i, a);
      lua_pushvalue(L, -1);
      if (intable) lua_rawseti(L, anchor, (int)nvalues);
      else lgC_setparent(L, node, (int)nvalues);
    }
    lua_pop(L, 1);
  }
  lgI_forward(v, W->x);
  lua_settop(L, node);
  if (W->mode & LGI_ANOMALY) lgL_anomaly(L, node, lgI_opdef(op)->name, &v->data, 1);
  return 1;
}

/* lg.sum(list) -> Value */
static int sum_fn (lua_State *L) {
  uint32_t len;
  if (lgL_istensor(L, 1)) return lgL_tsum(L);
  len = checklist(L, 1, lgI_opdef(opindex(L))->luaname);
  lua_settop(L, 1);
  return nary(L, opindex(L), 1, len);
}

/* lg.dot(xs, ys) -> Value */
static int dot_fn (lua_State *L) {
  const char *fn = lgI_opdef(opindex(L))->luaname;
  uint32_t len, len2;
  if (lgL_anytensor(L, 1, 2)) return lgL_tdot(L);
  len = checklist(L, 1, fn);
  len2 = checklist(L, 2, fn);
  if (len != len2)
    luaL_error(L, "luagrad.%s: bad argument #2 (array of length %d expected, got length %d)",
               fn, (int)len, (int)len2);
  lua_settop(L, 2);
  return nary(L, opindex(L), 2, len);
}

/* }================================================================== */


/* Makes lg.<name>, v:<name>() and the metamethods from the op table. */
/* lg._ops: the op table as Lua sees it, one {name =, fn =, arity =} per op after leaf (arity
   "n" for sum's any number, "pairs" for dot's), so that specs and tools miss none */
static void pushoptable (lua_State *L) {
  int op;
  lua_createtable(L, lgI_nops - 1, 0);
  for (op = 1; op < lgI_nops; op++) {
    const lg_OpDef *d = lgI_opdef(op);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, d->name);
    lua_setfield(L, -2, "name");
    if (d->luaname != NULL) {
      lua_pushstring(L, d->luaname);
      lua_setfield(L, -2, "fn");
    }
    if (d->arity == LGI_VARIADIC) lua_pushliteral(L, "n");
    else if (d->arity == LGI_PAIRS) lua_pushliteral(L, "pairs");
    else lua_pushinteger(L, d->arity);
    lua_setfield(L, -2, "arity");
    lua_rawseti(L, -2, op);
  }
}

void lgL_openops (lua_State *L, int module, int methods, int mt) {
  int op;
  pushoptable(L);
  lua_setfield(L, module, "_ops");
  for (op = 1; op < lgI_nops; op++) {
    const lg_OpDef *d = lgI_opdef(op);
    lua_pushlightuserdata(L, (void *)d);
    if (d->metamethod != NULL)
      lgL_setclosure(L, mt, d->metamethod, d->arity == 1 ? unary_mm : binary_mm, lua_gettop(L));
    if (d->luaname != NULL) {
      lua_CFunction f = optionalof(op) != NULL ? optional_fn
                      : d->arity == 1 ? unary_fn : d->arity == 2 ? binary_fn
                      : d->arity == 3 ? ternary_fn : d->arity == LGI_VARIADIC ? sum_fn : dot_fn;
      lgL_setclosure(L, module, d->luaname, f, lua_gettop(L));
      if (d->arity >= 1) lgL_setclosure(L, methods, d->luaname, f, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
}

