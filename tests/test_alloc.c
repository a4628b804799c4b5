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
** A second script reaches the entry points that call back into Lua or keep state between
** calls (custom functions, lg.gradients, lg.tangents, every transform, the scopes' function
** forms, anomaly detection); after each of its failures the state must already work: no
** scope or transform left open, lg.grad giving a number, backward the right grads.
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
  "      local m = not operators[name] and x[name]   -- a method (reading others raises)\n"
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

/*
** The entry points that call back into Lua, or keep state between calls: custom functions
** (forward, backward in numbers and on Values), lg.gradients and lg.tangents (numbers and
** create_graph), every transform, to_dot of graphs with calls, the scopes' function forms
** (nested, an error through one, a coroutine suspended inside one and closed), tokens closed
** as to-be-closed variables, and anomaly detection. Unlike the script above it opens no
** scope of its own first: after any failure the state must already be as it was (checked
** by healthy below, before the rerun).
*/
static const char *reach =
  "local lg = ...\n"
  "local out = {}\n"
  "local function rec (x) out[#out + 1] = type(x) == 'number' and ('%.17g'):format(x)"
  " or tostring(x) end\n"
  "local function expect_error (want, f, ...)\n"
  "  local ok, e = pcall(f, ...)\n"
  "  if ok or type(e) ~= 'string' or not e:find(want, 1, true) then error(e, 0) end\n"
  "  rec(e)\n"
  "end\n"
  "lg.detect_anomaly(false)\n"   /* a setting, not a scope: a failed run may leave it on */
  /* custom functions */
  "local sq = lg.custom{name = 'sq', forward = function (u) return u * u end,\n"
  "  backward = function (g, u) return 2 * u * g end}\n"
  "local polar = lg.custom{forward = function (a, b) return a * b, a + b end,\n"
  "  backward = function (g1, g2, a, b) return g1 * b + g2, g1 * a + g2 end}\n"
  "local x, y = lg.value(1.5, 'x'), lg.value(-0.5)\n"
  "local z = sq(x) * y + sq(2)\n"
  "z:backward()\n"
  "rec(z.data) rec(x.grad) rec(y.grad)\n"
  "local p1, p2 = polar(x, y)\n"
  "rec(p1.data) rec(p2.data) rec(sq(3)) rec(lg.type(polar(1, 2)))\n"
  /* lg.gradients and lg.tangents, in numbers and on Values */
  "local g = lg.gradients({p1, p2, z, 4}, {x, y}, {seeds = {1, 2, 0.5, 1}})\n"
  "rec(g[1]) rec(g[2])\n"
  "local t = lg.tangents({p1, p2, z, 3}, {x, y}, {tangents = {1, -1}})\n"
  "rec(t[1]) rec(t[2]) rec(t[3]) rec(t[4])\n"
  "local gg = lg.gradients(sq(x) * x, {x}, {create_graph = true})\n"
  "rec(gg[1].data) rec(lg.gradients(gg[1], x))\n"
  "local tg = lg.tangents({sq(x) * y}, {x, y}, {create_graph = true, tangents = {1, 1}})\n"
  "rec(tg[1].data) rec(lg.gradients(tg[1], {y})[1])\n"
  "x:zero_grad()\n"
  "z:backward{create_graph = true}\n"
  "rec(x.grad.data) rec(#lg.to_dot(x.grad)) rec(#lg.to_dot(z)) rec(#lg.to_dot(p1))\n"
  /* every transform, nested too */
  "local function f (a, b) return sq(a) * b[1] + lg.sin(a) * b[2] end\n"
  "local da, db = lg.grad(f)(0.3, {2, 3})\n"
  "rec(da) rec(db[1]) rec(db[2])\n"
  "local v, dv = lg.value_and_grad(f)(0.3, {2, 3})\n"
  "rec(v) rec(dv)\n"
  "local J = lg.jacfwd(f)(0.3, {2, 3})\n"
  "rec(J[1][1]) rec(J[1][3])\n"
  "J = lg.jacrev(f)(0.3, {2, 3})\n"
  "rec(J[1][2])\n"
  "J = lg.jacobian(function (a) return sq(a), polar(a, 2) end)(0.5)\n"
  "rec(J[1][1]) rec(J[2][1]) rec(J[3][1])\n"
  "local H = lg.hessian(f)(0.3, {2, 3})\n"
  "rec(H[1][1]) rec(H[1][3])\n"
  "H = lg.hessian(f, {mode = 'forward'})(0.3, {2, 3})\n"
  "rec(H[1][1])\n"
  "local yo, to = lg.jvp(f, {0.3, {2, 3}}, {1, {0, 0}})\n"
  "rec(yo) rec(to)\n"
  "local yv, pull = lg.vjp(f, 0.3, {2, 3})\n"
  "local pa, pb = pull(2)\n"
  "rec(yv) rec(pa) rec(pb[2])\n"
  "rec(lg.grad(lg.grad(function (u) return sq(u) * u end))(0.7))\n"
  "expect_error('must return a value or a number', lg.grad(function () return {} end), 1)\n"
  /* scopes: function forms nested, an error through one, a token to be closed */
  "local n1 = lg.no_grad(function (u)\n"
  "  return lg.enable_grad(function () return u * 2 end) + sq(u) end, x)\n"
  "rec(n1.op) rec(n1.data) rec(lg.is_grad_enabled())\n"
  "expect_error('inside', lg.no_grad, function () error('luagrad test: inside', 0) end)\n"
  "do\n"
  "  local tok <close> = lg.no_grad()\n"
  "  rec(lg.is_grad_enabled()) rec((x * 2).op)\n"
  "end\n"
  /* a coroutine suspended inside a scope and a transform, then closed: the scopes end */
  "LEFTOVER = coroutine.create(function ()\n"
  "  return lg.no_grad(function ()\n"
  "    return lg.grad(function (u) coroutine.yield(lg.is_grad_enabled()); return u * u end)(2)\n"
  "  end)\n"
  "end)\n"
  "local okco, inscope = coroutine.resume(LEFTOVER)\n"
  "if not okco then error(inscope, 0) end\n"
  "rec(inscope) rec(lg.is_grad_enabled())\n"
  "local okc, ec = coroutine.close(LEFTOVER)\n"
  "if not okc then error(ec, 0) end\n"
  "LEFTOVER = nil\n"
  "rec(lg.is_grad_enabled()) rec(lg._transform())\n"
  /* anomaly detection through custom functions and transforms */
  "lg.detect_anomaly(true)\n"
  "local w = sq(x) * lg.log(-y) + polar(x, 1)\n"
  "w:backward()\n"
  "rec(w.data) rec(lg.grad(function (u) return sq(u) + lg.sqrt(u) end)(4))\n"
  "local bad = lg.custom{name = 'bad', forward = function () return 0 / 0 end,\n"
  "  backward = function (gr) return gr end}\n"
  "expect_error(\"'bad' produced NaN\", bad, x)\n"
  "lg.detect_anomaly(false)\n"
  "return table.concat(out, '\\n')\n";

/* Tensors: every creation function, field and conversion, printing, the errors of
   tensors, and ops with backward through them (adjoint buffers, .grad tensors), under
   every failing allocation (persistent and transient). Each failure is
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
  "local w = lg.tensor({{0.5}, {-1}}, {requires_grad = true})\n"
  "local b = lg.value(0.25)\n"
  "local p = lg.sigmoid(t:matmul(w) + b)\n"
  "local loss = ((p - 1) ^ 2):mean() + (t:t():reshape(4) * lg.arange(4)):sum()\n"
  "  + f:exp():sum() + lg.dot(t[1], t:select(2, 2)) + t:sum(1, true):mean() + t[2][1]\n"
  "  + lg.outer(t[1], t[2]):view(-1):expand(2, 4):narrow(1, 1, 1):permute(2, 1):sum()\n"
  "  + lg.where(t:gt(2), t, -t):unsqueeze(1):squeeze():flatten():clone():mean()\n"
  "loss:backward()\n"
  "rec(loss) rec(w.grad) rec(t.grad) rec(b.grad)\n"
  "local y = t * 2; y:retain_grad(); (y * y):sum():backward(); rec(y.grad) rec(t.grad)\n"
  "local s = lg.stack({b, 2, lg.value(3)}); s:backward(lg.ones(3)); rec(b.grad)\n"
  "y:backward(lg.ones(2, 2)); rec(t.grad); lg.zero_grad({t, w}); rec(t.grad)\n"
  "expect_error(function () return t + lg.ones(3) end)\n"
  "expect_error(function () return t:matmul(lg.ones(3, 3)) end)\n"
  "expect_error(function () y:backward() end)\n"
  "local ok, e = pcall(lg.zeros, 1e7, 1e7)\n"
  "rec(ok) rec(e)\n"
  "return table.concat(out, '\\n')\n";

/* After any run, failed or not: no scope or transform left behind, derivatives right in
   both modes. A coroutine the run left suspended inside a scope keeps it until it ends, as
   documented: it is closed first, with no collection that could hide a scope left open. */
static const char *healthy =
  "local lg = ...\n"
  "if LEFTOVER then coroutine.close(LEFTOVER); LEFTOVER = nil end\n"   /* (it may have died) */
  "lg.detect_anomaly(false)\n"
  "assert(lg.is_grad_enabled(), 'recording left off')\n"
  "assert(lg._transform() == 0, 'a transform left running')\n"
  "local g = lg.grad(function (u) return u * u * u end)(2)\n"
  "assert(g == 12, 'lg.grad gave ' .. tostring(g))\n"
  "local a, b = lg.value(3), lg.value(4)\n"
  "local c = a * b + lg.sum({a, b})\n"
  "c:backward()\n"
  "assert(a.grad == 5 and b.grad == 4, 'backward gave wrong grads')\n";

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
  if (luaL_loadstring(L, reach) != LUA_OK) return lua_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "reach");
  if (luaL_loadstring(L, healthy) != LUA_OK) return lua_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "healthy");
  if (luaL_loadstring(L, tensor_script) != LUA_OK) return lua_error(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "tensors");
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);
  lua_setfield(L, LUA_REGISTRYINDEX, "lg");
  pushopnames(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "opnames");
  return 0;
}

/* Runs the script saved at key; returns the status and leaves the result or the message
   on the stack. */
static int runscript (lua_State *L, const char *key) {
  lua_getfield(L, LUA_REGISTRYINDEX, key);
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

/* The reference output of the script at key, from a state that never runs short. */
static char *referenceof (const char *key) {
  Host h = {-1, 0, 0, 0};
  lua_State *L = newstate(&h);
  char *ref = NULL;
  if (L == NULL) return NULL;
  if (runscript(L, key) != LUA_OK) FAIL("reference run of %s: %s", key, lua_tostring(L, -1));
  else {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    ref = (char *)malloc(len + 1);
    memcpy(ref, s, len + 1);
  }
  lua_close(L);
  return ref;
}

static char *reference (void) { return referenceof("script"); }

/* The first lines of the reference: the lecture's numbers, so a wrong reference fails. */
static void checkreference (const char *ref) {
  if (strncmp(ref, "33\n3\n6\n9\n", 9) != 0) FAIL("reference does not start with the lecture");
}

/* Runs the healthy check in L (at full budget) after a run of the script at key. */
static void checkhealthy (lua_State *L, const char *key, long n, int transient) {
  lua_getfield(L, LUA_REGISTRYINDEX, "healthy");
  lua_getfield(L, LUA_REGISTRYINDEX, "lg");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    FAIL("N=%ld %s (%s): the state is broken after the failure: %s", n,
         transient ? "transient" : "persistent", key, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

/* Fails the Nth allocation of the script at key for every N until it runs through, checking
   the state afterwards if check. Returns the number of allocation points tried. */
static long sweepscript (const char *key, const char *ref, int transient, long stride,
                         int check) {
  long n, tried = 0;
  for (n = 0; ; n += stride) {
    Host h;
    lua_State *L = newstate(&h);
    int status, done;
    if (L == NULL) return tried;
    h.budget = n;
    h.transient = transient;
    h.failed = 0;
    status = runscript(L, key);
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
    if (check) checkhealthy(L, key, n, transient);
    if (runscript(L, key) != LUA_OK) FAIL("N=%ld: rerun failed: %s", n, lua_tostring(L, -1));
    else if (strcmp(lua_tostring(L, -1), ref) != 0) FAIL("N=%ld: rerun gave wrong numbers", n);
    lua_close(L);
    if (live != 0) {
      FAIL("N=%ld: %zu bytes left allocated after lua_close", n, live);
      live = 0;
    }
    if (done) break;
  }
  printf("%s, %s: %ld allocation points tried (stride %ld)\n", key,
         transient ? "transient" : "persistent", tried, stride);
  return tried;
}

static long sweep (const char *ref, int transient, long stride) {
  return sweepscript("script", ref, transient, stride, 0);
}

/* The entry points that call back into Lua (the reach script), each failure followed by
   the healthy check. */
static long sweep_reach (long stride) {
  char *ref = referenceof("reach");
  long points = 0;
  if (ref == NULL) return 0;
  points += sweepscript("reach", ref, 0, stride, 1);
  points += sweepscript("reach", ref, 1, stride, 1);
  free(ref);
  return points;
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

static long sweep_open (long stride) {
  long n, tried = 0;
  for (n = 0; ; n += stride) {
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
  printf("opening the module: %ld allocation points tried (stride %ld)\n", tried, stride);
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

/* {==================================================================
** lg.compile: recording, recording again, replay, a recording for one call only, and one
** compiled function inside another's recording. The compiled functions live in the state
** across runs (the global S), so that the run after a failure finds whatever the failure
** left and must still give the reference numbers.
** =================================================================== */

static const char *compile_script =
  "local lg, check = ...\n"
  "local unpack = table.unpack or unpack\n"
  "local out = {}\n"
  "local function rec (...)\n"
  "  for i = 1, select('#', ...) do\n"
  "    local v = select(i, ...)\n"
  "    if type(v) == 'table' then rec(unpack(v))\n"
  "    elseif type(v) == 'number' then out[#out + 1] = ('%.17g'):format(v)\n"
  "    else out[#out + 1] = tostring(v) end\n"
  "  end\n"
  "end\n"
  "S = S or {}\n"
  "S.p = S.p or lg.value(0.5)\n"
  "S.p.grad = 0\n"
  "S.sq = S.sq or lg.custom{name = 'sq', forward = function (u) return u * u end,\n"
  "  backward = function (g, u) return 2 * u * g end}\n"
  "S.fg = S.fg or lg.compile(function (xs, y)\n"
  "  local s = y * y.data + S.sq(xs[1]) * S.p\n"
  "  for i = 1, #xs do s = s + lg.tanh(xs[i] * y) end\n"
  "  if s > 0 then s = s * 2 end\n"
  "  return s\n"
  "end)\n"
  "S.once = S.once or lg.compile(function (x)\n"
  "  local y = x * x; y:backward(); return x * x.grad + #tostring(x)\n"
  "end)\n"
  "S.inner = S.inner or lg.compile(function (x) return x * S.p end)\n"
  "S.outer = S.outer or lg.compile(function (x) return x * S.inner(x.data) end)\n"
  "local fg = S.fg\n"
  "rec(fg({0.5, -1}, 2))\n"            /* recorded, or replayed */
  "rec(fg({0.5, -1}, 2))\n"
  "rec(fg({0.25, 1, 0.125}, 3))\n"     /* another shape: recorded again */
  "rec(fg({0.5, -1}, 2))\n"
  "rec(fg({0.75, -1}, 2))\n"           /* replayed for new numbers */
  "rec(S.once(3)) rec(S.once(4))\n"
  "rec(S.outer(3)) rec(S.outer(5))\n"
  "rec(S.p.grad)\n"
  /* after a failure, the state works: no recording left on, no guard list, no scope open
     (only then: a failure inside lg.grad itself is another test's) */
  "if check then\n"
  "  rec(debug.getregistry()['luagrad.guards'], lg.is_grad_enabled())\n"
  "  local a = lg.value(2); local b = a < lg.value(3); (a * a):backward()\n"
  "  rec(b, a.grad, lg.grad(function (u) return u * u end)(3))\n"
  "end\n"
  "return table.concat(out, '\\n')\n";

/* Runs the compile script, with the checks of the state at its end or without. */
static int run_compile (lua_State *L, int check) {
  lua_getfield(L, LUA_REGISTRYINDEX, "compile_script");
  lua_getfield(L, LUA_REGISTRYINDEX, "lg");
  lua_pushboolean(L, check);
  return lua_pcall(L, 2, 1, 0);
}

static char *copytop (lua_State *L) {
  char *s = (char *)malloc(strlen(lua_tostring(L, -1)) + 1);
  strcpy(s, lua_tostring(L, -1));
  lua_pop(L, 1);
  return s;
}

static lua_State *newstate_compile (Host *h) {
  lua_State *L = newstate(h);
  if (L != NULL && luaL_loadstring(L, compile_script) != LUA_OK) {
    FAIL("compile script: %s", lua_tostring(L, -1));
    lua_close(L);
    return NULL;
  }
  if (L != NULL) lua_setfield(L, LUA_REGISTRYINDEX, "compile_script");
  return L;
}

/* Fails the Nth allocation of the compile script for every N (persistent, then transient);
   returns the number of points tried. */
static long sweep_compile (long stride) {
  Host h0 = {-1, 0, 0, 0};
  lua_State *L = newstate_compile(&h0);
  char *ref, *full;   /* the output without the checks, and with them */
  long n, tried = 0;
  int transient;
  if (L == NULL) return 0;
  if (run_compile(L, 0) != LUA_OK || (ref = copytop(L)) == NULL || run_compile(L, 1) != LUA_OK) {
    FAIL("compile reference: %s", lua_tostring(L, -1));
    lua_close(L);
    return 0;
  }
  full = copytop(L);
  lua_close(L);
  if (strncmp(ref, "7.845133151759895\n", 18) != 0) FAIL("compile reference: %.40s", ref);
  for (transient = 0; transient <= 1; transient++) {
    for (n = 0; ; n += stride) {
      Host h;
      int status, done;
      if ((L = newstate_compile(&h)) == NULL) break;
      if (run_compile(L, 0) != LUA_OK) FAIL("compile N=%ld: first run failed", n);  /* records */
      lua_pop(L, 1);
      h.budget = n;
      h.transient = transient;
      h.failed = 0;
      status = run_compile(L, 0);
      done = (h.failed == 0);
      tried++;
      if (status != LUA_OK && strcmp(lua_tostring(L, -1), "not enough memory") != 0)
        FAIL("compile N=%ld: error '%s', expected 'not enough memory'", n, lua_tostring(L, -1));
      else if (status == LUA_OK && strcmp(lua_tostring(L, -1), ref) != 0)
        FAIL("compile N=%ld: wrong numbers", n);
      lua_pop(L, 1);
      h.budget = -1;
      if (run_compile(L, 1) != LUA_OK)
        FAIL("compile N=%ld: rerun failed: %s", n, lua_tostring(L, -1));
      else if (strcmp(lua_tostring(L, -1), full) != 0)
        FAIL("compile N=%ld: rerun gave wrong numbers", n);
      lua_close(L);
      if (live != 0) {
        FAIL("compile N=%ld: %zu bytes left allocated after lua_close", n, live);
        live = 0;
      }
      if (done) break;
    }
  }
  /* the first run of all (the first recordings) under every failure too */
  for (n = 0; ; n += stride) {
    Host h;
    int status;
    if ((L = newstate_compile(&h)) == NULL) break;
    h.budget = n;
    h.failed = 0;
    status = run_compile(L, 0);
    tried++;
    if (status != LUA_OK && strcmp(lua_tostring(L, -1), "not enough memory") != 0)
      FAIL("compile first N=%ld: error '%s'", n, lua_tostring(L, -1));
    else if (status == LUA_OK && strcmp(lua_tostring(L, -1), ref) != 0)
      FAIL("compile first N=%ld: wrong numbers", n);
    lua_pop(L, 1);
    h.budget = -1;
    if (run_compile(L, 1) != LUA_OK || strcmp(lua_tostring(L, -1), full) != 0)
      FAIL("compile first N=%ld: rerun gave wrong numbers", n);
    lua_close(L);
    if (live != 0) {
      FAIL("compile first N=%ld: %zu bytes left allocated after lua_close", n, live);
      live = 0;
    }
    if (h.failed == 0) break;
  }
  printf("lg.compile: %ld allocation points tried (stride %ld)\n", tried, stride);
  free(ref);
  free(full);
  return tried;
}

/* }================================================================== */


/* The tensor sweeps, every stride-th N (valgrind runs every 23rd), with the reference
   checked first: a wrong reference would make every comparison meaningless. */
static long sweep_tensors (long stride) {
  char *ref = referenceof("tensors");
  long points = 0;
  if (ref == NULL) return 0;
  if (strncmp(ref, "Tensor([[  1,   2],", 19) != 0) FAIL("tensors: wrong reference");
  else {
    points += sweepscript("tensors", ref, 0, stride, 1);
    points += sweepscript("tensors", ref, 1, stride, 1);
  }
  free(ref);
  return points;
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
  points += sweep_open(stride);
  points += sweep_reach(stride);
  points += sweep_compile(stride);
  points += sweep_tensors(stride);
  free(ref);
  printf("%ld allocation points in all, %d failed\n", points, failures);
  return failures != 0;
}
