/*
** tensor_kernels.c: the core's tensor kernels beside what they stand for: lgI_matmul against
** cblas_dgemm / cblas_sgemm called directly (GFLOP/s at N x N), the elementwise add and a
** tanh loop through the iterator against plain C loops (ns per element), and a full sum.
** Medians of several runs, in process CPU time. One BLAS thread, as every benchmark here:
**   OPENBLAS_NUM_THREADS=1 build/bench/tensor_kernels [N=1024] [elements=1000000]
** (make bench builds it at -O3 in build-bench/; the plain loops get the same flags.)
*/
#define _POSIX_C_SOURCE 200112L  /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "benchutil.h"
#include "core/lg_tensor.h"

#ifdef LUAGRAD_HAVE_CBLAS
#include <cblas.h>
#endif

#define REPS 7

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

static void *sysalloc (void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud; (void)osize;
  if (nsize == 0) { free(p); return NULL; }
  return realloc(p, nsize);
}

static int cmp (const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Every figure is of a right answer: a kernel's result that differs from its reference
   by more than tol (relative to the largest reference value) ends the run with status 1,
   so the smoke test (bench-tensor-smoke) checks the kernels at small sizes. */
static void agree (const char *what, const void *x, const void *ref, int64_t n, int f32,
                   double tol) {
  double worst = 0, scale = 1;
  int64_t i;
  for (i = 0; i < n; i++) {
    double r = f32 ? ((const float *)ref)[i] : ((const double *)ref)[i];
    if (fabs(r) > scale) scale = fabs(r);
  }
  for (i = 0; i < n; i++) {
    double a = f32 ? ((const float *)x)[i] : ((const double *)x)[i];
    double r = f32 ? ((const float *)ref)[i] : ((const double *)ref)[i];
    if (isnan(a - r)) { worst = NAN; break; }   /* a NaN where the reference has none */
    if (fabs(a - r) > worst) worst = fabs(a - r);
  }
  if (!(worst <= tol * scale)) {
    fprintf(stderr, "tensor_kernels: %s differs from its reference by %g\n", what, worst);
    exit(1);
  }
}

typedef void (*Body) (void *ctx);

/* the median time of reps runs of body (after one warm-up run) */
static double timeit (Body body, void *ctx, int reps) {
  double t[REPS * 3];
  int i;
  body(ctx);
  for (i = 0; i < reps; i++) {
    double t0 = now();
    body(ctx);
    t[i] = now() - t0;
  }
  qsort(t, (size_t)reps, sizeof(double), cmp);
  return t[reps / 2];
}

static void *filled (size_t n, int f32) {
  size_t i;
  void *p = malloc(n * (f32 ? sizeof(float) : sizeof(double)));
  if (p == NULL) { fprintf(stderr, "tensor_kernels: out of memory\n"); exit(1); }
  for (i = 0; i < n; i++) {
    double x = 2 * uniform() - 1;
    if (f32) ((float *)p)[i] = (float)x;
    else ((double *)p)[i] = x;
  }
  return p;
}

/* ---- matmul ------------------------------------------------------------------------------ */

typedef struct MM {
  lg_Work W;
  int64_t n;
  int f32, ta;   /* ta: a is a transposed view */
  lg_TDesc a, b, c;
  void *av, *bv, *cv;
} MM;

static void mm_kernel (void *ctx) {
  MM *m = (MM *)ctx;
  if (lgI_matmul(&m->W, 0, &m->c, m->cv, &m->a, m->av, &m->b, m->bv) != LG_OK) {
    fprintf(stderr, "tensor_kernels: matmul failed\n");
    exit(1);
  }
}

static void mm_gemmc (void *ctx) {
  MM *m = (MM *)ctx;
  lgI_gemmc(m->f32, m->ta, 0, m->n, m->n, m->n, m->av, m->n, m->bv, m->n, 0.0, m->cv, m->n);
}

#ifdef LUAGRAD_HAVE_CBLAS
static void mm_blas (void *ctx) {
  MM *m = (MM *)ctx;
  int n = (int)m->n;
  enum CBLAS_TRANSPOSE TA = m->ta ? CblasTrans : CblasNoTrans;
  if (m->f32)
    cblas_sgemm(CblasRowMajor, TA, CblasNoTrans, n, n, n, 1.0f, (const float *)m->av, n,
                (const float *)m->bv, n, 0.0f, (float *)m->cv, n);
  else
    cblas_dgemm(CblasRowMajor, TA, CblasNoTrans, n, n, n, 1.0, (const double *)m->av, n,
                (const double *)m->bv, n, 0.0, (double *)m->cv, n);
}
#endif

static void bench_matmul (int64_t n, int f32, int ta) {
  MM m;
  int64_t s[2];
  double flop = 2.0 * (double)n * (double)n * (double)n, tk;
  const char *dt = f32 ? "float32" : "float64";
  size_t es = f32 ? sizeof(float) : sizeof(double);
  void *ref;
  s[0] = s[1] = n;
  m.n = n; m.f32 = f32; m.ta = ta;
  lgI_workinit(&m.W, sysalloc, NULL);
  lgI_tinit(&m.a, f32 ? LGI_F32 : LGI_F64, 2, s);
  if (ta) lgI_transpose(&m.a, 0, 1, &m.a);
  lgI_tinit(&m.b, m.a.dtype, 2, s);
  lgI_tinit(&m.c, m.a.dtype, 2, s);
  m.av = filled((size_t)(n * n), f32);
  m.bv = filled((size_t)(n * n), f32);
  m.cv = filled((size_t)(n * n), f32);
  ref = malloc((size_t)(n * n) * es);
  if (ref == NULL) { fprintf(stderr, "tensor_kernels: out of memory\n"); exit(1); }
  tk = timeit(mm_kernel, &m, 5);
  memcpy(ref, m.cv, (size_t)(n * n) * es);
  printf("matmul %s %lldx%lld%s: lgI_matmul (%s) %.1f GFLOP/s", dt, (long long)n, (long long)n,
         ta ? " (a transposed view)" : "", lgI_blasname(), flop / tk * 1e-9);
#ifdef LUAGRAD_HAVE_CBLAS
  {
    double tb = timeit(mm_blas, &m, 5);
    printf(", cblas_%cgemm directly %.1f GFLOP/s, ratio %.3f", f32 ? 's' : 'd',
           flop / tb * 1e-9, tb / tk);
    agree("lgI_matmul", ref, m.cv, n * n, f32, f32 ? 1e-5 : 1e-12);
  }
#endif
  printf(", the C loop %.1f GFLOP/s\n", flop / timeit(mm_gemmc, &m, 3) * 1e-9);
  agree("lgI_matmul against the C loop", ref, m.cv, n * n, f32, f32 ? 1e-5 : 1e-12);
  free(m.av); free(m.bv); free(m.cv); free(ref);
}

/* ---- elementwise ------------------------------------------------------------------------ */

typedef struct EW {
  int64_t n;
  lg_TDesc d, dt;   /* contiguous; and a transposed view of the same numbers (rows x rows) */
  double *a, *b, *y;
  lg_Work W;
} EW;

/* the loops by hand, kept out of line so that they run as written */
NOINLINE static void plain_add (double *y, const double *a, const double *b, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) y[i] = a[i] + b[i];
}

NOINLINE static void plain_tanh (double *y, const double *a, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) y[i] = tanh(a[i]);
}

NOINLINE static double plain_sum (const double *a, int64_t n) {
  double s = 0;
  int64_t i;
  for (i = 0; i < n; i++) s += a[i];
  return s;
}

static volatile double sink;

static void ew_plain_add (void *ctx) { EW *e = (EW *)ctx; plain_add(e->y, e->a, e->b, e->n); }
static void ew_plain_tanh (void *ctx) { EW *e = (EW *)ctx; plain_tanh(e->y, e->a, e->n); }
static void ew_plain_sum (void *ctx) { EW *e = (EW *)ctx; sink = plain_sum(e->a, e->n); }
static void ew_add (void *ctx) {
  EW *e = (EW *)ctx;
  lgI_binary(LGI_TADD, &e->d, e->y, &e->d, e->a, &e->d, e->b);
}
static void ew_add_t (void *ctx) {   /* out contiguous, both operands transposed views */
  EW *e = (EW *)ctx;
  lgI_binary(LGI_TADD, &e->d, e->y, &e->dt, e->a, &e->dt, e->b);
}
static void ew_tanh (void *ctx) {
  EW *e = (EW *)ctx;
  lgI_map(tanh, &e->d, e->y, &e->d, e->a);
}
static void ew_sum (void *ctx) {
  EW *e = (EW *)ctx;
  double out;
  lgI_reduce(&e->W, LGI_RSUM, &e->d, e->a, 3, 0, &out, NULL);
  sink = out;
}

static void bench_elementwise (int64_t n) {
  EW e;
  int64_t s[2], rows = (int64_t)sqrt((double)n), i, j;
  double ns, t0, t1, t2, *ref;
  e.n = rows * rows;   /* a square, so that the transposed view covers the same numbers */
  ns = 1e9 / (double)e.n;
  s[0] = s[1] = rows;
  lgI_tinit(&e.d, LGI_F64, 2, s);
  lgI_transpose(&e.d, 0, 1, &e.dt);
  lgI_workinit(&e.W, sysalloc, NULL);
  e.a = (double *)filled((size_t)e.n, 0);
  e.b = (double *)filled((size_t)e.n, 0);
  e.y = (double *)filled((size_t)e.n, 0);
  ref = (double *)filled((size_t)e.n, 0);
  t0 = timeit(ew_plain_add, &e, 21);
  memcpy(ref, e.y, (size_t)e.n * sizeof(double));
  t1 = timeit(ew_add, &e, 21);
  agree("lgI_binary", e.y, ref, e.n, 0, 0);
  t2 = timeit(ew_add_t, &e, 21);
  for (i = 0; i < rows; i++)   /* y = a^T + b^T */
    for (j = 0; j < rows; j++) ref[i * rows + j] = e.a[j * rows + i] + e.b[j * rows + i];
  agree("lgI_binary on transposed views", e.y, ref, e.n, 0, 0);
  printf("add float64, %lld elements: plain loop %.3f ns/element, lgI_binary %.3f, "
         "lgI_binary on transposed views %.3f\n", (long long)e.n, t0 * ns, t1 * ns, t2 * ns);
  t0 = timeit(ew_plain_tanh, &e, 11);
  memcpy(ref, e.y, (size_t)e.n * sizeof(double));
  t1 = timeit(ew_tanh, &e, 11);
  agree("lgI_map(tanh)", e.y, ref, e.n, 0, 0);
  printf("tanh float64, %lld elements: plain loop %.3f ns/element, lgI_map %.3f\n",
         (long long)e.n, t0 * ns, t1 * ns);
  t0 = timeit(ew_plain_sum, &e, 21);
  ref[0] = sink;
  t1 = timeit(ew_sum, &e, 21);
  ref[1] = sink;
  agree("lgI_reduce(sum)", ref + 1, ref, 1, 0, 1e-12);
  printf("sum float64, %lld elements: plain loop %.3f ns/element, lgI_reduce %.3f\n",
         (long long)e.n, t0 * ns, t1 * ns);
  free(e.a); free(e.b); free(e.y); free(ref);
}

int main (int argc, char **argv) {
  int64_t n = (argc > 1) ? atoll(argv[1]) : 1024, elems = (argc > 2) ? atoll(argv[2]) : 1000000;
  const char *threads = getenv("OPENBLAS_NUM_THREADS");
  if (n < 1 || elems < 1) {
    fprintf(stderr, "usage: OPENBLAS_NUM_THREADS=1 %s [N=1024] [elements=1000000]\n", argv[0]);
    return 2;
  }
  lcg_state = 42;
  printf("OPENBLAS_NUM_THREADS=%s\n", threads ? threads : "(unset: set it to 1)");
  bench_matmul(n, 0, 0);
  bench_matmul(n, 0, 1);
  bench_matmul(n, 1, 0);
  bench_elementwise(elems);
  return 0;
}
