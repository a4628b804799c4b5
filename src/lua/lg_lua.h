/*
** lg_lua.h: what the binding's files (src/lua) share, in their order, each building only on
** those before it: base.c (errors, checks, scratch, upvalues, new nodes), trace.c (where a
** user's error was raised, kept across luagrad's protected calls), record.c (how ops
** record: no_grad scopes, anomaly detection, lg.compile's guards), tensor.c (tensors as
** data: their userdata, creation, fields, conversions, printing), ops.c (the operations
** from the op table), host.c (host functions' calls), custom.c (lg.custom), grad.c
** (derivatives as Values, forward mode, lg.gradients), value.c (Values' fields and methods),
** compile.c (lg.compile), data.c (the C side of luagrad.data), save.c (lg.save, lg.load:
** safetensors files), optim.c (the C side of luagrad.optim), sys.c (what the Lua parts need
** of the operating system), and open.c, which opens them all. Only the binding includes lua.h. Never installed.
*/
#ifndef LG_LUA_H
#define LG_LUA_H

#include "lua.h"
#include "lauxlib.h"

#include "lua/lg_compat.h"
#include "graph/lg_graph.h"
#include "core/lg_tnode.h"

#define VALUE_MT "luagrad.Value"
#define TENSOR_MT "luagrad.Tensor"
#define WORK_KEY "luagrad.work"
#define LABELS_KEY "luagrad.labels"
#define COMPILED_MT "luagrad.Compiled"
#define GUARDS_KEY "luagrad.guards"   /* the guards of the recording under way */
#define TMETHODS_KEY "luagrad.tmethods"   /* the tensor method table */
#define TNODES_KEY "luagrad.tnodes"   /* a tensor node -> its tensor, weak values */
#define TGRADS_KEY "luagrad.tgrads"   /* a tensor -> its .grad, weak keys */

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

/* The scratch buffers, for the hot path (without lgL_getwork's allocator refresh). */
#define lgL_fastwork(L) ((const lg_Work *)lua_touserdata(L, UV_WORK))

/*
** Operands 1..n of an op, each a Value (set in v[i], its data in x[i]) or a number (v[i]
** NULL); returns 0, or the index of an operand that is neither. The hot path of every
** operator: a Value is known by the address of its metatable, which W keeps (the metatable
** lives as long as the state: the registry and the module's functions hold it), and the
** stack is restored once. The caller reads W->mode from the same W.
*/
static inline int lgL_operands (lua_State *L, const lg_Work *W, int n, lg_Value **v,
                                double *x) {
  int top = lua_gettop(L), i;
  for (i = 0; i < n; i++) {
    int t = lua_type(L, i + 1);
    v[i] = NULL;
    if (t == LUA_TNUMBER) x[i] = (double)lua_tonumber(L, i + 1);
    else if (t == LUA_TUSERDATA && lua_getmetatable(L, i + 1) && lua_topointer(L, -1) == W->mt) {
      v[i] = (lg_Value *)lua_touserdata(L, i + 1);
      x[i] = v[i]->data;
    }
    else {
      lua_settop(L, top);
      return i + 1;
    }
  }
  lua_settop(L, top);
  return 0;
}

/* A new userdata node of op with n slots and nuv user values, with its metatable, on the
   stack. Created before anything else can fail, so the GC always sees a valid object.
   Inline, with lgL_newleaf: every op makes one. */
/* A bit of a node's flags that the core leaves alone: the node was made while no recording
   of lg.compile ran. A recording that meets such a node takes its data as it is at each call
   (eager mode never computes it again), instead of computing it from its parents. */
#define LGL_OUTSIDE 128u

static inline void lgL_marknode (lua_State *L, lg_Value *v) {
  if (!lgL_fastwork(L)->recording) v->flags |= LGL_OUTSIDE;
}

static inline lg_Value *lgL_newnode (lua_State *L, int op, uint32_t n, int nuv) {
  lg_Value *v = (lg_Value *)lgC_newuserdata(L, lgI_nodesize(n), nuv);
  lua_pushvalue(L, UV_MT);
  lua_setmetatable(L, -2);
  v = lgI_initnode(v, op, n);
  lgL_marknode(L, v);
  return v;
}

static inline lg_Value *lgL_newleaf (lua_State *L, double x) {
  lg_Value *v = lgL_newnode(L, LGI_LEAF, 0, 0);
  v->data = x;
  return v;
}

/* ---- base.c ---------------------------------------------------------------------- */

/* Errors, in the library's shapes (see the README): they raise, never return. A bad input
   is "luagrad.<fn>: bad <argument #n | option 'x' | field 'x'> (<what> expected[ at index
   <i>], got <type>)", the type that of the value at stack index at. */
LGI_FUNC const char *lgL_typename (lua_State *L, int i);   /* "value", "tensor", or Lua's */
/* Whether the value at i is a tensor (a lookup of its metatable: not for hot paths). */
LGI_FUNC int lgL_istensor (lua_State *L, int i);
LGI_FUNC int lgL_argerror (lua_State *L, const char *fn, int arg, const char *what);
LGI_FUNC int lgL_argerrorat (lua_State *L, const char *fn, int arg, const char *what,
                             lua_Integer index, int at);
LGI_FUNC int lgL_opterror (lua_State *L, const char *fn, const char *name, const char *what,
                           lua_Integer index, int at);
LGI_FUNC int lgL_fielderror (lua_State *L, const char *fn, const char *name, const char *what,
                             int at);
/* "luagrad: bad operand #<arg> to '<op>' (number or value expected, got <type>)" */
LGI_FUNC int lgL_operror (lua_State *L, const char *op, int arg);
LGI_FUNC int lgL_memerror (lua_State *L);
LGI_FUNC int lgL_coreerror (lua_State *L, int err, lg_Work *W);
/* Checks: a number (never a string coerced), a Value. */
LGI_FUNC lg_Value *lgL_checkvalue (lua_State *L, int arg, const char *fn);
/* A number at arg (never a string coerced, as luaL_checknumber would), or the error. */
static inline double lgL_checknumber (lua_State *L, int arg, const char *fn) {
  if (lua_type(L, arg) != LUA_TNUMBER) lgL_argerror(L, fn, arg, "number");
  return (double)lua_tonumber(L, arg);
}
/* Options tables: unknown keys raise; a field that must be a boolean or nil. */
LGI_FUNC void lgL_checkoptions (lua_State *L, int t, const char *fn,
                                const char *const *names);
LGI_FUNC int lgL_optboolean (lua_State *L, int t, const char *field, const char *fn);

/* The module's shared state and building blocks, for functions with its upvalues. */
LGI_FUNC lg_Work *lgL_getwork (lua_State *L);
LGI_FUNC lg_Work *lgL_newwork (lua_State *L);
LGI_FUNC lg_Work *lgL_usework (lua_State *L);
LGI_FUNC int lgL_operand (lua_State *L, int i, lg_Value **v, double *x);
LGI_FUNC void lgL_pushupvalues (lua_State *L);
LGI_FUNC void lgL_weaktable (lua_State *L, const char *key, const char *mode);
LGI_FUNC void lgL_setclosure (lua_State *L, int t, const char *name, lua_CFunction f,
                              int extra);

LGI_FUNC lg_Work *lgL_beginsweep (lua_State *L, void **saved);
LGI_FUNC void lgL_endsweep (lua_State *L, lg_Work *W, void *saved);

/* ---- trace.c: where a user's error was raised, kept across luagrad's protected calls.
   lgL_pcall is lua_pcall with the message handler that keeps it (lgL_pushcatcher pushes
   that handler, for a lua_pcallk); lgL_rethrow raises the error value on top again, which
   lg.traceback then shows with the frames where it was raised. A custom function's callback
   that failed says so (lgL_callbackfailed), and luagrad's own message for it is raised with
   lgL_rethrowas, taking that traceback along. */
LGI_FUNC void lgL_opentrace (lua_State *L, int module);
LGI_FUNC void lgL_pushcatcher (lua_State *L);
LGI_FUNC int lgL_pcall (lua_State *L, int nargs, int nresults);
LGI_FUNC int lgL_rethrow (lua_State *L);
LGI_FUNC void lgL_callbackfailed (lua_State *L);
LGI_FUNC int lgL_rethrowas (lua_State *L, const char *cause);

/* ---- record.c: the modes of recording (no_grad scopes, stop_gradient, anomaly
   detection) and lg.compile's guards. W->mode is nonzero when a mode is on: the one test
   an op makes on its fast path. */
LGI_FUNC void lgL_openrecord (lua_State *L, int module);
LGI_FUNC int lgL_openscope (lua_State *L, int record);
LGI_FUNC void lgL_closescope (lua_State *L, int idx);
LGI_FUNC lg_Value *lgL_unrecorded (lua_State *L, double y, int first, int last);
LGI_FUNC void lgL_anomaly (lua_State *L, int node, const char *opname, const double *y, int ny);
LGI_FUNC int lgL_nanerror (lua_State *L, lg_Work *W);
LGI_FUNC void lgL_addguard (lua_State *L, int kind, int a, int b, int expect);
/* Inside a recording: Lua saw a number that no guard can check; record on every call. */
#define lgL_unguarded(L) lgL_addguard(L, LGI_GDATA, 0, 0, 0)

/* ---- tensor.c: a tensor is a userdata holding its node (core/lg_tnode.h), and its data
   when it owns it; its metatable is TENSOR_MT's, locked as Values'. */
/* The tensor at i, or NULL; or the error "<what> expected". */
LGI_FUNC lg_Value *lgL_totensor (lua_State *L, int i);
LGI_FUNC lg_Value *lgL_checktensor (lua_State *L, int arg, const char *fn);
/* Pushes a new leaf tensor owning uninitialized data of descriptor d (contiguous);
   "not enough memory" when it cannot be had, the state intact. */
LGI_FUNC lg_Value *lgL_newtensor (lua_State *L, const lg_TDesc *d);
/* Lua's numbering to the kernels' (0-based), or the contract's errors: index i of a
   dimension dim (0-based) of size n, 1-based or negative from the end; dimension d of a
   tensor of ndim dimensions, likewise. Non-integers are argument arg's error. */
LGI_FUNC int64_t lgL_tindex (lua_State *L, const char *fn, int arg, int64_t n, int dim);
LGI_FUNC int lgL_tdim (lua_State *L, const char *fn, int arg, int ndim);
/* Pushes "{2, 3}" and returns it. */
LGI_FUNC const char *lgL_pushshape (lua_State *L, int ndim, const int64_t *size);
/* Sizes given as numbers from arg on or as one array at arg (*ndim of them into size); with
   minus1, one size may be -1. Returns the index after the last argument read. */
LGI_FUNC int lgL_checkshape (lua_State *L, const char *fn, int arg, int *ndim, int64_t *size,
                             int minus1);
/* The tensor at i may get a .grad from a backward (lgL_tgrads finds it by its node). */
LGI_FUNC void lgL_tregister (lua_State *L, int i);
LGI_FUNC void lgL_tsetreqgrad (lua_State *L, int i, int flag);
LGI_FUNC void lgL_tcleargrad (lua_State *L, int i);
LGI_FUNC void lgL_opentensor (lua_State *L, int module);

/* ---- tensorops.c: the ops on tensors (core/tops.c's nodes), met by the ops of ops.c
   when an operand is a tensor, and the gradients of a backward over tensors ---------- */
/* Whether any of the values at f..f+n-1 is a tensor. */
LGI_FUNC int lgL_anytensor (lua_State *L, int f, int n);
/* Pushes elementwise op (a row of lgI_ops) on the operands at f..f+n-1 (tensors, Values,
   numbers), broadcast; fn is the name errors show. */
LGI_FUNC int lgL_tmap (lua_State *L, int op, int f, int n);
/* lg.sum(t, ...) and lg.dot(a, b) of tensors */
LGI_FUNC int lgL_tsum (lua_State *L);
LGI_FUNC int lgL_tdot (lua_State *L);
/* W->tgrads for the binding's sweeps (W->ctx is the lua_State). */
LGI_FUNC int lgL_tgrads (lg_Work *W);
LGI_FUNC void lgL_opentensorops (lua_State *L, int module, int mt);

/* ---- ops.c ------------------------------------------------------------------------ */
/* Pushes op applied to the Values or numbers at ia and ib (ib unused for a unary op), or at
   ia, ib and ic for a ternary one. */
LGI_FUNC void lgL_apply (lua_State *L, int op, int ia, int ib);
LGI_FUNC void lgL_apply3 (lua_State *L, int op, int ia, int ib, int ic);
/* Makes lg.<name>, v:<name>() and the metamethods from the op table. */
LGI_FUNC void lgL_openops (lua_State *L, int module, int methods, int mt);

/* ---- host.c and custom.c: calls of host and custom functions ----------------------- */
LGI_FUNC int lgL_callargs (lua_State *L, const char *fn, int nin);
LGI_FUNC lg_Value *lgL_newcall (lua_State *L, const lg_Func *f, void *mem, int nvalues,
                                int def);
LGI_FUNC int lgL_pushoutputs (lua_State *L, lg_Value *call, int nout);
/* Pushes the backward function of a custom function's call and returns 1; 0 (nothing
   pushed) for a host function's. */
LGI_FUNC int lgL_pushcustombackward (lua_State *L, const lg_Value *call);
LGI_FUNC int lgL_iscustom (const lg_Value *call);
LGI_FUNC void lgL_opencustom (lua_State *L, int module);

/* ---- grad.c: derivatives as Values, forward mode and lg.gradients ------------------ */
LGI_FUNC int lgL_backwardgraph (lua_State *L);
LGI_FUNC void lgL_pushgradvalue (lua_State *L, lg_Value *v, int vi);
LGI_FUNC void lgL_opengrad (lua_State *L, int module);

/* ---- value.c ---------------------------------------------------------------------- */
LGI_FUNC void lgL_openvalue (lua_State *L, int module, int methods, int mt);

/* ---- compile.c ---------------------------------------------------------------------- */
LGI_FUNC void lgL_opencompile (lua_State *L, int module);

/* ---- data.c: lg._data, the C side of luagrad.data (CSV, IDX, rows of a tensor) ------ */
LGI_FUNC void lgL_opendata (lua_State *L, int module);

/* ---- save.c: lg.save and lg.load (the format is core/safetensors.c's) ---------------- */
LGI_FUNC void lgL_opensave (lua_State *L, int module);

/* ---- optim.c: lg._optim_*, the C side of luagrad.optim (the loops are core/optim.c's) */
LGI_FUNC void lgL_openoptim (lua_State *L, int module);

/* ---- sys.c: lg._isatty(file) and lg._clock(), for progress.lua ------------------------ */
LGI_FUNC void lgL_opensys (lua_State *L, int module);

#endif
