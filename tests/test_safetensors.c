/*
** test_safetensors.c: the safetensors writer of the core (src/core/lg_safetensors.h)
** against bytes worked by hand: packing strided views (a transpose, a narrowed view with an
** offset, an expanded dimension), the layout, the header text with its escapes, UTF-8
** checks, and one file written and read back. The reader's refusals are word for word in
** spec/save_spec.lua; tests/fuzz/fuzz_safetensors.c checks what it accepts.
*/
#include "luagrad.h"   /* first: the header must compile on its own */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/lg_safetensors.h"

static int failures = 0, checks = 0;

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)

static void check (int ok, const char *what, const char *file, int line) {
  checks++;
  if (!ok) {
    failures++;
    fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  }
}

/* d with sizes and strides given (ndim of each), offset off */
static lg_TDesc desc (int dtype, int ndim, const int64_t *size, const int64_t *stride,
                      int64_t off) {
  lg_TDesc d;
  memset(&d, 0, sizeof d);
  d.dtype = dtype;
  d.ndim = ndim;
  d.offset = off;
  memcpy(d.size, size, (size_t)ndim * sizeof(int64_t));
  memcpy(d.stride, stride, (size_t)ndim * sizeof(int64_t));
  return d;
}

/* Packing copies any view into row-major order. */
static void test_pack (void) {
  double m[6] = {1, 2, 3, 4, 5, 6}, out[6];   /* 2 x 3, row-major */
  float f[8] = {0, 1, 2, 3, 4, 5, 6, 7}, fo[4];
  int64_t sz[2] = {3, 2}, st[2] = {1, 3};
  lg_TDesc t = desc(LGI_F64, 2, sz, st, 0);   /* the transpose: 3 x 2 */
  double expect[6] = {1, 4, 2, 5, 3, 6};
  CHECK(lgI_stlittle());   /* the machines these tests run on */
  CHECK(lgI_stpack(&t, m, out) == LG_OK && memcmp(out, expect, sizeof out) == 0);
  {
    int64_t s1[1] = {3}, t1[1] = {2};   /* f[3], f[5], f[7]: offset 3, stride 2 */
    lg_TDesc v = desc(LGI_F32, 1, s1, t1, 3);
    float e1[3] = {3, 5, 7};
    CHECK(lgI_stpack(&v, f, fo) == LG_OK && memcmp(fo, e1, 3 * sizeof(float)) == 0);
  }
  {
    int64_t s2[2] = {2, 2}, t2[2] = {0, 1};   /* f[6..7] expanded to two rows */
    lg_TDesc v = desc(LGI_F32, 2, s2, t2, 6);
    float e2[4] = {6, 7, 6, 7};
    CHECK(lgI_stpack(&v, f, fo) == LG_OK && memcmp(fo, e2, sizeof fo) == 0);
  }
  {
    int64_t s3[2] = {1, 3}, t3[2] = {99, 1};   /* contiguous (a size-1 dim's stride ignored) */
    lg_TDesc v = desc(LGI_F64, 2, s3, t3, 3);
    CHECK(lgI_stpack(&v, m, out) == LG_OK && out[0] == 4 && out[1] == 5 && out[2] == 6);
  }
  {
    int64_t s4[2] = {0, 3}, t4[2] = {3, 1};
    lg_TDesc v = desc(LGI_F64, 2, s4, t4, 0);
    CHECK(lgI_stpack(&v, NULL, NULL) == LG_OK);   /* no elements, nothing touched */
  }
}

/* The layout puts float64 before float32, each in name order, and the header text is
   the compact JSON that Python's json.dumps and serde_json write, padded to 8. */
static void test_header (void) {
  static const int64_t s23[2] = {2, 3}, s1[1] = {1}, s0[2] = {0, 2};
  lg_STEntry e[4];
  lg_STPair m[2];
  lg_STHeader H;
  size_t order[4], len;
  uint64_t datasize;
  char text[512];
  const char *expect =
    "{\"__metadata__\":{\"a\\\"b\":\"tab\\there\",\"k\\u0001\":\"\xc3\xa9\\\\\"},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[56,60]},"
    "\"e\":{\"dtype\":\"F64\",\"shape\":[0,2],\"data_offsets\":[0,0]},"
    "\"v\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
    "\"w\\n\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[8,56]}}";
  memset(e, 0, sizeof e);
  e[0].name = "w\n"; e[0].namelen = 2; e[0].dtype = LGI_F64; e[0].ndim = 2; e[0].size = s23;
  e[1].name = "b"; e[1].namelen = 1; e[1].dtype = LGI_F32; e[1].ndim = 1; e[1].size = s1;
  e[2].name = "v"; e[2].namelen = 1; e[2].dtype = LGI_F64; e[2].ndim = 0;
  e[3].name = "e"; e[3].namelen = 1; e[3].dtype = LGI_F64; e[3].ndim = 2; e[3].size = s0;
  m[0].key = "k\x01"; m[0].keylen = 2; m[0].value = "\xc3\xa9\\"; m[0].valuelen = 3;
  m[1].key = "a\"b"; m[1].keylen = 3; m[1].value = "tab\there"; m[1].valuelen = 8;
  H.entry = e; H.nentry = 4; H.meta = m; H.nmeta = 2;
  lgI_stsort(&H);
  CHECK(strcmp(e[0].name, "b") == 0 && strcmp(e[3].name, "w\n") == 0);
  CHECK(strcmp(m[0].key, "a\"b") == 0);
  CHECK(lgI_stlayout(&H, order, &datasize) == LG_OK && datasize == 60);
  /* the data of e (no bytes), v and w\n (float64, by name), then b's */
  CHECK(order[0] == 1 && order[1] == 2 && order[2] == 3 && order[3] == 0);
  len = lgI_stheader(&H, NULL);
  CHECK(len % 8 == 0 && len >= strlen(expect) && len < strlen(expect) + 8);
  CHECK(len < sizeof text && lgI_stheader(&H, text) == len);
  text[len] = '\0';
  CHECK(strncmp(text, expect, strlen(expect)) == 0);
  CHECK(strspn(text + strlen(expect), " ") == len - strlen(expect));
  if (strncmp(text, expect, strlen(expect)) != 0) fprintf(stderr, "header: %s\n", text);
}

static void test_utf8 (void) {
  CHECK(lgI_stutf8("", 0) && lgI_stutf8("plain", 5));
  CHECK(lgI_stutf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));   /* e-acute, euro, emoji */
  CHECK(!lgI_stutf8("\xc3", 1));               /* cut short */
  CHECK(!lgI_stutf8("\xc0\xaf", 2));           /* overlong '/' */
  CHECK(!lgI_stutf8("\xed\xa0\x80", 3));       /* a surrogate */
  CHECK(!lgI_stutf8("\xf4\x90\x80\x80", 4));   /* past U+10FFFF */
  CHECK(!lgI_stutf8("\xff", 1));
  CHECK(lgI_stutf8("a\0b", 3));                /* NUL is text (JSON writes \u0000) */
}

/* A file written and read back gives the same names, shapes and bytes. */
static void test_roundtrip (void) {
  static const int64_t s[1] = {2};
  double x[2] = {0.5, -0.0};
  lg_STEntry e[2];
  lg_STHeader H, R;
  lg_STSize S;
  size_t order[2], hlen;
  uint64_t datasize, n;
  unsigned char file[256];
  char msg[LGI_STMSG];
  void *mem;
  memset(e, 0, sizeof e);
  e[0].name = "x"; e[0].namelen = 1; e[0].dtype = LGI_F64; e[0].ndim = 1; e[0].size = s;
  e[1].name = "s\0t"; e[1].namelen = 3; e[1].dtype = LGI_F64; e[1].ndim = 0;
  H.entry = e; H.nentry = 2; H.meta = NULL; H.nmeta = 0;
  lgI_stsort(&H);
  CHECK(lgI_stlayout(&H, order, &datasize) == LG_OK && datasize == 24);
  hlen = lgI_stheader(&H, (char *)file + 8);
  CHECK(hlen > 0 && 8 + hlen + datasize <= sizeof file);
  lgI_stputlength(file, hlen);
  /* sorted, s\0t (1.0) comes first, then x */
  memcpy(file + 8 + hlen + e[0].begin, "\0\0\0\0\0\0\xf0\x3f", 8);
  memcpy(file + 8 + hlen + e[1].begin, x, sizeof x);
  CHECK(lgI_stlength(file, 8 + hlen + datasize, &n, msg) == LG_OK && n == hlen);
  CHECK(lgI_stmeasure((char *)file + 8, hlen, datasize, &S, msg) == LG_OK);
  mem = malloc(S.need);
  CHECK(mem != NULL && lgI_stparse((char *)file + 8, hlen, datasize, &S, mem, &R, msg) == LG_OK);
  CHECK(R.nentry == 2 && R.nmeta == 0);
  CHECK(R.entry[0].namelen == 3 && memcmp(R.entry[0].name, "s\0t", 4) == 0);
  CHECK(R.entry[0].ndim == 0 && R.entry[0].begin == 0 && R.entry[0].end == 8);
  CHECK(R.entry[1].ndim == 1 && R.entry[1].size[0] == 2 && R.entry[1].begin == 8);
  CHECK(memcmp(file + 8 + hlen + R.entry[1].begin, x, sizeof x) == 0);
  free(mem);
  /* the same file one byte short: the data runs past its end */
  CHECK(lgI_stmeasure((char *)file + 8, hlen, datasize - 1, &S, msg) == LGI_ESTFILE);
  CHECK(strcmp(msg, "entry 'x': data_offsets [8, 24] run past the end of the data "
                    "(23 bytes)") == 0);
}

int main (void) {
  test_pack();
  test_header();
  test_utf8();
  test_roundtrip();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
