/*
** lg_core.h: the core (src/core): the node, its kinds, the op table, host calls, scratch
** memory and text. What every layer above builds on. Never installed; knows nothing of Lua.
*/
#ifndef LG_CORE_H
#define LG_CORE_H

#include <stdint.h>
#include <string.h>
#include "luagrad.h"

#if defined(__GNUC__)
#define LGI_FUNC __attribute__((visibility("hidden"))) extern
#else
#define LGI_FUNC extern
#endif

/* An argument slot of a node: a parent Value or a folded constant (constants never become
   nodes). Which one it holds is recorded in the node's constant mask. */
typedef union lg_Slot {
  lg_Value *v;
  double k;
} lg_Slot;

/*
** A node. The caller owns its memory (a Lua userdata, or an arena block) and hands it to
** lgI_initnode; lgI_nodesize tells how much it needs. Layout: 32 bytes, then one slot per
** argument, then (for more than LGI_INLINEMASK arguments) a bitmap of which are constants.
*/
struct lg_Value {
  double data;
  double grad;
  double adj;        /* scratch adjoint, 0 outside backward */
  uint32_t n;        /* number of argument slots */
  uint8_t op;        /* index into lgI_ops (LGI_KOP), else LGI_CALL or LGI_OUTPUT */
  uint8_t kind;      /* LGI_K*: what the sweeps, the tape and DOT do with it */
  uint8_t flags;     /* LGI_MARK* during traversals, LGI_LABELED */
  uint8_t kmask;     /* bit i: slot i is a constant (i < LGI_INLINEMASK) */
  lg_Slot in[];      /* n slots, then the bitmap when n > LGI_INLINEMASK */
};

/*
** The kinds of node. Every traversal dispatches on the kind alone, through lgI_kinds
** (graph/kinds.c), never on op numbers: a leaf; a built-in op, a row of lgI_ops; a host
** function's call, which holds its outputs (lg_CallRec); one output of a call; and a
** tensor (core/lg_tnode.h: the header, then its record and data); a Value made by a tensor
** op (a full reduction: the header, slots, then a small record). A new kind of node is a
** new row there.
*/
enum { LGI_KLEAF, LGI_KOP, LGI_KCALL, LGI_KOUTPUT, LGI_KTENSOR, LGI_KTVALUE, LGI_NKINDS };

#define LGI_INLINEMASK 8
#define LGI_HEADSIZE offsetof(lg_Value, in)

#define LGI_MARKED 1u    /* visited by the current traversal */
#define LGI_DONE 2u      /* emitted in post-order */
#define LGI_LABELED 4u   /* the binding holds a label for it */
#define LGI_INPUT 8u     /* an input leaf of the recording being flattened into a tape */
#define LGI_GRADVALUE 16u  /* the binding holds its grad as a Value (create_graph) */
#define LGI_NESTED 32u   /* marked by a traversal nested in another's callback (W->nested) */
#define LGI_GIVEN 64u    /* forward mode: its tangent is given, not computed */
#define LGI_MARKS (LGI_MARKED | LGI_DONE | LGI_NESTED)   /* what a traversal leaves */

/* Forward: y = f(x[0..n-1]). Backward: dx[i] = g * dy/dx[i], given x, y and g = dJ/dy. */
typedef double (*lgI_Forward) (int n, const double *x);
typedef void (*lgI_Backward) (int n, const double *x, double y, double g, double *dx);

#define LGI_VARIADIC (-1)   /* any number of arguments, as a list */
#define LGI_PAIRS (-2)      /* a list of pairs (x1, y1, x2, y2, ...), as two lists */

/*
** An op's derivative built from ops, so that it can be differentiated again (higher order,
** forward mode on graphs). Whoever builds (the binding: Values on the Lua stack) implements
** the callbacks; a handle names a value the builder holds: a Value or a number.
*/
typedef struct lgI_Builder lgI_Builder;
struct lgI_Builder {
  const double *x;   /* the arguments' numbers (a build never branches on them: masks
                        such as where and gt keep the derivative right for other numbers) */
  double y;          /* the op's result */
  int n;             /* number of arguments */
  int want;          /* the one argument whose contribution is wanted, or -1 for all */
  int (*arg) (lgI_Builder *B, int i);          /* argument i */
  int (*out) (lgI_Builder *B);                 /* the op's result, as its node */
  int (*grad) (lgI_Builder *B);                /* g = dJ/dy */
  int (*num) (lgI_Builder *B, double k);       /* the number k */
  int (*apply) (lgI_Builder *B, int op, int a, int b);   /* op(a) or op(a, b) */
  int (*apply3) (lgI_Builder *B, int op, int a, int b, int c);   /* op(a, b, c) */
  void (*dx) (lgI_Builder *B, int i, int h);   /* dJ/dx[i] += h */
};

/* Adds g * dy/dx[i] to each wanted argument's dx, as the op's backward computes it. */
typedef void (*lgI_Build) (lgI_Builder *B);

/* An elementwise op's fast loops, for tensors: its forward and backward above inlined over m
   float64 elements (ops.c's FASTLOOPS), so that a tensor's numbers are a Value's bit for bit.
   Argument k's element i is x[k][i * sx[k]] (sx in elements: 1 for contiguous, 0 for one
   number broadcast); y, g and each dx[k] are contiguous, and dx[k][i] += the derivative
   (dx[k] NULL: not wanted). */
typedef void (*lgI_ForwardV) (int64_t m, const double *const *x, const int64_t *sx,
                              double *y);
typedef void (*lgI_BackwardV) (int64_t m, const double *const *x, const int64_t *sx,
                               const double *y, const double *g, double *const *dx);

typedef struct lg_OpDef {
  const char *name;     /* as Value.op and the graph printer show it */
  const char *luaname;  /* lg.<luaname> and v:<luaname>(); NULL for operator-only ops */
  const char *metamethod;  /* "__add", ...; NULL if none */
  int arity;            /* 0 (leaf), 1, 2, 3, LGI_VARIADIC or LGI_PAIRS */
  lgI_Forward forward;
  lgI_Backward backward;
  lgI_Build build;      /* the backward again, as ops */
  lgI_ForwardV fwdv;    /* the fast loops, NULL where an op has none */
  lgI_BackwardV bwdv;
} lg_OpDef;

/* The rows of lgI_ops, for ops that name others (derivatives built from ops). */
enum {
  LGI_LEAF, LGI_ADD, LGI_SUB, LGI_MUL, LGI_DIV, LGI_POW, LGI_NEG, LGI_EXP, LGI_LOG, LGI_SQRT,
  LGI_SIN, LGI_COS, LGI_TAN, LGI_TANH, LGI_SIGMOID, LGI_RELU, LGI_ABS, LGI_MAX, LGI_MIN,
  LGI_SUM, LGI_DOT, LGI_SIGN, LGI_WHERE, LGI_GT, LGI_LT, LGI_GE, LGI_LE, LGI_EQ, LGI_NE,
  LGI_LOG1P, LGI_EXPM1, LGI_SOFTPLUS, LGI_SQUARE, LGI_CLAMP, LGI_LEAKY_RELU,
  LGI_NOPS
};

LGI_FUNC const lg_OpDef lgI_ops[];
LGI_FUNC const int lgI_nops;

/* The op table is read through these: the row of an op, and an op's number from its row. */
static inline const lg_OpDef *lgI_opdef (int op) { return &lgI_ops[op]; }
static inline int lgI_opnumber (const lg_OpDef *d) { return (int)(d - lgI_ops); }

static inline int lgI_isconst (const lg_Value *v, uint32_t i) {
  if (v->n <= LGI_INLINEMASK) return (v->kmask >> i) & 1u;
  else {
    const uint64_t *bits = (const uint64_t *)(v->in + v->n);
    return (int)((bits[i >> 6] >> (i & 63)) & 1u);
  }
}

static inline double lgI_argdata (const lg_Value *v, uint32_t i) {
  return lgI_isconst(v, i) ? v->in[i].k : v->in[i].v->data;
}

/* Nodes are made on every op, so these few are inline. */

static inline size_t lgI_maskwords (uint32_t n) {
  return (n <= LGI_INLINEMASK) ? 0 : ((size_t)n + 63) / 64;
}

/* Bytes a node with n argument slots needs. */
static inline size_t lgI_nodesize (uint32_t n) {
  return LGI_HEADSIZE + (size_t)n * sizeof(lg_Slot) + lgI_maskwords(n) * sizeof(uint64_t);
}

/* Makes mem (lgI_nodesize(n) bytes) a node of op with n slots, every one of which the
   caller then sets with lgI_setarg or lgI_setconst before lgI_forward. */
static inline lg_Value *lgI_initnode (void *mem, int op, uint32_t n) {
  lg_Value *v = (lg_Value *)mem;
  v->data = v->grad = v->adj = 0.0;
  v->n = n;
  v->op = (uint8_t)op;
  v->kind = (uint8_t)((op == LGI_LEAF) ? LGI_KLEAF : LGI_KOP);
  v->flags = 0;
  v->kmask = 0;
  if (n > LGI_INLINEMASK) memset(v->in + n, 0, lgI_maskwords(n) * sizeof(uint64_t));
  return v;
}

static inline void lgI_setmask (lg_Value *v, uint32_t i, int isconst) {
  if (v->n <= LGI_INLINEMASK) {
    if (isconst) v->kmask |= (uint8_t)(1u << i);
    else v->kmask &= (uint8_t)~(1u << i);
  }
  else {
    uint64_t *bits = (uint64_t *)(v->in + v->n);
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (isconst) bits[i >> 6] |= bit;
    else bits[i >> 6] &= ~bit;
  }
}

static inline void lgI_setarg (lg_Value *v, uint32_t i, lg_Value *parent) {
  v->in[i].v = parent;
  lgI_setmask(v, i, 0);
}

static inline void lgI_setconst (lg_Value *v, uint32_t i, double k) {
  v->in[i].k = k;
  lgI_setmask(v, i, 1);
}

/* Computes v->data from the arguments; x is scratch for at least v->n doubles. */
LGI_FUNC void lgI_forward (lg_Value *v, double *x);

/* ---- scratch memory for traversals ----------------------------------------- */

/* Growable buffers for traversals. Owned by whoever runs them (a lua_State's registry, an
   arena), never static, so several threads can work at once. */
typedef struct lg_Work {
  lg_Alloc allocf;
  void *ud;
  lg_Value **stack; size_t nstack;   /* DFS stack */
  lg_Value **order; size_t norder;   /* post-order result */
  double *x; size_t nx;              /* argument values and partials, 2 per slot */
  char *text; size_t ntext;          /* text being written (the graph printer) */
  size_t count;                      /* nodes in order after lgI_toposort */
  size_t maxn;                       /* largest n among them */
  int fallible;                      /* a node whose reverse may fail among them (a host
                                        function's call) */
  char msg[256];                     /* a host function's last error message */
  const char *msgfrom;               /* and that function's name */
  int recording;                     /* the binding records guards (lg.compile) */
  int busy;                          /* a sweep holds these buffers (callbacks may run) */
  void *ctx;                         /* the caller's context for host callbacks (the
                                        binding's lua_State during a sweep) */
  int nested;                        /* runs inside a callback of a sweep that holds
                                        other buffers: marks with LGI_NESTED, and meeting a
                                        node the outer sweep holds is LGI_EBUSY */
  int mode;                          /* LGI_NOGRAD | LGI_ANOMALY, set by the binding */
  const void *mt;                    /* the binding's Value metatable: operand checks */
  int tensors;                       /* tensor nodes among them (set by lgI_toposort) */
  /* Called by a backward over tensors once every adjoint is known and before any grad
     changes (the binding makes the .grad tensors that leaves' adjoints go to: gradto);
     an error abandons the sweep. */
  int (*tgrads) (struct lg_Work *W);
  lg_Value *bad;                     /* LGI_ENAN: the node whose derivative gave NaN */
  uint32_t badarg;                   /* and for which of its arguments */
} lg_Work;

#define LGI_NOGRAD 1    /* ops make leaves, not nodes (lg.no_grad): the binding's alone */
#define LGI_ANOMALY 2   /* backward checks every derivative for NaN (lg.detect_anomaly) */

LGI_FUNC void lgI_workinit (lg_Work *W, lg_Alloc allocf, void *ud);
LGI_FUNC void lgI_workfree (lg_Work *W);
LGI_FUNC void *lgI_alloc (lg_Work *W, void *p, size_t osize, size_t nsize);
/* Ensures room for n doubles in W->x; LG_EMEM on failure. */
LGI_FUNC int lgI_reservex (lg_Work *W, size_t n);
/* Grows *buf (of *cap elements of size elem) to hold at least need; LG_EMEM on failure.
   Traversals ask once or twice per node, so the check that there is room is inline. */
LGI_FUNC int lgI_regrow (lg_Work *W, void **buf, size_t *cap, size_t need, size_t elem);
static inline int lgI_grow (lg_Work *W, void **buf, size_t *cap, size_t need, size_t elem) {
  return (need <= *cap) ? LG_OK : lgI_regrow(W, buf, cap, need, elem);
}

/* Error codes of the core beyond the public LG_E* ones. */
#define LGI_EGUARD 100   /* a replay found a guard broken: record again */
/* Under LGI_ANOMALY, LGI_ENAN: the derivative of W->bad gave NaN for argument W->badarg
   (and, as for any failure, no grad changed). */
#define LGI_ENAN 101
/* A traversal nested in a sweep's callback met a node of that sweep's graph. */
#define LGI_EBUSY 102
/* A traversal that does not support tensors yet (graph mode, forward mode, tapes) met one. */
#define LGI_ETENSOR 103
/* A backward needs a tensor's numbers that were changed in place since its op ran. */
#define LGI_EVERSION 104

/* ---- host functions (call.c) -------------------------------------------- */

/* A call of a host function is a node with one slot per input; its outputs are nodes of
   op LGI_OUTPUT with two slots: the call, and the constant index of the output. Neither op
   is in lgI_ops: their work needs the host's function, which a row cannot hold. */
#define LGI_CALL 254
#define LGI_OUTPUT 255

typedef struct lg_CallRec {
  const lg_Func *f;
  double y[];   /* f->nout outputs, then their adjoints during backward */
} lg_CallRec;

LGI_FUNC int lgI_validfunc (const lg_Func *f);
LGI_FUNC size_t lgI_callsize (uint32_t nin, uint32_t nout);
/* Makes mem (lgI_callsize bytes) a call of f with f->nin slots, set by the caller. */
LGI_FUNC lg_Value *lgI_initcall (void *mem, const lg_Func *f);
LGI_FUNC lg_CallRec *lgI_callrec (const lg_Value *call);
/* Runs f's forward; LG_EHOST with W->msg and W->msgfrom on failure. */
LGI_FUNC int lgI_hostforward (lg_Work *W, const lg_Func *f, const double *x, double *y);
/* Runs the host's forward on the call's arguments; LG_EHOST with W->msg on failure.
   W->x must hold 2 * nin doubles. */
LGI_FUNC int lgI_callforward (lg_Work *W, lg_Value *call);
LGI_FUNC lg_Value *lgI_initoutput (void *mem, lg_Value *call, uint32_t j);
/* Runs f's vjp into gx (zeroed first: f->nin doubles); LG_EHOST with W->msg and
   W->msgfrom on failure. */
LGI_FUNC int lgI_hostvjp (lg_Work *W, const lg_Func *f, const double *x, const double *y,
                          const double *gy, double *gx);
/* Backward through a call: the host's vjp from its outputs' adjoints to its arguments'. */
LGI_FUNC int lgI_callbackward (lg_Work *W, lg_Value *call);
LGI_FUNC void lgI_outputbackward (lg_Value *out);
LGI_FUNC void lgI_callabandon (lg_Value *call);

/* ---- text ------------------------------------------------------------------- */

/* Text appended to W->text (so the text always has an owner, even if the caller's use of it
   fails); the first failed append sets err and later appends do nothing. */
typedef struct lg_Buffer {
  lg_Work *W;
  size_t len;
  int err;   /* LG_EMEM once any append failed */
} lg_Buffer;

LGI_FUNC void lgI_bufinit (lg_Buffer *B, lg_Work *W);
LGI_FUNC void lgI_bufadd (lg_Buffer *B, const char *s, size_t len);
LGI_FUNC void lgI_bufaddstr (lg_Buffer *B, const char *s);
LGI_FUNC void lgI_bufaddnum (lg_Buffer *B, double x);
/* x as "%.14g" with '.' as the decimal point whatever the locale; buf of 32 bytes. */
LGI_FUNC const char *lgI_fmtnum (char *buf, double x);

#endif
