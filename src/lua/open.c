/*
** open.c: opening the module, the one file that knows every part of the binding (as
** linit.c in Lua): the core table (luagrad.core), then the Lua parts compiled in.
*/
#include <string.h>

#include "lua/lg_lua.h"
#include "lua/lg_sources.h"

/* luagrad.core: the module table with every C function of the binding */
int luaopen_luagrad_core (lua_State *L) {
  int module, methods, mt;
  lua_createtable(L, 0, 64);
  module = lua_gettop(L);
  lua_pushliteral(L, LG_VERSION);
  lua_setfield(L, module, "_VERSION");
  lua_newtable(L);
  methods = lua_gettop(L);
  lgL_pushupvalues(L);
  lua_pop(L, 2);  /* keep the metatable */
  mt = lua_gettop(L);
  lgL_openvalue(L, module, methods, mt);
  lgL_openops(L, module, methods, mt);
  lgL_opentrace(L, module);
  lgL_openrecord(L, module);
  lgL_opentensor(L, module);
  lgL_opentensorops(L, module, mt);
  lgL_opengrad(L, module);
  lgL_opencustom(L, module);
  lgL_opencompile(L, module);
  lgL_opendata(L, module);
  lgL_opensave(L, module);
  lgL_openoptim(L, module);
  lgL_opensys(L, module);
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

