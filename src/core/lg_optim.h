/*
** lg_optim.h: the update loops of luagrad.optim (optim.c), on flat contiguous buffers of one
** dtype (LGI_F64: double, LGI_F32: float). Each follows the formulas of PyTorch 1.13's
** torch/optim, operation by operation in the same order, so that the same gradients give
** the same parameters to rounding; float32 buffers are computed in float with the
** hyperparameters rounded to float, as PyTorch's CPU kernels do. The caller (the binding)
** computes the per-step scalars (bias corrections) and checks sizes; nothing here fails.
*/
#ifndef LG_OPTIM_H
#define LG_OPTIM_H

#include <stdint.h>
#include "core/lg_tensor.h"

/* SGD: d = g + weight_decay p; with momentum, buf = d on the first step (first != 0), else
   buf = momentum buf + (1 - dampening) d, and d = d + momentum buf (nesterov) or buf;
   p = p - lr d. buf may be NULL when momentum is 0. */
typedef struct lg_SgdHyper {
  double lr, momentum, dampening, weight_decay;
  int nesterov, first;
} lg_SgdHyper;
LGI_FUNC void lgI_sgd (int dtype, int64_t n, void *p, const void *g, void *buf,
                       const lg_SgdHyper *h);

/* Adam and AdamW at step `step` (already counted, >= 1): AdamW (decoupled) first scales p
   by 1 - lr weight_decay, Adam adds weight_decay p to g; m = beta1 m + (1 - beta1) g,
   v = beta2 v + (1 - beta2) g g, with amsgrad vmax = max(vmax, v) (NaN propagates) used for
   v; p = p - (lr / (1 - beta1^step)) m / (sqrt(v) / sqrt(1 - beta2^step) + eps). vmax is
   NULL without amsgrad. */
typedef struct lg_AdamHyper {
  double lr, beta1, beta2, eps, weight_decay, step;
  int amsgrad, decoupled;
} lg_AdamHyper;
LGI_FUNC void lgI_adam (int dtype, int64_t n, void *p, const void *g, void *m, void *v,
                        void *vmax, const lg_AdamHyper *h);

/* RMSprop: d = g + weight_decay p; sq = alpha sq + (1 - alpha) d d; centered: ga = alpha ga
   + (1 - alpha) d and avg = sqrt(sq - ga ga), else sqrt(sq); avg += eps; with momentum,
   buf = momentum buf + d / avg and p = p - lr buf, else p = p - lr d / avg. ga (centered
   only) and buf (momentum > 0 only) may be NULL otherwise. */
typedef struct lg_RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  int centered;
} lg_RmspropHyper;
LGI_FUNC void lgI_rmsprop (int dtype, int64_t n, void *p, const void *g, void *sq, void *ga,
                           void *buf, const lg_RmspropHyper *h);

#endif
