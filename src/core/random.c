/*
** random.c: luagrad's one seeded generator (lg.manual_seed, lg.rand, lg.randn, lg.randint,
** lg.randperm, shuffling). The same seed gives the same numbers on every platform and Lua
** version, because every step below is integer arithmetic or IEEE-754 double arithmetic
** (+ - * / sqrt, each correctly rounded) in a fixed order; of libm only sqrt and frexp
** (exact) are used. (It assumes what every 64-bit platform has: doubles evaluated in double, FLT_EVAL_METHOD
** 0, and no fused multiply-add: CMake builds this file with -ffp-contract=off.)
**
** To reproduce it:
** - Seeding: s[0..3] are the first four outputs of SplitMix64 started at the seed (the
**   state x += 0x9e3779b97f4a7c15; z = x; z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9;
**   z = (z ^ z >> 27) * 0x94d049bb133111eb; output z ^ z >> 31). Seeding drops the spare.
** - Each 64-bit number: xoshiro256** 1.0 (Blackman and Vigna): out = rotl(s1 * 5, 7) * 9,
**   then t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45).
** - uniform (float64): (x >> 11) * 2^-53, in [0, 1). uniform (float32): (x >> 40) * 2^-24
**   (a float64 draw rounded to float could round up to 1).
** - normal: Marsaglia's polar method. u = 2 * uniform - 1, v = 2 * uniform - 1 (exact),
**   q = u*u + v*v, drawn again while q >= 1 or q == 0; f = sqrt(-2 * log(q) / q); the
**   result is u * f and the next call returns the spare v * f. log is lgI_rnglog below
**   (frexp, then an atanh series with fixed coefficients), not the platform's log, whose
**   last bit differs between libms. A float32 normal is the float64 one rounded.
** - integer in [lo, hi]: r = hi - lo (as uint64); the whole range takes x itself; else
**   mask = the smallest 2^j - 1 >= r, and x & mask is drawn until it is <= r; lo + that.
**   No modulo, so no bias.
** - permutation of n: a[i] = i, then for i = n-1 down to 1, j = integer in [0, i] as above
**   and swap a[i], a[j] (Fisher-Yates, Durstenfeld's order).
*/
#include <math.h>
#include "core/lg_tensor.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static uint64_t splitmix64 (uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

void lgI_rngseed (lg_Rng *r, uint64_t seed) {
  int i;
  for (i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);   /* never all zero: a bijection */
  r->spare = 0;
  r->hasspare = 0;
}

static uint64_t rotl (uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t lgI_rngnext (lg_Rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

double lgI_rnguniform (lg_Rng *r) {
  return (double)(lgI_rngnext(r) >> 11) * 0x1.0p-53;
}

float lgI_rnguniformf (lg_Rng *r) {
  return (float)(lgI_rngnext(r) >> 40) * 0x1.0p-24f;
}

/* log(x) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(z), z = (m-1)/(m+1),
   |z| <= 0.1716, summed to z^23 (the next term is below 2^-60 of the result) */
double lgI_rnglog (double x) {
  static const double ln2hi = 6.93147180369123816490e-01;   /* 0x3fe62e42fee00000 */
  static const double ln2lo = 1.90821492927058770002e-10;   /* 0x3dea39ef35793c76 */
  double m, z, w, p;
  int e;
  if (!(x > 0) || isinf(x)) return (x == 0) ? -HUGE_VAL : (x > 0 ? x : NAN);
  m = frexp(x, &e);   /* exact: x = m 2^e, m in [0.5, 1) */
  if (m < 0.70710678118654752440) { m *= 2; e--; }
  z = (m - 1) / (m + 1);
  w = z * z;
  p = 1.0 / 23;
  p = 1.0 / 21 + w * p;
  p = 1.0 / 19 + w * p;
  p = 1.0 / 17 + w * p;
  p = 1.0 / 15 + w * p;
  p = 1.0 / 13 + w * p;
  p = 1.0 / 11 + w * p;
  p = 1.0 / 9 + w * p;
  p = 1.0 / 7 + w * p;
  p = 1.0 / 5 + w * p;
  p = 1.0 / 3 + w * p;
  return e * ln2hi + (e * ln2lo + (2 * z + 2 * z * (w * p)));
}

double lgI_rngnormal (lg_Rng *r) {
  double u, v, q, f;
  if (r->hasspare) {
    r->hasspare = 0;
    return r->spare;
  }
  do {
    u = 2 * lgI_rnguniform(r) - 1;
    v = 2 * lgI_rnguniform(r) - 1;
    q = u * u + v * v;
  } while (q >= 1 || q == 0);
  f = sqrt(-2 * lgI_rnglog(q) / q);
  r->spare = v * f;
  r->hasspare = 1;
  return u * f;
}

/* [0, r], by masking and rejection */
static uint64_t upto (lg_Rng *g, uint64_t r) {
  uint64_t mask = r, x;
  mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4;
  mask |= mask >> 8; mask |= mask >> 16; mask |= mask >> 32;
  do x = lgI_rngnext(g) & mask; while (x > r);
  return x;
}

uint64_t lgI_rngbelow (lg_Rng *r, uint64_t n) {
  return upto(r, n - 1);
}

int64_t lgI_rngint (lg_Rng *r, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  uint64_t x = (span == UINT64_MAX) ? lgI_rngnext(r) : upto(r, span);
  return (int64_t)((uint64_t)lo + x);
}

void lgI_rngperm (lg_Rng *r, int64_t n, int64_t *out) {
  int64_t i;
  for (i = 0; i < n; i++) out[i] = i;
  for (i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)upto(r, (uint64_t)i), t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}

void lgI_rngfill (lg_Rng *r, int kind, int dtype, void *data, int64_t n) {
  int64_t i;
  if (dtype == LGI_F32) {
    float *y = (float *)data;
    if (kind == LGI_RNORMAL) for (i = 0; i < n; i++) y[i] = (float)lgI_rngnormal(r);
    else for (i = 0; i < n; i++) y[i] = lgI_rnguniformf(r);
  }
  else {
    double *y = (double *)data;
    if (kind == LGI_RNORMAL) for (i = 0; i < n; i++) y[i] = lgI_rngnormal(r);
    else for (i = 0; i < n; i++) y[i] = lgI_rnguniform(r);
  }
}
