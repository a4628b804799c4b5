/*
** record.c: how ops record. Scopes with recording off or on (lg.no_grad, lg.enable_grad)
** and stop_gradient; and anomaly detection (lg.detect_anomaly): the NaN checks of forward,
** where each node was made, and the error of a backward whose derivative gave NaN.
**
** Both modes are bits of W->mode, which every op tests once on its fast path. The scopes
** open are a stack in the registry; each token knows its place there, so closing one twice,
** or after a scope around it, changes nothing. Positions live only while detection is on
** and only as long as their node: a weak-keyed table node -> "file:line".
*/
#include "lua/lg_lua.h"

#define SCOPE_MT "luagrad.Scope"
#define SCOPES_KEY "luagrad.scopes"         /* tokens of the scopes open, innermost last */
/* Weak keys: node userdata -> "file:line", and function -> {line -> "file:line"} */
#define POSITIONS_KEY "luagrad.positions"

/* A token: its index in the stack of open scopes, and LGI_NOGRAD as it was before it. */
typedef struct Scope {
  lua_Integer depth;
  int prev;
} Scope;

/* Pushes the registry's table at key; a new one is made whole (weak keys if weak) before it
   is stored, so a failed allocation leaves no table rather than a strong one. */
static void regtable (lua_State *L, const char *key, int weak) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  if (weak) {
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}


/* {==================================================================
** Scopes: lg.no_grad, lg.enable_grad, lg.is_grad_enabled
** =================================================================== */

/* Opens a scope that turns recording on (record) or off and pushes its token. The mode
   changes only once the token is on the stack, so a failed allocation leaves it as it was. */
int lgL_openscope (lua_State *L, int record) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  lua_Integer n;
  Scope *s;
  regtable(L, SCOPES_KEY, 0);
  s = (Scope *)lgC_newuserdata(L, sizeof(Scope), 0);
  luaL_setmetatable(L, SCOPE_MT);
  n = (lua_Integer)lua_rawlen(L, -2);
  s->depth = n + 1;
  s->prev = W->mode & LGI_NOGRAD;
  lua_pushvalue(L, -1);
  lua_rawseti(L, -3, (int)s->depth);
  lua_remove(L, -2);
  if (record) W->mode &= ~LGI_NOGRAD;
  else W->mode |= LGI_NOGRAD;
  return 1;
}

/* Closes the scope whose token is at idx and every scope opened inside it, restoring the
   mode from before it; nothing if it is closed already. Neither allocates nor raises (it
   runs as __close while an error unwinds): the registry's key exists if a token does. */
void lgL_closescope (lua_State *L, int idx) {
  const Scope *s = (const Scope *)lua_touserdata(L, idx);
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  idx = lua_absindex(L, idx);
  if (lua_getfield(L, LUA_REGISTRYINDEX, SCOPES_KEY) == LUA_TTABLE) {
    lua_rawgeti(L, -1, (int)s->depth);
    if (lua_rawequal(L, -1, idx)) {  /* still open */
      lua_Integer i;
      for (i = (lua_Integer)lua_rawlen(L, -2); i >= s->depth; i--) {
        lua_pushnil(L);
        lua_rawseti(L, -3, (int)i);
      }
      W->mode = (W->mode & ~LGI_NOGRAD) | s->prev;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* token:close(), and __close (5.4's `local _ <close> = lg.no_grad()`) */
static int scope_close (lua_State *L) {
  int ok = 0;
  if (lua_touserdata(L, 1) != NULL && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, SCOPE_MT);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok) lgL_argerror(L, "close", 1, "scope");
  lgL_closescope(L, 1);
  return 0;
}

/* Opens a scope (see below), unless given an argument that cannot be called: then nothing.
   luaL_getmetafield sees __call even behind a locked metatable (a compiled function's). */
static int scopefor (lua_State *L, int record) {
  if (!lua_isnone(L, 1) && lua_type(L, 1) != LUA_TFUNCTION) {
    if (!luaL_getmetafield(L, 1, "__call")) return 0;
    lua_pop(L, 1);
  }
  return lgL_openscope(L, record);
}

/* lg.no_grad([f]), lg.enable_grad([f]) -> token, or nothing when f is given and cannot be
   called. init.lua's forms run f(...) in the scope with Lua's pcall, which can yield where
   a C one cannot. */
static int mode_no_grad (lua_State *L) { return scopefor(L, 0); }
static int mode_enable_grad (lua_State *L) { return scopefor(L, 1); }

/* lg.is_grad_enabled() -> boolean */
static int mode_is_grad_enabled (lua_State *L) {
  lua_pushboolean(L, !(lgL_getwork(L)->mode & LGI_NOGRAD));
  return 1;
}

/* Pushes a leaf holding y: what an op on the Values among stack indices first..last gives
   without recording (no_grad, stop_gradient, detach). Inside lg.compile's recording, y is
   data read from those Values, so each becomes a guard, as reading .data does. */
lg_Value *lgL_unrecorded (lua_State *L, double y, int first, int last) {
  int i;
  if (((const lg_Work *)lua_touserdata(L, UV_WORK))->recording) {
    for (i = first; i <= last; i++) {
      if (lgL_tovalue(L, i) != NULL) lgL_addguard(L, LGI_GDATA, i, 0, 1);
    }
  }
  return lgL_newleaf(L, y);
}

/* lg.stop_gradient(x) -> a new leaf with a Value's data, or the number itself */
static int mode_stop_gradient (lua_State *L) {
  lg_Value *v = lgL_tovalue(L, 1);
  if (v != NULL) lgL_unrecorded(L, v->data, 1, 1);
  else if (lua_type(L, 1) == LUA_TNUMBER) lua_settop(L, 1);
  else lgL_argerror(L, "stop_gradient", 1, "number or value");
  return 1;
}

/* }================================================================== */


/* {==================================================================
** Anomaly detection
** =================================================================== */

/* Pushes "file:line" of the Lua code running nearest the top of the call stack (so the
   caller of an op, even through pcall), or "?" when no Lua code is running. The strings
   are kept in the positions table (at index t) per function and line, so that an op in a
   loop formats none (formatting was two thirds of an op's cost under detection). */
static void pushwhere (lua_State *L, int t) {
  lua_Debug ar;
  int level;
  for (level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "fl", &ar);  /* pushes the function */
    if (ar.currentline > 0) {
      lua_pushvalue(L, -1);
      lua_rawget(L, t);  /* the function's lines */
      if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, t);
      }
      lua_rawgeti(L, -1, ar.currentline);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getinfo(L, "S", &ar);
        lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, ar.currentline);
      }
      lua_replace(L, -3);
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
  }
  lua_pushliteral(L, "?");
}

/* Under anomaly detection, for the node at index node that op opname just made with the
   ny values y: raises if one is NaN, else records where Lua made it. */
void lgL_anomaly (lua_State *L, int node, const char *opname, const double *y, int ny) {
  int i, t;
  node = lua_absindex(L, node);
  regtable(L, POSITIONS_KEY, 1);
  t = lua_gettop(L);
  for (i = 0; i < ny; i++) {
    if (y[i] != y[i]) {
      pushwhere(L, t);
      luaL_error(L, "luagrad: anomaly: '%s' produced NaN in forward at %s", opname,
                 lua_tostring(L, -1));
    }
  }
  lua_pushvalue(L, node);
  pushwhere(L, t);
  lua_rawset(L, t);
  lua_pop(L, 1);
}

/* Raises the error of a backward in which W->bad's derivative gave NaN, with where the node
   was made (found by a walk over the positions, whose function keys are no userdata: this
   runs once, for an error). */
int lgL_nanerror (lua_State *L, lg_Work *W) {
  const lg_Value *bad = W->bad;
  int arg = (int)W->badarg + 1;
  regtable(L, POSITIONS_KEY, 1);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_touserdata(L, -2) == (const void *)bad)
      luaL_error(L, "luagrad: anomaly: backward of '%s' produced NaN for argument %d "
                    "(node created at %s)", lgI_opname(bad), arg, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return luaL_error(L, "luagrad: anomaly: backward of '%s' produced NaN for argument %d "
                       "(node created while anomaly detection was off)", lgI_opname(bad), arg);
}

/* lg.detect_anomaly([on]) -> the setting before (with no argument, the current one) */
static int mode_detect_anomaly (lua_State *L) {
  lg_Work *W = lgL_getwork(L);
  int was = (W->mode & LGI_ANOMALY) != 0;
  if (!lua_isnoneornil(L, 1)) {
    if (lua_type(L, 1) != LUA_TBOOLEAN) lgL_argerror(L, "detect_anomaly", 1, "boolean");
    if (lua_toboolean(L, 1)) {
      regtable(L, POSITIONS_KEY, 1);  /* now, so that it exists before any node needs it */
      W->mode |= LGI_ANOMALY;
    }
    else W->mode &= ~LGI_ANOMALY;
  }
  lua_pushboolean(L, was);
  return 1;
}

/* }================================================================== */


static const luaL_Reg mode_funcs[] = {
  {"no_grad", mode_no_grad},
  {"enable_grad", mode_enable_grad},
  {"is_grad_enabled", mode_is_grad_enabled},
  {"stop_gradient", mode_stop_gradient},
  {"detect_anomaly", mode_detect_anomaly},
  {NULL, NULL}
};

/* {==================================================================
** Guards: what Lua saw while lg.compile records (a comparison, data it read)
** =================================================================== */

/* Records guard [kind, a, b or the data, expect] (stack indices a, b) in the recording's
   guard list: four slots per guard. With a = 0 (lgL_unguarded), Lua saw a number no guard
   can check (a sweep's result, a grad, a text): the recording then serves only the call
   that made it (its list's field once). */
void lgL_addguard (lua_State *L, int kind, int a, int b, int expect) {
  int t;
  lua_Integer n;
  if (lua_getfield(L, LUA_REGISTRYINDEX, GUARDS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  t = lua_gettop(L);
  if (a == 0) {
    lua_pushboolean(L, 1);
    lua_setfield(L, t, "once");
    lua_pop(L, 1);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, t);
  lua_pushinteger(L, kind);
  lua_rawseti(L, t, n + 1);
  lua_pushvalue(L, a);
  lua_rawseti(L, t, n + 2);
  if (kind == LGI_GDATA) lua_pushnumber(L, (lua_Number)lgL_tovalue(L, a)->data);
  else lua_pushvalue(L, b);
  lua_rawseti(L, t, n + 3);
  lua_pushboolean(L, expect);
  lua_rawseti(L, t, n + 4);
  lua_pop(L, 1);
}

/* }================================================================== */


/* Adds the functions above to the module table at index module, and makes the tokens'
   metatable (completed if an open that ran out of memory left it half made). */
void lgL_openrecord (lua_State *L, int module) {
  luaL_newmetatable(L, SCOPE_MT);
  if (lua_getfield(L, -1, "__metatable") == LUA_TNIL) {
    lua_createtable(L, 0, 1);  /* __index: the method table */
    lgL_pushupvalues(L);
    lua_pushcclosure(L, scope_close, NUPVALUES);
    lua_pushvalue(L, -1);
    lua_setfield(L, -5, "__close");
    lua_setfield(L, -2, "close");
    lua_setfield(L, -3, "__index");
    lua_pushliteral(L, SCOPE_MT);
    lua_setfield(L, -3, "__metatable");
  }
  lua_pop(L, 2);
  lua_pushvalue(L, module);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, mode_funcs, NUPVALUES);
  lua_pop(L, 1);
}
