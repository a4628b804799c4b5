/*
** value.c: Values as Lua sees them: lg.value, the fields (data, grad, label, op), printing,
** comparisons, and the methods and module functions on a graph (backward, zero_grad,
** detach, to_dot, lg.type).
*/
#include <stdlib.h>
#include <string.h>

#include "lua/lg_lua.h"

/* {==================================================================
** Constructors
** =================================================================== */

static void setlabel (lua_State *L, lg_Value *v, int vi, int li) {
  lua_pushvalue(L, vi);
  lua_pushvalue(L, li);
  lua_rawset(L, UV_LABELS);
  if (lua_isnil(L, li)) v->flags &= (uint8_t)~LGI_LABELED;
  else v->flags |= LGI_LABELED;
}

/* lg.value(x [, label]) -> Value */
static int mod_value (lua_State *L) {
  double x = lgL_checknumber(L, 1, "value");
  int labeled = !lua_isnoneornil(L, 2);
  lg_Value *v;
  if (labeled && lua_type(L, 2) != LUA_TSTRING) lgL_argerror(L, "value", 2, "string");
  v = lgL_newleaf(L, x);
  if (labeled) setlabel(L, v, lua_gettop(L), 2);
  return 1;
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

static int cmpname (const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Raises for a key that is neither a field nor a method (a misspelling reads nil nowhere),
   naming the valid ones: the fields, then the methods in order. The names are anchored in
   the method table while the message is built. */
static int nofield (lua_State *L, const char *k) {
  const char *names[128];
  int n = 0, i;
  luaL_Buffer b;
  lua_pushnil(L);
  while (lua_next(L, UV_EXTRA) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && n < (int)(sizeof(names) / sizeof(names[0])))
      names[n++] = lua_tostring(L, -2);
    lua_pop(L, 1);
  }
  qsort(names, (size_t)n, sizeof(names[0]), cmpname);
  luaL_buffinit(L, &b);
  luaL_where(L, 1);  /* the position of the reading code, as luaL_error gives */
  luaL_addvalue(&b);
  if (lua_type(L, 2) == LUA_TSTRING) lua_pushfstring(L, "luagrad: a value has no field '%s'", k);
  else lua_pushfstring(L, "luagrad: a value has no %s key", luaL_typename(L, 2));
  luaL_addvalue(&b);
  luaL_addstring(&b, " (fields: data, grad, label, op; methods:");
  for (i = 0; i < n; i++) {
    luaL_addstring(&b, i > 0 ? ", " : " ");
    luaL_addstring(&b, names[i]);
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return lua_error(L);
}

/* v.data, v.grad, v.label, v.op, then the methods; anything else is an error */
static int value_index (lua_State *L) {
  lg_Value *v = lgL_checkvalue(L, 1, "__index");
  const char *k = (lua_type(L, 2) == LUA_TSTRING) ? lua_tostring(L, 2) : "";
  if (strcmp(k, "data") == 0) {
    if (lgL_getwork(L)->recording) lgL_addguard(L, LGI_GDATA, 1, 0, 1);
    lua_pushnumber(L, (lua_Number)v->data);
  }
  else if (strcmp(k, "grad") == 0) {
    if (v->flags & LGI_GRADVALUE) lgL_pushgradvalue(L, v, 1);   /* a Value (create_graph) */
    else lua_pushnumber(L, (lua_Number)v->grad);
    if (lua_type(L, -1) == LUA_TNUMBER && lgL_getwork(L)->recording) lgL_unguarded(L);
  }
  else if (strcmp(k, "label") == 0) {
    if (lgL_getwork(L)->recording) lgL_unguarded(L);
    pushlabel(L, v, 1);
  }
  else if (strcmp(k, "op") == 0) lua_pushstring(L, lgI_opname(v));
  else {
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    lua_rawget(L, UV_EXTRA);  /* the method table */
    if (lua_isnil(L, -1)) nofield(L, k);  /* the key still at 2 */
  }
  return 1;
}

static int badfield (lua_State *L, const char *field, const char *what) {
  return luaL_error(L, "luagrad.%s: bad value (%s expected, got %s)",
                    field, what, lgL_typename(L, 3));
}

/* v.data = x (leaves only), v.grad = x, v.label = s */
static int value_newindex (lua_State *L) {
  lg_Value *v = lgL_checkvalue(L, 1, "__newindex");
  const char *k = (lua_type(L, 2) == LUA_TSTRING) ? lua_tostring(L, 2) : NULL;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* a change a replay would not make */
  if (k != NULL && strcmp(k, "data") == 0) {
    if (lua_type(L, 3) != LUA_TNUMBER) badfield(L, "data", "number");
    if (v->kind != LGI_KLEAF)
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

/* Pushes "Value(label=a, data=33, grad=0)" for the Value v at stack index vi. */
static void pushstring (lua_State *L, const lg_Value *v, int vi) {
  char num[32];
  luaL_Buffer b;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* the text shows the grad too */
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Value(");
  pushlabel(L, v, vi);
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
}

/* tostring(v) -> "Value(label=a, data=33, grad=0)" */
static int value_tostring (lua_State *L) {
  pushstring(L, lgL_checkvalue(L, 1, "__tostring"), 1);
  return 1;
}

/* a .. b with a Value on either side: each Value as tostring gives it, as Lua itself turns
   a number into a string there; the other side must be a string or a number, as for Lua */
static int value_concat (lua_State *L) {
  int i;
  if (lgL_tovalue(L, 1) == NULL && lgL_tovalue(L, 2) == NULL)  /* called by hand */
    luaL_error(L, "luagrad: bad operand #1 to '..' (value expected, got %s)",
               lgL_typename(L, 1));
  for (i = 1; i <= 2; i++) {
    const lg_Value *v = lgL_tovalue(L, i);
    if (v != NULL) pushstring(L, v, i);
    else if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER)
      lua_pushvalue(L, i);
    else
      luaL_error(L, "luagrad: bad operand #%d to '..' (string, number or value expected, "
                 "got %s)", i, lgL_typename(L, i));
  }
  lua_concat(L, 2);
  return 1;
}

/* Whether x[0] < x[1] (or <=) as Lua compares the data with the operand at 2 (v[0] a Value,
   so v.data < n and v < n agree): from 5.3 on, an integer operand is compared exactly, as
   Lua compares a float with an integer, never through a double it may not fit in. */
static int lessthan (lua_State *L, lg_Value *const *v, const double *x, int orequal) {
#if LUA_VERSION_NUM >= 503
  if ((v[0] == NULL && lua_isinteger(L, 1)) || (v[1] == NULL && lua_isinteger(L, 2))) {
    int result, i;
    for (i = 0; i < 2; i++) {
      if (v[i] != NULL) lua_pushnumber(L, (lua_Number)x[i]);
      else lua_pushvalue(L, i + 1);
    }
    result = lua_compare(L, -2, -1, orequal ? LUA_OPLE : LUA_OPLT);   /* two numbers */
    lua_pop(L, 2);
    return result;
  }
#else
  (void)L; (void)v;
#endif
  return orequal ? x[0] <= x[1] : x[0] < x[1];
}

/* a < b and a <= b compare data; a Value against a Value or a number */
static int compare (lua_State *L, const char *opname, int orequal) {
  lg_Value *v[2];
  double x[2];
  int result, bad;
  if ((bad = lgL_operands(L, lgL_fastwork(L), 2, v, x)) != 0) lgL_operror(L, opname, bad);
  result = lessthan(L, v, x, orequal);
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
  lg_Value *v = lgL_checkvalue(L, 1, "backward");
  double seed = 1.0;
  lg_Work *W;
  void *saved;
  int err;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* grads change: no replay would */
  if (lua_type(L, 2) == LUA_TTABLE) {
    static const char *const names[] = {"seed", "create_graph", NULL};
    lgL_checkoptions(L, 2, "backward", names);
    if (lgL_optboolean(L, 2, "create_graph", "backward")) return lgL_backwardgraph(L);
    lua_pushliteral(L, "seed");   /* raw, as every table luagrad reads */
    lua_rawget(L, 2);
    if (!lua_isnil(L, -1)) {
      if (lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "luagrad.backward: bad seed (number expected, got %s; a value seed "
                      "needs create_graph)", lgL_typename(L, -1));
      seed = (double)lua_tonumber(L, -1);
    }
  }
  else if (!lua_isnoneornil(L, 2)) seed = lgL_checknumber(L, 2, "backward");
  W = lgL_beginsweep(L, &saved);
  W->tgrads = lgL_tgrads;
  err = lgI_backward(W, v, seed);
  lgL_endsweep(L, W, saved);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  return 0;
}

/* v:zero_grad() on a graph, lg.zero_grad(list) on each Value of an array */
static int mod_zero_grad (lua_State *L) {
  lg_Value *v = lgL_tovalue(L, 1);
  if (lgL_getwork(L)->recording) lgL_unguarded(L);
  if (v != NULL) {
    lg_Work *W = lgL_usework(L);
    int err = lgI_zerograd(W, v);
    if (err != LG_OK) lgL_coreerror(L, err, W);
  }
  else if (lua_type(L, 1) == LUA_TTABLE) {
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, 1, (int)i);
      if (lgL_istensor(L, -1)) {   /* a tensor's .grad goes (nil) */
        lgL_tcleargrad(L, -1);
        lua_pop(L, 1);
        continue;
      }
      if ((v = lgL_tovalue(L, -1)) == NULL)
        lgL_argerrorat(L, "zero_grad", 1, "value or tensor", i, -1);
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
  lg_Value *v = lgL_checkvalue(L, 1, "detach");
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
  lg_Value *v = lgL_checkvalue(L, 1, "to_dot");
  lg_Work *W;
  Labels lb;
  lg_Buffer B;
  int err;
  if (lgL_getwork(L)->recording) lgL_unguarded(L);   /* its text shows data and grads */
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

/* lg.type(x) -> "value", "tensor" or nil */
static int mod_type (lua_State *L) {
  if (lua_isnone(L, 1)) lgL_argerror(L, "type", 1, "value");
  if (lgL_tovalue(L, 1)) lua_pushliteral(L, "value");
  else if (lgL_istensor(L, 1)) lua_pushliteral(L, "tensor");
  else lua_pushnil(L);
  return 1;
}

/* }================================================================== */


static const luaL_Reg value_meta[] = {
  {"__newindex", value_newindex},
  {"__tostring", value_tostring},
  {"__concat", value_concat},
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
  {NULL, NULL}
};

/* Adds lg.value and the functions on graphs to the module table at module, the methods to
   the table at methods, and the metamethods (with __index) to the Value metatable at mt. */
void lgL_openvalue (lua_State *L, int module, int methods, int mt) {
  lua_pushvalue(L, module);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, module_funcs, NUPVALUES);
  lua_pop(L, 1);
  lua_pushvalue(L, methods);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, value_methods, NUPVALUES);
  lua_pop(L, 1);
  lua_pushvalue(L, mt);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, value_meta, NUPVALUES);
  lua_pop(L, 1);
  lgL_setclosure(L, mt, "__index", value_index, methods);
}
