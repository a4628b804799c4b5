/*
** lg_lua.c: the Lua binding, and the only file that includes lua.h. It turns core nodes into
** Lua values: each Value is one full userdata holding the node itself, with its parents'
** userdata as user values so that Lua keeps them alive exactly as long as the child (where
** a Lua version has fewer user values, lg_compat.h keeps them in a table). Values have no
** finalizer: the collector frees a graph when no Value of it is reachable.
*/
#include <string.h>

#include "lua.h"
#include "lauxlib.h"

#include "lg_compat.h"
#include "lg_internal.h"

#define VALUE_MT "luagrad.Value"
#define WORK_KEY "luagrad.work"
#define LABELS_KEY "luagrad.labels"
#define COMPILED_MT "luagrad.Compiled"
#define GUARDS_KEY "luagrad.guards"   /* the guards of the recording under way */

/* More parent Values than this go in one table user value (Lua 5.4 caps user values at
   65535 per userdata and does not check it in release builds). */
#ifndef LG_MAXUSERVALUES
#define LG_MAXUSERVALUES 1024
#endif

/* Upvalues shared by every C function of the module. */
#define UV_MT lua_upvalueindex(1)       /* the Value metatable */
#define UV_WORK lua_upvalueindex(2)     /* the scratch buffers (a full userdata) */
#define UV_LABELS lua_upvalueindex(3)   /* Value -> label, weak keys */
#define UV_EXTRA lua_upvalueindex(4)    /* the op index, or the method table for __index */
#define NUPVALUES 3

static void setclosure (lua_State *L, int t, const char *name, lua_CFunction f, int extra);
static void addguard (lua_State *L, int kind, int a, int b, int expect);


/* {==================================================================
** Checks and errors
** =================================================================== */

/* The Value at index i, or NULL. The metatable comparison is what makes it sound: only this
   module creates userdata with that metatable, and scripts cannot read or replace it. */
static lg_Value *tovalue (lua_State *L, int i) {
  lg_Value *v = (lg_Value *)lua_touserdata(L, i);
  if (v != NULL && lua_getmetatable(L, i)) {
    int ok = lua_rawequal(L, -1, UV_MT);
    lua_pop(L, 1);
    if (ok) return v;
  }
  return NULL;
}

static const char *typename_of (lua_State *L, int i) {
  return tovalue(L, i) ? "value" : luaL_typename(L, i);
}

/* raise "luagrad.<fn>: bad argument #<arg> (<what> expected, got <type>)" */
static int argerror (lua_State *L, const char *fn, int arg, const char *what) {
  return luaL_error(L, "luagrad.%s: bad argument #%d (%s expected, got %s)",
                    fn, arg, what, typename_of(L, arg));
}

/* raise "luagrad: bad operand #<arg> to '<op>' (number or value expected, got <type>)" */
static int operror (lua_State *L, const char *op, int arg) {
  return luaL_error(L, "luagrad: bad operand #%d to '%s' (number or value expected, got %s)",
                    arg, op, typename_of(L, arg));
}

static int memerror (lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

/* Raises the error a core call returned: out of memory, or a host function's message. */
static int coreerror (lua_State *L, int err, lg_Work *W) {
  if (err == LG_EHOST) return luaL_error(L, "luagrad.%s: %s", W->msgfrom, W->msg);
  return memerror(L);
}

static double checknumber (lua_State *L, int arg, const char *fn) {
  if (lua_type(L, arg) != LUA_TNUMBER)  /* no string coercion here */
    argerror(L, fn, arg, "number");
  return (double)lua_tonumber(L, arg);
}

static lg_Value *checkvalue (lua_State *L, int arg, const char *fn) {
  lg_Value *v = tovalue(L, arg);
  if (v == NULL) argerror(L, fn, arg, "value");
  return v;
}

static lg_Work *getwork (lua_State *L) {
  return (lg_Work *)lua_touserdata(L, UV_WORK);
}

/* An operand: a Value (*v set) or a number (*x set); 0 if it is neither. */
static int operand (lua_State *L, int i, lg_Value **v, double *x) {
  *x = 0.0;
  if ((*v = tovalue(L, i)) != NULL) {
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
static lg_Value *newnode (lua_State *L, int op, uint32_t n, int nuv) {
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

static lg_Value *newleaf (lua_State *L, double x) {
  lg_Value *v = newnode(L, LGI_LEAF, 0, 0);
  v->data = x;
  return v;
}

/* lg.value(x [, label]) -> Value */
static int mod_value (lua_State *L) {
  double x = checknumber(L, 1, "value");
  int labeled = !lua_isnoneornil(L, 2);
  lg_Value *v;
  if (labeled && lua_type(L, 2) != LUA_TSTRING) argerror(L, "value", 2, "string");
  v = newleaf(L, x);
  if (labeled) setlabel(L, v, lua_gettop(L), 2);
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Operations, made from the op table: one C function per form of op, told which op by
** upvalue 4. A module function given only numbers returns a number.
** =================================================================== */

static int opindex (lua_State *L) {
  return (int)lua_tointeger(L, UV_EXTRA);
}

/* Pushes the result of a unary op on operand 1 (already checked). */
static int unary (lua_State *L, int op, lg_Value *a, double x) {
  static const int parent[1] = {1};
  lg_Value *v;
  if (a == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_ops[op].forward(1, &x));
    return 1;
  }
  v = newnode(L, op, 1, 1);
  lgI_setarg(v, 0, a);
  v->data = lgI_ops[op].forward(1, &x);
  lgC_setparents(L, parent, 1);
  return 1;
}

/* Pushes the result of a binary op on operands 1 and 2 (already checked). */
static int binary (lua_State *L, int op, lg_Value *a, lg_Value *b, const double *x) {
  lg_Value *v;
  int parent[2], np = 0;   /* stack indices of the Value operands */
  if (a == NULL && b == NULL) {
    lua_pushnumber(L, (lua_Number)lgI_ops[op].forward(2, x));
    return 1;
  }
  if (a != NULL) parent[np++] = 1;
  if (b != NULL) parent[np++] = 2;
  v = newnode(L, op, 2, np);
  if (a != NULL) lgI_setarg(v, 0, a); else lgI_setconst(v, 0, x[0]);
  if (b != NULL) lgI_setarg(v, 1, b); else lgI_setconst(v, 1, x[1]);
  v->data = lgI_ops[op].forward(2, x);
  lgC_setparents(L, parent, np);
  return 1;
}

/* lg.exp(x), v:exp(), ... -> Value or number */
static int unary_fn (lua_State *L) {
  int op = opindex(L);
  lg_Value *a;
  double x;
  if (!operand(L, 1, &a, &x)) argerror(L, lgI_ops[op].luaname, 1, "number or value");
  return unary(L, op, a, x);
}

/* __unm (Lua passes the operand twice) */
static int unary_mm (lua_State *L) {
  int op = opindex(L);
  lg_Value *a;
  double x;
  if (!operand(L, 1, &a, &x)) operror(L, "-", 1);
  return unary(L, op, a, x);
}

/* lg.pow(x, y), v:max(w), ... -> Value or number */
static int binary_fn (lua_State *L) {
  int op = opindex(L);
  lg_Value *a, *b;
  double x[2];
  if (!operand(L, 1, &a, &x[0])) argerror(L, lgI_ops[op].luaname, 1, "number or value");
  if (!operand(L, 2, &b, &x[1])) argerror(L, lgI_ops[op].luaname, 2, "number or value");
  return binary(L, op, a, b, x);
}

/* __add, __sub, __mul, __div, __pow */
static int binary_mm (lua_State *L) {
  int op = opindex(L);
  lg_Value *a, *b;
  double x[2];
  if (!operand(L, 1, &a, &x[0])) operror(L, lgI_ops[op].name, 1);
  if (!operand(L, 2, &b, &x[1])) operror(L, lgI_ops[op].name, 2);
  return binary(L, op, a, b, x);
}

/* Length of the array at arg, which must be a table. */
static uint32_t checklist (lua_State *L, int arg, const char *fn) {
  size_t len;
  if (lua_type(L, arg) != LUA_TTABLE) argerror(L, fn, arg, "table");
  len = (size_t)lua_rawlen(L, arg);
  if (len > (size_t)(UINT32_MAX / 2)) luaL_error(L, "luagrad.%s: list too long", fn);
  return (uint32_t)len;
}

/* Element i of the list at arg, left on the stack: a Value (returned) or a number (*x). */
static lg_Value *element (lua_State *L, int arg, lua_Integer i, double *x, const char *fn) {
  lg_Value *v;
  lua_rawgeti(L, arg, (int)i);   /* an int before 5.3; i < 2^31 (checklist) */
  if (!operand(L, -1, &v, x))
    luaL_error(L, "luagrad.%s: bad argument #%d (number or value expected at index %d, "
                  "got %s)", fn, arg, (int)i, typename_of(L, -1));
  return v;
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
  lg_Work *W = getwork(L);
  lg_Value *v;
  double x;
  for (i = 0; i < n; i++) {
    if (element(L, 1 + (int)(i % nlists), i / nlists + 1, &x, fn)) nvalues++;
    lua_pop(L, 1);
  }
  if (lgI_reservex(W, n) != LG_OK) memerror(L);
  intable = nvalues > LGC_MAXUV;
  nuv = intable ? 1 : (int)nvalues;
  v = newnode(L, op, n, nuv);
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
** Host functions (lg_Func): registered under a name, called like a built-in op
** =================================================================== */

/* A registered function: the host's definition with its name copied in. */
typedef struct HostFunc {
  lg_Func f;
  char name[1];
} HostFunc;


/* Pushes the outputs of h on all-number arguments x, as numbers. */
static int callnumbers (lua_State *L, const HostFunc *h, lg_Work *W) {
  int j, nin = h->f.nin;
  double *y = W->x + nin;
  int err = lgI_hostforward(W, &h->f, W->x, y);
  if (err != LG_OK) coreerror(L, err, W);
  for (j = 0; j < h->f.nout; j++) lua_pushnumber(L, (lua_Number)y[j]);
  return h->f.nout;
}

/* lg.<name>(x1, ..., xn) -> y1, ..., ym: one call node, m output Values */
static int host_fn (lua_State *L) {
  const HostFunc *h = (const HostFunc *)lua_touserdata(L, UV_EXTRA);
  int i, nin = h->f.nin, nout = h->f.nout, nvalues = 0, top, uv = 0;
  lg_Work *W = getwork(L);
  lg_Value *call, *a;
  double x;
  if (lua_gettop(L) > nin)
    luaL_error(L, "luagrad.%s: bad argument #%d (no more than %d arguments expected, got %s)",
               h->name, nin + 1, nin, typename_of(L, nin + 1));
  for (i = 1; i <= nin; i++) {
    if (!operand(L, i, &a, &x)) argerror(L, h->name, i, "number or value");
    if (a != NULL) nvalues++;
  }
  if (lgI_reservex(W, 2 * (size_t)nin + (size_t)nout) != LG_OK) memerror(L);
  luaL_checkstack(L, nout + 2, "too many results");
  if (nvalues == 0) {
    for (i = 1; i <= nin; i++) operand(L, i, &a, &W->x[i - 1]);
    return callnumbers(L, h, W);
  }
  call = lgI_initcall(lgC_newuserdata(L, lgI_callsize(nin, nout), nvalues + 1), &h->f);
  top = lua_gettop(L);
  lgC_beginparents(L, nvalues + 1);
  for (i = 1; i <= nin; i++) {
    operand(L, i, &a, &x);
    if (a == NULL) lgI_setconst(call, (uint32_t)i - 1, x);
    else {
      lgI_setarg(call, (uint32_t)i - 1, a);
      lua_pushvalue(L, i);
      lgC_addparent(L, top, ++uv);
    }
  }
  lua_pushvalue(L, UV_EXTRA);  /* the call keeps the definition alive */
  lgC_addparent(L, top, ++uv);
  lgC_endparents(L, top);
  if (lgI_callforward(W, call) != LG_OK) coreerror(L, LG_EHOST, W);
  for (i = 0; i < nout; i++) {
    lgI_initoutput(newnode(L, LGI_OUTPUT, 2, 1), call, (uint32_t)i);
    lgC_setparents(L, &top, 1);
  }
  return nout;
}

/* Protected part of lg_register_op: the definition (light userdata) at index 1. */
static int doregister (lua_State *L) {
  const lg_Func *f = (const lg_Func *)lua_touserdata(L, 1);
  size_t len = strlen(f->name);
  HostFunc *h;
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  if (lua_getfield(L, -1, f->name) != LUA_TNIL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pop(L, 1);
  h = (HostFunc *)lgC_newuserdata(L, sizeof(HostFunc) + len, 0);
  h->f = *f;
  memcpy(h->name, f->name, len + 1);
  h->f.name = h->name;
  setclosure(L, 2, f->name, host_fn, 3);
  lua_pushboolean(L, 1);
  return 1;
}

int lg_register_op (lua_State *L, const lg_Func *f) {
  int ok;
  if (!lgI_validfunc(f)) return LG_EARG;
  lua_pushcfunction(L, doregister);
  lua_pushlightuserdata(L, (void *)f);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return LG_EMEM;
  }
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? LG_OK : LG_EARG;
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
    if (getwork(L)->recording) addguard(L, LGI_GDATA, 1, 0, 1);
    lua_pushnumber(L, (lua_Number)v->data);
  }
  else if (strcmp(k, "grad") == 0) lua_pushnumber(L, (lua_Number)v->grad);
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
                    field, what, typename_of(L, 3));
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
  if (getwork(L)->recording) addguard(L, LGI_GDATA, 1, 0, 1);
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
  lg_Value *a, *b;
  double x, y;
  int result;
  if (!operand(L, 1, &a, &x)) operror(L, opname, 1);
  if (!operand(L, 2, &b, &y)) operror(L, opname, 2);
  result = orequal ? x <= y : x < y;
  if (getwork(L)->recording) addguard(L, orequal ? LGI_GLE : LGI_GLT, 1, 2, result);
  lua_pushboolean(L, result);
  return 1;
}

static int value_lt (lua_State *L) { return compare(L, "<", 0); }
static int value_le (lua_State *L) { return compare(L, "<=", 1); }

/* }================================================================== */


/* {==================================================================
** Methods and module functions
** =================================================================== */

/* v:backward([seed]) */
static int value_backward (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "backward");
  double seed = lua_isnoneornil(L, 2) ? 1.0 : checknumber(L, 2, "backward");
  lg_Work *W = getwork(L);
  int err = lgI_backward(W, v, seed);
  if (err != LG_OK) coreerror(L, err, W);
  return 0;
}

/* v:zero_grad() on a graph, lg.zero_grad(list) on each Value of an array */
static int mod_zero_grad (lua_State *L) {
  lg_Value *v = tovalue(L, 1);
  if (v != NULL) {
    if (lgI_zerograd(getwork(L), v) != LG_OK) memerror(L);
  }
  else if (lua_type(L, 1) == LUA_TTABLE) {
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, 1, (int)i);
      if ((v = tovalue(L, -1)) == NULL)
        luaL_error(L, "luagrad.zero_grad: bad argument #1 (value expected at index %d, got %s)",
                   (int)i, typename_of(L, -1));
      v->grad = 0.0;
      lua_pop(L, 1);
    }
  }
  else argerror(L, "zero_grad", 1, "table or value");
  return 0;
}

/* v:detach() -> a new leaf with v's data */
static int value_detach (lua_State *L) {
  lg_Value *v = checkvalue(L, 1, "detach");
  newleaf(L, v->data);
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
  lg_Work *W = getwork(L);
  Labels lb;
  lg_Buffer B;
  lua_settop(L, 1);
  lua_newtable(L);  /* address -> label, for every labeled Value alive */
  lb.L = L;
  lb.map = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, UV_LABELS)) {
    lua_rawsetp(L, lb.map, lua_touserdata(L, -2));
  }
  luaL_checkstack(L, 4, "to_dot");
  lgI_bufinit(&B, W);
  if (lgI_todot(W, v, labelof, &lb, &B) != LG_OK) memerror(L);
  lua_pushlstring(L, W->text, B.len);
  return 1;
}

/* lg.type(x) -> "value" or nil */
static int mod_type (lua_State *L) {
  if (lua_isnone(L, 1)) argerror(L, "type", 1, "value");
  if (tovalue(L, 1)) lua_pushliteral(L, "value");
  else lua_pushnil(L);
  return 1;
}

static int work_gc (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, 1);
  lgI_workfree(W);
  return 0;
}

/* }================================================================== */


/* {==================================================================
** lg.compile: record once, replay at C speed
** =================================================================== */

/* A compiled function: its tape and how often it recorded. User values: 1 the function,
   2 what keeps the last recording's graph alive (the tape points into it: external leaves),
   3 the shape of the arguments it was recorded for (a userdata of int32: -1 for a number,
   else a table's length, followed by its elements'). */
typedef struct Compiled {
  lg_Tape T;
  lua_Integer recordings;
  uint32_t nshape;
} Compiled;

#define MAXDEPTH 64   /* nesting of argument tables */

/* Records guard [kind, a, b or the data, expect] (stack indices a, b) in the recording's
   guard list: four slots per guard. */
static void addguard (lua_State *L, int kind, int a, int b, int expect) {
  int t;
  lua_Integer n;
  if (lua_getfield(L, LUA_REGISTRYINDEX, GUARDS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  t = lua_gettop(L);
  n = (lua_Integer)lua_rawlen(L, t);
  lua_pushinteger(L, kind);
  lua_rawseti(L, t, n + 1);
  lua_pushvalue(L, a);
  lua_rawseti(L, t, n + 2);
  if (kind == LGI_GDATA) lua_pushnumber(L, (lua_Number)tovalue(L, a)->data);
  else lua_pushvalue(L, b);
  lua_rawseti(L, t, n + 3);
  lua_pushboolean(L, expect);
  lua_rawseti(L, t, n + 4);
  lua_pop(L, 1);
}

static Compiled *checkcompiled (lua_State *L) {
  return (Compiled *)luaL_checkudata(L, 1, COMPILED_MT);
}

static int badcompiledarg (lua_State *L, int arg, int idx) {
  return luaL_error(L, "luagrad.compiled: bad argument #%d (number or array of numbers "
                       "expected, got %s)", arg - 1, typename_of(L, idx));
}

/* Leaves for argument idx (a number, or nested arrays of numbers), pushed; each leaf is
   flagged LGI_INPUT and appended to the table at inputs, its shape to the table at shape. */
static void makeleaves (lua_State *L, int idx, int arg, int inputs, int shape, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "argument tables nested too deeply");
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lg_Value *v = newleaf(L, (double)lua_tonumber(L, idx));
    v->flags |= LGI_INPUT;
    lua_pushvalue(L, -1);
    lua_rawseti(L, inputs, (lua_Integer)lua_rawlen(L, inputs) + 1);
    lua_pushinteger(L, -1);
    lua_rawseti(L, shape, (lua_Integer)lua_rawlen(L, shape) + 1);
  }
  else if (lua_type(L, idx) == LUA_TTABLE && depth < MAXDEPTH) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    if (len > INT32_MAX) luaL_error(L, "luagrad.compiled: argument table too long");
    lua_createtable(L, (int)len, 0);
    lua_pushinteger(L, len);
    lua_rawseti(L, shape, (lua_Integer)lua_rawlen(L, shape) + 1);
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      makeleaves(L, -1, arg, inputs, shape, depth + 1);
      lua_rawseti(L, -3, i);
      lua_pop(L, 1);
    }
  }
  else if (lua_type(L, idx) == LUA_TTABLE)
    luaL_error(L, "luagrad.compiled: bad argument #%d (arrays nested too deeply)", arg - 1);
  else badcompiledarg(L, arg, idx);
}

typedef struct Walk {
  Compiled *c;
  const int32_t *shape;
  uint32_t pos, input;
} Walk;

/* Puts the numbers of argument idx into the tape's inputs; 0 if its shape differs from the
   recorded one (then the caller records again). */
static int gather (lua_State *L, int idx, int arg, Walk *w, int depth) {
  idx = lua_absindex(L, idx);
  if (w->pos >= w->c->nshape) return 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int32_t t;
    if (w->shape[w->pos++] != -1) return 0;
    t = w->c->T.input[w->input++];
    if (t >= 0) w->c->T.val[t] = (double)lua_tonumber(L, idx);
    return 1;
  }
  else if (lua_type(L, idx) == LUA_TTABLE && depth < MAXDEPTH) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    if (w->shape[w->pos++] != len) return 0;
    for (i = 1; i <= len; i++) {
      int ok;
      lua_rawgeti(L, idx, i);
      ok = gather(L, -1, arg, w, depth + 1);
      lua_pop(L, 1);
      if (!ok) return 0;
    }
    return 1;
  }
  else if (lua_type(L, idx) == LUA_TTABLE) return 0;  /* makeleaves reports it */
  return badcompiledarg(L, arg, idx);
}

/* Pushes the gradient of argument idx, shaped like it, from the tape's adjoints. */
static void pushgrads (lua_State *L, int idx, Walk *w, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 3, "argument tables nested too deeply");
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int32_t t = w->c->T.input[w->input++];
    lua_pushnumber(L, (lua_Number)(t >= 0 ? w->c->T.adj[t] : 0.0));
  }
  else {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    lua_createtable(L, (int)len, 0);
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      pushgrads(L, -1, w, depth + 1);
      lua_rawseti(L, -3, i);
      lua_pop(L, 1);
    }
  }
}

/* Index of guard operand at stack index i: a Value in the tape, or the constant *k. */
static int32_t guardoperand (lua_State *L, int i, double *k) {
  lg_Value *v = tovalue(L, i);
  *k = v ? v->data : (double)lua_tonumber(L, i);
  return v ? lgI_tapeindex(v) : -1;
}

/* Flattens the recording (result at res, input leaves at inputs, guards at guards) into a
   new tape for c; the old one goes only once the new one is complete. */
static void flatten (lua_State *L, Compiled *c, int res, int inputs, int guards) {
  lg_Work *W = getwork(L);
  uint32_t i, nin = (uint32_t)lua_rawlen(L, inputs), ng = (uint32_t)lua_rawlen(L, guards) / 4;
  lg_Value **roots = (lg_Value **)lgC_newuserdatauv(L, (2 * ng + 1) * sizeof(lg_Value *), 0);
  size_t nroots = 1;
  lg_Tape T;
  int err;
  roots[0] = tovalue(L, res);
  for (i = 0; i < 2 * ng; i++) {  /* each guard's operands that are Values */
    lua_rawgeti(L, guards, 4 * (lua_Integer)(i / 2) + 2 + (i % 2));
    if (tovalue(L, -1) != NULL) roots[nroots++] = tovalue(L, -1);
    lua_pop(L, 1);
  }
  if (lgI_toposortn(W, roots, nroots) != LG_OK) memerror(L);
  memset(&T, 0, sizeof(T));
  T.allocf = W->allocf;
  T.ud = W->ud;
  luaL_checkstack(L, 4, NULL);
  err = lgI_tapebegin(&T, W, roots[0], nin, ng);
  for (i = 1; i <= nin; i++) {  /* no Lua error may come until the tape has its owner */
    lua_rawgeti(L, inputs, i);
    tovalue(L, -1)->flags &= (uint8_t)~LGI_INPUT;
    if (err == LG_OK) T.input[i - 1] = lgI_tapeindex(tovalue(L, -1));
    lua_pop(L, 1);
  }
  if (err == LG_EARG) luaL_error(L, "luagrad.compile: host functions cannot be compiled");
  if (err != LG_OK) memerror(L);
  for (i = 0; i < ng; i++) {
    lg_Guard *g = &T.guard[i];
    lua_Integer base = 4 * (lua_Integer)i;
    lua_rawgeti(L, guards, base + 1);
    lua_rawgeti(L, guards, base + 2);
    lua_rawgeti(L, guards, base + 3);
    lua_rawgeti(L, guards, base + 4);
    g->kind = (uint8_t)lua_tointeger(L, -4);
    g->expect = (uint8_t)lua_toboolean(L, -1);
    g->a = guardoperand(L, -3, &g->ka);
    if (g->kind == LGI_GDATA) g->ka = (double)lua_tonumber(L, -2);
    else g->b = guardoperand(L, -2, &g->kb);
    lua_pop(L, 4);
  }
  lgI_tapeend(W);
  lgI_tapefree(&c->T);
  c->T = T;
  lua_pop(L, 1);  /* roots */
}

/* Runs f on fresh leaves for the arguments at 2..top, recording guards, and makes the
   tape. Leaves the anchors and shape as user values of c (at index 1). */
static void record (lua_State *L, Compiled *c) {
  lg_Work *W = getwork(L);
  int i, nargs = lua_gettop(L) - 1, inputs, shape, guards, status;
  lua_createtable(L, 0, 0);
  inputs = lua_gettop(L);
  lua_createtable(L, 0, 0);
  shape = lua_gettop(L);
  lua_createtable(L, 0, 0);
  guards = lua_gettop(L);
  lgC_getiuservalue(L, 1, 1);  /* f */
  luaL_checkstack(L, nargs + 4, "too many arguments");
  for (i = 2; i <= nargs + 1; i++) makeleaves(L, i, i, inputs, shape, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);  /* an outer recording's, restored below */
  lua_insert(L, guards + 1);
  lua_pushvalue(L, guards);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  W->recording++;
  status = lua_pcall(L, nargs, 1, 0);
  W->recording--;
  lua_pushvalue(L, guards + 1);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  if (status != LUA_OK) lua_error(L);
  if (tovalue(L, -1) == NULL)
    luaL_error(L, "luagrad.compile: the function must return a value, got %s",
               luaL_typename(L, -1));
  flatten(L, c, lua_gettop(L), inputs, guards);
  lua_createtable(L, 2, 0);  /* the anchors: the result and the guards' Values */
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, guards);
  lua_rawseti(L, -2, 2);
  lgC_setiuservalue(L, 1, 2);
  c->nshape = (uint32_t)lua_rawlen(L, shape);
  {
    int32_t *s = (int32_t *)lgC_newuserdatauv(L, (c->nshape + 1) * sizeof(int32_t), 0);
    uint32_t k;
    for (k = 0; k < c->nshape; k++) {
      lua_rawgeti(L, shape, (lua_Integer)k + 1);
      s[k] = (int32_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    lgC_setiuservalue(L, 1, 3);
  }
  c->recordings++;
  lua_settop(L, nargs + 1);
}

/* fg(x1, ..., xn) -> value, d/dx1, ..., d/dxn */
static int compiled_call (lua_State *L) {
  Compiled *c = checkcompiled(L);
  int i, nargs = lua_gettop(L) - 1, fresh = 0;
  Walk w;
  w.c = c;
  w.pos = w.input = 0;
  if (c->T.block != NULL) {
    int same = 1;
    lgC_getiuservalue(L, 1, 3);
    w.shape = (const int32_t *)lua_touserdata(L, -1);
    lua_pop(L, 1);  /* still anchored as user value 3 */
    for (i = 2; i <= nargs + 1 && same; i++) same = gather(L, i, i, &w, 0);
    if (same && w.pos == c->nshape && lgI_tapeforward(&c->T) == LG_OK) fresh = 1;
  }
  if (!fresh) {
    record(L, c);
    if (lgI_tapeforward(&c->T) != LG_OK)
      luaL_error(L, "luagrad.compiled: guards fail right after recording "
                    "(does the function depend on something besides its arguments?)");
  }
  lgI_tapebackward(&c->T);
  luaL_checkstack(L, nargs + 2, "too many results");
  lua_pushnumber(L, (lua_Number)c->T.val[c->T.out]);
  w.input = 0;
  for (i = 2; i <= nargs + 1; i++) pushgrads(L, i, &w, 0);
  return nargs + 1;
}

/* fg.recordings, fg.nodes */
static int compiled_index (lua_State *L) {
  Compiled *c = checkcompiled(L);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "recordings") == 0) lua_pushinteger(L, c->recordings);
  else if (strcmp(k, "nodes") == 0) lua_pushinteger(L, (lua_Integer)c->T.nnodes);
  else lua_pushnil(L);
  return 1;
}

static int compiled_tostring (lua_State *L) {
  Compiled *c = checkcompiled(L);
  lua_pushfstring(L, "Compiled(nodes=%d, recordings=%d)", (int)c->T.nnodes,
                  (int)c->recordings);
  return 1;
}

static int compiled_gc (lua_State *L) {
  lgI_tapefree(&checkcompiled(L)->T);
  return 0;
}

/* lg.compile(f) -> a compiled function */
static int mod_compile (lua_State *L) {
  Compiled *c;
  if (lua_type(L, 1) != LUA_TFUNCTION) argerror(L, "compile", 1, "function");
  c = (Compiled *)lgC_newuserdatauv(L, sizeof(Compiled), 3);
  memset(c, 0, sizeof(*c));
  luaL_setmetatable(L, COMPILED_MT);
  lua_pushvalue(L, 1);
  lgC_setiuservalue(L, -2, 1);
  return 1;
}

static const luaL_Reg compiled_meta[] = {
  {"__call", compiled_call},
  {"__index", compiled_index},
  {"__tostring", compiled_tostring},
  {"__gc", compiled_gc},
  {NULL, NULL}
};

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
  {"compile", mod_compile},
  {"_VERSION", NULL},
  {NULL, NULL}
};

/* Pushes the module's shared upvalues: metatable, scratch buffers, labels. */
static void pushupvalues (lua_State *L) {
  if (luaL_newmetatable(L, VALUE_MT)) {
    lua_pushliteral(L, VALUE_MT);
    lua_setfield(L, -2, "__metatable");
  }
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
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, LABELS_KEY) == 0) {
    lua_newtable(L);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
}

/* Sets t[name] = f with the shared upvalues and extra (at index extra) as upvalue 4. */
static void setclosure (lua_State *L, int t, const char *name, lua_CFunction f, int extra) {
  pushupvalues(L);
  lua_pushvalue(L, extra);
  lua_pushcclosure(L, f, NUPVALUES + 1);
  lua_setfield(L, t, name);
}

/* Makes lg.<name>, v:<name>() and the metamethods from the op table. */
static void registerops (lua_State *L, int module, int methods, int mt) {
  int op;
  for (op = 1; op < lgI_nops; op++) {
    const lg_OpDef *d = &lgI_ops[op];
    lua_pushinteger(L, op);
    if (d->metamethod != NULL)
      setclosure(L, mt, d->metamethod, d->arity == 1 ? unary_mm : binary_mm, lua_gettop(L));
    if (d->luaname != NULL) {
      lua_CFunction f = d->arity == 1 ? unary_fn : d->arity == 2 ? binary_fn
                      : d->arity == LGI_VARIADIC ? sum_fn : dot_fn;
      setclosure(L, module, d->luaname, f, lua_gettop(L));
      if (d->arity == 1 || d->arity == 2) setclosure(L, methods, d->luaname, f, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
}

int luaopen_luagrad_core (lua_State *L) {
  int module, methods, mt;
  luaL_newlibtable(L, module_funcs);
  module = lua_gettop(L);
  pushupvalues(L);
  luaL_setfuncs(L, module_funcs, NUPVALUES);
  lua_pushliteral(L, LG_VERSION);
  lua_setfield(L, module, "_VERSION");
  lua_newtable(L);
  methods = lua_gettop(L);
  pushupvalues(L);
  luaL_setfuncs(L, value_methods, NUPVALUES);
  pushupvalues(L);
  lua_pop(L, 2);  /* keep the metatable */
  mt = lua_gettop(L);
  pushupvalues(L);
  luaL_setfuncs(L, value_meta, NUPVALUES);
  setclosure(L, mt, "__index", value_index, methods);
  registerops(L, module, methods, mt);
  if (luaL_newmetatable(L, COMPILED_MT)) {
    pushupvalues(L);
    luaL_setfuncs(L, compiled_meta, NUPVALUES);
    lua_pushliteral(L, COMPILED_MT);
    lua_setfield(L, -2, "__metatable");
  }
  lua_settop(L, module);
  return 1;
}


/* {==================================================================
** Opening the whole module: the core plus the Lua parts compiled in
** =================================================================== */

/* Loads lgI_sources[i] and calls it with (module name, core table): one result. */
static int loadsource (lua_State *L, int i) {
  const lg_Source *s = &lgI_sources[i];
  if (luaL_loadbufferx(L, s->text, s->len, s->chunkname, "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, s->module);
  luaL_requiref(L, "luagrad.core", luaopen_luagrad_core, 0);
  lua_call(L, 2, 1);
  return 1;
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
