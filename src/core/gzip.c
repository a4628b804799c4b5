/*
** gzip.c: gzip data inflated through zlib (Debian's zlib1g-dev), when the build has it
** (LUAGRAD_HAVE_ZLIB); otherwise every call answers LGI_ENOZLIB, so that a build without
** zlib still reads plain files and says clearly why it reads no compressed one.
*/
#include <string.h>

#include "core/lg_data.h"

int lgI_isgzip (const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

#ifndef LUAGRAD_HAVE_ZLIB

int lgI_hasgzip (void) { return 0; }

int lgI_gunzip (lg_Work *W, const void *src, size_t n, size_t skip, void *out,
                size_t outlen, int count, lg_Gunzip *r) {
  (void)W; (void)src; (void)n; (void)skip; (void)out; (void)outlen; (void)count;
  memset(r, 0, sizeof(*r));
  return LGI_ENOZLIB;
}

#else

#define ZLIB_CONST   /* next_in points at const bytes */
#include <zlib.h>

#define CHUNK ((size_t)1 << 30)   /* zlib counts in unsigned int */
#define HEAD 16                   /* the block's size, kept before it (zfree is not told) */

int lgI_hasgzip (void) { return 1; }

static voidpf zalloc (voidpf ud, uInt items, uInt size) {
  size_t n = (size_t)items * size + HEAD;
  char *p = (char *)lgI_alloc((lg_Work *)ud, NULL, 0, n);
  if (p == NULL) return Z_NULL;
  memcpy(p, &n, sizeof n);
  return p + HEAD;
}

static void zfree (voidpf ud, voidpf block) {
  char *p = (char *)block - HEAD;
  size_t n;
  memcpy(&n, p, sizeof n);
  lgI_alloc((lg_Work *)ud, p, n, 0);
}

/* Where the next bytes of the result go: dropped (into sink), into out, or counted. */
static unsigned char *target (uint64_t pos, size_t skip, unsigned char *out, size_t outlen,
                              unsigned char *sink, size_t nsink, size_t *room) {
  if (pos < skip) {
    *room = (skip - pos < nsink) ? (size_t)(skip - pos) : nsink;
    return sink;
  }
  if (pos - skip < outlen) {
    *room = outlen - (size_t)(pos - skip);
    if (*room > CHUNK) *room = CHUNK;
    return out + (pos - skip);
  }
  *room = nsink;
  return sink;
}

/* One inflate step's outcome: -1 to go on, else the call's result. */
static int step (z_stream *z, int ret, const unsigned char *end, lg_Gunzip *r) {
  if (ret == Z_STREAM_END) {
    const unsigned char *next = z->next_in;
    if (next == end) return LG_OK;
    if (!lgI_isgzip(next, (size_t)(end - next))) return LGI_EGZAFTER;
    return (inflateReset(z) == Z_OK) ? -1 : LGI_EGZIP;   /* another member */
  }
  if (ret == Z_OK) return -1;
  if (ret == Z_MEM_ERROR) return LG_EMEM;
  if (ret == Z_BUF_ERROR) return LGI_EGZSHORT;   /* no input left, and the stream not done */
  strncpy(r->msg, z->msg ? z->msg : "unknown error", sizeof r->msg - 1);
  return LGI_EGZIP;
}

int lgI_gunzip (lg_Work *W, const void *src, size_t n, size_t skip, void *out,
                size_t outlen, int count, lg_Gunzip *r) {
  unsigned char sink[16384];
  const unsigned char *in = (const unsigned char *)src, *end = in + n;
  uint64_t pos = 0;
  z_stream z;
  int status = -1;
  memset(r, 0, sizeof(*r));
  memset(&z, 0, sizeof z);
  z.zalloc = zalloc;
  z.zfree = zfree;
  z.opaque = W;
  switch (inflateInit2(&z, 16 + MAX_WBITS)) {   /* gzip only */
    case Z_OK: break;
    case Z_MEM_ERROR: return LG_EMEM;
    default: return LGI_EGZIP;
  }
  while (status < 0) {
    size_t room, made;
    unsigned char *o;
    if (!count && pos >= (uint64_t)skip + outlen) { status = LG_OK; break; }
    o = target(pos, skip, (unsigned char *)out, outlen, sink, sizeof sink, &room);
    if (z.avail_in == 0) {   /* the input, a chunk at a time */
      size_t left = (size_t)(end - z.next_in);
      if (z.next_in == NULL) { z.next_in = in; left = n; }
      z.avail_in = (uInt)(left < CHUNK ? left : CHUNK);
    }
    z.next_out = o;
    z.avail_out = (uInt)room;
    status = step(&z, inflate(&z, Z_NO_FLUSH), end, r);
    made = room - z.avail_out;
    pos += made;
  }
  inflateEnd(&z);
  r->got = (pos <= skip) ? 0 : (pos - skip < outlen) ? (size_t)(pos - skip) : outlen;
  if (pos > (uint64_t)skip + outlen) r->more = pos - skip - outlen;
  return status;
}

#endif
