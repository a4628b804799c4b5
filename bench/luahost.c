/*
** luahost.c: a bare Lua 5.4 host for profiling, linked with the static liblua so that
** callgrind names Lua's own functions (the lua5.4 executable is stripped). It runs
**   luahost script [args]
** with `arg` set as lua5.4 sets it, and leaves the collector as luaL_newstate does
** (the scripts set their mode explicitly).
*/
#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int main (int argc, char **argv) {
  lua_State *L = luaL_newstate();
  int i, status;
  if (L == NULL || argc < 2) {
    fprintf(stderr, "usage: luahost script [args]\n");
    return 2;
  }
  luaL_openlibs(L);
  lua_createtable(L, argc, 1);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  status = luaL_loadfile(L, argv[1]);
  if (status == LUA_OK) {
    for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - 2, 0, 0);
  }
  if (status != LUA_OK) fprintf(stderr, "luahost: %s\n", lua_tostring(L, -1));
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
