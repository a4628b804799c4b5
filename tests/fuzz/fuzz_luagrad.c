/*
** fuzz_luagrad.c: a structure-aware fuzz target for the Lua binding. The input bytes are
** decoded into a bounded program of steps, run in a fresh lua_State; each step is one call
** under lua_pcall, so an error is caught and the program goes on. Raw bytes are never run
** as Lua source: a step picks a function (every function of the module table, so a new op
** is fuzzed with no edit here, plus every operator and method; lg.save writes to /dev/null
** whatever path it is given), operands (Values from 16 slots, numbers, integers, NaN and
** infinities, strings, lists, booleans, nil, userdata of another library, a forged table)
** and where to keep the result.
**
** Steps also: backward with seeds, zero_grad, detach, to_dot, field reads and assignments,
** derivatives recorded as Values, transforms and custom functions (helpers x_* among the
** module functions),
** lg.sum/lg.dot over mixed, mismatched and long (more than 1024 Values) lists, chains up to
** 2000 deep, forced collections and collector switches, finalizers that call luagrad from
** inside whatever allocation runs them, coroutines left suspended or resumed later, and
** allocation failures (an allocation budget for the whole program, or for one step).
**
** After each program: the state is closed and every byte it allocated must be freed.
** Built with libFuzzer (clang -fsanitize=fuzzer,address,undefined), or with replay.c's
** main to run a corpus with any compiler. LUAGRAD_FUZZ_TRACE=1 prints each step.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

#include "luagrad.h"

#define NSLOTS 16
#define MAXSTEPS 200
#define MAXCHAIN 2000
#define MAXNODES 60000           /* chain links and list elements per program */
#define MEMCAP (64u << 20)       /* bytes a program's state may hold */

/* ---- input ---------------------------------------------------------------------- */

typedef struct Input {
  const uint8_t *p;
  size_t n;
} Input;

static unsigned byte (Input *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

static unsigned u16 (Input *in) {
  unsigned hi = byte(in);
  return (hi << 8) | byte(in);
}

static int trace = 0;
#define TRACE(...) (trace ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

/* ---- the host's allocator: a cap, an optional budget, and an account of live bytes --- */

typedef struct Host {
  size_t live;
  long budget;     /* allocations left before they fail; < 0: no budget */
  int transient;   /* after one failure the budget ends */
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
  if (nsize > old) {
    if (h->live + (nsize - old) > MEMCAP) return NULL;
    if (h->budget == 0) {
      if (h->transient) h->budget = -1;
      return NULL;
    }
    if (h->budget > 0) h->budget--;
  }
  p = realloc(ptr, nsize);
  if (p != NULL) h->live = h->live - old + nsize;
  return p;
}

/* ---- fixed Lua helpers (never built from the input) ------------------------------- */

static const char *helpers =
  "local lg = ...\n"
  "local names, fns = {}, {}\n"
  "for k, v in pairs(lg) do if type(v) == 'function' then names[#names + 1] = k end end\n"
  "table.sort(names)\n"
  "for i, k in ipairs(names) do fns[i] = lg[k] end\n"
  /* a program writes no file: lg.save's path is always /dev/null */
  "for i, k in ipairs(names) do\n"
  "  if k == 'save' then fns[i] = function (_, ...) return lg.save('/dev/null', ...) end end\n"
  "end\n"
  /* derivatives of derivatives, transforms and custom functions, on whatever operands the
     program holds; their callbacks may fail, call back into luagrad or collect */
  "local x = {}\n"
  "function x.custom (a, b, c)\n"
  "  local f = lg.custom{name = 'fz', forward = function (u, v)\n"
  "      if c == true then error('forward refused') end\n"
  "      return u * (v or 2), u - 1 end,\n"
  "    backward = function (g1, g2, u, v, o1)\n"
  "      if c == false then error({}) end\n"
  "      if type(c) == 'function' then c(u, v) end\n"
  "      if c == nil then collectgarbage('step') end\n"
  "      if type(u) == 'number' and u > 1 then lg.value(u):backward() end\n"
  "      return g1 * (v or 2) + g2, g1 * u, o1 end}\n"
  "  return f(a, b)\n"
  "end\n"
  "function x.grad2 (a, b) return lg.grad(lg.grad(function (u, v) return u * u * v + lg.sin(u) end))(a, b) end\n"
  "function x.hessian (a, b) return lg.hessian(function (v) return v[1] * lg.exp(v[2]) end)({a, b}) end\n"
  "function x.jvp (a, b) return select(2, lg.jvp(function (u) return {u * u, lg.tanh(u)} end, {a}, {b})) end\n"
  "function x.vjp (a, b) local _, p = lg.vjp(function (u, v) return u / v end, a, b); return p(1) end\n"
  "function x.create (a, b) a:backward{create_graph = true, seed = b}; return a.grad end\n"
  "function x.gradients (a, b, c) return lg.gradients(a, {b}, {create_graph = c == nil, seeds = {c or 1}}) end\n"
  "function x.tangents (a, b, c) return lg.tangents(a, {b}, {tangents = {c or 1}, create_graph = c == nil}) end\n"
  /* each may make a graph a few times the size of its operand's: not in chains, and not once
     the program holds much (the time a program takes stays bounded) */
  "local chainable = {}\n"
  "for i, f in ipairs(fns) do chainable[i] = f end\n"
  "for _, k in ipairs({'create', 'custom', 'gradients', 'grad2', 'hessian', 'jvp', 'tangents', 'vjp'}) do\n"
  "  names[#names + 1] = 'x_' .. k\n"
  "  fns[#fns + 1] = function (...)\n"
  "    if collectgarbage('count') > 4096 then return nil end\n"
  "    return x[k](...)\n"
  "  end\n"
  "end\n"
  "local methods = {'backward', 'zero_grad', 'detach', 'to_dot', 'data', 'grad', 'label',\n"
  "                 'op', 'nonesuch'}\n"
  "for _, k in ipairs(names) do methods[#methods + 1] = k end\n"
  "local H = {names = names, fns = fns, chainable = chainable, methods = methods}\n"
  "function H.call_method (name, self, ...) return self[name](self, ...) end\n"
  "function H.finalizer (f, a, b)\n"
  "  return setmetatable({}, {__gc = function () pcall(f, a, b) end})\n"
  "end\n"
  "function H.coroutine (f, a, b)\n"
  "  local co = coroutine.create(function (x, y)\n"
  "    local r = f(x, y); coroutine.yield(r); r = f(r, y); coroutine.yield(r)\n"
  "    return f(y, r)\n"
  "  end)\n"
  "  local ok, r = coroutine.resume(co, a, b)\n"
  "  return co, r\n"
  "end\n"
  "function H.resume (co, ...) return select(2, coroutine.resume(co, ...)) end\n"
  "function H.close (co) return coroutine.close(co) end\n"
  "function H.chain (f, v, k, c) for i = 1, k do v = f(v, c) end return v end\n"
  "H.forged = setmetatable({}, {__name = 'luagrad.Value', __metatable = 'luagrad.Value'})\n"
  "H.proxy = setmetatable({}, {__len = function () return 3 end,\n"
  "  __index = function (_, i) return lg.value(i) end})\n"
  "H.foreign = io.stdout\n"
  "H.arith = {\n"
  "  function (a, b) return a + b end, function (a, b) return a - b end,\n"
  "  function (a, b) return a * b end, function (a, b) return a / b end,\n"
  "  function (a, b) return a ^ b end, function (a) return -a end,\n"
  "  function (a, b) return a < b end, function (a, b) return a <= b end,\n"
  "  function (a, b) return a > b end, function (a, b) return a == b end,\n"
  "  function (a, b) return a % b end, function (a, b) return a // b end,\n"
  "  function (a, b) return a .. b end, function (a) return #a end,\n"
  "  function (a, b) return a(b) end, function (a, b) return a & b end }\n"
  "return H\n";

/* Stack layout inside setup and inside each step (a step runs as a C function under
   lua_pcall, so that an allocation failure anywhere in it is caught): 1 is the step's
   context, then the slots, the module table and the helpers. */
#define CTX 1
#define SLOTS 2
#define LG 3
#define H 4

static void gethelper (lua_State *L, const char *name) {
  lua_getfield(L, H, name);
}

/* Every op of the op table must be reachable: a module function or an operator. */
static void checkcoverage (lua_State *L) {
  static const char *const operators[] = {"+", "-", "*", "/", "^", "neg", NULL};
  int op, i;
  for (op = 1; op < lg_op_count(); op++) {
    const char *name = lg_op_name(op);
    int found = 0;
    for (i = 0; operators[i] != NULL; i++) found |= strcmp(operators[i], name) == 0;
    if (!found) {
      found = lua_getfield(L, LG, name) == LUA_TFUNCTION;
      lua_pop(L, 1);
    }
    if (!found) {
      fprintf(stderr, "fuzz: op '%s' is neither an operator nor in the module table\n", name);
      abort();
    }
  }
}

/* ---- operands ---------------------------------------------------------------------- */

static const double specials[] = {
  0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -2.5, 1e-300, 5e-324, 1e308, -1e308, 709.0, 710.0,
  -745.0, 1e18, 9007199254740993.0, 2147483648.0, 4294967296.0, 0.7, 100.0, -100.0
};
static const lua_Integer integers[] = {
  0, 1, -1, 2, 3, 7, 1024, 65536, LUA_MAXINTEGER, LUA_MININTEGER, ((lua_Integer)1 << 53) + 1
};
static const char *const strings[] = {
  "3", "x", "", "data", "grad", "label", "op", "{a|b}<c>\"d\\e", "tab\tnew\nline", "1e3",
  "inf", "nan", "__index", "luagrad.Value"
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static double number (Input *in) {
  unsigned k = byte(in);
  if (k < 8) {  /* raw bits */
    uint64_t bits = 0;
    double x;
    int i;
    for (i = 0; i < 8; i++) bits = (bits << 8) | byte(in);
    memcpy(&x, &bits, sizeof x);
    return x;
  }
  if (k < 12) return (k & 1) ? HUGE_VAL : -HUGE_VAL;
  if (k < 16) return nan("");
  if (k < 64) return specials[k % COUNT(specials)];
  return ((double)k - 160.0) / 8.0;
}

static void pushlist (lua_State *L, Input *in, unsigned len, int depth);

/* Whether the value at i is a Value, by lg.type (a module function, so protected). */
static int isvalue (lua_State *L, int i) {
  int yes;
  i = lua_absindex(L, i);
  lua_getfield(L, LG, "type");
  lua_pushvalue(L, i);
  yes = lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING;
  lua_pop(L, 1);
  return yes;
}

/* Pushes one operand. */
static void pusharg (lua_State *L, Input *in, int depth) {
  unsigned k = byte(in);
  switch (k % 20) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: {
      unsigned s = byte(in) % NSLOTS;
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      TRACE(" s%u", s);
      break;
    }
    case 8: case 9: {
      double x = number(in);
      lua_pushnumber(L, (lua_Number)x);
      TRACE(" %.17g", x);
      break;
    }
    case 10: {
      lua_Integer i = integers[byte(in) % COUNT(integers)];
      lua_pushinteger(L, i);
      TRACE(" %lld", (long long)i);
      break;
    }
    case 11: {
      const char *s = strings[byte(in) % COUNT(strings)];
      lua_pushstring(L, s);
      TRACE(" '%s'", s);
      break;
    }
    case 12:
      if (depth < 2) {
        TRACE(" {");
        pushlist(L, in, byte(in) % 6, depth + 1);
        TRACE(" }");
      }
      else lua_newtable(L);
      break;
    case 13: lua_pushboolean(L, (int)(k & 32)); TRACE(" bool"); break;
    case 14: lua_pushnil(L); TRACE(" nil"); break;
    case 15: gethelper(L, "foreign"); TRACE(" io.stdout"); break;
    case 16: gethelper(L, "forged"); TRACE(" forged"); break;
    case 17: gethelper(L, "proxy"); TRACE(" proxy"); break;
    case 18: gethelper(L, "resume"); TRACE(" function"); break;
    default: {  /* a slot's field (data, grad, label, op) when it holds a Value */
      unsigned s = byte(in) % NSLOTS;
      const char *f = strings[3 + byte(in) % 4];
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      if (isvalue(L, -1)) {
        lua_getfield(L, -1, f);
        lua_remove(L, -2);
        TRACE(" s%u.%s", s, f);
      }
      else TRACE(" s%u", s);
      break;
    }
  }
}

static unsigned budget_nodes;   /* what is left of MAXNODES in this program */

static unsigned spend (unsigned n) {
  if (n > budget_nodes) n = budget_nodes;
  budget_nodes -= n;
  return n;
}

/* Pushes a list of len operands (lists nest at most 2 deep). */
static void pushlist (lua_State *L, Input *in, unsigned len, int depth) {
  unsigned i;
  lua_createtable(L, (int)len, 0);
  for (i = 1; i <= len; i++) {
    pusharg(L, in, depth);
    if (lua_isnil(L, -1)) lua_pop(L, 1);  /* a hole ends the list, as Lua counts it */
    else lua_rawseti(L, -2, (lua_Integer)i);
  }
}

/* A list for sum or dot: short and mixed, or long (the table path) and mostly Values. */
static void pushnarylist (lua_State *L, Input *in) {
  unsigned k = byte(in);
  if (k < 224) pushlist(L, in, spend(k % 12), 1);
  else {
    unsigned i, len = spend(1020 + (k % 32) * 3 + byte(in) % 8);
    lua_createtable(L, (int)len, 0);
    for (i = 1; i <= len; i++) {
      unsigned s = byte(in);
      if (s < 240) lua_rawgeti(L, SLOTS, (lua_Integer)(s % NSLOTS) + 1);
      else lua_pushnumber(L, (lua_Number)(s - 240));
      if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING) {
        lua_pop(L, 1);
        lua_pushinteger(L, (lua_Integer)i);
      }
      lua_rawseti(L, -2, (lua_Integer)i);
    }
    TRACE(" {%u long}", len);
  }
}

/* ---- running steps ------------------------------------------------------------------ */

/* Calls the function below nargs operands; keeps its first result in slot dst. Returns
   whether the call succeeded. */
static int call (lua_State *L, int nargs, unsigned dst, const char *what) {
  int status = lua_pcall(L, nargs, 1, 0);
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      fprintf(stderr, "fuzz: %s raised a %s\n", what, luaL_typename(L, -1));
      abort();
    }
    if (status == LUA_ERRMEM && strcmp(msg, "not enough memory") != 0) {
      fprintf(stderr, "fuzz: %s: memory error '%s'\n", what, msg);
      abort();
    }
    TRACE("  -> error: %s\n", msg);
    lua_pop(L, 1);
    return 0;
  }
  TRACE("  -> %s\n", luaL_typename(L, -1));
  if (dst < NSLOTS) lua_rawseti(L, SLOTS, (lua_Integer)dst + 1);
  else lua_pop(L, 1);
  return 1;
}

/* Checks that a successful to_dot or tostring gave the expected shape. */
static void checktext (lua_State *L, unsigned slot, const char *prefix, const char *suffix) {
  size_t len, plen = strlen(prefix), slen = strlen(suffix);
  const char *s;
  lua_rawgeti(L, SLOTS, (lua_Integer)slot + 1);
  s = lua_tolstring(L, -1, &len);
  if (lua_type(L, -1) != LUA_TSTRING || len < plen + slen || memcmp(s, prefix, plen) != 0
      || memcmp(s + len - slen, suffix, slen) != 0) {
    fprintf(stderr, "fuzz: text of the wrong shape: %s\n", s);
    abort();
  }
  lua_pop(L, 1);
}

/* What lg.type says of a slot: "value", "tensor", or NULL for anything else */
static const char *const slottypes[] = {"value", "tensor"};
static const char *slottype (lua_State *L, unsigned slot) {
  const char *t = NULL;
  int i;
  lua_getfield(L, LG, "type");
  lua_rawgeti(L, SLOTS, (lua_Integer)slot + 1);
  if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
    for (i = 0; i < 2; i++)
      if (strcmp(lua_tostring(L, -1), slottypes[i]) == 0) t = slottypes[i];
  lua_pop(L, 1);
  return t;
}

/* t[k] = v with Lua's own rules (metamethods included), as a script would assign */
static int settable (lua_State *L) {
  lua_settable(L, 1);
  return 0;
}

static void step (lua_State *L, Input *in, Host *h) {
  unsigned what = byte(in), dst = byte(in) % (NSLOTS + 2);  /* >= NSLOTS: dropped */
  int top = lua_gettop(L);
  switch (what % 24) {
    case 0: case 1: {  /* a module function: every one, whatever it is */
      unsigned i, nargs = byte(in) % 4;
      lua_Integer n;
      lua_getfield(L, H, "fns");
      n = (lua_Integer)lua_rawlen(L, -1);
      i = (unsigned)(byte(in) % n) + 1;
      lua_rawgeti(L, -1, (lua_Integer)i);
      lua_remove(L, -2);
      lua_getfield(L, H, "names");
      lua_rawgeti(L, -1, (lua_Integer)i);
      TRACE("s%u = lg.%s(", dst, lua_tostring(L, -1));
      lua_pop(L, 2);
      for (i = 0; i < nargs; i++) pusharg(L, in, 0);
      TRACE(")\n");
      call(L, (int)nargs, dst, "a module function");
      break;
    }
    case 2: case 3: {  /* an operator (every op's metamethod, and ones Values lack) */
      unsigned k = byte(in);
      lua_getfield(L, H, "arith");
      lua_rawgeti(L, -1, (lua_Integer)(k % lua_rawlen(L, -1)) + 1);
      lua_remove(L, -2);
      TRACE("s%u = operator %u(", dst, k % 16);
      pusharg(L, in, 0);
      pusharg(L, in, 0);
      TRACE(")\n");
      call(L, 2, dst, "an operator");
      break;
    }
    case 4: case 5: {  /* a method or field through a Value (or anything else) */
      unsigned i, nargs = byte(in) % 3;
      gethelper(L, "call_method");
      lua_getfield(L, H, "methods");
      lua_rawgeti(L, -1, (lua_Integer)(byte(in) % lua_rawlen(L, -1)) + 1);
      lua_remove(L, -2);
      TRACE("s%u = (self):%s(", dst, lua_tostring(L, -1));
      for (i = 0; i < nargs + 1; i++) pusharg(L, in, 0);
      TRACE(")\n");
      call(L, (int)nargs + 2, dst, "a method");
      break;
    }
    case 6: {  /* a new leaf, maybe labeled */
      lua_getfield(L, LG, "value");
      TRACE("s%u = lg.value(", dst);
      pusharg(L, in, 0);
      if (byte(in) & 1) pusharg(L, in, 0);
      else lua_pushnil(L);
      TRACE(")\n");
      call(L, 2, dst, "lg.value");
      break;
    }
    case 7: case 8: {  /* backward, with a seed or none */
      unsigned s = byte(in) % NSLOTS;
      TRACE("s%u:backward(", s);
      gethelper(L, "call_method");
      lua_pushliteral(L, "backward");
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      if (what & 32) pusharg(L, in, 0);
      else lua_pushnil(L);
      TRACE(")\n");
      call(L, 3, NSLOTS, "backward");
      break;
    }
    case 9: {  /* zero_grad on a graph, and the root's grad must then be 0 */
      unsigned s = byte(in) % NSLOTS;
      TRACE("s%u:zero_grad()\n", s);
      lua_getfield(L, LG, "zero_grad");
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      if (lua_pcall(L, 1, 0, 0) == LUA_OK && slottype(L, s) == slottypes[0]) {
        lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
        lua_getfield(L, -1, "grad");
        if (lua_tonumber(L, -1) != 0.0) {
          fprintf(stderr, "fuzz: grad is not 0 after zero_grad\n");
          abort();
        }
      }
      break;
    }
    case 10: {  /* lg.zero_grad(list) */
      lua_getfield(L, LG, "zero_grad");
      TRACE("lg.zero_grad({");
      pushlist(L, in, byte(in) % 6, 1);
      TRACE("})\n");
      call(L, 1, NSLOTS, "lg.zero_grad");
      break;
    }
    case 11: {  /* to_dot, whose text must have the right shape */
      unsigned s = byte(in) % NSLOTS;
      TRACE("s%u = lg.to_dot(s%u)\n", dst % NSLOTS, s);
      lua_getfield(L, LG, "to_dot");
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      if (call(L, 1, dst % NSLOTS, "to_dot"))
        checktext(L, dst % NSLOTS, "digraph luagrad {\n", "}\n");
      break;
    }
    case 12: {  /* tostring */
      unsigned s = byte(in) % NSLOTS;
      const char *type = slottype(L, s);  /* a Value's or a tensor's text has its shape */
      TRACE("s%u = tostring(s%u)\n", dst % NSLOTS, s);
      lua_getglobal(L, "tostring");
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      if (call(L, 1, dst % NSLOTS, "tostring") && type != NULL)
        checktext(L, dst % NSLOTS, type == slottypes[0] ? "Value(" : "Tensor(", ")");
      break;
    }
    case 13: case 14: {  /* a field assignment: data, grad, label, op or another key */
      unsigned s = byte(in) % NSLOTS;
      lua_pushcfunction(L, settable);
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      TRACE("s%u[", s);
      if (byte(in) & 1) lua_pushstring(L, strings[3 + byte(in) % 4]);
      else pusharg(L, in, 0);
      TRACE("] =");
      pusharg(L, in, 0);
      TRACE("\n");
      call(L, 3, NSLOTS, "an assignment");
      break;
    }
    case 15: case 16: {  /* lg.sum over a list */
      lua_getfield(L, LG, "sum");
      TRACE("s%u = lg.sum(", dst);
      pushnarylist(L, in);
      TRACE(")\n");
      call(L, 1, dst, "lg.sum");
      break;
    }
    case 17: {  /* lg.dot over two lists, maybe of different lengths */
      lua_getfield(L, LG, "dot");
      TRACE("s%u = lg.dot(", dst);
      pushnarylist(L, in);
      if (byte(in) < 128) lua_pushvalue(L, -1);
      else pushnarylist(L, in);
      TRACE(")\n");
      call(L, 2, dst, "lg.dot");
      break;
    }
    case 18: {  /* a chain: v = f(v, c) k times, f an operator or a module function */
      unsigned k = spend(u16(in) % (MAXCHAIN + 1)), f = byte(in);
      gethelper(L, "chain");
      if (f & 1) {
        lua_getfield(L, H, "arith");
        lua_rawgeti(L, -1, (lua_Integer)((f >> 1) % 6) + 1);
      }
      else {
        lua_getfield(L, H, "chainable");
        lua_rawgeti(L, -1, (lua_Integer)((f >> 1) % lua_rawlen(L, -1)) + 1);
      }
      lua_remove(L, -2);
      TRACE("s%u = chain of %u (%u):", dst, k, f);
      pusharg(L, in, 0);
      lua_pushinteger(L, (lua_Integer)k);
      pusharg(L, in, 0);
      TRACE("\n");
      call(L, 4, dst, "a chain");
      break;
    }
    case 19: {  /* a collection, a step, or a change of collector */
      static const int modes[] = {LUA_GCCOLLECT, LUA_GCSTEP, LUA_GCGEN, LUA_GCINC};
      int m = modes[byte(in) % 4];
      TRACE("collectgarbage(%d)\n", m);
      lua_gc(L, m, 0, 0);
      break;
    }
    case 20: {  /* a finalizer that calls luagrad whenever the collector runs it */
      unsigned i;
      gethelper(L, "finalizer");
      if (byte(in) & 1) {
        lua_getfield(L, H, "fns");
        lua_rawgeti(L, -1, (lua_Integer)(byte(in) % lua_rawlen(L, -1)) + 1);
      }
      else {
        lua_getfield(L, H, "arith");
        lua_rawgeti(L, -1, (lua_Integer)(byte(in) % 6) + 1);
      }
      lua_remove(L, -2);
      TRACE("s%u = finalizer(", dst);
      for (i = 0; i < 2; i++) pusharg(L, in, 0);
      TRACE(")\n");
      call(L, 3, dst, "a finalizer's table");
      break;
    }
    case 21: {  /* a coroutine that works, yields, and may never be resumed */
      unsigned i;
      gethelper(L, "coroutine");
      lua_getfield(L, H, "fns");
      lua_rawgeti(L, -1, (lua_Integer)(byte(in) % lua_rawlen(L, -1)) + 1);
      lua_remove(L, -2);
      TRACE("s%u = coroutine(", dst);
      for (i = 0; i < 2; i++) pusharg(L, in, 0);
      TRACE(")\n");
      if (lua_pcall(L, 3, 2, 0) == LUA_OK) {
        lua_rawseti(L, SLOTS, (lua_Integer)(dst % NSLOTS) + 1);  /* what it yielded */
        lua_rawseti(L, SLOTS, (lua_Integer)((dst + 1) % NSLOTS) + 1);  /* the thread */
      }
      break;
    }
    case 22: {  /* resume or close a coroutine (or anything else) */
      unsigned s = byte(in) % NSLOTS;
      gethelper(L, (what & 32) ? "close" : "resume");
      lua_rawgeti(L, SLOTS, (lua_Integer)s + 1);
      TRACE("s%u = %s(s%u)\n", dst, (what & 32) ? "close" : "resume", s);
      call(L, 1, dst, "resume");
      break;
    }
    default: {  /* the next step under an allocation budget of its own */
      long n = (long)byte(in);
      TRACE("-- next step: allocation %ld fails\n", n);
      if (h->budget < 0) {
        h->budget = n;
        h->transient = 1;
        step(L, in, h);
        h->budget = -1;
      }
      break;
    }
  }
  lua_settop(L, top);
}

typedef struct Context {
  Input in;
  Host *h;
} Context;

/* One step, protected: (context, slots, module, helpers). */
static int pstep (lua_State *L) {
  Context *c = (Context *)lua_touserdata(L, CTX);
  step(L, &c->in, c->h);
  return 0;
}

/* Opens the libraries, the module and the helpers: (context) -> slots, module, helpers. */
static int setup (lua_State *L) {
  int i;
  luaL_openlibs(L);
  lua_newtable(L);                                   /* SLOTS */
  luaL_requiref(L, "luagrad", luaopen_luagrad, 0);   /* LG */
  if (luaL_loadstring(L, helpers) != LUA_OK) return lua_error(L);
  lua_pushvalue(L, LG);
  lua_call(L, 1, 1);                                 /* H */
  for (i = 1; i <= NSLOTS; i++) {
    lua_getfield(L, LG, "value");
    lua_pushnumber(L, (lua_Number)i * 0.5 - 2.0);
    lua_call(L, 1, 1);
    lua_rawseti(L, SLOTS, i);
  }
  checkcoverage(L);
  return 3;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  Context c;
  Host h;
  lua_State *L;
  unsigned k, steps = 0;
  trace = getenv("LUAGRAD_FUZZ_TRACE") != NULL;
  c.in.p = data;
  c.in.n = size;
  c.h = &h;
  h.live = 0;
  h.budget = -1;
  h.transient = 0;
  budget_nodes = MAXNODES;
  L = lua_newstate(host_alloc, &h);
  if (L == NULL) return 0;
  k = byte(&c.in);
  if (k < 16) {  /* a budget for the whole program: persistent or transient */
    h.budget = (long)u16(&c.in);
    h.transient = (int)(k & 1);
    TRACE("-- allocation %ld fails%s\n", h.budget, h.transient ? " (once)" : "");
  }
  lua_pushcfunction(L, setup);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 1, 3, 0) == LUA_OK) {   /* the stack: slots, module, helpers */
    while (c.in.n > 0 && steps++ < MAXSTEPS) {
      lua_pushcfunction(L, pstep);
      lua_pushlightuserdata(L, &c);
      lua_pushvalue(L, 1);
      lua_pushvalue(L, 2);
      lua_pushvalue(L, 3);
      if (lua_pcall(L, 4, 0, 0) != LUA_OK) {
        if (lua_type(L, -1) != LUA_TSTRING) {
          fprintf(stderr, "fuzz: a step raised a %s\n", luaL_typename(L, -1));
          abort();
        }
        TRACE("  -> step failed: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
      }
      if (lua_gettop(L) != 3) {
        fprintf(stderr, "fuzz: stack is %d after a step\n", lua_gettop(L));
        abort();
      }
    }
  }
  lua_close(L);
  if (h.live != 0) {
    fprintf(stderr, "fuzz: %zu bytes left allocated after lua_close\n", h.live);
    abort();
  }
  return 0;
}
