/*
** luagrad.h: the public C API of luagrad, reverse-mode automatic differentiation.
**
** Two ways in:
**  - from Lua: luaopen_luagrad(L) opens the whole module in a lua_State (see the README's
**    "Embedding" section); lg_preload(L) registers it in package.preload instead;
**  - from C alone: Values live in an lg_Arena owned by the caller; lg_apply applies any op of
**    the op table; lg_backward runs the reverse sweep; lg_arena_free releases everything.
**
** Thread use: nothing here has global mutable state. An arena (and every Value in it) belongs
** to one thread at a time; different arenas and different lua_States may be used from
** different threads at once.
*/
#ifndef LUAGRAD_H
#define LUAGRAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LG_VERSION_MAJOR 0
#define LG_VERSION_MINOR 1
#define LG_VERSION_PATCH 0
#define LG_VERSION "luagrad 0.1.0"

#if defined(_WIN32) && defined(LG_BUILD_SHARED)
#define LG_API __declspec(dllexport)
#elif defined(__GNUC__)
#define LG_API __attribute__((visibility("default")))
#else
#define LG_API
#endif

/* Result codes. Every function that can fail returns one of these (or NULL). */
#define LG_OK 0     /* success */
#define LG_EMEM 1   /* the allocator returned NULL; nothing was changed */
#define LG_EARG 2   /* a bad argument: unknown op, wrong arity, NULL where a Value is needed */
#define LG_ELEAF 3  /* the operation needs a leaf (e.g. setting data on a computed Value) */
#define LG_EHOST 4  /* a host function (lg_Func) reported an error; see lg_arena_message */

typedef struct lg_Value lg_Value;   /* a node of the graph: a leaf or the result of an op */
typedef struct lg_Arena lg_Arena;   /* owner of Values for C callers: freed all at once */

/*
** The allocator, with lua_Alloc's contract: nsize == 0 frees ptr and returns NULL;
** otherwise it (re)allocates ptr from osize to nsize bytes and returns NULL on failure,
** leaving ptr untouched. A host can pass its own to account for or cap the memory.
*/
typedef void *(*lg_Alloc) (void *ud, void *ptr, size_t osize, size_t nsize);

/* One argument of lg_apply: a Value, or (value == NULL) the constant number. */
typedef struct lg_Arg {
  lg_Value *value;
  double number;
} lg_Arg;

/*
** A differentiable function defined by the host: nin inputs, nout outputs. Registered into a
** lua_State (lg_register_op) it is called from Lua like a built-in op, on Values and numbers;
** from C it is applied with lg_call. Either way backward flows through it.
**
** forward: y[0..nout-1] := f(x[0..nin-1]).
** vjp:     gx[i] := sum over j of gy[j] * dy[j]/dx[i], given the x and y of the forward.
** Each returns 0, or nonzero after writing a message (at most msglen bytes, NUL included)
** into msg; from Lua that becomes the error "luagrad.<name>: <message>". A failed vjp leaves
** every grad as it was. Both may be called from any thread that uses a state or arena holding
** the function, so they must be thread-safe if it is shared; ud is passed through untouched
** and must outlive every Value made by the function.
*/
typedef int (*lg_Forward) (void *ud, const double *x, double *y, char *msg, size_t msglen);
typedef int (*lg_VJP) (void *ud, const double *x, const double *y, const double *gy,
                       double *gx, char *msg, size_t msglen);

typedef struct lg_Func {
  const char *name;   /* as Value.op shows it, and lg.<name> in Lua */
  int nin, nout;      /* 1 .. LG_MAXFUNCARGS each */
  lg_Forward forward;
  lg_VJP vjp;
  void *ud;
} lg_Func;

#define LG_MAXFUNCARGS 4096

/* The message for a result code ("not enough memory", ...); never NULL. */
LG_API const char *lg_strerror (int code);

/* ---- arenas ---------------------------------------------------------------- */

/* A new empty arena using allocf(ud, ...) for all its memory (NULL: malloc/free).
   Returns NULL when out of memory. */
LG_API lg_Arena *lg_arena_new (lg_Alloc allocf, void *ud);
/* Frees the arena and every Value made in it; pointers to them are then invalid. A NULL
   arena is ignored. */
LG_API void lg_arena_free (lg_Arena *A);
/* Frees every Value made in the arena, keeping the arena for reuse. */
LG_API void lg_arena_clear (lg_Arena *A);
/* Bytes the arena holds from its allocator right now. */
LG_API size_t lg_arena_bytes (const lg_Arena *A);

/* ---- values ---------------------------------------------------------------- */

/* A new leaf holding x; NULL when out of memory. */
LG_API lg_Value *lg_leaf (lg_Arena *A, double x);
/* Applies op (see lg_op_find) to nargs arguments; the arguments must live in the same arena.
   Returns the new Value, or NULL with *err (when err is not NULL) set to LG_EARG or LG_EMEM. */
LG_API lg_Value *lg_apply (lg_Arena *A, int op, int nargs, const lg_Arg *args, int *err);

/* v's data and grad (grad starts at 0 and accumulates across lg_backward calls). v must be
   a Value of a live arena; none of these can fail. */
LG_API double lg_data (const lg_Value *v);
LG_API double lg_grad (const lg_Value *v);
LG_API void lg_set_grad (lg_Value *v, double g);
/* Sets the data of a leaf (what an optimizer does); LG_ELEAF for a computed Value. */
LG_API int lg_set_data (lg_Value *v, double x);
/* The op that made v (0 for a leaf; -1 for a host function's call and outputs), the name
   Value.op shows (a host function's name for those), its number of arguments, and argument
   i: *value is NULL when argument i is the constant *number. LG_EARG for a bad i. */
LG_API int lg_value_op (const lg_Value *v);
LG_API const char *lg_value_opname (const lg_Value *v);
LG_API int lg_value_nargs (const lg_Value *v);
LG_API int lg_value_arg (const lg_Value *v, int i, lg_Value **value, double *number);

/* Applies the host function f to f->nin arguments: out[0 .. f->nout-1] receive its outputs,
   each a Value whose one argument is the call (op "call", holding the inputs). f must outlive
   the arena's Values. Returns LG_OK, LG_EARG, LG_EMEM or LG_EHOST (see lg_arena_message). */
LG_API int lg_call (lg_Arena *A, const lg_Func *f, const lg_Arg *args, lg_Value **out);
/* The message of the last LG_EHOST in this arena ("" if none). */
LG_API const char *lg_arena_message (const lg_Arena *A);

/* ---- gradients ------------------------------------------------------------- */

/* Reverse sweep from root: adds seed * d(root)/d(n) to the grad of every Value n that root
   depends on (root included, which gets seed). Calling it again adds again. Iterative, so
   any depth works. LG_EMEM, or LG_EHOST from a host function's vjp, leaves every grad
   untouched. */
LG_API int lg_backward (lg_Arena *A, lg_Value *root, double seed);
/* Sets grad to 0 on root and every Value it depends on. */
LG_API int lg_zero_grad (lg_Arena *A, lg_Value *root);
/* Reverse mode without touching any grad: grads[j] := d(sum of seeds[i] * outs[i]) / d(ins[j])
   (0 for an input the outputs do not depend on). One sweep for any number of inputs. */
LG_API int lg_gradients (lg_Arena *A, size_t nout, lg_Value *const *outs, const double *seeds,
                         size_t nin, lg_Value *const *ins, double *grads);
/* Forward mode: touts[i] := the derivative of outs[i] in the direction tins (the tangents of
   ins): sum over j of d(outs[i]) / d(ins[j]) * tins[j], each input's own dependencies
   ignored. One sweep for any number of outputs. */
LG_API int lg_tangents (lg_Arena *A, size_t nin, lg_Value *const *ins, const double *tins,
                        size_t nout, lg_Value *const *outs, double *touts);

/* ---- the op table ---------------------------------------------------------- */

/* Ops are numbered 0 .. lg_op_count()-1; op 0 is "leaf". */
LG_API int lg_op_count (void);
/* The op's name as Value.op shows it ("+", "exp", "sum", ...), NULL for a bad index. */
LG_API const char *lg_op_name (int op);
/* Its number of arguments: 1 or 2, or -1 for any number (sum, dot). */
LG_API int lg_op_arity (int op);
/* The index of the op named name (by its Value.op name or its Lua function name, e.g.
   "^" or "pow"), or -1. */
LG_API int lg_op_find (const char *name);

/* ---- Lua ------------------------------------------------------------------- */

struct lua_State;
/* Opens the module (as require("luagrad") would) and pushes its table. Lua 5.4. */
LG_API int luaopen_luagrad (struct lua_State *L);
/* The C part alone, as the module luagrad.core. */
LG_API int luaopen_luagrad_core (struct lua_State *L);
/* Registers "luagrad", "luagrad.core" and the module's Lua parts in package.preload, so that
   require finds them with no search path set (what the luagrad command does). */
LG_API void lg_preload (struct lua_State *L);
/* Makes f callable from Lua as luagrad.<f->name>(x1, ..., xnin), returning nout Values (or
   numbers, when every argument is a number). Opens the module in L if needed. f and its
   name are copied; f->ud must outlive L. Never raises: returns LG_OK, LG_EMEM, or LG_EARG
   (a bad f, or a name the module already has). */
LG_API int lg_register_op (struct lua_State *L, const lg_Func *f);

/* ---- tensors across the boundary (a lua_State's; the arena API stays scalar) ---------- */

#define LG_FLOAT64 0
#define LG_FLOAT32 1
#define LG_MAXDIM 16

typedef struct lg_TensorInfo {
  int dtype;                    /* LG_FLOAT64 (double) or LG_FLOAT32 (float) */
  int ndim;                     /* 1 .. LG_MAXDIM */
  long long size[LG_MAXDIM];
  long long stride[LG_MAXDIM];  /* in elements; 0 on an expanded dimension */
  void *data;                   /* element (0, ..., 0): element (i, j, ...) is at
                                   data + i*stride[0] + j*stride[1] + ... (in elements) */
} lg_TensorInfo;

/* Pushes a new tensor of the module in L (opened if needed): a leaf that does not require
   grad, holding a copy of the ndim sizes' elements of dtype at data (contiguous, row-major;
   data may be NULL for zeros). Never raises: LG_OK; LG_EARG for a bad dtype, ndim or a
   negative size (nothing pushed); LG_EMEM when out of memory (nothing pushed). */
LG_API int lg_push_tensor (struct lua_State *L, int dtype, int ndim, const long long *size,
                           const void *data);
/* If the value at idx is a tensor: fills *info and returns 1; else returns 0. The data
   pointer stays valid while the tensor (or a view of it) is reachable from Lua; writing
   through it changes the tensor (do it only where no graph can observe it, as the in-place
   ops' rule says). Never raises. */
LG_API int lg_to_tensor (struct lua_State *L, int idx, lg_TensorInfo *info);

#ifdef __cplusplus
}
#endif

#endif
