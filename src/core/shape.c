/*
** shape.c: tensor descriptors: sizes, contiguity, broadcasting and views as pure operations
** on sizes and strides (no data moves here). PyTorch's rules, so that ported code behaves.
*/
#include <string.h>
#include "core/lg_tensor.h"

#define MAXELEMS (INT64_MAX / 8)   /* so that numel * 8 bytes fits int64 (and size_t on 64-bit) */

int lgI_numel (int ndim, const int64_t *size, int64_t *n) {
  int64_t p = 1;
  int i, over = 0;
  for (i = 0; i < ndim; i++) {
    if (size[i] < 0) return LGI_ESIZE;
    if (size[i] == 0) p = 0;   /* a 0 wins over an overflow of the others */
  }
  if (p != 0) {
    for (i = 0; i < ndim; i++) {
      if (size[i] > MAXELEMS / p) { over = 1; break; }
      p *= size[i];
    }
  }
  if (over || (uint64_t)p > (uint64_t)(SIZE_MAX / 8)) return LGI_EOVERFLOW;
  *n = p;
  return LG_OK;
}

int64_t lgI_tnumel (const lg_TDesc *d) {
  int64_t p = 1;
  int i;
  for (i = 0; i < d->ndim; i++) p *= d->size[i];
  return p;
}

/* Row-major strides; a 0 size counts as 1 so that strides stay distinct (as PyTorch). */
static void contigstrides (int ndim, const int64_t *size, int64_t *stride) {
  int64_t s = 1;
  int i;
  for (i = ndim - 1; i >= 0; i--) {
    stride[i] = s;
    s *= (size[i] > 1) ? size[i] : 1;
  }
}

int lgI_tinit (lg_TDesc *d, int dtype, int ndim, const int64_t *size) {
  int64_t n;
  int err;
  if (ndim < 0 || ndim > LGI_MAXDIM) return LGI_EDIM;
  if ((err = lgI_numel(ndim, size, &n)) != LG_OK) return err;
  memset(d, 0, sizeof(*d));
  d->dtype = dtype;
  d->ndim = ndim;
  if (ndim > 0) memcpy(d->size, size, (size_t)ndim * sizeof(int64_t));
  contigstrides(ndim, size, d->stride);
  return LG_OK;
}

int lgI_iscontig (const lg_TDesc *d) {
  int64_t expected = 1;
  int i;
  for (i = 0; i < d->ndim; i++)
    if (d->size[i] == 0) return 1;
  for (i = d->ndim - 1; i >= 0; i--) {
    if (d->size[i] == 1) continue;   /* its stride never moves */
    if (d->stride[i] != expected) return 0;
    expected *= d->size[i];
  }
  return 1;
}

int lgI_broadcast (int na, const int64_t *sa, int nb, const int64_t *sb,
                   int *nout, int64_t *out, int *bada, int *badb) {
  int n = (na > nb) ? na : nb, i;
  if (n > LGI_MAXDIM) return LGI_EDIM;
  for (i = 0; i < n; i++) {   /* i counts from the last dimension */
    int64_t x = (i < na) ? sa[na - 1 - i] : 1;
    int64_t y = (i < nb) ? sb[nb - 1 - i] : 1;
    if (x != y && x != 1 && y != 1) {
      if (bada) *bada = na - 1 - i;
      if (badb) *badb = nb - 1 - i;
      return LGI_ESHAPE;
    }
    out[n - 1 - i] = (x == 1) ? y : x;
  }
  *nout = n;
  return LG_OK;
}

int lgI_expand (const lg_TDesc *d, int ndim, const int64_t *size, lg_TDesc *out) {
  lg_TDesc r;
  int lead = ndim - d->ndim, i;
  if (ndim > LGI_MAXDIM || lead < 0) return LGI_EDIM;
  r = *d;
  r.ndim = ndim;
  for (i = ndim - 1; i >= 0; i--) {
    int64_t want = size[i];
    if (i < lead) {   /* a new leading dimension */
      if (want < 0) return LGI_ESIZE;
      r.size[i] = want;
      r.stride[i] = 0;
      continue;
    }
    {
      int64_t have = d->size[i - lead], st = d->stride[i - lead];
      if (want == -1) want = have;
      else if (want < 0) return LGI_ESIZE;
      if (have != want) {
        if (have != 1) return LGI_ESHAPE;
        st = 0;
      }
      r.size[i] = want;
      r.stride[i] = st;
    }
  }
  {
    int64_t n;
    int err = lgI_numel(ndim, r.size, &n);
    if (err != LG_OK) return err;
  }
  *out = r;
  return LG_OK;
}

int lgI_infersize (int64_t numel, int ndim, int64_t *size) {
  int64_t p = 1;
  int i, infer = -1;
  for (i = 0; i < ndim; i++) {
    if (size[i] == -1) {
      if (infer >= 0) return LGI_ESIZE;
      infer = i;
    }
    else if (size[i] < 0) return LGI_ESIZE;
    else if (size[i] != 0 && p > MAXELEMS / size[i]) return LGI_EVIEW;  /* exceeds numel */
    else p *= size[i];
  }
  if (infer >= 0) {
    if (p == 0 || numel % p != 0) return LGI_EVIEW;   /* as PyTorch: -1 beside a 0 fails */
    size[infer] = numel / p;
  }
  else if (p != numel) return LGI_EVIEW;
  return LG_OK;
}

/* PyTorch's computeStride (aten/src/ATen/TensorUtils.cpp): walk d's dimensions from the
   last in chunks that are contiguous in themselves; each chunk must be covered exactly by
   a run of the new sizes, which take strides within the chunk. */
int lgI_view (const lg_TDesc *d, int ndim, const int64_t *size, lg_TDesc *out) {
  lg_TDesc r;
  int64_t n, base, tnumel = 1, vnumel = 1;
  int td, vd = ndim - 1, err;
  if (ndim < 0 || ndim > LGI_MAXDIM) return LGI_EDIM;
  if ((err = lgI_numel(ndim, size, &n)) != LG_OK) return err;
  if (n != lgI_tnumel(d)) return LGI_EVIEW;
  r = *d;
  r.ndim = ndim;
  if (ndim > 0) memcpy(r.size, size, (size_t)ndim * sizeof(int64_t));
  if (d->ndim == 0 || n == 0) {
    int same = (d->ndim == ndim &&
                (ndim == 0 || memcmp(d->size, size, (size_t)ndim * sizeof(int64_t)) == 0));
    if (!same) contigstrides(ndim, size, r.stride);
    *out = r;
    return LG_OK;
  }
  base = d->stride[d->ndim - 1];
  for (td = d->ndim - 1; td >= 0; td--) {
    tnumel *= d->size[td];
    if (td == 0 || (d->size[td - 1] != 1 && d->stride[td - 1] != tnumel * base)) {
      while (vd >= 0 && (vnumel < tnumel || size[vd] == 1)) {
        r.stride[vd] = vnumel * base;
        vnumel *= size[vd];
        vd--;
      }
      if (vnumel != tnumel) return LGI_EVIEW;
      if (td > 0) {
        base = d->stride[td - 1];
        tnumel = vnumel = 1;
      }
    }
  }
  if (vd != -1) return LGI_EVIEW;
  *out = r;
  return LG_OK;
}

#define checkdim(d, dim) if ((dim) < 0 || (dim) >= (d)->ndim) return LGI_EDIM

int lgI_transpose (const lg_TDesc *d, int d0, int d1, lg_TDesc *out) {
  int64_t t;
  checkdim(d, d0);
  checkdim(d, d1);
  *out = *d;
  t = out->size[d0]; out->size[d0] = out->size[d1]; out->size[d1] = t;
  t = out->stride[d0]; out->stride[d0] = out->stride[d1]; out->stride[d1] = t;
  return LG_OK;
}

int lgI_permute (const lg_TDesc *d, int n, const int *perm, lg_TDesc *out) {
  lg_TDesc r = *d;
  uint32_t seen = 0;
  int i;
  if (n != d->ndim) return LGI_EDIM;
  for (i = 0; i < n; i++) {
    checkdim(d, perm[i]);
    if (seen & ((uint32_t)1 << perm[i])) return LGI_EDIM;   /* repeated */
    seen |= (uint32_t)1 << perm[i];
    r.size[i] = d->size[perm[i]];
    r.stride[i] = d->stride[perm[i]];
  }
  *out = r;
  return LG_OK;
}

int lgI_narrow (const lg_TDesc *d, int dim, int64_t start, int64_t length, lg_TDesc *out) {
  checkdim(d, dim);
  if (start < 0 || length < 0 || start > d->size[dim] || length > d->size[dim] - start)
    return LGI_EINDEX;
  *out = *d;
  out->offset += start * d->stride[dim];
  out->size[dim] = length;
  return LG_OK;
}

/* Removes dimension dim from r's arrays. */
static void dropdim (lg_TDesc *r, int dim) {
  int i;
  for (i = dim; i < r->ndim - 1; i++) {
    r->size[i] = r->size[i + 1];
    r->stride[i] = r->stride[i + 1];
  }
  r->ndim--;
}

int lgI_select (const lg_TDesc *d, int dim, int64_t i, lg_TDesc *out) {
  checkdim(d, dim);
  if (i < 0 || i >= d->size[dim]) return LGI_EINDEX;
  *out = *d;
  out->offset += i * d->stride[dim];
  dropdim(out, dim);
  return LG_OK;
}

int lgI_squeeze (const lg_TDesc *d, int dim, lg_TDesc *out) {
  lg_TDesc r = *d;
  int i;
  if (dim != -1) {
    checkdim(d, dim);
    if (r.size[dim] == 1) dropdim(&r, dim);
  }
  else {
    for (i = r.ndim - 1; i >= 0; i--)
      if (r.size[i] == 1) dropdim(&r, i);
  }
  *out = r;
  return LG_OK;
}

int lgI_unsqueeze (const lg_TDesc *d, int dim, lg_TDesc *out) {
  lg_TDesc r = *d;
  int i;
  if (dim < 0 || dim > d->ndim) return LGI_EDIM;
  if (d->ndim == LGI_MAXDIM) return LGI_EDIM;
  for (i = r.ndim; i > dim; i--) {
    r.size[i] = r.size[i - 1];
    r.stride[i] = r.stride[i - 1];
  }
  r.size[dim] = 1;
  /* any stride serves a size-1 dimension; PyTorch's choice keeps the tensor's layout */
  r.stride[dim] = (dim < d->ndim) ? d->size[dim] * d->stride[dim] : 1;
  r.ndim++;
  *out = r;
  return LG_OK;
}

int lgI_sumto (int ng, const int64_t *g, int nx, const int64_t *x, uint32_t *mask) {
  int lead = ng - nx, i;
  uint32_t m = 0;
  if (lead < 0 || ng > LGI_MAXDIM) return LGI_ESHAPE;
  for (i = 0; i < lead; i++) m |= (uint32_t)1 << i;
  for (i = 0; i < nx; i++) {
    if (x[i] == g[lead + i]) continue;
    if (x[i] != 1) return LGI_ESHAPE;
    m |= (uint32_t)1 << (lead + i);
  }
  *mask = m;
  return LG_OK;
}
