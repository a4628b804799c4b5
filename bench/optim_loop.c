/*
** optim_loop.c: Adam's update written by hand in C, the floor bench/optim.lua measures
** luagrad.optim.Adam against: one loop over n float64 parameters, the same formulas in the
** same order (PyTorch's), no library. Prints ns per parameter per step.
**   build/bench/optim_loop [n [steps]]
*/
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now (void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void adam (long n, double *restrict p, const double *restrict g, double *restrict m,
                  double *restrict v, double lr, double b1, double b2, double eps, int step) {
  double bc1 = 1 - pow(b1, step), bc2s = sqrt(1 - pow(b2, step));
  double nstep = -(lr / bc1), c1 = 1 - b1, c2 = 1 - b2;
  long i;
  for (i = 0; i < n; i++) {
    double mi = m[i] * b1 + c1 * g[i];
    double vi = v[i] * b2 + (c2 * g[i]) * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] + (nstep * mi) / (sqrt(vi) / bc2s + eps);
  }
}

int main (int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000, i;
  int steps = argc > 2 ? atoi(argv[2]) : 100, s;
  double *p = malloc(sizeof(double) * (size_t)n), *g = malloc(sizeof(double) * (size_t)n);
  double *m = calloc((size_t)n, sizeof(double)), *v = calloc((size_t)n, sizeof(double));
  double t0, check = 0;
  if (!p || !g || !m || !v) return 1;
  for (i = 0; i < n; i++) {
    p[i] = (double)(i % 1000) / 1000.0 - 0.5;
    g[i] = (double)((i * 7) % 1000) / 500.0 - 1.0;
  }
  adam(n, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 1);   /* warm up */
  t0 = now();
  for (s = 2; s < steps + 2; s++) adam(n, p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, s);
  t0 = now() - t0;
  for (i = 0; i < n; i++) check += p[i];
  printf("C loop   %8.3f ns/param  (n %ld, %d steps, check %.6f)\n", t0 * 1e9 / steps / n, n,
         steps, check);
  free(p); free(g); free(m); free(v);
  return 0;
}
