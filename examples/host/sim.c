/*
** sim.c: a host application that embeds Lua 5.4 with luagrad. It owns a 2-D projectile
** simulation with air drag and exposes one simulation step to scripts as a differentiable
** function, luagrad.step(x, y, vx, vy, drag) -> x, y, vx, vy, with its vector-Jacobian
** product. The script (aim.lua) then tunes the launch by gradient descent through the whole
** flight to hit a target, and the host reads the result and its gradients back in C.
** Last, tensors cross the boundary: the host's own array of launches goes in as a tensor
** (lg_push_tensor), and the gradient of the script's range misses comes out (lg_to_tensor).
** Run: build/examples/host/luagrad-sim examples/host/aim.lua
*/
#include <math.h>
#include <stdio.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "luagrad.h"

typedef struct World { double dt, g; } World;

/* One explicit Euler step: a = -g e_y - drag |v| v. */
static int step_fwd (void *ud, const double *in, double *out, char *msg, size_t len) {
  const World *w = (const World *)ud;
  double vx = in[2], vy = in[3], k = in[4], s = sqrt(vx * vx + vy * vy);
  if (k < 0) {
    snprintf(msg, len, "drag must be >= 0, got %g", k);
    return 1;
  }
  out[0] = in[0] + w->dt * vx;
  out[1] = in[1] + w->dt * vy;
  out[2] = vx + w->dt * (-k * s * vx);
  out[3] = vy + w->dt * (-w->g - k * s * vy);
  return 0;
}

/* gin = gout^T J, with J the step's Jacobian (d|v|/dv = v/|v|, taken as 0 at rest). */
static int step_vjp (void *ud, const double *in, const double *out, const double *gout,
                     double *gin, char *msg, size_t len) {
  const World *w = (const World *)ud;
  double vx = in[2], vy = in[3], k = in[4], s = sqrt(vx * vx + vy * vy), dt = w->dt;
  double ux = (s > 0) ? vx / s : 0, uy = (s > 0) ? vy / s : 0;
  double axvx = -k * (s + vx * ux), axvy = -k * vx * uy, axk = -s * vx;   /* d(ax)/d.. */
  double ayvx = -k * vy * ux, ayvy = -k * (s + vy * uy), ayk = -s * vy;   /* d(ay)/d.. */
  (void)out; (void)msg; (void)len;
  gin[0] = gout[0];
  gin[1] = gout[1];
  gin[2] = gout[0] * dt + gout[2] * (1 + dt * axvx) + gout[3] * dt * ayvx;
  gin[3] = gout[1] * dt + gout[2] * dt * axvy + gout[3] * (1 + dt * ayvy);
  gin[4] = gout[2] * dt * axk + gout[3] * dt * ayk;
  return 0;
}

/* The host's launches (angle, speed) as a 3x2 tensor, handed to the script's
   range_gradient(t) -> t.grad, loss (the table at the top of the stack); the gradient is read
   in place through its strides and checked against the drag-free range R = s^2 sin(2a) / g
   and loss = sum (R - 20)^2. Returns 1 when every number agrees. */
static int launches_gradient (lua_State *L, double g) {
  static const double launches[3][2] = {{0.3, 14}, {0.6, 15}, {0.9, 16}};
  const long long size[2] = {3, 2};
  lg_TensorInfo info;
  int i, ok = 1;
  lua_getfield(L, -1, "range_gradient");
  if (lg_push_tensor(L, LG_FLOAT64, 2, size, launches) != LG_OK) return 0;
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 0;
  }
  if (!lg_to_tensor(L, -2, &info) || info.dtype != LG_FLOAT64 || info.ndim != 2 ||
      info.size[0] != 3 || info.size[1] != 2) {
    fprintf(stderr, "range_gradient returned no 3x2 float64 tensor\n");
    return 0;
  }
  printf("host: launches loss %.6g, gradient (angle, speed):", lua_tonumber(L, -1));
  for (i = 0; i < 3; i++) {
    const double *row = (const double *)info.data + i * info.stride[0];
    double a = launches[i][0], s = launches[i][1], miss = s * s * sin(2 * a) / g - 20;
    double da = 2 * miss * s * s * 2 * cos(2 * a) / g, ds = 2 * miss * 2 * s * sin(2 * a) / g;
    double ga = row[0], gs = row[info.stride[1]];
    printf(" (%.4g, %.4g)", ga, gs);
    ok = ok && fabs(ga - da) <= 1e-9 * fabs(da) && fabs(gs - ds) <= 1e-9 * fabs(ds);
  }
  printf("\n");
  lua_pop(L, 2);
  return ok;
}

int main (int argc, char **argv) {
  static World world = {0.01, 9.81};
  const lg_Func step = {"step", 5, 4, step_fwd, step_vjp, &world};
  lua_State *L;
  int ok;
  if (argc < 2) {
    fprintf(stderr, "usage: %s script.lua\n", argv[0]);
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  if (lg_register_op(L, &step) != LG_OK) {   /* opens luagrad in L, then adds lg.step */
    fprintf(stderr, "cannot register the step\n");
    return 1;
  }
  ok = luaL_dofile(L, argv[1]) == LUA_OK && lua_istable(L, -1);
  if (!ok) fprintf(stderr, "%s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "no result");
  else {  /* the script returns {angle = Value, speed = Value, miss = number} */
    lua_getfield(L, -1, "angle");
    lua_getfield(L, -1, "data");
    lua_getfield(L, -2, "grad");
    printf("host: angle %.4f rad (last dloss/dangle %.3g), ", lua_tonumber(L, -2),
           lua_tonumber(L, -1));
    lua_pop(L, 3);
    lua_getfield(L, -1, "speed");
    lua_getfield(L, -1, "data");
    lua_getfield(L, -3, "miss");
    printf("speed %.3f m/s, miss %.2e m\n", lua_tonumber(L, -2), lua_tonumber(L, -1));
    ok = lua_tonumber(L, -1) < 1e-3;
    lua_pop(L, 3);
    if (!launches_gradient(L, world.g)) {
      fprintf(stderr, "the launches' gradient is wrong\n");
      ok = 0;
    }
  }
  lua_close(L);
  return ok ? 0 : 1;
}
