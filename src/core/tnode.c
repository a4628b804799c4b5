/*
** tnode.c: tensor nodes (lg_tnode.h): their size and layout, and numbers as the shortest
** text that reads back the same (what tostring of a tensor prints).
*/
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/lg_tnode.h"

/* The record's offset and the data's room: the record follows the slots (8-aligned); the
   data starts at the first 64-byte boundary after it, which the block's own alignment
   (8 or 16) cannot promise, so LGI_TALIGN - 1 bytes more are asked for. */
int lgI_tensorsize (uint32_t n, const lg_TDesc *d, int owns, size_t *size) {
  size_t head = lgI_nodesize(n) + sizeof(lg_TensorRec);
  if (owns) {
    int64_t numel;
    size_t bytes;
    int err = lgI_numel(d->ndim, d->size, &numel);
    if (err != LG_OK) return err;
    bytes = (size_t)numel * lgI_elemsize(d->dtype);   /* lgI_numel kept 8 * numel in range */
    if (bytes > (size_t)-1 - head - (LGI_TALIGN - 1)) return LGI_EOVERFLOW;
    head += (LGI_TALIGN - 1) + bytes;
  }
  *size = head;
  return LG_OK;
}

lg_Value *lgI_inittensor (void *mem, uint32_t n, const lg_TDesc *d, int owns) {
  lg_Value *v = lgI_initnode(mem, LGI_LEAF, n);
  lg_TensorRec *r;
  v->kind = LGI_KTENSOR;
  r = lgI_trec(v);
  memset(r, 0, sizeof(*r));
  r->d = *d;
  r->version = &r->ownversion;
  if (owns) {
    uintptr_t p = (uintptr_t)(r + 1);
    p = (p + (LGI_TALIGN - 1)) & ~(uintptr_t)(LGI_TALIGN - 1);
    r->data = (void *)p;
    r->tflags = LGI_TOWNS;
  }
  r->tflags |= LGI_TLEAF;   /* until an op that records history says otherwise */
  return v;
}

/* Integers below 1e16 in full; others: tries 1, 2, ... significant digits ("%.*g" in the C locale's sense, fixed after): the
   first that reads back as x. strtod reads what snprintf wrote in the same locale. */
const char *lgI_fmtshortest (char *buf, double x, int single) {
  char point = localeconv()->decimal_point[0];
  char *p;
  int prec;
  if (isnan(x)) return strcpy(buf, "nan");
  if (isinf(x)) return strcpy(buf, x > 0 ? "inf" : "-inf");
  if (x == floor(x) && fabs(x) < 1e16) {   /* integers in full, as Lua prints them */
    snprintf(buf, 32, "%.0f", x);
    return buf;
  }
  for (prec = 1; prec <= 17; prec++) {
    double y;
    snprintf(buf, 32, "%.*g", prec, x);
    y = strtod(buf, NULL);
    if (single ? ((float)y == (float)x) : (y == x)) break;
  }
  if (point != '.' && (p = strchr(buf, point)) != NULL) *p = '.';
  return buf;
}
