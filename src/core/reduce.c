/*
** reduce.c: reductions of a strided tensor over a set of dimensions. The accumulator (one
** double per output element) is seen as an operand of the input's shape whose reduced
** dimensions have stride 0, so that the iterator walks the input in memory order whatever
** is reduced: a reduced inner run sums into one local, a kept inner run adds row to row.
** Every pass accumulates in double, float32 included; the result is rounded once at the end.
*/
#include <math.h>
#include <string.h>
#include "core/lg_tensor.h"

int lgI_reduceshape (const lg_TDesc *d, uint32_t mask, int keepdim, lg_TDesc *out) {
  int64_t size[LGI_MAXDIM];
  int i, n = 0;
  if (d->ndim < 32 && (mask >> d->ndim) != 0) return LGI_EDIM;
  for (i = 0; i < d->ndim; i++) {
    if (!(mask & ((uint32_t)1 << i))) size[n++] = d->size[i];
    else if (keepdim) size[n++] = 1;
  }
  return lgI_tinit(out, d->dtype, n, size);
}

/* ---- the passes' inner loops; p[0] is the double accumulator, the input is last ------ */

#define AT(T, k, i) (*(const T *)(p[k] + (i) * s[k]))
#define ACC(i) (*(double *)(p[0] + (i) * s[0]))

#define SUMLOOP(name, T) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i = 0; \
  (void)ud; \
  if (s[0] == 0) {   /* a reduced run: four partial sums, so additions overlap */ \
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0; \
    if (s[1] == (int64_t)sizeof(T)) { \
      const T *x = (const T *)p[1]; \
      for (; i + 4 <= n; i += 4) { a0 += x[i]; a1 += x[i + 1]; a2 += x[i + 2]; a3 += x[i + 3]; } \
    } \
    for (; i < n; i++) a0 += AT(T, 1, i); \
    ACC(0) += (a0 + a1) + (a2 + a3); \
  } \
  else if (s[0] == 8 && s[1] == (int64_t)sizeof(T)) { \
    double *a = (double *)p[0]; \
    const T *x = (const T *)p[1]; \
    for (; i < n; i++) a[i] += x[i]; \
  } \
  else for (; i < n; i++) ACC(i) += AT(T, 1, i); \
}
SUMLOOP(sum64, double)
SUMLOOP(sum32, float)

#define PRODLOOP(name, T) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  for (i = 0; i < n; i++) ACC(i) *= AT(T, 1, i); \
}
PRODLOOP(prod64, double)
PRODLOOP(prod32, float)

/* max and min keep the first NaN they meet: a NaN never compares greater */
#define EXTLOOP(name, T, better) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  if (s[0] == 0) { \
    double a = ACC(0); \
    for (i = 0; i < n; i++) { double x = AT(T, 1, i); if (x better a || x != x) a = (a != a) ? a : x; } \
    ACC(0) = a; \
  } \
  else \
    for (i = 0; i < n; i++) { \
      double x = AT(T, 1, i), a = ACC(i); \
      if ((x better a || x != x) && a == a) ACC(i) = x; \
    } \
}
EXTLOOP(max64, double, >)
EXTLOOP(max32, float, >)
EXTLOOP(min64, double, <)
EXTLOOP(min32, float, <)

/* Second passes: p[0] the second accumulator, p[1] the first pass's result, p[2] the input */

/* count[j] += (x == extreme[j]), a NaN matching a NaN */
#define COUNTLOOP(name, T) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  for (i = 0; i < n; i++) { \
    double x = AT(T, 2, i), m = AT(double, 1, i); \
    if (x == m || (x != x && m != m)) (*(int64_t *)(p[0] + i * s[0]))++; \
  } \
}
COUNTLOOP(count64, double)
COUNTLOOP(count32, float)

/* sum of exp(x - shift), the shift being the max unless it is infinite (then 0) */
#define LSELOOP(name, T) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  for (i = 0; i < n; i++) { \
    double m = AT(double, 1, i); \
    ACC(i) += exp(AT(T, 2, i) - (isinf(m) ? 0.0 : m)); \
  } \
}
LSELOOP(lse64, double)
LSELOOP(lse32, float)

/* sum of (x - mean)^2: the two-pass form, exact where one pass cancels */
#define VARLOOP(name, T) \
static void name (char **p, const int64_t *s, int64_t n, void *ud) { \
  int64_t i; \
  (void)ud; \
  for (i = 0; i < n; i++) { \
    double dx = AT(T, 2, i) - AT(double, 1, i); \
    ACC(i) += dx * dx; \
  } \
}
VARLOOP(var64, double)
VARLOOP(var32, float)

/* ---- driver -------------------------------------------------------------------------- */

/* Runs loop over (acc seen in x's shape, [mid,] x). acc and mid are contiguous doubles of
   the kept shape (or int64 counts: the same size). */
static void pass (const lg_TDesc *accview, void *acc, const void *mid, const lg_TDesc *x,
                  const void *xd, lgI_Loop loop) {
  const lg_TDesc *ops[3];
  void *data[3];
  lgI_Iter it;
  int n = 0;
  ops[n] = accview; data[n++] = acc;
  if (mid != NULL) { ops[n] = accview; data[n++] = (void *)mid; }
  ops[n] = x; data[n++] = (void *)xd;
  if (lgI_iterinit(&it, n, ops, data) == LG_OK)   /* shapes agree by construction */
    lgI_iterrun(&it, loop, NULL);
}

static void fill (double *a, int64_t m, double v) {
  int64_t i;
  for (i = 0; i < m; i++) a[i] = v;
}

int lgI_reduce (lg_Work *W, int op, const lg_TDesc *x, const void *xd, uint32_t mask,
                double correction, void *out, int64_t *count) {
  lg_TDesc kept, accview;
  int64_t m, nred = 1, i;
  double *acc, *acc2;
  size_t bytes;
  int f32 = (x->dtype == LGI_F32), err, two = (op == LGI_RLSE || op == LGI_RVAR);
  if (op < LGI_RSUM || op > LGI_RVAR) return LG_EARG;
  if ((err = lgI_reduceshape(x, mask, 1, &kept)) != LG_OK) return err;
  m = lgI_tnumel(&kept);
  for (i = 0; i < x->ndim; i++)
    if (mask & ((uint32_t)1 << i)) nred *= x->size[i];
  if (m == 0) return LG_OK;
  if (nred == 0 && (op == LGI_RMAX || op == LGI_RMIN)) return LG_EARG;
  /* the accumulator as an operand of x's shape: stride 0 where reduced */
  accview = kept;
  accview.dtype = LGI_F64;
  for (i = 0; i < x->ndim; i++) {
    accview.size[i] = x->size[i];
    if (mask & ((uint32_t)1 << i)) accview.stride[i] = 0;
  }
  bytes = (size_t)m * sizeof(double) * (two ? 2 : 1);
  acc = (double *)lgI_alloc(W, NULL, 0, bytes);
  if (acc == NULL) return LG_EMEM;
  acc2 = two ? acc + m : NULL;
  switch (op) {
    case LGI_RSUM: case LGI_RMEAN: case LGI_RVAR:
      fill(acc, m, 0.0);
      pass(&accview, acc, NULL, x, xd, f32 ? sum32 : sum64);
      break;
    case LGI_RPROD:
      fill(acc, m, 1.0);
      pass(&accview, acc, NULL, x, xd, f32 ? prod32 : prod64);
      break;
    case LGI_RMIN:
      fill(acc, m, HUGE_VAL);
      pass(&accview, acc, NULL, x, xd, f32 ? min32 : min64);
      break;
    default:   /* max, and the shift of logsumexp */
      fill(acc, m, -HUGE_VAL);
      pass(&accview, acc, NULL, x, xd, f32 ? max32 : max64);
      break;
  }
  if ((op == LGI_RMAX || op == LGI_RMIN) && count != NULL) {
    memset(count, 0, (size_t)m * sizeof(int64_t));
    pass(&accview, count, acc, x, xd, f32 ? count32 : count64);
  }
  else if (op == LGI_RLSE) {
    fill(acc2, m, 0.0);
    pass(&accview, acc2, acc, x, xd, f32 ? lse32 : lse64);
    for (i = 0; i < m; i++) acc[i] = log(acc2[i]) + (isinf(acc[i]) ? 0.0 : acc[i]);
  }
  else if (op == LGI_RMEAN || op == LGI_RVAR) {
    for (i = 0; i < m; i++) acc[i] /= (double)nred;   /* 0/0: NaN for no elements */
    if (op == LGI_RVAR) {
      double dof = (double)nred - correction;
      fill(acc2, m, 0.0);
      pass(&accview, acc2, acc, x, xd, f32 ? var32 : var64);
      for (i = 0; i < m; i++) acc[i] = acc2[i] / (dof > 0 ? dof : 0.0);
    }
  }
  if (f32)
    for (i = 0; i < m; i++) ((float *)out)[i] = (float)acc[i];
  else
    memcpy(out, acc, (size_t)m * sizeof(double));
  lgI_alloc(W, acc, bytes, 0);
  return LG_OK;
}
