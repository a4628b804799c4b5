/*
** fuzz_compile.c: the differential fuzz target of lg.compile. The input bytes choose a
** program (tests/fuzz/compile_programs.lua decodes them with a fixed grammar: raw bytes are
** never run as Lua source), which runs eagerly and compiled over a sequence of points; a
** difference beyond 1e-12 relative (value, gradients, grads of leaves made outside), or one
** call raising where the other does not, aborts with the program and the point. So do a
** crash, a sanitizer report, or a byte left allocated after lua_close.
** Built with libFuzzer (clang -fsanitize=fuzzer,address,undefined), or with replay.c's main
** to run a corpus with any compiler. LUAGRAD_FUZZ_PROGRAMS names the decoder (its path is
** compiled in as a default); LUAGRAD_FUZZ_TRACE=1 prints each program and point,
** LUAGRAD_FUZZ_STATS=1 prints at exit how many programs and points were compared, and
** LUAGRAD_FUZZ_MASKS=0 leaves out the ops whose derivatives, built as ops, branched on the
** data they were built at (relu, abs, max, min, pow: issue 12's class 4).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "luagrad.h"

#ifndef LUAGRAD_FUZZ_PROGRAMS
#define LUAGRAD_FUZZ_PROGRAMS "tests/fuzz/compile_programs.lua"
#endif

#define MEMCAP (256u << 20)   /* bytes a program's state may hold */

typedef struct Host {
  size_t live;
} Host;

static void *host_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Host *h = (Host *)ud;
  size_t old = (ptr != NULL) ? osize : 0;
  void *p;
  if (nsize == 0) {
    h->live -= old;
    free(ptr);
    return NULL;
  }
  if (nsize > old && h->live + (nsize - old) > MEMCAP) return NULL;
  p = realloc(ptr, nsize);
  if (p != NULL) h->live = h->live - old + nsize;
  return p;
}

static char *decoder = NULL;   /* the text of compile_programs.lua, read once */
static size_t decoderlen = 0;
static unsigned long programs = 0, points = 0, raised = 0;
static int masks = 1;   /* LUAGRAD_FUZZ_MASKS=0: no ops whose derivatives branch on data */

static void readdecoder (void) {
  const char *path = getenv("LUAGRAD_FUZZ_PROGRAMS");
  FILE *f;
  long len;
  if (path == NULL) path = LUAGRAD_FUZZ_PROGRAMS;
  f = fopen(path, "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
    fprintf(stderr, "fuzz_compile: cannot read %s\n", path);
    abort();
  }
  rewind(f);
  decoder = (char *)malloc((size_t)len + 1);
  if (decoder == NULL || fread(decoder, 1, (size_t)len, f) != (size_t)len) abort();
  fclose(f);
  decoderlen = (size_t)len;
}

static void printstats (void) {
  if (getenv("LUAGRAD_FUZZ_STATS") != NULL)
    printf("fuzz_compile: %lu programs, %lu points compared (%lu programs raised in both "
           "modes), 0 mismatches\n", programs, points, raised);
}

typedef struct Input {
  const char *p;
  size_t n;
} Input;

/* Opens the libraries and the module, decodes and runs the program:
   (input) -> points compared, whether both modes raised. */
static int run (lua_State *L) {
  const Input *in = (const Input *)lua_touserdata(L, 1);
  luaL_openlibs(L);
  if (luaL_loadbuffer(L, decoder, decoderlen, "=compile_programs.lua") != LUA_OK)
    return lua_error(L);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  lua_pushlstring(L, in->p, in->n);
  lua_pushboolean(L, getenv("LUAGRAD_FUZZ_TRACE") != NULL);
  lua_pushboolean(L, masks);
  lua_call(L, 4, 2);
  return 2;
}

int LLVMFuzzerTestOneInput (const unsigned char *data, size_t size) {
  Host h;
  Input in;
  lua_State *L;
  if (decoder == NULL) {
    const char *m = getenv("LUAGRAD_FUZZ_MASKS");
    masks = !(m != NULL && strcmp(m, "0") == 0);
    readdecoder();
    atexit(printstats);
  }
  h.live = 0;
  in.p = (const char *)data;
  in.n = size;
  L = lua_newstate(host_alloc, &h);
  if (L == NULL) return 0;
  lua_pushcfunction(L, run);
  lua_pushlightuserdata(L, &in);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    /* the state's cap ends a program that grows too large: not a finding */
    if (msg == NULL || strcmp(msg, "not enough memory") != 0) {
      fprintf(stderr, "fuzz_compile: %s\n", msg ? msg : "(an error that is not a string)");
      abort();
    }
  }
  else {
    programs++;
    points += (unsigned long)lua_tointeger(L, -2);
    raised += (unsigned long)lua_toboolean(L, -1);
  }
  lua_close(L);
  if (h.live != 0) {
    fprintf(stderr, "fuzz_compile: %zu bytes left allocated after lua_close\n", h.live);
    abort();
  }
  return 0;
}
