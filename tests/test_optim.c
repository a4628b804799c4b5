/*
** test_optim.c: the update loops of the core (src/core/lg_optim.h) without Lua, against the
** formulas worked by hand: SGD's first momentum step (the buffer takes the gradient),
** dampening and nesterov; Adam's bias corrections, its coupled and decoupled weight decay,
** amsgrad's running maximum keeping a NaN; RMSprop centered with momentum; and float32
** buffers computed in float. spec/optim_spec.lua checks them against torch.optim.
*/
#include "luagrad.h"   /* first: the header must compile on its own */

#include <math.h>
#include <stdio.h>
#include "core/lg_optim.h"

static int failures = 0, checks = 0;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define NEAR(a, b) CHECK(fabs((a) - (b)) <= 1e-15 * fabs(b) + 1e-300)

static void check (int ok, const char *what, const char *file, int line) {
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  }
}

static void sgd (void) {
  double p[2] = {1, -2}, g[2] = {0.5, 1}, buf[2] = {0, 0};
  lg_SgdHyper h = {0.1, 0.9, 0.25, 0.1, 0, 1};
  lgI_sgd(LGI_F64, 2, p, g, buf, &h);   /* first: buf = d = g + 0.1 p */
  NEAR(buf[0], 0.5 + 0.1 * 1);
  NEAR(p[0], 1 + -0.1 * (0.5 + 0.1 * 1));
  h.first = 0;
  {
    double d = 0.5 + 0.1 * p[0], b = buf[0] * 0.9 + 0.75 * d, x = p[0];
    lgI_sgd(LGI_F64, 2, p, g, buf, &h);
    NEAR(buf[0], b);
    NEAR(p[0], x + -0.1 * b);
  }
  {
    double q[1] = {3}, gq[1] = {2}, bq[1] = {1};
    lg_SgdHyper n = {0.5, 0.5, 0, 0, 1, 0};   /* nesterov: d + momentum buf */
    lgI_sgd(LGI_F64, 1, q, gq, bq, &n);
    NEAR(bq[0], 1 * 0.5 + 1 * 2);
    NEAR(q[0], 3 + -0.5 * (2 + 0.5 * 2.5));
  }
}

static void adam (void) {
  double p[2] = {1, 2}, g[2] = {0.5, NAN}, m[2] = {0, 0}, v[2] = {0, 0}, vm[2] = {0, 0};
  lg_AdamHyper h = {0.1, 0.9, 0.999, 1e-8, 0, 1, 1, 0};
  lgI_adam(LGI_F64, 2, p, g, m, v, vm, &h);
  NEAR(m[0], 0.1 * 0.5);
  NEAR(v[0], (0.0010000000000000009 * 0.5) * 0.5);
  /* step 1: m / (1 - 0.9) over sqrt(v) / sqrt(1 - 0.999): the sign of g times lr */
  CHECK(fabs(p[0] - (1 - 0.1)) < 1e-7);
  CHECK(isnan(vm[1]) && isnan(p[1]));
  {
    double q[1] = {2}, gq[1] = {0}, mq[1] = {0}, vq[1] = {0};
    lg_AdamHyper w = {0.1, 0.9, 0.999, 1e-8, 0.5, 1, 0, 1};   /* AdamW: 2 (1 - 0.05) */
    lgI_adam(LGI_F64, 1, q, gq, mq, vq, NULL, &w);
    NEAR(q[0], 2 * (1 - 0.1 * 0.5));
    w.decoupled = 0;   /* Adam: the decay joins the gradient, then the step is lr */
    q[0] = 2; mq[0] = vq[0] = 0;
    lgI_adam(LGI_F64, 1, q, gq, mq, vq, NULL, &w);
    CHECK(fabs(q[0] - 1.9) < 1e-7);
  }
}

static void rmsprop (void) {
  double p[1] = {1}, g[1] = {2}, sq[1] = {0}, ga[1] = {0}, b[1] = {0};
  lg_RmspropHyper h = {0.01, 0.9, 1e-8, 0, 0.5, 1};
  double s = (0.09999999999999998 * 2) * 2, a = 0.09999999999999998 * 2;
  double avg = sqrt(s + (-1 * a) * a) + 1e-8;
  lgI_rmsprop(LGI_F64, 1, p, g, sq, ga, b, &h);
  NEAR(sq[0], s);
  NEAR(ga[0], a);
  NEAR(b[0], 2 / avg);
  NEAR(p[0], 1 + -0.01 * (2 / avg));
}

static void float32 (void) {
  float p[1] = {1}, g[1] = {0.3f}, m[1] = {0}, v[1] = {0};
  lg_AdamHyper h = {0.1, 0.9, 0.999, 1e-8, 0, 1, 0, 0};
  float mi = 0.0f * 0.9f + (float)(1.0 - 0.9) * 0.3f;
  float vi = 0.0f * 0.999f + ((float)(1.0 - 0.999) * 0.3f) * 0.3f;
  float want = 1.0f + ((float)-(0.1 / (1 - 0.9)) * mi) /
               (sqrtf(vi) / (float)sqrt(1 - 0.999) + (float)1e-8);
  lgI_adam(LGI_F32, 1, p, g, m, v, NULL, &h);
  CHECK(m[0] == mi && v[0] == vi);
  CHECK(p[0] == want);
}

int main (void) {
  sgd();
  adam();
  rmsprop();
  float32();
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
