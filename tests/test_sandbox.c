/*
** test_sandbox.c: luagrad in sandboxed hosts. A host that runs other people's scripts
** removes io, os, debug, package.loadlib, load, loadfile and dofile. luagrad must open and
** work there, and touch none of them:
**  - "removed": they are gone (nil), as a sandbox has them; the whole module works;
**  - "trapped": each is replaced by a trap that records any use, in _G and in
**    package.loaded, and the module (opened directly, and through require) must leave
**    every trap untouched and set no global.
*/
#include "luagrad.h"

#include <stdio.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static int failures = 0;

/* The host's own set-up code (never a script's): removes or traps the dangerous parts. */
static const char *remove_code =
  "io, os, debug, load, loadfile, dofile, loadstring = nil\n"
  "package.loadlib = nil\n"
  "package.loaded.io, package.loaded.os, package.loaded.debug = nil\n";

static const char *trap_code =
  "touched = {}\n"
  "local rawset, setmetatable, error = rawset, setmetatable, error\n"
  "local function trap (name)\n"
  "  return setmetatable({}, {\n"
  "    __index = function (_, k) touched[#touched + 1] = name .. '.' .. tostring(k);"
  "                              error('sandbox: ' .. name .. ' is off limits') end,\n"
  "    __newindex = function (_, k) touched[#touched + 1] = name .. '.' .. tostring(k);"
  "                                 error('sandbox: ' .. name .. ' is off limits') end,\n"
  "    __call = function () touched[#touched + 1] = name;"
  "                         error('sandbox: ' .. name .. ' is off limits') end })\n"
  "end\n"
  "for _, name in ipairs({'io', 'os', 'debug'}) do\n"
  "  _G[name] = trap(name); package.loaded[name] = _G[name]\n"
  "end\n"
  "for _, name in ipairs({'load', 'loadfile', 'dofile'}) do _G[name] = trap(name) end\n"
  "package.loadlib = trap('package.loadlib')\n"
  "globals_before = {}\n"
  "for k in pairs(_G) do globals_before[k] = true end\n";

/* The script: every part of luagrad; returns a summary the host checks. */
static const char *workload =
  "local lg = ...\n"
  "local a, b, c = lg.value(5, 'a'), lg.value(3, 'b'), lg.value(2, 'c')\n"
  "local J = 3 * (a + b * c)\n"
  "J:backward()\n"
  "assert(J.data == 33 and a.grad == 3 and b.grad == 6 and c.grad == 9)\n"
  "local x = lg.value(0.5)\n"
  "local terms = { -x, x - 1, x / 2, x ^ 2, 2 ^ x, x:pow(x), lg.max(x, 0.1), x:min(0.1) }\n"
  "for _, f in ipairs({'exp', 'log', 'sqrt', 'sin', 'cos', 'tan', 'tanh', 'sigmoid',\n"
  "                    'relu', 'abs'}) do\n"
  "  terms[#terms + 1] = lg[f](x); terms[#terms + 1] = x[f](x)\n"
  "end\n"
  "local many = {}\n"
  "for i = 1, 2000 do many[i] = lg.value(i) end\n"
  "local s = lg.sum(terms) + lg.sum(many) + lg.dot(many, many)\n"
  "s:backward(0.5)\n"
  "assert(many[2000].grad == 0.5 + 2000)\n"
  "s:zero_grad(); lg.zero_grad({x})\n"
  "assert(x.grad == 0 and many[1].grad == 0)\n"
  "local d = s:detach(); x.label = 'x'; x.data = 0.25; J.grad = 1\n"
  "assert(d.op == 'leaf' and x < 1 and x <= d)\n"
  "local dot = lg.to_dot(J)\n"
  "assert(dot:find('digraph', 1, true) and #tostring(x) > 0 and lg.type(x) == 'value')\n"
  "local ok, err = pcall(lg.value, '3')\n"
  "assert(not ok and err:find('luagrad.value: bad argument #1', 1, true))\n"
  "ok, err = pcall(function () return x + {} end)\n"
  "assert(not ok and err:find('bad operand', 1, true))\n"
  /* lg.data loads touching nothing; without io it reads no file, and says why */
  "local data = lg.data\n"
  "assert(data == require('luagrad.data'))\n"
  "local X, n = lg.tensor{{1, 2}, {3, 4}, {5, 6}}, 0\n"
  "for xb in data.batches(X, {batch_size = 2}) do n = n + #xb end\n"
  "assert(n == 3 and #data.split(X, 0.5) == 2)\n"
  "if io == nil then\n"
  "  ok, err = pcall(data.read_csv, 'x.csv')\n"
  "  assert(not ok and err:find(\"cannot read 'x.csv' (this Lua state has no io library)\", 1, true))\n"
  "end\n"
  "collectgarbage()\n"
  "return 'ok'\n";

/* Runs the workload with the module table on top; 0 on success. */
static int run (lua_State *L, const char *what) {
  if (luaL_loadstring(L, workload) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    return 1;
  }
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    lua_pop(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  printf("%s: ok\n", what);
  return 0;
}

static lua_State *sandbox (const char *code) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "set-up: %s\n", lua_tostring(L, -1));
    failures++;
  }
  return L;
}

/* Whether the traps were left alone and no global was added. */
static void checktraps (lua_State *L, const char *what) {
  if (luaL_dostring(L,
        "local new = {}\n"
        "for k in pairs(_G) do if not globals_before[k] then new[#new + 1] = k end end\n"
        "return table.concat(touched, ', '), table.concat(new, ', ')") != LUA_OK) {
    fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
    failures++;
    return;
  }
  if (strcmp(lua_tostring(L, -2), "") != 0) {
    fprintf(stderr, "%s: luagrad touched %s\n", what, lua_tostring(L, -2));
    failures++;
  }
  if (strcmp(lua_tostring(L, -1), "") != 0) {
    fprintf(stderr, "%s: luagrad set globals %s\n", what, lua_tostring(L, -1));
    failures++;
  }
  lua_pop(L, 2);
}

static int open_direct (lua_State *L) {
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  return 1;
}

static int open_require (lua_State *L) {
  lg_preload(L);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "luagrad");
  lua_call(L, 1, 1);
  return 1;
}

/* Opens the module in a sandbox made by code, runs the workload, checks the traps. */
static void sandboxed (const char *code, lua_CFunction open, const char *what, int traps) {
  lua_State *L = sandbox(code);
  lua_pushcfunction(L, open);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s: opening: %s\n", what, lua_tostring(L, -1));
    failures++;
  }
  else failures += run(L, what);
  if (traps) checktraps(L, what);
  lua_close(L);
}

int main (void) {
  sandboxed(remove_code, open_direct, "removed", 0);
  sandboxed(remove_code, open_require, "removed, require", 0);
  sandboxed(trap_code, open_direct, "trapped", 1);
  sandboxed(trap_code, open_require, "trapped, require", 1);
  printf("%d failed\n", failures);
  return failures != 0;
}
