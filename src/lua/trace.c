/*
** trace.c: where a user's error was raised, kept across luagrad's protected calls.
**
** Some calls into the user's code must be protected: a scope or a recording has to end when
** the code raises, and from C only a pcall catches an error (on Lua 5.4 a to-be-closed
** variable lets an error unwind untouched in the main thread, and record.c and compile.c do
** that there). Raising the error again keeps the error value, but the traceback that
** whoever catches it makes starts at the raise again: the frames of the user's code are gone.
** So the pcall's message handler (the catcher) takes the traceback where the error was
** raised, before anything unwinds, and keeps it beside the error value; lg.traceback, a
** drop-in for debug.traceback, puts it back when it is handed the same error, raised again
** by luagrad. The error value itself is never changed, so messages stay word for word.
**
** The record, a registry array with weak values made when the module opens, so that neither
** the catcher nor a raise again ever allocates outside a protected call:
**   [1] the error value last caught, [2] the traceback where it was raised (or false),
**   [3] the thread raising it again now (or false), [4] that raise's stack depth and
**   [5] the function raising it: the handler that catches the raise sees that function
**   one level above itself, at that depth, and nothing else matches by accident;
**   [6] true while a custom function's callback failed and luagrad is about to raise its
**   own message for it (the traceback then belongs to that message).
*/
#include <string.h>

#include "lua/lg_lua.h"

#define TRACE_KEY "luagrad.trace"
#define ERRORTRACE_KEY "luagrad.errortrace"   /* the luagrad command's handler calls it */
#define NSLOTS 6

/* Pushes the record; 0 (and nothing pushed) if the module never made it. */
static int pushrecord (lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TRACE_KEY) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  return 0;
}

/* The index of the last level of L's stack: a binary search, as lauxlib's traceback. */
static int lastlevel (lua_State *L) {
  lua_Debug ar;
  int li = 1, le = 1;
  while (lua_getstack(L, le, &ar)) {
    li = le;
    le *= 2;
  }
  while (li < le) {
    int m = (li + le) / 2;
    if (lua_getstack(L, m, &ar)) li = m + 1;
    else le = m;
  }
  return le - 1;
}

/* Is the value at err the one the function at stack level `level` raises again now (the
   record at rec)? Allocates nothing. */
static int rethrown (lua_State *L, int err, int rec, int level) {
  lua_Debug ar;
  int same;
  lua_rawgeti(L, rec, 3);
  lua_pushthread(L);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!same || !lua_getstack(L, level, &ar)) return 0;
  lua_rawgeti(L, rec, 1);
  same = lua_rawequal(L, -1, err);
  lua_pop(L, 1);
  if (!same) return 0;
  lua_getinfo(L, "f", &ar);
  lua_rawgeti(L, rec, 5);
  same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  lua_rawgeti(L, rec, 4);
  same = same && lua_tointeger(L, -1) + level == lastlevel(L);
  lua_pop(L, 1);
  return same;
}

/* Sets the record's slot i to false (array slots that exist: no allocation). */
static void clearslot (lua_State *L, int rec, int i) {
  lua_pushboolean(L, 0);
  lua_rawseti(L, rec, i);
}

/* The traceback from the level that raised (the catcher's caller) into the record, called
   under protection: it allocates. */
static int capture (lua_State *L) {
  if (!pushrecord(L)) return 0;
  luaL_traceback(L, L, NULL, 2);  /* 0: capture, 1: the catcher, 2: where the error was raised */
  lua_rawseti(L, -2, 2);
  return 0;
}

/* The message handler of luagrad's protected calls: takes where a new error was raised (an
   error raised again keeps the traceback it has), and returns the error value unchanged.
   Whatever fails in here (out of memory, no stack left) only loses the traceback. */
static int catcher (lua_State *L) {
  int status;
  lua_settop(L, 1);
  if (!lua_checkstack(L, 8) || !pushrecord(L)) return 1;
  if (!rethrown(L, 1, 2, 1)) {
    lua_pushvalue(L, 1);
    lua_rawseti(L, 2, 1);
    clearslot(L, 2, 2);
    clearslot(L, 2, 6);
#if LUA_VERSION_NUM == 501   /* a C function to call is a new closure: made inside */
    status = lua_cpcall(L, capture, NULL);
#else
    lua_pushcfunction(L, capture);   /* a light C function: nothing allocated */
    status = lua_pcall(L, 0, 0, 0);
#endif
    if (status != LUA_OK) lua_pop(L, 1);
  }
  clearslot(L, 2, 3);   /* the raise again, if it was one, has arrived */
  lua_settop(L, 1);
  return 1;
}

void lgL_pushcatcher (lua_State *L) {
  lua_pushcfunction(L, catcher);
}

int lgL_pcall (lua_State *L, int nargs, int nresults) {
  int status, base = lua_gettop(L) - nargs;   /* the function's index */
  lgL_pushcatcher(L);
  lua_insert(L, base);
  status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  return status;
}

/* Notes that the function running now (level 0) raises the error value on top again. */
static void noterethrow (lua_State *L) {
  lua_Debug ar;
  int rec;
  if (!lua_checkstack(L, 4) || !pushrecord(L)) return;
  rec = lua_gettop(L);
  lua_pushthread(L);
  lua_rawseti(L, rec, 3);
  lua_pushinteger(L, lastlevel(L));
  lua_rawseti(L, rec, 4);
  if (lua_getstack(L, 0, &ar)) lua_getinfo(L, "f", &ar);
  else lua_pushboolean(L, 0);
  lua_rawseti(L, rec, 5);
  lua_pop(L, 1);
}

int lgL_rethrow (lua_State *L) {
  noterethrow(L);
  return lua_error(L);
}

/* Raises the error value on top as luagrad's message for the error of a callback that
   failed (cause: that error's message): the traceback of where the callback failed goes
   with it. Without one, a plain raise. */
int lgL_rethrowas (lua_State *L, const char *cause) {
  int owned = 0;
  if (lua_checkstack(L, 4) && pushrecord(L)) {
    const char *caught;
    lua_rawgeti(L, -1, 6);
    owned = lua_toboolean(L, -1);
    lua_rawgeti(L, -2, 1);
    caught = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    owned = owned && caught != NULL && strncmp(caught, cause, strlen(cause)) == 0;
    lua_pop(L, 2);
    if (owned) {
      clearslot(L, lua_gettop(L), 6);
      lua_pushvalue(L, -2);
      lua_rawseti(L, -2, 1);
    }
    lua_pop(L, 1);
  }
  if (owned) noterethrow(L);
  return lua_error(L);
}

void lgL_callbackfailed (lua_State *L) {
  if (lua_checkstack(L, 2) && pushrecord(L)) {
    lua_pushboolean(L, 1);
    lua_rawseti(L, -2, 6);
    lua_pop(L, 1);
  }
}

/* errortrace(err, level) -> the traceback where err was raised, if the function at stack
   level `level` (of errortrace's caller) raises it again now for luagrad; else nothing.
   What lg.traceback and the luagrad command's message handler splice in. */
static int errortrace (lua_State *L) {
  int level = lua_type(L, 2) == LUA_TNUMBER ? (int)lua_tointeger(L, 2) : 1;
  lua_settop(L, 1);
  if (level < 0 || !pushrecord(L) || !rethrown(L, 1, 2, level + 1)) return 0;
  lua_rawgeti(L, 2, 2);
  return lua_type(L, -1) == LUA_TSTRING;
}

/* lg.traceback([thread,] [message [, level]]): debug.traceback, except that for an error
   that luagrad caught and raised again (message: the error, level: where the handler's
   caller is, 1 when lg.traceback is the handler itself) the traceback is the one where the
   error was raised, with the user's frames: xpcall(main, lg.traceback). */
static int mod_traceback (lua_State *L) {
  lua_State *L1 = L;
  int arg = 1, level;
  const char *msg;
  if (lua_type(L, 1) == LUA_TTHREAD) {
    L1 = lua_tothread(L, 1);
    arg = 2;
  }
  msg = lua_tostring(L, arg);
  if (msg == NULL && !lua_isnoneornil(L, arg)) {   /* an error object: as it is */
    lua_pushvalue(L, arg);
    return 1;
  }
  if (lua_isnoneornil(L, arg + 1)) level = L1 == L ? 1 : 0;
  else if (lua_type(L, arg + 1) == LUA_TNUMBER) {   /* beyond any stack: no level (no UB) */
    lua_Number n = lua_tonumber(L, arg + 1);
    level = n >= -1 && n <= 1e6 ? (int)n : n < 0 ? -1 : 1000000;
  }
  else return lgL_argerror(L, "traceback", arg + 1, "number");
  if (L1 == L && msg != NULL) {
    lua_pushcfunction(L, errortrace);
    lua_pushvalue(L, arg);
    lua_pushinteger(L, level);   /* errortrace counts levels from its caller, as we do */
    lua_call(L, 2, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushvalue(L, arg);
      lua_pushliteral(L, "\n");
      lua_pushvalue(L, -3);
      lua_concat(L, 3);
      return 1;
    }
    lua_pop(L, 1);
  }
  luaL_traceback(L, L1, msg, level);
  return 1;
}

/* lg._trace.rethrow(err): raises err again, for luagrad's Lua parts (shared.lua) */
static int mod_rethrow (lua_State *L) {
  lua_settop(L, 1);
  return lgL_rethrow(L);
}

/* lg._trace.catch(err): the catcher, as a message handler for Lua's xpcall */
static int mod_catch (lua_State *L) {
  return catcher(L);
}

static const luaL_Reg trace_funcs[] = {
  {"rethrow", mod_rethrow},
  {"catch", mod_catch},
  {NULL, NULL}
};

/* Makes the record (once per state) and adds lg.traceback, and lg._trace.catch and
   lg._trace.rethrow (a table: no one calls them by mistake), to the module table. */
void lgL_opentrace (lua_State *L, int module) {
  if (!pushrecord(L)) {
    int i;
    lua_createtable(L, NSLOTS, 0);
    for (i = 1; i <= NSLOTS; i++) clearslot(L, lua_gettop(L), i);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, TRACE_KEY);
  }
  else lua_pop(L, 1);
  lua_pushcfunction(L, errortrace);
  lua_setfield(L, LUA_REGISTRYINDEX, ERRORTRACE_KEY);
  lua_pushcfunction(L, mod_traceback);
  lua_setfield(L, module, "traceback");
  luaL_newlibtable(L, trace_funcs);
  luaL_setfuncs(L, trace_funcs, 0);
  lua_setfield(L, module, "_trace");
}
