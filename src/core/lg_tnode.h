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
#define LGI_TREQGRAD 2u      /* requires_grad: a leaf's flag, or a result with history */
#define LGI_THASGRAD 4u      /* the binding holds a .grad for it */
#define LGI_TLEAF 8u         /* a leaf for autograd: no adjoint passes to its parents (made
                                so, or made by an op with no operand requiring grad) */
#define LGI_TRETAIN 16u      /* an intermediate that keeps its .grad (retain_grad) */

#define LGI_TSAVED 3   /* tensor operands whose versions an op checks in backward */

typedef struct lg_TensorRec {
  lg_TDesc d;
  void *data;            /* the storage's first element (d.offset is applied to it) */
  uint64_t *version;     /* the storage's version counter: its own, or its base's */
  uint64_t ownversion;   /* the counter of the storage it owns */
  uint64_t saw;          /* its storage's version when its op ran */
  uint64_t seen[LGI_TSAVED];   /* and its first tensor operands' (in-place checks) */
  void *adj;             /* its adjoint, during a sweep only: contiguous, of its sizes and
                            dtype; NULL means zero */
  struct lg_TensorRec *gradto;   /* during a sweep: the .grad its adjoint is added to */
  int64_t arg[LGI_MAXDIM];   /* its op's parameters: sizes, dims, a mask, an index */
  int32_t narg;
  uint16_t top;          /* its tensor op (LGI_T*); 0 for a leaf */
  uint8_t tflags;        /* LGI_T* */
  uint8_t sop;           /* an elementwise op's row of lgI_ops */
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

/* ---- tensor ops (tops.c): one row per op, the elementwise ones reusing lgI_ops ------- */

/*
** A tensor op's node is a tensor node (LGI_KTENSOR) whose slots are its operands: tensors,
** Values (scalars that broadcast) or folded numbers. An op whose result has no dimension
** left (a full reduction, a 1-D dot, an element of a 1-D tensor) makes a Value node of kind
** LGI_KTVALUE instead: a Value's header and slots, then lg_TValueRec. The maker (the
** binding) computes the result's descriptor, makes the node with its operands and calls
** forward; backward passes the node's adjoint (its adj buffer, or a Value's adj) into its
** operands' (tensors' buffers allocated on first need through W).
*/
enum {
  LGI_TLEAFOP, LGI_TMAP, LGI_TSUM, LGI_TMEAN, LGI_TMATMUL, LGI_TCOPY, LGI_TSTACK,
  LGI_TREDUCE, LGI_TARG, LGI_TCAT, LGI_TINDEX,
  LGI_TVIEW, LGI_TTRANSPOSE, LGI_TPERMUTE, LGI_TNARROW, LGI_TSELECT, LGI_TSQUEEZE,
  LGI_TUNSQUEEZE, LGI_TEXPAND,
  LGI_VSUM, LGI_VMEAN, LGI_VDOT, LGI_VITEM,
  LGI_NTOPS
};
#define LGI_FIRSTVIEW LGI_TVIEW   /* views: LGI_TVIEW .. LGI_TEXPAND share storage */
#define LGI_FIRSTVALUE LGI_VSUM   /* ops from here on make Values */

typedef struct lgI_TOp {
  const char *name;          /* as t.op shows it (an elementwise op shows its scalar op's) */
  int (*forward) (lg_Work *W, lg_Value *t);
  int (*backward) (lg_Work *W, lg_Value *t);
  /* a view's descriptor from its base's: also applied to the base's adjoint in backward */
  int (*view) (const lg_TDesc *d, const lg_TensorRec *r, lg_TDesc *out);
  int saves;                 /* backward reads its operands' or result's numbers */
} lgI_TOp;

LGI_FUNC const lgI_TOp lgI_tops[LGI_NTOPS];

typedef struct lg_TValueRec {
  uint64_t seen[2];   /* its tensor operands' versions */
  int64_t index;      /* LGI_VITEM: the element */
} lg_TValueRec;

static inline lg_TValueRec *lgI_tvrec (const lg_Value *v) {
  return (lg_TValueRec *)((char *)v + lgI_nodesize(v->n));
}
static inline size_t lgI_tvaluesize (uint32_t n) {
  return lgI_nodesize(n) + sizeof(lg_TValueRec);
}

/* The operand in slot i of a tensor op's node, as a descriptor and data: a tensor's own, a
   Value's number or a folded constant as a one-element float64 of no dimensions. */
LGI_FUNC void lgI_toperand (const lg_Value *t, uint32_t i, lg_TDesc *d, void **data);
/* Records, for backward's in-place check, the versions of t's storage and its operands'. */
LGI_FUNC void lgI_tsaw (lg_Value *t);
/* The reverse step of a tensor op's node (either kind): LG_EMEM when a buffer cannot be
   had, LGI_EVERSION when a number it needs was changed in place since. */
LGI_FUNC int lgI_treverse (lg_Work *W, lg_Value *t);
/* Frees a tensor node's adjoint buffer (and forgets gradto). */
LGI_FUNC void lgI_tfreeadj (lg_Work *W, lg_Value *t);
/* Its adjoint buffer, allocated zeroed on first need; NULL when out of memory. */
LGI_FUNC void *lgI_tadj (lg_Work *W, lg_Value *t);
/* A contiguous descriptor of d's sizes and dtype (an adjoint buffer's). */
LGI_FUNC void lgI_tcontig (const lg_TDesc *d, lg_TDesc *out);
/* out += alpha * src, src broadcast to out's shape (any dtypes and strides). */
LGI_FUNC int lgI_taxpy (const lg_TDesc *out, void *od, double alpha, const lg_TDesc *src,
                        const void *sd);
/* out += the sum of src over its broadcast dimensions, out's shape being one src was
   broadcast from (for a 0-d out, the sum of every element): broadcasting's backward, in
   one place. */
LGI_FUNC int lgI_taddsumto (lg_Work *W, const lg_TDesc *out, void *od, const lg_TDesc *src,
                            const void *sd);
/* The name t.op shows for a tensor op's node (either kind). */
LGI_FUNC const char *lgI_tname (const lg_Value *t);
/* Whether slot i of node t (either kind) is an operand that wants an adjoint. */
LGI_FUNC int lgI_twants (const lg_Value *t, uint32_t i);

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
