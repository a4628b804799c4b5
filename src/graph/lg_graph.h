/*
** lg_graph.h: what the graph layer (src/graph) offers the binding: the order of a graph,
** the sweeps over it, tapes and DOT text. Knows nothing of Lua. Never installed.
*/
#ifndef LG_GRAPH_H
#define LG_GRAPH_H

#include "core/lg_core.h"

/* ---- order (order.c) and sweeps (sweep.c) ------------------------------------ */


/* W->order[0 .. W->count-1] := every node root depends on, parents before children, with
   LGI_MARKED set on each; LG_EMEM (and no marks left) on failure. lgI_unmark clears them. */
LGI_FUNC int lgI_toposort (lg_Work *W, lg_Value *root);
/* The same over several roots: every node any of them depends on, once. */
LGI_FUNC int lgI_toposortn (lg_Work *W, lg_Value *const *roots, size_t nroots);
LGI_FUNC void lgI_unmark (lg_Work *W);
LGI_FUNC int lgI_backward (lg_Work *W, lg_Value *root, double seed);
struct lg_TDesc;
/* The same from a tensor root, its adjoint seeded with g (gd: g's descriptor, of root's
   sizes, any dtype and strides). */
LGI_FUNC int lgI_backwardt (lg_Work *W, lg_Value *root, const struct lg_TDesc *gd,
                            const void *g);
/* grads[j] := d(sum of seeds[i] * outs[i]) / d(ins[j]); no grad changes. */
LGI_FUNC int lgI_gradients (lg_Work *W, lg_Value *const *outs, const double *seeds,
                            size_t nout, lg_Value *const *ins, size_t nin, double *grads);
/* The same with tensors among outs (seeded by the tensors tseeds[i], NULL for a Value) and
   ins (their gradients added into the zeroed contiguous tensors tgrads[j], NULL for a
   Value, whose gradient goes to grads[j]). */
LGI_FUNC int lgI_gradientst (lg_Work *W, lg_Value *const *outs, const double *seeds,
                             lg_Value *const *tseeds, size_t nout, lg_Value *const *ins,
                             size_t nin, double *grads, lg_Value *const *tgrads);
/* Forward mode: touts[i] := d(outs[i]) in the direction tins of ins (whose own
   dependencies are ignored). */
LGI_FUNC int lgI_jvp (lg_Work *W, lg_Value *const *ins, const double *tins, size_t nin,
                      lg_Value *const *outs, size_t nout, double *touts);
LGI_FUNC int lgI_zerograd (lg_Work *W, lg_Value *root);

/* ---- tapes: a recorded graph flattened for replay (tape.c) ---------------- */


enum { LGI_GLT, LGI_GLE, LGI_GDATA };

/* A fact Lua saw while recording: a < b or a <= b gave expect, or a's data was ka. */
typedef struct lg_Guard {
  uint8_t kind, expect;
  int32_t a, b;     /* tape indices; -1: the constant ka / kb */
  double ka, kb;
} lg_Guard;

/* A host function's call in a tape. Its outputs and their adjoints are the tape's own
   (cy and cg, from index y on), so that a replay never writes into the recorded graph. */
typedef struct lg_TapeCall {
  const lg_Func *f;
  uint32_t node;   /* its index in the tape */
  uint32_t y;      /* its first output's index in cy and cg */
} lg_TapeCall;

/*
** The nodes of a tape are the recorded graph's, in its order: first everything the result
** depends on, ending with the result at index out, then what only guards read. A call node
** has its arguments as any op; an output node has one argument, its call, and keeps in the
** next argidx entry the index of its value in cy (and of its adjoint in cg).
*/
typedef struct lg_Tape {
  lg_Alloc allocf; void *ud;
  void *block; size_t blocksize;     /* every array below lives in this one block */
  uint32_t nnodes, nargs, ninputs, nexternal, nguards, maxn, out;
  uint32_t nslots;                   /* nodes, then one slot per constant argument */
  uint32_t ncalls, ny;               /* host calls, and their outputs in all */
  double *val, *adj, *x;             /* val, adj: nslots each; x: scratch, 2 * maxn */
  double *cy, *cg;                   /* the calls' outputs and their adjoints: ny each */
  lg_Value **ext;                    /* external leaves: read and credited on each replay */
  lg_TapeCall *call;                 /* the calls, in tape order */
  lg_Guard *guard;
  uint32_t *first, *n, *extidx;
  uint32_t *argidx;                  /* every argument's slot in val */
  int32_t *input;                    /* -1: an input the result does not use */
  uint8_t *op, *kind;                /* each node's op and kind */
} lg_Tape;

/* From W->order (lgI_toposortn over out and the guards' nodes, marks still set) makes T
   the flat tape; leaves flagged LGI_INPUT are the inputs, other leaves external. Until
   lgI_tapeend, lgI_tapeindex maps a node to its index (-1 if not in the tape) so that the
   caller can fill T->input and T->guard. LG_EMEM when out of memory (or for more than
   INT32_MAX nodes); LGI_ETENSOR for a graph with tensors (not yet). */
LGI_FUNC int lgI_tapebegin (lg_Tape *T, lg_Work *W, lg_Value *out, uint32_t ninputs,
                            uint32_t nguards);
LGI_FUNC int32_t lgI_tapeindex (const lg_Value *v);
LGI_FUNC void lgI_tapeend (lg_Work *W);
LGI_FUNC void lgI_tapefree (lg_Tape *T);
/* Recomputes every value from T->val at the inputs and the external leaves' data; then
   taken another path, and maybe never called it). */
LGI_FUNC int lgI_tapeforward (lg_Tape *T, lg_Work *W);
/* Adjoints from the output (seeded 1) back to every node; then external leaves' grads get
   theirs added. LG_EHOST with W->msg, and no grad changed, if a host's vjp fails. */
LGI_FUNC int lgI_tapebackward (lg_Tape *T, lg_Work *W);

/* The label of a node for the graph printer (*len bytes), or NULL. */
typedef const char *(*lgI_Labeler) (void *ud, const lg_Value *v, size_t *len);
/* Appends Graphviz DOT text for the graph ending at root. */
LGI_FUNC int lgI_todot (lg_Work *W, lg_Value *root, lgI_Labeler label, void *ud,
                        lg_Buffer *B);

/* ---- graph mode (graphmode.c): derivatives built as ops ------------------------- */

/*
** A sweep whose derivatives are built from ops, by the caller's builder (B). Positions i are
** 1-based in order; handles are the caller's (stack indices, for the binding), -1 for none.
*/
typedef struct lgI_GraphSweep lgI_GraphSweep;
struct lgI_GraphSweep {
  lgI_Builder B;             /* the caller's callbacks; the sweep sets x, y, n, want */
  lg_Value *const *order;    /* the graph, parents first */
  size_t count;
  double *x;                 /* room for the largest node's argument numbers */
  size_t at;                 /* during a build: the node's position */
  int g;                     /* and g's handle */
  /* temporaries: a mark of the caller's, and dropping every handle made after it */
  int (*mark) (lgI_GraphSweep *S);
  void (*release) (lgI_GraphSweep *S, int mark);
  /* reverse: node i's adjoint, or -1 when it has none or it is zero */
  int (*adjoint) (lgI_GraphSweep *S, size_t i);
  /* forward: 0 if node i's tangent is known already (a given input's), else 1, ready for
     its argument's tangents (-1: none or zero) and then for settangent (the sum built) */
  int (*begin) (lgI_GraphSweep *S, size_t i);
  int (*argtangent) (lgI_GraphSweep *S, size_t i, uint32_t k);
  void (*settangent) (lgI_GraphSweep *S, size_t i);
  /* the steps of calls and outputs, whose derivatives are the caller's to build */
  void (*callreverse) (lgI_GraphSweep *S, size_t i, int g);
  void (*outputreverse) (lgI_GraphSweep *S, size_t i, int g);
  void (*calltangent) (lgI_GraphSweep *S, size_t i);
  void (*outputtangent) (lgI_GraphSweep *S, size_t i);
};

/* Every node's adjoint into its arguments', children first; or every node's tangent from
   its arguments', parents first; each by its kind's graph step. */
LGI_FUNC void lgI_reversegraph (lgI_GraphSweep *S);
LGI_FUNC void lgI_forwardgraph (lgI_GraphSweep *S);
LGI_FUNC void lgI_leafgraphreverse (lgI_GraphSweep *S, size_t i, int g);
LGI_FUNC void lgI_leafgraphtangent (lgI_GraphSweep *S, size_t i);
LGI_FUNC void lgI_opgraphreverse (lgI_GraphSweep *S, size_t i, int g);
LGI_FUNC void lgI_opgraphtangent (lgI_GraphSweep *S, size_t i);
LGI_FUNC void lgI_callgraphreverse (lgI_GraphSweep *S, size_t i, int g);
LGI_FUNC void lgI_callgraphtangent (lgI_GraphSweep *S, size_t i);
LGI_FUNC void lgI_outputgraphreverse (lgI_GraphSweep *S, size_t i, int g);
LGI_FUNC void lgI_outputgraphtangent (lgI_GraphSweep *S, size_t i);

/* ---- kinds of node (kinds.c) --------------------------------------------------- */

/* A replay step of a tape's node i (*c counts the host calls met). */
typedef int (*lgI_TapeStep) (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);

/* What one kind of node does in each traversal; see lgI_kinds. */
typedef struct lgI_Kind {
  int (*reverse) (lg_Work *W, lg_Value *v);   /* v->adj into its arguments' adj */
  int (*tangent) (lg_Work *W, lg_Value *v);   /* v->adj := its tangent, from its arguments' */
  void (*abandon) (lg_Work *W, lg_Value *v);   /* a sweep given up: clear its scratch */
  void (*settle) (lg_Work *W, lg_Value *v);    /* a sweep done: its adjoint into its grad */
  const char *(*name) (const lg_Value *v);    /* as Value.op shows it */
  int dot;         /* how DOT draws it: LGI_DOTRECORD, LGI_DOTCIRCLE, LGI_DOTOUTPUT or
                      LGI_DOTTENSOR */
  int checked;     /* reverse leaves its partials in W->x[n .. 2n-1] (anomaly detection) */
  int fallible;    /* reverse may fail (a host's vjp): adjoints all come before any grad */
  lgI_TapeStep tapeforward, tapebackward;   /* its steps in a replay (tape.c) */
  void (*graphreverse) (lgI_GraphSweep *S, size_t i, int g);   /* graph mode (graphmode.c) */
  void (*graphtangent) (lgI_GraphSweep *S, size_t i);
} lgI_Kind;

enum { LGI_DOTRECORD, LGI_DOTCIRCLE, LGI_DOTOUTPUT, LGI_DOTTENSOR };

LGI_FUNC const lgI_Kind lgI_kinds[LGI_NKINDS];

/* The name Value.op shows for any node, host functions' included. */
LGI_FUNC const char *lgI_opname (const lg_Value *v);

/* A built-in op's reverse step: v's adjoint into its arguments' through the op's
   derivative. W->x holds 2n doubles: argument values, then partials (left there for anomaly
   detection). Inline: it is backward's hot loop. */
static inline void lgI_pushadjoint (lg_Work *W, lg_Value *v) {
  uint32_t i, n = v->n;
  double *x = W->x, *dx = x + n;
  for (i = 0; i < n; i++) x[i] = lgI_argdata(v, i);
  lgI_opdef(v->op)->backward((int)n, x, v->data, v->adj, dx);
  for (i = 0; i < n; i++) {
    if (!lgI_isconst(v, i)) v->in[i].v->adj += dx[i];
  }
}

/* The replay steps of each kind (tape.c). */
LGI_FUNC int lgI_tapeskip (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapeopfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapeopbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapecallfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapecallbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapeoutfwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);
LGI_FUNC int lgI_tapeoutbwd (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c);

#endif
