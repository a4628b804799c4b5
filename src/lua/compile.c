/*
** compile.c: lg.compile in Lua. A compiled function records its function's graph
** once, on fresh leaves, with guards for what Lua saw; then replays the tape in C for new
** numbers (graph/tape.c), recording again when a guard breaks or the arguments change shape.
**
** Lua code may run at many points of a call: f while recording, a custom function's
** callbacks during a replay, a finalizer at any allocation. It may change the argument
** tables, call the compiled function again, or record it anew. So nothing read from a
** table or from the tape is trusted across such a point: the results are shaped from the
** recorded shape (a userdata held on the stack), a new recording is built aside and
** installed only whole, and a stamp tells whether another call used the tape meanwhile.
*/
#include <math.h>
#include <string.h>

#include "lua/lg_lua.h"

/* A compiled function: its tape and how often it recorded. User values: 1 the function,
   2 what keeps the last recording's graph alive (the tape points into it: external leaves),
   3 the shape of the arguments it was recorded for (a userdata of int32: its length n, then
   n entries in preorder: -1 for a number, else a table's length, followed by its
   elements'). */
typedef struct Compiled {
  lg_Tape T;
  lua_Integer recordings;
  unsigned stamp;  /* changes whenever a call may have written into T or replaced it */
  int running;     /* a replay is under way (a custom function's callback may call c again) */
  int once;        /* the recording saw what no guard can check: record on every call */
  uint32_t nreach; /* T.ext[0 .. nreach-1] feed the result; the rest only guards */
} Compiled;

/* A grad that a backward replay must leave as it was: an external leaf that only guards
   read is no ancestor of the result, and eager backward never touches it. */
typedef struct Kept {
  double grad;
  uint8_t flags;
} Kept;

#define MAXDEPTH 64   /* nesting of argument tables */


static Compiled *checkcompiled (lua_State *L) {
  return (Compiled *)luaL_checkudata(L, 1, COMPILED_MT);
}

static int badcompiledarg (lua_State *L, int arg, int idx) {
  return lgL_argerrorat(L, "compiled", arg - 1, "number or array of numbers", 0, idx);
}

/* Leaves for argument idx (a number, or nested arrays of numbers), pushed; each leaf is
   appended to the table at inputs, its shape to the table at shape. A finalizer may change
   the table meanwhile: the shape is what this walk saw, and the leaves follow it. */
static void makeleaves (lua_State *L, int idx, int arg, int inputs, int shape, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "argument tables nested too deeply");
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lgL_newleaf(L, (double)lua_tonumber(L, idx));
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
  const int32_t *shape;   /* the recorded shape's entries (after its length) */
  uint32_t nshape, pos, input;
} Walk;

/* Puts the numbers of argument idx into the tape's inputs; 0 if its shape differs from the
   recorded one (then the caller records again). Runs no Lua code and allocates nothing. */
static int gather (lua_State *L, int idx, int arg, Walk *w, int depth) {
  idx = lua_absindex(L, idx);
  if (w->pos >= w->nshape) return 0;
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

/* Pushes the container of one argument's gradient, from the recorded shape alone: 0 for a
   number, else a table of that length holding its elements' containers. Allocates (so
   finalizers may run); fillgrads puts the numbers in later. */
static void pushcontainer (lua_State *L, Walk *w) {
  int32_t len = w->shape[w->pos++];
  luaL_checkstack(L, 3, "argument tables nested too deeply");
  if (len < 0) lua_pushnumber(L, 0);
  else {
    int32_t i;
    lua_createtable(L, (int)len, 0);
    for (i = 1; i <= len; i++) {
      pushcontainer(L, w);
      lua_rawseti(L, -2, i);
    }
  }
}

/* Fills the container at idx (or, for a number, replaces it) with the tape's adjoints.
   Writes numbers into array slots the tables already have: no allocation, no Lua code. */
static void fillgrads (lua_State *L, int idx, Walk *w) {
  int32_t len = w->shape[w->pos++];
  idx = lua_absindex(L, idx);
  if (len < 0) {
    int32_t t = w->c->T.input[w->input++];
    lua_pushnumber(L, (lua_Number)(t >= 0 ? w->c->T.adj[t] : 0.0));
    lua_replace(L, idx);
  }
  else {
    int32_t i;
    for (i = 1; i <= len; i++) {
      lua_rawgeti(L, idx, i);
      if (lua_type(L, -1) == LUA_TNUMBER) {
        int32_t t = w->c->T.input[w->input++];
        w->pos++;
        lua_pop(L, 1);
        lua_pushnumber(L, (lua_Number)(t >= 0 ? w->c->T.adj[t] : 0.0));
        lua_rawseti(L, idx, i);
      }
      else {
        fillgrads(L, -1, w);
        lua_pop(L, 1);
      }
    }
  }
}

#if LUA_VERSION_NUM >= 503
/* The double nearest the integer n on the side up says (the least one >= n, or the greatest
   one <= n): n itself when a double holds it. */
static double nearside (lua_Integer n, int up) {
  double d = (double)n;   /* rounded to nearest: at most one step past n */
  int above = d >= 9223372036854775808.0 || (lua_Integer)d > n;   /* 2^63: past any n */
  int below = !above && (lua_Integer)d < n;
  if (up && below) d = nextafter(d, HUGE_VAL);
  else if (!up && above) d = nextafter(d, -HUGE_VAL);
  return d;
}
#endif

/* Index of guard operand at stack index i (right: the b of a < b or a <= b, else a): a
   Value in the tape, or the constant *k. A Lua integer that no double holds is compared by
   Lua exactly, so its constant is the double that gives every float the same outcome:
   x < n is x < (least double >= n), x <= n is x <= (greatest <= n), n < x is (greatest
   <= n) < x, n <= x is (least >= n) <= x. */
static int32_t guardoperand (lua_State *L, int i, double *k, int kind, int right) {
  lg_Value *v = lgL_tovalue(L, i);
  if (v != NULL) {
    *k = v->data;
    return lgI_tapeindex(v);
  }
#if LUA_VERSION_NUM >= 503
  if (kind != LGI_GDATA && lua_isinteger(L, i)) {
    *k = nearside(lua_tointeger(L, i), (kind == LGI_GLT) == right);
    return -1;
  }
#else
  (void)kind; (void)right;
#endif
  *k = (double)lua_tonumber(L, i);
  return -1;
}

/* Sets or clears LGI_GIVEN on the nodes of W->order made outside any recording (values,
   outputs and calls alike; leaves are read on each replay anyway): set only while the tape
   is made, which freezes them (graph/tape.c). Eager mode never computes them again, so
   neither may a replay: x * q, with q = p * 2 made before, uses q's data whatever p's. */
static void flagoutside (lg_Work *W, int on) {
  size_t i;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    if (!on) v->flags &= (uint8_t)~LGI_GIVEN;
    else if ((v->flags & LGL_OUTSIDE) && v->kind != LGI_KLEAF) v->flags |= LGI_GIVEN;
  }
}

/* Sets or clears LGI_INPUT on the leaves in the table at inputs: set only while the tape is
   made, so that no other recording (a nested one) takes them for its own inputs. */
static void flaginputs (lua_State *L, int inputs, int on) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, inputs);
  for (i = 1; i <= n; i++) {
    lg_Value *v;
    lua_rawgeti(L, inputs, i);
    v = lgL_tovalue(L, -1);
    if (on) v->flags |= LGI_INPUT;
    else v->flags &= (uint8_t)~LGI_INPUT;
    lua_pop(L, 1);
  }
}

/* Puts the external leaves of T that out depends on first in T->ext and returns how many
   (a replay reads them all, in any order). On an error T is freed. */
static uint32_t reachfirst (lua_State *L, lg_Tape *T, lg_Work *W, lg_Value *out) {
  uint32_t i, k;
  int err = lgI_toposort(W, out);
  if (err != LG_OK) {
    lgI_tapefree(T);
    lgL_coreerror(L, err, W);
  }
  for (i = k = 0; i < T->nexternal; i++) {
    if (T->ext[i]->flags & LGI_MARKED) {
      lg_Value *v = T->ext[i];
      uint32_t x = T->extidx[i];
      T->ext[i] = T->ext[k];
      T->extidx[i] = T->extidx[k];
      T->ext[k] = v;
      T->extidx[k++] = x;
    }
  }
  lgI_unmark(W);
  return k;
}

/* Flattens the recording (result at res, input leaves at inputs, guards at guards) into T,
   which nothing else owns yet. Every Lua allocation comes before the tape's block, so that
   once this returns no error can leak it; on an error T has no block. The external leaves
   that feed the result come first in T->ext (*nreach of them): a replay reads them all in
   any order, but only those gain grads, as in eager mode. */
static void flatten (lua_State *L, lg_Tape *T, int res, int inputs, int guards,
                     uint32_t *nreach) {
  lg_Work *W = lgL_usework(L);
  uint32_t i, nin = (uint32_t)lua_rawlen(L, inputs), ng = (uint32_t)lua_rawlen(L, guards) / 4;
  lg_Value **roots = (lg_Value **)lgC_newuserdatauv(L, (2 * ng + 1) * sizeof(lg_Value *), 0);
  size_t nroots = 1;
  int err;
  roots[0] = lgL_tovalue(L, res);
  for (i = 0; i < 2 * ng; i++) {  /* each guard's operands that are Values */
    lua_rawgeti(L, guards, 4 * (lua_Integer)(i / 2) + 2 + (i % 2));
    if (lgL_tovalue(L, -1) != NULL) roots[nroots++] = lgL_tovalue(L, -1);
    lua_pop(L, 1);
  }
  luaL_checkstack(L, 4, NULL);
  if ((err = lgI_toposortn(W, roots, nroots)) != LG_OK) lgL_coreerror(L, err, W);
  memset(T, 0, sizeof(*T));
  T->allocf = W->allocf;
  T->ud = W->ud;
  flaginputs(L, inputs, 1);
  flagoutside(W, 1);
  err = lgI_tapebegin(T, W, roots[0], nin, ng);
  flagoutside(W, 0);
  flaginputs(L, inputs, 0);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  for (i = 1; i <= nin; i++) {
    lua_rawgeti(L, inputs, i);
    T->input[i - 1] = lgI_tapeindex(lgL_tovalue(L, -1));
    lua_pop(L, 1);
  }
  for (i = 0; i < ng; i++) {
    lg_Guard *g = &T->guard[i];
    lua_Integer base = 4 * (lua_Integer)i;
    lua_rawgeti(L, guards, base + 1);
    lua_rawgeti(L, guards, base + 2);
    lua_rawgeti(L, guards, base + 3);
    lua_rawgeti(L, guards, base + 4);
    g->kind = (uint8_t)lua_tointeger(L, -4);
    g->expect = (uint8_t)lua_toboolean(L, -1);
    g->a = guardoperand(L, -3, &g->ka, g->kind, 0);
    if (g->kind == LGI_GDATA) g->ka = (double)lua_tonumber(L, -2);
    else g->b = guardoperand(L, -2, &g->kb, g->kind, 1);
    lua_pop(L, 4);
  }
  if (!W->recording) {   /* from now on made before any recording: frozen in the next ones */
    for (i = 0; i < W->count; i++) W->order[i]->flags |= LGL_OUTSIDE;
  }
  lgI_tapeend(W);
  *nreach = T->nexternal;
  if (nroots > 1 && T->nexternal > 0) *nreach = reachfirst(L, T, W, roots[0]);
  lua_pop(L, 1);  /* roots */
}

/* Makes the value on top (popped) the guard list of the recording under way: protected,
   as the registry may need room for the key. */
static int setguards (lua_State *L) {
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  return 0;
}

#define RECORDING_MT "luagrad.Recording"

/* __close of the value that ends a recording on 5.4 in the main thread (t[1]: the scope's
   token, t[2]: the outer recording's guard list), however f ends. Neither allocates nor
   raises, as a close while an error unwinds must not: the guard list's key is there. */
static int endrecording (lua_State *L) {
  lg_Work *W = (lg_Work *)lua_touserdata(L, UV_WORK);
  W->recording--;
  lua_rawgeti(L, 1, 1);
  lgL_closescope(L, -1);
  lua_rawgeti(L, 1, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
  return 0;
}

/* Calls f (at guards + 3, above setguards and the outer recording's guard list, with nargs
   leaves above it) in a recording into the guard list at guards; leaves its result above
   the scope's token (at guards + 3). The scope and the registry's guard list are restored
   however f ends. On 5.4 in the main thread f runs unprotected, a to-be-closed value
   ending the recording, so that its error unwinds untouched (the caller's traceback shows
   where f failed); elsewhere under a pcall whose catcher keeps that traceback for
   lg.traceback (see scopedcall in record.c). */
static void runf (lua_State *L, int guards, int nargs) {
  lg_Work *W = lgL_getwork(L);
  int status, closing = 0;
#if LUA_VERSION_NUM >= 504
  closing = lua_pushthread(L);
  lua_pop(L, 1);
#endif
  if (closing) {   /* made before the recording begins: its close allocates nothing */
    lua_createtable(L, 2, 0);
    luaL_setmetatable(L, RECORDING_MT);
  }
  else lgL_pushcatcher(L);
  lua_insert(L, guards + 3);   /* the closer or the catcher, at guards + 4 once: */
  lgL_openscope(L, 1);         /* the first change of state: a scope, at guards + 3 */
  lua_insert(L, guards + 3);
  lua_pushvalue(L, guards + 1);
  lua_pushvalue(L, guards);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    lgL_closescope(L, guards + 3);
    lua_error(L);
  }
#if LUA_VERSION_NUM >= 504
  if (closing) {
    lua_pushvalue(L, guards + 3);
    lua_rawseti(L, guards + 4, 1);   /* into the array part made for it: no allocation */
    lua_pushvalue(L, guards + 2);
    lua_rawseti(L, guards + 4, 2);
    lua_toclose(L, guards + 4);
    W->recording++;
    lua_call(L, nargs, 1);
    lua_closeslot(L, guards + 4);
    lua_remove(L, guards + 4);
  }
  else
#endif
  {
    W->recording++;
    status = lua_pcall(L, nargs, 1, guards + 4);
    W->recording--;
    lgL_closescope(L, guards + 3);
    lua_pushvalue(L, guards + 2);  /* the key is there: restoring it allocates nothing */
    lua_setfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);
    lua_remove(L, guards + 4);
    if (status != LUA_OK) lgL_rethrow(L);
  }
  if (lgL_tovalue(L, -1) == NULL)
    luaL_error(L, "luagrad.compile: the function must return a value, got %s",
               luaL_typename(L, -1));
}

/* Pushes the shape in the table at shape as user value 3's userdata: length, entries. */
static void pushshape (lua_State *L, int shape) {
  uint32_t k, n = (uint32_t)lua_rawlen(L, shape);
  int32_t *s = (int32_t *)lgC_newuserdatauv(L, ((size_t)n + 1) * sizeof(int32_t), 0);
  s[0] = (int32_t)n;
  for (k = 0; k < n; k++) {
    lua_rawgeti(L, shape, (lua_Integer)k + 1);
    s[k + 1] = (int32_t)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
}

/* Runs f on fresh leaves for the arguments at 2..top, recording guards, and makes the
   tape. f runs with recording on whatever scope fg was called in (fg returns numbers: an
   outer no_grad has nothing to stop), as torch.func.grad ignores an outer no_grad.
   Everything new (tape, anchors, shape) is made aside and installed in c only when all of
   it exists: an error on the way (out of memory too) leaves c as it was. */
static void record (lua_State *L, Compiled *c) {
  int i, nargs = lua_gettop(L) - 1, inputs, shape, guards, once;
  uint32_t nreach;
  lg_Tape T;
  lua_createtable(L, 0, 0);
  inputs = lua_gettop(L);
  lua_createtable(L, 0, 0);
  shape = lua_gettop(L);
  lua_createtable(L, 0, 0);
  guards = lua_gettop(L);
  luaL_checkstack(L, nargs + 8, "too many arguments");
  lua_pushcfunction(L, setguards);                   /* guards + 1 */
  lua_getfield(L, LUA_REGISTRYINDEX, GUARDS_KEY);    /* guards + 2: an outer recording's */
  lgC_getiuservalue(L, 1, 1);  /* f */
  for (i = 2; i <= nargs + 1; i++) makeleaves(L, i, i, inputs, shape, 0);
  runf(L, guards, nargs);
  /* what will be installed, all made before the tape's block */
  lua_createtable(L, 2, 0);  /* the anchors: the result and the guards' Values */
  lua_pushvalue(L, -2);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, guards);
  lua_rawseti(L, -2, 2);
  pushshape(L, shape);
  lua_getfield(L, guards, "once");
  once = lua_toboolean(L, -1);
  lua_pop(L, 1);
  flatten(L, &T, lua_gettop(L) - 2, inputs, guards, &nreach);
  /* the commit: nothing below allocates or raises */
  lgC_setiuservalue(L, 1, 3);
  lgC_setiuservalue(L, 1, 2);
  lgI_tapefree(&c->T);
  c->T = T;
  c->once = once;
  c->nreach = nreach;
  c->stamp++;
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
  c->stamp++;
  err = backward ? lgI_tapebackward(&c->T, W) : lgI_tapeforward(&c->T, W);
  c->running = 0;
  lgL_endsweep(L, W, saved);
  if (err == LG_EHOST) lgL_coreerror(L, err, W);
  return err;
}

/* Makes c's tape hold f's values for the arguments at 2..nargs+1: a replay of the tape, or
   a new recording when the shape differs, a guard breaks, or the last recording was for
   its own call only. Pushes the shape the tape was made for. */
static void forward (lua_State *L, Compiled *c, int nargs) {
  int i, err = LGI_EGUARD;
  c->stamp++;  /* T.val changes from here on */
  if (c->T.block != NULL && !c->once) {
    int same = 1;
    Walk w;
    w.c = c;
    w.pos = w.input = 0;
    lgC_getiuservalue(L, 1, 3);
    w.shape = (const int32_t *)lua_touserdata(L, -1) + 1;
    w.nshape = (uint32_t)w.shape[-1];
    lua_pop(L, 1);  /* still anchored as user value 3 */
    for (i = 2; i <= nargs + 1 && same; i++) same = gather(L, i, i, &w, 0);
    if (same && w.pos == w.nshape) err = replay(L, c, 0);
  }
  if (err != LG_OK) {
    record(L, c);
    if (replay(L, c, 0) != LG_OK)
      luaL_error(L, "luagrad.compiled: guards fail right after recording "
                    "(does the function depend on something besides its arguments?)");
  }
  lgC_getiuservalue(L, 1, 3);
}

/* fg(x1, ..., xn) -> value, d/dx1, ..., d/dxn */
static int compiled_call (lua_State *L) {
  Compiled *c = checkcompiled(L);
  int i, nargs = lua_gettop(L) - 1, res;
  uint32_t k, nkept;
  Kept *kept;
  Walk w;
  if (c->running)
    luaL_error(L, "luagrad.compiled: called from inside its own replay (a custom function's "
                  "callback)");
  if (lgL_getwork(L)->recording) lgL_unguarded(L);  /* its numbers come from no guard */
  luaL_checkstack(L, nargs + 4, "too many results");
  w.c = c;
  for (;;) {
    unsigned stamp;
    lua_settop(L, nargs + 1);
    forward(L, c, nargs);
    stamp = c->stamp;
    w.shape = (const int32_t *)lua_touserdata(L, -1) + 1;
    w.nshape = (uint32_t)w.shape[-1];
    w.pos = 0;
    nkept = c->T.nexternal - c->nreach;
    kept = (Kept *)lua_newuserdata(L, nkept * sizeof(Kept) + 1);
    res = lua_gettop(L) + 1;
    lua_pushnumber(L, 0);  /* the value's place */
    for (i = 0; i < nargs; i++) pushcontainer(L, &w);
    if (c->stamp == stamp) break;  /* else a finalizer used c meanwhile: its numbers */
  }
  for (k = 0; k < nkept; k++) {  /* no allocation from here on */
    const lg_Value *v = c->T.ext[c->nreach + k];
    kept[k].grad = v->grad;
    kept[k].flags = v->flags & LGI_GRADVALUE;
  }
  replay(L, c, 1);  /* a host function's error comes before any grad changes */
  for (k = 0; k < nkept; k++) {
    lg_Value *v = c->T.ext[c->nreach + k];
    v->grad = kept[k].grad;
    v->flags |= kept[k].flags;
  }
  lua_pushnumber(L, (lua_Number)c->T.val[c->T.out]);
  lua_replace(L, res);
  w.pos = w.input = 0;
  for (i = 0; i < nargs; i++) fillgrads(L, res + 1 + i, &w);
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
  luaL_newmetatable(L, RECORDING_MT);   /* completed if an open out of memory left it half made */
  if (lua_getfield(L, -1, "__close") == LUA_TNIL) {
    lgL_pushupvalues(L);
    lua_pushcclosure(L, endrecording, NUPVALUES);
    lua_setfield(L, -3, "__close");
  }
  lua_pop(L, 2);
  lgL_pushupvalues(L);
  lua_pushcclosure(L, mod_compile, NUPVALUES);
  lua_setfield(L, module, "compile");
}
