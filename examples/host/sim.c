/*
** sim.c: a host application that embeds Lua 5.4 with luagrad. It owns a 2-D projectile
** simulation with air drag and exposes one simulation step to scripts as a differentiable
** function, luagrad.step(x, y, vx, vy, drag) -> x, y, vx, vy, with its vector-Jacobian
** product. The script (aim.lua) then tunes the launch by gradient descent through the whole
** flight to hit a target, and the host reads the result and its gradients back in C.
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
  }
  lua_close(L);
  return ok ? 0 : 1;
}
