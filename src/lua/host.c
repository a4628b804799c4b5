/*
** host.c: host-defined differentiable functions (lg_Func) in Lua: registered under a
** name into a lua_State, and called like a built-in op on Values and numbers.
*/
#include <string.h>

#include "lua/lg_lua.h"

/* A registered function: the host's definition with its name copied in. */
typedef struct HostFunc {
  lg_Func f;
  char name[1];
} HostFunc;


/*
** Runs h on the data of its arguments and pushes its outputs, with no call node: numbers (all
** arguments numbers), or under no_grad leaves. The leaves and a recording's guards are made
** before the run, since making them may run a finalizer that uses W->x.
*/
static int callplain (lua_State *L, const HostFunc *h, lg_Work *W, int leaves) {
  int i, nin = h->f.nin, nout = h->f.nout, first = lua_gettop(L) + 1, err;
  lg_Value *a;
  if (leaves) {
    lgL_unrecorded(L, 0.0, 1, nin);  /* the first, with a guard per Value if recording */
    for (i = 1; i < nout; i++) lgL_newleaf(L, 0.0);
  }
  for (i = 1; i <= nin; i++) lgL_operand(L, i, &a, &W->x[i - 1]);
  err = lgI_hostforward(W, &h->f, W->x, W->x + nin);
  if (err != LG_OK) lgL_coreerror(L, err, W);
  for (i = 0; i < nout; i++) {
    if (leaves) ((lg_Value *)lua_touserdata(L, first + i))->data = W->x[nin + i];
    else lua_pushnumber(L, (lua_Number)W->x[nin + i]);
  }
  return nout;
}

/*
** The call of f on arguments 1..f->nin (numbers and nvalues Values, checked), with the
** definition at def anchored beside them, pushed; then its output Values once its outputs
** are set (lgL_pushoutputs). A custom function's forward runs first in Lua, a host's after.
*/
lg_Value *lgL_newcall (lua_State *L, const lg_Func *f, void *mem, int nvalues, int def) {
  int i, top, uv = 0;
  lg_Value *call = lgI_initcall(mem, f), *a;
  double x;
  lgL_marknode(L, call);
  top = lua_gettop(L);
  (void)nvalues;   /* only some Lua versions need it */
  lgC_beginparents(L, nvalues + 1);
  for (i = 1; i <= f->nin; i++) {
    lgL_operand(L, i, &a, &x);
    if (a == NULL) lgI_setconst(call, (uint32_t)i - 1, x);
    else {
      lgI_setarg(call, (uint32_t)i - 1, a);
      lua_pushvalue(L, i);
      lgC_addparent(L, top, ++uv);
    }
  }
  lua_pushvalue(L, def);   /* the call keeps the definition alive */
  lgC_addparent(L, top, ++uv);
  lgC_endparents(L, top);
  return call;
}

/* Pushes one output Value per output of the call on top of the stack. */
int lgL_pushoutputs (lua_State *L, lg_Value *call, int nout) {
  int i, top = lua_gettop(L);
  luaL_checkstack(L, nout + 2, "too many results");
  for (i = 0; i < nout; i++) {
    lgL_marknode(L, lgI_initoutput(lgL_newnode(L, LGI_OUTPUT, 2, 1), call, (uint32_t)i));
    lgC_setparents(L, &top, 1);
  }
  return nout;
}

/* Checks arguments 1..nin of fn (no more than nin given); returns how many are Values. */
int lgL_callargs (lua_State *L, const char *fn, int nin) {
  int i, nvalues = 0;
  lg_Value *a;
  double x;
  if (lua_gettop(L) > nin)
    luaL_error(L, "luagrad.%s: bad argument #%d (no more than %d arguments expected, got %s)",
               fn, nin + 1, nin, lgL_typename(L, nin + 1));
  for (i = 1; i <= nin; i++) {
    if (!lgL_operand(L, i, &a, &x)) lgL_argerror(L, fn, i, "number or value");
    if (a != NULL) nvalues++;
  }
  return nvalues;
}

/* lg.<name>(x1, ..., xn) -> y1, ..., ym: one call node, m output Values */
static int host_fn (lua_State *L) {
  const HostFunc *h = (const HostFunc *)lua_touserdata(L, UV_EXTRA);
  int nin = h->f.nin, nout = h->f.nout, nvalues = lgL_callargs(L, h->name, nin), top;
  lg_Work *W = lgL_usework(L);
  lg_Value *call;
  if (lgI_reservex(W, 2 * (size_t)nin + (size_t)nout) != LG_OK) lgL_memerror(L);
  luaL_checkstack(L, nout + 2, "too many results");
  if (nvalues == 0 || (W->mode & LGI_NOGRAD)) return callplain(L, h, W, nvalues > 0);
  call = lgL_newcall(L, &h->f, lgC_newuserdata(L, lgI_callsize(nin, nout), nvalues + 1),
                     nvalues, UV_EXTRA);
  top = lua_gettop(L);
  if (lgI_callforward(W, call) != LG_OK) lgL_coreerror(L, LG_EHOST, W);
  if (W->mode & LGI_ANOMALY) lgL_anomaly(L, top, h->name, lgI_callrec(call)->y, nout);
  return lgL_pushoutputs(L, call, nout);
}

/* Protected part of lg_register_op: the definition (light userdata) at index 1. */
static int doregister (lua_State *L) {
  const lg_Func *f = (const lg_Func *)lua_touserdata(L, 1);
  size_t len = strlen(f->name);
  HostFunc *h;
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  if (lua_getfield(L, -1, f->name) != LUA_TNIL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pop(L, 1);
  h = (HostFunc *)lgC_newuserdata(L, sizeof(HostFunc) + len, 0);
  h->f = *f;
  memcpy(h->name, f->name, len + 1);
  h->f.name = h->name;
  lgL_setclosure(L, 2, f->name, host_fn, 3);
  lua_pushboolean(L, 1);
  return 1;
}

int lg_register_op (lua_State *L, const lg_Func *f) {
  int ok;
  if (!lgI_validfunc(f)) return LG_EARG;
  lua_pushcfunction(L, doregister);
  lua_pushlightuserdata(L, (void *)f);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return LG_EMEM;
  }
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? LG_OK : LG_EARG;
}
