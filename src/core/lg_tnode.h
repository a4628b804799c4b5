/*
** lg_tnode.h: a tensor as a node of the graph (kind LGI_KTENSOR). The node has the header
** and parent slots of a Value (so the order, the anchoring of parents as user values and
** the lifetime rules are the same), followed by a record: the tensor's descriptor, where
** its storage starts, its storage's version counter and what its op needs. A tensor that
** owns its data keeps it in the same block after the record, 64-byte aligned by hand, so
** that whoever owns the block (a Lua userdata) owns the data too. Knows nothing of Lua.
*/
#ifndef LG_TNODE_H
#define LG_TNODE_H

#include "core/lg_tensor.h"

#define LGI_TALIGN 64   /* of a tensor's own data: a cache line, and AVX-512's width */

#define LGI_TOWNS 1u         /* its data follows its record */
#define LGI_TREQGRAD 2u      /* requires_grad */
#define LGI_THASGRAD 4u      /* the binding holds a .grad for it */

typedef struct lg_TensorRec {
  lg_TDesc d;
  void *data;            /* the storage's first element (d.offset is applied to it) */
  uint64_t *version;     /* the storage's version counter: its own, or its base's */
  uint64_t ownversion;   /* the counter of the storage it owns */
  uint64_t saw;          /* the version its op recorded (in-place checks, later) */
  void *adj;             /* its adjoint buffer, during a sweep only (later) */
  double k[2];           /* its op's constants (later) */
  int32_t param[4];      /* its op's parameters: dims, keepdim (later) */
  uint16_t top;          /* its tensor op; 0 for a leaf */
  uint8_t tflags;        /* LGI_T* */
  uint8_t pad_;
} lg_TensorRec;

/* The record of a tensor node (v->kind == LGI_KTENSOR). */
static inline lg_TensorRec *lgI_trec (const lg_Value *v) {
  return (lg_TensorRec *)((char *)v + lgI_nodesize(v->n));
}

/* Bytes a tensor node of n slots and descriptor d needs (with room for its own data when
   owns). LGI_EOVERFLOW when that does not fit a size_t. */
LGI_FUNC int lgI_tensorsize (uint32_t n, const lg_TDesc *d, int owns, size_t *size);
/* Makes mem (lgI_tensorsize bytes) a leaf tensor node of n slots with descriptor d; with
   owns, its data pointer is set to the aligned room after the record (not zeroed),
   otherwise to NULL for the caller to point at a base's storage. */
LGI_FUNC lg_Value *lgI_inittensor (void *mem, uint32_t n, const lg_TDesc *d, int owns);

/* Element e (an offset in elements from the storage's first) as a double, and set. */
static inline double lgI_tget (const lg_TensorRec *r, int64_t e) {
  return (r->d.dtype == LGI_F32) ? (double)((const float *)r->data)[e]
                                 : ((const double *)r->data)[e];
}
static inline void lgI_tset (lg_TensorRec *r, int64_t e, double x) {
  if (r->d.dtype == LGI_F32) ((float *)r->data)[e] = (float)x;
  else ((double *)r->data)[e] = x;
}

/* x in the fewest significant digits that read back as the same double (or, with single,
   the same float), '.' as the decimal point whatever the locale, "inf", "-inf", "nan";
   buf of 32 bytes. */
LGI_FUNC const char *lgI_fmtshortest (char *buf, double x, int single);

#endif
