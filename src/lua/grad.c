/*
** grad.c: derivatives beyond backward's. lg.gradients gives gradients without
** touching any .grad; lg.tangents is forward mode; v:backward{create_graph = true} and
** both functions' create_graph option record the derivative itself as Values, so that it
** can be differentiated again, to any order. Those graph-mode sweeps walk the graph's
** Values on the Lua stack and in tables, and make each op's derivative from ops with its
** row's build function (core/ops.c): the derivative of an op lives in one place.
*/
#include <string.h>

#include "lua/lg_lua.h"

#define GRADS_KEY "luagrad.grads"   /* Value -> its grad as a Value; weak keys (5.2+) */

/* {==================================================================
** A graph's Values: the nodes a set of roots depends on, in order, as Lua values
** =================================================================== */

/* Pushes the k-th parent (counting only a node's Value arguments, from 1) of the node at
   idx, from where the binding anchored it (lg_compat.h). */
static void pushparent (lua_State *L, int idx, int k) {
#if LUA_VERSION_NUM >= 504
  if (lua_getiuservalue(L, idx, 1) == LUA_TTABLE) {   /* many parents: one table */
    lua_rawgeti(L, -1, k);
    lua_remove(L, -2);
  }
  else if (k != 1) {
    lua_pop(L, 1);
    lua_getiuservalue(L, idx, k);
  }
#else
  lgC_getuvtable(L, idx);
  if (lua_type(L, -1) == LUA_TTABLE) lua_rawgeti(L, -1, k);
#if LUA_VERSION_NUM == 503
  else if (lua_type(L, -1) == LUA_TFUNCTION) lua_getupvalue(L, -1, k);
#endif
  else return;   /* (5.3) the one parent itself */
  lua_remove(L, -2);
#endif
}

typedef struct Graph {
  lg_Value **order; /* the nodes, parents first, in a userdata of its own */
  double *x;        /* scratch: the numbers of a node's arguments */
  size_t count;
  int nodes;        /* stack index of a table: i -> order[i - 1]'s userdata */
  int pos;          /* stack index of a table: light userdata of a node -> i */
} Graph;

static lg_Value *graphnode (const Graph *G, size_t i) { return G->order[i - 1]; }

/* The position of node v in G (0 if it is not in it). */
static size_t position (lua_State *L, const Graph *G, const lg_Value *v) {
  size_t i;
  lua_rawgetp(L, G->pos, v);
  i = (size_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return i;
}

/* Pushes the Value (or number) that is argument k of v. */
static void pusharg (lua_State *L, const Graph *G, const lg_Value *v, uint32_t k) {
  if (lgI_isconst(v, k)) lua_pushnumber(L, (lua_Number)v->in[k].k);
  else lua_rawgeti(L, G->nodes, (lua_Integer)position(L, G, v->in[k].v));
}

/* Makes a userdata of *(size_t *) arg 1 bytes: the result, and (5.1's lua_cpcall keeps no
   result) the registry's entry at that address. */
static int newblock (lua_State *L) {
  void *key = lua_touserdata(L, 1);
  lua_newuserdata(L, *(const size_t *)key);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
  return 1;
}

/* Pushes a new userdata of size bytes, allocated under protection (so that a failure raises
   only once the caller has released what it holds); LUA_OK or the error, pushed. Before 5.2 a
   C function to call is itself a new closure, so lua_cpcall makes it inside. */
static int protectednew (lua_State *L, size_t *size) {
  int status;
#if LUA_VERSION_NUM == 501
  status = lua_cpcall(L, newblock, size);
  if (status == LUA_OK) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, size);
    lua_pushnil(L);   /* the entry goes; clearing a key allocates nothing */
    lua_rawsetp(L, LUA_REGISTRYINDEX, size);
  }
#else
  lua_pushcfunction(L, newblock);   /* a light C function: nothing allocated */
  lua_pushlightuserdata(L, size);
  status = lua_pcall(L, 1, 1, 0);
  if (status == LUA_OK) {
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, size);
  }
#endif
  return status;
}

/*
** G := every node the Values in the array at roots depend on (numbers in it are skipped),
** parents before children. The order is copied out of the sweep buffers and the marks are
** cleared before any Lua value is made, so that a collection step (a finalizer) finds
** nothing held meanwhile. Then a walk from the children back gets each parent's userdata
** from where its child anchors it.
*/
static void collect (lua_State *L, Graph *G, int roots) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, roots);
  lg_Value **ptrs;
  size_t m = 0, j, maxn, size;
  int status;
  lg_Work *W;
  ptrs = (lg_Value **)lgC_newuserdata(L, (size_t)n * sizeof(lg_Value *) + 1, 0);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, roots, (int)i);
    if (lgL_tovalue(L, -1) != NULL) ptrs[m++] = lgL_tovalue(L, -1);
    lua_pop(L, 1);
  }
  W = lgL_usework(L);
  if ((status = lgI_toposortn(W, ptrs, m)) != LG_OK) lgL_coreerror(L, status, W);
  lgI_unmark(W);
  if (W->tensors) lgL_coreerror(L, LGI_ETENSOR, W);   /* graph mode on tensors: later */
  G->count = W->count;
  maxn = W->maxn;
  if (G->count > (size_t)INT32_MAX / 2) luaL_error(L, "luagrad: graph too large");
  size = G->count * sizeof(lg_Value *) + maxn * sizeof(double) + 1;
  W->busy++;   /* a finalizer run by this allocation gets buffers of its own */
  status = protectednew(L, &size);
  W->busy--;
  if (status != LUA_OK) lua_error(L);
  G->order = (lg_Value **)lua_touserdata(L, -1);
  if (G->count > 0) memcpy(G->order, W->order, G->count * sizeof(lg_Value *));
  G->x = (double *)(G->order + G->count);
  lua_createtable(L, (int)G->count, 0);
  G->nodes = lua_gettop(L);
  lua_createtable(L, 0, (int)G->count);
  G->pos = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, roots, (int)i);
    if (lgL_tovalue(L, -1) != NULL) lua_rawsetp(L, G->pos, lgL_tovalue(L, -1));
    else lua_pop(L, 1);
  }
  luaL_checkstack(L, 4, NULL);
  for (j = G->count; j > 0; j--) {
    lg_Value *v = graphnode(G, j);
    uint32_t s, k = 0;
    int ud;
    lua_rawgetp(L, G->pos, v);
    ud = lua_gettop(L);
    if (lua_type(L, ud) != LUA_TUSERDATA || lua_touserdata(L, ud) != (void *)v)
      luaL_error(L, "luagrad: graph changed while being read");
    lua_pushvalue(L, ud);
    lua_rawseti(L, G->nodes, (int)j);
    lua_pushinteger(L, (lua_Integer)j);
    lua_rawsetp(L, G->pos, v);
    for (s = 0; s < v->n; s++) {
      if (lgI_isconst(v, s)) continue;
      k++;
      lua_rawgetp(L, G->pos, v->in[s].v);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        pushparent(L, ud, (int)k);
        lua_rawsetp(L, G->pos, v->in[s].v);
      }
      else lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* t[p] += the value on top (popped): a Value or number, or the first one. */
static void addto (lua_State *L, int t, int p) {
  lua_rawgeti(L, t, p);
  if (lua_isnil(L, -1)) lua_pop(L, 1);
  else {
    lgL_apply(L, LGI_ADD, -1, -2);
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
  lua_rawseti(L, t, p);
}

/* Pushes t[position of the Value at idx in G], or 0 if it has none (a number, a Value
   outside G, or no entry). */
static void pushentry (lua_State *L, const Graph *G, int t, int idx) {
  lg_Value *v = lgL_tovalue(L, idx);
  size_t p = v ? position(L, G, v) : 0;
  if (p > 0) lua_rawgeti(L, t, (int)p);
  if (p == 0 || lua_isnil(L, -1)) {
    if (p > 0) lua_pop(L, 1);
    lua_pushnumber(L, 0);
  }
}

/* }================================================================== */


/* {==================================================================
** Building derivatives from ops: the binding's side of a graph-mode sweep
** (graph/graphmode.c). Handles are stack indices; adjoints and tangents (Values or numbers)
** live in a table by position; the sweep releases each node's temporaries.
** =================================================================== */

typedef struct LuaSweep {
  lgI_GraphSweep S;   /* first: its builder, first in turn, is where the callbacks start */
  lua_State *L;
  const Graph *G;
  int target;         /* stack index: the adjoints' table (reverse) or the tangents' */
  int sum;            /* forward: the slot of the node's tangent so far (nil: none yet) */
  int outs;           /* forward: each custom call's output Values (outputsof) */
  const char *fn;     /* for messages */
} LuaSweep;

#define LS(p) ((LuaSweep *)(p))

static const lg_Value *building (const LuaSweep *s) { return graphnode(s->G, s->S.at); }

static int b_arg (lgI_Builder *B, int i) {
  LuaSweep *s = LS(B);
  luaL_checkstack(s->L, 8, "derivative too large");
  pusharg(s->L, s->G, building(s), (uint32_t)i);
  return lua_gettop(s->L);
}

static int b_out (lgI_Builder *B) {   /* the node's own Value */
  LuaSweep *s = LS(B);
  luaL_checkstack(s->L, 8, "derivative too large");
  lua_rawgeti(s->L, s->G->nodes, (int)s->S.at);
  return lua_gettop(s->L);
}

static int b_grad (lgI_Builder *B) { return LS(B)->S.g; }

static int b_num (lgI_Builder *B, double k) {
  luaL_checkstack(LS(B)->L, 8, "derivative too large");
  lua_pushnumber(LS(B)->L, (lua_Number)k);
  return lua_gettop(LS(B)->L);
}

static int b_apply (lgI_Builder *B, int op, int a, int c) {
  lgL_apply(LS(B)->L, op, a, c);
  return lua_gettop(LS(B)->L);
}

static int b_apply3 (lgI_Builder *B, int op, int a, int b, int c) {
  lgL_apply3(LS(B)->L, op, a, b, c);
  return lua_gettop(LS(B)->L);
}

/* reverse: adjoint[parent i] += h */
static void b_dxreverse (lgI_Builder *B, int i, int h) {
  LuaSweep *s = LS(B);
  const lg_Value *v = building(s);
  int p;
  if (lgI_isconst(v, (uint32_t)i) || (B->want >= 0 && B->want != i)) return;
  p = (int)position(s->L, s->G, v->in[i].v);
  lua_pushvalue(s->L, h);
  addto(s->L, s->target, p);
}

/* The stack slot sum (nil: nothing yet) += the value at h. */
static void accumulate (lua_State *L, int sum, int h) {
  if (lua_isnil(L, sum)) lua_pushvalue(L, h);
  else lgL_apply(L, LGI_ADD, sum, h);
  lua_replace(L, sum);
}

/* forward: the node's tangent += h */
static void b_dxforward (lgI_Builder *B, int i, int h) {
  LuaSweep *s = LS(B);
  if (lgI_isconst(building(s), (uint32_t)i) || (B->want >= 0 && B->want != i)) return;
  accumulate(s->L, s->sum, h);
}

static int iszero (lua_State *L, int i) {
  return lua_isnil(L, i) || (lua_type(L, i) == LUA_TNUMBER && lua_tonumber(L, i) == 0);
}

static int hostgrapherror (lua_State *L, const lg_Value *v, const char *fn) {
  return luaL_error(L, "luagrad.%s: '%s' is a host function, whose derivative is not made "
                       "of ops: it cannot be differentiated on Values (create_graph, "
                       "nested transforms)", fn, lgI_opname(v));
}

/*
** Calls the backward of a custom function's call on Values: the output adjoints gs[1..m]
** (or, when unit >= 0, 1 for output unit and 0 for the others), the arguments, then the
** outputs outs[off + 1 .. off + m] (or their numbers where outs has none). Leaves its n
** results, each a Value or a number (nil: 0), on the stack.
*/
static void custombackward (lua_State *L, const Graph *G, lg_Value *call, int gs, int unit,
                            int outs, int off, const char *fn) {
  lg_CallRec *r = lgI_callrec(call);
  int j, k, nin = (int)call->n, nout = r->f->nout, res;
  luaL_checkstack(L, nin + 2 * nout + 4, "too many arguments");
  if (!lgL_pushcustombackward(L, call)) hostgrapherror(L, call, fn);
  for (j = 0; j < nout; j++) {
    if (unit >= 0) lua_pushnumber(L, j == unit);
    else lua_rawgeti(L, gs, j + 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushnumber(L, 0);
    }
  }
  for (k = 0; k < nin; k++) pusharg(L, G, call, (uint32_t)k);
  for (j = 0; j < nout; j++) {
    if (outs != 0) lua_rawgeti(L, outs, off + j + 1);
    else lua_pushnil(L);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushnumber(L, (lua_Number)r->y[j]);
    }
  }
  if (lgL_pcall(L, nin + 2 * nout, nin) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    lgL_callbackfailed(L);
    luaL_where(L, 1);   /* as luaL_error, with the traceback of where backward failed */
    lua_pushfstring(L, "luagrad.%s: %s", r->f->name, msg ? msg : "error object is not a string");
    lua_concat(L, 2);
    lgL_rethrowas(L, msg ? msg : "");
  }
  res = lua_gettop(L) - nin + 1;
  for (k = 0; k < nin; k++) {
    if (!lua_isnil(L, res + k) && lua_type(L, res + k) != LUA_TNUMBER
        && lgL_tovalue(L, res + k) == NULL)
      luaL_error(L, "luagrad.%s: backward must return numbers or values (result #%d is %s)",
                 r->f->name, k + 1, lgL_typename(L, res + k));
  }
}

/* Reverse through a custom call: the adjoints of its outputs gathered in a table at its
   position (a[1..m]; the output Values at a[m + 1 .. 2m]), its backward, and each result
   added to its argument's adjoint. */
static void callgraph (lua_State *L, const Graph *G, lg_Value *call, int a, int adj,
                       const char *fn) {
  int k, nin = (int)call->n, res;
  custombackward(L, G, call, a, -1, a, lgI_callrec(call)->f->nout, fn);
  res = lua_gettop(L) - nin + 1;
  for (k = 0; k < nin; k++) {
    if (lgI_isconst(call, (uint32_t)k) || iszero(L, res + k)) continue;
    lua_pushvalue(L, res + k);
    addto(L, adj, (int)position(L, G, call->in[k].v));
  }
}

/* An output of a call passes its adjoint, and itself, to the call's table. */
static void outputgraph (lua_State *L, const Graph *G, size_t i, int a, int adj,
                         const char *fn) {
  lg_Value *v = graphnode(G, i), *call = v->in[0].v;
  int j = (int)v->in[1].k, nout = lgI_callrec(call)->f->nout;
  int p = (int)position(L, G, call);
  if (!lgL_iscustom(call)) hostgrapherror(L, call, fn);
  lua_rawgeti(L, adj, p);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 2 * nout, 0);
    lua_pushvalue(L, -1);
    lua_rawseti(L, adj, p);
  }
  lua_pushvalue(L, a);
  addto(L, lua_gettop(L) - 1, j + 1);
  lua_rawgeti(L, G->nodes, (int)i);
  lua_rawseti(L, -2, nout + j + 1);
  lua_pop(L, 1);
}

static int s_mark (lgI_GraphSweep *S) { return lua_gettop(LS(S)->L); }
static void s_release (lgI_GraphSweep *S, int mark) { lua_settop(LS(S)->L, mark); }

static int s_adjoint (lgI_GraphSweep *S, size_t i) {
  lua_State *L = LS(S)->L;
  lua_rawgeti(L, LS(S)->target, (int)i);
  return iszero(L, -1) ? -1 : lua_gettop(L);
}

static void s_callreverse (lgI_GraphSweep *S, size_t i, int g) {
  LuaSweep *s = LS(S);
  callgraph(s->L, s->G, graphnode(s->G, i), g, s->target, s->fn);
}

static void s_outputreverse (lgI_GraphSweep *S, size_t i, int g) {
  LuaSweep *s = LS(S);
  outputgraph(s->L, s->G, i, g, s->target, s->fn);
}

/* A graph-mode sweep over G into the table at target, reverse or forward. */
static void initsweep (LuaSweep *s, lua_State *L, const Graph *G, int target, int forward,
                       const char *fn) {
  memset(s, 0, sizeof(*s));
  s->S.B.arg = b_arg;
  s->S.B.out = b_out;
  s->S.B.grad = b_grad;
  s->S.B.num = b_num;
  s->S.B.apply = b_apply;
  s->S.B.apply3 = b_apply3;
  s->S.B.dx = forward ? b_dxforward : b_dxreverse;
  s->S.order = G->order;
  s->S.count = G->count;
  s->S.x = G->x;
  s->S.mark = s_mark;
  s->S.release = s_release;
  s->S.adjoint = s_adjoint;
  s->S.callreverse = s_callreverse;
  s->S.outputreverse = s_outputreverse;
  s->L = L;
  s->G = G;
  s->target = target;
  s->fn = fn;
}

/* The reverse sweep on Values: adjoints (Values or numbers) in the table at adj, by
   position; an output of a host function's call adds its adjoint into a table at the
   call's position. */
static void sweepgraph (lua_State *L, const Graph *G, int adj, const char *fn) {
  LuaSweep s;
  initsweep(&s, L, G, adj, 0, fn);
  lgI_reversegraph(&s.S);
}

/* }================================================================== */


/* {==================================================================
** Arguments: one Value or number, or an array of them
** =================================================================== */

/* What a list may hold besides Values: numbers (outputs, seeds) and tensors (lg.gradients). */
#define LNUMBERS 1
#define LTENSORS 2

/* Whether the value at i is one a list of kinds may hold. */
static int allowed (lua_State *L, int i, int kinds) {
  return lgL_tovalue(L, i) != NULL || ((kinds & LNUMBERS) && lua_type(L, i) == LUA_TNUMBER)
         || ((kinds & LTENSORS) && lgL_totensor(L, i) != NULL);
}

/* "value", "number or value", "value or tensor", "number, value or tensor", then with
   table, "... or table" */
static const char *kindsname (int kinds, int table) {
  static const char *const names[2][4] = {
    {"value", "number or value", "value or tensor", "number, value or tensor"},
    {"value or table", "number, value or table", "value, tensor or table",
     "number, value, tensor or table"}};
  return names[table != 0][kinds & 3];
}

/* Puts in place of the argument at arg an array the call owns: a raw copy of the array
   given, or a new one holding a lone Value (or number, or tensor, as kinds allows); returns
   whether it was an array. The copy anchors every Value the call reads for as long as it
   runs: a callback (a custom function's backward, a finalizer) may empty or refill the
   caller's array, but never this one. Arrays are read raw, as everywhere in luagrad:
   metamethods are ignored. */
static int ownlist (lua_State *L, int arg, const char *fn, int kinds) {
  int waslist = lua_type(L, arg) == LUA_TTABLE;
  if (waslist) {
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, arg);
    if (n > INT32_MAX / 2) luaL_error(L, "luagrad.%s: list too long", fn);
    lua_createtable(L, (int)n, 0);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, arg, (int)i);
      lua_rawseti(L, -2, (int)i);
    }
  }
  else {
    if (!allowed(L, arg, kinds))
      lgL_argerror(L, fn, arg, kindsname(kinds & ~LNUMBERS, 1));
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, arg);
    lua_rawseti(L, -2, 1);
  }
  lua_replace(L, arg);
  return waslist;
}

/* Checks that element i of the list at arg is one of kinds. */
static void checkelement (lua_State *L, int arg, lua_Integer i, const char *fn, int kinds) {
  lua_rawgeti(L, arg, (int)i);
  if (!allowed(L, -1, kinds)) lgL_argerrorat(L, fn, arg, kindsname(kinds, 0), i, -1);
  lua_pop(L, 1);
}

static lua_Integer checklist (lua_State *L, int arg, const char *fn, int kinds) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, arg);
  if (n > INT32_MAX / 2) luaL_error(L, "luagrad.%s: list too long", fn);
  for (i = 1; i <= n; i++) checkelement(L, arg, i, fn, kinds);
  return n;
}

/* The seeds (or tangents) option at opt, made a list as long as n (default: ones); pushed.
   Whether any is a Value. */
static int seedlist (lua_State *L, int opt, lua_Integer n, const char *fn, const char *field,
                     int kinds) {
  lua_Integer i;
  int values = 0;
  if (opt == 0 || (lua_pushstring(L, field), lua_rawget(L, opt), lua_isnil(L, -1))) {
    if (opt != 0) lua_pop(L, 1);
    lua_createtable(L, (int)n, 0);
    for (i = 1; i <= n; i++) {
      lua_pushnumber(L, 1);
      lua_rawseti(L, -2, (int)i);
    }
    return 0;
  }
  if (lua_type(L, -1) != LUA_TTABLE) {   /* one seed */
    lua_createtable(L, 1, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
  }
  else ownlist(L, lua_gettop(L), fn, LNUMBERS);   /* a copy, as the lists are */
  if ((lua_Integer)lua_rawlen(L, -1) != n)
    luaL_error(L, "luagrad.%s: bad option '%s' (%d expected, got %d)", fn, field, (int)n,
               (int)lua_rawlen(L, -1));
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, (int)i);
    if (lgL_tovalue(L, -1) != NULL) values = 1;
    else if (!allowed(L, -1, kinds))
      lgL_opterror(L, fn, field, kindsname(kinds, 0), i, -1);
    lua_pop(L, 1);
  }
  return values;
}

/* Leaves the results (the table at res, or its only element) on top. */
static int results (lua_State *L, int res, int waslist) {
  if (!waslist) lua_rawgeti(L, res, 1);
  else lua_pushvalue(L, res);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** lg.gradients, lg.tangents, backward{create_graph = true}
** =================================================================== */

/* The Values in the list at list (n elements; numbers among them are skipped) into v, and,
   unless nums is 0, the numbers beside them in the list at nums into x; how many. */
static lua_Integer gather (lua_State *L, int list, int nums, lua_Integer n, lg_Value **v,
                           double *x) {
  lua_Integer i, k = 0;
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, list, (int)i);
    if (lgL_tovalue(L, -1) != NULL) {
      v[k] = lgL_tovalue(L, -1);
      if (nums != 0) {
        lua_rawgeti(L, nums, (int)i);
        x[k] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      k++;
    }
    lua_pop(L, 1);
  }
  return k;
}

/* Scratch the stack owns for a sweep in numbers over m outputs and n inputs: m + n node
   pointers, then m + n numbers. */
static lg_Value **scratch (lua_State *L, lua_Integer m, lua_Integer n) {
  return (lg_Value **)lgC_newuserdata(L, (size_t)(m + n) * (sizeof(lg_Value *)
                                      + sizeof(double)) + 1, 0);
}

/* The numbers: one sweep on the shared buffers. Adjoints are read before they are
   cleared, into memory the stack owns, so no Lua value is made meanwhile. */
static void gradnumbers (lua_State *L, int outs, int seeds, int ins, int res,
                         lua_Integer m, lua_Integer n) {
  lg_Value **roots = scratch(L, m, n), **in = roots + m;
  double *seed = (double *)(in + n), *got = seed + m;
  lua_Integer i, nroots = gather(L, outs, seeds, m, roots, seed);   /* numbers: no sweep */
  lg_Work *W;
  void *saved;
  int err;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* numbers no guard checks */
  gather(L, ins, 0, n, in, NULL);
  W = lgL_beginsweep(L, &saved);
  err = lgI_gradients(W, roots, seed, (size_t)nroots, in, (size_t)n, got);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  for (i = 0; i < n; i++) {
    lua_pushnumber(L, (lua_Number)got[i]);
    lua_rawseti(L, res, (int)i + 1);
  }
}

/* The Values: a sweep building each derivative from ops. */
static void gradgraph (lua_State *L, int outs, int seeds, int ins, int res, lua_Integer m,
                       lua_Integer n, const char *fn) {
  Graph G;
  lua_Integer i;
  int adj;
  collect(L, &G, outs);
  lua_createtable(L, (int)G.count, 0);
  adj = lua_gettop(L);
  for (i = 1; i <= m; i++) {   /* an output listed twice gets both seeds */
    size_t p;
    lua_rawgeti(L, outs, (int)i);
    if (lgL_tovalue(L, -1) == NULL) {
      lua_pop(L, 1);
      continue;
    }
    p = position(L, &G, lgL_tovalue(L, -1));
    lua_pop(L, 1);
    lua_rawgeti(L, seeds, (int)i);
    addto(L, adj, (int)p);
  }
  sweepgraph(L, &G, adj, fn);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, ins, (int)i);
    pushentry(L, &G, adj, -1);
    lua_rawseti(L, res, (int)i);
    lua_pop(L, 1);
  }
}

/* Checks and normalizes (outputs, inputs [, opts]) at 1, 2, 3 of lg.gradients and
   lg.tangents; pushes the list of option field, one per output (seeds) or, if perinput, per
   input (tangents); returns whether the inputs were a list, and sets *m, *n and *graph. */
static int prepare (lua_State *L, const char *fn, const char *field, int perinput,
                    lua_Integer *m, lua_Integer *n, int *graph) {
  int waslist, values, t = perinput ? 0 : LTENSORS;   /* lg.gradients takes tensors */
  lua_settop(L, 3);
  if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TTABLE) lgL_argerror(L, fn, 3, "table");
  ownlist(L, 1, fn, LNUMBERS | t);
  waslist = ownlist(L, 2, fn, t);
  *m = checklist(L, 1, fn, LNUMBERS | t);
  *n = checklist(L, 2, fn, t);
  if (!lua_isnil(L, 3)) {
    const char *names[3];
    names[0] = field;
    names[1] = "create_graph";
    names[2] = NULL;
    lgL_checkoptions(L, 3, fn, names);
  }
  *graph = lua_isnil(L, 3) ? 0 : lgL_optboolean(L, 3, "create_graph", fn);
  values = seedlist(L, lua_isnil(L, 3) ? 0 : 3, perinput ? *n : *m, fn, field, LNUMBERS | t);
  if (values) *graph = 1;
  lua_createtable(L, (int)*n, 0);   /* the results */
  return waslist;
}

/* Whether any element of the list at list (n elements) is a tensor. */
static int anytensorin (lua_State *L, int list, lua_Integer n) {
  lua_Integer i;
  int any = 0;
  for (i = 1; i <= n && !any; i++) {
    lua_rawgeti(L, list, (int)i);
    any = lgL_totensor(L, -1) != NULL;
    lua_pop(L, 1);
  }
  return any;
}

static int sameshape (const lg_TensorRec *a, const lg_TensorRec *b) {
  return a->d.ndim == b->d.ndim &&
         memcmp(a->d.size, b->d.size, (size_t)a->d.ndim * sizeof(int64_t)) == 0;
}

/* Each tensor output's seed must be a tensor of its shape, and a tensor seeds only a
   tensor; given tells whether the seeds were given (else they are all 1). */
static void checktseeds (lua_State *L, int outs, int seeds, lua_Integer m, int given) {
  lua_Integer i;
  for (i = 1; i <= m; i++) {
    lg_Value *o, *sd;
    lua_rawgeti(L, outs, (int)i);
    lua_rawgeti(L, seeds, (int)i);
    o = lgL_totensor(L, -2);
    sd = lgL_totensor(L, -1);
    if (o == NULL && sd != NULL)
      lgL_opterror(L, "gradients", "seeds", "number or value", i, -1);
    if (o != NULL && !given)
      luaL_error(L, "luagrad.gradients: output %d is a tensor: it needs a seed of its shape "
                    "%s (option 'seeds')", (int)i,
                 lgL_pushshape(L, lgI_trec(o)->d.ndim, lgI_trec(o)->d.size));
    if (o != NULL && (sd == NULL || !sameshape(lgI_trec(o), lgI_trec(sd)))) {
      const lg_TensorRec *r = lgI_trec(o);
      const char *want = lgL_pushshape(L, r->d.ndim, r->d.size);
      if (sd == NULL)
        luaL_error(L, "luagrad.gradients: bad option 'seeds' (a tensor of shape %s expected "
                      "at index %d, got %s)", want, (int)i, lgL_typename(L, -2));
      luaL_error(L, "luagrad.gradients: bad option 'seeds' (a tensor of shape %s expected at "
                    "index %d, got shape %s)", want, (int)i,
                 lgL_pushshape(L, lgI_trec(sd)->d.ndim, lgI_trec(sd)->d.size));
    }
    lua_pop(L, 2);
  }
}

/*
** The numbers of a sweep over tensors: each tensor input's gradient is a new tensor of its
** sizes and dtype (zero where the sweep does not reach it), a Value's a number. The result
** tensors are made, and every node gathered, before the sweep, so none is made meanwhile.
*/
static void tgradnumbers (lua_State *L, int outs, int seeds, int ins, int res,
                          lua_Integer m, lua_Integer n) {
  lg_Value **roots = (lg_Value **)lgC_newuserdata(L, (size_t)(m + n) * (2 * sizeof(lg_Value *)
                                                  + sizeof(double)) + 1, 0);
  lg_Value **tseed = roots + m, **in = tseed + m, **tout = in + n;
  double *seed = (double *)(tout + n), *got = seed + m;
  lua_Integer i, k = 0;
  lg_Work *W;
  void *saved;
  int err;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* numbers no guard checks */
  for (i = 1; i <= m; i++) {   /* the roots: Values and tensors (numbers have no sweep) */
    lg_Value *o;
    lua_rawgeti(L, outs, (int)i);
    lua_rawgeti(L, seeds, (int)i);
    if ((o = lgL_totensor(L, -2)) != NULL) {
      tseed[k] = lgL_totensor(L, -1);
      seed[k] = 0;
      roots[k++] = o;
    }
    else if ((o = lgL_tovalue(L, -2)) != NULL) {
      tseed[k] = NULL;
      seed[k] = (double)lua_tonumber(L, -1);
      roots[k++] = o;
    }
    lua_pop(L, 2);
  }
  for (i = 1; i <= n; i++) {
    lg_Value *x;
    lua_rawgeti(L, ins, (int)i);
    if ((x = lgL_totensor(L, -1)) != NULL) {
      lg_TDesc d;
      lgI_tcontig(&lgI_trec(x)->d, &d);
      tout[i - 1] = lgL_newtensor(L, &d);
      memset(lgI_trec(tout[i - 1])->data, 0, (size_t)lgI_tnumel(&d) * lgI_elemsize(d.dtype));
      lua_rawseti(L, res, (int)i);
    }
    else tout[i - 1] = NULL;
    in[i - 1] = lgL_tovalue(L, -1) != NULL ? lgL_tovalue(L, -1) : x;
    lua_pop(L, 1);
  }
  W = lgL_beginsweep(L, &saved);
  err = lgI_gradientst(W, roots, seed, tseed, (size_t)k, in, (size_t)n, got, tout);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  for (i = 0; i < n; i++) {
    if (tout[i] != NULL) continue;
    lua_pushnumber(L, (lua_Number)got[i]);
    lua_rawseti(L, res, (int)i + 1);
  }
}

/* lg.gradients(outputs, inputs [, {seeds = s, create_graph = b}]) -> gradients */
static int mod_gradients (lua_State *L) {
  lua_Integer m, n;
  int graph, waslist = prepare(L, "gradients", "seeds", 0, &m, &n, &graph);
  if (anytensorin(L, 1, m) || anytensorin(L, 2, n) || anytensorin(L, 4, m)) {
    int given = 0;
    if (!lua_isnil(L, 3)) {
      lua_getfield(L, 3, "seeds");
      given = !lua_isnil(L, -1);
      lua_pop(L, 1);
    }
    checktseeds(L, 1, 4, m, given);
    if (graph) lgL_coreerror(L, LGI_ETENSOR, lgL_getwork(L));   /* graph mode: later */
    tgradnumbers(L, 1, 4, 2, 5, m, n);
  }
  else if (graph) gradgraph(L, 1, 4, 2, 5, m, n, "gradients");
  else gradnumbers(L, 1, 4, 2, 5, m, n);
  return results(L, 5, waslist);
}

/*
** A grad that is a Value (LGI_GRADVALUE), kept beside its Value v (at vi). From 5.2 on, in a
** table with weak keys, an ephemeron table: its entry goes with v even though the grad's graph
** refers back to v. 5.1 and LuaJIT have no ephemerons, so there it lives in v's environment:
** the table anchoring v's parents, or, for a Value with none, a new table of its own.
*/
#if LUA_VERSION_NUM >= 502
static void pushgrad (lua_State *L, const lg_Value *v, int vi) {
  vi = lua_absindex(L, vi);
  (void)v;
  lua_getfield(L, LUA_REGISTRYINDEX, GRADS_KEY);
  lua_pushvalue(L, vi);
  lua_rawget(L, -2);
  lua_remove(L, -2);
}

static void setgrad (lua_State *L, const lg_Value *v, int vi) {   /* pops the grad */
  vi = lua_absindex(L, vi);
  (void)v;
  lua_getfield(L, LUA_REGISTRYINDEX, GRADS_KEY);
  lua_pushvalue(L, vi);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 2);
}
#else
static void pushgrad (lua_State *L, const lg_Value *v, int vi) {
  (void)v;
  lua_getfenv(L, vi);
  lua_getfield(L, -1, "grad");
  lua_remove(L, -2);
}

static void setgrad (lua_State *L, const lg_Value *v, int vi) {   /* pops the grad */
  uint32_t i;
  int own = 0;
  vi = lua_absindex(L, vi);
  for (i = 0; i < v->n && !own; i++) own = !lgI_isconst(v, i);
  if (own) lua_getfenv(L, vi);
  else {
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -1);
    lua_setfenv(L, vi);
  }
  lua_insert(L, -2);
  lua_setfield(L, -2, "grad");
  lua_pop(L, 1);
}
#endif

/* v:backward{seed = s, create_graph = true}: every grad in v's graph gains its adjoint,
   built from ops. */
int lgL_backwardgraph (lua_State *L) {
  Graph G;
  size_t i;
  int adj;
  lua_settop(L, 2);
  lua_createtable(L, 1, 0);   /* 3: the roots */
  lua_pushvalue(L, 1);
  lua_rawseti(L, 3, 1);
  lua_getfield(L, 2, "seed");   /* 4 */
  if (lua_isnil(L, 4)) {
    lua_pop(L, 1);
    lua_pushnumber(L, 1);
  }
  else if (lgL_tovalue(L, 4) == NULL && lua_type(L, 4) != LUA_TNUMBER)
    luaL_error(L, "luagrad.backward: bad seed (number or value expected, got %s)",
               lgL_typename(L, 4));
  collect(L, &G, 3);
  lua_createtable(L, (int)G.count, 0);
  adj = lua_gettop(L);
  lua_pushvalue(L, 4);
  lua_rawseti(L, adj, (int)G.count);   /* the root comes last */
  sweepgraph(L, &G, adj, "backward");
  for (i = 1; i <= G.count; i++) {
    lg_Value *v = graphnode(&G, i);
    lg_Value *r;
    int node;
    if (v->kind == LGI_KCALL) continue;   /* not a Value */
    lua_rawgeti(L, adj, (int)i);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    lua_rawgeti(L, G.nodes, (int)i);   /* the Value */
    node = lua_gettop(L);
    lgL_pushgradvalue(L, v, node);     /* its grad, a Value or a number */
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == 0) lua_pop(L, 1);
    else {
      lgL_apply(L, LGI_ADD, -1, node - 1);
      lua_replace(L, node - 1);
      lua_pop(L, 1);
    }
    r = lgL_tovalue(L, node - 1);
    if (r != NULL) {
      v->grad = r->data;
      v->flags |= LGI_GRADVALUE;
      lua_pushvalue(L, node - 1);
      setgrad(L, v, node);
    }
    else {
      v->grad = (double)lua_tonumber(L, node - 1);
      v->flags &= (uint8_t)~LGI_GRADVALUE;
    }
    lua_settop(L, node - 2);
  }
  return 0;
}

/* Pushes v.grad (v at vi): the Value it holds, or the number. */
void lgL_pushgradvalue (lua_State *L, lg_Value *v, int vi) {
  if (v->flags & LGI_GRADVALUE) {
    pushgrad(L, v, vi);
    if (lgL_tovalue(L, -1) != NULL) return;
    lua_pop(L, 1);
  }
  lua_pushnumber(L, (lua_Number)v->grad);
}

/* Forward mode in numbers: one sweep on the shared buffers. */
static void tannumbers (lua_State *L, int outs, int tans, int ins, int res, lua_Integer m,
                        lua_Integer n) {
  lg_Value **roots = scratch(L, m, n), **in = roots + m;
  double *tin = (double *)(in + n), *tout = tin + n;
  lua_Integer i, k, nroots = gather(L, outs, 0, m, roots, NULL);   /* numbers: tangent 0 */
  lg_Work *W;
  void *saved;
  int err;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* numbers no guard checks */
  gather(L, ins, tans, n, in, tin);
  for (i = 1; i <= m; i++) {  /* which outputs were Values, before callbacks can change outs */
    lua_rawgeti(L, outs, (int)i);
    if (lgL_tovalue(L, -1) != NULL) lua_pushboolean(L, 1);
    else lua_pushnumber(L, 0);
    lua_rawseti(L, res, (int)i);
    lua_pop(L, 1);
  }
  W = lgL_beginsweep(L, &saved);
  err = lgI_jvp(W, in, tin, (size_t)n, roots, (size_t)nroots, tout);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  for (i = 1, k = 0; i <= m; i++) {  /* into the slots res has: no allocation */
    lua_rawgeti(L, res, (int)i);
    if (lua_isboolean(L, -1)) {   /* a Value's slot: its tangent (there are nroots) */
      lua_pushnumber(L, k < nroots ? (lua_Number)tout[k++] : 0);
      lua_rawseti(L, res, (int)i);
    }
    lua_pop(L, 1);
  }
}

/* Each custom call's output Values, in a table: call position -> {out1, ..., outm}. */
static int outputsof (lua_State *L, const Graph *G) {
  size_t j;
  int t;
  lua_newtable(L);
  t = lua_gettop(L);
  for (j = 1; j <= G->count; j++) {
    lg_Value *v = graphnode(G, j);
    int p;
    if (v->kind != LGI_KOUTPUT) continue;
    p = (int)position(L, G, v->in[0].v);
    lua_rawgeti(L, t, p);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
      lua_pushvalue(L, -1);
      lua_rawseti(L, t, p);
    }
    lua_rawgeti(L, G->nodes, (int)j);
    lua_rawseti(L, -2, (int)v->in[1].k + 1);
    lua_pop(L, 1);
  }
  return t;
}

/* Forward through a custom call: output o's tangent is backward's results for a unit
   adjoint of o (a row of the Jacobian) times the arguments' tangents. The outputs'
   tangents go in a table at the call's position. */
static void calltangraph (lua_State *L, const Graph *G, size_t j, int tan, int outs,
                          const char *fn) {
  lg_Value *call = graphnode(G, j);
  int o, k, nin = (int)call->n, nout = lgI_callrec(call)->f->nout, row, base;
  lua_createtable(L, nout, 0);
  row = lua_gettop(L);
  lua_rawgeti(L, outs, (int)j);
  base = lua_gettop(L);
  for (o = 0; o < nout; o++) {
    int res, sum;
    custombackward(L, G, call, 0, o, lua_isnil(L, base) ? 0 : base, 0, fn);
    res = lua_gettop(L) - nin + 1;
    lua_pushnil(L);
    sum = lua_gettop(L);
    for (k = 0; k < nin; k++) {
      if (lgI_isconst(call, (uint32_t)k) || iszero(L, res + k)) continue;
      lua_rawgeti(L, tan, (int)position(L, G, call->in[k].v));
      if (!iszero(L, -1)) {
        lgL_apply(L, LGI_MUL, res + k, -1);
        accumulate(L, sum, lua_gettop(L));
      }
      lua_settop(L, sum);
    }
    if (lua_isnil(L, sum)) lua_pushnumber(L, 0);
    else lua_pushvalue(L, sum);
    lua_rawseti(L, row, o + 1);
    lua_settop(L, base);
  }
  lua_pushvalue(L, row);
  lua_rawseti(L, tan, (int)j);
}

static int s_begin (lgI_GraphSweep *S, size_t i) {
  LuaSweep *s = LS(S);
  lua_rawgeti(s->L, s->target, (int)i);
  if (!lua_isnil(s->L, -1)) return 0;   /* given: an input's tangent is its own */
  s->sum = lua_gettop(s->L);            /* nil so far */
  return 1;
}

static int s_argtangent (lgI_GraphSweep *S, size_t i, uint32_t k) {
  LuaSweep *s = LS(S);
  lua_rawgeti(s->L, s->target, (int)position(s->L, s->G, graphnode(s->G, i)->in[k].v));
  return iszero(s->L, -1) ? -1 : lua_gettop(s->L);
}

static void s_settangent (lgI_GraphSweep *S, size_t i) {
  LuaSweep *s = LS(S);
  lua_pushvalue(s->L, s->sum);
  lua_rawseti(s->L, s->target, (int)i);
}

static void s_calltangent (lgI_GraphSweep *S, size_t i) {
  LuaSweep *s = LS(S);
  calltangraph(s->L, s->G, i, s->target, s->outs, s->fn);
}

static void s_outputtangent (lgI_GraphSweep *S, size_t i) {
  LuaSweep *s = LS(S);
  lua_State *L = s->L;
  const lg_Value *v = graphnode(s->G, i);
  if (!lgL_iscustom(v->in[0].v)) hostgrapherror(L, v, s->fn);
  lua_rawgeti(L, s->target, (int)position(L, s->G, v->in[0].v));
  lua_rawgeti(L, -1, (int)v->in[1].k + 1);
  lua_rawseti(L, s->target, (int)i);
}

/* Forward mode on Values: each node's tangent is the sum of its op's derivative built for
   each argument with that argument's tangent as g (the builders are linear in g). */
static void tangraph (lua_State *L, int outs, int tans, int ins, int res, lua_Integer m,
                      lua_Integer n, const char *fn) {
  Graph G;
  LuaSweep s;
  lua_Integer i;
  int tan;
  collect(L, &G, outs);
  lua_createtable(L, (int)G.count, 0);
  tan = lua_gettop(L);
  for (i = 1; i <= n; i++) {   /* given: an input's tangent is its own, whatever it depends on */
    size_t p;
    lua_rawgeti(L, ins, (int)i);
    p = position(L, &G, lgL_tovalue(L, -1));
    lua_pop(L, 1);
    if (p == 0) continue;
    lua_rawgeti(L, tans, (int)i);
    addto(L, tan, (int)p);
  }
  initsweep(&s, L, &G, tan, 1, fn);
  s.outs = outputsof(L, &G);
  s.S.begin = s_begin;
  s.S.argtangent = s_argtangent;
  s.S.settangent = s_settangent;
  s.S.calltangent = s_calltangent;
  s.S.outputtangent = s_outputtangent;
  lgI_forwardgraph(&s.S);
  for (i = 1; i <= m; i++) {
    lua_rawgeti(L, outs, (int)i);
    pushentry(L, &G, tan, -1);
    lua_rawseti(L, res, (int)i);
    lua_pop(L, 1);
  }
}

/* lg.tangents(outputs, inputs [, {tangents = t, create_graph = b}]) -> output tangents */
static int mod_tangents (lua_State *L) {
  lua_Integer m, n;
  int graph, outlist;
  outlist = lua_type(L, 1) == LUA_TTABLE;
  prepare(L, "tangents", "tangents", 1, &m, &n, &graph);
  lua_pop(L, 1);
  lua_createtable(L, (int)m, 0);   /* 5: one tangent per output */
  if (graph) tangraph(L, 1, 4, 2, 5, m, n, "tangents");
  else tannumbers(L, 1, 4, 2, 5, m, n);
  return results(L, 5, outlist);
}

static const luaL_Reg grad_funcs[] = {
  {"gradients", mod_gradients},
  {"tangents", mod_tangents},
  {NULL, NULL}
};

void lgL_opengrad (lua_State *L, int module) {
  lua_pushvalue(L, module);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, grad_funcs, NUPVALUES);
  lua_pop(L, 1);
  lgL_weaktable(L, GRADS_KEY, "k");
  lua_pop(L, 1);
}

/* }================================================================== */
