/*
** safetensors.c: reading and writing the safetensors format (lg_safetensors.h). The reader
** is a small JSON parser that knows the header's one shape (an object of entries and
** "__metadata__") and checks each value as it reads it; it runs twice over the same text,
** first counting (and finding every error that one entry shows by itself), then storing
** into the caller's memory and checking the whole (duplicates, overlaps, gaps).
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg_safetensors.h"

#define SHOWN (LGI_STSHOWN - 4)   /* bytes of a name a message shows */
#define SHOWNUM 40      /* characters of a number's text a message shows */
#define MAXELEMS (INT64_MAX / 8)   /* shape.c's bound: every stride and byte count fits */

typedef unsigned long long ull;   /* printed with %llu */

static int fail (char *msg, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, LGI_STMSG, fmt, ap);
  va_end(ap);
  return LGI_ESTFILE;
}

/* Length of the UTF-8 sequence at s (avail bytes, s[0] >= 0x80), 0 if it is not valid:
   no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629). */
static int utf8len (const unsigned char *s, size_t avail) {
  unsigned lo = 0x80, hi = 0xBF;
  int n, k;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) n = 2;
  else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    n = 3;
    if (s[0] == 0xE0) lo = 0xA0;
    if (s[0] == 0xED) hi = 0x9F;
  }
  else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    n = 4;
    if (s[0] == 0xF0) lo = 0x90;
    if (s[0] == 0xF4) hi = 0x8F;
  }
  else return 0;
  if (avail < (size_t)n || s[1] < lo || s[1] > hi) return 0;
  for (k = 2; k < n; k++)
    if (s[k] < 0x80 || s[k] > 0xBF) return 0;
  return n;
}

int lgI_stutf8 (const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    int k = p[i] < 0x80 ? 1 : utf8len(p + i, n - i);
    if (k == 0) return 0;
    i += (size_t)k;
  }
  return 1;
}

const char *lgI_stshown (char *buf, const char *s, size_t n) {
  size_t k, m = n > SHOWN ? SHOWN : n;
  while (m < n && m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80) m--;   /* a whole character */
  for (k = 0; k < m; k++) {
    unsigned char c = (unsigned char)s[k];
    buf[k] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
  }
  strcpy(buf + m, m < n ? "..." : "");
  return buf;
}

/* "{2, 3}" into buf (LGI_STMSG bytes; a long shape is cut, as the message would be) */
static const char *shapetext (char *buf, int ndim, const int64_t *size) {
  size_t len = 1;
  int i;
  strcpy(buf, "{");
  for (i = 0; i < ndim && len < LGI_STMSG - 40; i++)
    len += (size_t)snprintf(buf + len, LGI_STMSG - len, i > 0 ? ", %lld" : "%lld",
                            (long long)size[i]);
  if (i < ndim) strcpy(buf + len, ", ...");
  strcat(buf, "}");
  return buf;
}


/* {==================================================================
** Reading
** =================================================================== */

typedef struct Parser {
  const char *h;
  size_t n, i;                 /* the header text, and where the parser is */
  uint64_t datasize;
  char *msg;
  size_t nentry, nmeta, nsize, ntext;   /* counted on the first pass, the places to store
                                           at on the second */
  int sawmeta;
  const lg_STSize *cap;        /* the second pass's room, from the first's counts */
  lg_STEntry *entry;           /* NULL on the first pass */
  lg_STPair *meta;
  int64_t *size;
  char *text;
} Parser;

/* An integer as the header writes it: its value (saturated), its sign, whether it exceeds
   INT64_MAX, and its text for messages. */
typedef struct Num {
  uint64_t u;
  int neg, big;
  const char *text;
  int len;
} Num;

static int peek (const Parser *P) {
  return P->i < P->n ? (unsigned char)P->h[P->i] : -1;
}

static void skipws (Parser *P) {
  while (P->i < P->n && (P->h[P->i] == ' ' || P->h[P->i] == '\t' || P->h[P->i] == '\n' ||
                         P->h[P->i] == '\r'))
    P->i++;
}

static int jsonerror (const Parser *P, const char *what) {
  if (P->i >= P->n) return fail(P->msg, "bad JSON at the end of the header: %s", what);
  return fail(P->msg, "bad JSON in the header at byte %llu: %s", (ull)P->i + 1, what);
}

/* Skips white space, then the character c, or the error "<what>" */
static int expect (Parser *P, int c, const char *what) {
  skipws(P);
  if (peek(P) != c) return jsonerror(P, what);
  P->i++;
  return LG_OK;
}

static int hex4 (const Parser *P, size_t at, uint32_t *u) {
  int k;
  *u = 0;
  if (P->n - at < 4) return 0;
  for (k = 0; k < 4; k++) {
    int c = (unsigned char)P->h[at + k], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return 0;
    *u = *u * 16 + (uint32_t)d;
  }
  return 1;
}

/* The escape at P->i (its backslash) as UTF-8 bytes in b; their number, or 0 after
   setting the error in *err. A \u escape of a surrogate must be a pair. */
static int escape (Parser *P, unsigned char *b, int *err) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  uint32_t u, lo;
  const char *e;
  int c = P->i + 1 < P->n ? (unsigned char)P->h[P->i + 1] : -1;
  if (c != 'u') {
    if (c <= 0 || (e = strchr(from, c)) == NULL) {
      *err = jsonerror(P, "bad escape in a string");
      return 0;
    }
    P->i += 2;
    b[0] = (unsigned char)to[e - from];
    return 1;
  }
  if (!hex4(P, P->i + 2, &u)) { *err = jsonerror(P, "bad \\u escape in a string"); return 0; }
  if (u >= 0xDC00 && u <= 0xDFFF) {
    *err = jsonerror(P, "lone surrogate in a \\u escape");
    return 0;
  }
  if (u >= 0xD800 && u <= 0xDBFF) {
    if (P->n - P->i < 12 || P->h[P->i + 6] != '\\' || P->h[P->i + 7] != 'u' ||
        !hex4(P, P->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
      *err = jsonerror(P, "lone surrogate in a \\u escape");
      return 0;
    }
    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    P->i += 6;
  }
  P->i += 6;
  if (u < 0x80) { b[0] = (unsigned char)u; return 1; }
  if (u < 0x800) { b[0] = (unsigned char)(0xC0 | (u >> 6)); b[1] = (unsigned char)(0x80 | (u & 0x3F)); return 2; }
  if (u < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (u >> 12));
    b[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (u & 0x3F));
    return 3;
  }
  b[0] = (unsigned char)(0xF0 | (u >> 18));
  b[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
  b[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
  b[3] = (unsigned char)(0x80 | (u & 0x3F));
  return 4;
}

/* The string at P->i (after white space), decoded: its first cap bytes into out (out may
   be NULL when cap is 0), its length in *len. */
static int string (Parser *P, char *out, size_t cap, size_t *len) {
  size_t k = 0;
  skipws(P);
  if (peek(P) != '"') return jsonerror(P, "string expected");
  P->i++;
  for (;;) {
    unsigned char b[4];
    int c = peek(P), nb, j, err = LG_OK;
    if (c < 0) return jsonerror(P, "unterminated string");
    if (c == '"') break;
    if (c < 0x20) return jsonerror(P, "control character in a string");
    if (c == '\\') {
      if ((nb = escape(P, b, &err)) == 0) return err;
    }
    else if (c < 0x80) { b[0] = (unsigned char)c; nb = 1; P->i++; }
    else {
      nb = utf8len((const unsigned char *)P->h + P->i, P->n - P->i);
      if (nb == 0) return jsonerror(P, "invalid UTF-8 in a string");
      memcpy(b, P->h + P->i, (size_t)nb);
      P->i += (size_t)nb;
    }
    for (j = 0; j < nb; j++, k++)
      if (k < cap) out[k] = (char)b[j];
  }
  P->i++;
  *len = k;
  return LG_OK;
}

/* The integer at P->i (after white space) into x; *isint 0 when the value there is not
   an integer (another kind of value, or a number with a fraction or an exponent). */
static int integer (Parser *P, Num *x, int *isint) {
  size_t start;
  skipws(P);
  start = P->i;
  x->u = 0;
  x->neg = x->big = 0;
  *isint = 0;
  if (peek(P) == '-') { x->neg = 1; P->i++; }
  if (peek(P) < '0' || peek(P) > '9') {
    if (x->neg) return jsonerror(P, "digit expected after '-'");
    return LG_OK;
  }
  if (peek(P) == '0' && P->i + 1 < P->n && P->h[P->i + 1] >= '0' && P->h[P->i + 1] <= '9')
    return jsonerror(P, "bad number (a leading zero)");
  while (peek(P) >= '0' && peek(P) <= '9') {
    unsigned d = (unsigned)(peek(P) - '0');
    if (x->u > (UINT64_MAX - d) / 10) x->u = UINT64_MAX, x->big = 1;
    else x->u = x->u * 10 + d;
    P->i++;
  }
  if (x->u > (uint64_t)INT64_MAX) x->big = 1;
  if (peek(P) == '.' || peek(P) == 'e' || peek(P) == 'E') return LG_OK;
  x->text = P->h + start;
  x->len = (int)((P->i - start) > SHOWNUM ? SHOWNUM : (P->i - start));
  *isint = 1;
  return LG_OK;
}

/* After an element of an array or object: ',' (1) or the closing character (0), else the
   error in *err (-1). */
static int more (Parser *P, int close, int *err) {
  skipws(P);
  if (peek(P) == ',') { P->i++; return 1; }
  if (peek(P) == close) { P->i++; return 0; }
  *err = jsonerror(P, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
  return -1;
}

/* Whether the array or object opened at P->i (after white space) by c is empty (then
   consumed); 0 too when it is not opened by c, which the caller checks first. */
static int opens (Parser *P, int c) {
  skipws(P);
  if (peek(P) != c) return -1;
  P->i++;
  skipws(P);
  if (peek(P) == (c == '{' ? '}' : ']')) { P->i++; return 1; }
  return 0;
}

/* The value of "shape" for entry name: sizes into size, their number into *ndim. */
static int shape (Parser *P, const char *name, int64_t *size, int *ndim) {
  int k = 0, isint, err = LG_OK, go = opens(P, '[');
  if (go < 0) return fail(P->msg, "entry '%s': 'shape' must be an array of integers", name);
  while (go == 0) {
    Num x;
    if ((err = integer(P, &x, &isint)) != LG_OK) return err;
    if (!isint) return fail(P->msg, "entry '%s': 'shape' must be an array of integers", name);
    if (x.neg) return fail(P->msg, "entry '%s': negative size %.*s in 'shape'", name, x.len, x.text);
    if (x.big)
      return fail(P->msg, "entry '%s': size %.*s in 'shape' is too large", name, x.len, x.text);
    if (k == LGI_MAXDIM)
      return fail(P->msg, "entry '%s': 'shape' has more than %d sizes", name, LGI_MAXDIM);
    size[k++] = (int64_t)x.u;
    if ((go = more(P, ']', &err)) < 0) return err;
    go = !go;
  }
  *ndim = k;
  return LG_OK;
}

/* The value of "data_offsets" for entry name: two non-negative integers. */
static int offsets (Parser *P, const char *name, Num *off) {
  int k, isint, err = LG_OK, go = opens(P, '[');
  for (k = 0; k < 2 && go == 0; k++) {
    if ((err = integer(P, &off[k], &isint)) != LG_OK) return err;
    if (!isint || off[k].neg) break;
    if ((go = more(P, ']', &err)) < 0) return err;
    if (go != (k == 0)) break;   /* a ',' after the first, a ']' after the second */
    go = 0;
  }
  if (k < 2 || go != 0)
    return fail(P->msg, "entry '%s': 'data_offsets' must be an array of two non-negative "
                        "integers", name);
  return LG_OK;
}

/* The bytes of an entry of dtype and shape into *bytes; 0 when the number of elements
   (each size counted as at least 1, so that no stride of it overflows) is too large. */
static int entrybytes (int dtype, int ndim, const int64_t *size, uint64_t *bytes) {
  int64_t p = 1;
  int i, zero = 0;
  for (i = 0; i < ndim; i++) {
    int64_t s = size[i] > 1 ? size[i] : 1;
    if (size[i] == 0) zero = 1;
    if (s > MAXELEMS / p) return 0;
    p *= s;
  }
  *bytes = zero ? 0 : (uint64_t)p * lgI_elemsize(dtype);
  return 1;
}

/* Checks an entry once read: every field there, the sizes and offsets agreeing. */
static int checkentry (Parser *P, const char *name, int dtype, int ndim, const int64_t *size,
                       const Num *off) {
  char sh[LGI_STMSG];
  uint64_t bytes;
  if (dtype < 0) return fail(P->msg, "entry '%s' has no 'dtype'", name);
  if (ndim < 0) return fail(P->msg, "entry '%s' has no 'shape'", name);
  if (off[0].text == NULL) return fail(P->msg, "entry '%s' has no 'data_offsets'", name);
  if (!entrybytes(dtype, ndim, size, &bytes))
    return fail(P->msg, "entry '%s': shape %s has too many elements", name,
                shapetext(sh, ndim, size));
  if (off[0].u > off[1].u)
    return fail(P->msg, "entry '%s': data_offsets [%.*s, %.*s] end before they begin", name,
                off[0].len, off[0].text, off[1].len, off[1].text);
  if (off[1].u > P->datasize)
    return fail(P->msg, "entry '%s': data_offsets [%.*s, %.*s] run past the end of the data "
                        "(%llu bytes)", name, off[0].len, off[0].text, off[1].len, off[1].text,
                (ull)P->datasize);
  if (off[1].u - off[0].u != bytes)
    return fail(P->msg, "entry '%s': shape %s of %s needs %llu bytes, data_offsets [%.*s, "
                        "%.*s] hold %llu", name, shapetext(sh, ndim, size),
                dtype == LGI_F32 ? "F32" : "F64", (ull)bytes, off[0].len, off[0].text,
                off[1].len, off[1].text, (ull)(off[1].u - off[0].u));
  return LG_OK;
}

static int iskey (const char *k, size_t len, const char *name) {
  return len == strlen(name) && memcmp(k, name, len) == 0;
}

/* The object of the entry whose decoded name is name (len bytes; s its shown form). */
static int entry (Parser *P, const char *name, size_t len, const char *s) {
  int dtype = -1, ndim = -1, err = LG_OK, go = opens(P, '{');
  int64_t size[LGI_MAXDIM];
  Num off[2];
  off[0].text = NULL;
  if (go < 0) return fail(P->msg, "entry '%s' is not an object", s);
  while (go == 0) {
    char key[SHOWN + 1], ks[SHOWN + 4];
    size_t klen;
    int twice;
    if ((err = string(P, key, sizeof key, &klen)) != LG_OK ||
        (err = expect(P, ':', "':' expected")) != LG_OK)
      return err;
    lgI_stshown(ks, key, klen < sizeof key ? klen : sizeof key);
    if (iskey(key, klen, "dtype")) {
      char dt[SHOWN + 1], ds[SHOWN + 4];
      size_t dlen;
      twice = dtype >= 0;
      skipws(P);
      if (peek(P) != '"') return fail(P->msg, "entry '%s': 'dtype' must be a string", s);
      if ((err = string(P, dt, sizeof dt, &dlen)) != LG_OK) return err;
      if (iskey(dt, dlen, "F64")) dtype = LGI_F64;
      else if (iskey(dt, dlen, "F32")) dtype = LGI_F32;
      else
        return fail(P->msg, "entry '%s': dtype '%s' is not supported (F64 or F32 expected)", s,
                    lgI_stshown(ds, dt, dlen < sizeof dt ? dlen : sizeof dt));
    }
    else if (iskey(key, klen, "shape")) {
      twice = ndim >= 0;
      if (!twice && (err = shape(P, s, size, &ndim)) != LG_OK) return err;
    }
    else if (iskey(key, klen, "data_offsets")) {
      twice = off[0].text != NULL;
      if (!twice && (err = offsets(P, s, off)) != LG_OK) return err;
    }
    else return fail(P->msg, "entry '%s': unknown field '%s'", s, ks);
    if (twice) return fail(P->msg, "entry '%s': field '%s' appears twice", s, ks);
    if ((go = more(P, '}', &err)) < 0) return err;
    go = !go;
  }
  if ((err = checkentry(P, s, dtype, ndim, size, off)) != LG_OK) return err;
  if (P->entry != NULL) {
    lg_STEntry *e = &P->entry[P->nentry];
    if (P->nentry >= P->cap->nentry || (size_t)ndim > P->cap->nsize - P->nsize) return LG_EARG;
    e->name = name;
    e->namelen = len;
    e->dtype = dtype;
    e->ndim = ndim;
    e->size = ndim > 0 ? P->size + P->nsize : NULL;
    if (ndim > 0) memcpy(P->size + P->nsize, size, (size_t)ndim * sizeof(int64_t));
    e->begin = off[0].u;
    e->end = off[1].u;
    e->src = NULL;
  }
  P->nentry++;
  P->nsize += (size_t)ndim;
  return LG_OK;
}

/* A string stored (second pass) or counted, with its NUL; its first bytes in local (of
   SHOWN + 1) on the first pass. */
static int stored (Parser *P, char *local, const char **s, size_t *len) {
  char *dst = P->text != NULL ? P->text + P->ntext : local;
  size_t room = P->text != NULL ? P->cap->ntext - P->ntext : SHOWN + 1;
  int err = string(P, dst, room, len);
  if (err != LG_OK) return err;
  if (P->text != NULL) {
    if (*len >= room) return LG_EARG;   /* counts that are not this header's */
    dst[*len] = '\0';
  }
  P->ntext += *len + 1;
  *s = dst;
  return LG_OK;
}

/* The value of "__metadata__": an object of strings, or null (none, as the safetensors
   package reads it). */
static int metadata (Parser *P) {
  int err = LG_OK, go;
  skipws(P);
  if (P->n - P->i >= 4 && memcmp(P->h + P->i, "null", 4) == 0) { P->i += 4; return LG_OK; }
  if ((go = opens(P, '{')) < 0)
    return fail(P->msg, "'__metadata__' must be an object of strings");
  while (go == 0) {
    char local[SHOWN + 1], ks[SHOWN + 4];
    const char *key, *value = NULL;
    size_t klen, vlen;
    if ((err = stored(P, local, &key, &klen)) != LG_OK ||
        (err = expect(P, ':', "':' expected")) != LG_OK)
      return err;
    skipws(P);
    if (peek(P) != '"')
      return fail(P->msg, "metadata '%s' is not a string",
                  lgI_stshown(ks, key, klen <= SHOWN ? klen : SHOWN + 1));
    if (P->text != NULL) { if ((err = stored(P, NULL, &value, &vlen)) != LG_OK) return err; }
    else if ((err = string(P, NULL, 0, &vlen)) != LG_OK) return err;
    else P->ntext += vlen + 1;
    if (P->meta != NULL) {
      lg_STPair *m = &P->meta[P->nmeta];
      if (P->nmeta >= P->cap->nmeta) return LG_EARG;
      m->key = key; m->keylen = klen;
      m->value = value; m->valuelen = vlen;
    }
    P->nmeta++;
    if ((go = more(P, '}', &err)) < 0) return err;
    go = !go;
  }
  return LG_OK;
}

/* The whole header: an object of entries and at most one "__metadata__", then only white
   space (the padding). */
static int header (Parser *P) {
  int err = LG_OK, go;
  skipws(P);
  if ((go = opens(P, '{')) < 0) return jsonerror(P, "'{' expected");
  while (go == 0) {
    char local[SHOWN + 1], s[SHOWN + 4];
    const char *name;
    size_t len;
    if ((err = stored(P, local, &name, &len)) != LG_OK ||
        (err = expect(P, ':', "':' expected")) != LG_OK)
      return err;
    lgI_stshown(s, name, len <= SHOWN ? len : SHOWN + 1);
    if (iskey(name, len, "__metadata__")) {   /* its text stays counted: both passes alike */
      if (P->sawmeta) return fail(P->msg, "duplicate name '__metadata__'");
      P->sawmeta = 1;
      err = metadata(P);
    }
    else err = entry(P, name, len, s);
    if (err != LG_OK) return err;
    if ((go = more(P, '}', &err)) < 0) return err;
    go = !go;
  }
  skipws(P);
  if (P->i != P->n) return jsonerror(P, "text after the header's object");
  return LG_OK;
}

static void initparser (Parser *P, const char *h, size_t n, uint64_t datasize, char *msg) {
  memset(P, 0, sizeof(*P));
  P->h = h;
  P->n = n;
  P->datasize = datasize;
  P->msg = msg;
}

int lgI_stlength (const unsigned char *p, uint64_t filesize, uint64_t *n, char *msg) {
  int k;
  if (filesize < 8)
    return fail(msg, "truncated file (%llu bytes; the header length alone takes 8)",
                (ull)filesize);
  *n = 0;
  for (k = 7; k >= 0; k--) *n = (*n << 8) | p[k];
  if (*n > LGI_STMAXHEADER)
    return fail(msg, "header length %llu exceeds the limit of %llu bytes", (ull)*n,
                (ull)LGI_STMAXHEADER);
  if (*n > filesize - 8)
    return fail(msg, "header length %llu is larger than the rest of the file (%llu bytes)",
                (ull)*n, (ull)(filesize - 8));
  return LG_OK;
}

/* The bytes of memory for what P counted; 0 on overflow. */
static size_t needed (const Parser *P) {
  size_t parts[4], total = 0;
  int k;
  parts[0] = P->nsize > SIZE_MAX / sizeof(int64_t) ? SIZE_MAX : P->nsize * sizeof(int64_t);
  parts[1] = P->nentry > SIZE_MAX / sizeof(lg_STEntry) ? SIZE_MAX
                                                       : P->nentry * sizeof(lg_STEntry);
  parts[2] = P->nmeta > SIZE_MAX / sizeof(lg_STPair) ? SIZE_MAX : P->nmeta * sizeof(lg_STPair);
  parts[3] = P->ntext;
  for (k = 0; k < 4; k++) {
    if (parts[k] > SIZE_MAX - total) return 0;
    total += parts[k];
  }
  return total > 0 ? total : 1;
}

int lgI_stmeasure (const char *h, size_t n, uint64_t datasize, lg_STSize *S, char *msg) {
  Parser P;
  int err;
  initparser(&P, h, n, datasize, msg);
  if ((err = header(&P)) != LG_OK) return err;
  S->nentry = P.nentry; S->nmeta = P.nmeta; S->nsize = P.nsize; S->ntext = P.ntext;
  if ((S->need = needed(&P)) == 0) return fail(msg, "header too large for this machine");
  return LG_OK;
}

static int cmpbytes (const char *a, size_t na, const char *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c != 0 ? c : (na > nb) - (na < nb);
}

static int byname (const void *a, const void *b) {
  const lg_STEntry *x = (const lg_STEntry *)a, *y = (const lg_STEntry *)b;
  return cmpbytes(x->name, x->namelen, y->name, y->namelen);
}

static int bykey (const void *a, const void *b) {
  const lg_STPair *x = (const lg_STPair *)a, *y = (const lg_STPair *)b;
  return cmpbytes(x->key, x->keylen, y->key, y->keylen);
}

static int byoffset (const void *a, const void *b) {
  const lg_STEntry *x = (const lg_STEntry *)a, *y = (const lg_STEntry *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return byname(a, b);
}

/* The data must be covered exactly: sorted by offset, each entry begins where the bytes
   so far end. */
static int covered (lg_STHeader *h, uint64_t datasize, char *msg) {
  const lg_STEntry *last = NULL;
  uint64_t pos = 0;
  size_t k;
  if (h->nentry > 1) qsort(h->entry, h->nentry, sizeof(lg_STEntry), byoffset);
  for (k = 0; k < h->nentry; k++) {
    const lg_STEntry *e = &h->entry[k];
    if (e->begin < pos) {
      char a[SHOWN + 4], b[SHOWN + 4];
      return fail(msg, "entries '%s' and '%s' overlap (data_offsets [%llu, %llu] and "
                       "[%llu, %llu])", lgI_stshown(a, last->name, last->namelen),
                  lgI_stshown(b, e->name, e->namelen), (ull)last->begin, (ull)last->end,
                  (ull)e->begin, (ull)e->end);
    }
    if (e->begin > pos)
      return fail(msg, "%llu bytes at offset %llu of the data belong to no entry",
                  (ull)(e->begin - pos), (ull)pos);
    if (e->end > pos) { pos = e->end; last = e; }
  }
  if (pos < datasize)
    return fail(msg, "%llu bytes after the data (which ends at offset %llu)",
                (ull)(datasize - pos), (ull)pos);
  return LG_OK;
}

int lgI_stparse (const char *h, size_t n, uint64_t datasize, const lg_STSize *S, void *mem,
                 lg_STHeader *out, char *msg) {
  Parser P;
  size_t k;
  char s[SHOWN + 4];
  int err;
  initparser(&P, h, n, datasize, msg);
  P.cap = S;   /* the parts laid out as needed() sized them */
  P.size = (int64_t *)mem;
  P.entry = (lg_STEntry *)(void *)(P.size + S->nsize);
  P.meta = (lg_STPair *)(void *)(P.entry + S->nentry);
  P.text = (char *)(void *)(P.meta + S->nmeta);
  if ((err = header(&P)) != LG_OK) return err;
  out->entry = P.entry; out->nentry = P.nentry;
  out->meta = P.meta; out->nmeta = P.nmeta;
  lgI_stsort(out);
  for (k = 1; k < out->nentry; k++)
    if (byname(&out->entry[k - 1], &out->entry[k]) == 0)
      return fail(msg, "duplicate name '%s'",
                  lgI_stshown(s, out->entry[k].name, out->entry[k].namelen));
  for (k = 1; k < out->nmeta; k++)
    if (bykey(&out->meta[k - 1], &out->meta[k]) == 0)
      return fail(msg, "duplicate metadata key '%s'",
                  lgI_stshown(s, out->meta[k].key, out->meta[k].keylen));
  if ((err = covered(out, datasize, msg)) != LG_OK) return err;
  if (out->nentry > 1) qsort(out->entry, out->nentry, sizeof(lg_STEntry), byname);
  return LG_OK;
}

/* }================================================================== */


/* {==================================================================
** Writing
** =================================================================== */

void lgI_stsort (lg_STHeader *h) {
  if (h->nentry > 1) qsort(h->entry, h->nentry, sizeof(lg_STEntry), byname);
  if (h->nmeta > 1) qsort(h->meta, h->nmeta, sizeof(lg_STPair), bykey);
}

uint64_t lgI_stbytes (const lg_STEntry *e) {
  uint64_t b = lgI_elemsize(e->dtype);
  int i;
  for (i = 0; i < e->ndim; i++) b *= (uint64_t)e->size[i];
  return b;
}

int lgI_stlayout (lg_STHeader *h, size_t *order, uint64_t *datasize) {
  static const int dtypes[2] = {LGI_F64, LGI_F32};   /* the widest first */
  uint64_t pos = 0;
  size_t i, k = 0;
  int pass;
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < h->nentry; i++) {
      lg_STEntry *e = &h->entry[i];
      uint64_t b;
      if (e->dtype != dtypes[pass]) continue;
      b = lgI_stbytes(e);
      if (b > UINT64_MAX - pos) return LGI_EOVERFLOW;
      e->begin = pos;
      e->end = pos += b;
      order[k++] = i;
    }
  }
  *datasize = pos;
  return k == h->nentry ? LG_OK : LG_EARG;   /* an entry of neither dtype */
}

typedef struct Out {
  char *p;      /* NULL: only measuring */
  size_t len;
  int over;
} Out;

static void put (Out *o, const char *s, size_t n) {
  if (n > SIZE_MAX - o->len) { o->over = 1; return; }
  if (o->p != NULL) memcpy(o->p + o->len, s, n);
  o->len += n;
}

#define putlit(o, s) put(o, "" s, sizeof(s) - 1)

static void putnum (Out *o, uint64_t x) {
  char buf[24];
  put(o, buf, (size_t)snprintf(buf, sizeof buf, "%llu", (ull)x));
}

/* s as a JSON string, escaped as Python's json.dumps and serde_json escape */
static void putstring (Out *o, const char *s, size_t n) {
  size_t i, run = 0;
  put(o, "\"", 1);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *e = NULL;
    char u[8];
    if (c == '"') e = "\\\"";
    else if (c == '\\') e = "\\\\";
    else if (c == '\b') e = "\\b";
    else if (c == '\f') e = "\\f";
    else if (c == '\n') e = "\\n";
    else if (c == '\r') e = "\\r";
    else if (c == '\t') e = "\\t";
    else if (c < 0x20) { snprintf(u, sizeof u, "\\u%04x", c); e = u; }
    if (e == NULL) { run++; continue; }
    put(o, s + i - run, run);
    run = 0;
    put(o, e, strlen(e));
  }
  put(o, s + n - run, run);
  put(o, "\"", 1);
}

size_t lgI_stheader (const lg_STHeader *h, char *out) {
  Out o;
  size_t k;
  o.p = out; o.len = 0; o.over = 0;
  put(&o, "{", 1);
  if (h->nmeta > 0) {
    putlit(&o, "\"__metadata__\":{");
    for (k = 0; k < h->nmeta; k++) {
      if (k > 0) put(&o, ",", 1);
      putstring(&o, h->meta[k].key, h->meta[k].keylen);
      put(&o, ":", 1);
      putstring(&o, h->meta[k].value, h->meta[k].valuelen);
    }
    put(&o, "}", 1);
  }
  for (k = 0; k < h->nentry; k++) {
    const lg_STEntry *e = &h->entry[k];
    int i;
    if (k > 0 || h->nmeta > 0) put(&o, ",", 1);
    putstring(&o, e->name, e->namelen);
    if (e->dtype == LGI_F32) putlit(&o, ":{\"dtype\":\"F32\",\"shape\":[");
    else putlit(&o, ":{\"dtype\":\"F64\",\"shape\":[");
    for (i = 0; i < e->ndim; i++) {
      if (i > 0) put(&o, ",", 1);
      putnum(&o, (uint64_t)e->size[i]);
    }
    putlit(&o, "],\"data_offsets\":[");
    putnum(&o, e->begin);
    put(&o, ",", 1);
    putnum(&o, e->end);
    putlit(&o, "]}");
  }
  put(&o, "}", 1);
  while (!o.over && o.len % 8 != 0) put(&o, " ", 1);
  return o.over ? 0 : o.len;
}

void lgI_stputlength (unsigned char *p, uint64_t n) {
  int k;
  for (k = 0; k < 8; k++) p[k] = (unsigned char)(n >> (8 * k));
}

/* }================================================================== */


/* {==================================================================
** Data
** =================================================================== */

int lgI_stlittle (void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

void lgI_stle (int dtype, void *p, int64_t n) {
  unsigned char *b = (unsigned char *)p;
  size_t es = lgI_elemsize(dtype), i, j;
  if (lgI_stlittle()) return;
  for (i = 0; i < (size_t)n; i++, b += es)
    for (j = 0; j < es / 2; j++) {
      unsigned char t = b[j];
      b[j] = b[es - 1 - j];
      b[es - 1 - j] = t;
    }
}

int lgI_stpack (const lg_TDesc *d, const void *data, void *out) {
  lg_TDesc c;
  int64_t n;
  int err = lgI_tinit(&c, d->dtype, d->ndim, d->size);
  if (err != LG_OK) return err;
  n = lgI_tnumel(&c);
  if (n == 0) return LG_OK;
  if (lgI_iscontig(d))
    memcpy(out, (const char *)data + d->offset * (int64_t)lgI_elemsize(d->dtype),
           (size_t)n * lgI_elemsize(d->dtype));
  else if ((err = lgI_copy(&c, out, d, data)) != LG_OK) return err;
  lgI_stle(d->dtype, out, n);
  return LG_OK;
}

/* }================================================================== */
