-- Mutation from inside: every entry point that takes a Lua table or calls back into Lua, run
-- while the code it calls (a custom function's forward or backward, the function of a
-- transform or a scope, a finalizer that runs in the middle) changes the tables it was given,
-- drops the graph and collects it, or abandons a coroutine suspended inside a scope and a
-- transform. Each run must end in a luagrad error or the right answer, never a crash (make
-- test runs this file under AddressSanitizer and valgrind too), and leave the state working:
-- recording on, no transform running, a plain lg.grad returning a number and backward giving
-- the right grads.

local lg = require("luagrad")

local finalized = require("spec.helpers").finalized   -- an object whose finalizer is fn

local function full ()
  collectgarbage()
  collectgarbage()
end

-- The state works: no scope or transform left behind, derivatives right in both modes.
local function healthy ()
  full()   -- a coroutine dropped inside a scope ends it when it is collected
  assert.is_true(lg.is_grad_enabled())
  assert.are.equal(0, lg._transform())
  local g = lg.grad(function (x) return x * x * x end)(2)
  assert.are.equal("number", type(g))
  assert.are.equal(12, g)
  local x, y = lg.value(3), lg.value(4)
  local z = x * y + lg.sum({x, y, 1})
  z:backward()
  assert.are.equal(5, x.grad)
  assert.are.equal(4, y.grad)
end

-- ---- the disturbances, each given the tables the entry point was handed -----------------

local function clear (t)
  for k in pairs(t) do t[k] = nil end
end

local disturbances = {}

-- every element replaced by something of the wrong type, and the length changed
function disturbances.change (tables)
  for _, t in ipairs(tables) do
    clear(t)
    t[1], t[2], t[3], t[5] = "spoiled", {}, lg.value(-1), true
  end
end

-- the tables emptied and the graph they held collected (not from a finalizer, where 5.4
-- refuses to collect)
function disturbances.drop (tables, infinalizer)
  for _, t in ipairs(tables) do clear(t) end
  if not infinalizer then full() end
end

-- A coroutine suspended inside lg.no_grad and a transform, then dropped and collected, or
-- closed (5.4). On 5.1 it cannot yield there: it ends in an error, which changes nothing.
local function suspended ()
  local co = coroutine.create(function ()
    return lg.no_grad(function ()
      return lg.grad(function (z)
        coroutine.yield(lg.is_grad_enabled())
        return z * z
      end)(1)
    end)
  end)
  coroutine.resume(co)
  return co
end

-- (dropped in a finalizer, where it cannot be collected at once, its scopes stay in effect
-- for the state until it is: lingering says so)
local lingering = false
function disturbances.abandon (_, infinalizer)
  suspended()
  if infinalizer then lingering = true else full() end
end

if coroutine.close then
  function disturbances.close ()
    local co = suspended()
    assert.is_true(coroutine.close(co))
  end
end

-- ---- the entry points ----------------------------------------------------------------------
-- Each case runs its entry point with hook(tables) called from every place where it runs Lua
-- code (armed only while the entry point runs), and checks the result. sq is x^2 written as
-- a custom function whose callbacks call the hook.

local hook = function () end
local armed = false
local function poke (tables, infinalizer)
  if armed then hook(tables, infinalizer) end
end

local function sq (tables)
  return lg.custom{ name = "sq",
    forward = function (u) poke(tables); return u * u end,
    backward = function (g, u) poke(tables); return 2 * u * g end }
end

local unpack = table.unpack or unpack

-- runs f(...) armed
local function inside (f, ...)
  armed = true
  local r = { n = 0 }
  local function keep (...) r.n = select("#", ...); r = { n = r.n, ... } end
  keep(pcall(f, ...))
  armed = false
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

local cases = {}

-- The graphs below are held only by the tables given to the entry point (and its own
-- stack), so that emptying them and collecting frees whatever the entry point fails to
-- anchor.

cases["lg.gradients"] = function ()
  local outs, ins, seeds = {}, {}, { 1, 1, 2 }
  local tables = { outs, ins, seeds }
  do
    local x = lg.value(3)
    ins[1], ins[2] = x, lg.value(7)
    outs[1], outs[2], outs[3] = sq(tables)(x) + x, 5, sq(tables)(x) * ins[2]
  end
  local g = inside(lg.gradients, outs, ins, { seeds = seeds })
  assert.are.same({ 7 + 2 * 6 * 7, 2 * 9 }, g)   -- 2x + 1 + 2 * 2x * y, 2 * x^2
end

cases["lg.gradients with create_graph"] = function ()
  local outs, ins = {}, {}
  local tables = { outs, ins }
  do
    local x = lg.value(3)
    ins[1] = x
    outs[1] = sq(tables)(x) * x   -- x^3
  end
  local x = ins[1]
  local g = inside(lg.gradients, outs, ins, { create_graph = true })
  assert.are.equal(27, g[1].data)
  g[1]:backward()
  assert.are.equal(18, x.grad)   -- 6x
end

cases["lg.tangents"] = function ()
  local outs, ins, tans = {}, {}, { 2 }
  local tables = { outs, ins, tans }
  do
    local x = lg.value(3)
    ins[1] = x
    outs[1], outs[2], outs[3] = sq(tables)(x), 4, x * 5
  end
  local t = inside(lg.tangents, outs, ins, { tangents = tans })
  assert.are.same({ 12, 0, 10 }, t)
end

cases["lg.tangents with create_graph"] = function ()
  local outs, ins = {}, {}
  local tables = { outs, ins }
  do
    local x = lg.value(3)
    ins[1] = x
    outs[1], outs[2] = sq(tables)(x), 4
  end
  local t = inside(lg.tangents, outs, ins, { create_graph = true })
  assert.are.equal(6, t[1].data)
  assert.are.equal(0, t[2])
end

cases["lg.custom forward"] = function ()
  local list = { lg.value(3) }
  local y = inside(sq({ list }), list[1])
  assert.are.equal(9, y.data)
end

cases["backward"] = function ()
  local x, list = lg.value(3), {}
  list[1] = sq({ list })(x) * 2
  inside(list[1].backward, list[1])
  assert.are.equal(12, x.grad)
end

cases["backward with create_graph"] = function ()
  local x, list = lg.value(3), {}
  list[1] = sq({ list })(x) * x
  inside(list[1].backward, list[1], { create_graph = true })
  assert.are.equal(27, x.grad.data)
end

local function transformcase (run)
  return function ()
    local args = { 3, { 2 } }
    local tables = { args, args[2] }
    local function f (a, b)   -- a^2 * b[1] + a * b[1]
      poke(tables)
      return sq(tables)(a) * b[1] + a * b[1]
    end
    run(f, args)
  end
end

cases["lg.grad"] = transformcase(function (f, args)
  local da, db = inside(lg.grad(f), args[1], args[2])
  assert.are.equal(14, da)          -- (2a + 1) b
  assert.are.same({ 12 }, db)       -- a^2 + a
end)

cases["lg.value_and_grad"] = transformcase(function (f, args)
  local y, da = inside(lg.value_and_grad(f), args[1], args[2])
  assert.are.equal(24, y)
  assert.are.equal(14, da)
end)

cases["lg.jacfwd"] = transformcase(function (f, args)
  assert.are.same({ { 14, 12 } }, inside(lg.jacfwd(f), args[1], args[2]))
end)

cases["lg.jacrev"] = transformcase(function (f, args)
  assert.are.same({ { 14, 12 } }, inside(lg.jacrev(f), args[1], args[2]))
end)

cases["lg.hessian"] = transformcase(function (f, args)
  assert.are.same({ { 4, 7 }, { 7, 0 } }, inside(lg.hessian(f), args[1], args[2]))
end)

cases["lg.jvp"] = transformcase(function (f, args)
  local tangents = { 1, { 0 } }
  local y, t = inside(lg.jvp, f, args, tangents)
  assert.are.equal(24, y)
  assert.are.equal(14, t)
end)

cases["lg.vjp and its pullback"] = transformcase(function (f, args)
  local y, pullback = inside(lg.vjp, f, args[1], args[2])
  assert.are.equal(24, y)
  local da, db = inside(pullback, 2)
  assert.are.equal(28, da)
  assert.are.same({ 24 }, db)
end)

local function scopecase (scope, recorded)
  return function ()
    local x, list = lg.value(3), {}
    list[1] = x
    local y = inside(scope, function (v)
      poke({ list })
      local r = sq({ list })(v) * 2
      poke({ list })
      return r
    end, x)
    assert.are.equal(18, y.data)
    if not lingering then assert.are.equal(recorded, y.op ~= "leaf") end
  end
end
cases["lg.no_grad(f)"] = scopecase(lg.no_grad, false)
cases["lg.enable_grad(f)"] = scopecase(lg.enable_grad, true)

local function rounds (case) -- entry points with no callback: a finalizer in an allocation
  return function ()
    for round = 1, 40 do case(round) end
  end
end

-- garbage whose finalizers run the hook, armed or not (they may run at any later
-- allocation)
local function plant (tables, n)
  for _ = 1, n do finalized(function () poke(tables, true) end) end
end

cases["lg.sum"] = rounds(function ()
  local xs = {}
  for i = 1, 600 do xs[i] = lg.value(1) end
  plant({ xs }, 20)
  local ok, s = pcall(inside, lg.sum, xs)
  if ok then
    assert.are.equal(600, s.data)
    s:backward()
  else
    assert.truthy(s:find("luagrad.sum:", 1, true), s)
  end
end)

cases["lg.dot"] = rounds(function ()
  local xs, ys = {}, {}
  for i = 1, 300 do xs[i], ys[i] = lg.value(1), 2 end
  plant({ xs, ys }, 20)
  local ok, d = pcall(inside, lg.dot, xs, ys)
  if ok then assert.are.equal(600, d.data)
  else assert.truthy(d:find("luagrad.dot:", 1, true), d) end
end)

cases["lg.zero_grad(list)"] = rounds(function ()
  local xs = {}
  for i = 1, 300 do
    xs[i] = lg.value(i)
    xs[i].grad = 1
  end
  local kept = { unpack(xs) }
  plant({ xs }, 20)
  local ok, err = pcall(inside, lg.zero_grad, xs)
  if ok then   -- every Value zeroed, or none: a finalizer that ran in pcall's own allocations
    local zeros = 0   -- emptied the list before lg.zero_grad read it (one that runs later,
    for _, v in ipairs(kept) do   -- inside it, leaves holes there: an error)
      if v.grad == 0 then zeros = zeros + 1 end
    end
    if zeros ~= #kept then
      assert.are.equal(0, zeros)
      assert.are_not.equal(kept[1], xs[1])
    end
  else
    assert.truthy(err:find("luagrad.zero_grad:", 1, true), err)
  end
end)

-- Where the disturbance runs: in the hook itself (callbacks, f), or in finalizers of garbage
-- the hook makes and collects (for the entry points with no callback, in their own
-- allocations: see rounds).
local routes = {
  ["from inside its callbacks and function"] = function (disturb)
    return function (tables, infinalizer) disturb(tables, infinalizer) end
  end,
  ["from a __gc finalizer"] = function (disturb)
    return function (tables, infinalizer)
      if infinalizer then return disturb(tables, true) end
      for _ = 1, 3 do finalized(function () disturb(tables, true) end) end
      armed = false   -- the finalizers' own calls into luagrad are not hooked
      collectgarbage()
      armed = true
    end
  end,
}

local names = {}
for name in pairs(cases) do names[#names + 1] = name end
table.sort(names)
local dnames = {}
for name in pairs(disturbances) do dnames[#dnames + 1] = name end
table.sort(dnames)

for _, name in ipairs(names) do
  describe(name, function ()
    after_each(function ()
      armed = false
      hook = function () end
      healthy()
      lingering = false
    end)
    for route, make in pairs(routes) do
      for _, d in ipairs(dnames) do
        it(("gives the right answer or an error when the tables are %s %s"):format(
             d == "change" and "changed" or d == "drop" and "dropped" or
             "kept while a coroutine is " .. (d == "close" and "closed" or "abandoned"),
             route), function ()
          hook = make(disturbances[d])
          local ok, err = pcall(cases[name])
          if not ok then   -- a clear error of luagrad's, never an assertion of the case
            assert.are.equal("string", type(err), err and err.message or tostring(err))
            assert.truthy(err:find("luagrad", 1, true), err)
          end
        end)
      end
    end
  end)
end

-- ---- the rules the family relies on --------------------------------------------------------

describe("argument tables", function ()
  after_each(healthy)

  local proxy = setmetatable({}, {
    __len = function () return 2 end,
    __index = function (_, i) return lg.value(i) end,
  })

  it("are read raw everywhere: a table whose elements are behind a metatable is empty", function ()
    assert.are.equal(0, lg.sum(proxy).data)
    assert.are.equal(0, lg.dot(proxy, {}).data)
    assert.are.same({}, lg.gradients({}, proxy))
    assert.are.same({}, lg.tangents(proxy, {}))
    local got
    local g = lg.grad(function (t) got = #t; return lg.sum(t) end)(proxy)
    assert.are.same({}, g)
    assert.are.equal(0, got)
    local y, t = lg.jvp(function (t) return lg.sum(t) end, { proxy }, { proxy })
    assert.are.equal(0, y)
    assert.are.equal(0, t)
  end)

  it("keep their raw elements whatever their metatable says", function ()
    local x = lg.value(2)
    local t = setmetatable({ x, 3 }, { __len = function () return 0 end,
                                       __index = function () error("never read") end })
    assert.are.equal(5, lg.sum(t).data)
    assert.are.same({ 1, 1 }, lg.grad(function (u) return lg.sum(u) end)(t))
    assert.are.same({ 1 }, lg.gradients(lg.sum(t), setmetatable({ x }, getmetatable(t))))
  end)

  it("give options and definitions raw too", function ()
    local opts = setmetatable({}, { __index = function () return true end })
    local x = lg.value(3)
    local g = lg.gradients(x * x, { x }, opts)   -- create_graph unseen: numbers
    assert.are.equal("number", type(g[1]))
    assert.has_error(function ()
      lg.custom(setmetatable({}, { __index = function () return function () end end }))
    end, "luagrad.custom: bad field 'forward' (function expected, got nil)")
    assert.are.equal("forward", lg.jacobian(function (u) return u end,
      setmetatable({}, { __index = function () return "nonsense" end })) and "forward")
  end)
end)

describe("a lg.tangents callback that turns numbers of the outputs list into Values", function ()
  after_each(healthy)

  it("leaves the tangents of the list as it was given", function ()
    local x = lg.value(3)
    local outs
    local f = lg.custom{ forward = function (u) return u * 2 end,
      backward = function (g)
        outs[2], outs[3] = lg.value(1), x * 4
        return 2 * g
      end }
    outs = { f(x), 5 }
    local t = lg.tangents(outs, { x })
    assert.are.same({ 2, 0 }, t)
    assert.are.equal(2, #t)
  end)
end)

describe("scopes", function ()
  after_each(healthy)

  it("end when a coroutine suspended inside lg.no_grad(f) is collected", function ()
    local co = coroutine.create(function ()
      lg.no_grad(function () coroutine.yield() end)
    end)
    coroutine.resume(co)
    co = nil
    full()
    assert.is_true(lg.is_grad_enabled())
  end)

  it("end when a coroutine suspended inside a transform is collected", function ()
    local co = coroutine.create(function ()
      return lg.grad(function (x) coroutine.yield(); return x end)(1)
    end)
    coroutine.resume(co)
    co = nil
    full()
    assert.are.equal(0, lg._transform())
    assert.are.equal("number", type(lg.grad(function (x) return x * x end)(3)))
  end)

  it("end when a token opened in a coroutine is collected with it, and only that one",
     function ()
    local outer = lg.enable_grad()
    local co = coroutine.wrap(function ()
      local _ = lg.no_grad()
      coroutine.yield()
    end)
    co()
    assert.is_false(lg.is_grad_enabled())
    local inner = lg.no_grad()       -- opened after the coroutine's, in the main thread
    co = nil
    full()
    assert.is_false(lg.is_grad_enabled())   -- the main thread's scope is still open
    inner:close()
    assert.is_true(lg.is_grad_enabled())
    outer:close()
  end)

  if coroutine.close then
    it("end when a coroutine suspended inside lg.no_grad(f) is closed (5.4)", function ()
      local co = coroutine.create(function ()
        lg.no_grad(function () lg.grad(function (x) coroutine.yield(); return x end)(1) end)
      end)
      coroutine.resume(co)
      assert.is_true(coroutine.close(co))
      assert.is_true(lg.is_grad_enabled())   -- at once, before any collection
      assert.are.equal(0, lg._transform())
    end)
  end

  it("are the state's while a coroutine is suspended inside one (documented)", function ()
    local co = coroutine.wrap(function ()
      return lg.no_grad(function ()
        coroutine.yield()
        return lg.is_grad_enabled()
      end)
    end)
    local ok = pcall(co)
    if ok then   -- (5.1 cannot yield across pcall: the coroutine failed)
      assert.is_false(lg.is_grad_enabled())
      assert.is_false(co())
    end
    assert.is_true(lg.is_grad_enabled())
  end)

  if _VERSION ~= "Lua 5.1" or rawget(_G, "jit") then   -- pcall can yield
    it("end when the function raises after yielding, in the scope or a transform", function ()
      local e = {}
      local co = coroutine.create(function ()
        return lg.no_grad(function ()
          coroutine.yield(lg.is_grad_enabled())
          error(e)
        end)
      end)
      assert.are.same({ true, false }, { coroutine.resume(co) })
      assert.are.same({ false, e }, { coroutine.resume(co) })
      assert.is_true(lg.is_grad_enabled())
      co = coroutine.create(function ()
        return lg.grad(function (x) coroutine.yield(lg._transform()); error(e) end)(1)
      end)
      assert.are.same({ true, 1 }, { coroutine.resume(co) })
      assert.are.same({ false, e }, { coroutine.resume(co) })
      assert.are.equal(0, lg._transform())
    end)

    it("give the results of a function that yielded, and restore the scope around", function ()
      local co = coroutine.create(function ()
        return lg.enable_grad(function (a)
          local b = coroutine.yield(lg.is_grad_enabled())
          return a, b, lg.is_grad_enabled()
        end, 1)
      end)
      local outer = lg.no_grad()
      assert.are.same({ true, true }, { coroutine.resume(co) })
      assert.is_true(lg.is_grad_enabled())   -- the suspended scope is the state's
      assert.are.same({ true, 1, 2, true }, { coroutine.resume(co, 2) })
      assert.is_false(lg.is_grad_enabled())
      outer:close()
    end)
  end

  it("raise the function's error unchanged and end", function ()
    local e = {}
    local ok, err = pcall(lg.no_grad, function () error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, err)
    ok, err = pcall(lg.grad(function () error(e) end), 1)
    assert.is_false(ok)
    assert.are.equal(e, err)
  end)
end)

describe("comparisons with Lua integers", function ()
  after_each(healthy)

  if math.type then   -- 5.3+: integers are a subtype
    it("agree with comparing the data", function ()
      local big = { 9007199254740993, -9007199254740993, math.maxinteger, math.mininteger,
                    9007199254740992, 3 }
      for _, data in ipairs({ 2^53, -2^53, 2^63, -2^63, 2.5, 3, 0 / 0, 1 / 0 }) do
        local v = lg.value(data)
        for _, n in ipairs(big) do
          assert.are.equal(data < n, v < n, ("%.17g < %d"):format(data, n))
          assert.are.equal(data <= n, v <= n, ("%.17g <= %d"):format(data, n))
          assert.are.equal(n < data, n < v, ("%d < %.17g"):format(n, data))
          assert.are.equal(n <= data, n <= v, ("%d <= %.17g"):format(n, data))
        end
      end
    end)
  end
end)
