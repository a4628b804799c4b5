/*
** test_embed.c: a host opens luagrad in its own lua_State, as the README shows, and also
** in a state with only the base library (no package, io, os): the module needs none of them.
** Tensors cross the boundary: a host array in (lg_push_tensor), gradients out (lg_to_tensor).
*/
#include "luagrad.h"

#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static const char *lecture =
  "local lg = ...\n"
  "local a, b, c = lg.value(5, 'a'), lg.value(3, 'b'), lg.value(2, 'c')\n"
  "local J = 3 * (a + b * c)\n"
  "J:backward()\n"
  "return J.data, a.grad, b.grad, c.grad, tostring(a)\n";

/* Runs the lecture with the module table on top of the stack; 0 when all numbers agree. */
static int run_lecture (lua_State *L, const char *what) {
  int bad;
  if (luaL_loadstring(L, lecture) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 5, 0) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    return 1;
  }
  bad = lua_tonumber(L, -5) != 33 || lua_tonumber(L, -4) != 3 || lua_tonumber(L, -3) != 6
     || lua_tonumber(L, -2) != 9;
  if (bad) fprintf(stderr, "%s: wrong numbers\n", what);
  printf("%s: %s\n", what, lua_tostring(L, -1));
  lua_pop(L, 5);
  return bad;
}

/* A host array becomes a tensor; Lua differentiates sum(w * x)^2 by w; the host reads
   the gradient's numbers back. Then lg_push_tensor's refusals, and lg_to_tensor of views. */
static int tensors (void) {
  static const double x[6] = {1, 2, 3, 4, 5, 6};
  static const float wf[3] = {0.5f, -1.0f, 2.0f};
  const long long size[2] = {2, 3}, wsize[1] = {3}, bad[1] = {-1};
  lg_TensorInfo info;
  int bad_count = 0, i;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (lg_push_tensor(L, LG_FLOAT64, 2, size, x) != LG_OK) return 1;   /* opens the module */
  if (lg_push_tensor(L, LG_FLOAT32, 1, wsize, wf) != LG_OK) return 1;
  if (luaL_loadstring(L, "local x, w = ...\n"
                         "w:requires_grad_()\n"
                         "local y = (x * w):sum()\n"
                         ";(y * y):backward()\n"
                         "return w.grad, x:t(), y.data") != LUA_OK ||
      (lua_insert(L, -3), lua_pcall(L, 2, 3, 0)) != LUA_OK) {
    fprintf(stderr, "tensors: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  /* y = sum(w * x) = 0.5*5 - 7 + 2*9 = 13.5; dy^2/dw = 2 y (column sums 5, 7, 9) */
  if (lua_tonumber(L, -1) != 13.5) bad_count++;
  if (!lg_to_tensor(L, -3, &info) || info.dtype != LG_FLOAT32 || info.ndim != 1 ||
      info.size[0] != 3 || info.stride[0] != 1) bad_count++;
  else
    for (i = 0; i < 3; i++)
      if (((float *)info.data)[i] != (float)(27.0 * (5 + 2 * i))) bad_count++;
  if (!lg_to_tensor(L, -2, &info) || info.ndim != 2 || info.size[0] != 3 ||
      info.stride[0] != 1 || info.stride[1] != 3 ||
      ((double *)info.data)[2 * info.stride[0] + 1 * info.stride[1]] != 6) bad_count++;
  if (lg_to_tensor(L, -1, &info)) bad_count++;   /* a number is no tensor */
  i = lua_gettop(L);
  if (lg_push_tensor(L, 7, 1, wsize, NULL) != LG_EARG ||
      lg_push_tensor(L, LG_FLOAT64, 0, wsize, NULL) != LG_EARG ||
      lg_push_tensor(L, LG_FLOAT64, 1, bad, NULL) != LG_EARG || lua_gettop(L) != i)
    bad_count++;
  {
    const long long huge[3] = {1000000, 1000000, 1000000};
    if (lg_push_tensor(L, LG_FLOAT64, 3, huge, NULL) != LG_EMEM || lua_gettop(L) != i)
      bad_count++;
  }
  if (lg_push_tensor(L, LG_FLOAT64, 1, wsize, NULL) != LG_OK || !lg_to_tensor(L, -1, &info) ||
      ((double *)info.data)[2] != 0) bad_count++;
  if (bad_count) fprintf(stderr, "tensors: %d wrong\n", bad_count);
  else printf("tensors: a host array in, its gradient out\n");
  lua_close(L);
  return bad_count;
}

int main (void) {
  int failures = 0;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);  /* the whole module, as require gives */
  failures += run_lecture(L, "full state");
  /* require finds it again, the same table */
  if (luaL_dostring(L, "return require('luagrad') == package.loaded.luagrad") != LUA_OK
      || !lua_toboolean(L, -1)) failures++, fprintf(stderr, "require gave another table\n");
  lua_close(L);

  L = luaL_newstate();   /* a sandbox: the base library only */
  luaL_requiref(L, "_G", luaopen_base, 1);
  lua_pop(L, 1);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  failures += run_lecture(L, "sandbox");
  lua_close(L);

  L = luaL_newstate();   /* preload only: require finds it with no search path */
  luaL_openlibs(L);
  lg_preload(L);
  if (luaL_dostring(L, "package.path, package.cpath = '', ''; return (require('luagrad'))")
      != LUA_OK) {
    fprintf(stderr, "preload: %s\n", lua_tostring(L, -1));
    failures++;
  }
  else failures += run_lecture(L, "preload");
  lua_close(L);
  failures += tensors();
  printf("%d failed\n", failures);
  return failures != 0;
}
