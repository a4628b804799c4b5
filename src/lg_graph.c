/*
** lg_graph.c: nodes, the order of a graph, backward and zero_grad. Every traversal is a loop
** over an explicit stack: graph depth is unbounded.
*/
#include <string.h>
#include "lg_internal.h"

/* ---- nodes ------------------------------------------------------------------- */

void lgI_forward (lg_Value *v, double *x) {
  uint32_t i;
  for (i = 0; i < v->n; i++) x[i] = lgI_argdata(v, i);
  v->data = lgI_ops[v->op].forward((int)v->n, x);
}

/* ---- scratch memory ---------------------------------------------------------- */

void lgI_workinit (lg_Work *W, lg_Alloc allocf, void *ud) {
  memset(W, 0, sizeof(*W));
  W->allocf = allocf;
  W->ud = ud;
}

void *lgI_alloc (lg_Work *W, void *p, size_t osize, size_t nsize) {
  return W->allocf(W->ud, p, osize, nsize);
}

void lgI_workfree (lg_Work *W) {
  lgI_alloc(W, W->stack, W->nstack * sizeof(lg_Value *), 0);
  lgI_alloc(W, W->order, W->norder * sizeof(lg_Value *), 0);
  lgI_alloc(W, W->x, W->nx * sizeof(double), 0);
  lgI_alloc(W, W->text, W->ntext, 0);
  W->stack = W->order = NULL;
  W->x = NULL;
  W->text = NULL;
  W->nstack = W->norder = W->nx = W->ntext = 0;
}

/* Grows *buf (of *cap elements of size elem) to hold at least need; LG_EMEM on failure. */
static int grow (lg_Work *W, void **buf, size_t *cap, size_t need, size_t elem) {
  size_t ncap = (*cap < 64) ? 64 : *cap;
  void *nb;
  if (need <= *cap) return LG_OK;
  while (ncap < need) {
    if (ncap > ((size_t)-1 / 2) / elem) return LG_EMEM;
    ncap *= 2;
  }
  nb = lgI_alloc(W, *buf, *cap * elem, ncap * elem);
  if (nb == NULL) return LG_EMEM;
  *buf = nb;
  *cap = ncap;
  return LG_OK;
}

int lgI_reservex (lg_Work *W, size_t n) {
  return grow(W, (void **)&W->x, &W->nx, n, sizeof(double));
}

/* ---- order ----------------------------------------------------------------------- */

#define MARKS (LGI_MARKED | LGI_DONE | LGI_NESTED)

void lgI_unmark (lg_Work *W) {
  size_t i;
  for (i = 0; i < W->count; i++) W->order[i]->flags &= (uint8_t)~MARKS;
}

/* Clears the marks left by a toposort that stopped part way (err): nodes already ordered and
   nodes still on the stack; a nested traversal clears only its own. */
static int abandon (lg_Work *W, size_t sp, int err) {
  size_t i;
  for (i = 0; i < sp; i++) {
    if (!W->nested || (W->stack[i]->flags & LGI_NESTED)) W->stack[i]->flags &= (uint8_t)~MARKS;
  }
  lgI_unmark(W);
  W->count = 0;
  return err;
}

/* A node another traversal holds, met by one nested in its callback? */
#define HELD(nested, v) ((nested) && ((v)->flags & (LGI_MARKED | LGI_NESTED)) == LGI_MARKED)

/*
** Iterative DFS post-order. A node is marked when first expanded (its unmarked parents are
** pushed) and emitted when met again on top of the stack with all its parents done. A node
** may be pushed twice before it is expanded; the later copy finds it marked and drops it.
*/
int lgI_toposort (lg_Work *W, lg_Value *root) {
  return lgI_toposortn(W, &root, 1);
}

int lgI_toposortn (lg_Work *W, lg_Value *const *roots, size_t nroots) {
  size_t sp = 0;
  const int nested = W->nested;   /* a local: writes to flags (bytes) may alias W */
  const uint8_t mark = (uint8_t)(nested ? LGI_MARKED | LGI_NESTED : LGI_MARKED);
  W->count = 0;
  W->maxn = 0;
  W->hascall = 0;
  if (grow(W, (void **)&W->stack, &W->nstack, nroots, sizeof(lg_Value *)) != LG_OK)
    return LG_EMEM;
  while (sp < nroots) {  /* reversed, so the first root comes out first */
    W->stack[sp] = roots[nroots - 1 - sp];
    sp++;
  }
  while (sp > 0) {
    lg_Value *v = W->stack[sp - 1];
    if (!(v->flags & LGI_MARKED)) {  /* first visit: expand */
      uint32_t i;
      v->flags |= mark;
      if (grow(W, (void **)&W->stack, &W->nstack, sp + v->n, sizeof(lg_Value *)) != LG_OK)
        return abandon(W, sp, LG_EMEM);
      for (i = v->n; i-- > 0; ) {  /* reversed, so the first argument comes out first */
        if (lgI_isconst(v, i)) continue;
        if (!(v->in[i].v->flags & LGI_MARKED)) W->stack[sp++] = v->in[i].v;
        else if (HELD(nested, v->in[i].v)) return abandon(W, sp, LGI_EBUSY);
      }
    }
    else if (HELD(nested, v)) return abandon(W, sp, LGI_EBUSY);   /* a root */
    else {
      sp--;
      if (!(v->flags & LGI_DONE)) {  /* all parents done: emit */
        if (grow(W, (void **)&W->order, &W->norder, W->count + 1, sizeof(lg_Value *)) != LG_OK)
          return abandon(W, sp + 1, LG_EMEM);
        v->flags |= LGI_DONE;
        W->order[W->count++] = v;
        if (v->n > W->maxn) W->maxn = v->n;
        if (v->op == LGI_CALL) W->hascall = 1;
      }
    }
  }
  return LG_OK;
}

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
  v->flags &= (uint8_t)~(MARKS | LGI_GRADVALUE);
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
