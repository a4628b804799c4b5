/*
** fuzz_safetensors.c: a fuzz target for the safetensors reader (src/core/safetensors.c),
** without Lua: the input is a whole file. The reader must refuse it with a message or
** accept it, and what it accepts must hold: entries sorted by name and distinct, names and
** metadata valid UTF-8, each entry's shape agreeing with its offsets, the data covered
** exactly. An accepted file must also survive the writer: laid out and written again, then
** read back, it gives the same entries, metadata and bytes, and writing that gives the
** same file again.
** Built with libFuzzer (clang -fsanitize=fuzzer,address,undefined), or with replay.c's
** main to run the corpus (tests/fuzz/corpus_safetensors) with any compiler.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lg_safetensors.h"

#define CHECK(c) ((c) ? (void)0 : failed(#c, __LINE__))

static void failed (const char *what, int line) {
  fprintf(stderr, "fuzz_safetensors.c:%d: %s does not hold\n", line, what);
  abort();
}

/* A refusal: a code the reader documents, with a message. */
static void refused (int err, const char *msg) {
  CHECK(err == LGI_ESTFILE);
  CHECK(strlen(msg) > 0 && strlen(msg) < LGI_STMSG);
}

static int cmpbytes (const char *a, size_t na, const char *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c != 0 ? c : (na > nb) - (na < nb);
}

static int cmpname (const lg_STEntry *a, const lg_STEntry *b) {
  return cmpbytes(a->name, a->namelen, b->name, b->namelen);
}

/* What an accepted header promises, for a file whose data has datasize bytes. */
static void holds (const lg_STHeader *H, uint64_t datasize) {
  uint64_t total = 0;
  size_t k;
  for (k = 0; k < H->nentry; k++) {
    const lg_STEntry *e = &H->entry[k];
    CHECK(k == 0 || cmpname(&H->entry[k - 1], e) < 0);
    CHECK(e->name[e->namelen] == '\0' && lgI_stutf8(e->name, e->namelen));
    CHECK(e->dtype == LGI_F64 || e->dtype == LGI_F32);
    CHECK(e->ndim >= 0 && e->ndim <= LGI_MAXDIM);
    CHECK(e->begin <= e->end && e->end <= datasize);
    CHECK(lgI_stbytes(e) == e->end - e->begin);
    total += e->end - e->begin;
  }
  CHECK(total == datasize);   /* covered, and (every entry within it) without overlap */
  for (k = 0; k < H->nmeta; k++) {
    const lg_STPair *m = &H->meta[k];
    CHECK(lgI_stutf8(m->key, m->keylen) && lgI_stutf8(m->value, m->valuelen));
    CHECK(m->key[m->keylen] == '\0' && m->value[m->valuelen] == '\0');
    CHECK(k == 0 || cmpbytes(H->meta[k - 1].key, H->meta[k - 1].keylen, m->key, m->keylen) < 0);
  }
}

/* Reads a whole file: its header into H (memory in *mem, for the caller to free), its data
   at *data. 0 when refused. */
static int readfile (const uint8_t *file, size_t size, lg_STHeader *H, void **mem,
                     const uint8_t **data, uint64_t *datasize) {
  char msg[LGI_STMSG];
  uint64_t n;
  lg_STSize S;
  int err;
  *mem = NULL;
  if ((err = lgI_stlength(file, size, &n, msg)) != LG_OK) { refused(err, msg); return 0; }
  *datasize = size - 8 - n;
  *data = file + 8 + n;
  if ((err = lgI_stmeasure((const char *)file + 8, n, *datasize, &S, msg)) != LG_OK) {
    refused(err, msg);
    return 0;
  }
  CHECK((*mem = malloc(S.need)) != NULL);
  err = lgI_stparse((const char *)file + 8, n, *datasize, &S, *mem, H, msg);
  if (err != LG_OK) { refused(err, msg); return 0; }
  holds(H, *datasize);
  return 1;
}

/* The file the writer makes of H's entries, whose data is at data (*size its length). */
static uint8_t *writefile (const lg_STHeader *H, const uint8_t *data, size_t *size) {
  lg_STHeader W = *H;
  size_t *order, hlen, k;
  uint64_t datasize;
  uint8_t *out;
  W.entry = (lg_STEntry *)malloc((H->nentry + 1) * sizeof(lg_STEntry));
  order = (size_t *)malloc((H->nentry + 1) * sizeof(size_t));
  CHECK(W.entry != NULL && order != NULL);
  memcpy(W.entry, H->entry, H->nentry * sizeof(lg_STEntry));
  CHECK(lgI_stlayout(&W, order, &datasize) == LG_OK);
  CHECK((hlen = lgI_stheader(&W, NULL)) > 0 && hlen % 8 == 0);
  *size = 8 + hlen + (size_t)datasize;
  CHECK((out = (uint8_t *)malloc(*size)) != NULL);
  lgI_stputlength(out, hlen);
  CHECK(lgI_stheader(&W, (char *)out + 8) == hlen);
  for (k = 0; k < W.nentry; k++) {
    const lg_STEntry *e = &W.entry[order[k]], *from = &H->entry[order[k]];
    CHECK(k == 0 || e->begin == W.entry[order[k - 1]].end);
    if (e->end > e->begin) memcpy(out + 8 + hlen + e->begin, data + from->begin, e->end - e->begin);
  }
  free(order);
  free(W.entry);
  return out;
}

/* b (read from a's writing) has a's entries, metadata and bytes. */
static void same (const lg_STHeader *a, const uint8_t *da, const lg_STHeader *b,
                  const uint8_t *db) {
  size_t k;
  CHECK(a->nentry == b->nentry && a->nmeta == b->nmeta);
  for (k = 0; k < a->nentry; k++) {
    const lg_STEntry *x = &a->entry[k], *y = &b->entry[k];
    CHECK(cmpname(x, y) == 0 && x->dtype == y->dtype && x->ndim == y->ndim);
    CHECK(x->ndim == 0 || memcmp(x->size, y->size, (size_t)x->ndim * sizeof(int64_t)) == 0);
    CHECK(x->end - x->begin == y->end - y->begin);
    CHECK(memcmp(da + x->begin, db + y->begin, x->end - x->begin) == 0);
  }
  for (k = 0; k < a->nmeta; k++) {
    const lg_STPair *x = &a->meta[k], *y = &b->meta[k];
    CHECK(x->keylen == y->keylen && memcmp(x->key, y->key, x->keylen) == 0);
    CHECK(x->valuelen == y->valuelen && memcmp(x->value, y->value, x->valuelen) == 0);
  }
}

/* Each entry's numbers converted to the host's order, as lg.load does. */
static void decode (const lg_STHeader *H, const uint8_t *data) {
  size_t k;
  for (k = 0; k < H->nentry; k++) {
    const lg_STEntry *e = &H->entry[k];
    size_t bytes = (size_t)(e->end - e->begin);
    void *p = malloc(bytes + 1);
    CHECK(p != NULL);
    memcpy(p, data + e->begin, bytes);
    lgI_stle(e->dtype, p, (int64_t)(bytes / lgI_elemsize(e->dtype)));
    free(p);
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *file, size_t size) {
  lg_STHeader H, H2, H3;
  const uint8_t *data, *data2, *data3;
  uint64_t datasize, datasize2, datasize3;
  void *mem, *mem2 = NULL, *mem3 = NULL;
  uint8_t *again, *thrice;
  size_t size2, size3;
  if (!readfile(file, size, &H, &mem, &data, &datasize)) { free(mem); return 0; }
  decode(&H, data);
  again = writefile(&H, data, &size2);
  CHECK(readfile(again, size2, &H2, &mem2, &data2, &datasize2));
  CHECK(datasize2 == datasize);
  same(&H, data, &H2, data2);
  thrice = writefile(&H2, data2, &size3);
  CHECK(size3 == size2 && memcmp(thrice, again, size2) == 0);
  CHECK(readfile(thrice, size3, &H3, &mem3, &data3, &datasize3));
  free(mem3);
  free(thrice);
  free(mem2);
  free(again);
  free(mem);
  return 0;
}
