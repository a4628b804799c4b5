/*
** iter.c: the N-d strided iterator that elementwise kernels run on, and the loops that prove
** it (add, sub, mul, div, a scalar function, a copy). As PyTorch's TensorIterator, in small:
** operands of one shape, size-1 dimensions dropped, the others ordered by the operands'
** strides (the output's first), neighbours merged where every operand is contiguous across
** them, then one call of an inner loop per run of the last dimension (per row of a tile when
** an input runs across its rows). The
** inner loops have a contiguous path simple enough for the compiler to vectorize (this file
** is built at -O3: gcc's -O2 leaves these loops scalar).
*/
#include <string.h>
#include "core/lg_tensor.h"

/* Whether dimension a should run inside dimension b: decided by the first operand (the
   output first) whose strides on them differ, broadcast (stride 0) ones skipped, as
   PyTorch's reorder_dimensions; 0 when none decides (keep the given order). */
static int runsinside (int nops, const lg_TDesc *const *ops, int a, int b) {
  int k;
  for (k = 0; k < nops; k++) {
    int64_t sa = ops[k]->stride[a], sb = ops[k]->stride[b];
    if (sa == 0 || sb == 0 || sa == sb) continue;
    return (sa < sb) ? 1 : -1;
  }
  return 0;
}

int lgI_iterinit (lgI_Iter *it, int nops, const lg_TDesc *const *ops, void *const *data) {
  const lg_TDesc *d0;
  int order[LGI_MAXDIM], i, j, k, n = 0, nd = 0;
  if (nops < 1 || nops > LGI_MAXOPS) return LG_EARG;
  d0 = ops[0];
  for (k = 1; k < nops; k++) {
    if (ops[k]->ndim != d0->ndim) return LGI_ESHAPE;
    for (i = 0; i < d0->ndim; i++)
      if (ops[k]->size[i] != d0->size[i]) return LGI_ESHAPE;
  }
  memset(it, 0, sizeof(*it));
  it->nops = nops;
  it->numel = lgI_tnumel(d0);
  for (k = 0; k < nops; k++)
    it->data[k] = (char *)data[k] + ops[k]->offset * (int64_t)lgI_elemsize(ops[k]->dtype);
  /* the dimensions that move (size-1 ones never do), outer to inner, in memory order:
     insertion sort, stable where no operand decides */
  for (i = 0; i < d0->ndim; i++) {
    if (d0->size[i] == 1) continue;
    order[nd] = i;
    for (j = nd++; j > 0 && runsinside(nops, ops, order[j - 1], order[j]) > 0; j--) {
      int t = order[j]; order[j] = order[j - 1]; order[j - 1] = t;
    }
  }
  for (j = 0; j < nd; j++) {
    int merge = (n > 0);
    i = order[j];
    /* the kept dimension before it steps exactly over its run, in every operand */
    for (k = 0; merge && k < nops; k++)
      merge = (it->stride[k][n - 1] == ops[k]->stride[i] * d0->size[i]);
    if (merge) {
      it->size[n - 1] *= d0->size[i];
      for (k = 0; k < nops; k++) it->stride[k][n - 1] = ops[k]->stride[i];
    }
    else {
      it->size[n] = d0->size[i];
      for (k = 0; k < nops; k++) it->stride[k][n] = ops[k]->stride[i];
      n++;
    }
  }
  if (n == 0) {   /* one element, or none */
    it->size[0] = (it->numel == 0) ? 0 : 1;
    n = 1;
  }
  it->ndim = n;
  for (k = 0; k < nops; k++) {   /* to bytes; an operand that runs across its own rows */
    int64_t es = (int64_t)lgI_elemsize(ops[k]->dtype);
    for (i = 0; i < n; i++) it->stride[k][i] *= es;
    if (n >= 2 && it->stride[k][n - 2] != 0 && it->stride[k][n - 1] > it->stride[k][n - 2])
      it->tile = 1;
  }
  return LG_OK;
}

/* Tiles of the last two dimensions when one operand's inner run strides across its rows
   (a transposed input beside a contiguous output): 64 x 64 keeps each tile's cache lines of
   that operand in L1 while the others run along theirs. */
#define TILE 64

static void runtiles (const lgI_Iter *it, const int64_t *off, lgI_Loop loop, void *ud) {
  int64_t i0, j0, i, s[LGI_MAXOPS];
  char *p[LGI_MAXOPS];
  int k, in = it->ndim - 1;
  for (k = 0; k < it->nops; k++) s[k] = it->stride[k][in];
  for (i0 = 0; i0 < it->size[in - 1]; i0 += TILE)
    for (j0 = 0; j0 < it->size[in]; j0 += TILE) {
      int64_t ie = (it->size[in - 1] - i0 < TILE) ? it->size[in - 1] : i0 + TILE;
      int64_t len = (it->size[in] - j0 < TILE) ? it->size[in] - j0 : TILE;
      for (i = i0; i < ie; i++) {
        for (k = 0; k < it->nops; k++)
          p[k] = it->data[k] + off[k] + i * it->stride[k][in - 1] + j0 * s[k];
        loop(p, s, len, ud);
      }
    }
}

void lgI_iterrun (const lgI_Iter *it, lgI_Loop loop, void *ud) {
  int64_t idx[LGI_MAXDIM], off[LGI_MAXOPS], s[LGI_MAXOPS];
  char *p[LGI_MAXOPS];
  int k, d, inner = it->ndim - 1, outer = it->tile ? inner - 1 : inner;
  if (it->numel == 0) return;
  memset(idx, 0, sizeof(idx));
  for (k = 0; k < it->nops; k++) {
    off[k] = 0;
    s[k] = it->stride[k][inner];
  }
  for (;;) {
    if (it->tile) runtiles(it, off, loop, ud);
    else {
      for (k = 0; k < it->nops; k++) p[k] = it->data[k] + off[k];
      loop(p, s, it->size[inner], ud);
    }
    for (d = outer - 1; d >= 0; d--) {   /* the odometer over the outer dimensions */
      if (++idx[d] < it->size[d]) {
        for (k = 0; k < it->nops; k++) off[k] += it->stride[k][d];
        break;
      }
      for (k = 0; k < it->nops; k++) off[k] -= it->stride[k][d] * (it->size[d] - 1);
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

/* ---- binary loops ------------------------------------------------------------------ */

/* One loop per (op, dtype): contiguous, a scalar right or left operand, then any strides. */
#define BINLOOP(name, T, expr) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) { \
    T *y = (T *)p[0]; \
    const T *a = (const T *)p[1]; \
    if (s[2] == (int64_t)sizeof(T)) { \
      const T *b = (const T *)p[2]; \
      for (i = 0; i < n; i++) { T x = a[i], z = b[i]; y[i] = (expr); } \
    } \
    else if (s[2] == 0) { \
      const T z = *(const T *)p[2]; \
      for (i = 0; i < n; i++) { T x = a[i]; y[i] = (expr); } \
    } \
    else goto strided; \
  } \
  else if (s[0] == (int64_t)sizeof(T) && s[1] == 0 && s[2] == (int64_t)sizeof(T)) { \
    T *y = (T *)p[0]; \
    const T x = *(const T *)p[1], *b = (const T *)p[2]; \
    for (i = 0; i < n; i++) { T z = b[i]; y[i] = (expr); } \
  } \
  else { \
  strided: \
    for (i = 0; i < n; i++) { \
      T x = *(const T *)(p[1] + i * s[1]), z = *(const T *)(p[2] + i * s[2]); \
      *(T *)(p[0] + i * s[0]) = (expr); \
    } \
  } \
}

BINLOOP(add64, double, x + z)
BINLOOP(sub64, double, x - z)
BINLOOP(mul64, double, x * z)
BINLOOP(div64, double, x / z)
BINLOOP(add32, float, x + z)
BINLOOP(sub32, float, x - z)
BINLOOP(mul32, float, x * z)
BINLOOP(div32, float, x / z)

static const lgI_Loop binloops[4][2] = {
  {add64, add32}, {sub64, sub32}, {mul64, mul32}, {div64, div32}
};

typedef struct Mixed {
  int op;
  int dt[3];
} Mixed;

static double load (const char *p, int dt) {
  return (dt == LGI_F32) ? (double)*(const float *)p : *(const double *)p;
}

static void store (char *p, int dt, double x) {
  if (dt == LGI_F32) *(float *)p = (float)x;
  else *(double *)p = x;
}

/* Operands of different dtypes: each read as its own, the arithmetic in double. */
static void mixedloop (char **p, const int64_t *s, int64_t n, void *ud) {
  const Mixed *m = (const Mixed *)ud;
  int64_t i;
  for (i = 0; i < n; i++) {
    double x = load(p[1] + i * s[1], m->dt[1]), z = load(p[2] + i * s[2], m->dt[2]), y;
    switch (m->op) {
      case LGI_TADD: y = x + z; break;
      case LGI_TSUB: y = x - z; break;
      case LGI_TMUL: y = x * z; break;
      default: y = x / z; break;
    }
    store(p[0] + i * s[0], m->dt[0], y);
  }
}

/* Broadcasts x to out's shape (LGI_ESHAPE if it does not go). */
static int broadcastto (const lg_TDesc *out, const lg_TDesc *x, lg_TDesc *ex) {
  int err = lgI_expand(x, out->ndim, out->size, ex);
  return (err == LG_OK) ? LG_OK : LGI_ESHAPE;
}

int lgI_binary (int op, const lg_TDesc *out, void *od, const lg_TDesc *a, const void *ad,
                const lg_TDesc *b, const void *bd) {
  lg_TDesc ea, eb;
  const lg_TDesc *ops[3];
  void *data[3];
  lgI_Iter it;
  int err;
  if (op < LGI_TADD || op > LGI_TDIV) return LG_EARG;
  if ((err = broadcastto(out, a, &ea)) != LG_OK || (err = broadcastto(out, b, &eb)) != LG_OK)
    return err;
  ops[0] = out; ops[1] = &ea; ops[2] = &eb;
  data[0] = od; data[1] = (void *)ad; data[2] = (void *)bd;
  if ((err = lgI_iterinit(&it, 3, ops, data)) != LG_OK) return err;
  if (a->dtype == out->dtype && b->dtype == out->dtype)
    lgI_iterrun(&it, binloops[op][out->dtype == LGI_F32], NULL);
  else {
    Mixed m;
    m.op = op;
    m.dt[0] = out->dtype; m.dt[1] = a->dtype; m.dt[2] = b->dtype;
    lgI_iterrun(&it, mixedloop, &m);
  }
  return LG_OK;
}

/* ---- unary loops: a scalar function, a copy ---------------------------------------- */

typedef struct Map {
  double (*f) (double);
  int dt[2];
} Map;

static void map64 (char **p, const int64_t *s, int64_t n, void *ud) {
  double (*f) (double) = ((const Map *)ud)->f;
  int64_t i;
  if (s[0] == 8 && s[1] == 8) {
    double *y = (double *)p[0];
    const double *x = (const double *)p[1];
    for (i = 0; i < n; i++) y[i] = f(x[i]);
  }
  else
    for (i = 0; i < n; i++)
      *(double *)(p[0] + i * s[0]) = f(*(const double *)(p[1] + i * s[1]));
}

static void mapany (char **p, const int64_t *s, int64_t n, void *ud) {
  const Map *m = (const Map *)ud;
  int64_t i;
  for (i = 0; i < n; i++)
    store(p[0] + i * s[0], m->dt[0], m->f(load(p[1] + i * s[1], m->dt[1])));
}

static int unary (const Map *m, const lg_TDesc *out, void *od, const lg_TDesc *x,
                  const void *xd, lgI_Loop loop) {
  lg_TDesc ex;
  const lg_TDesc *ops[2];
  void *data[2];
  lgI_Iter it;
  int err;
  if ((err = broadcastto(out, x, &ex)) != LG_OK) return err;
  ops[0] = out; ops[1] = &ex;
  data[0] = od; data[1] = (void *)xd;
  if ((err = lgI_iterinit(&it, 2, ops, data)) != LG_OK) return err;
  lgI_iterrun(&it, loop, (void *)m);
  return LG_OK;
}

int lgI_map (double (*f) (double), const lg_TDesc *out, void *od, const lg_TDesc *x,
             const void *xd) {
  Map m;
  m.f = f;
  m.dt[0] = out->dtype; m.dt[1] = x->dtype;
  return unary(&m, out, od, x, xd,
               (out->dtype == LGI_F64 && x->dtype == LGI_F64) ? map64 : mapany);
}

static void copyloop (char **p, const int64_t *s, int64_t n, void *ud) {
  const Map *m = (const Map *)ud;
  int64_t i, es = (int64_t)lgI_elemsize(m->dt[0]);
  if (m->dt[0] == m->dt[1]) {
    if (s[0] == es && s[1] == es) memmove(p[0], p[1], (size_t)(n * es));
    else if (es == 8)
      for (i = 0; i < n; i++) *(double *)(p[0] + i * s[0]) = *(const double *)(p[1] + i * s[1]);
    else
      for (i = 0; i < n; i++) *(float *)(p[0] + i * s[0]) = *(const float *)(p[1] + i * s[1]);
  }
  else
    for (i = 0; i < n; i++) store(p[0] + i * s[0], m->dt[0], load(p[1] + i * s[1], m->dt[1]));
}

int lgI_copy (const lg_TDesc *out, void *od, const lg_TDesc *x, const void *xd) {
  Map m;
  m.f = NULL;
  m.dt[0] = out->dtype; m.dt[1] = x->dtype;
  return unary(&m, out, od, x, xd, copyloop);
}
