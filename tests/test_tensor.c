/*
** test_tensor.c: the tensor kernels of the core (src/core/lg_tensor.h) against known values
** and naive loops: shapes, broadcasting and views (PyTorch's rules, expected values worked
** by hand from them), the iterator and elementwise loops, reductions, matmul in every
** transpose combination, and the seeded generator's first numbers (tests/fixtures/).
*/
#include "luagrad.h"   /* first: the header must compile on its own */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/lg_tensor.h"
#include "fixtures/rng_fixture.h"

static int failures = 0, checks = 0;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define NEAR(a, b, tol) near((a), (b), (tol), #a, __FILE__, __LINE__)

static void check (int ok, const char *what, const char *file, int line) {
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  }
}

static int near (double a, double b, double tol, const char *what, const char *file,
                 int line) {
  int ok = (a == b) || (isnan(a) && isnan(b)) || fabs(a - b) <= tol * (1.0 + fabs(b));
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g\n", file, line, what, a, b);
  }
  return ok;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* An allocator that fails once its budget of allocations is spent (-1: never). */
typedef struct Budget { long left; size_t live; } Budget;

static void *budget_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Budget *b = (Budget *)ud;
  if (nsize == 0) {
    if (ptr != NULL) b->live -= osize;
    free(ptr);
    return NULL;
  }
  if (b->left == 0) return NULL;
  if (b->left > 0) b->left--;
  {
    size_t old = (ptr != NULL) ? osize : 0;
    ptr = realloc(ptr, nsize);
    if (ptr != NULL) b->live += nsize - old;
  }
  return ptr;
}

static lg_TDesc D (int dtype, int ndim, const int64_t *size) {
  lg_TDesc d;
  int err = lgI_tinit(&d, dtype, ndim, size);
  if (err != LG_OK) { fprintf(stderr, "bad test shape\n"); exit(2); }
  return d;
}

static int sizes_are (const lg_TDesc *d, int ndim, const int64_t *size) {
  return d->ndim == ndim && (ndim == 0 || memcmp(d->size, size, ndim * sizeof(int64_t)) == 0);
}

static int strides_are (const lg_TDesc *d, const int64_t *stride) {
  return d->ndim == 0 || memcmp(d->stride, stride, d->ndim * sizeof(int64_t)) == 0;
}

/* the element at a multi-index, read the slow way */
static int64_t offsetof_idx (const lg_TDesc *d, const int64_t *idx) {
  int64_t off = d->offset;
  int i;
  for (i = 0; i < d->ndim; i++) off += idx[i] * d->stride[i];
  return off;
}

static double get (const lg_TDesc *d, const void *data, const int64_t *idx) {
  int64_t off = offsetof_idx(d, idx);
  return d->dtype == LGI_F32 ? ((const float *)data)[off] : ((const double *)data)[off];
}

/* the multi-index of the row-major position pos */
static void unravel (int ndim, const int64_t *size, int64_t pos, int64_t *idx) {
  int i;
  for (i = ndim - 1; i >= 0; i--) {
    idx[i] = pos % size[i];
    pos /= size[i];
  }
}

static void *filled (lg_Rng *r, int dtype, int64_t n, int integers) {
  void *p = malloc((size_t)(n ? n : 1) * lgI_elemsize(dtype));
  int64_t i;
  for (i = 0; i < n; i++) {
    double x = integers ? (double)lgI_rngint(r, -2, 2) : 4 * lgI_rnguniform(r) - 2;
    if (dtype == LGI_F32) ((float *)p)[i] = (float)x;
    else ((double *)p)[i] = x;
  }
  return p;
}

/* ---- shapes ------------------------------------------------------------------------- */

static void test_numel (void) {
  int64_t n = -1;
  int64_t s1[] = {2, 3, 4}, s2[] = {INT64_MAX, 0}, s3[] = {(int64_t)1 << 40, (int64_t)1 << 40};
  int64_t s4[] = {3, -1}, s5[] = {(int64_t)1 << 62, 4, 0}, s6[] = {(int64_t)1 << 59};
  int64_t s7[] = {(int64_t)1 << 60};
  CHECK(lgI_numel(3, s1, &n) == LG_OK && n == 24);
  CHECK(lgI_numel(0, s1, &n) == LG_OK && n == 1);    /* no dimensions: one element */
  CHECK(lgI_numel(2, s2, &n) == LG_OK && n == 0);    /* a 0 wins over a huge size */
  CHECK(lgI_numel(3, s5, &n) == LG_OK && n == 0);
  CHECK(lgI_numel(2, s3, &n) == LGI_EOVERFLOW);
  CHECK(lgI_numel(2, s5, &n) == LGI_EOVERFLOW);
  CHECK(lgI_numel(2, s4, &n) == LGI_ESIZE);
  CHECK(lgI_numel(1, s6, &n) == LG_OK && n == (int64_t)1 << 59);   /* 2^62 bytes */
  CHECK(lgI_numel(1, s7, &n) == LGI_EOVERFLOW);                    /* 2^63 bytes */
  {
    lg_TDesc d;
    int64_t big[LGI_MAXDIM + 1];
    CHECK(lgI_tinit(&d, LGI_F64, 2, s3) == LGI_EOVERFLOW);
    CHECK(lgI_tinit(&d, LGI_F64, LGI_MAXDIM + 1, big) == LGI_EDIM);
    CHECK(lgI_tinit(&d, LGI_F64, -1, big) == LGI_EDIM);
  }
}

static void test_contiguous (void) {
  int64_t s[] = {2, 3, 4}, z[] = {2, 0, 3};
  int64_t st[] = {12, 4, 1}, zst[] = {3, 3, 1};
  lg_TDesc d = D(LGI_F64, 3, s), t;
  CHECK(strides_are(&d, st) && d.offset == 0 && lgI_iscontig(&d));
  d = D(LGI_F32, 3, z);
  CHECK(strides_are(&d, zst) && lgI_iscontig(&d));   /* a 0 size strides as 1, as PyTorch */
  d = D(LGI_F64, 3, s);
  CHECK(lgI_transpose(&d, 0, 2, &t) == LG_OK && !lgI_iscontig(&t));
  {  /* size-1 dimensions' strides do not matter */
    int64_t s1[] = {2, 1, 3}, st1[] = {3, 100, 1}, st2[] = {1, 7, 2};
    memcpy(d.size, s1, sizeof(s1)); memcpy(d.stride, st1, sizeof(st1));
    CHECK(lgI_iscontig(&d));
    memcpy(d.stride, st2, sizeof(st2));
    CHECK(!lgI_iscontig(&d));
  }
  {  /* an expanded tensor is not contiguous; an empty one is */
    int64_t s2[] = {3}, s3[] = {2, 3}, s0[] = {0, 3};
    lg_TDesc e, x = D(LGI_F64, 1, s2);
    CHECK(lgI_expand(&x, 2, s3, &e) == LG_OK && !lgI_iscontig(&e));
    CHECK(lgI_expand(&x, 2, s0, &e) == LG_OK && lgI_iscontig(&e));
  }
}

typedef struct BCase {
  int na; int64_t a[4]; int nb; int64_t b[4];
  int ok; int nout; int64_t out[4]; int bada, badb;
} BCase;

static void test_broadcast (void) {
  static const BCase cases[] = {
    {2, {2, 3}, 1, {4}, 0, 0, {0}, 1, 0},          /* the contract's example */
    {2, {2, 3}, 1, {3}, 1, 2, {2, 3}, 0, 0},
    {2, {4, 1}, 1, {3}, 1, 2, {4, 3}, 0, 0},
    {0, {0}, 2, {2, 2}, 1, 2, {2, 2}, 0, 0},         /* a 0-d operand (a Value) */
    {3, {5, 1, 4}, 2, {3, 1}, 1, 3, {5, 3, 4}, 0, 0},
    {2, {2, 1}, 3, {8, 4, 3}, 0, 0, {0}, 0, 1},
    {1, {0}, 1, {1}, 1, 1, {0}, 0, 0},
    {1, {1}, 1, {0}, 1, 1, {0}, 0, 0},
    {1, {0}, 1, {2}, 0, 0, {0}, 0, 0},               /* 0 is not 1: no broadcast */
    {4, {2, 1, 3, 1}, 3, {7, 1, 5}, 1, 4, {2, 7, 3, 5}, 0, 0},
    {3, {2, 3, 4}, 3, {2, 1, 5}, 0, 0, {0}, 2, 2},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const BCase *c = &cases[i];
    int64_t out[LGI_MAXDIM];
    int n = -1, ba = -9, bb = -9, err;
    err = lgI_broadcast(c->na, c->a, c->nb, c->b, &n, out, &ba, &bb);
    if (c->ok) {
      CHECK(err == LG_OK && n == c->nout);
      CHECK(n == c->nout && memcmp(out, c->out, n * sizeof(int64_t)) == 0);
    }
    else {
      CHECK(err == LGI_ESHAPE && ba == c->bada && bb == c->badb);
      if (i == 0) CHECK(ba == 1 && bb == 0);   /* {2, 3} dim 1 (3) against {4} dim 0 */
    }
    /* symmetric */
    err = lgI_broadcast(c->nb, c->b, c->na, c->a, &n, out, &bb, &ba);
    CHECK(c->ok ? err == LG_OK : (err == LGI_ESHAPE && ba == c->bada && bb == c->badb));
  }
}

static void test_expand (void) {
  int64_t s[] = {3, 1}, to[] = {2, 3, 4}, keep[] = {2, -1, 4}, bad[] = {4, 4}, neg[] = {-1, 3, 4};
  int64_t st[] = {0, 1, 0}, neg2[] = {3, -2};
  lg_TDesc d = D(LGI_F64, 2, s), e;
  CHECK(lgI_expand(&d, 3, to, &e) == LG_OK && sizes_are(&e, 3, to) && strides_are(&e, st));
  CHECK(lgI_expand(&d, 3, keep, &e) == LG_OK && sizes_are(&e, 3, to) && strides_are(&e, st));
  CHECK(lgI_expand(&d, 2, bad, &e) == LGI_ESHAPE);
  CHECK(lgI_expand(&d, 1, bad, &e) == LGI_EDIM);
  CHECK(lgI_expand(&d, 3, neg, &e) == LGI_ESIZE);   /* -1 on a new leading dimension */
  CHECK(lgI_expand(&d, 2, neg2, &e) == LGI_ESIZE);
  CHECK(lgI_expand(&d, 2, s, &e) == LG_OK && e.stride[0] == 1 && e.stride[1] == 1);
  {  /* an expand whose elements overflow */
    int64_t huge[] = {(int64_t)1 << 40, 3, (int64_t)1 << 40};
    CHECK(lgI_expand(&d, 3, huge, &e) == LGI_EOVERFLOW);
  }
}

static void test_view (void) {
  int64_t s[] = {2, 3, 4}, v1[] = {6, 4}, v1s[] = {4, 1}, v2[] = {4, -1}, v2r[] = {4, 6};
  lg_TDesc x = D(LGI_F64, 3, s), t, v;
  CHECK(lgI_view(&x, 2, v1, &v) == LG_OK && strides_are(&v, v1s));
  CHECK(lgI_infersize(24, 2, v2) == LG_OK && v2[1] == 6 && memcmp(v2, v2r, sizeof(v2r)) == 0);
  {  /* x.transpose(0, 1): sizes {3, 2, 4}, strides {4, 12, 1} */
    int64_t ts[] = {4, 12, 1}, w1[] = {3, 2, 2, 2}, w1s[] = {4, 12, 2, 1}, w2[] = {6, 4};
    int64_t w3[] = {3, 8}, w4[] = {3, 1, 2, 4}, w4s[] = {4, 24, 12, 1};
    CHECK(lgI_transpose(&x, 0, 1, &t) == LG_OK && strides_are(&t, ts));
    CHECK(lgI_view(&t, 4, w1, &v) == LG_OK && strides_are(&v, w1s));   /* the last dim split */
    CHECK(lgI_view(&t, 2, w2, &v) == LGI_EVIEW);   /* dims 0 and 1 cannot merge */
    CHECK(lgI_view(&t, 2, w3, &v) == LGI_EVIEW);
    CHECK(lgI_view(&t, 4, w4, &v) == LG_OK && strides_are(&v, w4s));   /* a size 1 inserted */
  }
  {  /* a narrowed {4, 6}: sizes {4, 3}, strides {6, 1}, offset 2 */
    int64_t m[] = {4, 6}, flat[] = {12}, u1[] = {4, 3, 1}, u1s[] = {6, 1, 1};
    int64_t u2[] = {2, 2, 3}, u2s[] = {12, 6, 1};
    lg_TDesc y = D(LGI_F64, 2, m), n;
    CHECK(lgI_narrow(&y, 1, 2, 3, &n) == LG_OK && n.offset == 2 && n.size[1] == 3);
    CHECK(lgI_view(&n, 1, flat, &v) == LGI_EVIEW);
    CHECK(lgI_view(&n, 3, u1, &v) == LG_OK && strides_are(&v, u1s) && v.offset == 2);
    CHECK(lgI_view(&n, 3, u2, &v) == LG_OK && strides_are(&v, u2s));
  }
  {  /* an expanded {3} -> {2, 3}: strides {0, 1} */
    int64_t b[] = {3}, e2[] = {2, 3}, flat[] = {6}, w[] = {2, 1, 3}, ws[] = {0, 3, 1};
    lg_TDesc y = D(LGI_F64, 1, b), e;
    CHECK(lgI_expand(&y, 2, e2, &e) == LG_OK);
    CHECK(lgI_view(&e, 1, flat, &v) == LGI_EVIEW);
    CHECK(lgI_view(&e, 3, w, &v) == LG_OK && strides_are(&v, ws));
  }
  {  /* size-1 dims with odd strides merge; 0-d views; numbers of elements that differ */
    int64_t s1[] = {2, 1, 3}, st1[] = {3, 100, 1}, six[] = {6}, one[] = {1, 1}, ones[] = {1, 1};
    lg_TDesc y = D(LGI_F64, 3, s1), z = D(LGI_F64, 0, NULL);
    memcpy(y.stride, st1, sizeof(st1));
    CHECK(lgI_view(&y, 1, six, &v) == LG_OK && v.stride[0] == 1);
    CHECK(lgI_view(&z, 2, one, &v) == LG_OK && strides_are(&v, ones));
    CHECK(lgI_view(&z, 0, NULL, &v) == LG_OK && v.ndim == 0);
    CHECK(lgI_view(&x, 1, six, &v) == LGI_EVIEW);
  }
  {  /* an empty tensor views to any shape of 0 elements */
    int64_t e[] = {0, 4}, e2[] = {2, 0, 3}, e2s[] = {3, 3, 1};
    lg_TDesc y = D(LGI_F64, 2, e);
    CHECK(lgI_view(&y, 3, e2, &v) == LG_OK && strides_are(&v, e2s));
  }
  {  /* infersize's errors */
    int64_t a[] = {4, 4}, b[] = {-1, -1}, c[] = {-1, 0}, d2[] = {-1, 4}, f[] = {2, -3};
    int64_t g[] = {-1, 0}, h[] = {(int64_t)1 << 62, (int64_t)1 << 62};
    CHECK(lgI_infersize(6, 2, a) == LGI_EVIEW);   /* the contract's {4, 4} for 6 elements */
    CHECK(lgI_infersize(6, 2, b) == LGI_ESIZE);
    CHECK(lgI_infersize(0, 2, c) == LGI_EVIEW);   /* PyTorch: -1 beside a 0 is ambiguous */
    CHECK(lgI_infersize(6, 2, d2) == LGI_EVIEW);
    CHECK(lgI_infersize(6, 2, f) == LGI_ESIZE);
    CHECK(lgI_infersize(5, 2, g) == LGI_EVIEW);
    CHECK(lgI_infersize(6, 2, h) == LGI_EVIEW);
  }
}

static void test_movement (void) {
  int64_t s[] = {2, 3, 4};
  lg_TDesc x = D(LGI_F64, 3, s), y;
  {
    int p[] = {2, 0, 1}, bad1[] = {0, 0, 1}, bad2[] = {0, 1, 3};
    int64_t ps[] = {4, 2, 3}, pst[] = {1, 12, 4};
    CHECK(lgI_permute(&x, 3, p, &y) == LG_OK && sizes_are(&y, 3, ps) && strides_are(&y, pst));
    CHECK(lgI_permute(&x, 3, bad1, &y) == LGI_EDIM);
    CHECK(lgI_permute(&x, 3, bad2, &y) == LGI_EDIM);
    CHECK(lgI_permute(&x, 2, p, &y) == LGI_EDIM);
    CHECK(lgI_transpose(&x, 0, 3, &y) == LGI_EDIM && lgI_transpose(&x, -1, 0, &y) == LGI_EDIM);
  }
  {
    int64_t ns[] = {2, 2, 4};
    CHECK(lgI_narrow(&x, 1, 1, 2, &y) == LG_OK && y.offset == 4 && sizes_are(&y, 3, ns));
    CHECK(lgI_narrow(&x, 1, 2, 2, &y) == LGI_EINDEX);
    CHECK(lgI_narrow(&x, 1, 3, 0, &y) == LG_OK && y.size[1] == 0);   /* empty at the end */
    CHECK(lgI_narrow(&x, 1, -1, 1, &y) == LGI_EINDEX);
    CHECK(lgI_narrow(&x, 1, 0, -1, &y) == LGI_EINDEX);
    CHECK(lgI_narrow(&x, 3, 0, 1, &y) == LGI_EDIM);
  }
  {
    int64_t ss[] = {2, 4}, sst[] = {12, 1};
    CHECK(lgI_select(&x, 1, 2, &y) == LG_OK && y.offset == 8 && sizes_are(&y, 2, ss) &&
          strides_are(&y, sst));
    CHECK(lgI_select(&x, 1, 3, &y) == LGI_EINDEX && lgI_select(&x, 1, -1, &y) == LGI_EINDEX);
    CHECK(lgI_select(&x, 0, 1, &y) == LG_OK && lgI_select(&y, 0, 2, &y) == LG_OK &&
          lgI_select(&y, 0, 3, &y) == LG_OK && y.ndim == 0 && y.offset == 23);
  }
  {
    int64_t q[] = {1, 3, 1}, qs[] = {3}, q1[] = {3, 1}, u[] = {1, 3, 1, 1};
    lg_TDesc z = D(LGI_F64, 3, q);
    CHECK(lgI_squeeze(&z, -1, &y) == LG_OK && sizes_are(&y, 1, qs));
    CHECK(lgI_squeeze(&z, 0, &y) == LG_OK && sizes_are(&y, 2, q1));
    CHECK(lgI_squeeze(&z, 1, &y) == LG_OK && sizes_are(&y, 3, q));   /* not size 1: kept */
    CHECK(lgI_squeeze(&z, 3, &y) == LGI_EDIM);
    CHECK(lgI_unsqueeze(&z, 3, &y) == LG_OK && sizes_are(&y, 4, u) && y.stride[3] == 1);
    CHECK(lgI_unsqueeze(&x, 1, &y) == LG_OK && y.size[1] == 1 && y.stride[1] == 12);
    CHECK(lgI_unsqueeze(&x, 4, &y) == LGI_EDIM && lgI_unsqueeze(&x, -1, &y) == LGI_EDIM);
    {
      lg_TDesc w = D(LGI_F64, 0, NULL);
      int i;
      for (i = 0; i < LGI_MAXDIM; i++) CHECK(lgI_unsqueeze(&w, 0, &w) == LG_OK);
      CHECK(lgI_unsqueeze(&w, 0, &w) == LGI_EDIM && w.ndim == LGI_MAXDIM);
    }
  }
}

static void test_sumto (void) {
  int64_t g[] = {2, 3, 4}, x1[] = {3, 1}, x2[] = {4}, x4[] = {5}, x5[] = {1, 2, 3, 4};
  int64_t x6[] = {1, 1, 1};
  uint32_t m = 99;
  CHECK(lgI_sumto(3, g, 2, x1, &m) == LG_OK && m == 5u);   /* dims 0 and 2 */
  CHECK(lgI_sumto(3, g, 1, x2, &m) == LG_OK && m == 3u);
  CHECK(lgI_sumto(3, g, 3, g, &m) == LG_OK && m == 0u);
  CHECK(lgI_sumto(3, g, 0, NULL, &m) == LG_OK && m == 7u);  /* to a Value */
  CHECK(lgI_sumto(3, g, 3, x6, &m) == LG_OK && m == 7u);
  CHECK(lgI_sumto(3, g, 1, x4, &m) == LGI_ESHAPE);
  CHECK(lgI_sumto(3, g, 4, x5, &m) == LGI_ESHAPE);
  {  /* and the reduction it names gives the operand's gradient */
    Budget b = {-1, 0};
    lg_Work W;
    lg_Rng r;
    lg_TDesc gd = D(LGI_F64, 3, g), od;
    double *gv, out[3];
    int64_t i, j, k;
    lgI_workinit(&W, budget_alloc, &b);
    lgI_rngseed(&r, 5);
    gv = (double *)filled(&r, LGI_F64, 24, 0);
    CHECK(lgI_sumto(3, g, 2, x1, &m) == LG_OK);
    CHECK(lgI_reduceshape(&gd, m, 1, &od) == LG_OK && lgI_tnumel(&od) == 3);
    CHECK(lgI_reduce(&W, LGI_RSUM, &gd, gv, m, 0, out, NULL) == LG_OK);
    for (j = 0; j < 3; j++) {
      double s = 0;
      for (i = 0; i < 2; i++) for (k = 0; k < 4; k++) s += gv[i * 12 + j * 4 + k];
      NEAR(out[j], s, 1e-14);
    }
    free(gv);
    CHECK(b.live == 0);
  }
}

/* ---- the iterator and elementwise loops ------------------------------------------------ */

static void test_coalesce (void) {
  int64_t s[] = {2, 3, 4}, m[] = {4, 6}, e[] = {5, 4, 6};
  lg_TDesc x = D(LGI_F64, 3, s), t, y = D(LGI_F64, 2, m), ex;
  const lg_TDesc *ops[2];
  void *data[2];
  lgI_Iter it;
  double buf[120];
  data[0] = data[1] = buf;
  ops[0] = &x;
  CHECK(lgI_iterinit(&it, 1, ops, data) == LG_OK && it.ndim == 1 && it.size[0] == 24 &&
        it.stride[0][0] == 8);
  CHECK(lgI_transpose(&y, 0, 1, &t) == LG_OK);
  ops[0] = &t;
  CHECK(lgI_iterinit(&it, 1, ops, data) == LG_OK && it.ndim == 1 && it.size[0] == 24 &&
        !it.tile);   /* alone, a transposed matrix is walked in memory order: one run */
  {  /* into a contiguous output: two loops in the output's order, in tiles */
    int64_t ts[] = {6, 4};
    lg_TDesc c = D(LGI_F64, 2, ts);
    ops[0] = &c; ops[1] = &t;
    CHECK(lgI_iterinit(&it, 2, ops, data) == LG_OK && it.ndim == 2 && it.size[1] == 4 &&
          it.stride[0][1] == 8 && it.stride[1][1] == 48 && it.tile);
  }
  {  /* a transposed output decides the order before a contiguous input */
    int64_t ts[] = {6, 4};
    lg_TDesc c = D(LGI_F64, 2, ts);
    ops[0] = &t; ops[1] = &c;
    CHECK(lgI_iterinit(&it, 2, ops, data) == LG_OK && it.ndim == 2 && it.size[1] == 6 &&
          it.stride[0][1] == 8 && it.stride[1][1] == 32 && it.tile);
  }
  {  /* broadcast (stride 0) dimensions decide nothing */
    int64_t bs[] = {4, 6}, one[] = {6};
    lg_TDesc c = D(LGI_F64, 2, bs), row = D(LGI_F64, 1, one), er;
    CHECK(lgI_expand(&row, 2, bs, &er) == LG_OK);
    ops[0] = &c; ops[1] = &er;
    CHECK(lgI_iterinit(&it, 2, ops, data) == LG_OK && it.ndim == 2 && !it.tile &&
          it.stride[1][0] == 0 && it.stride[0][1] == 8);
  }
  {  /* contiguous against an operand broadcast on its first dimension */
    lg_TDesc z = D(LGI_F64, 3, e);
    CHECK(lgI_expand(&y, 3, e, &ex) == LG_OK);
    ops[0] = &z; ops[1] = &ex;
    CHECK(lgI_iterinit(&it, 2, ops, data) == LG_OK && it.ndim == 2 && it.size[0] == 5 &&
          it.size[1] == 24 && it.stride[1][0] == 0);
  }
  {  /* size-1 dims drop out; unequal shapes and bad counts are refused */
    int64_t q[] = {1, 24, 1};
    lg_TDesc z = D(LGI_F32, 3, q);
    ops[0] = &z;
    CHECK(lgI_iterinit(&it, 1, ops, data) == LG_OK && it.ndim == 1 && it.stride[0][0] == 4);
    ops[1] = &x;
    CHECK(lgI_iterinit(&it, 2, ops, data) == LGI_ESHAPE);
    CHECK(lgI_iterinit(&it, 0, ops, data) == LG_EARG);
    CHECK(lgI_iterinit(&it, LGI_MAXOPS + 1, ops, data) == LG_EARG);
  }
}

/* Random strided operands: a permuted, narrowed view of a bigger storage. */
typedef struct Strided {
  lg_TDesc d;
  void *data;
} Strided;

static Strided makeview (lg_Rng *r, int dtype, int ndim, const int64_t *size, int kind) {
  /* kind 0: contiguous; 1: the reversed permutation of a contiguous tensor; 2: every other
     element of the last dimension of a bigger one, offset 1 */
  Strided s;
  int64_t big[LGI_MAXDIM];
  int i, perm[LGI_MAXDIM];
  if (kind == 1) {
    for (i = 0; i < ndim; i++) { big[i] = size[ndim - 1 - i]; perm[i] = ndim - 1 - i; }
    s.d = D(dtype, ndim, big);
    lgI_permute(&s.d, ndim, perm, &s.d);
  }
  else if (kind == 2 && ndim > 0) {
    memcpy(big, size, ndim * sizeof(int64_t));
    big[ndim - 1] = 2 * size[ndim - 1] + 1;
    s.d = D(dtype, ndim, big);
    lgI_narrow(&s.d, ndim - 1, 1, 2 * size[ndim - 1], &s.d);
    s.d.size[ndim - 1] = size[ndim - 1];
    s.d.stride[ndim - 1] *= 2;
  }
  else s.d = D(dtype, ndim, size);
  {
    int64_t n = 1;
    for (i = 0; i < ndim; i++) n *= (kind == 2 && i == ndim - 1) ? big[i] : size[i];
    s.data = filled(r, dtype, n, 0);
  }
  return s;
}

static double apply (int op, double x, double y) {
  switch (op) {
    case LGI_TADD: return x + y;
    case LGI_TSUB: return x - y;
    case LGI_TMUL: return x * y;
    default: return x / y;
  }
}

/* every op on every dtype pair, broadcasting, strided operands, against a naive loop */
static void test_binary (void) {
  static const struct { int na; int64_t a[3]; int nb; int64_t b[3]; int no; int64_t o[3]; } shp[] = {
    {3, {2, 3, 4}, 3, {2, 3, 4}, 3, {2, 3, 4}},
    {2, {5, 7}, 1, {7}, 2, {5, 7}},
    {2, {5, 1}, 2, {1, 6}, 2, {5, 6}},
    {0, {0}, 2, {3, 3}, 2, {3, 3}},
    {3, {4, 1, 3}, 2, {2, 3}, 3, {4, 2, 3}},
    {1, {1000}, 1, {1000}, 1, {1000}},
    {3, {2, 70, 65}, 2, {70, 1}, 3, {2, 70, 65}},   /* past one 64 x 64 tile */
  };
  lg_Rng r;
  size_t c;
  int op, ka, kb, dta, dtb, dto;
  lgI_rngseed(&r, 11);
  for (c = 0; c < sizeof(shp) / sizeof(shp[0]); c++)
    for (op = LGI_TADD; op <= LGI_TDIV; op++)
      for (ka = 0; ka < 3; ka++)
        for (kb = 0; kb < 3; kb++)
          for (dta = 0; dta < 2; dta++)
            for (dtb = 0; dtb < 2; dtb++) {
              Strided a = makeview(&r, dta, shp[c].na, shp[c].a, ka);
              Strided b = makeview(&r, dtb, shp[c].nb, shp[c].b, kb);
              lg_TDesc o, ea, eb;
              int64_t n, i, idx[LGI_MAXDIM];
              void *od;
              int bad = 0;
              dto = (dta == LGI_F32 && dtb == LGI_F32) ? LGI_F32 : LGI_F64;
              o = D(dto, shp[c].no, shp[c].o);
              n = lgI_tnumel(&o);
              od = malloc(n * 8);
              CHECK(lgI_binary(op, &o, od, &a.d, a.data, &b.d, b.data) == LG_OK);
              lgI_expand(&a.d, o.ndim, o.size, &ea);
              lgI_expand(&b.d, o.ndim, o.size, &eb);
              for (i = 0; i < n && !bad; i++) {
                double want;
                unravel(o.ndim, o.size, i, idx);
                want = apply(op, get(&ea, a.data, idx), get(&eb, b.data, idx));
                if (dto == LGI_F32) want = (float)want;
                bad = !NEAR(get(&o, od, idx), want, dto == LGI_F32 ? 1e-6 : 1e-15);
              }
              free(a.data); free(b.data); free(od);
            }
  {  /* shapes that do not broadcast, and a bad op */
    int64_t s1[] = {2, 3}, s2[] = {4};
    lg_TDesc x = D(LGI_F64, 2, s1), y = D(LGI_F64, 1, s2);
    double buf[6] = {0};
    CHECK(lgI_binary(LGI_TADD, &x, buf, &x, buf, &y, buf) == LGI_ESHAPE);
    CHECK(lgI_binary(LGI_TADD, &y, buf, &x, buf, &y, buf) == LGI_ESHAPE);   /* out too small */
    CHECK(lgI_binary(9, &x, buf, &x, buf, &x, buf) == LG_EARG);
  }
  {  /* in place: out is a */
    int64_t s1[] = {3};
    lg_TDesc x = D(LGI_F64, 1, s1), k = D(LGI_F64, 0, NULL);
    double v[3] = {1, 2, 3}, two = 2;
    CHECK(lgI_binary(LGI_TMUL, &x, v, &x, v, &k, &two) == LG_OK);
    CHECK(v[0] == 2 && v[1] == 4 && v[2] == 6);
    CHECK(lgI_binary(LGI_TSUB, &x, v, &k, &two, &x, v) == LG_OK);
    CHECK(v[0] == 0 && v[1] == -2 && v[2] == -4);
  }
}

static void test_map_copy (void) {
  int64_t s[] = {7, 5};
  lg_Rng r;
  int kind, dt;
  lgI_rngseed(&r, 12);
  for (kind = 0; kind < 3; kind++)
    for (dt = 0; dt < 2; dt++) {
      Strided x = makeview(&r, dt, 2, s, kind);
      lg_TDesc o = D(LGI_F64, 2, s), o32 = D(LGI_F32, 2, s);
      double out[35];
      float out32[35];
      int64_t i, idx[2];
      CHECK(lgI_map(tanh, &o, out, &x.d, x.data) == LG_OK);
      CHECK(lgI_copy(&o32, out32, &x.d, x.data) == LG_OK);
      for (i = 0; i < 35; i++) {
        unravel(2, s, i, idx);
        NEAR(out[i], tanh(get(&x.d, x.data, idx)), 1e-15);
        CHECK(out32[i] == (float)get(&x.d, x.data, idx));
      }
      CHECK(lgI_map(exp, &o32, out32, &x.d, x.data) == LG_OK);
      for (i = 0; i < 35; i++) {
        unravel(2, s, i, idx);
        CHECK(out32[i] == (float)exp(get(&x.d, x.data, idx)));
      }
      free(x.data);
    }
  {  /* a broadcasting copy fills every row */
    int64_t one[] = {5};
    lg_TDesc row = D(LGI_F64, 1, one), o = D(LGI_F64, 2, s);
    double v[5] = {1, 2, 3, 4, 5}, out[35];
    int i;
    CHECK(lgI_copy(&o, out, &row, v) == LG_OK);
    for (i = 0; i < 35; i++) CHECK(out[i] == v[i % 5]);
    CHECK(lgI_copy(&row, v, &o, out) == LGI_ESHAPE);
  }
}

/* ---- reductions --------------------------------------------------------------------- */

/* the reduction of x over mask at oidx, an index of the keepdim shape, the slow way */
static double naive_reduce (int op, const lg_TDesc *x, const void *xd, uint32_t mask,
                            const int64_t *oidx, double corr, int64_t *count) {
  int64_t rsize[LGI_MAXDIM], idx[LGI_MAXDIM], n = 1, i;
  int nr = 0, d, k;
  double acc = 0, m = 0, s2 = 0;
  for (d = 0; d < x->ndim; d++)
    if (mask >> d & 1) { rsize[nr++] = x->size[d]; n *= x->size[d]; }
  for (k = 0; k < 2; k++) {   /* pass 0: the first statistic; pass 1: a second one */
    for (i = 0; i < n; i++) {
      int64_t ridx[LGI_MAXDIM];
      double v;
      int q = 0;
      unravel(nr, rsize, i, ridx);
      for (d = 0; d < x->ndim; d++) idx[d] = (mask >> d & 1) ? ridx[q++] : oidx[d];
      v = get(x, xd, idx);
      if (k == 0) {
        if (i == 0) acc = v;
        else switch (op) {
          case LGI_RPROD: acc *= v; break;
          case LGI_RMAX: case LGI_RLSE:
            if ((v > acc || isnan(v)) && !isnan(acc)) acc = v;
            break;
          case LGI_RMIN:
            if ((v < acc || isnan(v)) && !isnan(acc)) acc = v;
            break;
          default: acc += v;
        }
      }
      else if (op == LGI_RLSE) s2 += exp(v - m);
      else if (op == LGI_RVAR) s2 += (v - m) * (v - m);
      else if ((op == LGI_RMAX || op == LGI_RMIN) && count)
        *count += (v == m || (isnan(v) && isnan(m)));
    }
    m = (op == LGI_RVAR) ? acc / n : acc;
    if (count && k == 0) *count = 0;
  }
  switch (op) {
    case LGI_RMEAN: return acc / n;
    case LGI_RLSE: return log(s2) + m;
    case LGI_RVAR: return s2 / (n - corr);
    default: return acc;
  }
}

static void test_reduce (void) {
  int64_t s[] = {3, 4, 5};
  Budget b = {-1, 0};
  lg_Work W;
  lg_Rng r;
  int kind, dt, op, ints;
  uint32_t mask;
  lgI_workinit(&W, budget_alloc, &b);
  lgI_rngseed(&r, 13);
  for (ints = 0; ints < 2; ints++)   /* small integers: ties for max and min */
    for (kind = 0; kind < 3; kind++)
      for (dt = 0; dt < 2; dt++)
        for (op = LGI_RSUM; op <= LGI_RVAR; op++)
          for (mask = 1; mask < 8; mask++) {
            Strided x = makeview(&r, dt, 3, s, kind);
            lg_TDesc o;
            double out[60];
            int64_t cnt[60], n, i, idx[LGI_MAXDIM];
            int bad = 0, keep;
            if (ints) {
              free(x.data);
              x.data = filled(&r, dt, 3 * 4 * 11, 1);
            }
            for (keep = 0; keep < 2; keep++)
              CHECK(lgI_reduceshape(&x.d, mask, keep, &o) == LG_OK && o.dtype == dt);
            n = lgI_tnumel(&o);
            CHECK(lgI_reduce(&W, op, &x.d, x.data, mask, 1.0, out, cnt) == LG_OK);
            for (i = 0; i < n && !bad; i++) {
              int64_t c = 0;
              double want, got;
              unravel(o.ndim, o.size, i, idx);
              want = naive_reduce(op, &x.d, x.data, mask, idx, 1.0, &c);
              got = (dt == LGI_F32) ? (double)((float *)out)[i] : out[i];
              if (dt == LGI_F32) want = (float)want;
              bad = !NEAR(got, want, dt == LGI_F32 ? 2e-7 : 1e-13);
              if ((op == LGI_RMAX || op == LGI_RMIN)) CHECK(cnt[i] == c);
            }
            free(x.data);
          }
  CHECK(b.live == 0);
  {  /* keepdim shapes, a bad mask */
    int64_t k1[] = {3, 1, 5}, k2[] = {3, 5};
    lg_TDesc x = D(LGI_F64, 3, s), o;
    CHECK(lgI_reduceshape(&x, 2, 1, &o) == LG_OK && sizes_are(&o, 3, k1));
    CHECK(lgI_reduceshape(&x, 2, 0, &o) == LG_OK && sizes_are(&o, 2, k2));
    CHECK(lgI_reduceshape(&x, 7, 0, &o) == LG_OK && o.ndim == 0);
    CHECK(lgI_reduceshape(&x, 8, 0, &o) == LGI_EDIM);
    CHECK(lgI_reduce(&W, LGI_RSUM, &x, NULL, 8, 0, NULL, NULL) == LGI_EDIM);
    CHECK(lgI_reduce(&W, 99, &x, NULL, 1, 0, NULL, NULL) == LG_EARG);
  }
  {  /* logsumexp is stable; NaN propagates through max; var's correction; inf */
    int64_t n4[] = {4};
    lg_TDesc x = D(LGI_F64, 1, n4), x32 = D(LGI_F32, 1, n4);
    double big[4] = {1000, 1000, 999, -HUGE_VAL}, nanv[4] = {1, NAN, 3, NAN}, out;
    double v[4] = {1, 2, 3, 4}, ninf[4] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    double pinf[4] = {1, HUGE_VAL, 2, 3};
    float v32[4] = {1e8f, 1, -1e8f, 1};
    int64_t c;
    CHECK(lgI_reduce(&W, LGI_RLSE, &x, big, 1, 0, &out, NULL) == LG_OK);
    NEAR(out, 1000 + log(2 + exp(-1.0)), 1e-15);
    CHECK(lgI_reduce(&W, LGI_RLSE, &x, ninf, 1, 0, &out, NULL) == LG_OK && out == -HUGE_VAL);
    CHECK(lgI_reduce(&W, LGI_RLSE, &x, pinf, 1, 0, &out, NULL) == LG_OK && out == HUGE_VAL);
    CHECK(lgI_reduce(&W, LGI_RMAX, &x, nanv, 1, 0, &out, &c) == LG_OK && isnan(out) && c == 2);
    CHECK(lgI_reduce(&W, LGI_RMIN, &x, nanv, 1, 0, &out, &c) == LG_OK && isnan(out) && c == 2);
    CHECK(lgI_reduce(&W, LGI_RMAX, &x, big, 1, 0, &out, &c) == LG_OK && out == 1000 && c == 2);
    CHECK(lgI_reduce(&W, LGI_RVAR, &x, v, 1, 1, &out, NULL) == LG_OK);
    NEAR(out, 5.0 / 3.0, 1e-15);
    CHECK(lgI_reduce(&W, LGI_RVAR, &x, v, 1, 0, &out, NULL) == LG_OK && out == 1.25);
    CHECK(lgI_reduce(&W, LGI_RVAR, &x, v, 1, 4, &out, NULL) == LG_OK && out == HUGE_VAL);
    CHECK(lgI_reduce(&W, LGI_RVAR, &x, v, 1, 5, &out, NULL) == LG_OK && out == HUGE_VAL);
    {  /* float32 sums in double: 1e8 + 1 - 1e8 + 1 is 2, not 0 or 1 */
      float o32;
      CHECK(lgI_reduce(&W, LGI_RSUM, &x32, v32, 1, 0, &o32, NULL) == LG_OK && o32 == 2.0f);
    }
  }
  {  /* empty reductions: sum 0, prod 1, mean NaN, lse -inf, max refused */
    int64_t e[] = {0, 3};
    lg_TDesc x = D(LGI_F64, 2, e);
    double out[3], dummy = 0;
    CHECK(lgI_reduce(&W, LGI_RSUM, &x, &dummy, 1, 0, out, NULL) == LG_OK && out[2] == 0);
    CHECK(lgI_reduce(&W, LGI_RPROD, &x, &dummy, 1, 0, out, NULL) == LG_OK && out[0] == 1);
    CHECK(lgI_reduce(&W, LGI_RMEAN, &x, &dummy, 1, 0, out, NULL) == LG_OK && isnan(out[1]));
    CHECK(lgI_reduce(&W, LGI_RLSE, &x, &dummy, 1, 0, out, NULL) == LG_OK && out[1] == -HUGE_VAL);
    CHECK(lgI_reduce(&W, LGI_RMAX, &x, &dummy, 1, 0, out, NULL) == LG_EARG);
    CHECK(lgI_reduce(&W, LGI_RMAX, &x, &dummy, 2, 0, out, NULL) == LG_OK);   /* 0 outputs */
  }
  {  /* out of memory: LG_EMEM and out unchanged */
    lg_TDesc x = D(LGI_F64, 3, s);
    double *xv = (double *)filled(&r, LGI_F64, 60, 0), out[20];
    out[0] = 42;
    b.left = 0;
    CHECK(lgI_reduce(&W, LGI_RSUM, &x, xv, 2, 0, out, NULL) == LG_EMEM && out[0] == 42);
    b.left = -1;
    free(xv);
  }
  CHECK(b.live == 0);
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* a (m x k) from a fresh storage: kind 0 row-major, 1 a transposed view of (k x m), 2 every
   other column of (m x 2k) (no BLAS layout: copied) */
static Strided matrixview (lg_Rng *r, int dt, int64_t rows, int64_t cols, int kind) {
  int64_t s[2];
  Strided x;
  s[0] = rows; s[1] = cols;
  if (kind == 1) {
    s[0] = cols; s[1] = rows;
    x.d = D(dt, 2, s);
    lgI_transpose(&x.d, 0, 1, &x.d);
    x.data = filled(r, dt, rows * cols, 0);
  }
  else if (kind == 2) {
    s[1] = 2 * cols;
    x.d = D(dt, 2, s);
    x.d.size[1] = cols;
    x.d.stride[1] = 2;
    x.data = filled(r, dt, rows * cols * 2, 0);
  }
  else {
    x.d = D(dt, 2, s);
    x.data = filled(r, dt, rows * cols, 0);
  }
  return x;
}

static void check_product (const Strided *c, const Strided *a, const Strided *b,
                           const double *c0, double tol) {
  int64_t i, j, p, m = c->d.size[0], n = c->d.size[1], k = a->d.size[1];
  int bad = 0;
  for (i = 0; i < m && !bad; i++)
    for (j = 0; j < n && !bad; j++) {
      double s = c0 ? c0[i * n + j] : 0;
      int64_t ij[2], ip[2], pj[2];
      ij[0] = i; ij[1] = j;
      for (p = 0; p < k; p++) {
        ip[0] = i; ip[1] = p; pj[0] = p; pj[1] = j;
        s += get(&a->d, a->data, ip) * get(&b->d, b->data, pj);
      }
      bad = !NEAR(get(&c->d, c->data, ij), s, tol);
    }
}

/* c (2, 3, 4, 6) = a (2, 3, 4, 5) times b (3, 5, 6) broadcast on the first dimension; a
   read from a (2, 3, 5, 4) storage when transposed */
static void check_batched (const double *av, const double *bv, const double *cv, int transposed) {
  int64_t q, i, j, p;
  int bad = 0;
  for (q = 0; q < 6 && !bad; q++)
    for (i = 0; i < 4; i++)
      for (j = 0; j < 6; j++) {
        double s = 0;
        for (p = 0; p < 5; p++)
          s += av[q * 20 + (transposed ? p * 4 + i : i * 5 + p)] * bv[(q % 3) * 30 + p * 6 + j];
        bad |= !NEAR(cv[q * 24 + i * 6 + j], s, 1e-13);
      }
}

static void test_matmul (void) {
  static const int64_t dims[][3] = {   /* m, n, k */
    {1, 1, 1}, {7, 33, 1}, {33, 7, 130}, {130, 33, 7}, {1, 130, 33}, {7, 7, 7}, {33, 130, 1},
    {130, 1, 130}, {5, 0, 3}, {4, 3, 0},
  };
  Budget bu = {-1, 0};
  lg_Work W;
  lg_Rng r;
  size_t t;
  int ka, kb, kc, dt;
  lgI_workinit(&W, budget_alloc, &bu);
  lgI_rngseed(&r, 14);
  CHECK(strcmp(lgI_blasname(), "cblas") == 0 || strcmp(lgI_blasname(), "C") == 0);
  for (t = 0; t < sizeof(dims) / sizeof(dims[0]); t++)
    for (dt = 0; dt < 2; dt++)
      for (ka = 0; ka < 3; ka++)
        for (kb = 0; kb < 3; kb++)
          for (kc = 0; kc < 3; kc++) {
            int64_t m = dims[t][0], n = dims[t][1], k = dims[t][2], i, j;
            Strided a = matrixview(&r, dt, m, k, ka), b = matrixview(&r, dt, k, n, kb);
            Strided c = matrixview(&r, dt, m, n, kc);
            double *c0 = (double *)malloc((size_t)(m * n + 1) * sizeof(double));
            int beta;
            double tol = (dt == LGI_F32) ? 2e-5 : 1e-12;
            for (beta = 0; beta < 2; beta++) {
              for (i = 0; i < m; i++)
                for (j = 0; j < n; j++) {
                  int64_t ij[2];
                  ij[0] = i; ij[1] = j;
                  c0[i * n + j] = get(&c.d, c.data, ij);
                }
              CHECK(lgI_matmul(&W, beta, &c.d, c.data, &a.d, a.data, &b.d, b.data) == LG_OK);
              check_product(&c, &a, &b, beta ? c0 : NULL, tol);
            }
            free(a.data); free(b.data); free(c.data); free(c0);
          }
  CHECK(bu.live == 0);
  {  /* the C loop directly, for every transpose pair (BLAS builds run it only here) */
    int ta, tb;
    lgI_rngseed(&r, 15);
    for (dt = 0; dt < 2; dt++)
      for (ta = 0; ta < 2; ta++)
        for (tb = 0; tb < 2; tb++) {
          int64_t m = 70, n = 130, k = 67;
          Strided a = matrixview(&r, dt, m, k, ta), b = matrixview(&r, dt, k, n, tb);
          Strided c = matrixview(&r, dt, m, n, 0);
          lgI_gemmc(dt, ta, tb, m, n, k, a.data, ta ? m : k, b.data, tb ? k : n, 0.0, c.data, n);
          check_product(&c, &a, &b, NULL, dt == LGI_F32 ? 2e-5 : 1e-12);
          free(a.data); free(b.data); free(c.data);
        }
  }
  {  /* batched, with a broadcast (stride 0) batch dim and a transposed operand */
    int64_t as[] = {2, 3, 4, 5}, bs[] = {3, 5, 6}, be[] = {2, 3, 5, 6}, cs[] = {2, 3, 4, 6};
    lg_TDesc A = D(LGI_F64, 4, as), B = D(LGI_F64, 3, bs), Be, C = D(LGI_F64, 4, cs), At;
    double *av = (double *)filled(&r, LGI_F64, 120, 0), *bv = (double *)filled(&r, LGI_F64, 90, 0);
    double cv[144];
    CHECK(lgI_expand(&B, 4, be, &Be) == LG_OK);
    CHECK(lgI_matmul(&W, 0, &C, cv, &A, av, &Be, bv) == LG_OK);
    check_batched(av, bv, cv, 0);
    /* A^T of a (2, 3, 5, 4) storage, multiplied as (2, 3, 4, 5) */
    {
      int64_t ts[] = {2, 3, 5, 4};
      lg_TDesc T = D(LGI_F64, 4, ts);
      CHECK(lgI_transpose(&T, 2, 3, &At) == LG_OK);
      CHECK(lgI_matmul(&W, 0, &C, cv, &At, av, &Be, bv) == LG_OK);
      check_batched(av, bv, cv, 1);
    }
    /* bad shapes and dtypes */
    CHECK(lgI_matmul(&W, 0, &C, cv, &A, av, &B, bv) == LG_EARG);
    CHECK(lgI_matmul(&W, 0, &C, cv, &Be, bv, &A, av) == LG_EARG);
    {
      lg_TDesc A32 = A;
      A32.dtype = LGI_F32;
      CHECK(lgI_matmul(&W, 0, &C, cv, &A32, av, &Be, bv) == LG_EARG);
    }
    /* out of memory while copying an operand that BLAS cannot read: c unchanged */
    {
      lg_TDesc Ae;
      int64_t col[] = {2, 3, 4, 1}, ae[] = {2, 3, 4, 5};
      lg_TDesc Acol = D(LGI_F64, 4, col);
      CHECK(lgI_expand(&Acol, 4, ae, &Ae) == LG_OK);   /* stride 0 inside a matrix */
      cv[0] = 42;
      bu.left = 0;
      CHECK(lgI_matmul(&W, 0, &C, cv, &Ae, av, &Be, bv) == LG_EMEM && cv[0] == 42);
      bu.left = -1;
      CHECK(lgI_matmul(&W, 0, &C, cv, &Ae, av, &Be, bv) == LG_OK);
      NEAR(cv[0], av[0] * (bv[0] + bv[6] + bv[12] + bv[18] + bv[24]), 1e-14);
    }
    free(av); free(bv);
  }
  CHECK(bu.live == 0);
}

/* ---- the generator ----------------------------------------------------------------------- */

static void test_random (void) {
  lg_Rng r;
  int i;
  r.s[0] = 1; r.s[1] = 2; r.s[2] = 3; r.s[3] = 4;   /* the reference implementation's vector */
  CHECK(lgI_rngnext(&r) == 11520u && lgI_rngnext(&r) == 0u);
  CHECK(lgI_rngnext(&r) == 1509978240u && lgI_rngnext(&r) == UINT64_C(1215971899390074240));
  lgI_rngseed(&r, 0);
  CHECK(r.s[0] == UINT64_C(0xe220a8397b1dcdaf));   /* SplitMix64's first output from 0 */
  for (i = 0; i < 3; i++) CHECK(lgI_rngnext(&r) == rng_next0[i]);
  lgI_rngseed(&r, 42);
  for (i = 0; i < 6; i++) CHECK(lgI_rngnext(&r) == rng_next42[i]);
  lgI_rngseed(&r, 42);
  for (i = 0; i < 6; i++) CHECK(lgI_rnguniform(&r) == rng_uniform42[i]);
  lgI_rngseed(&r, 42);
  for (i = 0; i < 6; i++) CHECK((double)lgI_rnguniformf(&r) == rng_uniformf42[i]);
  lgI_rngseed(&r, 7);
  for (i = 0; i < 9; i++) CHECK(lgI_rngnormal(&r) == rng_normal7[i]);
  lgI_rngseed(&r, 7);
  for (i = 0; i < 12; i++) CHECK(lgI_rngint(&r, -3, 5) == rng_int7[i]);
  lgI_rngseed(&r, 7);
  for (i = 0; i < 3; i++) CHECK(lgI_rngint(&r, INT64_MIN, INT64_MAX) == rng_intfull7[i]);
  {
    int64_t p[10];
    lgI_rngseed(&r, 2026);
    lgI_rngperm(&r, 10, p);
    for (i = 0; i < 10; i++) CHECK(p[i] == rng_perm2026[i]);
  }
  for (i = 0; i < (int)(sizeof(rnglog_x) / sizeof(rnglog_x[0])); i++) {
    CHECK(lgI_rnglog(rnglog_x[i]) == rnglog_y[i]);
    NEAR(lgI_rnglog(rnglog_x[i]), log(rnglog_x[i]), 4.5e-16);   /* within 2 ulp of libm's */
  }
  CHECK(lgI_rnglog(0) == -HUGE_VAL && isnan(lgI_rnglog(-1)) && lgI_rnglog(HUGE_VAL) == HUGE_VAL);
  {  /* seeding again restarts, spare included; fills match single draws */
    double d[5], e[5];
    float f[4];
    lgI_rngseed(&r, 7);
    (void)lgI_rngnormal(&r);
    lgI_rngseed(&r, 7);
    CHECK(lgI_rngnormal(&r) == rng_normal7[0]);
    lgI_rngseed(&r, 7);
    lgI_rngfill(&r, LGI_RNORMAL, LGI_F64, d, 5);
    for (i = 0; i < 5; i++) CHECK(d[i] == rng_normal7[i]);
    lgI_rngfill(&r, LGI_RUNIFORM, LGI_F64, e, 5);
    for (i = 0; i < 5; i++) CHECK(e[i] >= 0 && e[i] < 1);
    lgI_rngseed(&r, 7);
    lgI_rngfill(&r, LGI_RNORMAL, LGI_F32, f, 4);
    for (i = 0; i < 4; i++) CHECK(f[i] == (float)rng_normal7[i]);
    lgI_rngseed(&r, 42);
    lgI_rngfill(&r, LGI_RUNIFORM, LGI_F32, f, 4);
    for (i = 0; i < 4; i++) CHECK(f[i] == (float)rng_uniformf42[i]);
  }
  {  /* integers cover their range evenly; a permutation is one; moments of the normal */
    int64_t hist[9] = {0}, p[1000], seen[1000] = {0};
    double s = 0, s2 = 0;
    lgI_rngseed(&r, 99);
    for (i = 0; i < 90000; i++) {
      int64_t v = lgI_rngint(&r, -3, 5);
      CHECK(v >= -3 && v <= 5);
      if (v >= -3 && v <= 5) hist[v + 3]++;
    }
    for (i = 0; i < 9; i++) CHECK(hist[i] > 9500 && hist[i] < 10500);
    CHECK(lgI_rngint(&r, 4, 4) == 4 && lgI_rngbelow(&r, 1) == 0);
    lgI_rngperm(&r, 1000, p);
    for (i = 0; i < 1000; i++) if (p[i] >= 0 && p[i] < 1000) seen[p[i]]++;
    for (i = 0; i < 1000; i++) CHECK(seen[i] == 1);
    for (i = 0; i < 100000; i++) { double z = lgI_rngnormal(&r); s += z; s2 += z * z; }
    CHECK(fabs(s / 100000) < 0.02 && fabs(s2 / 100000 - 1) < 0.02);
  }
}

int main (void) {
  test_numel();
  test_contiguous();
  test_broadcast();
  test_expand();
  test_view();
  test_movement();
  test_sumto();
  test_coalesce();
  test_binary();
  test_map_copy();
  test_reduce();
  test_matmul();
  test_random();
  printf("%d checks, %d failures (matmul: %s)\n", checks, failures, lgI_blasname());
  return failures ? 1 : 0;
}
