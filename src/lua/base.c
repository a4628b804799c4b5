/*
** base.c: what every file of the binding builds on: the error shapes, argument checks,
** the scratch buffers a lua_State owns, the shared upvalues, and new nodes as userdata.
** Each Value is one full userdata holding the node itself, with its parents' userdata as
** user values so that Lua keeps them alive exactly as long as the child (where a Lua
** version has fewer user values, lg_compat.h keeps them in a table). Values have no
** finalizer: the collector frees a graph when no Value of it is reachable.
*/
#include <stdio.h>
#include <string.h>

#include "lua/lg_lua.h"

/* {==================================================================
** Checks and errors
** =================================================================== */

const char *lgL_typename (lua_State *L, int i) {
  if (lgL_tovalue(L, i)) return "value";
  return lgL_istensor(L, i) ? "tensor" : luaL_typename(L, i);
}

int lgL_istensor (lua_State *L, int i) {
  int is = 0;
  if (lua_type(L, i) == LUA_TUSERDATA && lua_getmetatable(L, i)) {
    luaL_getmetatable(L, TENSOR_MT);
    is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  return is;
}

/*
** The one shape of a bad input: "luagrad.<fn>: bad <thing> (<what> expected[ at index
** <i>], got <type of the value at stack index at>)", where thing is "argument #<n>",
** "option '<name>'" or "field '<name>'". Every helper below raises it, and never returns.
*/
static int badinput (lua_State *L, const char *fn, const char *thing, const char *what,
                     lua_Integer index, int at) {
  const char *type = lgL_typename(L, at);
  if (index > 0)
    return luaL_error(L, "luagrad.%s: bad %s (%s expected at index %d, got %s)", fn, thing,
                      what, (int)index, type);
  return luaL_error(L, "luagrad.%s: bad %s (%s expected, got %s)", fn, thing, what, type);
}

/* "luagrad.<fn>: bad argument #<arg> (<what> expected, got <type>)" */
int lgL_argerror (lua_State *L, const char *fn, int arg, const char *what) {
  return lgL_argerrorat(L, fn, arg, what, 0, arg);
}

/* The same for argument arg whose bad part is at stack index at: element index of its
   array, or the argument itself (index 0) when the stack holds it elsewhere. */
int lgL_argerrorat (lua_State *L, const char *fn, int arg, const char *what,
                    lua_Integer index, int at) {
  char thing[32];
  snprintf(thing, sizeof thing, "argument #%d", arg);
  return badinput(L, fn, thing, what, index, lua_absindex(L, at));
}

/* "luagrad.<fn>: bad option '<name>' (<what> expected[ at index <i>], got <type>)" */
int lgL_opterror (lua_State *L, const char *fn, const char *name, const char *what,
                  lua_Integer index, int at) {
  char thing[64];
  snprintf(thing, sizeof thing, "option '%.40s'", name);
  return badinput(L, fn, thing, what, index, lua_absindex(L, at));
}

/* "luagrad.<fn>: bad field '<name>' (<what> expected, got <type>)" */
int lgL_fielderror (lua_State *L, const char *fn, const char *name, const char *what, int at) {
  char thing[64];
  snprintf(thing, sizeof thing, "field '%.40s'", name);
  return badinput(L, fn, thing, what, 0, lua_absindex(L, at));
}

/* raise "luagrad: bad operand #<arg> to '<op>' (number or value expected, got <type>)" */
int lgL_operror (lua_State *L, const char *op, int arg) {
  return luaL_error(L, "luagrad: bad operand #%d to '%s' (number or value expected, got %s)",
                    arg, op, lgL_typename(L, arg));
}

int lgL_memerror (lua_State *L) {
  lua_pushliteral(L, "not enough memory");
  return lua_error(L);
}

/* Raises the error a core call returned: out of memory, a host function's message, or the
   NaN that anomaly detection found in a backward. */
int lgL_coreerror (lua_State *L, int err, lg_Work *W) {
  if (err == LG_EHOST) {   /* a custom function's callback: with its traceback (trace.c) */
    luaL_where(L, 1);   /* as luaL_error */
    lua_pushfstring(L, "luagrad.%s: %s", W->msgfrom, W->msg);
    lua_concat(L, 2);
    return lgL_rethrowas(L, W->msg);
  }
  if (err == LGI_ENAN) return lgL_nanerror(L, W);
  if (err == LGI_ETENSOR)
    return luaL_error(L, "luagrad: tensors are not supported here yet (lg.compile, forward "
                         "mode, create_graph and nested transforms on tensors come later)");
  if (err == LGI_EVERSION)
    return luaL_error(L, "luagrad: a tensor needed for backward was changed in place (after "
                         "the op that needs it ran: compute again from the changed tensor)");
  if (err == LGI_EBUSY)
    return luaL_error(L, "luagrad: a custom function's callback cannot walk the graph being "
                         "differentiated (backward, lg.gradients, zero_grad, to_dot on its "
                         "Values)");
  return lgL_memerror(L);
}


lg_Value *lgL_checkvalue (lua_State *L, int arg, const char *fn) {
  lg_Value *v = lgL_tovalue(L, arg);
  if (v == NULL) lgL_argerror(L, fn, arg, "value");
  return v;
}

static void *noalloc (void *ud, void *ptr, size_t osize, size_t nsize);

/* The scratch buffers, with the state's allocator as it is now: a host may replace it
   with lua_setallocf after opening the module, and Lua's contract is that the new one
   also frees and grows blocks the old one made. */
lg_Work *lgL_getwork (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  if (W->allocf != noalloc) W->allocf = (lg_Alloc)lua_getallocf(L, &W->ud);
  return W;
}

/* Pushes new scratch buffers of their own, freed by the collector (or sooner, with
   lgI_workfree): for work that must not share the state's, which a finalizer or a custom
   function's callback may be using meanwhile. */
lg_Work *lgL_newwork (lua_State *L) {
  lg_Work *shared = lgL_getwork(L);
  lg_Work *W = (lg_Work *)lgC_newuserdata(L, sizeof(lg_Work), 0);
  lgI_workinit(W, shared->allocf, shared->ud);
  W->ctx = L;
  W->mode = shared->mode;   /* what ops made meanwhile must honour */
  W->mt = shared->mt;
  W->nested = shared->busy > 0;
  lua_getmetatable(L, UV_WORK);  /* its __gc frees the buffers */
  lua_setmetatable(L, -2);
  return W;
}

/* The state's scratch buffers, or, while a sweep holds them (a custom function's callback
   is running), new ones pushed on the stack. */
lg_Work *lgL_usework (lua_State *L) {
  lg_Work *W = lgL_getwork(L);
  if (W->busy) return lgL_newwork(L);
  W->ctx = L;
  return W;
}

/* Starts a sweep that may call back into Lua (custom functions): the buffers to use, marked
   busy, and L made the context callbacks run in (the previous one saved in *saved). */
lg_Work *lgL_beginsweep (lua_State *L, void **saved) {
  lg_Work *shared = lgL_getwork(L);
  lg_Work *W = shared->busy ? lgL_newwork(L) : shared;
  *saved = shared->ctx;
  shared->ctx = L;
  W->ctx = L;
  W->busy++;
  return W;
}

void lgL_endsweep (lua_State *L, lg_Work *W, void *saved) {
  W->busy--;
  lgL_getwork(L)->ctx = saved;
}

/* An operand: a Value (*v set) or a number (*x set); 0 if it is neither. */
int lgL_operand (lua_State *L, int i, lg_Value **v, double *x) {
  *x = 0.0;
  if ((*v = lgL_tovalue(L, i)) != NULL) {
    *x = (*v)->data;
    return 1;
  }
  if (lua_type(L, i) == LUA_TNUMBER) {
    *x = (double)lua_tonumber(L, i);
    return 1;
  }
  return 0;
}

/* Raises on a key of the options table at t that is not in names (NULL-terminated). */
void lgL_checkoptions (lua_State *L, int t, const char *fn, const char *const *names) {
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int i, known = 0;
    lua_pop(L, 1);
    for (i = 0; names[i] != NULL && !known; i++)
      known = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), names[i]) == 0;
    if (!known) {
      if (lua_type(L, -1) == LUA_TSTRING)
        luaL_error(L, "luagrad.%s: unknown option '%s'", fn, lua_tostring(L, -1));
      luaL_error(L, "luagrad.%s: unknown option (a %s key)", fn, luaL_typename(L, -1));
    }
  }
}

int lgL_optboolean (lua_State *L, int t, const char *field, const char *fn) {
  int b;
  lua_pushstring(L, field);   /* raw, as lgL_checkoptions walks the table */
  lua_rawget(L, t < 0 ? t - 1 : t);
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) lgL_opterror(L, fn, field, "boolean", 0, -1);
  b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* }================================================================== */


/* {==================================================================
** Constructors
** =================================================================== */


/* The allocator of released buffers: lua_close finalizes objects older than the module
   after the buffers, and a finalizer of theirs that calls luagrad must not allocate
   buffers that nobody would free. It gets "not enough memory" instead. */
static void *noalloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud; (void)ptr; (void)osize; (void)nsize;
  return NULL;  /* the buffers are already NULL, so there is never a block to free */
}

static int work_gc (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, 1);
  W->allocf = (lg_Alloc)lua_getallocf(L, &W->ud);
  lgI_workfree(W);
  W->allocf = noalloc;
  return 0;
}

/* Pushes the module's shared upvalues: metatable, scratch buffers, labels. */
void lgL_pushupvalues (lua_State *L) {
  /* each part is checked, not just created: an open that ran out of memory half way may
     have left the metatable unlocked or the label table strong */
  luaL_newmetatable(L, VALUE_MT);
  if (lua_getfield(L, -1, "__metatable") == LUA_TNIL) {
    lua_pushliteral(L, VALUE_MT);
    lua_setfield(L, -3, "__metatable");
  }
  lua_pop(L, 1);
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, WORK_KEY) == 0 || lua_rawlen(L, -1) == 0) {
    void *ud;
    lua_Alloc allocf = lua_getallocf(L, &ud);
    lg_Work *W = (lg_Work *)lgC_newuserdata(L, sizeof(lg_Work), 0);
    lgI_workinit(W, (lg_Alloc)allocf, ud);
    lua_newtable(L);
    lua_pushcfunction(L, work_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawseti(L, -2, 1);
  }
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  ((lg_Work *)lua_touserdata(L, -1))->mt = lua_topointer(L, -2);
  lgL_weaktable(L, LABELS_KEY, "k");
}

/* Pushes registry[key], a table made weak as mode says ("k", "v") if it is new. */
void lgL_weaktable (lua_State *L, const char *key, const char *mode) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, key);
  if (lua_getmetatable(L, -1)) lua_pop(L, 1);
  else {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
}

/* Sets t[name] = f with the shared upvalues and extra (at index extra) as upvalue 4. */
void lgL_setclosure (lua_State *L, int t, const char *name, lua_CFunction f, int extra) {
  lgL_pushupvalues(L);
  lua_pushvalue(L, extra);
  lua_pushcclosure(L, f, NUPVALUES + 1);
  lua_setfield(L, t, name);
}

