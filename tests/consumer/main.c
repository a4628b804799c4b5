/* A program outside the project, built against an installed luagrad: it embeds Lua, adds a
   differentiable C function and reads a gradient back. Prints "33 3 6 9 2". */
#include <stdio.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <luagrad.h>

static int twice_fwd (void *ud, const double *x, double *y, char *msg, size_t len) {
  (void)ud; (void)msg; (void)len;
  y[0] = 2 * x[0];
  return 0;
}

static int twice_vjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t len) {
  (void)ud; (void)x; (void)y; (void)msg; (void)len;
  gx[0] = 2 * gy[0];
  return 0;
}

int main (void) {
  const lg_Func twice = {"twice", 1, 1, twice_fwd, twice_vjp, NULL};
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (lg_register_op(L, &twice) != LG_OK) return 1;
  if (luaL_dostring(L, "local lg = require('luagrad')\n"
                       "local a, b, c = lg.value(5), lg.value(3), lg.value(2)\n"
                       "local J = 3 * (a + b * c); J:backward()\n"
                       "local x = lg.value(1); lg.twice(x):backward()\n"
                       "return J.data, a.grad, b.grad, c.grad, x.grad") != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  printf("%g %g %g %g %g\n", lua_tonumber(L, -5), lua_tonumber(L, -4), lua_tonumber(L, -3),
         lua_tonumber(L, -2), lua_tonumber(L, -1));
  lua_close(L);
  return 0;
}
