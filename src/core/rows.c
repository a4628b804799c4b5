/*
** rows.c: one row of a tensor copied into another's, for lg.data's batches and splits
** (a C loop over the chosen rows, whatever the strides: a view, a transposed matrix).
*/
#include <string.h>

#include "core/lg_data.h"

int lgI_copyrow (const lg_TDesc *out, void *od, int64_t j, const lg_TDesc *x,
                 const void *xd, int64_t i) {
  lg_TDesc a, b;
  int err;
  if ((err = lgI_select(out, 0, j, &a)) != LG_OK) return err;
  if ((err = lgI_select(x, 0, i, &b)) != LG_OK) return err;
  if (a.dtype == b.dtype && lgI_iscontig(&a) && lgI_iscontig(&b)) {   /* one block */
    size_t es = lgI_elemsize(a.dtype);
    memcpy((char *)od + (size_t)a.offset * es, (const char *)xd + (size_t)b.offset * es,
           (size_t)lgI_tnumel(&a) * es);
    return LG_OK;
  }
  return lgI_copy(&a, od, &b, xd);
}
