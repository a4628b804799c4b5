/*
** lg_data.h: reading data sets (src/core): CSV text into numbers (csv.c), IDX files, the
** format of MNIST and Fashion-MNIST (idx.c), gzip through zlib where the build has it
** (gzip.c), and copying chosen rows of a tensor (rows.c), for lg.data. Everything works on
** bytes in memory that the caller read: nothing here opens a file, knows Lua, prints or
** exits. Functions return LG_OK or one of the codes below, with what the caller needs to
** word its message in the result structure.
*/
#ifndef LG_DATA_H
#define LG_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "core/lg_tensor.h"

/* Error codes (the core's run from 100, the tensor kernels' from 110). */
#define LGI_ECSVQUOTE 120   /* a quoted field that is never closed */
#define LGI_ECSVAFTER 121   /* text after a field's closing quote */
#define LGI_ECSVRAGGED 122  /* a record with another number of fields than the first */
#define LGI_ECSVNUM 123     /* a field that is not a number */
#define LGI_EIDXSHORT 130   /* fewer bytes than the header needs */
#define LGI_EIDXMAGIC 131   /* the first two bytes are not 0 */
#define LGI_EIDXTYPE 132    /* an unknown element type */
#define LGI_EIDXNDIM 133    /* no dimensions, or more than LGI_MAXDIM */
#define LGI_EGZIP 140       /* gzip data that zlib refuses */
#define LGI_EGZSHORT 141    /* gzip data that ends before its stream does */
#define LGI_EGZAFTER 142    /* bytes after the gzip stream that start no other member */
#define LGI_ENOZLIB 143     /* built without zlib */

/* ---- CSV (csv.c) ------------------------------------------------------------------
** Records end at "\n" or "\r\n"; a field ends at the separator. Spaces and tabs around a
** field are not part of it (unless the separator is one of them). A field may be quoted
** ("a, b" with "" for a quote, line breaks allowed inside). Lines holding nothing but spaces
** and tabs are skipped, and so is a UTF-8 byte order mark at the start. A number is
** [+-] digits [. digits] [e [+-] digits] (either side of the point may be empty, not both),
** or inf, infinity, nan in any case, with an optional sign, read as strtod reads it in the
** "C" locale whatever the process's locale. */

typedef struct lg_CsvScan {
  const char *p, *end;
  int sep;
  int64_t line;            /* the line p is on, from 1 */
} lg_CsvScan;

typedef struct lg_CsvField {
  const char *s;           /* its text, without surrounding spaces or its quotes (a */
  size_t len;              /* quoted field's "" are still doubled: lgI_csvunquote) */
  int quoted;
  int last;                /* it ends its record */
  int64_t line;            /* the line it starts on */
} lg_CsvField;

/* Where and why a CSV failed, and the table's size on success. */
typedef struct lg_CsvInfo {
  int64_t rows, cols;      /* records after the header; fields of the first of them */
  int64_t line, col;       /* the failing field's line and place in its record (from 1) */
  int64_t got, first;      /* LGI_ECSVRAGGED: its record's fields, the first record's line */
  const char *s;           /* LGI_ECSVNUM: the field's text */
  size_t len;
} lg_CsvInfo;

LGI_FUNC void lgI_csvinit (lg_CsvScan *s, const char *text, size_t n, int sep);
/* Skips blank lines: 0 at the end of the text, else 1 (a record starts at s->p). */
LGI_FUNC int lgI_csvrecord (lg_CsvScan *s);
/* The next field of the record at s->p: LG_OK, LGI_ECSVQUOTE or LGI_ECSVAFTER. */
LGI_FUNC int lgI_csvfield (lg_CsvScan *s, lg_CsvField *f);
/* f's text with each "" of a quoted field as one "; writes at most f->len bytes to out
   and returns how many. */
LGI_FUNC size_t lgI_csvunquote (const lg_CsvField *f, char *out);
/* Whether s[0..len) is a number (the syntax above); its value in *x. */
LGI_FUNC int lgI_csvnumber (const char *s, size_t len, double *x);
/* Counts the records from s on (a copy is walked: s is unchanged) into info->rows and
   their fields into info->cols (0 and 0 for none); LGI_ECSVRAGGED, LGI_ECSVQUOTE or
   LGI_ECSVAFTER with info's line and col otherwise. */
LGI_FUNC int lgI_csvshape (const lg_CsvScan *s, lg_CsvInfo *info);
/* Reads info->rows records of info->cols numbers from s into out, row-major (after
   lgI_csvshape gave those sizes for the same s); LGI_ECSVNUM with info's line, col and the
   field's text for a field that is not a number. */
LGI_FUNC int lgI_csvfill (lg_CsvScan *s, lg_CsvInfo *info, double *out);

/* ---- IDX (idx.c) -----------------------------------------------------------------
** Bytes 0 and 1 are 0, byte 2 the element type, byte 3 the number of dimensions; then
** each size as a big-endian 32-bit unsigned number; then the elements, big-endian,
** row-major. */

#define LGI_IDXU8 0x08
#define LGI_IDXI8 0x09
#define LGI_IDXI16 0x0B
#define LGI_IDXI32 0x0C
#define LGI_IDXF32 0x0D
#define LGI_IDXF64 0x0E
#define LGI_IDXMAXHEADER (4 + 4 * 255)   /* the longest header there can be */

typedef struct lg_IdxHeader {
  int type;                /* LGI_IDX* (LGI_EIDXTYPE: the byte found) */
  int ndim;                /* (LGI_EIDXNDIM: the count found) */
  int64_t size[LGI_MAXDIM];
  size_t hbytes;           /* the header's length (LGI_EIDXSHORT: what it needs) */
  size_t esize;            /* bytes per element */
  int64_t numel;
  size_t dbytes;           /* numel * esize: the data's length */
} lg_IdxHeader;

/* The header at p[0..n): LG_OK, LGI_EIDXSHORT, LGI_EIDXMAGIC, LGI_EIDXTYPE, LGI_EIDXNDIM or
   LGI_EOVERFLOW (the sizes hold more elements than a tensor can: h->size has them). */
LGI_FUNC int lgI_idxheader (const unsigned char *p, size_t n, lg_IdxHeader *h);
/* n elements of type at src as doubles in out, first to last. src may lie inside out
   provided it ends where out's n doubles end (src == (char *)out + n * (8 - esize)): each
   element is read before any byte of it is overwritten. */
LGI_FUNC void lgI_idxdecode (int type, const unsigned char *src, int64_t n, double *out);

/* ---- gzip (gzip.c) ----------------------------------------------------------------- */

typedef struct lg_Gunzip {
  size_t got;              /* bytes written to out */
  uint64_t more;           /* with count: bytes of the data past out's room */
  char msg[80];            /* LGI_EGZIP: zlib's word for it */
} lg_Gunzip;

LGI_FUNC int lgI_hasgzip (void);   /* whether the build has zlib */
LGI_FUNC int lgI_isgzip (const void *p, size_t n);   /* starts with gzip's magic */
/* Inflates the gzip data src[0..n) (one or more members): drops the first skip bytes of
   the result, writes the next outlen to out, and then, with count, inflates to the end,
   counting the rest into r->more and checking that the stream ends whole and is all there
   is; without count it stops once out is full. zlib's memory comes from W's allocator and
   is freed before returning. LG_OK, LGI_EGZIP, LGI_EGZSHORT, LGI_EGZAFTER, LG_EMEM or
   LGI_ENOZLIB. */
LGI_FUNC int lgI_gunzip (lg_Work *W, const void *src, size_t n, size_t skip, void *out,
                         size_t outlen, int count, lg_Gunzip *r);

/* ---- rows (rows.c) ---------------------------------------------------------------- */

/* Row (index i along dimension 0) of x copied to row j of out: both of the same sizes past
   dimension 0, any strides and dtypes; i and j in range. */
LGI_FUNC int lgI_copyrow (const lg_TDesc *out, void *od, int64_t j, const lg_TDesc *x,
                          const void *xd, int64_t i);

#endif
