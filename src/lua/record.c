/*
** record.c: how ops record. Scopes with recording off or on (lg.no_grad, lg.enable_grad)
** and stop_gradient; and anomaly detection (lg.detect_anomaly): the NaN checks of forward,
** where each node was made, and the error of a backward whose derivative gave NaN.
**
** Both modes are bits of W->mode, which every op tests once on its fast path. The scopes
** open are a stack in the registry; each token knows its place there, so closing one twice,
** or after a scope around it, changes nothing, and a scope whose coroutine is gone ends
** (see Scopes). Positions live only while detection is on
** and only as long as their node: a weak-keyed table node -> "file:line".
*/
#include <string.h>

#include "lua/lg_lua.h"

#define SCOPE_MT "luagrad.Scope"
#define SCOPES_KEY "luagrad.scopes"         /* tokens of the scopes open, innermost last */
/* Weak keys: node userdata -> "file:line", and function -> {line -> "file:line"} */
#define POSITIONS_KEY "luagrad.positions"

/* A token: its index in the stack of open scopes, its kind, and whether it is open. */
typedef struct Scope {
  lua_Integer depth;
  int kind;   /* SCOPE_NOGRAD, SCOPE_ENABLE, SCOPE_TRANSFORM */
  int open;
} Scope;

enum { SCOPE_NOGRAD, SCOPE_ENABLE, SCOPE_TRANSFORM };
static const char *const scopekinds[] = {"no_grad", "enable_grad", "transform", NULL};

/* Pushes the registry's table at key; a new one is made whole (weak as mode says, if mode is
   not NULL) before it is stored, so a failed allocation leaves no table rather than a
   strong one. */
static void regtable (lua_State *L, const char *key, const char *mode) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  if (mode != NULL) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, key);
}

/* {==================================================================
** Scopes: lg.no_grad, lg.enable_grad, lg.is_grad_enabled, and the transforms' nesting
**
** The stack of open scopes is a table with weak values: tokens at 1..n, and n at key 0 (made
** before any token, so that setting it never allocates). The setting is always the innermost
** open scope's (recording on when none is open), so a scope may end out of order: closed
** (ending the scopes opened inside it too), collected while open (a coroutine suspended in
** it and dropped: its finalizer ends that scope alone), or, on 5.4, closed with the
** coroutine it was opened in (coroutine.close runs its __close). The function forms run f
** under a pcall of their own (on 5.4 in the main thread, with the token to be closed
** instead) and close the scope as soon as it returns, however f ended, before anything that
** could fail; from 5.2 on, a continuation lets f yield.
** =================================================================== */

/* Pushes the stack of open scopes, with its key 0 (setting it after that never allocates). */
static void scopestack (lua_State *L) {
  regtable(L, SCOPES_KEY, "v");
  lua_rawgeti(L, -1, 0);
  if (lua_isnil(L, -1)) {
    lua_pushinteger(L, 0);
    lua_rawseti(L, -3, 0);
  }
  lua_pop(L, 1);
}

/* The stack at t after a change: n lowered past the scopes gone, the setting made the
   innermost open scope's. Neither allocates nor raises (it runs as __close and __gc). */
static void settle (lua_State *L, int t) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  lua_Integer n;
  int nograd = 0;
  lua_rawgeti(L, t, 0);
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  for (; n > 0; n--) {
    const Scope *s;
    lua_rawgeti(L, t, (int)n);
    s = (const Scope *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (s != NULL && s->open) {
      nograd = s->kind == SCOPE_NOGRAD;
      break;
    }
  }
  lua_pushinteger(L, n);
  lua_rawseti(L, t, 0);
  if (nograd) W->mode |= LGI_NOGRAD;
  else W->mode &= ~LGI_NOGRAD;
}

/* Opens a scope of kind and pushes its token. It is stored before the setting changes, so
   a failed allocation leaves the setting as it was. */
static void openkind (lua_State *L, int kind) {
  lua_Integer n;
  Scope *s;
  int t;
  scopestack(L);
  t = lua_gettop(L);
  s = (Scope *)lgC_newuserdata(L, sizeof(Scope), 0);  /* may run finalizers: n comes after */
  s->open = 0;
  s->kind = kind;
  s->depth = 0;
  luaL_setmetatable(L, SCOPE_MT);
  settle(L, t);
  lua_rawgeti(L, t, 0);
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  s->depth = n + 1;
  lua_pushvalue(L, -1);
  lua_rawseti(L, t, (int)s->depth);   /* may fail: the token stays closed */
  lua_pushinteger(L, s->depth);
  lua_rawseti(L, t, 0);
  s->open = 1;
  settle(L, t);
  lua_remove(L, t);
}

int lgL_openscope (lua_State *L, int record) {
  openkind(L, record ? SCOPE_ENABLE : SCOPE_NOGRAD);
  return 1;
}

/* Ends the scope of the token at idx: with every scope opened inside it (all), or alone (a
   token collected while open, whose inner scopes may belong to coroutines still running).
   Nothing if it is closed already. Neither allocates nor raises. */
static void endscope (lua_State *L, int idx, int all) {
  Scope *s = (Scope *)lua_touserdata(L, idx);
  if (!s->open) return;
  s->open = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, SCOPES_KEY) == LUA_TTABLE) {
    int t = lua_gettop(L);
    lua_Integer i, n;
    lua_rawgeti(L, t, 0);
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
    for (i = all ? n : s->depth; i >= s->depth; i--) {
      Scope *inner;
      lua_rawgeti(L, t, (int)i);
      inner = (Scope *)lua_touserdata(L, -1);
      lua_pop(L, 1);
      if (inner == NULL || (inner != s && !all)) continue;
      inner->open = 0;
      lua_pushnil(L);
      lua_rawseti(L, t, (int)i);
    }
    settle(L, t);
  }
  lua_pop(L, 1);
}

void lgL_closescope (lua_State *L, int idx) { endscope(L, idx, 1); }

/* Raises unless the value at 1 is a token. */
static void checkscope (lua_State *L, const char *fn) {
  int ok = 0;
  if (lua_touserdata(L, 1) != NULL && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, SCOPE_MT);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!ok) lgL_argerror(L, fn, 1, "scope");
}

/* token:close(), and __close (5.4's `local _ <close> = lg.no_grad()`) */
static int scope_close (lua_State *L) {
  checkscope(L, "close");
  lgL_closescope(L, 1);
  return 0;
}

/* __gc: a token collected while open (its coroutine dropped) ends its own scope. */
static int scope_gc (lua_State *L) {
  checkscope(L, "__gc");
  endscope(L, 1, 0);
  return 0;
}

/* Whether the value at i can be called: luaL_getmetafield sees __call even behind a locked
   metatable (a compiled function's). */
static int callable (lua_State *L, int i) {
  if (lua_type(L, i) == LUA_TFUNCTION) return 1;
  if (!luaL_getmetafield(L, i, "__call")) return 0;
  lua_pop(L, 1);
  return 1;
}

/* The end of a function form under a pcall: the scope (token at 1) closed, then f's results
   (above the catcher at 2) returned or its error raised again, unchanged, its traceback
   kept for lg.traceback (trace.c). Nothing before the close can fail. */
static int endcall (lua_State *L, int status) {
  lgL_closescope(L, 1);
  if (status != LUA_OK && status != LUA_YIELD) return lgL_rethrow(L);
  return lua_gettop(L) - 2;
}

#if LUA_VERSION_NUM >= 503
static int resumecall (lua_State *L, int status, lua_KContext ctx) {
  (void)ctx;
  return endcall(L, status);
}
#elif LUA_VERSION_NUM == 502
static int resumecall (lua_State *L) {
  int ctx;
  return endcall(L, lua_getctx(L, &ctx));
}
#endif

/* f(...) (f at 1) in a new scope of kind: f's results, or its error, unchanged. On 5.4 in
   the main thread, f runs unprotected, the token a to-be-closed variable: an error unwinds
   untouched to whoever catches it (whose pcall closes the token), so the interpreter's
   traceback, or busted's, shows the frames where f failed. Elsewhere (in a coroutine, whose
   error would leave its to-be-closed variables open until the coroutine is closed, and
   before 5.4) f runs under a pcall whose catcher keeps that traceback for lg.traceback. */
static int scopedcall (lua_State *L, int kind, const char *fn) {
  int nargs = lua_gettop(L) - 1;
  if (!callable(L, 1)) lgL_argerror(L, fn, 1, "function");
  lgL_pushcatcher(L);   /* before the scope opens: nothing after that may fail */
  lua_insert(L, 1);
  openkind(L, kind);
  lua_insert(L, 1);     /* token, catcher, f, ... */
#if LUA_VERSION_NUM >= 504
  lua_toclose(L, 1);   /* closed with the coroutine, if f yields and it is closed */
  if (lua_pushthread(L)) {
    lua_pop(L, 1);
    lua_remove(L, 2);
    lua_call(L, nargs, LUA_MULTRET);
    lgL_closescope(L, 1);
    return lua_gettop(L) - 1;
  }
  lua_pop(L, 1);
#endif
#if LUA_VERSION_NUM >= 502
  return endcall(L, lua_pcallk(L, nargs, LUA_MULTRET, 2, 0, resumecall));
#else
  return endcall(L, lua_pcall(L, nargs, LUA_MULTRET, 2));
#endif
}

/* lg.no_grad([f, ...]), lg.enable_grad([f, ...]): with no argument, the token of a new
   scope; with f, f(...) in one. (On 5.1 and LuaJIT, where only Lua's pcall can yield,
   init.lua makes the function forms from lg._scope.) */
static int mode_no_grad (lua_State *L) {
  if (lua_isnone(L, 1)) return lgL_openscope(L, 0);
  return scopedcall(L, SCOPE_NOGRAD, "no_grad");
}

static int mode_enable_grad (lua_State *L) {
  if (lua_isnone(L, 1)) return lgL_openscope(L, 1);
  return scopedcall(L, SCOPE_ENABLE, "enable_grad");
}

/* lg._transform(f, ...): f(...) one transform deeper, recording on (functional.lua);
   lg._transform() -> how many transforms are running their function now. */
static int mode_transform (lua_State *L) {
  lua_Integer i, n, count = 0;
  if (!lua_isnone(L, 1)) return scopedcall(L, SCOPE_TRANSFORM, "transform");
  scopestack(L);
  lua_rawgeti(L, -1, 0);
  n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  for (i = 1; i <= n; i++) {
    const Scope *s;
    lua_rawgeti(L, -1, (int)i);
    s = (const Scope *)lua_touserdata(L, -1);
    if (s != NULL && s->open && s->kind == SCOPE_TRANSFORM) count++;
    lua_pop(L, 1);
  }
  lua_pushinteger(L, count);
  return 1;
}

/* lg._scope(kind [, f]) -> the token of a new scope of kind ("no_grad", "enable_grad",
   "transform"), or nothing when f is given and cannot be called: what the Lua forms of
   5.1 and LuaJIT open. */
static int mode_scope (lua_State *L) {
  int kind;
  const char *name = lua_type(L, 1) == LUA_TSTRING ? lua_tostring(L, 1) : "";
  for (kind = 0; scopekinds[kind] != NULL && strcmp(scopekinds[kind], name) != 0; kind++) {}
  if (scopekinds[kind] == NULL)
    lgL_argerror(L, "_scope", 1, "\"no_grad\", \"enable_grad\" or \"transform\"");
  if (!lua_isnone(L, 2) && !callable(L, 2)) return 0;
  openkind(L, kind);
  return 1;
}

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

/* lg.stop_gradient(x) -> a new leaf with a Value's data, the number itself, or a tensor
   detached (t:detach(): its data, no history) */
static int mode_stop_gradient (lua_State *L) {
  lg_Value *v = lgL_tovalue(L, 1);
  if (v != NULL) lgL_unrecorded(L, v->data, 1, 1);
  else if (lua_type(L, 1) == LUA_TNUMBER) lua_settop(L, 1);
  else if (lgL_totensor(L, 1) != NULL) {
    lua_settop(L, 1);
    lua_getfield(L, 1, "detach");
    lua_insert(L, 1);
    lua_call(L, 1, 1);
  }
  else lgL_argerror(L, "stop_gradient", 1, "number, value or tensor");
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
  regtable(L, POSITIONS_KEY, "k");
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
  regtable(L, POSITIONS_KEY, "k");
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
      regtable(L, POSITIONS_KEY, "k");  /* now, so that it exists before any node needs it */
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
  {"_transform", mode_transform},
  {"_scope", mode_scope},
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
    lgL_pushupvalues(L);
    lua_pushcclosure(L, scope_gc, NUPVALUES);
    lua_setfield(L, -3, "__gc");
    lua_pushliteral(L, SCOPE_MT);
    lua_setfield(L, -3, "__metatable");
  }
  lua_pop(L, 2);
  lua_pushvalue(L, module);
  lgL_pushupvalues(L);
  luaL_setfuncs(L, mode_funcs, NUPVALUES);
  lua_pop(L, 1);
}
