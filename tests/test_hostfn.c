/*
** test_hostfn.c: host-defined differentiable functions. A host registers C functions with
** their vector-Jacobian products, then runs tests/hostfn_test.lua, which uses them as
** scripts would. The C-only API's lg_call is tested here too.
*/
#include "luagrad.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

/* polar(r, theta) -> r cos theta, r sin theta */
static int polar_fwd (void *ud, const double *x, double *y, char *msg, size_t len) {
  (void)ud; (void)msg; (void)len;
  y[0] = x[0] * cos(x[1]);
  y[1] = x[0] * sin(x[1]);
  return 0;
}

static int polar_vjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t len) {
  (void)ud; (void)msg; (void)len;
  gx[0] = gy[0] * cos(x[1]) + gy[1] * sin(x[1]);
  gx[1] = -gy[0] * y[1] + gy[1] * y[0];
  return 0;
}

/* guarded(x) -> sqrt(x); its forward refuses x < 0, its vjp refuses while *ud is set */
static int guarded_fwd (void *ud, const double *x, double *y, char *msg, size_t len) {
  (void)ud;
  if (x[0] < 0) {
    snprintf(msg, len, "negative input %g", x[0]);
    return 1;
  }
  y[0] = sqrt(x[0]);
  return 0;
}

static int guarded_vjp (void *ud, const double *x, const double *y, const double *gy,
                        double *gx, char *msg, size_t len) {
  (void)x;
  if (*(int *)ud) {
    snprintf(msg, len, "vjp refused");
    return 1;
  }
  gx[0] = gy[0] * 0.5 / y[0];
  return 0;
}

/* steep(x) -> x^3; its vjp refuses x > 10, so the inputs decide whether backward fails */
static int steep_fwd (void *ud, const double *x, double *y, char *msg, size_t len) {
  (void)ud; (void)msg; (void)len;
  y[0] = x[0] * x[0] * x[0];
  return 0;
}

static int steep_vjp (void *ud, const double *x, const double *y, const double *gy,
                      double *gx, char *msg, size_t len) {
  (void)ud; (void)y;
  if (x[0] > 10) {
    snprintf(msg, len, "slope too steep at %g", x[0]);
    return 1;
  }
  gx[0] = gy[0] * 3 * x[0] * x[0];
  return 0;
}

static int refuse = 0;

static const lg_Func polar = {"polar", 2, 2, polar_fwd, polar_vjp, NULL};
static const lg_Func guarded = {"guarded", 1, 1, guarded_fwd, guarded_vjp, &refuse};
static const lg_Func steep = {"steep", 1, 1, steep_fwd, steep_vjp, NULL};

/* refuse_vjp(flag): lets the script make guarded's vjp fail */
static int refuse_vjp (lua_State *L) {
  refuse = lua_toboolean(L, 1);
  return 0;
}

static int failures = 0;
#define CHECK(c) ((c) ? (void)0 : (void)(failures++, fprintf(stderr, "%s:%d: %s\n", \
                  __FILE__, __LINE__, #c)))

static void test_c_api (void) {
  lg_Arena *A = lg_arena_new(NULL, NULL);
  lg_Value *r = lg_leaf(A, 2), *t = lg_leaf(A, 0.5), *out[2], *y;
  lg_Arg args[2], xy[2];
  args[0].value = r; args[1].value = t;
  CHECK(lg_call(A, &polar, args, out) == LG_OK);
  CHECK(fabs(lg_data(out[0]) - 2 * cos(0.5)) < 1e-15 && fabs(lg_data(out[1]) - 2 * sin(0.5)) < 1e-15);
  CHECK(lg_value_op(out[0]) == -1 && strcmp(lg_value_opname(out[1]), "polar") == 0);
  xy[0].value = out[0]; xy[1].value = out[1];
  y = lg_apply(A, lg_op_find("*"), 2, xy, NULL);   /* x*y = r^2 sin t cos t */
  CHECK(lg_backward(A, y, 1.0) == LG_OK);
  CHECK(fabs(lg_grad(r) - 2 * 2 * sin(0.5) * cos(0.5)) < 1e-12);
  CHECK(fabs(lg_grad(t) - 4 * cos(1.0)) < 1e-12);
  {   /* forward mode through a call: a Jacobian column per direction, from its vjp */
    lg_Value *ins[2], *outs[2];
    double dir[2] = {1, 0}, col[2], row[2], seed[2] = {0, 1};
    ins[0] = r; ins[1] = t; outs[0] = out[0]; outs[1] = out[1];
    CHECK(lg_tangents(A, 2, ins, dir, 2, outs, col) == LG_OK);
    CHECK(fabs(col[0] - cos(0.5)) < 1e-15 && fabs(col[1] - sin(0.5)) < 1e-15);
    dir[0] = 0; dir[1] = 1;
    CHECK(lg_tangents(A, 2, ins, dir, 2, outs, col) == LG_OK);
    CHECK(fabs(col[0] + 2 * sin(0.5)) < 1e-15 && fabs(col[1] - 2 * cos(0.5)) < 1e-15);
    CHECK(lg_gradients(A, 2, outs, seed, 2, ins, row) == LG_OK);
    CHECK(fabs(row[0] - sin(0.5)) < 1e-15 && fabs(row[1] - 2 * cos(0.5)) < 1e-15);
    args[0].value = r;   /* a failing vjp fails both, and leaves the graph usable */
    CHECK(lg_call(A, &guarded, args, outs) == LG_OK);
    refuse = 1;
    CHECK(lg_tangents(A, 1, ins, dir, 1, outs, col) == LG_EHOST);
    CHECK(strcmp(lg_arena_message(A), "vjp refused") == 0);
    CHECK(lg_gradients(A, 1, outs, seed, 1, ins, row) == LG_EHOST);
    refuse = 0;
    dir[0] = 1;
    CHECK(lg_tangents(A, 1, ins, dir, 1, outs, col) == LG_OK);
    CHECK(lg_gradients(A, 1, outs, dir, 1, ins, row) == LG_OK);
    CHECK(fabs(col[0] - 0.5 / sqrt(2.0)) < 1e-15 && col[0] == row[0]);
    args[1].value = t;
  }
  args[0].value = NULL; args[0].number = -1;
  CHECK(lg_call(A, &guarded, args, out) == LG_EHOST);
  CHECK(strcmp(lg_arena_message(A), "negative input -1") == 0);
  args[0].number = 4;
  CHECK(lg_call(A, &guarded, args, out) == LG_OK && lg_data(out[0]) == 2);
  CHECK(lg_call(A, NULL, args, out) == LG_EARG);
  lg_arena_free(A);
}

int main (int argc, char **argv) {
  const char *script = argc > 1 ? argv[1] : "tests/hostfn_test.lua";
  lua_State *L = luaL_newstate();
  lg_Func bad = polar;
  int status;
  test_c_api();
  luaL_openlibs(L);
  CHECK(lg_register_op(L, &polar) == LG_OK);   /* opens the module on the way */
  CHECK(lg_register_op(L, &guarded) == LG_OK);
  CHECK(lg_register_op(L, &steep) == LG_OK);
  CHECK(lg_register_op(L, &polar) == LG_EARG);     /* the name is taken */
  bad.name = "exp";
  CHECK(lg_register_op(L, &bad) == LG_EARG);       /* so is a built-in's */
  bad.name = "nothing"; bad.nout = 0;
  CHECK(lg_register_op(L, &bad) == LG_EARG);
  bad.nout = 1; bad.vjp = NULL;
  CHECK(lg_register_op(L, &bad) == LG_EARG);
  lua_register(L, "refuse_vjp", refuse_vjp);
  status = luaL_dofile(L, script);
  if (status != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    failures++;
  }
  else failures += (int)lua_tointeger(L, -1);
  lua_close(L);
  printf("host functions: %d failed\n", failures);
  return failures != 0;
}
