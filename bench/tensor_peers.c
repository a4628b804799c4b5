/*
** tensor_peers.c: the C side of the tensor benchmark (bench/tensor_bench.lua): T1-T4 written
** by hand over flat arrays with OpenBLAS (cblas_*gemm, *gemv) and plain loops, derivatives by
** hand: the limit luagrad is measured against. Same data, sizes and rates as
** bench/tensor_common.lua. Prints what bench/tensor_lg.lua prints (T5 has no C peer):
**   OPENBLAS_NUM_THREADS=1 build/bench/tensor_peers full|smoke
** Built by bench/CMakeLists.txt only where CBLAS is found, at -O3 as luagrad's kernels.
*/
#define _POSIX_C_SOURCE 200112L  /* clock_gettime */
#include <math.h>
#include <cblas.h>

#include "benchutil.h"

typedef struct Sizes {
  const char *mode;
  int t1n, t1d, t1reps, t2b, t2in, t2h, t2out, t2reps, t3n, t3reps, t4n, t4reps;
} Sizes;

static const Sizes sizes[] = {
  {"full", 569, 30, 2000, 128, 784, 256, 10, 100, 1000000, 10, 1024, 5},
  {"smoke", 23, 5, 3, 4, 12, 8, 3, 3, 1000, 3, 33, 2},
};

static const Sizes *S;

static double val (long i, long seed) { return (double)((i * 7919 + seed * 104729) % 1009) / 1009 - 0.5; }

static void *mem (size_t n) {
  void *p = calloc(n > 0 ? n : 1, 1);
  if (p == NULL) { fprintf(stderr, "tensor_peers: out of memory\n"); exit(1); }
  return p;
}

static double *fill (long n, long seed, double scale) {
  double *p = (double *)mem((size_t)n * sizeof(double));
  long i;
  for (i = 0; i < n; i++) p[i] = val(i, seed) * scale;
  return p;
}

typedef void (*Step) (void *ctx);

static double clock_ (Step f, void *ctx, int reps) {
  double t0;
  int i;
  f(ctx);
  t0 = now();
  for (i = 0; i < reps; i++) f(ctx);
  return (now() - t0) / reps;
}

/* ---- T1: logistic regression, z = X w + b, loss = mean(softplus(z) - y z) ---------------- */

typedef struct T1 { int n, d; double *X, *y, *w, b, *z, loss; } T1;

static void t1step (void *ctx) {
  T1 *t = (T1 *)ctx;
  double s = 0, db = 0;
  int i;
  cblas_dgemv(CblasRowMajor, CblasNoTrans, t->n, t->d, 1.0, t->X, t->d, t->w, 1, 0.0, t->z, 1);
  for (i = 0; i < t->n; i++) {
    double z = t->z[i] + t->b, sp = (z > 0) ? z + log1p(exp(-z)) : log1p(exp(z));
    s += sp - t->y[i] * z;
    t->z[i] = (1 / (1 + exp(-z)) - t->y[i]) / t->n;   /* d loss / dz */
    db += t->z[i];
  }
  t->loss = s / t->n;
  cblas_dgemv(CblasRowMajor, CblasTrans, t->n, t->d, -0.1, t->X, t->d, t->z, 1, 1.0, t->w, 1);
  t->b -= 0.1 * db;
}

static double t1 (void) {
  T1 t;
  int i;
  t.n = S->t1n; t.d = S->t1d;
  t.X = fill((long)t.n * t.d, 1, 1);
  t.w = fill(t.d, 2, 0.1);
  t.b = 0;
  t.y = (double *)mem((size_t)t.n * sizeof(double));
  t.z = (double *)mem((size_t)t.n * sizeof(double));
  for (i = 0; i < t.n; i++) t.y[i] = ((i * 31) % 7 < 3) ? 1 : 0;
  for (i = 0; i < 3; i++) t1step(&t);
  printf("check T1 %.17g\n", t.loss);
  return clock_(t1step, &t, S->t1reps);
}

/* ---- T2: MLP, h = relu(X W1 + b1), loss = mean((h W2 + b2 - Y)^2), SGD ----------------- */

#define T2IMPL(T, suffix, gemm) \
typedef struct T2##suffix { int B, NI, NH, NO; T *X, *Y, *W1, *b1, *W2, *b2, *h, *e, *dh, *g1, *g2; \
                            double loss; } T2##suffix; \
static void t2step##suffix (void *ctx) { \
  T2##suffix *t = (T2##suffix *)ctx; \
  const T lr = (T)0.01, k = (T)(2.0 / (t->B * t->NO)); \
  double s = 0; \
  int i, j; \
  for (i = 0; i < t->B; i++) memcpy(t->h + i * t->NH, t->b1, t->NH * sizeof(T)); \
  gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t->B, t->NH, t->NI, 1, t->X, t->NI, t->W1, \
       t->NH, 1, t->h, t->NH); \
  for (i = 0; i < t->B * t->NH; i++) t->h[i] = t->h[i] > 0 ? t->h[i] : 0; \
  for (i = 0; i < t->B; i++) memcpy(t->e + i * t->NO, t->b2, t->NO * sizeof(T)); \
  gemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t->B, t->NO, t->NH, 1, t->h, t->NH, t->W2, \
       t->NO, 1, t->e, t->NO); \
  for (i = 0; i < t->B * t->NO; i++) { \
    T e = t->e[i] - t->Y[i]; \
    s += (double)(e * e); \
    t->e[i] = e * k;   /* d loss / d out */ \
  } \
  t->loss = s / (t->B * t->NO); \
  gemm(CblasRowMajor, CblasNoTrans, CblasTrans, t->B, t->NH, t->NO, 1, t->e, t->NO, t->W2, t->NO, \
       0, t->dh, t->NH); \
  for (i = 0; i < t->B * t->NH; i++) if (!(t->h[i] > 0)) t->dh[i] = 0; \
  gemm(CblasRowMajor, CblasTrans, CblasNoTrans, t->NH, t->NO, t->B, -lr, t->h, t->NH, t->e, \
       t->NO, 1, t->W2, t->NO); \
  gemm(CblasRowMajor, CblasTrans, CblasNoTrans, t->NI, t->NH, t->B, -lr, t->X, t->NI, t->dh, \
       t->NH, 1, t->W1, t->NH); \
  for (j = 0; j < t->NO; j++) t->g2[j] = 0; \
  for (j = 0; j < t->NH; j++) t->g1[j] = 0; \
  for (i = 0; i < t->B; i++) { \
    for (j = 0; j < t->NO; j++) t->g2[j] += t->e[i * t->NO + j]; \
    for (j = 0; j < t->NH; j++) t->g1[j] += t->dh[i * t->NH + j]; \
  } \
  for (j = 0; j < t->NO; j++) t->b2[j] -= lr * t->g2[j]; \
  for (j = 0; j < t->NH; j++) t->b1[j] -= lr * t->g1[j]; \
} \
static T *fill##suffix (long n, long seed, double scale) { \
  T *p = (T *)mem((size_t)n * sizeof(T)); \
  long i; \
  for (i = 0; i < n; i++) p[i] = (T)(val(i, seed) * scale); \
  return p; \
} \
static double t2##suffix (const char *name) { \
  T2##suffix t; \
  int i; \
  t.B = S->t2b; t.NI = S->t2in; t.NH = S->t2h; t.NO = S->t2out; \
  t.X = fill##suffix((long)t.B * t.NI, 3, 1); t.Y = fill##suffix((long)t.B * t.NO, 4, 1); \
  t.W1 = fill##suffix((long)t.NI * t.NH, 5, 0.1); t.W2 = fill##suffix((long)t.NH * t.NO, 6, 0.1); \
  t.b1 = (T *)mem(t.NH * sizeof(T)); t.b2 = (T *)mem(t.NO * sizeof(T)); \
  t.g1 = (T *)mem(t.NH * sizeof(T)); t.g2 = (T *)mem(t.NO * sizeof(T)); \
  t.h = (T *)mem((size_t)t.B * t.NH * sizeof(T)); t.dh = (T *)mem((size_t)t.B * t.NH * sizeof(T)); \
  t.e = (T *)mem((size_t)t.B * t.NO * sizeof(T)); \
  for (i = 0; i < 3; i++) t2step##suffix(&t); \
  printf("check %s %.17g\n", name, t.loss); \
  return clock_(t2step##suffix, &t, S->t2reps); \
}

T2IMPL(double, d, cblas_dgemm)
T2IMPL(float, s, cblas_sgemm)

/* ---- T3: s = sum(tanh(a b + c)), its gradients ------------------------------------------ */

typedef struct T3 { long n; double *a, *b, *c, *ga, *gb, *gc, s; } T3;

static void t3step (void *ctx) {
  T3 *t = (T3 *)ctx;
  double s = 0;
  long i;
  for (i = 0; i < t->n; i++) {
    double y = tanh(t->a[i] * t->b[i] + t->c[i]), dz = 1 - y * y;
    s += y;
    t->ga[i] = dz * t->b[i];
    t->gb[i] = dz * t->a[i];
    t->gc[i] = dz;
  }
  t->s = s;
}

static double t3 (void) {
  T3 t;
  double g = 0, time;
  long i;
  t.n = S->t3n;
  t.a = fill(t.n, 11, 2); t.b = fill(t.n, 12, 2); t.c = fill(t.n, 13, 2);
  t.ga = fill(t.n, 0, 0); t.gb = fill(t.n, 0, 0); t.gc = fill(t.n, 0, 0);
  time = clock_(t3step, &t, S->t3reps);
  for (i = 0; i < t.n; i++) g += t.ga[i] + 2 * t.gb[i] + 3 * t.gc[i];
  printf("check T3 %.17g\ncheck T3grad %.17g\n", t.s, g);
  return time;
}

/* ---- T4: cblas_dgemm n x n -------------------------------------------------------------- */

typedef struct T4 { int n; double *A, *B, *C; } T4;

static void t4step (void *ctx) {
  T4 *t = (T4 *)ctx;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t->n, t->n, t->n, 1.0, t->A, t->n,
              t->B, t->n, 0.0, t->C, t->n);
}

static double t4 (void) {
  T4 t;
  double s = 0, time;
  long i;
  t.n = S->t4n;
  t.A = fill((long)t.n * t.n, 21, 1); t.B = fill((long)t.n * t.n, 22, 1);
  t.C = fill((long)t.n * t.n, 0, 0);
  time = clock_(t4step, &t, S->t4reps);
  for (i = 0; i < (long)t.n * t.n; i++) s += t.C[i];
  printf("check T4 %.17g\n", s);
  return time;
}

int main (int argc, char **argv) {
  double t[5];
  size_t k;
  for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
    if (argc > 1 && strcmp(argv[1], sizes[k].mode) == 0) S = &sizes[k];
  if (S == NULL) {
    fprintf(stderr, "usage: OPENBLAS_NUM_THREADS=1 %s full|smoke\n", argv[0]);
    return 2;
  }
  t[0] = t1();
  t[1] = t2d("T2f64");
  t[2] = t2s("T2f32");
  t[3] = t3();
  t[4] = t4();
  printf("time T1 %.9g\ntime T2f64 %.9g\ntime T2f32 %.9g\ntime T3 %.9g\ntime T4 %.9g\n",
         t[0], t[1], t[2], t[3], t[4]);
  return 0;
}
