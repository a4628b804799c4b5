/*
** cbench.c: baseline (b) of the benchmarks, the physical limit: each workload written by hand
** in C, values in flat arrays, adjoints derived by hand, no allocation per node.
**   cbench WORKLOAD SIZE      (w1 reps, w2 ops, w3bin/w3dot steps, w4 ops)
** Prints one RESULT line as bench/common.lua does, with the same LCG and the same numbers.
*/
#define _POSIX_C_SOURCE 200112L  /* clock_gettime */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

#define W2_LEAVES 100
#define ALPHA 1e-4
#define NPOINTS 100
#define PI 3.14159265358979323846   /* as Lua's math.pi */

static void *xmalloc (size_t n) {
  void *p = calloc(1, n);
  if (p == NULL) { fprintf(stderr, "cbench: out of memory\n"); exit(1); }
  return p;
}

static void result (const char *wl, long n, const char *fields, const double *check, int nc) {
  int i;
  printf("RESULT impl=C gc=- wl=%s n=%ld %s check=", wl, n, fields);
  for (i = 0; i < nc; i++) printf("%s%.17g", i ? "," : "", check[i]);
  printf("\n");
}

/* ---- W1: J = 3*(a + b*c) and its adjoints ----------------------------------------- */

static void w1 (long reps) {
  volatile double va = 5, vb = 3, vc = 2;   /* loaded every rep: nothing is hoisted */
  double J = 0, ga = 0, gb = 0, gc = 0, t0, tf, tt;
  char fields[128];
  double check[4];
  long r;
  t0 = now();
  for (r = 0; r < reps; r++) {
    double a = va, b = vb, c = vc;
    J += 3 * (a + b * c);
  }
  tf = now() - t0;
  t0 = now();
  for (r = 0; r < reps; r++) {
    double a = va, b = vb, c = vc;
    double u = b * c, v = a + u, gv, gu;
    J = 3 * v;
    gv = 3;                      /* dJ/dv */
    ga = gv; gu = gv;            /* v = a + u */
    gb = gu * c; gc = gu * b;    /* u = b * c */
  }
  tt = now() - t0;
  snprintf(fields, sizeof fields, "fwd_us=%.6g total_us=%.6g", tf / reps * 1e6,
           tt / reps * 1e6);
  check[0] = J; check[1] = ga; check[2] = gb; check[3] = gc;
  result("w1", reps, fields, check, 4);
}

/* ---- W2: the random DAG of cells (bench/common.lua) ------------------------------------ */

static void w2 (long nops) {
  long L = W2_LEAVES, ncells = (nops + 5) / 6, k, n = 6 * ncells, nleaves = 0;
  double *val = xmalloc((size_t)(L + ncells + 1) * sizeof(double));
  double *adj = xmalloc((size_t)(L + ncells + 1) * sizeof(double));
  double *wv = xmalloc((size_t)(ncells + 1) * sizeof(double));
  double *ev = xmalloc((size_t)(ncells + 1) * sizeof(double));
  int32_t *A = xmalloc((size_t)(ncells + 1) * sizeof(int32_t));
  int32_t *B = xmalloc((size_t)(ncells + 1) * sizeof(int32_t));
  int32_t *C = xmalloc((size_t)(ncells + 1) * sizeof(int32_t));
  char *used = xmalloc((size_t)L + 1);
  double *check = xmalloc((W2_LEAVES + 1) * sizeof(double));
  double t0, tf, tb, bytes;
  char fields[256];
  lcg_state = 42;
  for (k = 1; k <= L; k++) val[k] = uniform() * 2 - 1;
  for (k = 1; k <= ncells; k++) {
    int64_t avail = L + k - 1;
    A[k] = (int32_t)avail;
    B[k] = (int32_t)(1 + lcgint(avail));
    C[k] = (int32_t)(1 + lcgint(avail));
    if (B[k] <= L) used[B[k]] = 1;
    if (C[k] <= L) used[C[k]] = 1;
  }
  used[L] = 1;
  for (k = 1; k <= L; k++) nleaves += used[k];
  t0 = now();
  for (k = 1; k <= ncells; k++) {
    double a = val[A[k]], b = val[B[k]], c = val[C[k]];
    double u = a * b, w = u - c, e = exp(w), q = w / e, s = q + a;
    wv[k] = w; ev[k] = e;
    val[L + k] = tanh(s);
  }
  tf = now() - t0;
  t0 = now();
  adj[L + ncells] = 1.0;
  for (k = ncells; k >= 1; k--) {
    double o = val[L + k], w = wv[k], e = ev[k], a = val[A[k]], b = val[B[k]];
    double gs = adj[L + k] * (1.0 - o * o);                  /* o = tanh(s) */
    double gq = gs, ga = gs;                                 /* s = q + a */
    double gw = gq / e, ge = -gq * w / (e * e);              /* q = w / e */
    double gu, gc;
    gw += ge * e;                                            /* e = exp(w) */
    gu = gw; gc = -gw;                                       /* w = u - c */
    ga += gu * b;                                            /* u = a * b */
    adj[A[k]] += ga;
    adj[B[k]] += gu * a;
    adj[C[k]] += gc;
  }
  tb = now() - t0;
  bytes = (double)(L + ncells) * 2 * sizeof(double) + (double)ncells * (2 * sizeof(double)
          + 3 * sizeof(int32_t));
  snprintf(fields, sizeof fields, "ops=%ld fwd_ns=%.6g bwd_ns=%.6g leaf_bytes=16 node_bytes=%.4g",
           n, tf / n * 1e9, tb / (n + nleaves) * 1e9, bytes / (n + L));
  check[0] = val[L + ncells];
  for (k = 1; k <= L; k++) check[k] = adj[k];
  result("w2", nops, fields, check, W2_LEAVES + 1);
  free(val); free(adj); free(wv); free(ev); free(A); free(B); free(C); free(used); free(check);
}

/* ---- W3: MLP 2-16-16-1, max-margin loss + L2, SGD ------------------------------------------ */

static const int sizes[4] = {2, 16, 16, 1};
#define NLAYERS 3
#define NPARAMS (16 * 3 + 16 * 17 + 1 * 17)

/* Parameters are flat, layer by layer, neuron by neuron, weights then bias (as in Lua). */
static double loss_and_grad (const double X[][2], const double *Y, const double *p,
                             double *g) {
  double h[NLAYERS + 1][16], pre[NLAYERS + 1][16], dh[16], dpre[16], data = 0, reg = 0;
  int i, l, j, k;
  memset(g, 0, NPARAMS * sizeof(double));
  for (i = 0; i < NPOINTS; i++) {
    int off = 0;
    double m;
    h[0][0] = X[i][0]; h[0][1] = X[i][1];
    for (l = 0; l < NLAYERS; l++) {
      int nin = sizes[l], nout = sizes[l + 1];
      for (j = 0; j < nout; j++) {
        const double *w = p + off + j * (nin + 1);
        double act = w[nin];                                   /* b first, as in Lua */
        for (k = 0; k < nin; k++) act += w[k] * h[l][k];
        pre[l + 1][j] = act;
        h[l + 1][j] = (l + 1 < NLAYERS) ? (act > 0 ? act : 0.0) : act;
      }
      off += nout * (nin + 1);
    }
    m = 1 - Y[i] * h[NLAYERS][0];
    data += (m > 0) ? m : 0.0;
    /* backward through this point: d(loss)/d(margin) = 1/N where the margin is active */
    dh[0] = (m > 0) ? -Y[i] * (1.0 / NPOINTS) : 0.0;
    for (l = NLAYERS - 1; l >= 0; l--) {
      int nin = sizes[l], nout = sizes[l + 1];
      off -= nout * (nin + 1);
      for (j = 0; j < nout; j++)
        dpre[j] = (l + 1 < NLAYERS) ? (pre[l + 1][j] > 0 ? dh[j] : 0.0) : dh[j];
      for (k = 0; k < nin; k++) dh[k] = 0;
      for (j = 0; j < nout; j++) {
        const double *w = p + off + j * (nin + 1);
        double *gw = g + off + j * (nin + 1);
        for (k = 0; k < nin; k++) {
          gw[k] += dpre[j] * h[l][k];
          dh[k] += dpre[j] * w[k];
        }
        gw[nin] += dpre[j];
      }
    }
  }
  for (k = 0; k < NPARAMS; k++) {
    reg += p[k] * p[k];
    g[k] += 2 * ALPHA * p[k];
  }
  return data / NPOINTS + reg * ALPHA;
}

static void w3 (const char *wl, long steps) {
  double X[NPOINTS][2], Y[NPOINTS], p[NPARAMS], g[NPARAMS], check[NPARAMS + 2], loss = 0;
  double t0, t;
  char fields[128];
  int i, l, j, k, np = 0;
  long s;
  lcg_state = 42;
  for (i = 0; i < 50; i++) {
    double tt = PI * i / 49;
    X[i][0] = cos(tt) + 0.1 * (uniform() * 2 - 1);
    X[i][1] = sin(tt) + 0.1 * (uniform() * 2 - 1);
    Y[i] = -1.0;
  }
  for (i = 0; i < 50; i++) {
    double tt = PI * i / 49;
    X[50 + i][0] = 1 - cos(tt) + 0.1 * (uniform() * 2 - 1);
    X[50 + i][1] = 0.5 - sin(tt) + 0.1 * (uniform() * 2 - 1);
    Y[50 + i] = 1.0;
  }
  for (l = 0; l < NLAYERS; l++) {
    for (j = 0; j < sizes[l + 1]; j++) {
      for (k = 0; k < sizes[l]; k++) p[np++] = uniform() * 2 - 1;
      p[np++] = 0.0;
    }
  }
  t0 = now();
  for (s = 0; s < steps; s++) {
    double lr = 1.0 - 0.9 * (double)s / 100;
    loss = loss_and_grad((const double (*)[2])X, Y, p, g);
    if (s == 0) {
      check[0] = loss;
      memcpy(check + 1, g, sizeof g);
    }
    for (k = 0; k < NPARAMS; k++) p[k] -= lr * g[k];
  }
  t = now() - t0;
  check[NPARAMS + 1] = loss;
  snprintf(fields, sizeof fields, "steps=%ld ms=%.6g", steps, t / steps * 1e3);
  result(wl, steps, fields, check, NPARAMS + 2);
}

/* ---- W4: a chain, v = tanh(v + x) n/2 times ------------------------------------------------ */

static void w4 (long nops) {
  long m = nops / 2, i;
  double rss0 = rss("VmRSS"), t0, t1, t2, t3, x = 0.5, gx = 0, gv = 1, check[2], *v;
  char fields[256];
  t0 = now();
  v = xmalloc((size_t)(m + 1) * sizeof(double));
  v[0] = x;
  for (i = 1; i <= m; i++) v[i] = tanh(v[i - 1] + x);
  t1 = now();
  for (i = m; i >= 1; i--) {
    double gs = gv * (1.0 - v[i] * v[i]);
    gx += gs;     /* s = v + x */
    gv = gs;
  }
  gx += gv;       /* v[0] is x */
  t2 = now();
  check[0] = v[m]; check[1] = gx;
  free(v);
  t3 = now();
  snprintf(fields, sizeof fields, "build_s=%.6g bwd_s=%.6g collect_s=%.6g total_s=%.6g "
           "heap_mb=%.6g peak_mb=%.6g", t1 - t0, t2 - t1, t3 - t2, t3 - t0,
           (double)(m + 1) * sizeof(double) / 1048576.0, (rss("VmHWM") - rss0) / 1048576.0);
  result("w4", nops, fields, check, 2);
}

int main (int argc, char **argv) {
  long n;
  if (argc != 3) {
    fprintf(stderr, "usage: cbench w1|w2|w3bin|w3dot|w4 SIZE\n");
    return 2;
  }
  n = atol(argv[2]);
  if (strcmp(argv[1], "w1") == 0) w1(n);
  else if (strcmp(argv[1], "w2") == 0) w2(n);
  else if (strcmp(argv[1], "w3bin") == 0 || strcmp(argv[1], "w3dot") == 0) w3(argv[1], n);
  else if (strcmp(argv[1], "w4") == 0) w4(n);
  else {
    fprintf(stderr, "cbench: unknown workload %s\n", argv[1]);
    return 2;
  }
  return 0;
}
