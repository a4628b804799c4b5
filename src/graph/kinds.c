/*
** kinds.c: what each kind of node does in a traversal, one row per kind (lgI_kinds): its
** reverse step (its adjoint into its arguments'), its forward-mode step (its tangent from
** its arguments'), what a sweep given up must clear, the name Value.op shows, how DOT draws
** it, and its replay steps in a tape. The sweeps, the replays, DOT and Value.op dispatch
** through this table; only the code that makes nodes (and flattens them into a tape) knows
** their kinds otherwise.
*/
#include "graph/lg_graph.h"
#include "core/lg_tnode.h"

/* ---- a built-in op: its row of lgI_ops -------------------------------------------- */

static int op_reverse (lg_Work *W, lg_Value *v) {
  if (v->n > 0) lgI_pushadjoint(W, v);
  return LG_OK;
}

/*
** A node's tangent is the sum over its arguments of the partial (the op's backward with
** g = 1) times the argument's tangent. A zero tangent is no perturbation at all, so its term
** is skipped: an infinite partial (sqrt at 0) times it adds nothing.
*/
static int op_tangent (lg_Work *W, lg_Value *v) {
  uint32_t k, n = v->n;
  double *x = W->x, *dx = x + n, t = 0.0;
  for (k = 0; k < n; k++) x[k] = lgI_argdata(v, k);
  lgI_opdef(v->op)->backward((int)n, x, v->data, 1.0, dx);
  for (k = 0; k < n; k++) {
    if (!lgI_isconst(v, k) && v->in[k].v->adj != 0.0) t += dx[k] * v->in[k].v->adj;
  }
  v->adj = t;
  return LG_OK;
}

static const char *op_name (const lg_Value *v) { return lgI_opdef(v->op)->name; }

/* ---- a leaf ------------------------------------------------------------------------ */

static int leaf_step (lg_Work *W, lg_Value *v) { (void)W; (void)v; return LG_OK; }

/* ---- a host function's call and its outputs (core/call.c) ------------------------ */

static int call_reverse (lg_Work *W, lg_Value *v) { return lgI_callbackward(W, v); }

/* A call's output tangents (in its record's adjoint half) from its arguments' tangents:
   one vjp per output gives that output's row of the Jacobian. W->x: 2n + nout doubles. */
static int call_tangent (lg_Work *W, lg_Value *call) {
  lg_CallRec *r = lgI_callrec(call);
  const lg_Func *f = r->f;
  uint32_t i, n = call->n;
  int j;
  double *x = W->x, *gx = x + n, *gy = gx + n;
  for (i = 0; i < n; i++) x[i] = lgI_argdata(call, i);
  for (j = 0; j < f->nout; j++) {
    double t = 0.0;
    int k, err;
    for (k = 0; k < f->nout; k++) gy[k] = (k == j);
    if ((err = lgI_hostvjp(W, f, x, r->y, gy, gx)) != LG_OK) return err;
    for (i = 0; i < n; i++) {
      if (!lgI_isconst(call, i) && call->in[i].v->adj != 0.0) t += gx[i] * call->in[i].v->adj;
    }
    r->y[f->nout + j] = t;
  }
  return LG_OK;
}

static const char *call_name (const lg_Value *v) { return lgI_callrec(v)->f->name; }

/* An output passes its adjoint on, unchanged, to its call's record. */
static int output_reverse (lg_Work *W, lg_Value *v) {
  (void)W;
  lgI_outputbackward(v);
  return LG_OK;
}

/* An output's tangent is the one its call computed for it. */
static int output_tangent (lg_Work *W, lg_Value *v) {
  lg_CallRec *r = lgI_callrec(v->in[0].v);
  (void)W;
  v->adj = r->y[r->f->nout + (int)v->in[1].k];
  return LG_OK;
}

static const char *output_name (const lg_Value *v) { return lgI_callrec(v->in[0].v)->f->name; }

static void noabandon (lg_Work *W, lg_Value *v) { (void)W; (void)v; }

static void callabandon (lg_Work *W, lg_Value *v) { (void)W; lgI_callabandon(v); }

/* ---- a tensor, and a Value made by a tensor op (core/lg_tnode.h, core/tops.c) ------ */

static int tensor_reverse (lg_Work *W, lg_Value *v) { return lgI_treverse(W, v); }

/* Forward mode, tapes and graph mode come to tensors later: they refuse them meanwhile. */
static int tensor_tangent (lg_Work *W, lg_Value *v) { (void)W; (void)v; return LGI_ETENSOR; }

static int tensor_unsupported (lg_Tape *T, lg_Work *W, uint32_t i, uint32_t *c) {
  (void)T; (void)W; (void)i; (void)c;
  return LGI_ETENSOR;   /* lgI_tapebegin refuses tensors: a tape never holds one */
}

static void tensor_abandon (lg_Work *W, lg_Value *v) { lgI_tfreeadj(W, v); }

/* A tensor's adjoint goes into the .grad the binding gave it (gradto), then its buffer. */
static void tensor_settle (lg_Work *W, lg_Value *v) {
  lg_TensorRec *r = lgI_trec(v);
  if (r->adj != NULL && r->gradto != NULL) {
    lg_TDesc g;
    lgI_tcontig(&r->d, &g);
    (void)lgI_taxpy(&r->gradto->d, r->gradto->data, 1.0, &g, r->adj);   /* same shape */
  }
  lgI_tfreeadj(W, v);
}

static const char *tensor_name (const lg_Value *v) { return lgI_tname(v); }

/* A Value's adjoint goes into its grad. */
static void value_settle (lg_Work *W, lg_Value *v) {
  (void)W;
  v->grad += v->adj;
}

/* ---- the table ---------------------------------------------------------------------- */

const lgI_Kind lgI_kinds[LGI_NKINDS] = {
  /*              reverse         tangent         abandon         settle         name         dot            checked fallible
                  tape forward    tape backward    graph reverse           graph tangent */
  [LGI_KLEAF] =   {leaf_step,      leaf_step,      noabandon,      value_settle,  op_name,     LGI_DOTRECORD, 0,      0,
                   lgI_tapeskip,   lgI_tapeskip,    lgI_leafgraphreverse,   lgI_leafgraphtangent},
  [LGI_KOP] =     {op_reverse,     op_tangent,     noabandon,      value_settle,  op_name,     LGI_DOTRECORD, 1,      0,
                   lgI_tapeopfwd,  lgI_tapeopbwd,   lgI_opgraphreverse,     lgI_opgraphtangent},
  [LGI_KCALL] =   {call_reverse,   call_tangent,   callabandon,    value_settle,  call_name,   LGI_DOTCIRCLE, 1,      1,
                   lgI_tapecallfwd, lgI_tapecallbwd, lgI_callgraphreverse, lgI_callgraphtangent},
  [LGI_KOUTPUT] = {output_reverse, output_tangent, noabandon,      value_settle,  output_name, LGI_DOTOUTPUT, 0,      0,
                   lgI_tapeoutfwd, lgI_tapeoutbwd,  lgI_outputgraphreverse, lgI_outputgraphtangent},
  /* tensors: fallible (a buffer may not be had), so their graphs take the checked sweep */
  [LGI_KTENSOR] = {tensor_reverse, tensor_tangent, tensor_abandon, tensor_settle, tensor_name, LGI_DOTTENSOR, 0,      1,
                   tensor_unsupported, tensor_unsupported, lgI_leafgraphreverse, lgI_leafgraphtangent},
  [LGI_KTVALUE] = {tensor_reverse, tensor_tangent, noabandon,      value_settle,  tensor_name, LGI_DOTRECORD, 0,      1,
                   tensor_unsupported, tensor_unsupported, lgI_leafgraphreverse, lgI_leafgraphtangent},
};

const char *lgI_opname (const lg_Value *v) { return lgI_kinds[v->kind].name(v); }
