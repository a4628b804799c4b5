/*
** optim.c: the update loops of luagrad.optim (lg_optim.h says what each computes). One
** body per optimizer, instantiated for double and float: a loop over n contiguous
** elements, each element's update written in PyTorch's order of operations (its add with
** alpha is a + alpha b, addcmul a + (s b) c, addcdiv a + (s b) / c).
*/
#include <math.h>

#include "core/lg_optim.h"

/* torch.maximum: the larger, NaN if either is NaN */
#define TMAX(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))

#define SGD_BODY(T, SQRT) {                                                          \
  T *restrict P = (T *)p, *restrict B = (T *)buf;                                    \
  const T *restrict G = (const T *)g;                                                \
  const T lr = (T)-h->lr, wd = (T)h->weight_decay, mom = (T)h->momentum;             \
  const T damp = (T)(1.0 - h->dampening);                                            \
  int64_t i;                                                                         \
  (void)SQRT;                                                                        \
  for (i = 0; i < n; i++) {                                                          \
    T d = G[i];                                                                      \
    if (h->weight_decay != 0) d = d + wd * P[i];                                     \
    if (h->momentum != 0) {                                                          \
      T b = h->first ? d : B[i] * mom + damp * d;                                    \
      B[i] = b;                                                                      \
      d = h->nesterov ? d + mom * b : b;                                             \
    }                                                                                \
    P[i] = P[i] + lr * d;                                                            \
  }                                                                                  \
}

static void sgd64 (int64_t n, void *p, const void *g, void *buf, const lg_SgdHyper *h)
  SGD_BODY(double, sqrt)
static void sgd32 (int64_t n, void *p, const void *g, void *buf, const lg_SgdHyper *h)
  SGD_BODY(float, sqrtf)

void lgI_sgd (int dtype, int64_t n, void *p, const void *g, void *buf, const lg_SgdHyper *h) {
  if (dtype == LGI_F32) sgd32(n, p, g, buf, h);
  else sgd64(n, p, g, buf, h);
}

/* the update in two loops, with and without amsgrad, so that the common one has no test */
#define ADAM_BODY(T, SQRT) {                                                         \
  T *restrict P = (T *)p, *restrict M = (T *)m, *restrict V = (T *)v;                \
  T *restrict VM = (T *)vmax;                                                        \
  const T *restrict G = (const T *)g;                                                \
  const double bc1 = 1.0 - pow(h->beta1, h->step), bc2 = 1.0 - pow(h->beta2, h->step); \
  const T b1 = (T)h->beta1, c1 = (T)(1.0 - h->beta1);                                \
  const T b2 = (T)h->beta2, c2 = (T)(1.0 - h->beta2);                                \
  const T nstep = (T)-(h->lr / bc1), bc2s = (T)sqrt(bc2), eps = (T)h->eps;           \
  const T wd = (T)h->weight_decay, decay = (T)(1.0 - h->lr * h->weight_decay);       \
  const int couple = !h->decoupled && h->weight_decay != 0;                          \
  const int scale = h->decoupled;                                                    \
  int64_t i;                                                                         \
  if (!h->amsgrad) {                                                                 \
    for (i = 0; i < n; i++) {                                                        \
      T x = P[i], d = G[i], mi, vi;                                                  \
      if (scale) x = x * decay;                                                      \
      if (couple) d = d + wd * x;                                                    \
      mi = M[i] * b1; mi = mi + c1 * d; M[i] = mi;                                   \
      vi = V[i] * b2; vi = vi + (c2 * d) * d; V[i] = vi;                             \
      P[i] = x + (nstep * mi) / (SQRT(vi) / bc2s + eps);                             \
    }                                                                                \
  }                                                                                  \
  else {                                                                             \
    for (i = 0; i < n; i++) {                                                        \
      T x = P[i], d = G[i], mi, vi, mx;                                              \
      if (scale) x = x * decay;                                                      \
      if (couple) d = d + wd * x;                                                    \
      mi = M[i] * b1; mi = mi + c1 * d; M[i] = mi;                                   \
      vi = V[i] * b2; vi = vi + (c2 * d) * d; V[i] = vi;                             \
      mx = TMAX(VM[i], vi); VM[i] = mx;                                              \
      P[i] = x + (nstep * mi) / (SQRT(mx) / bc2s + eps);                             \
    }                                                                                \
  }                                                                                  \
}

static void adam64 (int64_t n, void *p, const void *g, void *m, void *v, void *vmax,
                    const lg_AdamHyper *h)
  ADAM_BODY(double, sqrt)
static void adam32 (int64_t n, void *p, const void *g, void *m, void *v, void *vmax,
                    const lg_AdamHyper *h)
  ADAM_BODY(float, sqrtf)

void lgI_adam (int dtype, int64_t n, void *p, const void *g, void *m, void *v, void *vmax,
               const lg_AdamHyper *h) {
  if (dtype == LGI_F32) adam32(n, p, g, m, v, vmax, h);
  else adam64(n, p, g, m, v, vmax, h);
}

#define RMSPROP_BODY(T, SQRT) {                                                      \
  T *restrict P = (T *)p, *restrict S = (T *)sq, *restrict A = (T *)ga;              \
  T *restrict B = (T *)buf;                                                          \
  const T *restrict G = (const T *)g;                                                \
  const T al = (T)h->alpha, c = (T)(1.0 - h->alpha), eps = (T)h->eps;                \
  const T wd = (T)h->weight_decay, mom = (T)h->momentum, lr = (T)-h->lr;             \
  int64_t i;                                                                         \
  for (i = 0; i < n; i++) {                                                          \
    T d = G[i], s, avg;                                                              \
    if (h->weight_decay != 0) d = d + wd * P[i];                                     \
    s = S[i] * al; s = s + (c * d) * d; S[i] = s;                                    \
    if (h->centered) {                                                               \
      T a = A[i] * al; a = a + c * d; A[i] = a;                                      \
      avg = SQRT(s + ((T)-1 * a) * a);                                               \
    }                                                                                \
    else avg = SQRT(s);                                                              \
    avg = avg + eps;                                                                 \
    if (h->momentum > 0) {                                                           \
      T b = B[i] * mom; b = b + ((T)1 * d) / avg; B[i] = b;                          \
      P[i] = P[i] + lr * b;                                                          \
    }                                                                                \
    else P[i] = P[i] + (lr * d) / avg;                                               \
  }                                                                                  \
}

static void rmsprop64 (int64_t n, void *p, const void *g, void *sq, void *ga, void *buf,
                       const lg_RmspropHyper *h)
  RMSPROP_BODY(double, sqrt)
static void rmsprop32 (int64_t n, void *p, const void *g, void *sq, void *ga, void *buf,
                       const lg_RmspropHyper *h)
  RMSPROP_BODY(float, sqrtf)

void lgI_rmsprop (int dtype, int64_t n, void *p, const void *g, void *sq, void *ga,
                  void *buf, const lg_RmspropHyper *h) {
  if (dtype == LGI_F32) rmsprop32(n, p, g, sq, ga, buf, h);
  else rmsprop64(n, p, g, sq, ga, buf, h);
}
