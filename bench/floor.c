/*
** floor.c: the Lua floor, baseline (c) of the benchmarks. Each op is a C metamethod that
** allocates a fresh userdata holding one double, sets its metatable and returns it: the
** least any C-backed Value op can cost. It keeps no graph and checks nothing (a userdata
** operand is taken as one of its own), so it is not safe for general use: it is a ruler.
** Built a second time with FLOOR_CHECKED as `floorchk`: the same plus the metatable check on
** each operand that a sound op needs (what luagrad's binding does), to split the gap.
*/
#include <math.h>

#include "lua.h"
#include "lauxlib.h"

#ifdef FLOOR_CHECKED
#define FLOOR_NAME "floorchk"
#define LUAOPEN luaopen_floorchk
#else
#define FLOOR_NAME "floor"
#define LUAOPEN luaopen_floor
#endif

#define UV_MT lua_upvalueindex(1)

/* The number an operand stands for: its double, or a Lua number. */
static double operand (lua_State *L, int i) {
  double *p = (double *)lua_touserdata(L, i);
#ifdef FLOOR_CHECKED
  if (p != NULL) {
    int ok = lua_getmetatable(L, i) && lua_rawequal(L, -1, UV_MT);
    lua_pop(L, ok ? 1 : 0);
    if (!ok) luaL_error(L, FLOOR_NAME ": bad operand #%d", i);
    return *p;
  }
  if (lua_type(L, i) != LUA_TNUMBER) luaL_error(L, FLOOR_NAME ": bad operand #%d", i);
  return (double)lua_tonumber(L, i);
#else
  return (p != NULL) ? *p : (double)lua_tonumber(L, i);
#endif
}

static int push (lua_State *L, double x) {
  double *p = (double *)lua_newuserdatauv(L, sizeof(double), 0);
  *p = x;
  lua_pushvalue(L, UV_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int f_value (lua_State *L) { return push(L, (double)luaL_checknumber(L, 1)); }
static int f_add (lua_State *L) { return push(L, operand(L, 1) + operand(L, 2)); }
static int f_sub (lua_State *L) { return push(L, operand(L, 1) - operand(L, 2)); }
static int f_mul (lua_State *L) { return push(L, operand(L, 1) * operand(L, 2)); }
static int f_div (lua_State *L) { return push(L, operand(L, 1) / operand(L, 2)); }
static int f_unm (lua_State *L) { return push(L, -operand(L, 1)); }
static int f_exp (lua_State *L) { return push(L, exp(operand(L, 1))); }
static int f_tanh (lua_State *L) { return push(L, tanh(operand(L, 1))); }
static int f_relu (lua_State *L) {
  double x = operand(L, 1);
  return push(L, x > 0.0 ? x : 0.0);
}
static int f_data (lua_State *L) { lua_pushnumber(L, operand(L, 1)); return 1; }

/* sum(list), dot(xs, ys): one allocation for the result, as an n-ary node would have */
static int f_sum (lua_State *L) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
  double s = 0.0;
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    s += operand(L, -1);
    lua_pop(L, 1);
  }
  return push(L, s);
}

static int f_dot (lua_State *L) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, 1);
  double s = 0.0;
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    lua_rawgeti(L, 2, i);
    s += operand(L, -2) * operand(L, -1);
    lua_pop(L, 2);
  }
  return push(L, s);
}

static const luaL_Reg meta[] = {
  {"__add", f_add}, {"__sub", f_sub}, {"__mul", f_mul}, {"__div", f_div}, {"__unm", f_unm},
  {NULL, NULL}
};

static const luaL_Reg funcs[] = {
  {"value", f_value}, {"exp", f_exp}, {"tanh", f_tanh}, {"relu", f_relu}, {"data", f_data},
  {"sum", f_sum}, {"dot", f_dot}, {NULL, NULL}
};

int LUAOPEN (lua_State *L) {
  int mt;
  lua_newtable(L);                      /* the metatable, upvalue of every function */
  mt = lua_gettop(L);
  lua_pushvalue(L, mt);
  luaL_setfuncs(L, meta, 1);
  luaL_newlibtable(L, funcs);
  lua_pushvalue(L, mt);
  luaL_setfuncs(L, funcs, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, mt, "__index");       /* v:tanh() finds the module functions */
  return 1;
}
