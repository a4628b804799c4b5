/*
** compile.c: lg.compile in Lua. A compiled function records its function's graph
** once, on fresh leaves, with guards for what Lua saw; then replays the tape in C for new
** numbers (graph/tape.c), recording again when a guard breaks or the arguments change shape.
*/
#include <string.h>

#include "lua/lg_lua.h"

/* A compiled function: its tape and how often it recorded. User values: 1 the function,
   2 what keeps the last recording's graph alive (the tape points into it: external leaves),
   3 the shape of the arguments it was recorded for (a userdata of int32: -1 for a number,
   else a table's length, followed by its elements'). */
typedef struct Compiled {
  lg_Tape T;
  lua_Integer recordings;
  uint32_t nshape;
  int running;  /* a replay is under way (a custom function's callback may call c again) */
} Compiled;

#define MAXDEPTH 64   /* nesting of argument tables */


static Compiled *checkcompiled (lua_State *L) {
  return (Compiled *)luaL_checkudata(L, 1, COMPILED_MT);
}

static int badcompiledarg (lua_State *L, int arg, int idx) {
  return luaL_error(L, "luagrad.compiled: bad argument #%d (number or array of numbers "
                       "expected, got %s)", arg - 1, lgL_typename(L, idx));
}

/* Leaves for argument idx (a number, or nested arrays of numbers), pushed; each leaf is
   flagged LGI_INPUT and appended to the table at inputs, its shape to the table at shape. */
static void makeleaves (lua_State *L, int idx, int arg, int inputs, int shape, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "argument tables nested too deeply");
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lg_Value *v = lgL_newleaf(L, (double)lua_tonumber(L, idx));
    v->flags |= LGI_INPUT;
    lua_pushvalue(L, -1);
    lua_rawseti(L, inputs, (lua_Integer)lua_rawlen(L, inputs) + 1);
    lua_pushinteger(L, -1);
    lua_rawseti(L, shape, (lua_Integer)lua_rawlen(L, shape) + 1);
  }
  else if (lua_type(L, idx) == LUA_TTABLE && depth < MAXDEPTH) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    if (len > INT32_MAX) luaL_error(L, "luagrad.compiled: argument table too long");
    lua_createtable(L, (int)len, 0);
    lua_pushinteger(L, len);
    lua_rawseti(L, shape, (lua_Integer)lua_rawlen(L, shape) + 1);
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      makeleaves(L, -1, arg, inputs, shape, depth + 1);
      lua_rawseti(L, -3, i);
      lua_pop(L, 1);
    }
  }
  else if (lua_type(L, idx) == LUA_TTABLE)
    luaL_error(L, "luagrad.compiled: bad argument #%d (arrays nested too deeply)", arg - 1);
  else badcompiledarg(L, arg, idx);
}

typedef struct Walk {
  Compiled *c;
  const int32_t *shape;
  uint32_t pos, input;
} Walk;

/* Puts the numbers of argument idx into the tape's inputs; 0 if its shape differs from the
   recorded one (then the caller records again). */
static int gather (lua_State *L, int idx, int arg, Walk *w, int depth) {
  idx = lua_absindex(L, idx);
  if (w->pos >= w->c->nshape) return 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int32_t t;
    if (w->shape[w->pos++] != -1) return 0;
    t = w->c->T.input[w->input++];
    if (t >= 0) w->c->T.val[t] = (double)lua_tonumber(L, idx);
    return 1;
  }
  else if (lua_type(L, idx) == LUA_TTABLE && depth < MAXDEPTH) {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    if (w->shape[w->pos++] != len) return 0;
    for (i = 1; i <= len; i++) {
      int ok;
      lua_rawgeti(L, idx, i);
      ok = gather(L, -1, arg, w, depth + 1);
      lua_pop(L, 1);
      if (!ok) return 0;
    }
    return 1;
  }
  else if (lua_type(L, idx) == LUA_TTABLE) return 0;  /* makeleaves reports it */
  return badcompiledarg(L, arg, idx);
}

/* Pushes the gradient of argument idx, shaped like it, from the tape's adjoints. */
static void pushgrads (lua_State *L, int idx, Walk *w, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 3, "argument tables nested too deeply");
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int32_t t = w->c->T.input[w->input++];
    lua_pushnumber(L, (lua_Number)(t >= 0 ? w->c->T.adj[t] : 0.0));
  }
  else {
    lua_Integer i, len = (lua_Integer)lua_rawlen(L, idx);
    lua_createtable(L, (int)len, 0);
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      pushgrads(L, -1, w, depth + 1);
      lua_rawseti(L, -3, i);
      lua_pop(L, 1);
    }
  }
}

/* Index of guard operand at stack index i: a Value in the tape, or the constant *k. */
static int32_t guardoperand (lua_State *L, int i, double *k) {
  lg_Value *v = lgL_tovalue(L, i);
  *k = v ? v->data : (double)lua_tonumber(L, i);
  return v ? lgI_tapeindex(v) : -1;
}

/* Flattens the recording (result at res, input leaves at inputs, guards at guards) into a
   new tape for c; the old one goes only once the new one is complete. */
static void flatten (lua_State *L, Compiled *c, int res, int inputs, int guards) {
  lg_Work *W = lgL_usework(L);
  uint32_t i, nin = (uint32_t)lua_rawlen(L, inputs), ng = (uint32_t)lua_rawlen(L, guards) / 4;
  lg_Value **roots = (lg_Value **)lgC_newuserdatauv(L, (2 * ng + 1) * sizeof(lg_Value *), 0);
  size_t nroots = 1;
  lg_Tape T;
  int err;
  roots[0] = lgL_tovalue(L, res);
  for (i = 0; i < 2 * ng; i++) {  /* each guard's operands that are Values */
    lua_rawgeti(L, guards, 4 * (lua_Integer)(i / 2) + 2 + (i % 2));
    if (lgL_tovalue(L, -1) != NULL) roots[nroots++] = lgL_tovalue(L, -1);
    lua_pop(L, 1);
  }
  if ((err = lgI_toposortn(W, roots, nroots)) != LG_OK) lgL_coreerror(L, err, W);
  memset(&T, 0, sizeof(T));
  T.allocf = W->allocf;
  T.ud = W->ud;
  luaL_checkstack(L, 4, NULL);
  err = lgI_tapebegin(&T, W, roots[0], nin, ng);
  for (i = 1; i <= nin; i++) {  /* no Lua error may come until the tape has its owner */
    lua_rawgeti(L, inputs, i);
    lgL_tovalue(L, -1)->flags &= (uint8_t)~LGI_INPUT;
    if (err == LG_OK) T.input[i - 1] = lgI_tapeindex(lgL_tovalue(L, -1));
    lua_pop(L, 1);
  }
  if (err != LG_OK) lgL_memerror(L);
  for (i = 0; i < ng; i++) {
    lg_Guard *g = &T.guard[i];
    lua_Integer base = 4 * (lua_Integer)i;
    lua_rawgeti(L, guards, base + 1);
    lua_rawgeti(L, guards, base + 2);
    lua_rawgeti(L, guards, base + 3);
    lua_rawgeti(L, guards, base + 4);
    g->kind = (uint8_t)lua_tointeger(L, -4);
    g->expect = (uint8_t)lua_toboolean(L, -1);
    g->a = guardoperand(L, -3, &g->ka);
    if (g->kind == LGI_GDATA) g->ka = (double)lua_tonumber(L, -2);
    else g->b = guardoperand(L, -2, &g->kb);
    lua_pop(L, 4);
  }
  lgI_tapeend(W);
  lgI_tapefree(&c->T);
  c->T = T;
  lua_pop(L, 1);  /* roots */
}

#if LUA_VERSION_NUM >= 504 && LUA_VERSION_RELEASE_NUM >= 50403
#define CLOSE_RECORDING 1
/* __close of the value that ends a recording (t[1]: the scope's token, t[2]: the outer
   recording's guards), however f ends: f runs unprotected, so an error it raises unwinds
   untouched and the caller's message handler still sees where f failed. Neither allocates
   nor raises, as a __close running while an error unwinds must not. */
static int endrecording (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  W->recording--;
  lua_rawgeti(L, 1, 1);
  lgL_closescope(L, -1);
  lua_rawgeti(L, 1, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  return 0;
}
#endif

/* Runs f on fresh leaves for the arguments at 2..top, recording guards, and makes the
   tape. Leaves the anchors and shape as user values of c (at index 1). f runs with
   recording on whatever scope fg was called in (fg returns numbers: an outer no_grad has
   nothing to stop), as torch.func.grad ignores an outer no_grad. */
static void record (lua_State *L, Compiled *c) {
  lg_Work *W = lgL_getwork(L);
  int i, nargs = lua_gettop(L) - 1, inputs, shape, guards, status;
  lua_createtable(L, 0, 0);
  inputs = lua_gettop(L);
  lua_createtable(L, 0, 0);
  shape = lua_gettop(L);
  lua_createtable(L, 0, 0);
  guards = lua_gettop(L);
  lgC_getiuservalue(L, 1, 1);  /* f */
  luaL_checkstack(L, nargs + 4, "too many arguments");
  for (i = 2; i <= nargs + 1; i++) makeleaves(L, i, i, inputs, shape, 0);
#if defined(CLOSE_RECORDING)
  lua_createtable(L, 2, 0);  /* the value that ends the recording, made before it begins */
  lua_createtable(L, 0, 1);
  lgL_pushupvalues(L);
  lua_pushcclosure(L, endrecording, NUPVALUES);
  lua_setfield(L, -2, "__close");
  lua_setmetatable(L, -2);
#endif
  lgL_openscope(L, 1);  /* at guards + 2 once the outer guards are below it */
  lua_insert(L, guards + 1);
  lua_getfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);  /* an outer recording's, restored below */
  lua_insert(L, guards + 1);
  lua_pushvalue(L, guards);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
#if defined(CLOSE_RECORDING)
  lua_pushvalue(L, guards + 2);
  lua_rawseti(L, -2, 1);  /* into the array part made for it: no allocation */
  lua_pushvalue(L, guards + 1);
  lua_rawseti(L, -2, 2);
  lua_insert(L, guards + 3);  /* below f, to be closed however f ends */
  lua_toclose(L, guards + 3);
  W->recording++;
  lua_call(L, nargs, 1);
  lua_closeslot(L, guards + 3);
  lua_remove(L, guards + 3);
  (void)status;
#else
  W->recording++;
  status = lua_pcall(L, nargs, 1, 0);
  W->recording--;
  lgL_closescope(L, guards + 2);
  lua_pushvalue(L, guards + 1);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  if (status != LUA_OK) lua_error(L);
#endif
  if (lgL_tovalue(L, -1) == NULL)
    luaL_error(L, "luagrad.compile: the function must return a value, got %s",
               luaL_typename(L, -1));
  flatten(L, c, lua_gettop(L), inputs, guards);
  lua_createtable(L, 2, 0);  /* the anchors: the result and the guards' Values */
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, guards);
  lua_rawseti(L, -2, 2);
  lgC_setiuservalue(L, 1, 2);
  c->nshape = (uint32_t)lua_rawlen(L, shape);
  {
    int32_t *s = (int32_t *)lgC_newuserdatauv(L, (c->nshape + 1) * sizeof(int32_t), 0);
    uint32_t k;
    for (k = 0; k < c->nshape; k++) {
      lua_rawgeti(L, shape, (lua_Integer)k + 1);
      s[k] = (int32_t)lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    lgC_setiuservalue(L, 1, 3);
  }
  c->recordings++;
  lua_settop(L, nargs + 1);
}

/* Replays c's tape forward (backward) for the numbers in it: LG_OK, or LGI_EGUARD (record
   again); a host function's error is raised. Host callbacks run in L meanwhile. */
static int replay (lua_State *L, Compiled *c, int backward) {
  void *saved;
  lg_Work *W = lgL_beginsweep(L, &saved);
  int err;
  c->running = 1;
  err = backward ? lgI_tapebackward(&c->T, W) : lgI_tapeforward(&c->T, W);
  c->running = 0;
  lgL_endsweep(L, W, saved);
  if (err == LG_EHOST) lgL_coreerror(L, err, W);
  return err;
}

/* fg(x1, ..., xn) -> value, d/dx1, ..., d/dxn */
static int compiled_call (lua_State *L) {
  Compiled *c = checkcompiled(L);
  int i, nargs = lua_gettop(L) - 1, err = LGI_EGUARD;
  Walk w;
  if (c->running)
    luaL_error(L, "luagrad.compiled: called from inside its own replay (a custom function's "
                  "callback)");
  w.c = c;
  w.pos = w.input = 0;
  if (c->T.block != NULL) {
    int same = 1;
    lgC_getiuservalue(L, 1, 3);
    w.shape = (const int32_t *)lua_touserdata(L, -1);
    lua_pop(L, 1);  /* still anchored as user value 3 */
    for (i = 2; i <= nargs + 1 && same; i++) same = gather(L, i, i, &w, 0);
    if (same && w.pos == c->nshape) err = replay(L, c, 0);
  }
  if (err != LG_OK) {
    record(L, c);
    if (replay(L, c, 0) != LG_OK)
      luaL_error(L, "luagrad.compiled: guards fail right after recording "
                    "(does the function depend on something besides its arguments?)");
  }
  replay(L, c, 1);
  luaL_checkstack(L, nargs + 2, "too many results");
  lua_pushnumber(L, (lua_Number)c->T.val[c->T.out]);
  w.input = 0;
  for (i = 2; i <= nargs + 1; i++) pushgrads(L, i, &w, 0);
  return nargs + 1;
}

/* fg.recordings, fg.nodes */
static int compiled_index (lua_State *L) {
  Compiled *c = checkcompiled(L);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "recordings") == 0) lua_pushinteger(L, c->recordings);
  else if (strcmp(k, "nodes") == 0) lua_pushinteger(L, (lua_Integer)c->T.nnodes);
  else lua_pushnil(L);
  return 1;
}

static int compiled_tostring (lua_State *L) {
  Compiled *c = checkcompiled(L);
  lua_pushfstring(L, "Compiled(nodes=%d, recordings=%d)", (int)c->T.nnodes,
                  (int)c->recordings);
  return 1;
}

static int compiled_gc (lua_State *L) {
  Compiled *c = checkcompiled(L);
  c->T.allocf = (lg_Alloc)lua_getallocf(L, &c->T.ud);  /* the state's allocator as it is now */
  lgI_tapefree(&c->T);
  return 0;
}

/* lg.compile(f) -> a compiled function */
static int mod_compile (lua_State *L) {
  Compiled *c;
  if (lua_type(L, 1) != LUA_TFUNCTION) {  /* or anything with __call, even behind a lock */
    if (!luaL_getmetafield(L, 1, "__call")) lgL_argerror(L, "compile", 1, "function");
    lua_pop(L, 1);
  }
  c = (Compiled *)lgC_newuserdatauv(L, sizeof(Compiled), 3);
  memset(c, 0, sizeof(*c));
  luaL_setmetatable(L, COMPILED_MT);
  lua_pushvalue(L, 1);
  lgC_setiuservalue(L, -2, 1);
  return 1;
}

static const luaL_Reg compiled_meta[] = {
  {"__call", compiled_call},
  {"__index", compiled_index},
  {"__tostring", compiled_tostring},
  {"__gc", compiled_gc},
  {NULL, NULL}
};

/* Creates the compiled functions' metatable (once per state) and adds lg.compile to the
   module table at module. */
void lgL_opencompile (lua_State *L, int module) {
  if (luaL_newmetatable(L, COMPILED_MT)) {
    lgL_pushupvalues(L);
    luaL_setfuncs(L, compiled_meta, NUPVALUES);
    lua_pushliteral(L, COMPILED_MT);
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  lgL_pushupvalues(L);
  lua_pushcclosure(L, mod_compile, NUPVALUES);
  lua_setfield(L, module, "compile");
}
