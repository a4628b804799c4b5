/*
** ops.c: every operation, its value and its derivative side by side, and the op table.
** Adding an op is one block here (its value, its derivative, and that derivative again built
** from ops, so that it can be differentiated in turn) plus one row in lgI_ops and its name in
** lg_core.h's enum: the binding makes lg.<name> and v:<name>() from the row, and the
** graph printer reads its name.
**
** Conventions at non-differentiable points follow PyTorch: relu'(0) = 0, abs'(0) = 0, a tie
** in max/min splits the gradient equally, sqrt'(0) = +inf, d/dx x^0 = 0 even at x = 0,
** d/dy x^y = 0 where x = 0 and y >= 0, leaky_relu'(0) is the slope, and clamp passes the
** gradient at its bounds. Outside the domain the result is NaN, as C gives.
** At -0.0, sqrt' and log' are -inf, as IEEE division and PyTorch give (1/-0 = -inf).
**
** A derivative built from ops never branches on the numbers (B->x): where a derivative
** depends on which side of a point its argument is, the build says so with the mask ops
** (gt, lt, eq, ..., and where), which have zero derivative. So the built derivative is right
** for any numbers: those of a replay under lg.compile, and later those of a tensor's every
** element. Its numbers equal the numeric backward's bit for bit (a spec checks every op).
*/
#include <math.h>
#include "core/lg_core.h"

#define UNUSED(x) ((void)(x))
#define WANTS(B, i) ((B)->want < 0 || (B)->want == (i))
/* the arguments an n-ary build visits: all, or just the wanted one (forward mode asks for
   one argument at a time, so a loop over all would make it quadratic) */
#define FIRSTWANTED(B) ((B)->want < 0 ? 0 : (B)->want)
#define ENDWANTED(B) ((B)->want < 0 ? (B)->n : (B)->want + 1)
/* where(c, a, b) in a build: a where c is true (nonzero), else b */
#define WHERE(B, c, a, b) ((B)->apply3((B), LGI_WHERE, (c), (a), (b)))
#define ZERO(B) ((B)->num((B), 0.0))

/* An op's fast loops (lg_core.h's lgI_ForwardV, lgI_BackwardV): its own forward and
   backward, inlined into a loop over float64 arrays, so a tensor gets the Value's numbers
   without an indirect call and the generic loads and stores per element. */
#define FWDLOOP(op, N) \
static void op##_fwdv (int64_t m, const double *const *x, const int64_t *sx, double *y) { \
  int64_t i; \
  int k; \
  for (i = 0; i < m; i++) { \
    double a[N]; \
    for (k = 0; k < N; k++) a[k] = x[k][i * sx[k]]; \
    y[i] = op##_fwd(N, a); \
  } \
}
#define BWDLOOP(op, N) \
static void op##_bwdv (int64_t m, const double *const *x, const int64_t *sx, \
                       const double *y, const double *g, double *const *dx) { \
  int64_t i; \
  int k; \
  for (i = 0; i < m; i++) { \
    double a[N], d[N]; \
    for (k = 0; k < N; k++) a[k] = x[k][i * sx[k]]; \
    op##_bwd(N, a, y[i], g[i], d); \
    for (k = 0; k < N; k++) \
      if (dx[k] != NULL) dx[k][i] += d[k]; \
  } \
}
#define FASTLOOPS(op, N) FWDLOOP(op, N) BWDLOOP(op, N)

/* leaf: a Value with no history; never evaluated */
static double leaf_fwd (int n, const double *x) { UNUSED(n); UNUSED(x); return 0.0; }
static void leaf_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x); UNUSED(y); UNUSED(g); UNUSED(dx);
}
static void leaf_build (lgI_Builder *B) { UNUSED(B); }

/* add: y = a + b; dy/da = 1, dy/db = 1 */
static double add_fwd (int n, const double *x) { UNUSED(n); return x[0] + x[1]; }
static void add_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x); UNUSED(y);
  dx[0] = g; dx[1] = g;
}
FASTLOOPS(add, 2)
static void add_build (lgI_Builder *B) {
  int g = B->grad(B);
  B->dx(B, 0, g);
  B->dx(B, 1, g);
}

/* sub: y = a - b; dy/da = 1, dy/db = -1 */
static double sub_fwd (int n, const double *x) { UNUSED(n); return x[0] - x[1]; }
static void sub_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x); UNUSED(y);
  dx[0] = g; dx[1] = -g;
}
FASTLOOPS(sub, 2)
static void sub_build (lgI_Builder *B) {
  B->dx(B, 0, B->grad(B));
  if (WANTS(B, 1)) B->dx(B, 1, B->apply(B, LGI_NEG, B->grad(B), 0));
}

/* mul: y = a * b; dy/da = b, dy/db = a */
static double mul_fwd (int n, const double *x) { UNUSED(n); return x[0] * x[1]; }
static void mul_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g * x[1]; dx[1] = g * x[0];
}
FASTLOOPS(mul, 2)
static void mul_build (lgI_Builder *B) {
  if (WANTS(B, 0)) B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->arg(B, 1)));
  if (WANTS(B, 1)) B->dx(B, 1, B->apply(B, LGI_MUL, B->grad(B), B->arg(B, 0)));
}

/* div: y = a / b; dy/da = 1/b, dy/db = -a/b^2 (= -y/b) */
static double div_fwd (int n, const double *x) { UNUSED(n); return x[0] / x[1]; }
static void div_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g / x[1];
  dx[1] = -g * x[0] / (x[1] * x[1]);  /* not -y/b: keeps a/0 and 0/0 as IEEE gives */
}
FASTLOOPS(div, 2)
static void div_build (lgI_Builder *B) {
  int a = B->arg(B, 0), b = B->arg(B, 1);
  if (WANTS(B, 0)) B->dx(B, 0, B->apply(B, LGI_DIV, B->grad(B), b));
  if (WANTS(B, 1)) {
    int nga = B->apply(B, LGI_MUL, B->apply(B, LGI_NEG, B->grad(B), 0), a);
    B->dx(B, 1, B->apply(B, LGI_DIV, nga, B->apply(B, LGI_MUL, b, b)));
  }
}

/* pow: y = a^b; dy/da = b a^(b-1), 0 when b = 0 (even at a = 0);
   dy/db = a^b log a, 0 when a = 0 and b >= 0 (log 0 = -inf would give NaN or -inf) */
static double pow_fwd (int n, const double *x) { UNUSED(n); return pow(x[0], x[1]); }
static void pow_bwd (int n, const double *x, double y, double g, double *dx) {
  double a = x[0], b = x[1];
  UNUSED(n);
  dx[0] = (b == 0.0) ? 0.0 : g * b * pow(a, b - 1.0);
  dx[1] = (a == 0.0 && b >= 0.0) ? 0.0 : g * y * log(a);
}
FASTLOOPS(pow, 2)
static void pow_build (lgI_Builder *B) {
  int a = B->arg(B, 0), b = B->arg(B, 1), one = B->num(B, 1.0);
  int a0 = B->apply(B, LGI_EQ, a, ZERO(B)), b0 = B->apply(B, LGI_EQ, b, ZERO(B));
  int bnonneg = B->apply(B, LGI_GE, b, ZERO(B));
  if (WANTS(B, 0)) {   /* where(b == 0, 0, g * b * a^(b - 1)) */
    /* the branch not taken is built on a safe b (1 for 0): never 0 * inf, so a derivative
       of this one sends no NaN through it */
    int bsafe = WHERE(B, b0, one, b);
    int gb = B->apply(B, LGI_MUL, B->grad(B), b);
    int d = B->apply(B, LGI_MUL, gb, B->apply(B, LGI_POW, a, B->apply(B, LGI_SUB, bsafe, one)));
    B->dx(B, 0, WHERE(B, b0, ZERO(B), d));
  }
  if (WANTS(B, 1)) {   /* where(a == 0 and b >= 0, 0, g * y * log a), on a safe a likewise */
    int zero = WHERE(B, a0, bnonneg, ZERO(B));
    int asafe = WHERE(B, zero, one, a);
    int gy = B->apply(B, LGI_MUL, B->grad(B), B->out(B));
    int d = B->apply(B, LGI_MUL, gy, B->apply(B, LGI_LOG, asafe, 0));
    B->dx(B, 1, WHERE(B, zero, ZERO(B), d));
  }
}

/* neg: y = -a; dy/da = -1 */
static double neg_fwd (int n, const double *x) { UNUSED(n); return -x[0]; }
static void neg_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x); UNUSED(y);
  dx[0] = -g;
}
FASTLOOPS(neg, 1)
static void neg_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_NEG, B->grad(B), 0));
}

/* exp: y = e^a; dy/da = y */
static double exp_fwd (int n, const double *x) { UNUSED(n); return exp(x[0]); }
static void exp_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * y;
}
FASTLOOPS(exp, 1)
static void exp_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->out(B)));
}

/* log: y = ln a; dy/da = 1/a (log 0 = -inf, log of a negative number = NaN) */
static double log_fwd (int n, const double *x) { UNUSED(n); return log(x[0]); }
static void log_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g / x[0];
}
FASTLOOPS(log, 1)
static void log_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_DIV, B->grad(B), B->arg(B, 0)));
}

/* sqrt: y = sqrt(a); dy/da = 1/(2y), +inf at 0 */
static double sqrt_fwd (int n, const double *x) { UNUSED(n); return sqrt(x[0]); }
static void sqrt_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * (0.5 / y);  /* 0.5/0 = +inf; g*inf, as PyTorch */
}
FASTLOOPS(sqrt, 1)
static void sqrt_build (lgI_Builder *B) {
  int half = B->apply(B, LGI_DIV, B->num(B, 0.5), B->out(B));
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), half));
}

/* sin: y = sin a; dy/da = cos a */
static double sin_fwd (int n, const double *x) { UNUSED(n); return sin(x[0]); }
static void sin_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g * cos(x[0]);
}
FASTLOOPS(sin, 1)
static void sin_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_COS, B->arg(B, 0), 0)));
}

/* cos: y = cos a; dy/da = -sin a */
static double cos_fwd (int n, const double *x) { UNUSED(n); return cos(x[0]); }
static void cos_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = -g * sin(x[0]);
}
FASTLOOPS(cos, 1)
static void cos_build (lgI_Builder *B) {
  int ng = B->apply(B, LGI_NEG, B->grad(B), 0);
  B->dx(B, 0, B->apply(B, LGI_MUL, ng, B->apply(B, LGI_SIN, B->arg(B, 0), 0)));
}

/* tan: y = tan a; dy/da = 1 + y^2 (reuses y) */
static double tan_fwd (int n, const double *x) { UNUSED(n); return tan(x[0]); }
static void tan_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * (1.0 + y * y);
}
FASTLOOPS(tan, 1)
static void tan_build (lgI_Builder *B) {
  int yy = B->apply(B, LGI_MUL, B->out(B), B->out(B));
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_ADD, B->num(B, 1.0), yy)));
}

/* tanh: y = tanh a; dy/da = 1 - y^2 (reuses y, as Stan's exp reuses exp(x)), or, where
   1 - y^2 has lost digits (|y| near 1), 4e / (1 + e)^2 with e = exp(-2|a|), which has not:
   tanh'(20) is 1.7e-17, not 0 */
#define TANH_EXACT 0.75   /* below it 1 - y^2 loses under 2 bits */
static double tanh_fwd (int n, const double *x) { UNUSED(n); return tanh(x[0]); }
static void tanh_bwd (int n, const double *x, double y, double g, double *dx) {
  double d;
  UNUSED(n);
  if (fabs(y) < TANH_EXACT) d = 1.0 - y * y;
  else {
    double e = exp(-2.0 * fabs(x[0]));
    d = 4.0 * e / ((1.0 + e) * (1.0 + e));
  }
  dx[0] = g * d;
}
FASTLOOPS(tanh, 1)
static void tanh_build (lgI_Builder *B) {
  int yy = B->apply(B, LGI_MUL, B->out(B), B->out(B));
  int near0 = B->apply(B, LGI_LT, B->apply(B, LGI_ABS, B->out(B), 0), B->num(B, TANH_EXACT));
  int e = B->apply(B, LGI_EXP, B->apply(B, LGI_MUL, B->num(B, -2.0),
                                        B->apply(B, LGI_ABS, B->arg(B, 0), 0)), 0);
  int e1 = B->apply(B, LGI_ADD, B->num(B, 1.0), e);
  int tail = B->apply(B, LGI_DIV, B->apply(B, LGI_MUL, B->num(B, 4.0), e),
                      B->apply(B, LGI_MUL, e1, e1));
  int d = WHERE(B, near0, B->apply(B, LGI_SUB, B->num(B, 1.0), yy), tail);
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), d));
}

/* sigmoid: y = 1/(1 + e^-a); dy/da = y(1 - y). Evaluated so that no exp overflows. */
static double sigmoid_fwd (int n, const double *x) {
  UNUSED(n);
  if (x[0] >= 0.0) return 1.0 / (1.0 + exp(-x[0]));
  else {
    double e = exp(x[0]);
    return e / (1.0 + e);
  }
}
/* dy/da = y(1 - y), or, where 1 - y has lost digits (y near 1), y * sigmoid(-a), which has
   not: sigmoid'(40) is 4.2e-18, not 0 */
#define SIGMOID_EXACT 0.75   /* below it 1 - y loses under 2 bits */
static void sigmoid_bwd (int n, const double *x, double y, double g, double *dx) {
  double rest = 1.0 - y;
  UNUSED(n);
  if (!(y < SIGMOID_EXACT)) {   /* sigmoid(-a) as sigmoid_fwd computes it for -a < 0 */
    double e = exp(-x[0]);
    rest = e / (1.0 + e);
  }
  dx[0] = g * y * rest;
}
FASTLOOPS(sigmoid, 1)
static void sigmoid_build (lgI_Builder *B) {
  int gy = B->apply(B, LGI_MUL, B->grad(B), B->out(B));
  int rest = WHERE(B, B->apply(B, LGI_LT, B->out(B), B->num(B, SIGMOID_EXACT)),
                   B->apply(B, LGI_SUB, B->num(B, 1.0), B->out(B)),
                   B->apply(B, LGI_SIGMOID, B->apply(B, LGI_NEG, B->arg(B, 0), 0), 0));
  B->dx(B, 0, B->apply(B, LGI_MUL, gy, rest));
}

/* relu: y = max(a, 0), NaN stays NaN; dy/da = 1 for a > 0, else 0 (relu'(0) = 0) */
static double relu_fwd (int n, const double *x) {
  UNUSED(n);
  return (x[0] > 0.0 || x[0] != x[0]) ? x[0] : 0.0;
}
static void relu_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] > 0.0) ? g : 0.0;
}
FASTLOOPS(relu, 1)
static void relu_build (lgI_Builder *B) {   /* where(a > 0, g, 0) */
  int pos = B->apply(B, LGI_GT, B->arg(B, 0), ZERO(B));
  B->dx(B, 0, WHERE(B, pos, B->grad(B), ZERO(B)));
}

/* abs: y = |a|; dy/da = sign(a), 0 at 0 */
static double abs_fwd (int n, const double *x) { UNUSED(n); return fabs(x[0]); }
static void abs_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] > 0.0) ? g : (x[0] < 0.0) ? -g : 0.0;
}
FASTLOOPS(abs, 1)
static void abs_build (lgI_Builder *B) {   /* where(a > 0, g, where(a < 0, -g, 0)) */
  int a = B->arg(B, 0), g = B->grad(B);
  int neg = WHERE(B, B->apply(B, LGI_LT, a, ZERO(B)), B->apply(B, LGI_NEG, g, 0), ZERO(B));
  B->dx(B, 0, WHERE(B, B->apply(B, LGI_GT, a, ZERO(B)), g, neg));
}

/* max: y = the larger of a, b (NaN if either is); the gradient goes to the larger one,
   half to each on a tie, none when either is NaN (as PyTorch's maximum) */
static double max_fwd (int n, const double *x) {
  UNUSED(n);
  if (x[0] > x[1]) return x[0];
  else if (x[1] > x[0]) return x[1];
  else if (x[0] == x[1]) return x[0];
  else return x[0] + x[1];   /* a NaN: NaN */
}
static void max_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] > x[1]) ? g : (x[0] == x[1]) ? 0.5 * g : 0.0;
  dx[1] = (x[1] > x[0]) ? g : (x[0] == x[1]) ? 0.5 * g : 0.0;
}
/* max and min: the gradient to the chosen argument, or half to each on a tie (wins is
   LGI_GT for max, LGI_LT for min): dx[i] = where(x[i] wins, g, where(tie, g/2, 0)) */
static void select_build (lgI_Builder *B, int wins) {
  int a = B->arg(B, 0), b = B->arg(B, 1), g = B->grad(B);
  int half = B->apply(B, LGI_MUL, B->num(B, 0.5), g);
  int tie = WHERE(B, B->apply(B, LGI_EQ, a, b), half, ZERO(B));
  if (WANTS(B, 0)) B->dx(B, 0, WHERE(B, B->apply(B, wins, a, b), g, tie));
  if (WANTS(B, 1)) B->dx(B, 1, WHERE(B, B->apply(B, wins, b, a), g, tie));
}
FASTLOOPS(max, 2)
static void max_build (lgI_Builder *B) { select_build(B, LGI_GT); }

/* min: y = the smaller of a, b; as max, mirrored */
static double min_fwd (int n, const double *x) {
  UNUSED(n);
  if (x[0] < x[1]) return x[0];
  else if (x[1] < x[0]) return x[1];
  else if (x[0] == x[1]) return x[0];
  else return x[0] + x[1];
}
static void min_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] < x[1]) ? g : (x[0] == x[1]) ? 0.5 * g : 0.0;
  dx[1] = (x[1] < x[0]) ? g : (x[0] == x[1]) ? 0.5 * g : 0.0;
}
FASTLOOPS(min, 2)
static void min_build (lgI_Builder *B) { select_build(B, LGI_LT); }

/* sum: y = x1 + ... + xn (0 for n = 0); dy/dxi = 1 */
static double sum_fwd (int n, const double *x) {
  double s = 0.0;
  int i;
  for (i = 0; i < n; i++) s += x[i];
  return s;
}
static void sum_bwd (int n, const double *x, double y, double g, double *dx) {
  int i;
  UNUSED(x); UNUSED(y);
  for (i = 0; i < n; i++) dx[i] = g;
}
static void sum_build (lgI_Builder *B) {
  int i, end;
  for (i = FIRSTWANTED(B), end = ENDWANTED(B); i < end; i++) B->dx(B, i, B->grad(B));
}

/* dot: y = x1*y1 + ... + xm*ym over the slots (x1, y1, x2, y2, ...); dy/dxi = yi,
   dy/dyi = xi */
static double dot_fwd (int n, const double *x) {
  double s = 0.0;
  int i;
  for (i = 0; i + 1 < n; i += 2) s += x[i] * x[i + 1];
  return s;
}
static void dot_bwd (int n, const double *x, double y, double g, double *dx) {
  int i;
  UNUSED(y);
  for (i = 0; i + 1 < n; i += 2) {
    dx[i] = g * x[i + 1];
    dx[i + 1] = g * x[i];
  }
}
static void dot_build (lgI_Builder *B) {
  int i, end;
  for (i = FIRSTWANTED(B), end = ENDWANTED(B); i < end; i++)
    B->dx(B, i, B->apply(B, LGI_MUL, B->grad(B), B->arg(B, i ^ 1)));
}

/* sign: y = 1 for a > 0, -1 for a < 0, a itself for 0, -0 and NaN; dy/da = 0 (a mask) */
static double sign_fwd (int n, const double *x) {
  UNUSED(n);
  return (x[0] > 0.0) ? 1.0 : (x[0] < 0.0) ? -1.0 : x[0];
}
FWDLOOP(sign, 1)
/* the derivative of every mask op: zero for each argument */
static void zero_bwd (int n, const double *x, double y, double g, double *dx) {
  int i;
  UNUSED(x); UNUSED(y); UNUSED(g);
  for (i = 0; i < n; i++) dx[i] = 0.0;
}
static void zero_build (lgI_Builder *B) { UNUSED(B); }

/* where: y = a where c is nonzero (NaN counts as nonzero), else b; dy/dc = 0,
   dy/da = 1 where c, else 0; dy/db = the other way round */
static double where_fwd (int n, const double *x) { UNUSED(n); return (x[0] != 0.0) ? x[1] : x[2]; }
static void where_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = 0.0;
  dx[1] = (x[0] != 0.0) ? g : 0.0;
  dx[2] = (x[0] != 0.0) ? 0.0 : g;
}
FASTLOOPS(where, 3)
static void where_build (lgI_Builder *B) {
  int c = B->arg(B, 0);
  if (WANTS(B, 1)) B->dx(B, 1, WHERE(B, c, B->grad(B), ZERO(B)));
  if (WANTS(B, 2)) B->dx(B, 2, WHERE(B, c, ZERO(B), B->grad(B)));
}

/* gt, lt, ge, le, eq, ne: y = 1 if the comparison holds, else 0 (false with a NaN, but for
   ne); dy/da = dy/db = 0 (masks) */
static double gt_fwd (int n, const double *x) { UNUSED(n); return x[0] > x[1]; }
static double lt_fwd (int n, const double *x) { UNUSED(n); return x[0] < x[1]; }
static double ge_fwd (int n, const double *x) { UNUSED(n); return x[0] >= x[1]; }
static double le_fwd (int n, const double *x) { UNUSED(n); return x[0] <= x[1]; }
static double eq_fwd (int n, const double *x) { UNUSED(n); return x[0] == x[1]; }
static double ne_fwd (int n, const double *x) { UNUSED(n); return x[0] != x[1]; }
FWDLOOP(gt, 2) FWDLOOP(lt, 2) FWDLOOP(ge, 2) FWDLOOP(le, 2) FWDLOOP(eq, 2) FWDLOOP(ne, 2)

/* log1p: y = ln(1 + a), exact for small a (libm's); dy/da = 1/(1 + a), as PyTorch's
   (+inf at -1; NaN below -1 in value, -1/|1 + a| in derivative, as the formula gives) */
static double log1p_fwd (int n, const double *x) { UNUSED(n); return log1p(x[0]); }
static void log1p_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g / (x[0] + 1.0);
}
FASTLOOPS(log1p, 1)
static void log1p_build (lgI_Builder *B) {
  int a1 = B->apply(B, LGI_ADD, B->arg(B, 0), B->num(B, 1.0));
  B->dx(B, 0, B->apply(B, LGI_DIV, B->grad(B), a1));
}

/* expm1: y = e^a - 1, exact for small a (libm's); dy/da = e^a. Not y + 1 (PyTorch's), which
   has lost every digit below a = -37: expm1'(-40) is 4.2e-18, not 0 */
static double expm1_fwd (int n, const double *x) { UNUSED(n); return expm1(x[0]); }
static void expm1_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g * exp(x[0]);
}
FASTLOOPS(expm1, 1)
static void expm1_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_EXP, B->arg(B, 0), 0)));
}

/* softplus: y = ln(1 + e^a), as PyTorch's (beta 1, threshold 20): a itself for a > 20,
   where ln(1 + e^a) - a < 2.1e-9 and e^a heads for overflow, else log1p(exp(a)), which
   underflows to 0 gracefully on the left; dy/da = 1 for a > 20, else sigmoid(a) */
#define SOFTPLUS_LINEAR 20.0
static double softplus_fwd (int n, const double *x) {
  UNUSED(n);
  return (x[0] > SOFTPLUS_LINEAR) ? x[0] : log1p(exp(x[0]));
}
static void softplus_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(y);
  dx[0] = (x[0] > SOFTPLUS_LINEAR) ? g : g * sigmoid_fwd(n, x);
}
FASTLOOPS(softplus, 1)
static void softplus_build (lgI_Builder *B) {   /* where(a > 20, g, g * sigmoid(a)) */
  int a = B->arg(B, 0), g = B->grad(B);
  int linear = B->apply(B, LGI_GT, a, B->num(B, SOFTPLUS_LINEAR));
  int d = B->apply(B, LGI_MUL, g, B->apply(B, LGI_SIGMOID, a, 0));
  B->dx(B, 0, WHERE(B, linear, g, d));
}

/* square: y = a * a; dy/da = 2a */
static double square_fwd (int n, const double *x) { UNUSED(n); return x[0] * x[0]; }
static void square_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g * (2.0 * x[0]);
}
FASTLOOPS(square, 1)
static void square_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_MUL, B->num(B, 2.0),
                                                        B->arg(B, 0))));
}

/*
** clamp: y = min(max(a, lo), hi), so hi where lo > hi; NaN if any argument is NaN; a itself
** on a tie (clamp(-0, 0, 1) is -0). PyTorch's derivatives (its clamp with tensor bounds):
** dy/da = 1 where lo <= a <= hi, the bounds included, else 0; dy/dlo = 1 where a < lo < hi;
** dy/dhi = 1 where a > hi or hi < lo; so none at all where a < lo = hi, nor with a NaN. The
** binding stands -inf and +inf for a bound left out (nil): a one-sided clamp.
*/
static double clamp_fwd (int n, const double *x) {
  double a = x[0], lo = x[1], hi = x[2], y;
  UNUSED(n);
  if (a != a || lo != lo || hi != hi) return a + lo + hi;   /* a NaN: NaN */
  y = (a < lo) ? lo : a;
  return (hi < y) ? hi : y;
}
static void clamp_bwd (int n, const double *x, double y, double g, double *dx) {
  double a = x[0], lo = x[1], hi = x[2];
  UNUSED(n); UNUSED(y);
  dx[0] = (a >= lo && a <= hi) ? g : 0.0;
  dx[1] = (a < lo && lo < hi) ? g : 0.0;
  dx[2] = (a > hi || hi < lo) ? g : 0.0;
}
FASTLOOPS(clamp, 3)
static void clamp_build (lgI_Builder *B) {
  int a = B->arg(B, 0), lo = B->arg(B, 1), hi = B->arg(B, 2), g = B->grad(B);
  if (WANTS(B, 0)) {   /* where(a >= lo, where(a <= hi, g, 0), 0) */
    int below = WHERE(B, B->apply(B, LGI_LE, a, hi), g, ZERO(B));
    B->dx(B, 0, WHERE(B, B->apply(B, LGI_GE, a, lo), below, ZERO(B)));
  }
  if (WANTS(B, 1)) {   /* where(a < lo, where(lo < hi, g, 0), 0) */
    int open = WHERE(B, B->apply(B, LGI_LT, lo, hi), g, ZERO(B));
    B->dx(B, 1, WHERE(B, B->apply(B, LGI_LT, a, lo), open, ZERO(B)));
  }
  if (WANTS(B, 2)) {   /* where(a > hi, g, where(hi < lo, g, 0)) */
    int crossed = WHERE(B, B->apply(B, LGI_LT, hi, lo), g, ZERO(B));
    B->dx(B, 2, WHERE(B, B->apply(B, LGI_GT, a, hi), g, crossed));
  }
}

/* leaky_relu: y = a for a > 0, else s * a (the binding's default slope s is 0.01, as
   PyTorch's); NaN stays NaN, -0 stays -0. dy/da = 1 for a > 0, else s (s at 0, as
   PyTorch); dy/ds = 0 for a > 0, else a (PyTorch's slope is a constant, with none) */
static double leaky_relu_fwd (int n, const double *x) {
  UNUSED(n);
  return (x[0] > 0.0) ? x[0] : x[0] * x[1];
}
static void leaky_relu_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] > 0.0) ? g : g * x[1];
  dx[1] = (x[0] > 0.0) ? 0.0 : g * x[0];
}
FASTLOOPS(leaky_relu, 2)
/* where(a > 0, g, g * s) and where(a > 0, 0, g * a) */
static void leaky_relu_build (lgI_Builder *B) {
  int a = B->arg(B, 0), s = B->arg(B, 1), g = B->grad(B);
  int pos = B->apply(B, LGI_GT, a, ZERO(B));
  if (WANTS(B, 0)) B->dx(B, 0, WHERE(B, pos, g, B->apply(B, LGI_MUL, g, s)));
  if (WANTS(B, 1)) B->dx(B, 1, WHERE(B, pos, ZERO(B), B->apply(B, LGI_MUL, g, a)));
}

const lg_OpDef lgI_ops[LGI_NOPS] = {
  /*                name       lua name   metamethod arity          forward      backward      build */
  [LGI_LEAF] =     {"leaf",   NULL,      NULL,      0,             leaf_fwd,    leaf_bwd,     leaf_build,
                    NULL, NULL},
  [LGI_ADD] =      {"+",      NULL,      "__add",   2,             add_fwd,     add_bwd,      add_build,
                    add_fwdv, add_bwdv},
  [LGI_SUB] =      {"-",      NULL,      "__sub",   2,             sub_fwd,     sub_bwd,      sub_build,
                    sub_fwdv, sub_bwdv},
  [LGI_MUL] =      {"*",      NULL,      "__mul",   2,             mul_fwd,     mul_bwd,      mul_build,
                    mul_fwdv, mul_bwdv},
  [LGI_DIV] =      {"/",      NULL,      "__div",   2,             div_fwd,     div_bwd,      div_build,
                    div_fwdv, div_bwdv},
  [LGI_POW] =      {"^",      "pow",     "__pow",   2,             pow_fwd,     pow_bwd,      pow_build,
                    pow_fwdv, pow_bwdv},
  [LGI_NEG] =      {"neg",    NULL,      "__unm",   1,             neg_fwd,     neg_bwd,      neg_build,
                    neg_fwdv, neg_bwdv},
  [LGI_EXP] =      {"exp",    "exp",     NULL,      1,             exp_fwd,     exp_bwd,      exp_build,
                    exp_fwdv, exp_bwdv},
  [LGI_LOG] =      {"log",    "log",     NULL,      1,             log_fwd,     log_bwd,      log_build,
                    log_fwdv, log_bwdv},
  [LGI_SQRT] =     {"sqrt",   "sqrt",    NULL,      1,             sqrt_fwd,    sqrt_bwd,     sqrt_build,
                    sqrt_fwdv, sqrt_bwdv},
  [LGI_SIN] =      {"sin",    "sin",     NULL,      1,             sin_fwd,     sin_bwd,      sin_build,
                    sin_fwdv, sin_bwdv},
  [LGI_COS] =      {"cos",    "cos",     NULL,      1,             cos_fwd,     cos_bwd,      cos_build,
                    cos_fwdv, cos_bwdv},
  [LGI_TAN] =      {"tan",    "tan",     NULL,      1,             tan_fwd,     tan_bwd,      tan_build,
                    tan_fwdv, tan_bwdv},
  [LGI_TANH] =     {"tanh",   "tanh",    NULL,      1,             tanh_fwd,    tanh_bwd,     tanh_build,
                    tanh_fwdv, tanh_bwdv},
  [LGI_SIGMOID] =  {"sigmoid", "sigmoid", NULL,      1,             sigmoid_fwd, sigmoid_bwd,  sigmoid_build,
                    sigmoid_fwdv, sigmoid_bwdv},
  [LGI_RELU] =     {"relu",   "relu",    NULL,      1,             relu_fwd,    relu_bwd,     relu_build,
                    relu_fwdv, relu_bwdv},
  [LGI_ABS] =      {"abs",    "abs",     NULL,      1,             abs_fwd,     abs_bwd,      abs_build,
                    abs_fwdv, abs_bwdv},
  [LGI_MAX] =      {"max",    "max",     NULL,      2,             max_fwd,     max_bwd,      max_build,
                    max_fwdv, max_bwdv},
  [LGI_MIN] =      {"min",    "min",     NULL,      2,             min_fwd,     min_bwd,      min_build,
                    min_fwdv, min_bwdv},
  [LGI_SUM] =      {"sum",    "sum",     NULL,      LGI_VARIADIC,  sum_fwd,     sum_bwd,      sum_build,
                    NULL, NULL},
  [LGI_DOT] =      {"dot",    "dot",     NULL,      LGI_PAIRS,     dot_fwd,     dot_bwd,      dot_build,
                    NULL, NULL},
  [LGI_SIGN] =     {"sign",   "sign",    NULL,      1,             sign_fwd,    zero_bwd,     zero_build,
                    sign_fwdv, NULL},
  [LGI_WHERE] =    {"where",  "where",   NULL,      3,             where_fwd,   where_bwd,    where_build,
                    where_fwdv, where_bwdv},
  [LGI_GT] =       {"gt",     "gt",      NULL,      2,             gt_fwd,      zero_bwd,     zero_build,
                    gt_fwdv, NULL},
  [LGI_LT] =       {"lt",     "lt",      NULL,      2,             lt_fwd,      zero_bwd,     zero_build,
                    lt_fwdv, NULL},
  [LGI_GE] =       {"ge",     "ge",      NULL,      2,             ge_fwd,      zero_bwd,     zero_build,
                    ge_fwdv, NULL},
  [LGI_LE] =       {"le",     "le",      NULL,      2,             le_fwd,      zero_bwd,     zero_build,
                    le_fwdv, NULL},
  [LGI_EQ] =       {"eq",     "eq",      NULL,      2,             eq_fwd,      zero_bwd,     zero_build,
                    eq_fwdv, NULL},
  [LGI_NE] =       {"ne",     "ne",      NULL,      2,             ne_fwd,      zero_bwd,     zero_build,
                    ne_fwdv, NULL},
  [LGI_LOG1P] =    {"log1p",  "log1p",   NULL,      1,             log1p_fwd,   log1p_bwd,    log1p_build,
                    log1p_fwdv, log1p_bwdv},
  [LGI_EXPM1] =    {"expm1",  "expm1",   NULL,      1,             expm1_fwd,   expm1_bwd,    expm1_build,
                    expm1_fwdv, expm1_bwdv},
  [LGI_SOFTPLUS] = {"softplus", "softplus", NULL,    1,             softplus_fwd, softplus_bwd, softplus_build,
                    softplus_fwdv, softplus_bwdv},
  [LGI_SQUARE] =   {"square", "square",  NULL,      1,             square_fwd,  square_bwd,   square_build,
                    square_fwdv, square_bwdv},
  [LGI_CLAMP] =    {"clamp",  "clamp",   NULL,      3,             clamp_fwd,   clamp_bwd,    clamp_build,
                    clamp_fwdv, clamp_bwdv},
  [LGI_LEAKY_RELU] = {"leaky_relu", "leaky_relu", NULL, 2,         leaky_relu_fwd, leaky_relu_bwd,
                      leaky_relu_build, leaky_relu_fwdv, leaky_relu_bwdv},
};

const int lgI_nops = LGI_NOPS;

void lgI_forward (lg_Value *v, double *x) {
  uint32_t i;
  for (i = 0; i < v->n; i++) x[i] = lgI_argdata(v, i);
  v->data = lgI_ops[v->op].forward((int)v->n, x);
}
