/*
** test_alloc.c: allocation failures through Lua. A host gives its lua_State an allocator
** that fails the Nth allocation, and runs a script that touches every part of luagrad
** (values, every op of the op table, backward, sum and dot over more than 1024 Values,
** zero_grad, detach, labels, tostring, to_dot, no_grad scopes, anomaly detection) for every
** N until the script gets through.
** Each failure must be a Lua error whose message is exactly "not enough memory"; raising
** the budget, the same state must then finish the script with the reference numbers; after
** lua_close nothing may be left allocated. Two modes, as SQLite tests: "persistent" (every
** allocation after the Nth fails too) and "transient" (only the Nth fails).
** The core's scratch buffers come from the same allocator, so their failures are covered.
**
** Usage: test_alloc [stride]   (stride > 1 tries every stride-th N: for valgrind)
*/
#include "luagrad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

static int failures = 0;
static size_t live = 0;   /* bytes allocated through Host allocators, all states */

#define FAIL(...) (failures++, fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

/* An allocator with a budget of allocations: budget < 0 is unlimited; otherwise each
   allocation (a new block or a growing one) spends one, and at 0 it fails. */
typedef struct Host {
  long budget;
  int transient;   /* after failing once, the budget becomes unlimited */
  long granted;    /* allocations granted since the counter was reset */
  long failed;     /* allocations refused */
} Host;

static void *host_alloc (void *ud, void *ptr, size_t osize, size_t nsize) {
  Host *h = (Host *)ud;
  size_t old = (ptr != NULL) ? osize : 0;   /* for a new block, osize is a type tag */
  void *p;
  if (nsize == 0) {
    live -= old;
    free(ptr);
    return NULL;
  }
  if (nsize > old) {  /* Lua assumes that shrinking never fails */
    if (h->budget == 0) {
      h->failed++;
      if (h->transient) h->budget = -1;
      return NULL;
    }
    if (h->budget > 0) h->budget--;
    h->granted++;
  }
  p = realloc(ptr, nsize);
  if (p != NULL) live = live - old + nsize;
  return p;
}

/*
** The script. It gets the module table and the list of op names (from lg_op_name, so a
** new op is covered without editing this file) and returns one string of every number it
** computed. It never swallows an error: a pcall it makes re-raises anything that is not
** the luagrad error it expects.
*/
static const char *script =
  "local lg, opnames = ...\n"
  "local out = {}\n"
  "local function rec (x) out[#out + 1] = type(x) == 'number' and ('%.17g'):format(x)"
  " or tostring(x) end\n"
  "local function expect_error (f, ...)\n"
  "  local ok, e = pcall(f, ...)\n"
  "  if ok or type(e) ~= 'string' or not e:find('luagrad', 1, true) then error(e, 0) end\n"
  "  rec(e)\n"
  "end\n"
  /* a failed run may have left anomaly detection on or a no_grad scope open */
  "lg.detect_anomaly(false)\n"
  "local outer = lg.enable_grad()\n"
  /* the lecture */
  "local a, b, c = lg.value(5, 'a'), lg.value(3, 'b'), lg.value(2, 'c')\n"
  "local J = 3 * (a + b * c)\n"
  "J:backward()\n"
  "rec(J.data) rec(a.grad) rec(b.grad) rec(c.grad)\n"
  /* every op of the op table, with Values and numbers on either side */
  "local operators = {\n"
  "  ['+'] = function (p, q) return p + q end, ['-'] = function (p, q) return p - q end,\n"
  "  ['*'] = function (p, q) return p * q end, ['/'] = function (p, q) return p / q end,\n"
  "  ['^'] = function (p, q) return p ^ q end, neg = function (p) return -p end }\n"
  "local x, w = lg.value(0.7, 'x'), lg.value(1.3)\n"
  "local terms = {}\n"
  "for _, name in ipairs(opnames) do\n"
  "  local f = operators[name] or lg[name]\n"
  "  if name == 'sum' then terms[#terms + 1] = lg.sum({x, 2, w, x})\n"
  "  elseif name == 'dot' then terms[#terms + 1] = lg.dot({x, 2}, {w, x})\n"
  "  elseif name == 'where' then terms[#terms + 1] = lg.where(x, w, 2) terms[#terms + 1] = x:where(2, w)\n"
  "  elseif name ~= 'leaf' then\n"
  "    if f == nil then error('no way to call op ' .. name, 0) end\n"
  "    terms[#terms + 1] = f(x, w)\n"
  "    if name ~= 'neg' then\n"
  "      terms[#terms + 1] = f(x, 0.25)\n"
  "      terms[#terms + 1] = f(2, w)\n"
  "      local m = x[name]\n"
  "      if m then terms[#terms + 1] = m(x, w) end\n"
  "    end\n"
  "  end\n"
  "end\n"
  "rec(x < w) rec(x <= 0.7) rec(1 < w)\n"
  "local s = lg.sum(terms)\n"
  "s:backward()\n"
  "rec(#terms) rec(s.data) rec(x.grad) rec(w.grad)\n"
  /* sum over more Values than fit as user values (the table path), numbers mixed in */
  "local many = {}\n"
  "for i = 1, 1100 do many[i] = (i % 23 == 0) and i or lg.value(i * 0.5) end\n"
  "local big = lg.sum(many)\n"
  "big:backward(2)\n"
  "rec(big.data) rec(many[1].grad) rec(big.grad)\n"
  /* dot over 520 pairs (1040 Values: the table path too) */
  "local xs, ys = {}, {}\n"
  "for i = 1, 520 do xs[i] = lg.value(i); ys[i] = lg.value(1 / i) end\n"
  "local d = lg.dot(xs, ys)\n"
  "d:backward()\n"
  "rec(d.data) rec(xs[3].grad) rec(ys[4].grad)\n"
  /* a chain 400 deep */
  "local y = x\n"
  "for i = 1, 200 do y = (y * 1.0001) + 0 end\n"
  "y:backward()\n"
  "rec(y.data) rec(x.grad)\n"
  /* zero_grad, detach, fields, labels, tostring, to_dot */
  "J:zero_grad()\n"
  "rec(a.grad) rec(J.grad)\n"
  "lg.zero_grad({x, w, many[1]})\n"
  "rec(x.grad) rec(many[1].grad)\n"
  "local dt = J:detach()\n"
  "rec(dt.data) rec(dt.op) rec(J.op) rec(big.op)\n"
  "x.label = 'renamed'; c.label = nil; a.data = 7; a.grad = 1.5; J.grad = 2\n"
  "rec(x.label) rec(c.label) rec(a.data)\n"
  "rec(tostring(J)) rec(tostring(a)) rec(tostring(x))\n"
  "local text = lg.to_dot(J)\n"
  "rec(#text) rec(#s:to_dot()) rec(#lg.to_dot(big)) rec(#lg.to_dot(y))\n"
  "rec(lg.type(J)) rec(lg.type(3)) rec(lg.exp(0)) rec(lg.max(1, 2))\n"
  /* errors luagrad raises on purpose need memory for their messages too */
  "expect_error(lg.value, '3')\n"
  "expect_error(function () return x + {} end)\n"
  "expect_error(lg.sum, {x, 'y'})\n"
  "expect_error(lg.dot, {x}, {})\n"
  "expect_error(function () J.data = 1 end)\n"
  /* no_grad scopes, stop_gradient, anomaly detection */
  "local p, q = lg.no_grad(function (u, v) return u * v, lg.sum({u, v, 1}) end, x, w)\n"
  "rec(p.op) rec(p.data) rec(q.data)\n"
  "local tok = lg.no_grad()\n"
  "local r = lg.dot({x, w}, {w, 2}) + lg.tanh(x)\n"
  "local e2 = lg.enable_grad(function () return x * w end)\n"
  "tok:close()\n"
  "rec(r.op) rec(e2.op) rec(lg.is_grad_enabled()) rec(lg.stop_gradient(J).data)\n"
  "lg.detect_anomaly(true)\n"
  "local z = lg.sqrt(x) * lg.log(w) + lg.sum({x, w})\n"
  "z:backward()\n"
  "rec(z.data) rec(x.grad)\n"
  "expect_error(function () local n = lg.log(lg.value(-1)); return n end)\n"
  "local nanb = lg.sqrt(lg.value(0)) * 0\n"
  "expect_error(nanb.backward, nanb)\n"
  "lg.detect_anomaly(false)\n"
  "outer:close()\n"
  "return table.concat(out, '\\n')\n";

/* Pushes the list of op names, from the public op table. */
static void pushopnames (lua_State *L) {
  int i;
  lua_createtable(L, lg_op_count(), 0);
  for (i = 0; i < lg_op_count(); i++) {
    lua_pushstring(L, lg_op_name(i));
    lua_rawseti(L, -2, i + 1);
  }
}

/* The script's chunk, the module and the op names, saved in the registry. */
static int setup (lua_State *L) {
  luaL_openlibs(L);
  /* Lua 5.4.4's luaL_Buffer makes its box metatable ("_UBOX*") the first time a buffer
     outgrows the C stack, and registers it before setting its __close: one failed
     allocation there breaks every later large table.concat of the state, luagrad or not.
     The script's output is such a concat, so the metatable is made here, in full. */
  if (luaL_dostring(L, "return table.concat({('x'):rep(4096), 'y'})") != LUA_OK)
    return lua_error(L);
  lua_pop(L, 1);
  if (luaL_loadstring(L, script) != LUA_OK) return lua_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "script");
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  lua_setfield(L, LUA_REGISTRYINDEX, "lg");
  pushopnames(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "opnames");
  return 0;
}

/* Runs the script; returns the status and leaves the result or the message on the stack. */
static int run (lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "script");
  lua_getfield(L, LUA_REGISTRYINDEX, "lg");
  lua_getfield(L, LUA_REGISTRYINDEX, "opnames");
  return lua_pcall(L, 2, 1, 0);
}

static lua_State *newstate (Host *h) {
  lua_State *L;
  h->budget = -1;
  h->transient = 0;
  L = lua_newstate(host_alloc, h);
  if (L == NULL) return NULL;
  lua_pushcfunction(L, setup);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    FAIL("setup: %s", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  return L;
}

/* The reference output, from a state that never runs short. */
static char *reference (void) {
  Host h = {-1, 0, 0, 0};
  lua_State *L = newstate(&h);
  char *ref = NULL;
  if (L == NULL) return NULL;
  if (run(L) != LUA_OK) FAIL("reference run: %s", lua_tostring(L, -1));
  else {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    ref = (char *)malloc(len + 1);
    memcpy(ref, s, len + 1);
  }
  lua_close(L);
  return ref;
}

/* The first lines of the reference: the lecture's numbers, so a wrong reference fails. */
static void checkreference (const char *ref) {
  if (strncmp(ref, "33\n3\n6\n9\n", 9) != 0) FAIL("reference does not start with the lecture");
}

/* Fails the Nth allocation of the script for every N until it runs through. Returns the
   number of allocation points tried. */
static long sweep (const char *ref, int transient, long stride) {
  long n, tried = 0;
  for (n = 0; ; n += stride) {
    Host h;
    lua_State *L = newstate(&h);
    int status, done;
    if (L == NULL) return tried;
    h.budget = n;
    h.transient = transient;
    h.failed = 0;
    status = run(L);
    done = (h.failed == 0);
    tried++;
    if (status != LUA_OK) {
      const char *msg = lua_tostring(L, -1);
      if (msg == NULL || strcmp(msg, "not enough memory") != 0)
        FAIL("N=%ld %s: error '%s', expected 'not enough memory'", n,
             transient ? "transient" : "persistent", msg ? msg : "(not a string)");
      if (h.failed == 0) FAIL("N=%ld: an error with no allocation refused", n);
    }
    else if (strcmp(lua_tostring(L, -1), ref) != 0 && h.failed == 0)
      FAIL("N=%ld: wrong output with no failure", n);
    else if (h.failed > 0 && strcmp(lua_tostring(L, -1), ref) != 0)
      FAIL("N=%ld %s: a failed allocation gave no error and wrong numbers", n,
           transient ? "transient" : "persistent");
    lua_pop(L, 1);
    h.budget = -1;    /* the same state, with memory again, finishes with the right numbers */
    if (run(L) != LUA_OK) FAIL("N=%ld: rerun failed: %s", n, lua_tostring(L, -1));
    else if (strcmp(lua_tostring(L, -1), ref) != 0) FAIL("N=%ld: rerun gave wrong numbers", n);
    lua_close(L);
    if (live != 0) {
      FAIL("N=%ld: %zu bytes left allocated after lua_close", n, live);
      live = 0;
    }
    if (done) break;
  }
  printf("%s: %ld allocation points tried (stride %ld)\n",
         transient ? "transient" : "persistent", tried, stride);
  return tried;
}

/* Opening the module itself under every failure: each is "not enough memory", and a later
   open in the same state gives a working module with its metatable locked and its label
   table weak. */
static int open_module (lua_State *L) {
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  return 1;
}

static const char *check_open =
  "local lg = ...\n"
  "local v = lg.value(2, 'v')\n"
  "local y = v * v; y:backward()\n"
  "assert(y.data == 4 and v.grad == 4 and v.label == 'v')\n"
  "assert(getmetatable(v) == 'luagrad.Value', 'metatable not locked')\n"
  "local mt = debug.getmetatable(v)\n"
  "assert(mt.__metatable == 'luagrad.Value' and mt.__name == 'luagrad.Value')\n"
  "local labels = debug.getregistry()['luagrad.labels']\n"
  "assert(getmetatable(labels).__mode == 'k', 'label table not weak')\n"
  "local t = lg.no_grad()\n"
  "assert(getmetatable(t) == 'luagrad.Scope' and debug.getmetatable(t).__close, 'scope')\n"
  "t:close(); assert(lg.is_grad_enabled())\n"
  "lg.detect_anomaly(true)\n"
  "local positions = debug.getregistry()['luagrad.positions']\n"
  "assert(getmetatable(positions).__mode == 'k', 'position table not weak')\n";

static long sweep_open (void) {
  long n, tried = 0;
  for (n = 0; ; n++) {
    Host h = {-1, 0, 0, 0};
    lua_State *L = lua_newstate(host_alloc, &h);
    int status;
    luaL_openlibs(L);
    h.budget = n;
    lua_pushcfunction(L, open_module);
    status = lua_pcall(L, 0, 1, 0);
    tried++;
    if (status != LUA_OK && strcmp(lua_tostring(L, -1), "not enough memory") != 0)
      FAIL("open N=%ld: %s", n, lua_tostring(L, -1));
    lua_pop(L, 1);
    h.budget = -1;
    if (luaL_loadstring(L, check_open) != LUA_OK) FAIL("%s", lua_tostring(L, -1));
    lua_pushcfunction(L, open_module);
    lua_call(L, 0, 1);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) FAIL("open N=%ld, then again: %s", n, lua_tostring(L, -1));
    lua_close(L);
    if (live != 0) {
      FAIL("open N=%ld: %zu bytes left allocated", n, live);
      live = 0;
    }
    if (h.failed == 0) break;
  }
  printf("opening the module: %ld allocation points tried\n", tried);
  return tried;
}

/* A host may change the allocator after opening the module (to impose a limit on one
   script, say); the core's scratch buffers must follow it, as Lua's own blocks do. */
static void test_setallocf (void) {
  Host h1 = {-1, 0, 0, 0}, h2 = {-1, 0, 0, 0};
  lua_State *L = newstate(&h1);
  if (L == NULL) return;
  if (luaL_dostring(L, "local lg = require('luagrad'); chain = lg.value(1)"
                       "for i = 1, 200 do chain = chain + 1 end") != LUA_OK)
    FAIL("%s", lua_tostring(L, -1));
  lua_setallocf(L, host_alloc, &h2);
  h1.budget = 0;   /* the old allocator refuses from now on */
  if (luaL_dostring(L, "chain:backward(); assert(chain.grad == 1)") != LUA_OK)
    FAIL("setallocf: %s", lua_tostring(L, -1));
  if (h1.failed > 0) FAIL("backward's scratch buffers came from the replaced allocator");
  lua_close(L);
  if (live != 0) FAIL("setallocf: %zu bytes left allocated", live);
  live = 0;
}

/* Finalizers that call luagrad while the state closes, including ones that run after the
   module's own scratch buffers were released (objects older than the module are
   finalized last): whatever they do, nothing may stay allocated. */
static void test_close (void) {
  Host h = {-1, 0, 0, 0};
  lua_State *L = lua_newstate(host_alloc, &h);
  luaL_openlibs(L);
  if (luaL_dostring(L,
        "setmetatable({}, {__gc = function () if hook then hook() end end})") != LUA_OK)
    FAIL("%s", lua_tostring(L, -1));
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  lua_setglobal(L, "lg");
  if (luaL_dostring(L,
        "local lg = lg\n"
        "function hook ()\n"
        "  local xs = {} for i = 1, 300 do xs[i] = lg.value(i) end\n"
        "  local s = lg.sum(xs) * 2; s:backward(); s:zero_grad(); lg.to_dot(s)\n"
        "end\n"
        "setmetatable({}, {__gc = hook})\n") != LUA_OK)
    FAIL("%s", lua_tostring(L, -1));
  lua_close(L);
  if (live != 0) FAIL("finalizers at close: %zu bytes left allocated", live);
  live = 0;
}

/* Tensors: every creation function, field and conversion, printing and the errors of
   tensors, under every failing allocation (persistent and transient). Each failure is
   "not enough memory"; the same state, with memory again, gives the reference text. */
static const char *tensor_script =
  "local lg = ...\n"
  "local out = {}\n"
  "local function rec (x) out[#out + 1] = tostring(x) end\n"
  "local function expect_error (f, ...)\n"
  "  local ok, e = pcall(f, ...)\n"
  "  if ok or type(e) ~= 'string' or not e:find('luagrad', 1, true) then error(e, 0) end\n"
  "  rec(e)\n"
  "end\n"
  "lg.manual_seed(3)\n"
  "local t = lg.tensor({{1, 2}, {3, 4.5}}, {requires_grad = true})\n"
  "local f = lg.tensor(t, {dtype = 'float32'})\n"
  "rec(t) rec(f) rec(lg.zeros(2, 3)) rec(lg.ones({2}, {dtype = 'float32'})) rec(lg.empty(3).dtype)\n"
  "rec(lg.full({2, 2}, 7)) rec(lg.eye(2, 3)) rec(lg.arange(1, 4, 0.5)) rec(lg.linspace(0, 1, 3))\n"
  "rec(lg.rand(2)) rec(lg.randn(3)) rec(lg.randint(1, 9, {4})) rec(lg.randperm(5))\n"
  "rec(lg.zeros_like(t)) rec(lg.ones_like(f)) rec(lg.rand_like(t)) rec(lg.randn_like(f))\n"
  "rec(table.concat(t.shape, ',')) rec(t:size(2)) rec(t:dim()) rec(t:numel()) rec(#t)\n"
  "rec(t.dtype) rec(t.requires_grad) rec(t.is_leaf) rec(t.op) rec(t.grad)\n"
  "t.grad = lg.ones(2, 2) rec(t.grad) t.grad = nil rec(t.grad)\n"
  "rec(#t:totable()) rec(lg.tensor{5}:item()) rec(t:get(-1, 2))\n"
  "rec(t:detach()) rec(f:clone()) rec(f:contiguous()) rec(f:to('float64')) rec(t:to('float64'))\n"
  "rec(lg.arange(1500)) rec(lg.zeros(8, 200)) rec('x' .. f)\n"
  "expect_error(lg.tensor, {{1, 2}, {3}})\n"
  "expect_error(lg.tensor, {1, 'a'})\n"
  "expect_error(t.get, t, 5, 1)\n"
  "expect_error(lg.zeros, -1)\n"
  "expect_error(lg.zeros, 1e10, 1e10, 1e10)\n"
  "expect_error(lg.ones, {2}, {dtype = 'int8'})\n"
  "expect_error(function () return t.nope end)\n"
  "expect_error(function () return t < t end)\n"
  "expect_error(function () t.grad = lg.ones(3) end)\n"
  "local ok, e = pcall(lg.zeros, 1e7, 1e7)\n"
  "rec(ok) rec(e)\n"
  "return table.concat(out, '\\n')\n";

static int run_tensors (lua_State *L) {
  if (luaL_loadstring(L, tensor_script) != LUA_OK) return lua_error(L);
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  lua_call(L, 1, 1);
  return 1;
}

/* Runs the tensor script in L; the result or the message on the stack. */
static int try_tensors (lua_State *L) {
  lua_pushcfunction(L, run_tensors);
  return lua_pcall(L, 0, 1, 0);
}

static long sweep_tensors (int transient) {
  long n, tried = 0;
  char *ref = NULL;
  {
    Host h = {-1, 0, 0, 0};
    lua_State *L = lua_newstate(host_alloc, &h);
    luaL_openlibs(L);
    if (try_tensors(L) != LUA_OK) FAIL("tensors: %s", lua_tostring(L, -1));
    else {
      const char *s = lua_tostring(L, -1);
      ref = (char *)malloc(strlen(s) + 1);
      strcpy(ref, s);
    }
    lua_close(L);
    live = 0;
    if (ref == NULL) return 0;
    if (strncmp(ref, "Tensor([[  1,   2],", 19) != 0) FAIL("tensors: wrong reference");
  }
  for (n = 0; ; n++) {
    Host h = {-1, 0, 0, 0};
    lua_State *L = lua_newstate(host_alloc, &h);
    int status;
    luaL_openlibs(L);
    /* Lua 5.4.4's buffer box metatable, made whole first (see setup) */
    if (luaL_dostring(L, "return table.concat({('x'):rep(4096), 'y'})") != LUA_OK)
      FAIL("tensors: %s", lua_tostring(L, -1));
    lua_settop(L, 0);
    h.budget = n;
    h.transient = transient;
    status = try_tensors(L);
    tried++;
    if (status != LUA_OK && strcmp(lua_tostring(L, -1), "not enough memory") != 0)
      FAIL("tensors N=%ld: %s", n, lua_tostring(L, -1));
    else if (status == LUA_OK && strcmp(lua_tostring(L, -1), ref) != 0)
      FAIL("tensors N=%ld: wrong output", n);
    lua_pop(L, 1);
    h.budget = -1;
    if (try_tensors(L) != LUA_OK) FAIL("tensors N=%ld, rerun: %s", n, lua_tostring(L, -1));
    else if (strcmp(lua_tostring(L, -1), ref) != 0) FAIL("tensors N=%ld: rerun differs", n);
    lua_close(L);
    if (live != 0) {
      FAIL("tensors N=%ld: %zu bytes left allocated", n, live);
      live = 0;
    }
    if (h.failed == 0) break;
  }
  printf("tensors (%s): %ld allocation points tried\n",
         transient ? "transient" : "persistent", tried);
  free(ref);
  return tried;
}

int main (int argc, char **argv) {
  long stride = (argc > 1) ? atol(argv[1]) : 1, points = 0;
  char *ref;
  if (stride < 1) stride = 1;
  test_setallocf();
  test_close();
  ref = reference();
  if (ref == NULL) return 1;
  checkreference(ref);
  points += sweep(ref, 0, stride);
  points += sweep(ref, 1, stride);
  points += sweep_open();
  points += sweep_tensors(0);
  points += sweep_tensors(1);
  free(ref);
  printf("%ld allocation points in all, %d failed\n", points, failures);
  return failures != 0;
}
