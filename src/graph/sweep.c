/*
** sweep.c: the sweeps over a graph's order: backward, gradients without touching grads,
** forward mode (tangents) and zero_grad. Every traversal is a loop over the order: graph
** depth is unbounded.
*/
#include <string.h>
#include "graph/lg_graph.h"

/* ---- backward ------------------------------------------------------------------- */

/* Pushes v's adjoint to its parents' adjoints through the op's derivative. x holds 2n
   doubles: argument values, then partials. */
static void pushadjoint (lg_Value *v, double *x) {
  uint32_t i, n = v->n;
  double *dx = x + n;
  for (i = 0; i < n; i++) x[i] = lgI_argdata(v, i);
  lgI_ops[v->op].backward((int)n, x, v->data, v->adj, dx);
  for (i = 0; i < n; i++) {
    if (!lgI_isconst(v, i)) v->in[i].v->adj += dx[i];
  }
}

/* A node's adjoint goes into its grad, and its marks go. */
static void settle (lg_Value *v) {
  v->grad += v->adj;
  v->adj = 0.0;
  v->flags &= (uint8_t)~(LGI_MARKS | LGI_GRADVALUE);
}

/* Abandons a sweep: no grad changes, every adjoint and mark goes. */
static void abandonsweep (lg_Work *W) {
  size_t i;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    if (v->op == LGI_CALL) lgI_callabandon(v);
    v->adj = 0.0;
  }
  lgI_unmark(W);
}

/* Does a partial that v's derivative left in W->x[n .. 2n-1] read NaN for an argument that
   is a Value (a constant's partial is never used)? Then W->bad and W->badarg say where. */
static int nanpartial (lg_Work *W, lg_Value *v) {
  uint32_t i;
  for (i = 0; i < v->n; i++) {
    double d = W->x[v->n + i];
    if (d != d && !lgI_isconst(v, i)) {
      W->bad = v;
      W->badarg = i;
      return 1;
    }
  }
  return 0;
}

/* Pushes every node's adjoint to its parents', children first. A host function's vjp may
   fail, or (under anomaly detection) a derivative give NaN: then the sweep is abandoned (no
   adjoint or mark left) and the error returned. */
static int pushall (lg_Work *W) {
  size_t i;
  for (i = W->count; i-- > 0; ) {
    lg_Value *v = W->order[i];
    int err = LG_OK;
    if (v->op == LGI_OUTPUT) lgI_outputbackward(v);  /* passes its adjoint on unchanged */
    else {
      if (v->op == LGI_CALL) err = lgI_callbackward(W, v);
      else if (v->n > 0) pushadjoint(v, W->x);
      if (err == LG_OK && (W->mode & LGI_ANOMALY) && nanpartial(W, v)) err = LGI_ENAN;
    }
    if (err != LG_OK) {
      abandonsweep(W);
      return err;
    }
  }
  return LG_OK;
}

/*
** A graph with host functions, or under anomaly detection: a vjp may fail, or a derivative
** give NaN, so adjoints are all computed before any grad changes (a failed backward leaves
** every grad as it was).
*/
static int sweepchecked (lg_Work *W) {
  size_t i;
  int err = pushall(W);
  if (err != LG_OK) return err;
  for (i = 0; i < W->count; i++) settle(W->order[i]);
  return LG_OK;
}

/*
** Adjoints accumulate in the scratch field adj and are added to grad at the end, so a
** second backward adds the same amounts again, for intermediates as for leaves. Built-in
** ops cannot fail, so without host functions or anomaly detection one pass does both.
*/
int lgI_backward (lg_Work *W, lg_Value *root, double seed) {
  size_t i;
  int err = lgI_toposort(W, root);
  if (err != LG_OK) return err;
  if (lgI_reservex(W, 2 * W->maxn) != LG_OK) {
    lgI_unmark(W);
    return LG_EMEM;
  }
  root->adj = seed;
  if (W->hascall || (W->mode & LGI_ANOMALY)) return sweepchecked(W);
  for (i = W->count; i-- > 0; ) {  /* children before parents */
    lg_Value *v = W->order[i];
    if (v->n > 0) pushadjoint(v, W->x);
    settle(v);
  }
  return LG_OK;
}

/* Adjoints of sum(seeds[i] * roots[i]) in every node's adj, grads untouched: the caller
   reads them, then sweepend clears adjoints and marks. */
static int sweep (lg_Work *W, lg_Value *const *roots, const double *seeds, size_t n) {
  size_t i;
  int err = lgI_toposortn(W, roots, n);
  if (err != LG_OK) return err;
  if (lgI_reservex(W, 2 * W->maxn) != LG_OK) {
    lgI_unmark(W);
    return LG_EMEM;
  }
  for (i = 0; i < n; i++) roots[i]->adj += seeds[i];
  return pushall(W);
}

int lgI_gradients (lg_Work *W, lg_Value *const *outs, const double *seeds, size_t nout,
                   lg_Value *const *ins, size_t nin, double *grads) {
  size_t j;
  int err = sweep(W, outs, seeds, nout);
  if (err != LG_OK) return err;
  for (j = 0; j < nin; j++) grads[j] = ins[j]->adj;   /* 0 outside the graph */
  abandonsweep(W);
  return LG_OK;
}

/* ---- forward mode ------------------------------------------------------------------ */

/* A call's output tangents (in its record's adjoint half) from its arguments' tangents:
   one vjp per output gives that output's row of the Jacobian. x: 2n + nout doubles. */
static int calltangents (lg_Work *W, lg_Value *call) {
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

/*
** Tangents flow forward: a node's is the sum over its arguments of the partial (the op's
** backward with g = 1) times the argument's tangent. A zero tangent is no perturbation at
** all, so its term is skipped: an infinite partial (sqrt at 0) times it adds nothing.
*/
static int tangents (lg_Work *W) {
  size_t i;
  if (lgI_reservex(W, 2 * W->maxn + LG_MAXFUNCARGS) != LG_OK) return LG_EMEM;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    uint32_t k, n = v->n;
    double *x = W->x, *dx = x + n, t = 0.0;
    if (v->op == LGI_LEAF || (v->flags & LGI_GIVEN)) continue;
    if (v->op == LGI_OUTPUT) {
      lg_CallRec *r = lgI_callrec(v->in[0].v);
      v->adj = r->y[r->f->nout + (int)v->in[1].k];
      continue;
    }
    if (v->op == LGI_CALL) {
      int err = calltangents(W, v);
      if (err != LG_OK) return err;
      continue;
    }
    for (k = 0; k < n; k++) x[k] = lgI_argdata(v, k);
    lgI_ops[v->op].backward((int)n, x, v->data, 1.0, dx);
    for (k = 0; k < n; k++) {
      if (!lgI_isconst(v, k) && v->in[k].v->adj != 0.0) t += dx[k] * v->in[k].v->adj;
    }
    v->adj = t;
  }
  return LG_OK;
}

int lgI_jvp (lg_Work *W, lg_Value *const *ins, const double *tins, size_t nin,
             lg_Value *const *outs, size_t nout, double *touts) {
  size_t i;
  int err = lgI_toposortn(W, outs, nout);
  if (err != LG_OK) return err;
  for (i = 0; i < nin; i++) {   /* inputs outside the graph are left alone */
    if (ins[i]->flags & LGI_MARKED) {
      ins[i]->adj += tins[i];
      ins[i]->flags |= LGI_GIVEN;
    }
  }
  err = tangents(W);
  for (i = 0; i < nout && err == LG_OK; i++) touts[i] = outs[i]->adj;
  for (i = 0; i < nin; i++) ins[i]->flags &= (uint8_t)~LGI_GIVEN;
  abandonsweep(W);
  return err;
}

int lgI_zerograd (lg_Work *W, lg_Value *root) {
  size_t i;
  int err = lgI_toposort(W, root);
  if (err != LG_OK) return err;
  for (i = 0; i < W->count; i++) {
    W->order[i]->grad = 0.0;
    W->order[i]->flags &= (uint8_t)~LGI_GRADVALUE;
  }
  lgI_unmark(W);
  return LG_OK;
}
