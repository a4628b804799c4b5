/*
** test_core.c: unit tests of the C core through the public header alone (no Lua).
*/
#include "luagrad.h"   /* first: the header must compile on its own */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void near (double a, double b, double tol, const char *what, const char *file,
                  int line) {
  checks++;
  if (!(fabs(a - b) <= tol * (1.0 + fabs(b)))) {
    failures++;
    fprintf(stderr, "%s:%d: %s = %.17g, expected %.17g\n", file, line, what, a, b);
  }
}

static lg_Arg V (lg_Value *v) { lg_Arg a; a.value = v; a.number = 0; return a; }
static lg_Arg K (double x) { lg_Arg a; a.value = NULL; a.number = x; return a; }

static lg_Value *op2 (lg_Arena *A, const char *name, lg_Arg x, lg_Arg y) {
  lg_Arg args[2];
  args[0] = x; args[1] = y;
  return lg_apply(A, lg_op_find(name), 2, args, NULL);
}

/* The lecture: u = b*c, v = a + u, J = 3v with a, b, c = 5, 3, 2. */
static void test_lecture (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Value *a = lg_leaf(A, 5), *b = lg_leaf(A, 3), *c = lg_leaf(A, 2);
  lg_Value *u = op2(A, "*", V(b), V(c));
  lg_Value *v = op2(A, "+", V(a), V(u));
  lg_Value *J = op2(A, "*", K(3), V(v));
  CHECK(lg_data(u) == 6 && lg_data(v) == 11 && lg_data(J) == 33);
  CHECK(lg_backward(A, J, 1.0) == LG_OK);
  CHECK(lg_grad(J) == 1 && lg_grad(v) == 3 && lg_grad(u) == 3);
  CHECK(lg_grad(a) == 3 && lg_grad(b) == 6 && lg_grad(c) == 9);
  /* a second backward adds the same amounts again, intermediates included */
  CHECK(lg_backward(A, J, 1.0) == LG_OK);
  CHECK(lg_grad(a) == 6 && lg_grad(b) == 12 && lg_grad(c) == 18 && lg_grad(u) == 6);
  CHECK(lg_zero_grad(A, J) == LG_OK);
  CHECK(lg_grad(a) == 0 && lg_grad(u) == 0 && lg_grad(J) == 0);
  CHECK(lg_backward(A, J, 0.5) == LG_OK);
  CHECK(lg_grad(c) == 4.5);
  /* structure */
  CHECK(lg_value_op(a) == 0 && strcmp(lg_op_name(lg_value_op(J)), "*") == 0);
  {
    lg_Value *p; double k;
    CHECK(lg_value_nargs(J) == 2);
    CHECK(lg_value_arg(J, 0, &p, &k) == LG_OK && p == NULL && k == 3);
    CHECK(lg_value_arg(J, 1, &p, &k) == LG_OK && p == v && k == 11);
    CHECK(lg_value_arg(J, 2, &p, &k) == LG_EARG);
  }
  lg_arena_free(A);
}

static void test_optable (void) {
  int i, n = lg_op_count();
  CHECK(n > 20);
  CHECK(strcmp(lg_op_name(0), "leaf") == 0 && lg_op_arity(0) == 0);
  CHECK(lg_op_find("pow") == lg_op_find("^") && lg_op_find("pow") > 0);
  CHECK(lg_op_find("nonesuch") == -1 && lg_op_find(NULL) == -1);
  CHECK(lg_op_name(-1) == NULL && lg_op_name(n) == NULL);
  CHECK(lg_op_arity(lg_op_find("sum")) == -1 && lg_op_arity(lg_op_find("exp")) == 1);
  for (i = 0; i < n; i++) CHECK(lg_op_find(lg_op_name(i)) == i);
  CHECK(strcmp(lg_strerror(LG_EMEM), "not enough memory") == 0);
  CHECK(lg_strerror(12345) != NULL);
}

static void test_errors (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Value *a = lg_leaf(A, 1), *b;
  lg_Arg args[3];
  int err = -1;
  args[0] = V(a); args[1] = V(a); args[2] = V(a);
  CHECK(lg_apply(A, 0, 0, NULL, &err) == NULL && err == LG_EARG);        /* leaf is no op */
  CHECK(lg_apply(A, lg_op_count(), 1, args, &err) == NULL && err == LG_EARG);
  CHECK(lg_apply(A, lg_op_find("exp"), 2, args, &err) == NULL && err == LG_EARG);
  CHECK(lg_apply(A, lg_op_find("+"), 3, args, &err) == NULL && err == LG_EARG);
  CHECK(lg_apply(A, lg_op_find("dot"), 3, args, &err) == NULL && err == LG_EARG);
  CHECK(lg_apply(A, lg_op_find("exp"), 1, NULL, &err) == NULL && err == LG_EARG);
  b = lg_apply(A, lg_op_find("exp"), 1, args, &err);
  CHECK(b != NULL && err == LG_OK);
  CHECK(lg_set_data(b, 2) == LG_ELEAF && lg_data(b) == exp(1.0));
  CHECK(lg_set_data(a, 2) == LG_OK && lg_data(a) == 2);
  CHECK(lg_backward(A, NULL, 1) == LG_EARG && lg_zero_grad(A, NULL) == LG_EARG);
  lg_arena_free(A);
  lg_arena_free(NULL);
}

/* Every unary and binary op against a central difference, at several points. */
static void test_derivatives (void) {
  static const double points[] = {-1.3, -0.4, 0.49, 0.99, 1.01, 2.5};
  lg_Arena *A = lg_arena_new(NULL, NULL);
  int op, i, j, n = lg_op_count();
  const double h = 1e-6;
  for (op = 1; op < n; op++) {
    int arity = lg_op_arity(op);
    if (arity < 1 || arity > 2) continue;   /* where, clamp: test_where, test_clamp */
    for (i = 0; i < 6; i++) {
      for (j = 0; j < (arity == 2 ? 6 : 1); j++) {
        double x0 = points[i], y0 = points[5 - j], fp, fm;
        lg_Arg args[2];
        lg_Value *x, *y, *out;
        int k;
        if (strcmp(lg_op_name(op), "log") == 0 || strcmp(lg_op_name(op), "sqrt") == 0
            || strcmp(lg_op_name(op), "^") == 0 || strcmp(lg_op_name(op), "log1p") == 0)
          x0 = fabs(x0);  /* stay inside the domain */
        x = lg_leaf(A, x0); y = lg_leaf(A, y0);
        args[0] = V(x); args[1] = V(y);
        out = lg_apply(A, op, arity, args, NULL);
        CHECK(out != NULL && lg_backward(A, out, 1.0) == LG_OK);
        for (k = 0; k < arity; k++) {
          lg_Value *p = k == 0 ? x : y;
          lg_Arg plus[2], minus[2];
          plus[0] = minus[0] = K(x0); plus[1] = minus[1] = K(y0);
          plus[k].number += h; minus[k].number -= h;
          fp = lg_data(lg_apply(A, op, arity, plus, NULL));
          fm = lg_data(lg_apply(A, op, arity, minus, NULL));
          if (fabs(x0 - y0) > 1e-3)  /* max/min are not differentiable at a tie */
            NEAR(lg_grad(p), (fp - fm) / (2 * h), 1e-5);
        }
      }
    }
  }
  lg_arena_free(A);
}

/* sum and dot over many slots (the constant bitmap past 16 slots), constants mixed in */
static void test_nary (void) {
  enum { N = 1000 };
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Arg xs[N], pairs[2 * N];
  lg_Value *leaves[N], *s, *d;
  int i;
  double expect = 0;
  for (i = 0; i < N; i++) {
    leaves[i] = lg_leaf(A, i * 0.5);
    xs[i] = (i % 3 == 0) ? K(2.0) : V(leaves[i]);
    pairs[2 * i] = V(leaves[i]);
    pairs[2 * i + 1] = (i % 2 == 0) ? K(i) : V(leaves[i]);
    expect += (i % 2 == 0) ? i * 0.5 * i : (i * 0.5) * (i * 0.5);
  }
  s = lg_apply(A, lg_op_find("sum"), N, xs, NULL);
  d = lg_apply(A, lg_op_find("dot"), 2 * N, pairs, NULL);
  CHECK(s != NULL && d != NULL);
  NEAR(lg_data(d), expect, 1e-12);
  CHECK(lg_backward(A, s, 1.0) == LG_OK);
  for (i = 0; i < N; i++) CHECK(lg_grad(leaves[i]) == ((i % 3 == 0) ? 0.0 : 1.0));
  lg_zero_grad(A, s);
  CHECK(lg_backward(A, d, 1.0) == LG_OK);
  for (i = 0; i < N; i++) {
    double g = (i % 2 == 0) ? i : 2 * (i * 0.5);
    CHECK(lg_grad(leaves[i]) == g);
  }
  CHECK(lg_data(lg_apply(A, lg_op_find("sum"), 0, NULL, NULL)) == 0.0);
  lg_arena_free(A);
}

/* where(c, a, b): a where c is nonzero (NaN counts), else b; the gradient goes to the
   chosen one, none to c; the comparisons and sign are masks, with zero derivatives. */
static void test_where (void) {
  static const double conds[] = {1.0, 0.0, -0.0, -2.5, NAN};
  static const char *const masks[] = {"gt", "lt", "ge", "le", "eq", "ne"};
  lg_Arena *A = lg_arena_new(NULL, NULL);
  int i;
  CHECK(lg_op_arity(lg_op_find("where")) == 3);
  for (i = 0; i < 5; i++) {
    lg_Value *c = lg_leaf(A, conds[i]), *a = lg_leaf(A, 3.0), *b = lg_leaf(A, -4.0), *y;
    lg_Arg args[3];
    int taken = conds[i] != 0.0;
    args[0] = V(c); args[1] = V(a); args[2] = V(b);
    y = lg_apply(A, lg_op_find("where"), 3, args, NULL);
    CHECK(y != NULL && lg_data(y) == (taken ? 3.0 : -4.0));
    CHECK(lg_backward(A, y, 2.0) == LG_OK);
    CHECK(lg_grad(a) == (taken ? 2.0 : 0.0) && lg_grad(b) == (taken ? 0.0 : 2.0));
    CHECK(lg_grad(c) == 0.0);
  }
  for (i = 0; i < 6; i++) {
    lg_Value *x = lg_leaf(A, 1.5), *y = lg_leaf(A, 2.5), *m = op2(A, masks[i], V(x), V(y));
    CHECK(m != NULL && lg_backward(A, m, 1.0) == LG_OK);
    CHECK(lg_grad(x) == 0.0 && lg_grad(y) == 0.0);
    CHECK(lg_data(m) == (double)(i == 1 || i == 3 || i == 5));   /* lt, le, ne hold */
  }
  lg_arena_free(A);
}

/* clamp(x, lo, hi) from C: the gradient to x where lo <= x <= hi (the bounds included), to
   lo where x < lo < hi, to hi where x > hi or hi < lo; an infinite bound is a one-sided
   clamp (what the binding puts for a bound left out). */
static void test_clamp (void) {
  static const double cases[][7] = {   /* x, lo, hi, y, dx, dlo, dhi (PyTorch's) */
    {-2, 0, 1, 0, 0, 1, 0}, {0, 0, 1, 0, 1, 0, 0}, {1, 0, 1, 1, 1, 0, 0},
    {3, 0, 1, 1, 0, 0, 1}, {0.5, 2, 1, 1, 0, 0, 1}, {-2, 1, 1, 1, 0, 0, 0},
    {5, -HUGE_VAL, 7, 5, 1, 0, 0}, {-5, -1, HUGE_VAL, -1, 0, 1, 0}
  };
  lg_Arena *A = lg_arena_new(NULL, NULL);
  int i, op = lg_op_find("clamp");
  CHECK(op > 0 && lg_op_arity(op) == 3);
  for (i = 0; i < 8; i++) {
    const double *c = cases[i];
    lg_Value *x = lg_leaf(A, c[0]), *lo = lg_leaf(A, c[1]), *hi = lg_leaf(A, c[2]), *y;
    lg_Arg args[3];
    args[0] = V(x); args[1] = V(lo); args[2] = V(hi);
    y = lg_apply(A, op, 3, args, NULL);
    CHECK(y != NULL && lg_data(y) == c[3] && lg_backward(A, y, 1.0) == LG_OK);
    CHECK(lg_grad(x) == c[4] && lg_grad(lo) == c[5] && lg_grad(hi) == c[6]);
  }
  lg_arena_free(A);
}

/* A chain a million deep: no recursion anywhere. */
static void test_deep (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Value *x = lg_leaf(A, 1.0), *y = x;
  int i;
  for (i = 0; i < 1000000; i++) y = op2(A, "*", V(y), K(1.000001));
  CHECK(lg_backward(A, y, 1.0) == LG_OK);
  NEAR(lg_grad(x), pow(1.000001, 1e6), 1e-9);
  CHECK(lg_zero_grad(A, y) == LG_OK && lg_grad(x) == 0);
  lg_arena_clear(A);
  CHECK(lg_arena_bytes(A) < 64 * 1024 * 1024);
  lg_arena_free(A);
}

/* An allocator that fails once its budget of allocations is spent, and counts bytes. */
typedef struct Budget { long left; long live; size_t bytes; } Budget;

static void *budget_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Budget *b = (Budget *)ud;
  void *p;
  if (nsize == 0) {
    if (ptr != NULL) { b->live--; b->bytes -= osize; }
    free(ptr);
    return NULL;
  }
  if (b->left-- <= 0) return NULL;
  p = realloc(ptr, nsize);
  if (p == NULL) return NULL;
  if (ptr == NULL) b->live++;
  b->bytes = b->bytes - (ptr ? osize : 0) + nsize;
  return p;
}

/* One program over the arena; returns 1 when it ran to the end with the right numbers. */
static int program (lg_Arena *A) {
  lg_Value *a, *b, *y, *chain;
  lg_Arg list[40];
  int i;
  if ((a = lg_leaf(A, 2)) == NULL || (b = lg_leaf(A, 3)) == NULL) return 0;
  if ((y = op2(A, "*", V(a), V(b))) == NULL) return 0;
  for (i = 0; i < 40; i++) list[i] = (i % 2) ? V(y) : K(1);
  if ((y = lg_apply(A, lg_op_find("sum"), 40, list, NULL)) == NULL) return 0;
  chain = y;
  for (i = 0; i < 5000; i++)
    if ((chain = op2(A, "+", V(chain), K(0))) == NULL) return 0;
  if (lg_backward(A, chain, 1.0) != LG_OK) return 0;
  return lg_grad(a) == 60 && lg_grad(b) == 40;
}

/* Fail the Nth allocation for every N until the program succeeds: every failure is
   reported, grads are untouched by a failed backward, and nothing leaks. */
static void test_allocation_failures (void) {
  long n;
  int succeeded = 0;
  for (n = 0; n < 10000 && !succeeded; n++) {
    Budget b = {0, 0, 0};
    lg_Arena *A;
    b.left = n;
    A = lg_arena_new(budget_alloc, &b);
    if (A != NULL) {
      succeeded = program(A);
      lg_arena_free(A);
    }
    CHECK(b.live == 0 && b.bytes == 0);
  }
  CHECK(succeeded);
}

static lg_Value *op1 (lg_Arena *A, const char *name, lg_Value *x) {
  lg_Arg arg = V(x);
  return lg_apply(A, lg_op_find(name), 1, &arg, NULL);
}

/*
** Reverse and forward mode give the same Jacobian, and neither changes a grad:
** f(x, y) = (x*y + sin x, exp(y) / x, 3), J = [[y + cos x, x], [-exp(y)/x^2, exp(y)/x], [0, 0]]
*/
static void test_modes (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  double x0 = 0.7, y0 = -1.2, J[3][2], seed[3], t[2], col[3], row[2];
  lg_Value *x = lg_leaf(A, x0), *y = lg_leaf(A, y0), *ins[2], *outs[3], *other = lg_leaf(A, 5);
  int i, j;
  outs[0] = op2(A, "+", V(op2(A, "*", V(x), V(y))), V(op1(A, "sin", x)));
  outs[1] = op2(A, "/", V(op1(A, "exp", y)), V(x));
  outs[2] = op2(A, "*", K(3), V(other));
  ins[0] = x; ins[1] = y;
  J[0][0] = y0 + cos(x0); J[0][1] = x0;
  J[1][0] = -exp(y0) / (x0 * x0); J[1][1] = exp(y0) / x0;
  J[2][0] = J[2][1] = 0;
  for (i = 0; i < 3; i++) {   /* a row per reverse sweep */
    seed[0] = seed[1] = seed[2] = 0;
    seed[i] = 1;
    CHECK(lg_gradients(A, 3, outs, seed, 2, ins, row) == LG_OK);
    for (j = 0; j < 2; j++) NEAR(row[j], J[i][j], 1e-14);
  }
  for (j = 0; j < 2; j++) {   /* a column per forward sweep */
    t[0] = t[1] = 0;
    t[j] = 1;
    CHECK(lg_tangents(A, 2, ins, t, 3, outs, col) == LG_OK);
    for (i = 0; i < 3; i++) NEAR(col[i], J[i][j], 1e-14);
  }
  /* a direction at once, and an output given as an input: its own tangent, not computed */
  t[0] = 2; t[1] = -3;
  CHECK(lg_tangents(A, 2, ins, t, 2, outs, col) == LG_OK);
  NEAR(col[0], 2 * J[0][0] - 3 * J[0][1], 1e-14);
  ins[1] = outs[0];
  CHECK(lg_tangents(A, 2, ins, t, 1, outs, col) == LG_OK);
  NEAR(col[0], -3, 1e-14);
  for (i = 0; i < 3; i++) CHECK(lg_grad(outs[i]) == 0);
  CHECK(lg_grad(x) == 0 && lg_grad(y) == 0);
  /* scratch is clean afterwards: backward still gives exactly the gradient */
  CHECK(lg_backward(A, outs[0], 1) == LG_OK);
  NEAR(lg_grad(x), J[0][0], 1e-14);
  NEAR(lg_grad(y), J[0][1], 1e-14);
  CHECK(lg_gradients(A, 1, outs, NULL, 2, ins, row) == LG_EARG);
  outs[1] = NULL;
  CHECK(lg_tangents(A, 2, ins, t, 2, outs, col) == LG_EARG);
  lg_arena_free(A);
}

int main (void) {
  test_lecture();
  test_modes();
  test_optable();
  test_errors();
  test_derivatives();
  test_where();
  test_clamp();
  test_nary();
  test_deep();
  test_allocation_failures();
  printf("%d checks, %d failed\n", checks, failures);
  return failures != 0;
}
