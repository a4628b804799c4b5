/*
** lg_testhost.c: a test-only Lua module (never installed) that lets specs put the state
** under a host-imposed memory budget, as a host embedding Lua would with its own lua_Alloc.
** require("lg_testhost") wraps the state's allocator once:
**   host.pcall_limit(bytes, f, ...)  pcall(f, ...) with the state held to bytes in all
**   host.pcall_fail(n, f, ...)       pcall(f, ...) granting n allocations, refusing the rest
**   host.used()                      bytes allocated through the state's allocator now
**   host.refused()                   allocations refused so far
** The budget ends in C, before anything returns to Lua, since Lua (busted too) needs
** memory again at once. Lua answers a refusal with an emergency collection, a second try,
** and then "not enough memory".
*/
#include <stddef.h>

#include "lua.h"
#include "lauxlib.h"

#define KEY "lg_testhost.limit"

typedef struct Limit {
  lua_Alloc orig;
  void *oud;
  size_t used, limit;   /* limit 0: none */
  long failafter;       /* allocations granted before all fail; < 0: no such budget */
  long refused;
} Limit;

static void *limit_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Limit *m = (Limit *)ud;
  size_t old = (ptr != NULL) ? osize : 0;
  void *p;
  if (nsize > old) {
    if (m->failafter == 0 || (m->limit > 0 && m->used + (nsize - old) > m->limit)) {
      m->refused++;
      return NULL;
    }
    if (m->failafter > 0) m->failafter--;
  }
  p = m->orig(m->oud, ptr, osize, nsize);
  if (p != NULL || nsize == 0) m->used = (old > m->used ? 0 : m->used - old) + nsize;
  return p;
}

static Limit *getlimit (lua_State *L) {
  return (Limit *)lua_touserdata(L, lua_upvalueindex(1));
}

/* pcall(f, ...) at stack index 2 under the budget already set; ends the budget */
static int budgeted (lua_State *L, Limit *m) {
  int status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  m->limit = 0;
  m->failafter = -1;
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

static int h_pcall_limit (lua_State *L) {
  Limit *m = getlimit(L);
  lua_Integer bytes = luaL_checkinteger(L, 1);
  luaL_checkany(L, 2);
  m->limit = bytes > 0 ? (size_t)bytes : 1;
  return budgeted(L, m);
}

static int h_pcall_fail (lua_State *L) {
  Limit *m = getlimit(L);
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_checkany(L, 2);
  m->failafter = n > 0 ? (long)n : 0;
  return budgeted(L, m);
}

static int h_used (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getlimit(L)->used);
  return 1;
}

static int h_refused (lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getlimit(L)->refused);
  return 1;
}

/* Gives the state its own allocator back before lua_close unloads this library (finalizers
   run newest first, so this one runs before package's, which calls dlclose). */
static int h_gc (lua_State *L) {
  Limit *m = (Limit *)lua_touserdata(L, 1);
  lua_setallocf(L, m->orig, m->oud);
  return 0;
}

static const luaL_Reg funcs[] = {
  {"pcall_limit", h_pcall_limit}, {"pcall_fail", h_pcall_fail}, {"used", h_used},
  {"refused", h_refused},
  {NULL, NULL}
};

int luaopen_lg_testhost (lua_State *L) {
  Limit *m;
  if (lua_getfield(L, LUA_REGISTRYINDEX, KEY) == LUA_TNIL) {  /* first load: wrap */
    lua_pop(L, 1);
    m = (Limit *)lua_newuserdatauv(L, sizeof(Limit), 0);
    m->orig = lua_getallocf(L, &m->oud);
    m->used = (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
    m->limit = 0;
    m->failafter = -1;
    m->refused = 0;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, h_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, KEY);
    lua_setallocf(L, limit_alloc, m);
  }
  luaL_newlibtable(L, funcs);
  lua_insert(L, -2);
  luaL_setfuncs(L, funcs, 1);
  return 1;
}
