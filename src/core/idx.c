/*
** idx.c: the IDX format of MNIST and Fashion-MNIST (LeCun's page: a magic number holding
** the element type and the number of dimensions, the sizes, then the elements, all
** big-endian), decoded to doubles whatever the host's byte order.
*/
#include <string.h>

#include "core/lg_data.h"

static uint32_t be32 (const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t be64 (const unsigned char *p) {
  return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static size_t esizeof (int type) {
  switch (type) {
    case LGI_IDXU8: case LGI_IDXI8: return 1;
    case LGI_IDXI16: return 2;
    case LGI_IDXI32: case LGI_IDXF32: return 4;
    case LGI_IDXF64: return 8;
    default: return 0;
  }
}

int lgI_idxheader (const unsigned char *p, size_t n, lg_IdxHeader *h) {
  int i, err;
  memset(h, 0, sizeof(*h));
  h->hbytes = 4;
  if (n < 4) return LGI_EIDXSHORT;
  if (p[0] != 0 || p[1] != 0) return LGI_EIDXMAGIC;
  h->type = p[2];
  h->ndim = p[3];
  h->hbytes = 4 + 4 * (size_t)h->ndim;
  if ((h->esize = esizeof(h->type)) == 0) return LGI_EIDXTYPE;
  if (h->ndim == 0 || h->ndim > LGI_MAXDIM) return LGI_EIDXNDIM;
  if (n < h->hbytes) return LGI_EIDXSHORT;
  for (i = 0; i < h->ndim; i++) h->size[i] = be32(p + 4 + 4 * i);
  if ((err = lgI_numel(h->ndim, h->size, &h->numel)) != LG_OK) return err;
  h->dbytes = (size_t)h->numel * h->esize;   /* numel * 8 fits: lgI_numel checked */
  return LG_OK;
}

/* Each loop reads element i whole before writing out[i], and goes first to last: what
   lets src lie in out's last bytes (lg_data.h). */
void lgI_idxdecode (int type, const unsigned char *src, int64_t n, double *out) {
  int64_t i;
  switch (type) {
    case LGI_IDXU8:
      for (i = 0; i < n; i++) out[i] = (double)src[i];
      break;
    case LGI_IDXI8:
      for (i = 0; i < n; i++) out[i] = (double)(int8_t)src[i];
      break;
    case LGI_IDXI16:
      for (i = 0; i < n; i++) {
        uint16_t u = (uint16_t)(((unsigned)src[2 * i] << 8) | src[2 * i + 1]);
        out[i] = (double)(int16_t)u;
      }
      break;
    case LGI_IDXI32:
      for (i = 0; i < n; i++) out[i] = (double)(int32_t)be32(src + 4 * i);
      break;
    case LGI_IDXF32:
      for (i = 0; i < n; i++) {
        uint32_t u = be32(src + 4 * i);
        float f;
        memcpy(&f, &u, sizeof f);
        out[i] = (double)f;
      }
      break;
    case LGI_IDXF64:
      for (i = 0; i < n; i++) {
        uint64_t u = be64(src + 8 * i);
        memcpy(out + i, &u, sizeof u);
      }
      break;
    default:
      break;
  }
}
