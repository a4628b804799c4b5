/*
** graphmode.c: the sweeps that build every derivative from ops (create_graph, nested
** transforms, forward mode on Values), so that it can be differentiated again. The caller
** (the binding, on Values) holds the adjoints or tangents and makes the ops, behind an
** lgI_GraphSweep; these loops decide, by each node's kind, what it contributes. A step of
** the caller's may raise (a Lua error): the loops hold nothing that would need releasing.
*/
#include "graph/lg_graph.h"

/* Runs the build of the op at position i with g as dJ/dy, for argument want (-1: all). */
static void build (lgI_GraphSweep *S, size_t i, int g, int want) {
  lg_Value *v = S->order[i - 1];
  uint32_t k;
  for (k = 0; k < v->n; k++) S->x[k] = lgI_argdata(v, k);
  S->B.x = S->x;
  S->B.y = v->data;
  S->B.n = (int)v->n;
  S->B.want = want;
  S->at = i;
  S->g = g;
  lgI_opdef(v->op)->build(&S->B);
}

/* A built-in op, reverse: its build hands each argument its share of g. */
void lgI_opgraphreverse (lgI_GraphSweep *S, size_t i, int g) { build(S, i, g, -1); }

/* A built-in op, forward: its tangent is the sum, over its arguments, of its build for that
   argument with the argument's tangent as g (a build is linear in g). */
void lgI_opgraphtangent (lgI_GraphSweep *S, size_t i) {
  lg_Value *v = S->order[i - 1];
  uint32_t k;
  for (k = 0; k < v->n; k++) {
    int mark, t;
    if (lgI_isconst(v, k)) continue;
    mark = S->mark(S);
    if ((t = S->argtangent(S, i, k)) >= 0) build(S, i, t, (int)k);
    S->release(S, mark);
  }
  S->settangent(S, i);
}

void lgI_leafgraphreverse (lgI_GraphSweep *S, size_t i, int g) { (void)S; (void)i; (void)g; }
void lgI_leafgraphtangent (lgI_GraphSweep *S, size_t i) { (void)S; (void)i; }

/* Calls and outputs: the caller's own steps (a custom function's backward on Values). */
void lgI_callgraphreverse (lgI_GraphSweep *S, size_t i, int g) { S->callreverse(S, i, g); }
void lgI_callgraphtangent (lgI_GraphSweep *S, size_t i) { S->calltangent(S, i); }
void lgI_outputgraphreverse (lgI_GraphSweep *S, size_t i, int g) { S->outputreverse(S, i, g); }
void lgI_outputgraphtangent (lgI_GraphSweep *S, size_t i) { S->outputtangent(S, i); }

void lgI_reversegraph (lgI_GraphSweep *S) {
  size_t i;
  for (i = S->count; i > 0; i--) {   /* children before parents */
    lg_Value *v = S->order[i - 1];
    int mark, g;
    if (v->kind == LGI_KLEAF) continue;   /* nothing to hand on: skip the look-up */
    mark = S->mark(S);
    if ((g = S->adjoint(S, i)) >= 0) lgI_kinds[v->kind].graphreverse(S, i, g);
    S->release(S, mark);
  }
}

void lgI_forwardgraph (lgI_GraphSweep *S) {
  size_t i;
  for (i = 1; i <= S->count; i++) {   /* parents before children */
    lg_Value *v = S->order[i - 1];
    int mark;
    if (v->kind == LGI_KLEAF) continue;
    mark = S->mark(S);
    if (S->begin(S, i)) lgI_kinds[v->kind].graphtangent(S, i);
    S->release(S, mark);
  }
}
