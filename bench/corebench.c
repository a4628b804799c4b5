/*
** corebench.c: luagrad's own core, driven from C through include/luagrad.h with nodes in an
** arena: the same op table, node layout and backward as from Lua, without the interpreter,
** the binding or the collector. Set beside luagrad from Lua, it tells which part of a cost
** is the core's; set beside the C by hand (cbench.c), what the core's generality costs.
**   corebench WORKLOAD SIZE      (w1 reps, w2 ops, w4 ops)
*/
#define _POSIX_C_SOURCE 200112L  /* clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

#include "luagrad.h"

#define W2_LEAVES 100

static int ADD, SUB, MUL, DIV, EXP, TANH;

static lg_Value *check (lg_Value *v) {
  if (v == NULL) { fprintf(stderr, "corebench: out of memory\n"); exit(1); }
  return v;
}

static lg_Value *op2 (lg_Arena *A, int op, lg_Value *a, lg_Value *b, double kb) {
  lg_Arg args[2];
  args[0].value = a; args[0].number = 0;
  args[1].value = b; args[1].number = kb;   /* b == NULL: the constant kb */
  return check(lg_apply(A, op, 2, args, NULL));
}

static lg_Value *op1 (lg_Arena *A, int op, lg_Value *a) {
  lg_Arg arg;
  arg.value = a; arg.number = 0;
  return check(lg_apply(A, op, 1, &arg, NULL));
}

static void result (const char *wl, long n, const char *fields, const double *c, int nc) {
  int i;
  printf("RESULT impl=core gc=- wl=%s n=%ld %s check=", wl, n, fields);
  for (i = 0; i < nc; i++) printf("%s%.17g", i ? "," : "", c[i]);
  printf("\n");
}

static void w1 (lg_Arena *A, long reps) {
  double t0, tf, tt, c[4];
  char fields[128];
  lg_Value *a = NULL, *b = NULL, *cc = NULL, *J = NULL;
  long r;
  t0 = now();
  for (r = 0; r < reps; r++) {
    lg_arena_clear(A);
    a = check(lg_leaf(A, 5)); b = check(lg_leaf(A, 3)); cc = check(lg_leaf(A, 2));
    J = op2(A, MUL, op2(A, ADD, a, op2(A, MUL, b, cc, 0), 0), NULL, 3);
  }
  tf = now() - t0;
  t0 = now();
  for (r = 0; r < reps; r++) {
    lg_arena_clear(A);
    a = check(lg_leaf(A, 5)); b = check(lg_leaf(A, 3)); cc = check(lg_leaf(A, 2));
    J = op2(A, MUL, op2(A, ADD, a, op2(A, MUL, b, cc, 0), 0), NULL, 3);
    if (lg_backward(A, J, 1.0) != LG_OK) exit(1);
  }
  tt = now() - t0;
  snprintf(fields, sizeof fields, "fwd_us=%.6g total_us=%.6g", tf / reps * 1e6,
           tt / reps * 1e6);
  c[0] = lg_data(J); c[1] = lg_grad(a); c[2] = lg_grad(b); c[3] = lg_grad(cc);
  result("w1", reps, fields, c, 4);
}

static void w2 (lg_Arena *A, long nops) {
  long L = W2_LEAVES, ncells = (nops + 5) / 6, k, n = 6 * ncells, nleaves = 0;
  lg_Value **val = calloc((size_t)(L + ncells + 1), sizeof(lg_Value *));
  int32_t *Bi = calloc((size_t)(ncells + 1), sizeof(int32_t));
  int32_t *Ci = calloc((size_t)(ncells + 1), sizeof(int32_t));
  char used[W2_LEAVES + 1] = {0};
  double c[W2_LEAVES + 1], t0, tf, tb;
  size_t bytes0;
  char fields[256];
  if (val == NULL || Bi == NULL || Ci == NULL) exit(1);
  lcg_state = 42;
  bytes0 = lg_arena_bytes(A);
  for (k = 1; k <= L; k++) val[k] = check(lg_leaf(A, uniform() * 2 - 1));
  for (k = 1; k <= ncells; k++) {
    Bi[k] = (int32_t)(1 + lcgint(L + k - 1));
    Ci[k] = (int32_t)(1 + lcgint(L + k - 1));
    if (Bi[k] <= L) used[Bi[k]] = 1;
    if (Ci[k] <= L) used[Ci[k]] = 1;
  }
  used[L] = 1;
  for (k = 1; k <= L; k++) nleaves += used[k];
  t0 = now();
  for (k = 1; k <= ncells; k++) {
    lg_Value *a = val[L + k - 1], *u, *w, *e, *q, *s;
    u = op2(A, MUL, a, val[Bi[k]], 0);
    w = op2(A, SUB, u, val[Ci[k]], 0);
    e = op1(A, EXP, w);
    q = op2(A, DIV, w, e, 0);
    s = op2(A, ADD, q, a, 0);
    val[L + k] = op1(A, TANH, s);
  }
  tf = now() - t0;
  t0 = now();
  if (lg_backward(A, val[L + ncells], 1.0) != LG_OK) exit(1);
  tb = now() - t0;
  snprintf(fields, sizeof fields, "ops=%ld fwd_ns=%.6g bwd_ns=%.6g node_bytes=%.4g", n,
           tf / n * 1e9, tb / (n + nleaves) * 1e9,
           (double)(lg_arena_bytes(A) - bytes0) / (double)(n + L));
  c[0] = lg_data(val[L + ncells]);
  for (k = 1; k <= L; k++) c[k] = lg_grad(val[k]);
  result("w2", nops, fields, c, W2_LEAVES + 1);
  free(val); free(Bi); free(Ci);
}

static void w4 (lg_Arena *A, long nops) {
  double rss0 = rss("VmRSS"), t0, t1, t2, t3, c[2];
  char fields[256];
  lg_Value *x, *v;
  long i;
  t0 = now();
  x = v = check(lg_leaf(A, 0.5));
  for (i = 0; i < nops / 2; i++) v = op1(A, TANH, op2(A, ADD, v, x, 0));
  t1 = now();
  if (lg_backward(A, v, 1.0) != LG_OK) exit(1);
  t2 = now();
  c[0] = lg_data(v); c[1] = lg_grad(x);
  snprintf(fields, sizeof fields, "heap_mb=%.6g", (double)lg_arena_bytes(A) / 1048576.0);
  lg_arena_clear(A);
  t3 = now();
  snprintf(fields + strlen(fields), sizeof fields - strlen(fields),
           " build_s=%.6g bwd_s=%.6g collect_s=%.6g total_s=%.6g peak_mb=%.6g", t1 - t0,
           t2 - t1, t3 - t2, t3 - t0, (rss("VmHWM") - rss0) / 1048576.0);
  result("w4", nops, fields, c, 2);
}

int main (int argc, char **argv) {
  lg_Arena *A;
  long n;
  if (argc != 3) {
    fprintf(stderr, "usage: corebench w1|w2|w4 SIZE\n");
    return 2;
  }
  ADD = lg_op_find("+"); SUB = lg_op_find("-"); MUL = lg_op_find("*");
  DIV = lg_op_find("/"); EXP = lg_op_find("exp"); TANH = lg_op_find("tanh");
  A = lg_arena_new(NULL, NULL);
  if (A == NULL) return 1;
  n = atol(argv[2]);
  if (strcmp(argv[1], "w1") == 0) w1(A, n);
  else if (strcmp(argv[1], "w2") == 0) w2(A, n);
  else if (strcmp(argv[1], "w4") == 0) w4(A, n);
  else {
    fprintf(stderr, "corebench: unknown workload %s\n", argv[1]);
    return 2;
  }
  lg_arena_free(A);
  return 0;
}
