/*
** blas.c: matrix products. Each operand's last two dimensions go to CBLAS as they lie when
** their strides are row-major (no transpose) or column-major (a transposed view: transpose
** flag), so t() and transpose() cost no copy; anything else (an expanded or sliced-across
** operand) is copied to contiguous first. A column-major result is computed as its
** transpose (C^T = B^T A^T). Without CBLAS (LUAGRAD_HAVE_CBLAS undefined: the build says
** which) the same calls go to lgI_gemmc, a blocked C loop.
*/
#include <limits.h>
#include <string.h>
#include "core/lg_tensor.h"

#ifdef LUAGRAD_HAVE_CBLAS
#include <cblas.h>
#endif

const char *lgI_blasname (void) {
#ifdef LUAGRAD_HAVE_CBLAS
  return "cblas";
#else
  return "C";
#endif
}

/* ---- the blocked C loop ---------------------------------------------------------------- */

/* Panels of op(B), KB x NB, packed row-major on the stack (32 KiB for float64), so that the
   innermost loop runs along a contiguous row of C and of the panel whatever tb is. */
#define KB 64
#define NB 64

#define GEMMC(name, T) \
static void name (int ta, int tb, int64_t m, int64_t n, int64_t k, const T *a, int64_t lda, \
                  const T *b, int64_t ldb, double beta, T *c, int64_t ldc) { \
  T panel[KB * NB]; \
  int64_t i, j, p, j0, p0; \
  for (i = 0; i < m; i++) { \
    if (beta == 0) for (j = 0; j < n; j++) c[i * ldc + j] = 0; \
    else if (beta != 1) for (j = 0; j < n; j++) c[i * ldc + j] *= (T)beta; \
  } \
  for (p0 = 0; p0 < k; p0 += KB) { \
    int64_t kb = (k - p0 < KB) ? k - p0 : KB; \
    for (j0 = 0; j0 < n; j0 += NB) { \
      int64_t nb = (n - j0 < NB) ? n - j0 : NB; \
      for (p = 0; p < kb; p++) \
        for (j = 0; j < nb; j++) \
          panel[p * NB + j] = tb ? b[(j0 + j) * ldb + p0 + p] : b[(p0 + p) * ldb + j0 + j]; \
      for (i = 0; i < m; i++) { \
        T *crow = c + i * ldc + j0; \
        for (p = 0; p < kb; p++) { \
          const T x = ta ? a[(p0 + p) * lda + i] : a[i * lda + p0 + p]; \
          const T *brow = panel + p * NB; \
          for (j = 0; j < nb; j++) crow[j] += x * brow[j]; \
        } \
      } \
    } \
  } \
}
GEMMC(gemmc64, double)
GEMMC(gemmc32, float)

void lgI_gemmc (int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a,
                int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
  if (dtype == LGI_F32)
    gemmc32(ta, tb, m, n, k, (const float *)a, lda, (const float *)b, ldb, beta, (float *)c, ldc);
  else
    gemmc64(ta, tb, m, n, k, (const double *)a, lda, (const double *)b, ldb, beta,
            (double *)c, ldc);
}

/* CBLAS when every size fits its int, else the C loop. */
static void gemm (int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *a,
                  int64_t lda, const void *b, int64_t ldb, double beta, void *c, int64_t ldc) {
#ifdef LUAGRAD_HAVE_CBLAS
  if (m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && lda <= INT_MAX && ldb <= INT_MAX &&
      ldc <= INT_MAX) {
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    if (dtype == LGI_F32)
      cblas_sgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0f, (const float *)a,
                  (int)lda, (const float *)b, (int)ldb, (float)beta, (float *)c, (int)ldc);
    else
      cblas_dgemm(CblasRowMajor, TA, TB, (int)m, (int)n, (int)k, 1.0, (const double *)a,
                  (int)lda, (const double *)b, (int)ldb, beta, (double *)c, (int)ldc);
    return;
  }
#endif
  lgI_gemmc(dtype, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

/* ---- layouts -------------------------------------------------------------------------- */

/* How BLAS can read an r x q matrix of strides s0, s1: 0 row-major, 1 column-major (*ld its
   leading dimension), -1 not at all. A size-1 dimension's stride is free. */
static int layout (int64_t r, int64_t q, int64_t s0, int64_t s1, int64_t *ld) {
  int64_t minr = (q > 1) ? q : 1, minc = (r > 1) ? r : 1;
  if ((s1 == 1 || q <= 1) && (s0 >= minr || r <= 1)) {
    *ld = (r <= 1) ? minr : s0;
    return 0;
  }
  if ((s0 == 1 || r <= 1) && (s1 >= minc || q <= 1)) {
    *ld = (q <= 1) ? minc : s1;
    return 1;
  }
  return -1;
}

/* One operand of a product: its matrices' descriptor (batch dims removed per call) */
typedef struct Operand {
  lg_TDesc d;          /* the whole operand */
  const char *data;
  int lay;             /* layout of its last two dims, or -1: copied to tmp */
  int64_t ld;
  void *tmp;           /* a contiguous matrix, when lay was -1 */
} Operand;

static void *matrixat (const Operand *o, int64_t off, lg_TDesc *m2) {
  int nd = o->d.ndim;
  int64_t es = (int64_t)lgI_elemsize(o->d.dtype);
  memset(m2, 0, sizeof(*m2));
  m2->dtype = o->d.dtype;
  m2->ndim = 2;
  m2->size[0] = o->d.size[nd - 2]; m2->size[1] = o->d.size[nd - 1];
  m2->stride[0] = o->d.stride[nd - 2]; m2->stride[1] = o->d.stride[nd - 1];
  return (void *)(o->data + (o->d.offset + off) * es);
}

static int prepare (lg_Work *W, Operand *o, const lg_TDesc *d, const void *data) {
  int nd = d->ndim;
  o->d = *d;
  o->data = (const char *)data;
  o->tmp = NULL;
  o->lay = layout(d->size[nd - 2], d->size[nd - 1], d->stride[nd - 2], d->stride[nd - 1], &o->ld);
  if (o->lay < 0) {
    size_t bytes = (size_t)(d->size[nd - 2] * d->size[nd - 1]) * lgI_elemsize(d->dtype);
    o->tmp = lgI_alloc(W, NULL, 0, bytes ? bytes : 1);
    if (o->tmp == NULL) return LG_EMEM;
    o->lay = 0;
    o->ld = (d->size[nd - 1] > 1) ? d->size[nd - 1] : 1;
  }
  return LG_OK;
}

static void release (lg_Work *W, Operand *o) {
  int nd = o->d.ndim;
  if (o->tmp != NULL) {
    size_t bytes = (size_t)(o->d.size[nd - 2] * o->d.size[nd - 1]) * lgI_elemsize(o->d.dtype);
    lgI_alloc(W, o->tmp, bytes ? bytes : 1, 0);
    o->tmp = NULL;
  }
}

/* The matrix of batch offset off, as BLAS reads it: the operand in place, or its copy. */
static const void *matrix (Operand *o, int64_t off) {
  lg_TDesc m2, t2;
  void *p = matrixat(o, off, &m2);
  if (o->tmp == NULL) return p;
  lgI_tinit(&t2, m2.dtype, 2, m2.size);
  lgI_copy(&t2, o->tmp, &m2, p);   /* m2 has offset 0: p is its first element */
  return o->tmp;
}

static int checkshapes (const lg_TDesc *c, const lg_TDesc *a, const lg_TDesc *b) {
  int nd = c->ndim, i;
  if (nd < 2 || a->ndim != nd || b->ndim != nd) return LG_EARG;
  if (a->dtype != c->dtype || b->dtype != c->dtype) return LG_EARG;
  for (i = 0; i < nd - 2; i++)
    if (a->size[i] != c->size[i] || b->size[i] != c->size[i]) return LG_EARG;
  if (a->size[nd - 2] != c->size[nd - 2] || b->size[nd - 1] != c->size[nd - 1] ||
      a->size[nd - 1] != b->size[nd - 2]) return LG_EARG;
  return LG_OK;
}

int lgI_matmul (lg_Work *W, double beta, const lg_TDesc *c, void *cd, const lg_TDesc *a,
                const void *ad, const lg_TDesc *b, const void *bd) {
  Operand A, B, C;
  int64_t idx[LGI_MAXDIM], m, n, k, nbatch = 1;
  int nd = c->ndim, nb = c->ndim - 2, i, err;
  if ((err = checkshapes(c, a, b)) != LG_OK) return err;
  m = c->size[nd - 2]; n = c->size[nd - 1]; k = a->size[nd - 1];
  for (i = 0; i < nb; i++) nbatch *= c->size[i];
  if (nbatch == 0 || m == 0 || n == 0) return LG_OK;
  if ((err = prepare(W, &A, a, ad)) != LG_OK) return err;
  if ((err = prepare(W, &B, b, bd)) != LG_OK) { release(W, &A); return err; }
  if ((err = prepare(W, &C, c, cd)) != LG_OK) { release(W, &A); release(W, &B); return err; }
  memset(idx, 0, sizeof(idx));
  for (;;) {
    int64_t oa = 0, ob = 0, oc = 0;
    lg_TDesc c2;
    const void *pa, *pb;
    void *pc;
    for (i = 0; i < nb; i++) {
      oa += idx[i] * a->stride[i]; ob += idx[i] * b->stride[i]; oc += idx[i] * c->stride[i];
    }
    pa = matrix(&A, oa);
    pb = matrix(&B, ob);
    pc = matrixat(&C, oc, &c2);
    if (C.tmp == NULL && C.lay == 0)
      gemm(c->dtype, A.lay, B.lay, m, n, k, pa, A.ld, pb, B.ld, beta, pc, C.ld);
    else if (C.tmp == NULL)   /* column-major C: its transpose is row-major */
      gemm(c->dtype, !B.lay, !A.lay, n, m, k, pb, B.ld, pa, A.ld, beta, pc, C.ld);
    else {   /* into a contiguous matrix, then set or added */
      lg_TDesc t2;
      gemm(c->dtype, A.lay, B.lay, m, n, k, pa, A.ld, pb, B.ld, 0.0, C.tmp, C.ld);
      lgI_tinit(&t2, c->dtype, 2, c2.size);
      if (beta == 0) lgI_copy(&c2, pc, &t2, C.tmp);
      else lgI_binary(LGI_TADD, &c2, pc, &c2, pc, &t2, C.tmp);
    }
    for (i = nb - 1; i >= 0; i--) {   /* the next batch */
      if (++idx[i] < c->size[i]) break;
      idx[i] = 0;
    }
    if (i < 0) break;
  }
  release(W, &A); release(W, &B); release(W, &C);
  return LG_OK;
}
