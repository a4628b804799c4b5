/*
** lg_lua.h: what the binding's files share (lg_lua.c: Values, ops, fields, methods and
** opening the module; lg_lua_host.c: host functions; lg_lua_compile.c: lg.compile;
** lg_lua_mode.c: no_grad and anomaly detection). Only these files include lua.h. Never
** installed.
*/
#ifndef LG_LUA_H
#define LG_LUA_H

#include "lua.h"
#include "lauxlib.h"

#include "lg_compat.h"
#include "lg_internal.h"

#define VALUE_MT "luagrad.Value"
#define WORK_KEY "luagrad.work"
#define LABELS_KEY "luagrad.labels"
#define COMPILED_MT "luagrad.Compiled"
#define GUARDS_KEY "luagrad.guards"   /* the guards of the recording under way */

/* More parent Values than this go in one table user value (Lua 5.4 caps user values at
   65535 per userdata and does not check it in release builds). */
#ifndef LG_MAXUSERVALUES
#define LG_MAXUSERVALUES 1024
#endif

/* Upvalues shared by every C function of the module. */
#define UV_MT lua_upvalueindex(1)       /* the Value metatable */
#define UV_WORK lua_upvalueindex(2)     /* the scratch buffers (a full userdata) */
#define UV_LABELS lua_upvalueindex(3)   /* Value -> label, weak keys */
#define UV_EXTRA lua_upvalueindex(4)    /* the op index, or the method table for __index */
#define NUPVALUES 3

/* The Value at index i, or NULL. The metatable comparison is what makes it sound: only this
   module creates userdata with that metatable, and scripts cannot read or replace it. */
static inline lg_Value *lgL_tovalue (lua_State *L, int i) {
  lg_Value *v = (lg_Value *)lua_touserdata(L, i);
  if (v != NULL && lua_getmetatable(L, i)) {
    int ok = lua_rawequal(L, -1, UV_MT);
    lua_pop(L, 1);
    if (ok) return v;
  }
  return NULL;
}

/* Errors, in the library's shapes (see the README): they raise, never return. */
LGI_FUNC const char *lgL_typename (lua_State *L, int i);   /* "value", or Lua's name */
LGI_FUNC int lgL_argerror (lua_State *L, const char *fn, int arg, const char *what);
LGI_FUNC int lgL_memerror (lua_State *L);
LGI_FUNC int lgL_coreerror (lua_State *L, int err, lg_Work *W);

/* The module's shared state and building blocks, for functions with its upvalues. */
LGI_FUNC lg_Work *lgL_getwork (lua_State *L);
LGI_FUNC lg_Work *lgL_newwork (lua_State *L);
LGI_FUNC lg_Work *lgL_usework (lua_State *L);
LGI_FUNC void lgL_apply (lua_State *L, int op, int ia, int ib);
LGI_FUNC int lgL_operand (lua_State *L, int i, lg_Value **v, double *x);
LGI_FUNC lg_Value *lgL_newnode (lua_State *L, int op, uint32_t n, int nuv);
LGI_FUNC lg_Value *lgL_newleaf (lua_State *L, double x);
LGI_FUNC void lgL_pushupvalues (lua_State *L);
LGI_FUNC void lgL_weaktable (lua_State *L, const char *key, const char *mode);
LGI_FUNC void lgL_setclosure (lua_State *L, int t, const char *name, lua_CFunction f,
                              int extra);

/* calls of host and custom functions (lg_lua_host.c, lg_lua_custom.c) */
LGI_FUNC int lgL_callargs (lua_State *L, const char *fn, int nin);
LGI_FUNC lg_Value *lgL_newcall (lua_State *L, const lg_Func *f, void *mem, int nvalues,
                                int def);
LGI_FUNC int lgL_pushoutputs (lua_State *L, lg_Value *call, int nout);
/* Pushes the backward function of a custom function's call and returns 1; 0 (nothing
   pushed) for a host function's. */
LGI_FUNC int lgL_pushcustombackward (lua_State *L, const lg_Value *call);
LGI_FUNC int lgL_iscustom (const lg_Value *call);
LGI_FUNC void lgL_opencustom (lua_State *L, int module);
LGI_FUNC lg_Work *lgL_beginsweep (lua_State *L, void **saved);
LGI_FUNC void lgL_endsweep (lua_State *L, lg_Work *W, void *saved);

/* derivatives as Values, forward mode and lg.gradients (lg_lua_grad.c) */
LGI_FUNC void lgL_checkoptions (lua_State *L, int t, const char *fn,
                                const char *const *names);
LGI_FUNC int lgL_optboolean (lua_State *L, int t, const char *field, const char *fn);
LGI_FUNC int lgL_backwardgraph (lua_State *L);
LGI_FUNC void lgL_pushgradvalue (lua_State *L, lg_Value *v, int vi);
LGI_FUNC void lgL_opengrad (lua_State *L, int module);

/* The modes of recording (lg_lua_mode.c): no_grad scopes, stop_gradient, anomaly detection.
   W->mode is nonzero when either is on: the one test an op makes on its fast path. */
LGI_FUNC void lgL_openmode (lua_State *L, int module);
LGI_FUNC int lgL_openscope (lua_State *L, int record);
LGI_FUNC void lgL_closescope (lua_State *L, int idx);
LGI_FUNC lg_Value *lgL_unrecorded (lua_State *L, double y, int first, int last);
LGI_FUNC void lgL_anomaly (lua_State *L, int node, const char *opname, const double *y, int ny);
LGI_FUNC int lgL_nanerror (lua_State *L, lg_Work *W);

/* lg.compile (lg_lua_compile.c) */
LGI_FUNC int lgL_compile (lua_State *L);
LGI_FUNC void lgL_opencompile (lua_State *L);
LGI_FUNC void lgL_addguard (lua_State *L, int kind, int a, int b, int expect);

#endif
