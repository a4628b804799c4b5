/*
** ops.c: every operation, its value and its derivative side by side, and the op table.
** Adding an op is one block here (its value, its derivative, and that derivative again built
** from ops, so that it can be differentiated in turn) plus one row in lgI_ops and its name in
** lg_core.h's enum: the binding makes lg.<name> and v:<name>() from the row, and the
** graph printer reads its name.
**
** Conventions at non-differentiable points follow PyTorch: relu'(0) = 0, abs'(0) = 0, a tie
** in max/min splits the gradient equally, sqrt'(0) = +inf, d/dx x^0 = 0 even at x = 0, and
** d/dy x^y = 0 where x = 0 and y >= 0. Outside the domain the result is NaN, as C gives.
*/
#include <math.h>
#include "core/lg_core.h"

#define UNUSED(x) ((void)(x))
#define WANTS(B, i) ((B)->want < 0 || (B)->want == (i))
/* the arguments an n-ary build visits: all, or just the wanted one (forward mode asks for
   one argument at a time, so a loop over all would make it quadratic) */
#define FIRSTWANTED(B) ((B)->want < 0 ? 0 : (B)->want)
#define ENDWANTED(B) ((B)->want < 0 ? (B)->n : (B)->want + 1)

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
static void pow_build (lgI_Builder *B) {
  int a = B->arg(B, 0), b = B->arg(B, 1);
  if (WANTS(B, 0) && B->x[1] != 0.0) {
    int gb = B->apply(B, LGI_MUL, B->grad(B), b);
    int bm1 = B->apply(B, LGI_SUB, b, B->num(B, 1.0));
    B->dx(B, 0, B->apply(B, LGI_MUL, gb, B->apply(B, LGI_POW, a, bm1)));
  }
  if (WANTS(B, 1) && !(B->x[0] == 0.0 && B->x[1] >= 0.0)) {
    int gy = B->apply(B, LGI_MUL, B->grad(B), B->out(B));
    B->dx(B, 1, B->apply(B, LGI_MUL, gy, B->apply(B, LGI_LOG, a, 0)));
  }
}

/* neg: y = -a; dy/da = -1 */
static double neg_fwd (int n, const double *x) { UNUSED(n); return -x[0]; }
static void neg_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x); UNUSED(y);
  dx[0] = -g;
}
static void neg_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_NEG, B->grad(B), 0));
}

/* exp: y = e^a; dy/da = y */
static double exp_fwd (int n, const double *x) { UNUSED(n); return exp(x[0]); }
static void exp_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * y;
}
static void exp_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->out(B)));
}

/* log: y = ln a; dy/da = 1/a (log 0 = -inf, log of a negative number = NaN) */
static double log_fwd (int n, const double *x) { UNUSED(n); return log(x[0]); }
static void log_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = g / x[0];
}
static void log_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_DIV, B->grad(B), B->arg(B, 0)));
}

/* sqrt: y = sqrt(a); dy/da = 1/(2y), +inf at 0 */
static double sqrt_fwd (int n, const double *x) { UNUSED(n); return sqrt(x[0]); }
static void sqrt_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * (0.5 / y);  /* 0.5/0 = +inf; g*inf, as PyTorch */
}
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
static void sin_build (lgI_Builder *B) {
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_COS, B->arg(B, 0), 0)));
}

/* cos: y = cos a; dy/da = -sin a */
static double cos_fwd (int n, const double *x) { UNUSED(n); return cos(x[0]); }
static void cos_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = -g * sin(x[0]);
}
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
static void tan_build (lgI_Builder *B) {
  int yy = B->apply(B, LGI_MUL, B->out(B), B->out(B));
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_ADD, B->num(B, 1.0), yy)));
}

/* tanh: y = tanh a; dy/da = 1 - y^2 (reuses y, as Stan's exp reuses exp(x)) */
static double tanh_fwd (int n, const double *x) { UNUSED(n); return tanh(x[0]); }
static void tanh_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * (1.0 - y * y);
}
static void tanh_build (lgI_Builder *B) {
  int yy = B->apply(B, LGI_MUL, B->out(B), B->out(B));
  B->dx(B, 0, B->apply(B, LGI_MUL, B->grad(B), B->apply(B, LGI_SUB, B->num(B, 1.0), yy)));
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
static void sigmoid_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(x);
  dx[0] = g * y * (1.0 - y);
}
static void sigmoid_build (lgI_Builder *B) {
  int gy = B->apply(B, LGI_MUL, B->grad(B), B->out(B));
  int rest = B->apply(B, LGI_SUB, B->num(B, 1.0), B->out(B));
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
static void relu_build (lgI_Builder *B) {
  if (B->x[0] > 0.0) B->dx(B, 0, B->grad(B));
}

/* abs: y = |a|; dy/da = sign(a), 0 at 0 */
static double abs_fwd (int n, const double *x) { UNUSED(n); return fabs(x[0]); }
static void abs_bwd (int n, const double *x, double y, double g, double *dx) {
  UNUSED(n); UNUSED(y);
  dx[0] = (x[0] > 0.0) ? g : (x[0] < 0.0) ? -g : 0.0;
}
static void abs_build (lgI_Builder *B) {
  if (B->x[0] > 0.0) B->dx(B, 0, B->grad(B));
  else if (B->x[0] < 0.0) B->dx(B, 0, B->apply(B, LGI_NEG, B->grad(B), 0));
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
/* max and min: the gradient to the chosen argument, or half to each on a tie */
static void select_build (lgI_Builder *B, int first) {
  if (B->x[0] == B->x[1]) {
    int half = B->apply(B, LGI_MUL, B->num(B, 0.5), B->grad(B));
    B->dx(B, 0, half);
    B->dx(B, 1, half);
  }
  else if (B->x[0] == B->x[0] && B->x[1] == B->x[1]) B->dx(B, first ? 0 : 1, B->grad(B));
}
static void max_build (lgI_Builder *B) { select_build(B, B->x[0] > B->x[1]); }

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
static void min_build (lgI_Builder *B) { select_build(B, B->x[0] < B->x[1]); }

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

const lg_OpDef lgI_ops[LGI_NOPS] = {
  /*                name       lua name   metamethod arity          forward      backward      build */
  [LGI_LEAF] =     {"leaf",   NULL,      NULL,      0,             leaf_fwd,    leaf_bwd,     leaf_build},
  [LGI_ADD] =      {"+",      NULL,      "__add",   2,             add_fwd,     add_bwd,      add_build},
  [LGI_SUB] =      {"-",      NULL,      "__sub",   2,             sub_fwd,     sub_bwd,      sub_build},
  [LGI_MUL] =      {"*",      NULL,      "__mul",   2,             mul_fwd,     mul_bwd,      mul_build},
  [LGI_DIV] =      {"/",      NULL,      "__div",   2,             div_fwd,     div_bwd,      div_build},
  [LGI_POW] =      {"^",      "pow",     "__pow",   2,             pow_fwd,     pow_bwd,      pow_build},
  [LGI_NEG] =      {"neg",    NULL,      "__unm",   1,             neg_fwd,     neg_bwd,      neg_build},
  [LGI_EXP] =      {"exp",    "exp",     NULL,      1,             exp_fwd,     exp_bwd,      exp_build},
  [LGI_LOG] =      {"log",    "log",     NULL,      1,             log_fwd,     log_bwd,      log_build},
  [LGI_SQRT] =     {"sqrt",   "sqrt",    NULL,      1,             sqrt_fwd,    sqrt_bwd,     sqrt_build},
  [LGI_SIN] =      {"sin",    "sin",     NULL,      1,             sin_fwd,     sin_bwd,      sin_build},
  [LGI_COS] =      {"cos",    "cos",     NULL,      1,             cos_fwd,     cos_bwd,      cos_build},
  [LGI_TAN] =      {"tan",    "tan",     NULL,      1,             tan_fwd,     tan_bwd,      tan_build},
  [LGI_TANH] =     {"tanh",   "tanh",    NULL,      1,             tanh_fwd,    tanh_bwd,     tanh_build},
  [LGI_SIGMOID] =  {"sigmoid", "sigmoid", NULL,      1,             sigmoid_fwd, sigmoid_bwd,  sigmoid_build},
  [LGI_RELU] =     {"relu",   "relu",    NULL,      1,             relu_fwd,    relu_bwd,     relu_build},
  [LGI_ABS] =      {"abs",    "abs",     NULL,      1,             abs_fwd,     abs_bwd,      abs_build},
  [LGI_MAX] =      {"max",    "max",     NULL,      2,             max_fwd,     max_bwd,      max_build},
  [LGI_MIN] =      {"min",    "min",     NULL,      2,             min_fwd,     min_bwd,      min_build},
  [LGI_SUM] =      {"sum",    "sum",     NULL,      LGI_VARIADIC,  sum_fwd,     sum_bwd,      sum_build},
  [LGI_DOT] =      {"dot",    "dot",     NULL,      LGI_PAIRS,     dot_fwd,     dot_bwd,      dot_build},
};

const int lgI_nops = LGI_NOPS;

void lgI_forward (lg_Value *v, double *x) {
  uint32_t i;
  for (i = 0; i < v->n; i++) x[i] = lgI_argdata(v, i);
  v->data = lgI_ops[v->op].forward((int)v->n, x);
}
