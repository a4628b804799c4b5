/*
** lg_safetensors.h: the safetensors format (safetensors.c), for lg.save and lg.load. A file
** is an 8-byte little-endian header length N, N bytes of JSON text
**   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F64", "shape": [2, 3],
**    "data_offsets": [begin, end]}, ...}
** padded with spaces, then the packed little-endian data, each entry's bytes at [begin, end)
** counted from the end of the header. The reader trusts nothing: every length, offset and
** size is checked, with overflow, before the caller touches a byte of data, and the data
** must be covered exactly (no overlap, no gap, nothing after it). It never allocates: it
** measures, then parses into memory the caller provides. Knows nothing of Lua or files.
*/
#ifndef LG_SAFETENSORS_H
#define LG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "core/lg_tensor.h"

#define LGI_STMAXHEADER 100000000u   /* bytes of header text: the safetensors package's cap */
#define LGI_STMSG 200                /* room for a message */
#define LGI_STSHOWN 44               /* room for a name as a message shows it */
#define LGI_ESTFILE 120              /* a malformed file: the message says what is wrong */

typedef struct lg_STEntry {
  const char *name;      /* NUL-terminated too (a name may also hold NULs: use namelen) */
  size_t namelen;
  int dtype;             /* LGI_F64 or LGI_F32 */
  int ndim;              /* 0 .. LGI_MAXDIM; 0 is one number (a Value) */
  const int64_t *size;   /* ndim sizes (NULL when ndim is 0) */
  uint64_t begin, end;   /* its bytes in the data, which starts right after the header */
  const void *src;       /* the writer's (its tensor or Value); NULL when read */
} lg_STEntry;

typedef struct lg_STPair {
  const char *key, *value;   /* NUL-terminated too */
  size_t keylen, valuelen;
} lg_STPair;

typedef struct lg_STHeader {
  lg_STEntry *entry;   /* sorted by name (bytewise) */
  size_t nentry;
  lg_STPair *meta;     /* sorted by key */
  size_t nmeta;
} lg_STHeader;

/* ---- reading ------------------------------------------------------------------------ */

/* What a header holds, counted by lgI_stmeasure: the bytes of memory lgI_stparse needs for
   it (need), and how it lays them out. */
typedef struct lg_STSize {
  size_t need;
  size_t nentry, nmeta, nsize, ntext;
} lg_STSize;

/* The header length of a file of filesize bytes that starts with the bytes p (as many as
   the file has, up to 8). LGI_ESTFILE, with the message in msg (LGI_STMSG bytes), for a
   file too short to hold it, a length past LGI_STMAXHEADER or past the end of the file. */
LGI_FUNC int lgI_stlength (const unsigned char *p, uint64_t filesize, uint64_t *n, char *msg);
/* Checks the JSON syntax and every entry by itself in the header text h (n bytes) of a file
   whose data has datasize bytes, and counts what it holds into S. LGI_ESTFILE and msg as
   above. */
LGI_FUNC int lgI_stmeasure (const char *h, size_t n, uint64_t datasize, lg_STSize *S,
                            char *msg);
/* Parses h into out, its arrays and strings in mem (S->need bytes, S from lgI_stmeasure of
   the same h, aligned for an int64_t and a pointer), and checks the whole: no duplicate
   name or key, and the entries' data covering [0, datasize) exactly. LGI_ESTFILE and msg
   as above; LG_EARG when S is not h's. */
LGI_FUNC int lgI_stparse (const char *h, size_t n, uint64_t datasize, const lg_STSize *S,
                          void *mem, lg_STHeader *out, char *msg);

/* ---- writing ------------------------------------------------------------------------ */

/* s (n bytes) as a message shows it, in buf (LGI_STSHOWN bytes): its first 40 bytes (cut
   at a character, then "..."), control characters as '?'. */
LGI_FUNC const char *lgI_stshown (char *buf, const char *s, size_t n);
/* Whether s (n bytes) is valid UTF-8, as a JSON header's strings must be. */
LGI_FUNC int lgI_stutf8 (const char *s, size_t n);
/* Sorts the entries by name and the metadata by key (names and keys must be distinct). */
LGI_FUNC void lgI_stsort (lg_STHeader *h);
/* Sets the data_offsets of the entries (sorted): float64 entries first, then float32, each
   in name order, so that every entry starts at a multiple of its element size, as the
   safetensors package lays them out. order[k] gets the index of the entry whose data comes
   k-th, *datasize the total. LGI_EOVERFLOW when the total overflows. */
LGI_FUNC int lgI_stlayout (lg_STHeader *h, size_t *order, uint64_t *datasize);
/* Writes the header text of h (laid out) into out, "__metadata__" first (when there is
   any), then the entries in name order, padded with spaces to a multiple of 8 bytes (out
   NULL: only measures). Returns its length, 0 when that would overflow a size_t. */
LGI_FUNC size_t lgI_stheader (const lg_STHeader *h, char *out);
/* The 8 bytes of the header length n. */
LGI_FUNC void lgI_stputlength (unsigned char *p, uint64_t n);

/* ---- data --------------------------------------------------------------------------- */

/* numel * element size of an entry (checked by the reader, laid out by the writer). */
LGI_FUNC uint64_t lgI_stbytes (const lg_STEntry *e);
/* Copies the elements of the tensor d (any strides) at data into out, packed in row-major
   order and little-endian, as a file holds them. */
LGI_FUNC int lgI_stpack (const lg_TDesc *d, const void *data, void *out);
/* Whether the host is little-endian (then a file's data is the host's as it is). */
LGI_FUNC int lgI_stlittle (void);
/* Converts n elements of dtype at p between little-endian and the host's order, in place
   (the same swap both ways; nothing to do on a little-endian host). */
LGI_FUNC void lgI_stle (int dtype, void *p, int64_t n);

#endif
