/*
** test_data.c: the data readers of the core (src/core/lg_data.h) below the binding: rows
** copied out of views, IDX elements decoded in place, the CSV scanner's passes, gzip's
** partial and counted inflates, zlib's memory through a failing allocator, and thousands of
** mutated inputs through every parser (run under ASan and valgrind too: none may read or
** write out of bounds).
*/
#include "luagrad.h"   /* first: the header must compile on its own */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/lg_data.h"
#ifdef LUAGRAD_HAVE_ZLIB
#include <zlib.h>
#endif

static int failures = 0, checks = 0;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void check (int ok, const char *what, const char *file, int line) {
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  }
}

/* An allocator that fails once its budget of allocations is spent (-1: never). */
typedef struct Budget { long left; long live; } Budget;

static void *budget_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Budget *b = (Budget *)ud;
  (void)osize;
  if (nsize == 0) {
    if (ptr != NULL) b->live--;
    free(ptr);
    return NULL;
  }
  if (b->left == 0) return NULL;
  if (b->left > 0) b->left--;
  if (ptr == NULL) b->live++;
  return realloc(ptr, nsize);
}

static uint64_t seed = 88172645463325252u;
static uint64_t next (void) {   /* xorshift64: the mutations, the same on every run */
  seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
  return seed;
}

/* ---- rows ------------------------------------------------------------------------- */

static void test_rows (void) {
  double x[12], out[12];
  float outf[12];
  lg_TDesc d, t, o, of;
  int64_t s34[2] = {3, 4}, s43[2] = {4, 3}, i, j;
  for (i = 0; i < 12; i++) x[i] = (double)i;
  lgI_tinit(&d, LGI_F64, 2, s34);
  lgI_transpose(&d, 0, 1, &t);   /* 4 x 3, strides {1, 4} */
  lgI_tinit(&o, LGI_F64, 2, s43);
  lgI_tinit(&of, LGI_F32, 2, s43);
  for (j = 0; j < 4; j++) {   /* rows in reverse order */
    CHECK(lgI_copyrow(&o, out, j, &t, x, 3 - j) == LG_OK);
    CHECK(lgI_copyrow(&of, outf, j, &t, x, 3 - j) == LG_OK);
  }
  for (j = 0; j < 4; j++)
    for (i = 0; i < 3; i++) {
      CHECK(out[j * 3 + i] == (double)(i * 4 + (3 - j)));   /* x^T[3 - j][i] */
      CHECK(outf[j * 3 + i] == (float)(i * 4 + (3 - j)));
    }
  lgI_tinit(&o, LGI_F64, 2, s34);   /* contiguous rows: the memcpy path, and an offset */
  d.offset = 0;
  CHECK(lgI_copyrow(&o, out, 0, &d, x, 2) == LG_OK);
  CHECK(out[0] == 8 && out[3] == 11);
  CHECK(lgI_copyrow(&o, out, 0, &d, x, 3) == LGI_EINDEX);   /* out of range: refused */
}

/* ---- IDX -------------------------------------------------------------------------- */

static void test_decode (void) {
  /* each type's bytes placed at the end of the doubles, then decoded in place */
  static const struct { int type; size_t es; unsigned char b[16]; double v[2]; } c[] = {
    {LGI_IDXU8, 1, {0xff, 0x07}, {255, 7}},
    {LGI_IDXI8, 1, {0xff, 0x80}, {-1, -128}},
    {LGI_IDXI16, 2, {0x80, 0x00, 0x01, 0x02}, {-32768, 258}},
    {LGI_IDXI32, 4, {0xff, 0xff, 0xff, 0xfe, 0x7f, 0xff, 0xff, 0xff}, {-2, 2147483647}},
    {LGI_IDXF32, 4, {0x3f, 0xc0, 0, 0, 0xc0, 0x20, 0, 0}, {1.5, -2.5}},
    {LGI_IDXF64, 8, {0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a,
                     0x80, 0, 0, 0, 0, 0, 0, 0}, {0.1, -0.0}},
  };
  size_t k;
  for (k = 0; k < sizeof c / sizeof c[0]; k++) {
    double out[2];
    unsigned char *src = (unsigned char *)out + 2 * (8 - c[k].es);
    memcpy(src, c[k].b, 2 * c[k].es);
    lgI_idxdecode(c[k].type, src, 2, out);
    CHECK(out[0] == c[k].v[0] && out[1] == c[k].v[1]);
    CHECK(signbit(out[1]) == signbit(c[k].v[1]));
  }
}

static void test_idxheader (void) {
  static const unsigned char ok[] = {0, 0, 0x0B, 2, 0, 0, 0, 3, 0, 1, 0, 0};
  lg_IdxHeader h;
  CHECK(lgI_idxheader(ok, sizeof ok, &h) == LG_OK);
  CHECK(h.type == LGI_IDXI16 && h.ndim == 2 && h.size[0] == 3 && h.size[1] == 65536);
  CHECK(h.hbytes == 12 && h.esize == 2 && h.numel == 196608 && h.dbytes == 393216);
  CHECK(lgI_idxheader(ok, 11, &h) == LGI_EIDXSHORT && h.hbytes == 12);
  CHECK(lgI_idxheader(ok, 3, &h) == LGI_EIDXSHORT && h.hbytes == 4);
}

/* ---- CSV -------------------------------------------------------------------------- */

/* Both passes over text; the numbers in out (of room for n) and their count, or -1. */
static int64_t readcsv (const char *text, size_t len, int sep, double *out, int64_t n,
                        lg_CsvInfo *info) {
  lg_CsvScan s;
  lgI_csvinit(&s, text, len, sep);
  if (lgI_csvshape(&s, info) != LG_OK) return -1;
  if (info->rows * info->cols > n) return -2;
  if (lgI_csvfill(&s, info, out) != LG_OK) return -1;
  return info->rows * info->cols;
}

static void test_csv (void) {
  static const char text[] = "1,2\r\n\r\n \"3\" , -4.5e1 \n";
  double out[8];
  lg_CsvInfo info;
  CHECK(readcsv(text, sizeof text - 1, ',', out, 8, &info) == 4);
  CHECK(info.rows == 2 && info.cols == 2);
  CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == -45);
  CHECK(readcsv("1,2\n3\n", 6, ',', out, 8, &info) == -1);
  CHECK(info.line == 2 && info.got == 1 && info.first == 1);
  CHECK(readcsv("1 2\n3 x\n", 8, ' ', out, 8, &info) == -1);   /* a space as separator */
  CHECK(info.line == 2 && info.col == 2 && info.len == 1 && info.s[0] == 'x');
  CHECK(readcsv("1 2\n3 4", 7, ' ', out, 8, &info) == 4 && out[3] == 4);
  {
    double x;
    CHECK(lgI_csvnumber("  -0.5e-1\t", 10, &x) && x == -0.05);
    CHECK(lgI_csvnumber("InFiNiTy", 8, &x) && isinf(x));
    CHECK(!lgI_csvnumber("1.2.3", 5, &x) && !lgI_csvnumber("+", 1, &x));
    CHECK(!lgI_csvnumber("", 0, &x) && !lgI_csvnumber("e5", 2, &x));
  }
}

/* Mutated CSV text, each through both passes: no crash, no read past the text (the text is
   copied to a block of its exact length, so ASan and valgrind see any overrun). */
static void fuzz_csv (void) {
  static const char seedtext[] = "a,\"b \"\"c\"\"\"\r\n1, 2.5e3\n\n\"4\",-inf\n  ,nan\n\"7\n8\",9";
  const char alphabet[] = ",\"\r\n .e-+0123456789xinf\t";
  int iter;
  for (iter = 0; iter < 20000; iter++) {
    size_t n = sizeof seedtext - 1, k, edits = 1 + next() % 4;
    char *t = (char *)malloc(n + 8);
    double *out;
    lg_CsvInfo info;
    memcpy(t, seedtext, n);
    for (k = 0; k < edits && n > 0; k++) {
      size_t at = (size_t)(next() % n);
      switch (next() % 3) {
        case 0: t[at] = alphabet[next() % (sizeof alphabet - 1)]; break;
        case 1: n = at; break;   /* cut */
        default: t[at] = (char)(next() % 256);
      }
    }
    t = (char *)realloc(t, n > 0 ? n : 1);
    out = (double *)malloc(sizeof(double) * (n + 1));
    readcsv(t, n, (iter & 1) ? ',' : ' ', out, (int64_t)n + 1, &info);
    free(out);
    free(t);
  }
  CHECK(1);
}

/* ---- gzip ------------------------------------------------------------------------- */

#ifdef LUAGRAD_HAVE_ZLIB
/* data[0..n) gzip-compressed into a new block; its length in *len */
static unsigned char *gzipof (const unsigned char *data, size_t n, size_t *len) {
  z_stream z;
  unsigned char *out = (unsigned char *)malloc(n + 256);
  memset(&z, 0, sizeof z);
  deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)(n + 256);
  deflate(&z, Z_FINISH);
  *len = n + 256 - z.avail_out;
  deflateEnd(&z);
  return out;
}

static void test_gunzip (void) {
  unsigned char data[5000], out[5000], *gz;
  size_t len, i, cut;
  Budget b = {-1, 0};
  lg_Work W;
  lg_Gunzip r;
  long n;
  for (i = 0; i < sizeof data; i++) data[i] = (unsigned char)(i * 7 + i / 100);
  gz = gzipof(data, sizeof data, &len);
  lgI_workinit(&W, budget_alloc, &b);
  CHECK(lgI_isgzip(gz, len) && lgI_hasgzip());
  /* all of it */
  CHECK(lgI_gunzip(&W, gz, len, 0, out, sizeof out, 1, &r) == LG_OK);
  CHECK(r.got == sizeof data && r.more == 0 && memcmp(out, data, sizeof data) == 0);
  /* the first 10 bytes only, then bytes 100 .. 199 with the rest counted */
  CHECK(lgI_gunzip(&W, gz, len, 0, out, 10, 0, &r) == LG_OK);
  CHECK(r.got == 10 && memcmp(out, data, 10) == 0);
  CHECK(lgI_gunzip(&W, gz, len, 100, out, 100, 1, &r) == LG_OK);
  CHECK(r.got == 100 && r.more == sizeof data - 200 && memcmp(out, data + 100, 100) == 0);
  /* room for more than there is */
  CHECK(lgI_gunzip(&W, gz, len, 4990, out, 100, 1, &r) == LG_OK && r.got == 10);
  CHECK(b.live == 0);
  /* every truncation: an error, never more than the data */
  for (cut = 0; cut < len; cut++) {
    int err = lgI_gunzip(&W, gz, cut, 0, out, sizeof out, 1, &r);
    CHECK(err == LGI_EGZSHORT || err == LGI_EGZIP);
  }
  /* every allocation failing in turn: LG_EMEM, and nothing left allocated */
  for (n = 0; n < 10; n++) {
    int err;
    b.left = n;
    err = lgI_gunzip(&W, gz, len, 0, out, sizeof out, 1, &r);
    CHECK(err == LG_OK || err == LG_EMEM);
    CHECK(b.live == 0);
  }
  b.left = -1;
  /* mutated streams */
  for (n = 0; n < 5000; n++) {
    unsigned char *m = (unsigned char *)malloc(len);
    int err;
    memcpy(m, gz, len);
    m[next() % len] ^= (unsigned char)(1 + next() % 255);
    err = lgI_gunzip(&W, m, len, (size_t)(next() % 50), out, (size_t)(next() % sizeof out), 1,
                     &r);
    CHECK(err != LG_EMEM && (err != LG_OK || r.got + r.more <= 6000));
    free(m);
  }
  CHECK(b.live == 0);
  free(gz);
}
#endif

int main (void) {
  test_rows();
  test_decode();
  test_idxheader();
  test_csv();
  fuzz_csv();
#ifdef LUAGRAD_HAVE_ZLIB
  test_gunzip();
#else
  printf("no zlib in this build: gzip's tests skipped\n");
#endif
  printf("%d checks, %d failures\n", checks, failures);
  return failures > 0;
}
