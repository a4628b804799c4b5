/*
** tops.c: the tensor ops (lg_tnode.h's lgI_tops), each a forward and a backward over the
** kernels of lg_tensor.h. An elementwise op is the scalar op's block (core/ops.c) run over
** the elements: its forward and its numeric derivative, the same functions a Value uses,
** so a tensor's exp and a Value's exp agree bit for bit. Broadcasting's backward is one
** function, lgI_taddsumto; a view's backward applies the view to its base's adjoint.
*/
#include <math.h>
#include <string.h>
#include "core/lg_tnode.h"

/* ---- operands, adjoints, small kernels -------------------------------------------- */

void lgI_tcontig (const lg_TDesc *d, lg_TDesc *out) {
  (void)lgI_tinit(out, d->dtype, d->ndim, d->size);   /* d is valid: cannot fail */
}

/* A 0-d float64 descriptor: a Value's number or a constant seen as a tensor */
static void scalardesc (lg_TDesc *d) {
  memset(d, 0, sizeof(*d));
  d->dtype = LGI_F64;
}

void lgI_toperand (const lg_Value *t, uint32_t i, lg_TDesc *d, void **data) {
  if (lgI_isconst(t, i)) {
    scalardesc(d);
    *data = (void *)&t->in[i].k;
  }
  else if (t->in[i].v->kind == LGI_KTENSOR) {
    const lg_TensorRec *r = lgI_trec(t->in[i].v);
    *d = r->d;
    *data = r->data;
  }
  else {
    scalardesc(d);
    *data = (void *)&t->in[i].v->data;
  }
}

int lgI_twants (const lg_Value *t, uint32_t i) {
  const lg_Value *a;
  if (lgI_isconst(t, i)) return 0;
  a = t->in[i].v;
  return a->kind != LGI_KTENSOR || (lgI_trec(a)->tflags & LGI_TREQGRAD);
}

static size_t adjbytes (const lg_TensorRec *r) {
  size_t n = (size_t)lgI_tnumel(&r->d) * lgI_elemsize(r->d.dtype);
  return n > 0 ? n : 8;
}

void *lgI_tadj (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  if (r->adj == NULL) {
    size_t n = adjbytes(r);
    r->adj = lgI_alloc(W, NULL, 0, n);
    if (r->adj != NULL) memset(r->adj, 0, n);
  }
  return r->adj;
}

void lgI_tfreeadj (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  if (r->adj != NULL) lgI_alloc(W, r->adj, adjbytes(r), 0);
  r->adj = NULL;
  r->gradto = NULL;
}

/* The adjoint target of slot i: a tensor's buffer (contiguous) or a Value's adj. */
static int target (lg_Work *W, lg_Value *t, uint32_t i, lg_TDesc *d, void **data) {
  lg_Value *a = t->in[i].v;
  if (a->kind == LGI_KTENSOR) {
    lgI_tcontig(&lgI_trec(a)->d, d);
    if ((*data = lgI_tadj(W, a)) == NULL) return LG_EMEM;
  }
  else {
    scalardesc(d);
    *data = &a->adj;
  }
  return LG_OK;
}

static double ld (const char *p, int dt) {
  return dt == LGI_F32 ? (double)*(const float *)p : *(const double *)p;
}

static void st (char *p, int dt, double x) {
  if (dt == LGI_F32) *(float *)p = (float)x;
  else *(double *)p = x;
}

typedef struct Axpy { double alpha; int dt[2]; } Axpy;

static void axpyloop (char **p, const int64_t *s, int64_t n, void *ud) {
  const Axpy *a = (const Axpy *)ud;
  int64_t i;
  if (a->dt[0] == LGI_F64 && a->dt[1] == LGI_F64 && s[0] == 8 && s[1] == 8) {
    double *o = (double *)p[0];
    const double *x = (const double *)p[1];
    for (i = 0; i < n; i++) o[i] += a->alpha * x[i];
    return;
  }
  if (a->dt[0] == LGI_F64 && a->dt[1] == LGI_F64 && s[0] == 8 && s[1] == 0) {
    double *o = (double *)p[0], x = a->alpha * *(const double *)p[1];   /* one number */
    for (i = 0; i < n; i++) o[i] += x;
    return;
  }
  for (i = 0; i < n; i++) {
    char *o = p[0] + i * s[0];
    st(o, a->dt[0], ld(o, a->dt[0]) + a->alpha * ld(p[1] + i * s[1], a->dt[1]));
  }
}

int lgI_taxpy (const lg_TDesc *out, void *od, double alpha, const lg_TDesc *src,
               const void *sd) {
  lg_TDesc e;
  const lg_TDesc *ops[2];
  void *data[2];
  lgI_Iter it;
  Axpy a;
  int err = lgI_expand(src, out->ndim, out->size, &e);
  if (err != LG_OK) return err;
  ops[0] = out; ops[1] = &e;
  data[0] = od; data[1] = (void *)sd;
  if ((err = lgI_iterinit(&it, 2, ops, data)) != LG_OK) return err;
  a.alpha = alpha;
  a.dt[0] = out->dtype;
  a.dt[1] = src->dtype;
  lgI_iterrun(&it, axpyloop, &a);
  return LG_OK;
}

int lgI_taddsumto (lg_Work *W, const lg_TDesc *out, void *od, const lg_TDesc *src,
                   const void *sd) {
  uint32_t mask;
  lg_TDesc red;
  double one;
  void *tmp;
  size_t bytes;
  int64_t n;
  int err;
  if (out->ndim == src->ndim &&
      memcmp(out->size, src->size, (size_t)out->ndim * sizeof(int64_t)) == 0)
    return lgI_taxpy(out, od, 1.0, src, sd);
  if ((err = lgI_sumto(src->ndim, src->size, out->ndim, out->size, &mask)) != LG_OK)
    return err;
  if ((err = lgI_reduceshape(src, mask, 1, &red)) != LG_OK) return err;
  red.dtype = LGI_F64;
  n = lgI_tnumel(&red);
  bytes = (size_t)(n > 0 ? n : 1) * sizeof(double);
  tmp = (n == 1) ? &one : lgI_alloc(W, NULL, 0, bytes);
  if (tmp == NULL) return LG_EMEM;
  {  /* sums in double, whatever src's dtype: reduce a double copy when src is float */
    lg_TDesc s2 = *src;
    err = lgI_reduce(W, LGI_RSUM, &s2, sd, mask, 0, tmp, NULL);
    if (err == LG_OK && src->dtype == LGI_F32) {   /* lgI_reduce gave floats: widen */
      int64_t j;
      for (j = n; j-- > 0; ) ((double *)tmp)[j] = (double)((float *)tmp)[j];
    }
  }
  if (err == LG_OK) {   /* the kept shape holds out's elements in out's order */
    lg_TDesc flat;
    (void)lgI_tinit(&flat, LGI_F64, out->ndim, out->size);
    err = lgI_taxpy(out, od, 1.0, &flat, tmp);
  }
  if (tmp != &one) lgI_alloc(W, tmp, bytes, 0);
  return err;
}

/* ---- the in-place check ----------------------------------------------------------- */

void lgI_tsaw (lg_Value *t) {
  uint32_t i, k = 0;
  uint64_t *seen;
  if (t->kind == LGI_KTENSOR) {
    lg_TensorRec *r = lgI_trec(t);
    r->saw = *r->version;
    seen = r->seen;
  }
  else seen = lgI_tvrec(t)->seen;
  for (i = 0; i < t->n; i++) {
    if (lgI_isconst(t, i) || t->in[i].v->kind != LGI_KTENSOR) continue;
    if (k < (t->kind == LGI_KTENSOR ? LGI_TSAVED : 2))
      seen[k++] = *lgI_trec(t->in[i].v)->version;
  }
}

static int changed (const lg_Value *t) {
  uint32_t i, k = 0;
  const uint64_t *seen;
  if (t->kind == LGI_KTENSOR) {
    const lg_TensorRec *r = lgI_trec(t);
    if (*r->version != r->saw) return 1;
    seen = r->seen;
  }
  else seen = lgI_tvrec(t)->seen;
  for (i = 0; i < t->n; i++) {
    if (lgI_isconst(t, i) || t->in[i].v->kind != LGI_KTENSOR) continue;
    if (k < (t->kind == LGI_KTENSOR ? LGI_TSAVED : 2) &&
        seen[k++] != *lgI_trec(t->in[i].v)->version)
      return 1;
  }
  return 0;
}

/* An elementwise op whose derivative reads no number (+, -, negation) */
static int passes (const lg_Value *t) {
  int sop;
  if (t->kind != LGI_KTENSOR || lgI_trec(t)->top != LGI_TMAP) return 0;
  sop = lgI_trec(t)->sop;
  return sop == LGI_ADD || sop == LGI_SUB || sop == LGI_NEG;
}

int lgI_treverse (lg_Work *W, lg_Value *t) {
  int op;
  if (t->kind == LGI_KTENSOR) {
    lg_TensorRec *r = lgI_trec(t);
    if (r->adj == NULL || (r->tflags & LGI_TLEAF)) return LG_OK;   /* nothing to pass */
    op = r->top;
  }
  else {
    if (t->adj == 0.0) return LG_OK;
    op = t->op;
  }
  if (lgI_tops[op].saves && !passes(t) && changed(t)) return LGI_EVERSION;
  return lgI_tops[op].backward(W, t);
}

/* ---- elementwise: a scalar op's block over the elements ------------------------------ */

/* The loops' operands: forward [out, x0 .. xn-1]; backward [g, y, x0 .. xn-1, then one
   target per wanted operand]. */
typedef struct Elem {
  const lg_OpDef *op;
  int n;
  int dt[LGI_MAXOPS];
  int nwant, want[3];
  int fast;   /* every operand float64 and the op has fast loops */
} Elem;

/* The arguments' pointers and element strides for a fast loop: x[k] at p[first + k] */
static void fastargs (const Elem *e, char **p, const int64_t *s, int first,
                      const double **x, int64_t *sx) {
  int k;
  for (k = 0; k < e->n; k++) {
    x[k] = (const double *)p[first + k];
    sx[k] = s[first + k] / (int64_t)sizeof(double);
  }
}

static void mapfwd (char **p, const int64_t *s, int64_t m, void *ud) {
  const Elem *e = (const Elem *)ud;
  double x[3];
  int64_t i;
  int k;
  if (e->fast && s[0] == (int64_t)sizeof(double)) {   /* the op's own loop */
    const double *xs[3];
    int64_t sx[3];
    fastargs(e, p, s, 1, xs, sx);
    e->op->fwdv(m, xs, sx, (double *)p[0]);
    return;
  }
  for (i = 0; i < m; i++) {
    for (k = 0; k < e->n; k++) x[k] = ld(p[1 + k] + i * s[1 + k], e->dt[1 + k]);
    st(p[0] + i * s[0], e->dt[0], e->op->forward(e->n, x));
  }
}

/* Whether the gradient, the result and every target run contiguously (a fast loop's need) */
static int contigout (const Elem *e, const int64_t *s) {
  int k;
  if (s[0] != (int64_t)sizeof(double) || s[1] != (int64_t)sizeof(double)) return 0;
  for (k = 0; k < e->nwant; k++)
    if (s[2 + e->n + k] != (int64_t)sizeof(double)) return 0;
  return 1;
}

static void mapbwd (char **p, const int64_t *s, int64_t m, void *ud) {
  const Elem *e = (const Elem *)ud;
  double x[3], dx[3];
  int64_t i;
  int k;
  if (e->fast && contigout(e, s)) {   /* the op's own loop */
    const double *xs[3];
    double *ds[3] = {NULL, NULL, NULL};
    int64_t sx[3];
    fastargs(e, p, s, 2, xs, sx);
    for (k = 0; k < e->nwant; k++) ds[e->want[k]] = (double *)p[2 + e->n + k];
    e->op->bwdv(m, xs, sx, (const double *)p[1], (const double *)p[0], ds);
    return;
  }
  for (i = 0; i < m; i++) {
    double g = ld(p[0] + i * s[0], e->dt[0]), y = ld(p[1] + i * s[1], e->dt[1]);
    for (k = 0; k < e->n; k++) x[k] = ld(p[2 + k] + i * s[2 + k], e->dt[2 + k]);
    e->op->backward(e->n, x, y, g, dx);
    for (k = 0; k < e->nwant; k++) {
      int o = 2 + e->n + k, w = e->want[k];
      char *q = p[o] + i * s[o];
      st(q, e->dt[o], ld(q, e->dt[o]) + dx[w]);
    }
  }
}

/* The operands of t expanded to its shape. */
static int expandall (const lg_Value *t, lg_TDesc *d, void **data) {
  const lg_TensorRec *r = lgI_trec(t);
  uint32_t i;
  for (i = 0; i < t->n; i++) {
    lg_TDesc o;
    int err;
    lgI_toperand(t, i, &o, &data[i]);
    if ((err = lgI_expand(&o, r->d.ndim, r->d.size, &d[i])) != LG_OK) return err;
  }
  return LG_OK;
}

static int map_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  const lg_OpDef *op = lgI_opdef(r->sop);
  lg_TDesc d[3];
  const lg_TDesc *ops[4];
  void *data[4];
  lgI_Iter it;
  Elem e;
  uint32_t i;
  int err;
  (void)W;
  if (r->sop >= LGI_ADD && r->sop <= LGI_DIV) {   /* + - * /: the typed loops, same bits */
    static const int kernel[] = {LGI_TADD, LGI_TSUB, LGI_TMUL, LGI_TDIV};
    lg_TDesc a, b;
    void *ad, *bd;
    lgI_toperand(t, 0, &a, &ad);
    lgI_toperand(t, 1, &b, &bd);
    return lgI_binary(kernel[r->sop - LGI_ADD], &r->d, r->data, &a, ad, &b, bd);
  }
  if ((err = expandall(t, d, data + 1)) != LG_OK) return err;
  ops[0] = &r->d; data[0] = r->data;
  e.op = op;
  e.n = (int)t->n;
  e.dt[0] = r->d.dtype;
  e.fast = (op->fwdv != NULL && e.dt[0] == LGI_F64);
  for (i = 0; i < t->n; i++) {
    ops[1 + i] = &d[i];
    e.dt[1 + i] = d[i].dtype;
    e.fast &= (d[i].dtype == LGI_F64);
  }
  if ((err = lgI_iterinit(&it, 1 + (int)t->n, ops, data)) != LG_OK) return err;
  lgI_iterrun(&it, mapfwd, &e);
  return LG_OK;
}

/*
** Each wanted operand's share: written straight into its adjoint buffer when it has the
** result's shape, else into a float64 buffer of the result's shape that lgI_taddsumto then
** reduces into its adjoint (broadcasting's backward).
*/
static int map_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc d[3], g, tg[3], full;
  const lg_TDesc *ops[LGI_MAXOPS];
  void *data[LGI_MAXOPS], *tmp[3] = {NULL, NULL, NULL};
  lg_TDesc tdesc[3];
  void *tdata[3];
  size_t bytes = (size_t)lgI_tnumel(&r->d) * sizeof(double);
  lgI_Iter it;
  Elem e;
  uint32_t i;
  int err, k;
  if ((err = expandall(t, d, data + 2)) != LG_OK) return err;
  lgI_tcontig(&r->d, &g);
  (void)lgI_tinit(&full, LGI_F64, r->d.ndim, r->d.size);
  ops[0] = &g; data[0] = r->adj;
  ops[1] = &r->d; data[1] = r->data;
  e.op = lgI_opdef(r->sop);
  e.n = (int)t->n;
  e.dt[0] = g.dtype;
  e.dt[1] = r->d.dtype;
  e.nwant = 0;
  for (i = 0; i < t->n; i++) { ops[2 + i] = &d[i]; e.dt[2 + i] = d[i].dtype; }
  for (i = 0; i < t->n; i++) {
    int o = 2 + (int)t->n + e.nwant;
    if (!lgI_twants(t, i)) continue;
    if ((err = target(W, t, i, &tdesc[i], &tdata[i])) != LG_OK) goto done;
    if (tdesc[i].ndim == r->d.ndim &&
        memcmp(tdesc[i].size, r->d.size, (size_t)r->d.ndim * sizeof(int64_t)) == 0) {
      tg[i] = tdesc[i];
      data[o] = tdata[i];
    }
    else {
      if ((tmp[i] = lgI_alloc(W, NULL, 0, bytes > 0 ? bytes : 8)) == NULL) {
        err = LG_EMEM;
        goto done;
      }
      memset(tmp[i], 0, bytes);
      tg[i] = full;
      data[o] = tmp[i];
    }
    ops[o] = &tg[i];
    e.dt[o] = tg[i].dtype;
    e.want[e.nwant++] = (int)i;
  }
  if (e.nwant == 0) goto done;
  e.fast = (e.op->bwdv != NULL);
  for (k = 0; k < 2 + e.n + e.nwant; k++) e.fast &= (e.dt[k] == LGI_F64);
  if ((err = lgI_iterinit(&it, 2 + e.n + e.nwant, ops, data)) != LG_OK) goto done;
  lgI_iterrun(&it, mapbwd, &e);
  for (k = 0; k < 3 && err == LG_OK; k++)
    if (tmp[k] != NULL) err = lgI_taddsumto(W, &tdesc[k], tdata[k], &full, tmp[k]);
done:
  for (k = 0; k < 3; k++)
    if (tmp[k] != NULL) lgI_alloc(W, tmp[k], bytes > 0 ? bytes : 8, 0);
  return err;
}

/* ---- reductions over dimensions (arg[0]: the mask, arg[1]: keepdim) ----------------- */

static int reduce_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x;
  void *xd;
  lgI_toperand(t, 0, &x, &xd);
  return lgI_reduce(W, r->top == LGI_TMEAN ? LGI_RMEAN : LGI_RSUM, &x, xd,
                    (uint32_t)r->arg[0], 0, r->data, NULL);
}

/* The number of elements each result element summed */
static double reducedcount (const lg_TDesc *x, uint32_t mask) {
  double n = 1;
  int i;
  for (i = 0; i < x->ndim; i++)
    if (mask & ((uint32_t)1 << i)) n *= (double)x->size[i];
  return n;
}

/* The result's adjoint seen with sizes 1 at the reduced dimensions: x's ndim. */
static void keptview (const lg_TensorRec *r, const lg_TDesc *x, lg_TDesc *out) {
  (void)lgI_reduceshape(x, (uint32_t)r->arg[0], 1, out);
  out->dtype = r->d.dtype;
}

static int reduce_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x, tx, g;
  void *xd, *txd;
  int err;
  lgI_toperand(t, 0, &x, &xd);
  if (!lgI_twants(t, 0)) return LG_OK;
  if ((err = target(W, t, 0, &tx, &txd)) != LG_OK) return err;
  keptview(r, &x, &g);
  return lgI_taxpy(&tx, txd, r->top == LGI_TMEAN ? 1.0 / reducedcount(&x, (uint32_t)r->arg[0])
                                                 : 1.0, &g, r->adj);
}

/* Full reductions: a Value */
static int vreduce_forward (lg_Work *W, lg_Value *v) {
  lg_TDesc x;
  void *xd;
  double out[1];
  float outf[2];
  int err;
  lgI_toperand(v, 0, &x, &xd);
  err = lgI_reduce(W, v->op == LGI_VMEAN ? LGI_RMEAN : LGI_RSUM, &x, xd,
                   x.ndim > 0 ? (((uint32_t)1 << x.ndim) - 1) : 0, 0,
                   x.dtype == LGI_F32 ? (void *)outf : (void *)out, NULL);
  if (err == LG_OK) v->data = (x.dtype == LGI_F32) ? (double)outf[0] : out[0];
  return err;
}

static int vreduce_backward (lg_Work *W, lg_Value *v) {
  lg_TDesc x, tx, g;
  void *xd, *txd;
  int err;
  if (!lgI_twants(v, 0)) return LG_OK;
  lgI_toperand(v, 0, &x, &xd);
  if ((err = target(W, v, 0, &tx, &txd)) != LG_OK) return err;
  scalardesc(&g);
  return lgI_taxpy(&tx, txd, v->op == LGI_VMEAN ? 1.0 / (double)lgI_tnumel(&x) : 1.0, &g,
                   &v->adj);
}

/* ---- prod amax amin logsumexp var over dimensions (arg[0]: the mask, arg[1]: keepdim,
   arg[2]: the kernel's LGI_R*, arg[3]: var's correction) ------------------------------ */

static int reducek_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x;
  void *xd;
  lgI_toperand(t, 0, &x, &xd);
  return lgI_reduce(W, (int)r->arg[2], &x, xd, (uint32_t)r->arg[0], (double)r->arg[3],
                    r->data, NULL);
}

/* The loop of a reduction's backward over x's elements: [target, x, y, g, a, b], y, g, a
   and b (float64) expanded from the result's shape. */
typedef struct RGrad { int kind; int dt[4]; double k; } RGrad;

static void rgradloop (char **p, const int64_t *s, int64_t n, void *ud) {
  const RGrad *R = (const RGrad *)ud;
  int64_t i;
  for (i = 0; i < n; i++) {
    double x = ld(p[1] + i * s[1], R->dt[1]), y = ld(p[2] + i * s[2], R->dt[2]);
    double g = ld(p[3] + i * s[3], R->dt[3]);
    double a = *(const double *)(p[4] + i * s[4]), b = *(const double *)(p[5] + i * s[5]);
    double d;
    char *o = p[0] + i * s[0];
    switch (R->kind) {
      case LGI_RMAX: case LGI_RMIN:   /* split equally between the ties (a: their count) */
        d = (x == y || (x != x && y != y)) ? g / a : 0.0;
        break;
      case LGI_RLSE: d = g * exp(x - y); break;
      case LGI_RVAR: d = g * 2.0 * (x - a) / R->k; break;   /* a: the mean */
      default:   /* LGI_RPROD: a the product of the nonzero elements, b their zeros */
        d = (b == 0.0) ? g * (a / x) : (b == 1.0 && x == 0.0) ? g * a : 0.0;
        break;
    }
    st(o, R->dt[0], ld(o, R->dt[0]) + d);
  }
}

/* For prod's backward: z = x with its zeros as 1, c = 1 where x is 0 (contiguous f64) */
static void zerosplit (char **p, const int64_t *s, int64_t n, void *ud) {
  int dt = *(const int *)ud;
  int64_t i;
  for (i = 0; i < n; i++) {
    double x = ld(p[2] + i * s[2], dt);
    *(double *)(p[0] + i * s[0]) = (x == 0.0) ? 1.0 : x;
    *(double *)(p[1] + i * s[1]) = (x == 0.0) ? 1.0 : 0.0;
  }
}

static int iterate (int nops, const lg_TDesc *const *ops, void *const *data, lgI_Loop loop,
                    void *ud) {
  lgI_Iter it;
  int err = lgI_iterinit(&it, nops, ops, data);
  if (err == LG_OK) lgI_iterrun(&it, loop, ud);
  return err;
}

static int reducek_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  uint32_t mask = (uint32_t)r->arg[0];
  int kind = (int)r->arg[2];
  lg_TDesc x, tx, kept, y, g, a, b, full;
  const lg_TDesc *ops[6];
  void *xd, *txd, *data[6], *buf = NULL, *full2 = NULL;
  int64_t m = lgI_tnumel(&r->d), nx;
  size_t rbytes = (size_t)(m > 0 ? m : 1) * sizeof(double) * 2, fbytes = 0;
  double *A, *B;
  RGrad R;
  int err;
  if (!lgI_twants(t, 0)) return LG_OK;
  lgI_toperand(t, 0, &x, &xd);
  nx = lgI_tnumel(&x);
  if ((err = target(W, t, 0, &tx, &txd)) != LG_OK) return err;
  if ((buf = lgI_alloc(W, NULL, 0, rbytes)) == NULL) return LG_EMEM;
  A = (double *)buf;
  B = A + (m > 0 ? m : 1);
  memset(buf, 0, rbytes);
  (void)lgI_reduceshape(&x, mask, 1, &kept);
  kept.dtype = LGI_F64;
  R.kind = kind;
  R.k = 0.0;
  if (kind == LGI_RMAX || kind == LGI_RMIN) {   /* the ties' counts, from the kernel */
    int64_t *count = lgI_alloc(W, NULL, 0, (size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    void *tmp = lgI_alloc(W, NULL, 0, (size_t)(m > 0 ? m : 1) * sizeof(double));
    int64_t j;
    if (count == NULL || tmp == NULL) err = LG_EMEM;
    else err = lgI_reduce(W, kind, &x, xd, mask, 0, tmp, count);
    for (j = 0; err == LG_OK && j < m; j++) A[j] = (double)count[j];
    if (count != NULL) lgI_alloc(W, count, (size_t)(m > 0 ? m : 1) * sizeof(int64_t), 0);
    if (tmp != NULL) lgI_alloc(W, tmp, (size_t)(m > 0 ? m : 1) * sizeof(double), 0);
  }
  else if (kind == LGI_RVAR) {
    lg_TDesc x64 = x;
    R.k = reducedcount(&x, mask) - (double)r->arg[3];
    if (x.dtype == LGI_F64) err = lgI_reduce(W, LGI_RMEAN, &x64, xd, mask, 0, A, NULL);
    else {   /* the mean in float32, widened */
      int64_t j;
      err = lgI_reduce(W, LGI_RMEAN, &x64, xd, mask, 0, B, NULL);
      for (j = m; err == LG_OK && j-- > 0; ) A[j] = (double)((float *)B)[j];
      memset(B, 0, (size_t)(m > 0 ? m : 1) * sizeof(double));
    }
  }
  else if (kind == LGI_RPROD) {   /* the nonzero elements' product and the zeros' count */
    lg_TDesc xe;
    fbytes = (size_t)(nx > 0 ? nx : 1) * sizeof(double) * 2;
    if ((full2 = lgI_alloc(W, NULL, 0, fbytes)) == NULL) err = LG_EMEM;
    else {
      double *z = (double *)full2, *c = z + (nx > 0 ? nx : 1);
      (void)lgI_tinit(&full, LGI_F64, x.ndim, x.size);
      xe = x;
      ops[0] = &full; ops[1] = &full; ops[2] = &xe;
      data[0] = z; data[1] = c; data[2] = xd;
      err = iterate(3, ops, data, zerosplit, &x.dtype);
      if (err == LG_OK) err = lgI_reduce(W, LGI_RPROD, &full, z, mask, 0, A, NULL);
      if (err == LG_OK) err = lgI_reduce(W, LGI_RSUM, &full, c, mask, 0, B, NULL);
    }
  }
  if (err == LG_OK) {
    lg_TDesc yk = kept, gk = kept;
    yk.dtype = gk.dtype = r->d.dtype;
    (void)lgI_expand(&yk, x.ndim, x.size, &y);
    (void)lgI_expand(&gk, x.ndim, x.size, &g);
    (void)lgI_expand(&kept, x.ndim, x.size, &a);
    b = a;
    ops[0] = &tx; ops[1] = &x; ops[2] = &y; ops[3] = &g; ops[4] = &a; ops[5] = &b;
    data[0] = txd; data[1] = xd; data[2] = r->data; data[3] = r->adj; data[4] = A;
    data[5] = B;
    R.dt[0] = tx.dtype; R.dt[1] = x.dtype; R.dt[2] = r->d.dtype; R.dt[3] = r->d.dtype;
    err = iterate(6, ops, data, rgradloop, &R);
  }
  if (full2 != NULL) lgI_alloc(W, full2, fbytes, 0);
  lgI_alloc(W, buf, rbytes, 0);
  return err;
}

/* ---- argmax, argmin along one dimension (arg[0]: the dim, arg[1]: 1 for max) --------- */

/* 1-based indices as float64 (no gradient: the result is a leaf) */
static int arg_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x;
  void *xd;
  int dim = (int)r->arg[0], max = (int)r->arg[1], k, nd;
  int64_t idx[LGI_MAXDIM] = {0}, outer = 1, o, n, j;
  (void)W;
  lgI_toperand(t, 0, &x, &xd);
  n = x.size[dim];
  for (k = 0; k < x.ndim; k++) if (k != dim) outer *= x.size[k];
  nd = x.ndim;
  for (o = 0; o < outer; o++) {
    int64_t e = x.offset, best = 0;
    double bv = 0.0;
    for (k = 0; k < nd; k++) if (k != dim) e += idx[k] * x.stride[k];
    for (j = 0; j < n; j++) {
      double v = (x.dtype == LGI_F32) ? (double)((const float *)xd)[e + j * x.stride[dim]]
                                      : ((const double *)xd)[e + j * x.stride[dim]];
      if (j == 0 || (bv == bv && (v != v || (max ? v > bv : v < bv)))) { best = j; bv = v; }
    }
    lgI_tset(r, o, (double)(best + 1));   /* the result is contiguous, in that order */
    for (k = nd - 1; k >= 0; k--) {   /* the next index, dim left out */
      if (k == dim) continue;
      if (++idx[k] < x.size[k]) break;
      idx[k] = 0;
    }
  }
  return LG_OK;
}

/* ---- a 1-D dot (a Value) and an element of a 1-D tensor ---------------------------- */

typedef struct Dot { double s; int dt[2]; } Dot;

static void dotloop (char **p, const int64_t *s, int64_t n, void *ud) {
  Dot *d = (Dot *)ud;
  int64_t i;
  for (i = 0; i < n; i++)
    d->s += ld(p[0] + i * s[0], d->dt[0]) * ld(p[1] + i * s[1], d->dt[1]);
}

static int vdot_forward (lg_Work *W, lg_Value *v) {
  lg_TDesc a, b;
  const lg_TDesc *ops[2];
  void *data[2];
  lgI_Iter it;
  Dot d;
  int err;
  (void)W;
  lgI_toperand(v, 0, &a, &data[0]);
  lgI_toperand(v, 1, &b, &data[1]);
  ops[0] = &a; ops[1] = &b;
  if ((err = lgI_iterinit(&it, 2, ops, data)) != LG_OK) return err;
  d.s = 0.0;
  d.dt[0] = a.dtype;
  d.dt[1] = b.dtype;
  lgI_iterrun(&it, dotloop, &d);
  v->data = d.s;
  return LG_OK;
}

static int vdot_backward (lg_Work *W, lg_Value *v) {
  uint32_t i;
  for (i = 0; i < 2; i++) {   /* d/da = g b, d/db = g a */
    lg_TDesc o, tx;
    void *od, *txd;
    int err;
    if (!lgI_twants(v, i)) continue;
    lgI_toperand(v, 1 - i, &o, &od);
    if ((err = target(W, v, i, &tx, &txd)) != LG_OK) return err;
    if ((err = lgI_taxpy(&tx, txd, v->adj, &o, od)) != LG_OK) return err;
  }
  return LG_OK;
}

static int vitem_forward (lg_Work *W, lg_Value *v) {
  const lg_TensorRec *x = lgI_trec(v->in[0].v);
  (void)W;
  v->data = lgI_tget(x, x->d.offset + lgI_tvrec(v)->index * x->d.stride[0]);
  return LG_OK;
}

static int vitem_backward (lg_Work *W, lg_Value *v) {
  lg_TensorRec *x = lgI_trec(v->in[0].v);
  void *adj;
  if (!lgI_twants(v, 0)) return LG_OK;
  if ((adj = lgI_tadj(W, v->in[0].v)) == NULL) return LG_EMEM;
  if (x->d.dtype == LGI_F32) ((float *)adj)[lgI_tvrec(v)->index] += (float)v->adj;
  else ((double *)adj)[lgI_tvrec(v)->index] += v->adj;
  return LG_OK;
}

/* ---- matmul: (..., m, k) x (..., k, n), batch dimensions equal ----------------------- */

static int matmul_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc a, b;
  void *ad, *bd;
  lgI_toperand(t, 0, &a, &ad);
  lgI_toperand(t, 1, &b, &bd);
  return lgI_matmul(W, 0.0, &r->d, r->data, &a, ad, &b, bd);
}

/* dA += G B^T, dB += A^T G */
static int matmul_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x[2], g;
  void *xd[2];
  uint32_t i;
  lgI_tcontig(&r->d, &g);
  lgI_toperand(t, 0, &x[0], &xd[0]);
  lgI_toperand(t, 1, &x[1], &xd[1]);
  for (i = 0; i < 2; i++) {
    lg_TDesc tx, o;
    void *txd;
    int nd = x[1 - i].ndim, err;
    if (!lgI_twants(t, i)) continue;
    if ((err = target(W, t, i, &tx, &txd)) != LG_OK) return err;
    (void)lgI_transpose(&x[1 - i], nd - 2, nd - 1, &o);
    err = (i == 0) ? lgI_matmul(W, 1.0, &tx, txd, &g, r->adj, &o, xd[1])
                   : lgI_matmul(W, 1.0, &tx, txd, &o, xd[0], &g, r->adj);
    if (err != LG_OK) return err;
  }
  return LG_OK;
}

/* ---- copies (contiguous, clone, to, reshape that copies) --------------------------- */

static int copy_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc x, out;
  void *xd;
  int err;
  (void)W;
  lgI_toperand(t, 0, &x, &xd);
  if ((err = lgI_view(&r->d, x.ndim, x.size, &out)) != LG_OK) return err;   /* contiguous */
  return lgI_copy(&out, r->data, &x, xd);
}

static int copy_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc tx, g, gv;
  void *txd;
  int err;
  if (!lgI_twants(t, 0)) return LG_OK;
  if ((err = target(W, t, 0, &tx, &txd)) != LG_OK) return err;
  lgI_tcontig(&r->d, &g);
  if ((err = lgI_view(&g, tx.ndim, tx.size, &gv)) != LG_OK) return err;
  return lgI_taxpy(&tx, txd, 1.0, &gv, r->adj);
}

/* ---- stack of Values and numbers: a 1-D tensor --------------------------------------- */

static int stack_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  uint32_t i;
  (void)W;
  for (i = 0; i < t->n; i++) lgI_tset(r, (int64_t)i, lgI_argdata(t, i));
  return LG_OK;
}

static int stack_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  uint32_t i;
  (void)W;
  for (i = 0; i < t->n; i++) {
    if (lgI_isconst(t, i)) continue;
    t->in[i].v->adj += (r->d.dtype == LGI_F32) ? (double)((float *)r->adj)[i]
                                               : ((double *)r->adj)[i];
  }
  return LG_OK;
}

/* ---- cat along arg[0], and index: entries at indices along arg[0] ------------------- */

/* The part of t (descriptor d) where cat's operand i lies: a narrow along the dim */
static int catpart (const lg_Value *t, const lg_TDesc *d, uint32_t i, lg_TDesc *out) {
  int dim = (int)lgI_trec(t)->arg[0];
  int64_t start = 0;
  uint32_t k;
  for (k = 0; k < i; k++) start += lgI_trec(t->in[k].v)->d.size[dim];
  return lgI_narrow(d, dim, start, lgI_trec(t->in[i].v)->d.size[dim], out);
}

static int cat_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  uint32_t i;
  (void)W;
  for (i = 0; i < t->n; i++) {
    const lg_TensorRec *x = lgI_trec(t->in[i].v);
    lg_TDesc part;
    int err = catpart(t, &r->d, i, &part);
    if (err == LG_OK) err = lgI_copy(&part, r->data, &x->d, x->data);
    if (err != LG_OK) return err;
  }
  return LG_OK;
}

static int cat_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  lg_TDesc g;
  uint32_t i;
  lgI_tcontig(&r->d, &g);
  for (i = 0; i < t->n; i++) {
    lg_TDesc tx, part;
    void *txd;
    int err;
    if (!lgI_twants(t, i)) continue;
    if ((err = target(W, t, i, &tx, &txd)) != LG_OK) return err;
    if ((err = catpart(t, &g, i, &part)) != LG_OK) return err;
    if ((err = lgI_taxpy(&tx, txd, 1.0, &part, r->adj)) != LG_OK) return err;
  }
  return LG_OK;
}

static const int64_t *indices (const lg_TensorRec *r) {
  return (const int64_t *)(uintptr_t)r->arg[2];
}

static int index_forward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  const int64_t *idx = indices(r);
  int dim = (int)r->arg[0];
  lg_TDesc x, from, to;
  void *xd;
  int64_t j;
  (void)W;
  lgI_toperand(t, 0, &x, &xd);
  for (j = 0; j < r->arg[1]; j++) {
    int err = lgI_select(&x, dim, idx[j], &from);
    if (err == LG_OK) err = lgI_select(&r->d, dim, j, &to);
    if (err == LG_OK) err = lgI_copy(&to, r->data, &from, xd);
    if (err != LG_OK) return err;
  }
  return LG_OK;
}

static int index_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  const int64_t *idx = indices(r);
  int dim = (int)r->arg[0], err;
  lg_TDesc tx, g, from, to;
  void *txd;
  int64_t j;
  if (!lgI_twants(t, 0)) return LG_OK;
  if ((err = target(W, t, 0, &tx, &txd)) != LG_OK) return err;
  lgI_tcontig(&r->d, &g);
  for (j = 0; j < r->arg[1]; j++) {   /* a repeated index adds */
    err = lgI_select(&g, dim, j, &from);
    if (err == LG_OK) err = lgI_select(&tx, dim, idx[j], &to);
    if (err == LG_OK) err = lgI_taxpy(&to, txd, 1.0, &from, r->adj);
    if (err != LG_OK) return err;
  }
  return LG_OK;
}

/* ---- views: the view applied to the base's adjoint --------------------------------- */

static int view_forward (lg_Work *W, lg_Value *t) { (void)W; (void)t; return LG_OK; }

static int view_backward (lg_Work *W, lg_Value *t) {
  lg_TensorRec *r = lgI_trec(t);
  const lgI_TOp *op = &lgI_tops[r->top];
  lg_TDesc tx, tv, g;
  void *txd;
  int err;
  if (!lgI_twants(t, 0)) return LG_OK;
  if ((err = target(W, t, 0, &tx, &txd)) != LG_OK) return err;
  lgI_tcontig(&r->d, &g);
  if (r->top == LGI_TEXPAND) return lgI_taddsumto(W, &tx, txd, &g, r->adj);
  if ((err = op->view(&tx, r, &tv)) != LG_OK) return err;
  return lgI_taxpy(&tv, txd, 1.0, &g, r->adj);
}

static int v_view (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_view(d, r->narg, r->arg, out);
}
static int v_transpose (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_transpose(d, (int)r->arg[0], (int)r->arg[1], out);
}
static int v_permute (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  int perm[LGI_MAXDIM], i;
  for (i = 0; i < r->narg; i++) perm[i] = (int)r->arg[i];
  return lgI_permute(d, r->narg, perm, out);
}
static int v_narrow (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_narrow(d, (int)r->arg[0], r->arg[1], r->arg[2], out);
}
static int v_select (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_select(d, (int)r->arg[0], r->arg[1], out);
}
static int v_squeeze (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_squeeze(d, (int)r->arg[0], out);
}
static int v_unsqueeze (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_unsqueeze(d, (int)r->arg[0], out);
}
static int v_expand (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out) {
  return lgI_expand(d, r->narg, r->arg, out);
}

/* ---- names -------------------------------------------------------------------------- */

const char *lgI_tname (const lg_Value *t) {
  const lg_TensorRec *r;
  if (t->kind == LGI_KTVALUE) return lgI_tops[t->op].name;
  r = lgI_trec(t);
  if (r->top == LGI_TMAP) return lgI_opdef(r->sop)->name;
  if (r->top == LGI_TREDUCE)
    switch ((int)r->arg[2]) {
      case LGI_RPROD: return "prod";
      case LGI_RMAX: return "amax";
      case LGI_RMIN: return "amin";
      case LGI_RLSE: return "logsumexp";
      default: return "var";
    }
  if (r->top == LGI_TARG) return r->arg[1] ? "argmax" : "argmin";
  return lgI_tops[r->top].name;
}

/* ---- the table -------------------------------------------------------------------- */

static int leaf_forward (lg_Work *W, lg_Value *t) { (void)W; (void)t; return LG_OK; }

const lgI_TOp lgI_tops[LGI_NTOPS] = {
  /*                  name          forward          backward          view         saves */
  [LGI_TLEAFOP] =    {"leaf",       leaf_forward,    leaf_forward,     NULL,         0},
  [LGI_TMAP] =       {"map",        map_forward,     map_backward,     NULL,         1},
  [LGI_TSUM] =       {"sum",        reduce_forward,  reduce_backward,  NULL,         0},
  [LGI_TMEAN] =      {"mean",       reduce_forward,  reduce_backward,  NULL,         0},
  [LGI_TMATMUL] =    {"matmul",     matmul_forward,  matmul_backward,  NULL,         1},
  [LGI_TCOPY] =      {"copy",       copy_forward,    copy_backward,    NULL,         0},
  [LGI_TSTACK] =     {"stack",      stack_forward,   stack_backward,   NULL,         0},
  [LGI_TREDUCE] =    {"reduce",     reducek_forward, reducek_backward, NULL,         1},
  [LGI_TARG] =       {"argmax",     arg_forward,     leaf_forward,     NULL,         0},
  [LGI_TCAT] =       {"cat",        cat_forward,     cat_backward,     NULL,         0},
  [LGI_TINDEX] =     {"index",      index_forward,   index_backward,   NULL,         0},
  [LGI_TVIEW] =      {"view",       view_forward,    view_backward,    v_view,       0},
  [LGI_TTRANSPOSE] = {"transpose",  view_forward,    view_backward,    v_transpose,  0},
  [LGI_TPERMUTE] =   {"permute",    view_forward,    view_backward,    v_permute,    0},
  [LGI_TNARROW] =    {"narrow",     view_forward,    view_backward,    v_narrow,     0},
  [LGI_TSELECT] =    {"select",     view_forward,    view_backward,    v_select,     0},
  [LGI_TSQUEEZE] =   {"squeeze",    view_forward,    view_backward,    v_squeeze,    0},
  [LGI_TUNSQUEEZE] = {"unsqueeze",  view_forward,    view_backward,    v_unsqueeze,  0},
  [LGI_TEXPAND] =    {"expand",     view_forward,    view_backward,    v_expand,     0},
  [LGI_VSUM] =       {"sum",        vreduce_forward, vreduce_backward, NULL,         0},
  [LGI_VMEAN] =      {"mean",       vreduce_forward, vreduce_backward, NULL,         0},
  [LGI_VDOT] =       {"dot",        vdot_forward,    vdot_backward,    NULL,         1},
  [LGI_VITEM] =      {"select",     vitem_forward,   vitem_backward,   NULL,         0},
};
