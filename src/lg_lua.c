/*
** lg_lua.c: the Lua binding's main file (with lg_lua_host.c and lg_lua_compile.c, the only
** files that include lua.h, through lg_lua.h). It turns core nodes into
** Lua values: each Value is one full userdata holding the node itself, with its parents'
** userdata as user values so that Lua keeps them alive exactly as long as the child (where
** a Lua version has fewer user values, lg_compat.h keeps them in a table). Values have no
** finalizer: the collector frees a graph when no Value of it is reachable.
*/
#include <string.h>

#include "lg_lua.h"

/* {==================================================================
** Checks and errors
** =================================================================== */

const char *lgL_typename (lua_State *L, int i) {
  return lgL_tovalue(L, i) ? "value" : luaL_typename(L, i);
}

/* raise "luagrad.<fn>: bad argument #<arg> (<what> expected, got <type>)" */
int lgL_argerror (lua_State *L, const char *fn, int arg, const char *what) {
  return luaL_error(L, "luagrad.%s: bad argument #%d (%s expected, got %s)",
                    fn, arg, what, lgL_typename(L, arg));
}

/* raise "luagrad: bad operand #<arg> to '<op>' (number or value expected, got <type>)" */
static int operror (lua_State *L, const char *op, int arg) {
  return luaL_error(L, "luagrad: bad operand #%d to '%s' (number or value expected, got %s)",
                    arg, op, lgL_typename(L, arg));
}

int lgL_memerror (lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

/* Raises the error a core call returned: out of memory, a host function's message, or the
   NaN that anomaly detection found in a backward. */
int lgL_coreerror (lua_State *L, int err, lg_Work *W) {
  if (err == LG_EHOST) return luaL_error(L, "luagrad.%s: %s", W->msgfrom, W->msg);
  if (err == LGI_ENAN) return lgL_nanerror(L, W);
  if (err == LGI_EBUSY)
    return luaL_error(L, "luagrad: a custom function's callback cannot walk the graph being "
                         "differentiated (backward, lg.gradients, zero_grad, to_dot on its "
                         "Values)");
  return lgL_memerror(L);
}

static double checknumber (lua_State *L, int arg, const char *fn) {
  if (lua_type(L, arg) != LUA_TNUMBER)  /* no string coercion here */
    lgL_argerror(L, fn, arg, "number");
  return (double)lua_tonumber(L, arg);
}

static lg_Value *checkvalue (lua_State *L, int arg, const char *fn) {
  lg_Value *v = lgL_tovalue(L, arg);
  if (v == NULL) lgL_argerror(L, fn, arg, "value");
  return v;
}

static void *noalloc (void *ud, void *ptr, size_t osize, size_t nsize);

/* The scratch buffers, with the state's allocator as it is now: a host may replace it
   with lua_setallocf after opening the module, and Lua's contract is that the new one
   also frees and grows blocks the old one made. */
lg_Work *lgL_getwork (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  if (W->allocf != noalloc) W->allocf = (lg_Alloc)lua_getallocf(L, &W->ud);
  return W;
}

/* Pushes new scratch buffers of their own, freed by the collector (or sooner, with
   lgI_workfree): for work that must not share the state's, which a finalizer or a custom
   function's callback may be using meanwhile. */
lg_Work *lgL_newwork (lua_State *L) {
  lg_Work *shared = lgL_getwork(L);
  lg_Work *W = (lg_Work *)lgC_newuserdata(L, sizeof(lg_Work), 0);
  lgI_workinit(W, shared->allocf, shared->ud);
  W->ctx = L;
  W->mode = shared->mode;   /* what ops made meanwhile must honour */
  W->mt = shared->mt;
  W->nested = shared->busy > 0;
  lua_getmetatable(L, UV_WORK);  /* its __gc frees the buffers */
  lua_setmetatable(L, -2);
  return W;
}

/* The state's scratch buffers, or, while a sweep holds them (a custom function's callback
   is running), new ones pushed on the stack. */
lg_Work *lgL_usework (lua_State *L) {
  lg_Work *W = lgL_getwork(L);
  if (W->busy) return lgL_newwork(L);
  W->ctx = L;
  return W;
}

/* Starts a sweep that may call back into Lua (custom functions): the buffers to use, marked
   busy, and L made the context callbacks run in (the previous one saved in *saved). */
lg_Work *lgL_beginsweep (lua_State *L, void **saved) {
  lg_Work *shared = lgL_getwork(L);
  lg_Work *W = shared->busy ? lgL_newwork(L) : shared;
  *saved = shared->ctx;
  shared->ctx = L;
  W->ctx = L;
  W->busy++;
  return W;
}

void lgL_endsweep (lua_State *L, lg_Work *W, void *saved) {
  W->busy--;
  lgL_getwork(L)->ctx = saved;
}

/* An operand: a Value (*v set) or a number (*x set); 0 if it is neither. */
int lgL_operand (lua_State *L, int i, lg_Value **v, double *x) {
  *x = 0.0;
  if ((*v = lgL_tovalue(L, i)) != NULL) {
    *x = (*v)->data;
    return 1;
  }
  if (lua_type(L, i) == LUA_TNUMBER) {
    *x = (double)lua_tonumber(L, i);
    return 1;
  }
  return 0;
}

/* }================================================================== */


/* {==================================================================
** Constructors
** =================================================================== */

/* A new userdata node of op with n slots and nuv user values, with its metatable, on the
   stack. Created before anything else can fail, so the GC always sees a valid object. */
lg_Value *lgL_newnode (lua_State *L, int op, uint32_t n, int nuv) {
  lg_Value *v = (lg_Value *)lgC_newuserdata(L, lgI_nodesize(n), nuv);
  lua_pushvalue(L, UV_MT);
  lua_setmetatable(L, -2);
  return lgI_initnode(v, op, n);
}

static void setlabel (lua_State *L, lg_Value *v, int vi, int li) {
  lua_pushvalue(L, vi);
  lua_pushvalue(L, li);
  lua_rawset(L, UV_LABELS);
  if (lua_isnil(L, li)) v->flags &= (uint8_t)~LGI_LABELED;
  else v->flags |= LGI_LABELED;
}

lg_Value *lgL_newleaf (lua_State *L, double x) {
  lg_Value *v = lgL_newnode(L, LGI_LEAF, 0, 0);
  v->data = x;
  return v;
}

/* lg.value(x [, label]) -> Value */
static int mod_value (lua_State *L) {
  double x = checknumber(L, 1, "value");
  int labeled = !lua_isnoneornil(L, 2);
  lg_Value *v;
  if (labeled && lua_type(L, 2) != LUA_TSTRING) lgL_argerror(L, "value", 2, "string");
  v = lgL_newleaf(L, x);
  if (labeled) setlabel(L, v, lua_gettop(L), 2);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Operations, made from the op table: one C function per form of op, told which op by
** upvalue 4. A module function given only numbers returns a number.
** =================================================================== */

static int opindex (lua_State *L) {  /* upvalue 4: the op's row, as a light userdata */
  return (int)((const lg_OpDef *)lua_touserdata(L, UV_EXTRA) - lgI_ops);
}

/*
** Operands 1..n (n = 1 or 2) of an op, each a Value (set in v[i], its data in x[i]) or a
** number (v[i] NULL); returns 0, or the index of an operand that is neither. The hot path of
** every operator: a Value is known by the address of its metatable, which W keeps (the
** metatable lives as long as the state: the registry and the module's functions hold it),
** and the stack is restored once. The caller reads W->mode from the same W.
*/
static int operands (lua_State *L, const lg_Work *W, int n, lg_Value **v, double *x) {
  int top = lua_gettop(L), i;
  for (i = 0; i < n; i++) {
    int t = lua_type(L, i + 1);
    v[i] = NULL;
    if (t == LUA_TNUMBER) x[i] = (double)lua_tonumber(L, i + 1);
    else if (t == LUA_TUSERDATA && lua_getmetatable(L, i + 1) && lua_topointer(L, -1) == W->mt) {
      v[i] = (lg_Value *)lua_touserdata(L, i + 1);
      x[i] = v[i]->data;
    }
    else {
      lua_settop(L, top);
      return i + 1;
    }
  }
  lua_settop(L, top);
  return 0;
}

#define getwork(L) ((const lg_Work *)lua_touserdata(L, UV_WORK))  /* without lgL_getwork's */

/* Pushes a node of unary op on the Value a (the operand at stack index f: 1 for an op
   called from Lua). */
static lg_Value *unarynode (lua_State *L, int op, lg_Value *a, double x, int f) {
  lg_Value *v = lgL_newnode(L, op, 1, 1);
  lgI_setarg(v, 0, a);
  v->data = lgI_ops[op].forward(1, &x);
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
  v->data = lgI_ops[op].forward(2, x);
  lgC_setparents(L, parent, np);
  return v;
}

/* The slow path of an op on operands f..f+n-1, taken when no_grad or anomaly detection is
   on: under no_grad a leaf holding the result; otherwise the node, checked for NaN. */
static int moded (lua_State *L, int op, int n, lg_Value *const *v, const double *x, int mode,
                  int f) {
  lg_Value *node;
  if (mode & LGI_NOGRAD) {
    lgL_unrecorded(L, lgI_ops[op].forward(n, x), f, f + n - 1);
    return 1;
  }
  node = (n == 1) ? unarynode(L, op, v[0], x[0], f) : binarynode(L, op, v[0], v[1], x, f);
  lgL_anomaly(L, -1, lgI_ops[op].name, &node->data, 1);
  return 1;
}

/* Pushes the result of a unary op on the operand at f (already checked); mode is
   W->mode. */
static int unary (lua_State *L, int op, lg_Value *const *v, const double *x, int mode, int f) {
  if (v[0] == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_ops[op].forward(1, x));
    return 1;
  }
  if (mode != 0) return moded(L, op, 1, v, x, mode, f);
  unarynode(L, op, v[0], x[0], f);
  return 1;
}

/* Pushes the result of a binary op on the operands at f and f + 1 (already checked). */
static int binary (lua_State *L, int op, lg_Value *const *v, const double *x, int mode, int f) {
  if (v[0] == NULL && v[1] == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_ops[op].forward(2, x));
    return 1;
  }
  if (mode != 0) return moded(L, op, 2, v, x, mode, f);
  binarynode(L, op, v[0], v[1], x, f);
  return 1;
}

/* Pushes op (unary or binary) applied to the Values or numbers at stack indices ia and ib
   (ib unused for a unary op): what the derivative builders make their nodes with. */
void lgL_apply (lua_State *L, int op, int ia, int ib) {
  lg_Value *v[2];
  double x[2];
  int n = lgI_ops[op].arity, f, i, mode;
  ia = lua_absindex(L, ia);
  ib = lua_absindex(L, ib);
  luaL_checkstack(L, 4, "derivative too large");
  lua_pushvalue(L, ia);   /* the operands side by side, as an op called from Lua has them */
  if (n == 2) lua_pushvalue(L, ib);
  f = lua_gettop(L) - n + 1;
  for (i = 0; i < n; i++) {
    if (!lgL_operand(L, f + i, &v[i], &x[i])) operror(L, lgI_ops[op].name, i + 1);
  }
  mode = lgL_getwork(L)->mode;
  if (n == 1) unary(L, op, v, x, mode, f);
  else binary(L, op, v, x, mode, f);
  lua_replace(L, f);
  lua_settop(L, f);
}

/* lg.exp(x), v:exp(), ... -> Value or number */
static int unary_fn (lua_State *L) {
  const lg_Work *W = getwork(L);
  int op = opindex(L);
  lg_Value *v[1];
  double x[1];
  if (operands(L, W, 1, v, x) != 0) lgL_argerror(L, lgI_ops[op].luaname, 1, "number or value");
  return unary(L, op, v, x, W->mode, 1);
}

/* __unm (Lua passes the operand twice) */
static int unary_mm (lua_State *L) {
  const lg_Work *W = getwork(L);
  int op = opindex(L);
  lg_Value *v[1];
  double x[1];
  if (operands(L, W, 1, v, x) != 0) operror(L, "-", 1);
  return unary(L, op, v, x, W->mode, 1);
}

/* lg.pow(x, y), v:max(w), ... -> Value or number */
static int binary_fn (lua_State *L) {
  const lg_Work *W = getwork(L);
  int op = opindex(L), bad;
  lg_Value *v[2];
  double x[2];
  if ((bad = operands(L, W, 2, v, x)) != 0)
    lgL_argerror(L, lgI_ops[op].luaname, bad, "number or value");
  return binary(L, op, v, x, W->mode, 1);
}

/* __add, __sub, __mul, __div, __pow */
static int binary_mm (lua_State *L) {
  const lg_Work *W = getwork(L);
  int op = opindex(L), bad;
  lg_Value *v[2];
  double x[2];
  if ((bad = operands(L, W, 2, v, x)) != 0) operror(L, lgI_ops[op].name, bad);
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
    luaL_error(L, "luagrad.%s: bad argument #%d (number or value expected at index %d, "
                  "got %s)", fn, arg, (int)i, lgL_typename(L, -1));
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
    element(L, 1 + (int)(i % nlists), i / nlists + 1, &W->x[i], lgI_ops[op].luaname);
    lua_pop(L, 1);
  }
  y = lgI_ops[op].forward((int)n, W->x);
  for (i = 0; i < n && W->recording; i++) {
    double x;
    if (element(L, 1 + (int)(i % nlists), i / nlists + 1, &x, lgI_ops[op].luaname))
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
  const char *fn = lgI_ops[op].luaname;
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
  if (W->mode & LGI_ANOMALY) lgL_anomaly(L, node, lgI_ops[op].name, &v->data, 1);
  return 1;
}

/* lg.sum(list) -> Value */
static int sum_fn (lua_State *L) {
  uint32_t len = checklist(L, 1, lgI_ops[opindex(L)].luaname);
  lua_settop(L, 1);
  return nary(L, opindex(L), 1, len);
}

/* lg.dot(xs, ys) -> Value */
static int dot_fn (lua_State *L) {
  const char *fn = lgI_ops[opindex(L)].luaname;
  uint32_t len = checklist(L, 1, fn), len2 = checklist(L, 2, fn);
  if (len != len2)
    luaL_error(L, "luagrad.%s: bad argument #2 (array of length %d expected, got length %d)",
               fn, (int)len, (int)len2);
  lua_settop(L, 2);
  return nary(L, opindex(L), 2, len);
}

/* }================================================================== */


/* {==================================================================
** Fields
** =================================================================== */

static void pushlabel (lua_State *L, const lg_Value *v, int vi) {
  if (v->flags & LGI_LABELED) {
    lua_pushvalue(L, vi);
    lua_rawget(L, UV_LABELS);
  }
  else lua_pushnil(L);
}

/* v.data, v.grad, v.label, v.op, then the methods */
static int value_index (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "__index");
  const char *k = (lua_type(L, 2) == LUA_TSTRING) ? lua_tostring(L, 2) : "";
  if (strcmp(k, "data") == 0) {
    if (lgL_getwork(L)->recording) lgL_addguard(L, LGI_GDATA, 1, 0, 1);
    lua_pushnumber(L, (lua_Number)v->data);
  }
  else if (strcmp(k, "grad") == 0) {
    if (v->flags & LGI_GRADVALUE) lgL_pushgradvalue(L, v, 1);   /* a Value (create_graph) */
    else lua_pushnumber(L, (lua_Number)v->grad);
  }
  else if (strcmp(k, "label") == 0) pushlabel(L, v, 1);
  else if (strcmp(k, "op") == 0) lua_pushstring(L, lgI_opname(v));
  else {
    lua_settop(L, 2);
    lua_rawget(L, UV_EXTRA);  /* the method table */
  }
  return 1;
}

static int badfield (lua_State *L, const char *field, const char *what) {
  return luaL_error(L, "luagrad.%s: bad value (%s expected, got %s)",
                    field, what, lgL_typename(L, 3));
}

/* v.data = x (leaves only), v.grad = x, v.label = s */
static int value_newindex (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "__newindex");
  const char *k = (lua_type(L, 2) == LUA_TSTRING) ? lua_tostring(L, 2) : NULL;
  if (k != NULL && strcmp(k, "data") == 0) {
    if (lua_type(L, 3) != LUA_TNUMBER) badfield(L, "data", "number");
    if (v->op != LGI_LEAF)
      luaL_error(L, "luagrad.data: cannot assign the data of a computed value (leaves only)");
    v->data = (double)lua_tonumber(L, 3);
  }
  else if (k != NULL && strcmp(k, "grad") == 0) {
    if (lua_type(L, 3) != LUA_TNUMBER) badfield(L, "grad", "number");
    v->grad = (double)lua_tonumber(L, 3);
    v->flags &= (uint8_t)~LGI_GRADVALUE;
  }
  else if (k != NULL && strcmp(k, "label") == 0) {
    if (!lua_isnil(L, 3) && lua_type(L, 3) != LUA_TSTRING) badfield(L, "label", "string or nil");
    setlabel(L, v, 1, 3);
  }
  else if (k != NULL)
    luaL_error(L, "luagrad: cannot assign field '%s' of a value (only data, grad, label)", k);
  else
    luaL_error(L, "luagrad: cannot assign a %s key of a value (only data, grad, label)",
               luaL_typename(L, 2));
  return 0;
}

/* tostring(v) -> "Value(label=a, data=33, grad=0)" */
static int value_tostring (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "__tostring");
  char num[32];
  luaL_Buffer b;
  if (lgL_getwork(L)->recording) lgL_addguard(L, LGI_GDATA, 1, 0, 1);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Value(");
  pushlabel(L, v, 1);
  if (lua_isstring(L, -1)) {
    luaL_addstring(&b, "label=");
    luaL_addvalue(&b);
    luaL_addstring(&b, ", ");
  }
  else lua_pop(L, 1);
  luaL_addstring(&b, "data=");
  luaL_addstring(&b, lgI_fmtnum(num, v->data));
  luaL_addstring(&b, ", grad=");
  luaL_addstring(&b, lgI_fmtnum(num, v->grad));
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* a < b and a <= b compare data; a Value against a Value or a number */
static int compare (lua_State *L, const char *opname, int orequal) {
  lg_Value *v[2];
  double x[2];
  int result, bad;
  if ((bad = operands(L, getwork(L), 2, v, x)) != 0) operror(L, opname, bad);
  result = orequal ? x[0] <= x[1] : x[0] < x[1];
  if (lgL_getwork(L)->recording) lgL_addguard(L, orequal ? LGI_GLE : LGI_GLT, 1, 2, result);
  lua_pushboolean(L, result);
  return 1;
}

static int value_lt (lua_State *L) { return compare(L, "<", 0); }
static int value_le (lua_State *L) { return compare(L, "<=", 1); }

/* }================================================================== */


/* {==================================================================
** Methods and module functions
** =================================================================== */

/* v:backward([seed]), v:backward{seed = s, create_graph = b} */
static int value_backward (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "backward");
  double seed = 1.0;
  lg_Work *W;
  void *saved;
  int err;
  if (lua_type(L, 2) == LUA_TTABLE) {
    static const char *const names[] = {"seed", "create_graph", NULL};
    lgL_checkoptions(L, 2, "backward", names);
    if (lgL_optboolean(L, 2, "create_graph", "backward")) return lgL_backwardgraph(L);
    lua_getfield(L, 2, "seed");
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "luagrad.backward: bad seed (number expected, got %s; a value seed "
                      "needs create_graph)", lgL_typename(L, -1));
      seed = (double)lua_tonumber(L, -1);
    }
  }
  else if (!lua_isnoneornil(L, 2)) seed = checknumber(L, 2, "backward");
  W = lgL_beginsweep(L, &saved);
  err = lgI_backward(W, v, seed);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  return 0;
}

/* v:zero_grad() on a graph, lg.zero_grad(list) on each Value of an array */
static int mod_zero_grad (lua_State *L) {
  lg_Value *v = lgL_tovalue(L, 1);
  if (v != NULL) {
    lg_Work *W = lgL_usework(L);
    int err = lgI_zerograd(W, v);
    if (err != LG_OK) lgL_coreerror(L, err, W);
  }
  else if (lua_type(L, 1) == LUA_TTABLE) {
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, 1, (int)i);
      if ((v = lgL_tovalue(L, -1)) == NULL)
        luaL_error(L, "luagrad.zero_grad: bad argument #1 (value expected at index %d, got %s)",
                   (int)i, lgL_typename(L, -1));
      v->grad = 0.0;
      v->flags &= (uint8_t)~LGI_GRADVALUE;
      lua_pop(L, 1);
    }
  }
  else lgL_argerror(L, "zero_grad", 1, "table or value");
  return 0;
}

/* v:detach() -> a new leaf with v's data (inside lg.compile's recording, a read of it) */
static int value_detach (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "detach");
  lgL_unrecorded(L, v->data, 1, 1);
  return 1;
}

typedef struct Labels {
  lua_State *L;
  int map;   /* stack index of a table: node address -> label */
} Labels;

static const char *labelof (void *ud, const lg_Value *v, size_t *len) {
  Labels *lb = (Labels *)ud;
  const char *s;
  lua_rawgetp(lb->L, lb->map, v);
  s = lua_tolstring(lb->L, -1, len);  /* anchored in the map, which outlives the walk */
  lua_pop(lb->L, 1);
  return s;
}

/* lg.to_dot(v), v:to_dot() -> DOT text */
static int mod_to_dot (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "to_dot");
  lg_Work *W;
  Labels lb;
  lg_Buffer B;
  int err;
  lua_settop(L, 1);
  /* buffers of its own: the text must survive until Lua has copied it, and a collection
     step may come first (LuaJIT's lua_pushlstring takes one) and run a finalizer that
     calls luagrad and reuses the shared buffers */
  W = lgL_newwork(L);
  lua_newtable(L);  /* address -> label, for every labeled Value alive */
  lb.L = L;
  lb.map = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, UV_LABELS)) {
    lua_rawsetp(L, lb.map, lua_touserdata(L, -2));
  }
  luaL_checkstack(L, 4, "to_dot");
  lgI_bufinit(&B, W);
  if ((err = lgI_todot(W, v, labelof, &lb, &B)) != LG_OK) {
    lgI_workfree(W);
    lgL_coreerror(L, err, W);
  }
  lua_pushlstring(L, W->text, B.len);
  lgI_workfree(W);  /* now, not at __gc: a state being closed runs no new finalizer */
  return 1;
}

/* lg.type(x) -> "value" or nil */
static int mod_type (lua_State *L) {
  if (lua_isnone(L, 1)) lgL_argerror(L, "type", 1, "value");
  if (lgL_tovalue(L, 1)) lua_pushliteral(L, "value");
  else lua_pushnil(L);
  return 1;
}

/* The allocator of released buffers: lua_close finalizes objects older than the module
   after the buffers, and a finalizer of theirs that calls luagrad must not allocate
   buffers that nobody would free. It gets "not enough memory" instead. */
static void *noalloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)ptr; (void)osize; (void)nsize;
  return NULL;  /* the buffers are already NULL, so there is never a block to free */
}

static int work_gc (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, 1);
  W->allocf = (lg_Alloc)lua_getallocf(L, &W->ud);
  lgI_workfree(W);
  W->allocf = noalloc;
  return 0;
}

/* }================================================================== */


static const luaL_Reg value_meta[] = {
  {"__newindex", value_newindex},
  {"__tostring", value_tostring},
  {"__lt", value_lt},
  {"__le", value_le},
  {NULL, NULL}
};

static const luaL_Reg value_methods[] = {
  {"backward", value_backward},
  {"zero_grad", mod_zero_grad},
  {"detach", value_detach},
  {"to_dot", mod_to_dot},
  {NULL, NULL}
};

static const luaL_Reg module_funcs[] = {
  {"value", mod_value},
  {"type", mod_type},
  {"zero_grad", mod_zero_grad},
  {"to_dot", mod_to_dot},
  {"compile", lgL_compile},
  {"_VERSION", NULL},
  {NULL, NULL}
};

/* Pushes the module's shared upvalues: metatable, scratch buffers, labels. */
void lgL_pushupvalues (lua_State *L) {
  /* each part is checked, not just created: an open that ran out of memory half way may
     have left the metatable unlocked or the label table strong */
  luaL_newmetatable(L, VALUE_MT);
  if (lua_getfield(L, -1, "__metatable") == LUA_TNIL) {
    lua_pushliteral(L, VALUE_MT);
    lua_setfield(L, -3, "__metatable");
  }
  lua_pop(L, 1);
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, WORK_KEY) == 0 || lua_rawlen(L, -1) == 0) {
    void *ud;
    lua_Alloc allocf = lua_getallocf(L, &ud);
    lg_Work *W = (lg_Work *)lgC_newuserdata(L, sizeof(lg_Work), 0);
    lgI_workinit(W, (lg_Alloc)allocf, ud);
    lua_newtable(L);
    lua_pushcfunction(L, work_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawseti(L, -2, 1);
  }
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  ((lg_Work *)lua_touserdata(L, -1))->mt = lua_topointer(L, -2);
  lgL_weaktable(L, LABELS_KEY, "k");
}

/* Pushes registry[key], a table made weak as mode says ("k", "v") if it is new. */
void lgL_weaktable (lua_State *L, const char *key, const char *mode) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, key);
  if (lua_getmetatable(L, -1)) lua_pop(L, 1);
  else {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
}

/* Sets t[name] = f with the shared upvalues and extra (at index extra) as upvalue 4. */
void lgL_setclosure (lua_State *L, int t, const char *name, lua_CFunction f, int extra) {
  lgL_pushupvalues(L);
  lua_pushvalue(L, extra);
  lua_pushcclosure(L, f, NUPVALUES + 1);
  lua_setfield(L, t, name);
}

/* Makes lg.<name>, v:<name>() and the metamethods from the op table. */
static void registerops (lua_State *L, int module, int methods, int mt) {
  int op;
  for (op = 1; op < lgI_nops; op++) {
    const lg_OpDef *d = &lgI_ops[op];
    lua_pushlightuserdata(L, (void *)d);
    if (d->metamethod != NULL)
      lgL_setclosure(L, mt, d->metamethod, d->arity == 1 ? unary_mm : binary_mm, lua_gettop(L));
    if (d->luaname != NULL) {
      lua_CFunction f = d->arity == 1 ? unary_fn : d->arity == 2 ? binary_fn
                      : d->arity == LGI_VARIADIC ? sum_fn : dot_fn;
      lgL_setclosure(L, module, d->luaname, f, lua_gettop(L));
      if (d->arity == 1 || d->arity == 2) lgL_setclosure(L, methods, d->luaname, f, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
}

int luaopen_luagrad_core (lua_State *L) {
  int module, methods, mt;
  luaL_newlibtable(L, module_funcs);
  module = lua_gettop(L);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, module_funcs, NUPVALUES);
  lua_pushliteral(L, LG_VERSION);
  lua_setfield(L, module, "_VERSION");
  lua_newtable(L);
  methods = lua_gettop(L);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, value_methods, NUPVALUES);
  lgL_pushupvalues(L);
  lua_pop(L, 2);  /* keep the metatable */
  mt = lua_gettop(L);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, value_meta, NUPVALUES);
  lgL_setclosure(L, mt, "__index", value_index, methods);
  registerops(L, module, methods, mt);
  lgL_opencompile(L);
  lgL_opengrad(L, module);
  lgL_opencustom(L, module);
  lgL_openmode(L, module);
  lua_settop(L, module);
  return 1;
}


/* {==================================================================
** Opening the whole module: the core plus the Lua parts compiled in
** =================================================================== */

static int loadpart (lua_State *L);

/* Loads lgI_sources[i] and calls it with (module name, core table, loadpart): one result. */
static int loadsource (lua_State *L, int i) {
  const lg_Source *s = &lgI_sources[i];
  if (luaL_loadbufferx(L, s->text, s->len, s->chunkname, "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, s->module);
  luaL_requiref(L, "luagrad.core", luaopen_luagrad_core, 0);
  lua_pushcfunction(L, loadpart);
  lua_call(L, 3, 1);
  return 1;
}

/* loadpart(name): runs the compiled-in Lua part name, for a part that builds on another
   where `require` may be missing (a sandbox) */
static int loadpart (lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  int i;
  for (i = 0; lgI_sources[i].module != NULL; i++) {
    if (strcmp(lgI_sources[i].module, name) == 0) return loadsource(L, i);
  }
  return luaL_error(L, "luagrad: no part '%s' compiled in", name);
}

/* package.preload loader for a compiled-in Lua part (upvalue: its index) */
static int preloader (lua_State *L) {
  return loadsource(L, (int)lua_tointeger(L, lua_upvalueindex(1)));
}

void lg_preload (lua_State *L) {
  int i;
  lgC_getpreload(L);
  lua_pushcfunction(L, luaopen_luagrad_core);
  lua_setfield(L, -2, "luagrad.core");
  for (i = 0; lgI_sources[i].module != NULL; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, preloader, 1);
    lua_setfield(L, -2, lgI_sources[i].module);
  }
  lua_pop(L, 1);
}

int luaopen_luagrad (lua_State *L) {
  int i;
  lg_preload(L);
  for (i = 0; lgI_sources[i].module != NULL; i++) {
    if (strcmp(lgI_sources[i].module, "luagrad") == 0) return loadsource(L, i);
  }
  return luaopen_luagrad_core(L);
}

/* }================================================================== */
