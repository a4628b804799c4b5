/*
** test_embed.c: a host opens luagrad in its own lua_State, as the README shows, and also
** in a state with only the base library (no package, io, os): the module needs none of them.
*/
#include "luagrad.h"

#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static const char *lecture =
  "local lg = ...\n"
  "local a, b, c = lg.value(5, 'a'), lg.value(3, 'b'), lg.value(2, 'c')\n"
  "local J = 3 * (a + b * c)\n"
  "J:backward()\n"
  "return J.data, a.grad, b.grad, c.grad, tostring(a)\n";

/* Runs the lecture with the module table on top of the stack; 0 when all numbers agree. */
static int run_lecture (lua_State *L, const char *what) {
  int bad;
  if (luaL_loadstring(L, lecture) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 5, 0) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    return 1;
  }
  bad = lua_tonumber(L, -5) != 33 || lua_tonumber(L, -4) != 3 || lua_tonumber(L, -3) != 6
     || lua_tonumber(L, -2) != 9;
  if (bad) fprintf(stderr, "%s: wrong numbers\n", what);
  printf("%s: %s\n", what, lua_tostring(L, -1));
  lua_pop(L, 5);
  return bad;
}

int main (void) {
  int failures = 0;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);  /* the whole module, as require gives */
  failures += run_lecture(L, "full state");
  /* require finds it again, the same table */
  if (luaL_dostring(L, "return require('luagrad') == package.loaded.luagrad") != LUA_OK
      || !lua_toboolean(L, -1)) failures++, fprintf(stderr, "require gave another table\n");
  lua_close(L);

  L = luaL_newstate();   /* a sandbox: the base library only */
  luaL_requiref(L, "_G", luaopen_base, 1);
  lua_pop(L, 1);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  failures += run_lecture(L, "sandbox");
  lua_close(L);

  L = luaL_newstate();   /* preload only: require finds it with no search path */
  luaL_openlibs(L);
  lg_preload(L);
  if (luaL_dostring(L, "package.path, package.cpath = '', ''; return (require('luagrad'))")
      != LUA_OK) {
    fprintf(stderr, "preload: %s\n", lua_tostring(L, -1));
    failures++;
  }
  else failures += run_lecture(L, "preload");
  lua_close(L);
  printf("%d failed\n", failures);
  return failures != 0;
}
