/*
** test_threads.c: several lua_States, each with luagrad and a host function, and several
** C arenas, used from separate threads at once. Every thread must get the numbers one
** thread alone gets. Run also under helgrind (see tests/CMakeLists.txt).
*/
#include "luagrad.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#define NTHREADS 4

/* scale(x, k) -> k*x, shared by every state: pure, so thread-safe */
static int scale_fwd (void *ud, const double *x, double *y, char *msg, size_t len) {
  (void)ud; (void)msg; (void)len;
  y[0] = x[0] * x[1];
  return 0;
}

static int scale_vjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t len) {
  (void)ud; (void)y; (void)msg; (void)len;
  gx[0] = gy[0] * x[1];
  gx[1] = gy[0] * x[0];
  return 0;
}

static const lg_Func scale = {"scale", 2, 1, scale_fwd, scale_vjp, NULL};

/* Gradient descent on (scale(w, 3) + b - 2)^2 + tanh(w)^2, from fixed starting points. */
static const char *script =
  "local lg = require('luagrad')\n"
  "local w, b = lg.value(0.5), lg.value(-1)\n"
  "for _ = 1, 300 do\n"
  "  local r = lg.scale(w, 3) + b - 2\n"
  "  local L = r * r + lg.tanh(w) ^ 2\n"
  "  lg.zero_grad({w, b})\n"
  "  L:backward()\n"
  "  w.data = w.data - 0.01 * w.grad\n"
  "  b.data = b.data - 0.01 * b.grad\n"
  "end\n"
  "collectgarbage('collect')\n"
  "return w.data + 10 * b.data\n";

typedef struct Job { double lua, c; int ok; } Job;

/* The same descent through the C-only API, in an arena cleared every step. */
static double descend_c (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  double w = 0.5, b = -1;
  int i;
  for (i = 0; i < 300; i++) {
    lg_Value *W = lg_leaf(A, w), *B = lg_leaf(A, b), *out, *r, *t, *L;
    lg_Arg a[2];
    a[0].value = W; a[1].value = NULL; a[1].number = 3;
    lg_call(A, &scale, a, &out);
    a[0].value = out; a[1].value = B;
    r = lg_apply(A, lg_op_find("+"), 2, a, NULL);
    a[0].value = r; a[1].value = NULL; a[1].number = 2;
    r = lg_apply(A, lg_op_find("-"), 2, a, NULL);
    a[0].value = W;
    t = lg_apply(A, lg_op_find("tanh"), 1, a, NULL);
    a[0].value = r; a[1].value = r;
    L = lg_apply(A, lg_op_find("*"), 2, a, NULL);
    a[0].value = t; a[1].value = NULL; a[1].number = 2;
    t = lg_apply(A, lg_op_find("^"), 2, a, NULL);
    a[0].value = L; a[1].value = t;
    L = lg_apply(A, lg_op_find("+"), 2, a, NULL);
    lg_backward(A, L, 1.0);
    w -= 0.01 * lg_grad(W);
    b -= 0.01 * lg_grad(B);
    lg_arena_clear(A);
  }
  lg_arena_free(A);
  return w + 10 * b;
}

static void *work (void *arg) {
  Job *job = (Job *)arg;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  job->ok = lg_register_op(L, &scale) == LG_OK && luaL_dostring(L, script) == LUA_OK;
  job->lua = job->ok ? lua_tonumber(L, -1) : 0;
  if (!job->ok) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_close(L);
  job->c = descend_c();
  return NULL;
}

int main (void) {
  Job alone, jobs[NTHREADS];
  pthread_t threads[NTHREADS];
  int i, failures = 0;
  work(&alone);
  if (!alone.ok || fabs(alone.lua - alone.c) > 1e-12) failures++;
  for (i = 0; i < NTHREADS; i++) pthread_create(&threads[i], NULL, work, &jobs[i]);
  for (i = 0; i < NTHREADS; i++) {
    pthread_join(threads[i], NULL);
    if (!jobs[i].ok || jobs[i].lua != alone.lua || jobs[i].c != alone.c) {
      failures++;
      fprintf(stderr, "thread %d: %.17g %.17g, alone %.17g %.17g\n", i, jobs[i].lua,
              jobs[i].c, alone.lua, alone.c);
    }
  }
  printf("%d threads agree (%.12g): %d passed, %d failed\n", NTHREADS, alone.lua,
         NTHREADS + 1 - failures, failures);
  return failures != 0;
}
