/*
** custom.c: functions defined in Lua with their own derivative,
**   local f = lg.custom{ forward = function (x, y) ... end,
**                        backward = function (g, x, y, out) return dx, dy end }
** used like a built-in op on Values and numbers. A call is a host function's call node
** (core/call.c) whose lg_Func lives in the node and calls back into Lua: forward from a
** compiled replay, backward from a sweep in numbers. A sweep on Values (create_graph) calls
** backward itself with Values (grad.c), so a backward written with operators and lg
** functions can be differentiated again.
*/
#include <string.h>

#include "lua/lg_lua.h"

#define CUSTOMS_KEY "luagrad.customs"   /* light userdata -> its Custom; weak values */
#define DEFINED_KEY "luagrad.defined"   /* Custom -> true; weak keys (see pushcustom) */
#define CUSTOM_NAMELEN 64
#define GONE "its definition was collected"   /* (see pushcustom) */

/* A custom function's definition. User values: 1 forward, 2 backward. */
typedef struct Custom {
  lg_Work *W;   /* the state's buffers: their ctx is the lua_State a sweep runs in */
  char name[CUSTOM_NAMELEN];
} Custom;

/* What a call holds after its node: the lg_Func of this call (its own numbers of inputs and
   outputs), whose ud points back here. */
typedef struct CustomCall {
  lg_Func f;
  const Custom *c;
} CustomCall;

static int customforward (void *ud, const double *x, double *y, char *msg, size_t msglen);
static int customvjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t msglen);

int lgL_iscustom (const lg_Value *call) {   /* a custom function's call? */
  return call->kind == LGI_KCALL && lgI_callrec(call)->f->forward == customforward;
}

/*
** Pushes the Custom userdata of c (kept alive by the calls that use it) and returns 1; 0
** (nothing pushed) if it is gone. A collection clears weak values that only objects being
** finalized reach before their finalizers run (Lua 5.1, 5.4), but keeps such weak keys
** until the next one: a finalizer that sweeps a graph only it reaches finds c among the
** keys, by a scan, and puts it back for the next look-up.
*/
static int pushcustom (lua_State *L, const Custom *c) {
  int found = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, CUSTOMS_KEY);
  lua_rawgetp(L, -1, c);
  if (lua_isnil(L, -1)) {
    lua_getfield(L, LUA_REGISTRYINDEX, DEFINED_KEY);
    lua_insert(L, -2);   /* customs, defined, nil (the first key) */
    while (!found && lua_next(L, -2)) {
      lua_pop(L, 1);
      found = lua_touserdata(L, -1) == (void *)c;
    }
    if (!found) {
      lua_pop(L, 2);
      return 0;
    }
    lua_remove(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, c);
  }
  lua_remove(L, -2);
  return 1;
}

int lgL_pushcustombackward (lua_State *L, const lg_Value *call) {
  const Custom *c;
  if (!lgL_iscustom(call)) return 0;
  c = ((const CustomCall *)lgI_callrec(call)->f->ud)->c;
  if (!pushcustom(L, c)) luaL_error(L, "luagrad.%s: " GONE, c->name);
  lgC_getiuservalue(L, -1, 2);
  lua_remove(L, -2);
  return 1;
}


/* {==================================================================
** Calling back into Lua from a sweep or a replay: everything that can raise runs inside
** lua_pcall, and an error becomes the lg_Func's message
** =================================================================== */

typedef struct Callback {
  const CustomCall *cc;
  int backward;            /* 0: y := forward(x); 1: gx := backward(gy, x, y) */
  const double *x, *y, *gy;
  double *out;
} Callback;

/* The Value at i, or NULL: a callback runs without the module's upvalues, which
   lgL_tovalue reads, so it asks the registry for the metatable. */
static const lg_Value *resultvalue (lua_State *L, int i) {
  const lg_Value *v = NULL;
  if (lua_getmetatable(L, i)) {
    luaL_getmetatable(L, VALUE_MT);
    if (lua_rawequal(L, -1, -2)) v = (const lg_Value *)lua_touserdata(L, i);
    lua_pop(L, 2);
  }
  return v;
}

/* Reads n results at the top of the stack into out: numbers from forward; from backward
   numbers, Values (their data: a backward written with lg.sum or lg.dot serves sweeps in
   numbers and on Values alike) or nil (0). */
static void readresults (lua_State *L, int backward, int n, double *out) {
  int i, first = lua_gettop(L) - n + 1;
  for (i = 0; i < n; i++) {
    int t = lua_type(L, first + i);
    const lg_Value *v;
    if (t == LUA_TNUMBER) out[i] = (double)lua_tonumber(L, first + i);
    else if (backward && t == LUA_TNIL) out[i] = 0.0;
    else if (backward && (v = resultvalue(L, first + i)) != NULL) out[i] = v->data;
    else luaL_error(L, "%s must return %s (result #%d is %s)",
                    backward ? "backward" : "forward", backward ? "numbers or values" : "numbers",
                    i + 1, resultvalue(L, first + i) ? "value" : luaL_typename(L, first + i));
  }
}

/* The callback itself, the Callback at index 1. The function's error object, if a number,
   becomes a string here, where converting it may raise (as the graph sweeps read it). */
static int protectedcallback (lua_State *L) {
  const Callback *cb = (const Callback *)lua_touserdata(L, 1);
  const lg_Func *f = &cb->cc->f;
  int i, nin = f->nin, nout = f->nout;
  luaL_checkstack(L, nin + 2 * nout + 4, "too many arguments");
  if (!pushcustom(L, cb->cc->c)) luaL_error(L, GONE);
  lgC_getiuservalue(L, -1, cb->backward ? 2 : 1);
  if (cb->backward) {
    for (i = 0; i < nout; i++) lua_pushnumber(L, (lua_Number)cb->gy[i]);
  }
  for (i = 0; i < nin; i++) lua_pushnumber(L, (lua_Number)cb->x[i]);
  if (cb->backward) {
    for (i = 0; i < nout; i++) lua_pushnumber(L, (lua_Number)cb->y[i]);
  }
  if (lgL_pcall(L, cb->backward ? nin + 2 * nout : nin, cb->backward ? nin : nout)
      != LUA_OK) {
    lgL_callbackfailed(L);   /* the message luagrad raises for it takes its traceback */
    if (lua_type(L, -1) == LUA_TNUMBER) lua_tostring(L, -1);
    return lua_error(L);
  }
  readresults(L, cb->backward, cb->backward ? nin : nout, cb->out);
  return 0;
}

/* Runs the callback in the state the sweep runs in. Nothing here may raise: the core is in
   the middle of a sweep. */
static int callback (const Callback *cb, char *msg, size_t msglen) {
  lua_State *L = (lua_State *)cb->cc->c->W->ctx;
  const char *s = "error object is not a string";
  int status;
  if (L == NULL || !lua_checkstack(L, 4)) {
    strncpy(msg, "no Lua state to call back into", msglen - 1);
    return 1;
  }
#if LUA_VERSION_NUM == 501   /* 5.1, LuaJIT: a C function is a new closure; make it inside */
  status = lua_cpcall(L, protectedcallback, (void *)cb);
#else
  lua_pushcfunction(L, protectedcallback);   /* a light C function: nothing allocated */
  lua_pushlightuserdata(L, (void *)cb);
  status = lua_pcall(L, 1, 0, 0);
#endif
  if (status == LUA_OK) return 0;
  if (lua_type(L, -1) == LUA_TSTRING) s = lua_tostring(L, -1);
  strncpy(msg, s, msglen - 1);
  msg[msglen - 1] = '\0';
  lua_pop(L, 1);
  return 1;
}

static int customforward (void *ud, const double *x, double *y, char *msg, size_t msglen) {
  Callback cb;
  cb.cc = (const CustomCall *)ud;
  cb.backward = 0;
  cb.x = x;
  cb.y = cb.gy = NULL;
  cb.out = y;
  return callback(&cb, msg, msglen);
}

static int customvjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t msglen) {
  Callback cb;
  cb.cc = (const CustomCall *)ud;
  cb.backward = 1;
  cb.x = x;
  cb.y = y;
  cb.gy = gy;
  cb.out = gx;
  return callback(&cb, msg, msglen);
}

/* }================================================================== */


/* {==================================================================
** Calls from Lua
** =================================================================== */

/* f(x1, ..., xn) -> y1, ..., ym (upvalue 4: the Custom) */
static int custom_call (lua_State *L) {
  const Custom *c = (const Custom *)lua_touserdata(L, UV_EXTRA);
  int i, nin = lua_gettop(L), nout, nvalues, first, mode;
  lg_Value *call;
  CustomCall *cc;
  size_t size;
  if (nin < 1 || nin > LG_MAXFUNCARGS)
    luaL_error(L, "luagrad.%s: bad number of arguments (1 to %d expected, got %d)", c->name,
               LG_MAXFUNCARGS, nin);
  nvalues = lgL_callargs(L, c->name, nin);
  luaL_checkstack(L, nin + 4, "too many arguments");   /* (5.1 allows 8000 slots in all) */
  lgC_getiuservalue(L, UV_EXTRA, 1);   /* forward, on floats, as backward gets them */
  for (i = 1; i <= nin; i++) {
    lg_Value *a;
    double x;
    lgL_operand(L, i, &a, &x);
    lua_pushnumber(L, (lua_Number)x);
  }
  first = nin + 1;
  lua_call(L, nin, LUA_MULTRET);
  luaL_checkstack(L, 4, "too many results");
  nout = lua_gettop(L) - nin;
  if (nout < 1 || nout > LG_MAXFUNCARGS)
    luaL_error(L, "luagrad.%s: forward must return 1 to %d numbers, got %d results", c->name,
               LG_MAXFUNCARGS, nout);
  for (i = first; i <= nin + nout; i++) {
    if (lua_type(L, i) != LUA_TNUMBER)
      luaL_error(L, "luagrad.%s: forward must return numbers (result #%d is %s)", c->name,
                 i - nin, lgL_typename(L, i));
  }
  mode = lgL_getwork(L)->mode;
  if (nvalues == 0 || (mode & LGI_NOGRAD)) {
    /* numbers in, numbers (floats, as the built-in ops give) out; under no_grad, leaves */
    for (i = first; i <= nin + nout; i++) {
      double y = (double)lua_tonumber(L, i);
      if (nvalues == 0) lua_pushnumber(L, (lua_Number)y);
      else if (i == first) lgL_unrecorded(L, y, 1, nin);   /* with a recording's guards */
      else lgL_newleaf(L, y);
      lua_replace(L, i);
    }
    return nout;
  }
  size = lgI_callsize((uint32_t)nin, (uint32_t)nout);
  cc = (CustomCall *)((char *)lgC_newuserdata(L, size + sizeof(CustomCall), nvalues + 1)
                      + size);
  cc->f.name = c->name;
  cc->f.nin = nin;
  cc->f.nout = nout;
  cc->f.forward = customforward;
  cc->f.vjp = customvjp;
  cc->f.ud = cc;
  cc->c = c;
  call = lgL_newcall(L, &cc->f, (char *)cc - size, nvalues, UV_EXTRA);
  for (i = 0; i < nout; i++) lgI_callrec(call)->y[i] = (double)lua_tonumber(L, first + i);
  if (mode & LGI_ANOMALY) lgL_anomaly(L, -1, c->name, lgI_callrec(call)->y, nout);
  return lgL_pushoutputs(L, call, nout);
}

/* lg.custom{forward = f, backward = b [, name = s]} -> a function */
static int mod_custom (lua_State *L) {
  static const char *const names[] = {"forward", "backward", "name", NULL};
  Custom *c;
  size_t len = 6;
  const char *name = "custom";
  if (lua_type(L, 1) != LUA_TTABLE) lgL_argerror(L, "custom", 1, "table");
  lgL_checkoptions(L, 1, "custom", names);
  lua_settop(L, 1);
  lua_pushliteral(L, "forward");   /* raw, as lgL_checkoptions walks it */
  lua_rawget(L, 1);
  lua_pushliteral(L, "backward");
  lua_rawget(L, 1);
  lua_pushliteral(L, "name");
  lua_rawget(L, 1);
  if (lua_type(L, 2) != LUA_TFUNCTION) lgL_fielderror(L, "custom", "forward", "function", 2);
  if (lua_type(L, 3) != LUA_TFUNCTION) lgL_fielderror(L, "custom", "backward", "function", 3);
  if (!lua_isnil(L, 4)) {
    if (lua_type(L, 4) != LUA_TSTRING) lgL_fielderror(L, "custom", "name", "string", 4);
    name = lua_tolstring(L, 4, &len);
    if (len == 0 || len >= CUSTOM_NAMELEN || strlen(name) != len)
      luaL_error(L, "luagrad.custom: bad field 'name' (1 to %d characters, no zero byte)",
                 CUSTOM_NAMELEN - 1);
  }
  c = (Custom *)lgC_newuserdatauv(L, sizeof(Custom), 2);
  c->W = lgL_getwork(L);
  memcpy(c->name, name, len + 1);
  lua_pushvalue(L, 2);
  lgC_setiuservalue(L, -2, 1);
  lua_pushvalue(L, 3);
  lgC_setiuservalue(L, -2, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, CUSTOMS_KEY);   /* so that callbacks find it */
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, c);
  lua_getfield(L, LUA_REGISTRYINDEX, DEFINED_KEY);
  lua_pushvalue(L, -3);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 2);
  lgL_pushupvalues(L);
  lua_pushvalue(L, -4);
  lua_pushcclosure(L, custom_call, NUPVALUES + 1);
  return 1;
}

void lgL_opencustom (lua_State *L, int module) {
  lgL_weaktable(L, CUSTOMS_KEY, "v");
  lgL_weaktable(L, DEFINED_KEY, "k");
  lua_pop(L, 2);
  lgL_setclosure(L, module, "custom", mod_custom, module);
}

/* }================================================================== */
