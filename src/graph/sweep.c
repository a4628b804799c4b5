/*
** sweep.c: the sweeps over a graph's order: backward, gradients without touching grads,
** forward mode (tangents) and zero_grad. Every traversal is a loop over the order: graph
** depth is unbounded.
*/
#include <string.h>
#include "graph/lg_graph.h"
#include "core/lg_tnode.h"

/* ---- backward ------------------------------------------------------------------- */

/* A node's adjoint goes into its grad (by its kind's step), and its marks go. */
static void settle (lg_Work *W, lg_Value *v) {
  lgI_kinds[v->kind].settle(W, v);
  v->adj = 0.0;
  v->flags &= (uint8_t)~(LGI_MARKS | LGI_GRADVALUE);
}

/* Abandons a sweep: no grad changes, every adjoint and mark goes. */
static void abandonsweep (lg_Work *W) {
  size_t i;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    lgI_kinds[v->kind].abandon(W, v);
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

/* Pushes every node's adjoint to its parents', children first, each by its kind's step. A
   host function's vjp may fail, or (under anomaly detection) a derivative give NaN: then the
   sweep is abandoned (no adjoint or mark left) and the error returned. */
static int pushall (lg_Work *W) {
  size_t i;
  for (i = W->count; i-- > 0; ) {
    lg_Value *v = W->order[i];
    const lgI_Kind *k = &lgI_kinds[v->kind];
    int err = k->reverse(W, v);
    if (err == LG_OK && k->checked && (W->mode & LGI_ANOMALY) && nanpartial(W, v))
      err = LGI_ENAN;
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
  if (W->tensors && W->tgrads != NULL && (err = W->tgrads(W)) != LG_OK) {
    abandonsweep(W);   /* the .grad tensors to come could not all be had */
    return err;
  }
  for (i = 0; i < W->count; i++) settle(W, W->order[i]);
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
  if (W->fallible || (W->mode & LGI_ANOMALY)) return sweepchecked(W);
  for (i = W->count; i-- > 0; ) {  /* children before parents: leaves and ops only */
    lg_Value *v = W->order[i];
    if (v->n > 0) lgI_pushadjoint(W, v);
    v->grad += v->adj;
    v->adj = 0.0;
    v->flags &= (uint8_t)~(LGI_MARKS | LGI_GRADVALUE);
  }
  return LG_OK;
}

int lgI_backwardt (lg_Work *W, lg_Value *root, const lg_TDesc *gd, const void *g) {
  lg_TDesc d;
  void *adj;
  int err = lgI_toposort(W, root);
  if (err != LG_OK) return err;
  if (lgI_reservex(W, 2 * W->maxn) != LG_OK) {
    lgI_unmark(W);
    return LG_EMEM;
  }
  lgI_tcontig(&lgI_trec(root)->d, &d);
  if ((adj = lgI_tadj(W, root)) == NULL) err = LG_EMEM;
  else err = lgI_taxpy(&d, adj, 1.0, gd, g);
  if (err != LG_OK) {
    abandonsweep(W);
    return err;
  }
  return sweepchecked(W);
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

/* lgI_gradients over tensors too: a root that is a tensor is seeded by the tensor
   tseeds[i] (NULL for a Value root, seeded by seeds[i]); an input that is a tensor gets its
   adjoint added into tgrads[j], a contiguous tensor of its sizes (zero where the sweep does
   not reach it), and a Value input's goes to grads[j]. No grad changes. */
int lgI_gradientst (lg_Work *W, lg_Value *const *outs, const double *seeds,
                    lg_Value *const *tseeds, size_t nout, lg_Value *const *ins, size_t nin,
                    double *grads, lg_Value *const *tgrads) {
  size_t i;
  int err = lgI_toposortn(W, outs, nout);
  if (err != LG_OK) return err;
  if (lgI_reservex(W, 2 * W->maxn) != LG_OK) {
    lgI_unmark(W);
    return LG_EMEM;
  }
  for (i = 0; i < nout && err == LG_OK; i++) {
    const lg_TensorRec *s;
    lg_TDesc d;
    void *adj;
    if (tseeds[i] == NULL) {
      outs[i]->adj += seeds[i];
      continue;
    }
    s = lgI_trec(tseeds[i]);
    lgI_tcontig(&lgI_trec(outs[i])->d, &d);
    if ((adj = lgI_tadj(W, outs[i])) == NULL) err = LG_EMEM;
    else err = lgI_taxpy(&d, adj, 1.0, &s->d, s->data);
  }
  if (err != LG_OK) {
    abandonsweep(W);
    return err;
  }
  if ((err = pushall(W)) != LG_OK) return err;   /* abandoned already */
  for (i = 0; i < nin && err == LG_OK; i++) {
    const lg_TensorRec *r;
    lg_TensorRec *g;
    lg_TDesc d;
    if (tgrads[i] == NULL) {
      grads[i] = ins[i]->adj;   /* 0 outside the graph */
      continue;
    }
    r = lgI_trec(ins[i]);
    if (r->adj == NULL) continue;   /* not reached: zero */
    g = lgI_trec(tgrads[i]);
    lgI_tcontig(&r->d, &d);
    err = lgI_taxpy(&g->d, g->data, 1.0, &d, r->adj);
  }
  abandonsweep(W);
  return err;
}

/* ---- forward mode ------------------------------------------------------------------ */

/* Tangents flow forward, each node's by its kind's step. */
static int tangents (lg_Work *W) {
  size_t i;
  if (lgI_reservex(W, 2 * W->maxn + LG_MAXFUNCARGS) != LG_OK) return LG_EMEM;
  for (i = 0; i < W->count; i++) {
    lg_Value *v = W->order[i];
    int err;
    if (v->flags & LGI_GIVEN) continue;
    if ((err = lgI_kinds[v->kind].tangent(W, v)) != LG_OK) return err;
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
