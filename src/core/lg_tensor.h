/*
** lg_tensor.h: the kernels tensors are built on (src/core): a descriptor of a strided view
** (shape.c), an N-d iterator with elementwise loops (iter.c), reductions (reduce.c), matmul
** through CBLAS or a blocked C loop (blas.c) and the one seeded generator (random.c).
**
** A descriptor says how to read a storage; it never owns one. Dimensions are numbered from 0
** here (the binding maps Lua's 1-based and negative numbers); sizes and strides count
** elements, not bytes; data pointers passed beside a descriptor point at the storage's first
** element, and the descriptor's offset is applied by the kernels. Nothing here knows Lua,
** prints or exits: functions return LG_OK or an error code, and the few that need memory take
** an lg_Work and allocate through lgI_alloc.
*/
#ifndef LG_TENSOR_H
#define LG_TENSOR_H

#include <stdint.h>
#include "core/lg_core.h"

/* At most 16 dimensions: descriptors and iterators are fixed-size (on the C stack, inside
   a node's record) and no workload of the contract comes near it (PyTorch allows more,
   NumPy 32; 16 keeps a descriptor at 272 bytes). */
#define LGI_MAXDIM 16

#define LGI_F64 0   /* dtypes: double, then float */
#define LGI_F32 1
#define lgI_elemsize(dt) ((dt) == LGI_F32 ? sizeof(float) : sizeof(double))

/* Error codes of the tensor kernels (the core's own run from 100: these from 110). */
#define LGI_ESHAPE 110    /* shapes that do not broadcast, or an expand to a bad size */
#define LGI_EDIM 111      /* a dimension out of range, a repeated one, too many dims */
#define LGI_EINDEX 112    /* an index or a range out of a dimension's bounds */
#define LGI_EOVERFLOW 113 /* a shape whose number of elements (or bytes) overflows */
#define LGI_EVIEW 114     /* a view of sizes that do not fit the elements or the strides */
#define LGI_ESIZE 115     /* a negative size (-1 only where inferred), two -1 in one view */

typedef struct lg_TDesc {
  int dtype;                    /* LGI_F64 or LGI_F32 */
  int ndim;                     /* 0 .. LGI_MAXDIM (0: one element) */
  int64_t offset;               /* of the first element, in elements */
  int64_t size[LGI_MAXDIM];
  int64_t stride[LGI_MAXDIM];   /* >= 0; 0 on an expanded dimension */
} lg_TDesc;

/* ---- shapes and views (shape.c) ---------------------------------------------------- */

/* n = the product of the sizes; LGI_ESIZE for a negative size, LGI_EOVERFLOW when the
   product (times 8 bytes, so that a storage of it can be sized) exceeds SIZE_MAX or
   INT64_MAX. A 0 anywhere gives 0 without overflow. */
LGI_FUNC int lgI_numel (int ndim, const int64_t *size, int64_t *n);
/* A contiguous row-major descriptor of the sizes, offset 0 (errors as lgI_numel, and
   LGI_EDIM for ndim outside 0..LGI_MAXDIM). */
LGI_FUNC int lgI_tinit (lg_TDesc *d, int dtype, int ndim, const int64_t *size);
LGI_FUNC int64_t lgI_tnumel (const lg_TDesc *d);   /* of a valid descriptor */
/* PyTorch's rule: row-major strides, size-1 dimensions' strides ignored; no elements is
   contiguous. */
LGI_FUNC int lgI_iscontig (const lg_TDesc *d);

/* NumPy's broadcasting of two shapes, aligned from the last dimension: each pair of sizes
   is equal or one of them is 1. On LGI_ESHAPE, *bada and *badb (when not NULL) are the
   clashing dimensions, numbered in a's and b's own shapes. out has max(na, nb) sizes. */
LGI_FUNC int lgI_broadcast (int na, const int64_t *sa, int nb, const int64_t *sb,
                            int *nout, int64_t *out, int *bada, int *badb);
/* d expanded to the sizes (ndim >= d->ndim, aligned from the last dimension): new and
   size-1 dimensions get stride 0; a size of -1 keeps d's. LGI_ESHAPE when a size of d is
   neither 1 nor the new one, LGI_EDIM for fewer dims, LGI_ESIZE for a negative new size. */
LGI_FUNC int lgI_expand (const lg_TDesc *d, int ndim, const int64_t *size, lg_TDesc *out);
/* The one size of -1 among the sizes replaced by numel / (the product of the others).
   LGI_ESIZE for two -1s or a size below -1; LGI_EVIEW when the sizes cannot hold numel
   elements (the binding's "shape {4, 4} is invalid for a tensor of 6 elements"). */
LGI_FUNC int lgI_infersize (int64_t numel, int ndim, int64_t *size);
/* d seen with other sizes (no -1: lgI_infersize first) without moving data: PyTorch's
   computeStride, so that views of non-contiguous tensors work where each group of merged
   or split dimensions is contiguous in itself. LGI_EVIEW when the number of elements
   differs or the strides do not allow it (reshape copies then). */
LGI_FUNC int lgI_view (const lg_TDesc *d, int ndim, const int64_t *size, lg_TDesc *out);
LGI_FUNC int lgI_transpose (const lg_TDesc *d, int d0, int d1, lg_TDesc *out);
/* out's dimension i is d's perm[i]; LGI_EDIM unless perm is a permutation of 0..ndim-1. */
LGI_FUNC int lgI_permute (const lg_TDesc *d, int n, const int *perm, lg_TDesc *out);
/* Elements start .. start+length-1 of a dimension; LGI_EINDEX unless 0 <= start and
   start + length <= size (length >= 0). */
LGI_FUNC int lgI_narrow (const lg_TDesc *d, int dim, int64_t start, int64_t length,
                         lg_TDesc *out);
/* Index i of a dimension, the dimension removed (ndim 0 for a 1-D d). */
LGI_FUNC int lgI_select (const lg_TDesc *d, int dim, int64_t i, lg_TDesc *out);
/* Removes dimension dim if its size is 1 (else out = d), or every size-1 dim for dim -1. */
LGI_FUNC int lgI_squeeze (const lg_TDesc *d, int dim, lg_TDesc *out);
/* Inserts a size-1 dimension at dim, 0 <= dim <= ndim. */
LGI_FUNC int lgI_unsqueeze (const lg_TDesc *d, int dim, lg_TDesc *out);
/* The reduction that takes a gradient of shape g back to an operand of shape x that was
   broadcast to it: *mask gets bit i for each dimension i of g to sum (keepdim), after which
   the result, of g's ndim with sizes 1 there, holds x's elements in x's row-major order.
   LGI_ESHAPE when x does not broadcast to g. Bit i is (uint32_t)1 << i. */
LGI_FUNC int lgI_sumto (int ng, const int64_t *g, int nx, const int64_t *x, uint32_t *mask);

/* ---- the iterator and elementwise loops (iter.c) ------------------------------------ */

#define LGI_MAXOPS 8   /* operands of one loop, the output first */

/* An inner loop: n elements, the k-th operand's at p[k] + i * s[k] (s in bytes). */
typedef void (*lgI_Loop) (char **p, const int64_t *s, int64_t n, void *ud);

/* Operands of one shape walked together in memory order: dimensions of size 1 dropped, the
   others sorted by the operands' strides (the output's decide first, so a contiguous output
   is walked in row-major order), neighbours merged where every operand is contiguous across
   them (a contiguous tensor is one run, a transposed matrix two nested loops), and the last
   two walked in tiles when an operand's inner run strides across its rows. Loops must not
   depend on the order. */
typedef struct lgI_Iter {
  int nops;
  int ndim;                              /* >= 1 after coalescing; the last is the inner */
  int tile;                              /* walk the last two in tiles */
  int64_t numel;
  int64_t size[LGI_MAXDIM];
  int64_t stride[LGI_MAXOPS][LGI_MAXDIM];  /* in bytes */
  char *data[LGI_MAXOPS];                /* offsets applied */
} lgI_Iter;

/* ops[k] must all have ops[0]'s sizes (expand operands first); data[k] is each storage's
   first element. LG_EARG for nops outside 1..LGI_MAXOPS, LGI_ESHAPE for unequal shapes. */
LGI_FUNC int lgI_iterinit (lgI_Iter *it, int nops, const lg_TDesc *const *ops,
                           void *const *data);
/* Calls loop once per inner run (or row of a tile). */
LGI_FUNC void lgI_iterrun (const lgI_Iter *it, lgI_Loop loop, void *ud);

#define LGI_TADD 0
#define LGI_TSUB 1
#define LGI_TMUL 2
#define LGI_TDIV 3
/* out = a op b, elementwise; a and b broadcast to out's shape (LGI_ESHAPE otherwise).
   Any dtypes: same-dtype operands take a typed loop (with a contiguous fast path), mixed
   ones go through double. out may be a or b (in place). */
LGI_FUNC int lgI_binary (int op, const lg_TDesc *out, void *od, const lg_TDesc *a,
                         const void *ad, const lg_TDesc *b, const void *bd);
/* out = f(x) elementwise, in double (x broadcast to out's shape). */
LGI_FUNC int lgI_map (double (*f) (double), const lg_TDesc *out, void *od, const lg_TDesc *x,
                      const void *xd);
/* out = x, converting dtypes and broadcasting x (contiguous copies, .to(dtype)). */
LGI_FUNC int lgI_copy (const lg_TDesc *out, void *od, const lg_TDesc *x, const void *xd);

/* ---- reductions (reduce.c) ------------------------------------------------------- */

#define LGI_RSUM 0
#define LGI_RPROD 1
#define LGI_RMAX 2
#define LGI_RMIN 3
#define LGI_RMEAN 4
#define LGI_RLSE 5    /* log(sum(exp(x))), shifted by the max so it cannot overflow */
#define LGI_RVAR 6    /* sum((x - mean)^2) / (n - correction), two passes */

/* The shape of reducing d over the dimensions in mask (bit i: dimension i): contiguous,
   of d's dtype, sizes 1 there with keepdim, else those dimensions removed (ndim may reach
   0: one element). LGI_EDIM for a bit at or past d->ndim. */
LGI_FUNC int lgI_reduceshape (const lg_TDesc *d, uint32_t mask, int keepdim, lg_TDesc *out);
/* out (contiguous, lgI_reduceshape's numel, x's dtype) = the reduction of x over mask.
   Sums accumulate in double for both dtypes. max/min propagate NaN and, when count is
   not NULL, set count[j] to how many elements equal out[j] (NaN counts NaNs), so that a
   gradient is split between ties. RVAR uses correction (1: unbiased); n - correction <= 0
   gives inf or NaN as PyTorch. Reducing no elements: sum 0, prod 1, mean NaN, max/min
   LG_EARG (PyTorch refuses), lse -inf. LG_EMEM when the double accumulators (float32, and
   the second passes) cannot be had; out is then unchanged. */
LGI_FUNC int lgI_reduce (lg_Work *W, int op, const lg_TDesc *x, const void *xd,
                         uint32_t mask, double correction, void *out, int64_t *count);

/* ---- matmul (blas.c) ------------------------------------------------------------- */

/* "cblas" or "C": what lgI_matmul calls (the build decides). */
LGI_FUNC const char *lgI_blasname (void);
/* c = a b (beta 0) or c += a b (beta 1) for a (..., m, k), b (..., k, n) and c (..., m, n)
   with equal batch dimensions (expand them first; stride 0 is fine). All three of one
   dtype (LG_EARG otherwise, and for bad shapes: the binding checks them to word its
   message). An operand whose two last strides are row-major or column-major goes to BLAS
   as is, with a transpose flag; any other is copied to contiguous first (LG_EMEM if that
   copy cannot be allocated; c is then unchanged). c must not overlap a or b. */
LGI_FUNC int lgI_matmul (lg_Work *W, double beta, const lg_TDesc *c, void *cd,
                         const lg_TDesc *a, const void *ad, const lg_TDesc *b, const void *bd);
/* The blocked C loop behind lgI_matmul without BLAS, with CBLAS's row-major meaning
   (ta/tb: 0 or 1 for transposed; lda etc. in elements), for both dtypes. */
LGI_FUNC void lgI_gemmc (int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k,
                         const void *a, int64_t lda, const void *b, int64_t ldb, double beta,
                         void *c, int64_t ldc);

/* ---- the seeded generator (random.c; its header comment specifies the numbers) ---------- */

typedef struct lg_Rng {
  uint64_t s[4];      /* xoshiro256** state */
  double spare;       /* the polar method's second normal */
  int hasspare;
} lg_Rng;

LGI_FUNC void lgI_rngseed (lg_Rng *r, uint64_t seed);
LGI_FUNC uint64_t lgI_rngnext (lg_Rng *r);
LGI_FUNC double lgI_rnguniform (lg_Rng *r);          /* [0, 1), 53 bits */
LGI_FUNC float lgI_rnguniformf (lg_Rng *r);          /* [0, 1), 24 bits */
LGI_FUNC double lgI_rngnormal (lg_Rng *r);           /* standard normal */
LGI_FUNC uint64_t lgI_rngbelow (lg_Rng *r, uint64_t n);   /* [0, n), n >= 1, unbiased */
/* [lo, hi], lo <= hi, unbiased (the whole int64 range included). */
LGI_FUNC int64_t lgI_rngint (lg_Rng *r, int64_t lo, int64_t hi);
LGI_FUNC void lgI_rngperm (lg_Rng *r, int64_t n, int64_t *out);   /* 0 .. n-1 shuffled */
/* n contiguous elements of dtype: LGI_RUNIFORM or LGI_RNORMAL. */
#define LGI_RUNIFORM 0
#define LGI_RNORMAL 1
LGI_FUNC void lgI_rngfill (lg_Rng *r, int kind, int dtype, void *data, int64_t n);
/* log(x) for x > 0 from +, -, *, / alone (every IEEE platform gives the same bits), as
   the generator's normal needs; within 2 ulp of the true log. */
LGI_FUNC double lgI_rnglog (double x);

#endif
