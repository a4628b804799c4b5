-- Hostile scripts: code that tries to break in. Each attempt must end in a Lua error or the
-- right answer, never a crash, a corrupted graph or a leak (make test also runs this file
-- under AddressSanitizer and valgrind). The memory-limit cases use lg_testhost, a test-only
-- module that gives the state a host-imposed budget, as an embedding host would. The #slow
-- cases (large sums) are left out of the valgrind run; the sanitizer run has them.
-- Callbacks that raise from inside a sweep (custom functions) are in spec/custom_spec.lua.

local lg = require("luagrad")
local h = require("spec.helpers")
local finalized, badarg = h.finalized, h.badarg

local has_host, host = pcall(require, "lg_testhost")
local function needhost ()
  if not has_host then
    assert(_VERSION ~= "Lua 5.4", "lg_testhost is built with the Lua 5.4 module: " .. host)
    pending("no lg_testhost for " .. _VERSION)
    return false
  end
  return true
end



-- y = x + 1 + 1 + ... (n times): every grad along the chain is exactly 1
local function chain (n)
  local x = lg.value(0)
  local y = x
  for _ = 1, n do y = y + 1 end
  return x, y
end

describe("pcall around a failing backward", function ()
  -- backward's scratch buffers belong to the state and only grow. Its DFS stack holds each
  -- operand of a node, repeats included, and its partials two doubles per operand: a dot
  -- over 140000 pairs needs more of both than any graph of the specs run before it
  -- (ops_spec's dot over 100000 pairs is the largest)
  it("leaves every grad untouched, and the graph keeps working", function ()
    if not needhost() then return end
    local N = 140000
    local x, y = chain(100)
    local w = lg.value(3)
    local xs, ws = { y }, {}
    for i = 2, N do xs[i] = lg.value(1) end
    for i = 1, N do ws[i] = w end
    local z = lg.dot(xs, ws)
    local refused, failures = host.refused(), 0
    for n = 0, 3 do
      local ok, err = host.pcall_fail(n, z.backward, z)
      if not ok then
        failures = failures + 1
        assert.are.equal("not enough memory", err)
        assert.are.equal(0, x.grad)
        assert.are.equal(0, y.grad)
        assert.are.equal(0, xs[N].grad)
        assert.are.equal(0, w.grad)
        assert.are.equal(0, z.grad)
      end
    end
    assert.is_true(failures >= 1 and host.refused() > refused)
    z:zero_grad()   -- a later n may have let a backward through
    z:backward()
    assert.are.equal(3, x.grad)
    assert.are.equal(3, xs[N].grad)
    assert.are.equal(100 + N - 1, w.grad)
    assert.are.equal((100 + N - 1) * 3, z.data)
    assert.truthy(lg.to_dot(y * w):find("^digraph"))
    local s = lg.sum({z, x, y})
    s:backward()
    assert.are.equal(3 + 3 + 1 + 1, x.grad)
  end)

  it("to_dot, sum and dot that run out of memory fail cleanly and leave no trace", function ()
    if not needhost() then return end
    local xs = {}
    for i = 1, 3000 do xs[i] = lg.value(i) end
    local failures = 0
    local y = xs[1] * xs[2]
    for n = 0, 12 do
      local ok1, e1 = host.pcall_fail(n, lg.sum, xs)
      local ok2, e2 = host.pcall_fail(n, lg.dot, xs, xs)
      local ok3, e3 = host.pcall_fail(n, lg.to_dot, y)
      for _, r in ipairs({ {ok1, e1}, {ok2, e2}, {ok3, e3} }) do
        if not r[1] then
          failures = failures + 1
          assert.are.equal("not enough memory", r[2])
        end
      end
    end
    assert.is_true(failures > 0)
    local s = lg.sum(xs)
    s:backward()
    assert.are.equal(3000 * 3001 / 2, s.data)
    assert.are.equal(1, xs[1].grad)
    assert.are.equal(1, xs[3000].grad)
  end)
end)

describe("the metatable", function ()
  it("cannot be read or replaced", function ()
    local v = lg.value(1)
    assert.are.equal("luagrad.Value", getmetatable(v))
    if _VERSION == "Lua 5.4" then
      assert.has_error(function () setmetatable(v, {}) end,
                       "bad argument #1 to 'setmetatable' (table expected, got luagrad.Value)")
    else  -- older Luas name the type their own way
      assert.has_error(function () setmetatable(v, {}) end)
    end
    assert.are.equal(2, (v + 1).data)
  end)

  it("is not matched by a table that forges its name", function ()
    local forged = setmetatable({}, {__name = "luagrad.Value", __metatable = "luagrad.Value",
                                     __index = function () return 1 end})
    local v = lg.value(2)
    assert.is_nil(lg.type(forged))
    assert.has_error(function () return v + forged end,
                     "luagrad: bad operand #2 to '+' (number or value expected, got table)")
    assert.has_error(function () return forged * v end,
                     "luagrad: bad operand #1 to '*' (number or value expected, got table)")
    assert.has_error(function () lg.to_dot(forged) end, badarg("to_dot", 1, "value", "table"))
    assert.has_error(function () v.backward(forged) end, badarg("backward", 1, "value", "table"))
    assert.has_error(function () lg.sum({v, forged}) end,
      "luagrad.sum: bad argument #1 (number or value expected at index 2, got table)")
  end)

  -- The debug library hands out the real metatable (see the README: debug is outside the
  -- promise). Reading it is harmless: every function in it checks its arguments.
  it("holds functions that check self, whoever calls them", function ()
    local mt = debug.getmetatable(lg.value(1))
    local strangers = { io.stdout, {}, "x", 3, true, print, coroutine.create(function () end) }
    local n = 0
    for name, f in pairs(mt) do
      if type(f) == "function" then
        for _, s in ipairs(strangers) do
          for _, other in ipairs({ s, "data", 1 }) do
            local ok, err = pcall(f, s, other, other)
            local numbers = type(s) == "number"
                            and (name == "__unm" or type(other) == "number")
            if numbers and name ~= "__index" and name ~= "__newindex"
               and name ~= "__tostring" and name ~= "__concat" then
              assert.is_true(ok)   -- two numbers: arithmetic or a comparison on numbers
            else
              assert.is_false(ok, name)
              assert.are.equal("string", type(err))
              assert.truthy(err:find("luagrad", 1, true), err)
            end
            n = n + 1
          end
        end
      end
    end
    assert.is_true(n > 100)
    assert.has_error(function () mt.__index(io.stdout, "data") end,
                     badarg("__index", 1, "value", "userdata"))
    assert.has_error(function () mt.__newindex(io.stdout, "data", 1) end,
                     badarg("__newindex", 1, "value", "userdata"))
    assert.has_error(function () mt.__tostring(io.stdout) end,
                     badarg("__tostring", 1, "value", "userdata"))
  end)
end)

describe("methods and functions given another library's userdata", function ()
  local v = lg.value(2)
  local file = io.tmpfile()
  file:close()
  for _, u in ipairs({ io.stdout, io.stderr, file }) do
    it("reject it as self and as an operand: " .. tostring(u), function ()
      assert.has_error(function () v.backward(u) end, badarg("backward", 1, "value", "userdata"))
      assert.has_error(function () v.detach(u) end, badarg("detach", 1, "value", "userdata"))
      assert.has_error(function () v.to_dot(u) end, badarg("to_dot", 1, "value", "userdata"))
      assert.has_error(function () v.zero_grad(u) end,
                       badarg("zero_grad", 1, "table or value", "userdata"))
      assert.has_error(function () v.exp(u) end,
                       badarg("exp", 1, "number or value", "userdata"))
      assert.has_error(function () v.max(v, u) end,
                       badarg("max", 2, "number or value", "userdata"))
      assert.has_error(function () return v + u end,
                       "luagrad: bad operand #2 to '+' (number or value expected, got userdata)")
      if _VERSION == "Lua 5.3" or _VERSION == "Lua 5.4" then
        assert.has_error(function () return v < u end,
                         "luagrad: bad operand #2 to '<' (number or value expected, got userdata)")
      else  -- 5.1, 5.2 and LuaJIT refuse to compare two kinds of userdata themselves
        assert.has_error(function () return v < u end)
      end
      assert.has_error(function () lg.dot({v}, {u}) end,
        "luagrad.dot: bad argument #2 (number or value expected at index 1, got userdata)")
      assert.has_error(function () lg.zero_grad({v, u}) end,
        "luagrad.zero_grad: bad argument #1 (value or tensor expected at index 2, got userdata)")
      assert.is_nil(lg.type(u))
      assert.are.equal(2, v.data)
    end)
  end

  it("read a list raw: metamethods of a proxy table are never called", function ()
    local called = false
    local proxy = setmetatable({}, {
      __len = function () called = true; return 3 end,
      __index = function (_, i) called = true; return lg.value(i) end })
    assert.are.equal(0, lg.sum(proxy).data)
    assert.are.equal(0, lg.dot(proxy, {}).data)
    lg.zero_grad(proxy)
    assert.is_false(called)
  end)
end)

describe("coroutines", function ()
  it("build one graph between them, yielding between ops, resumed out of order", function ()
    local a, b = lg.value(2), lg.value(3)
    local function worker (x, k)
      return coroutine.create(function ()
        local y = x
        for _ = 1, k do y = y * 1 + 0; coroutine.yield() end
        return y
      end)
    end
    local c1, c2 = worker(a, 50), worker(b, 70)
    local r1, r2
    while coroutine.status(c1) ~= "dead" or coroutine.status(c2) ~= "dead" do
      if coroutine.status(c2) ~= "dead" then r2 = select(2, assert(coroutine.resume(c2))) end
      if coroutine.status(c1) ~= "dead" then r1 = select(2, assert(coroutine.resume(c1))) end
    end
    local J = r1 * r2
    J:backward()
    assert.are.equal(6, J.data)
    assert.are.equal(3, a.grad)
    assert.are.equal(2, b.grad)
  end)

  it("abandoned, closed or killed in the middle leave the Values they gave out intact", function ()
    local x = lg.value(1.5)
    local got = {}
    local function work ()
      local y = x
      for i = 1, 1000 do
        y = lg.sum({y, x, 1}) * 0.5
        if i % 100 == 0 then coroutine.yield(y) end
      end
      error("never gets here")
    end
    local cos = {}
    for i = 1, 3 do
      cos[i] = coroutine.create(work)
      got[i] = select(2, assert(coroutine.resume(cos[i])))
    end
    if coroutine.close then assert(coroutine.close(cos[2])) end     -- closed (Lua 5.4)
    local killer = coroutine.create(function () local v = x * 2; error(v) end)
    local ok, v = coroutine.resume(killer)                          -- killed, error a Value
    assert.is_false(ok)
    assert.are.equal("value", lg.type(v))
    cos = nil                                                       -- the others: abandoned
    collectgarbage()
    collectgarbage()
    for i = 1, 3 do
      lg.zero_grad({x})
      got[i]:backward()
      assert.are.equal(got[1].data, got[i].data)
      assert.is_true(x.grad > 0)
      assert.truthy(lg.to_dot(got[i]):find("sum", 1, true))
    end
    assert.are.equal(3, v.data)
  end)

  it("cannot yield from a finalizer that runs inside luagrad", function ()
    if _VERSION ~= "Lua 5.4" then  -- 5.2 and 5.3 raise a finalizer's error in its place
      pending("a finalizer's error is a warning only from Lua 5.4 on")
      return
    end
    local xs = {}
    for i = 1, 2000 do xs[i] = lg.value(i) end
    local co = coroutine.wrap(function ()
      for _ = 1, 50 do
        finalized(function () coroutine.yield("from a finalizer") end)
        local s = lg.sum(xs)
        assert(s.data == 2000 * 2001 / 2)
      end
      return "done"
    end)
    assert.are.equal("done", co())
  end)
end)

describe("sums over more operands than a userdata has user values", function ()
  local N = 70000   -- Lua 5.4 allows at most 65535 user values per userdata
  it("lg.sum over " .. N .. " Values, some repeated, and numbers #slow", function ()
    local xs, leaves = {}, {}
    for i = 1, N do
      if i % 7 == 0 then xs[i] = 1
      elseif i % 5 == 0 then xs[i] = leaves[1]
      else
        leaves[#leaves + 1] = lg.value(1)
        xs[i] = leaves[#leaves]
      end
    end
    local s = lg.sum(xs)
    xs = nil
    collectgarbage()
    s:backward()
    assert.are.equal(N, s.data)
    local repeats = 0
    for i = 1, N do if i % 7 ~= 0 and i % 5 == 0 then repeats = repeats + 1 end end
    assert.are.equal(1 + repeats, leaves[1].grad)
    assert.are.equal(1, leaves[#leaves].grad)
  end)

  it("lg.dot over " .. N .. " pairs, and one Value " .. N .. " times #slow", function ()
    local x = lg.value(2)
    local xs, ys = {}, {}
    for i = 1, N do xs[i] = x; ys[i] = lg.value(0.5) end
    local d = lg.dot(xs, ys)
    xs = nil
    collectgarbage()
    d:backward()
    assert.are.equal(N, d.data)
    assert.are.equal(N * 0.5, x.grad)
    assert.are.equal(2, ys[N].grad)
    local s = lg.sum(ys)
    assert.are.equal(N * 0.5, s.data)
  end)
end)

describe("huge and deep graphs near a memory limit", function ()
  it("a chain grown until memory runs out stops with 'not enough memory', then works", function ()
    if not needhost() then return end
    local function add1 (v) return v + 1 end
    collectgarbage()
    local x = lg.value(0)
    local y, n = x, 0
    local ok, err = host.pcall_limit(host.used() + 8 * 1024 * 1024, function ()
      while true do y = add1(y); n = n + 1 end
    end)
    assert.is_false(ok)
    assert.are.equal("not enough memory", err)
    assert.is_true(n > 10000)
    local err2   -- then no room for backward's scratch buffers
    ok, err2 = host.pcall_limit(host.used(), y.backward, y)
    if not ok then
      assert.are.equal("not enough memory", err2)
      assert.are.equal(0, x.grad)
    end
    lg.zero_grad({x})
    y:backward()
    assert.are.equal(1, x.grad)
    assert.are.equal(n, y.data)
    assert.truthy(#lg.to_dot(y) > n)
  end)

  it("a wide sum near the limit either fits or fails cleanly #slow", function ()
    if not needhost() then return end
    local xs = {}
    for i = 1, 100000 do xs[i] = lg.value(1) end
    collectgarbage()
    local base = host.used()
    local fits, fails = 0, 0
    for extra = 0, 4 * 1024 * 1024, 256 * 1024 do
      local ok, s = host.pcall_limit(base + extra, lg.sum, xs)
      if ok then
        fits = fits + 1
        assert.are.equal(100000, s.data)
      else
        fails = fails + 1
        assert.are.equal("not enough memory", s)
      end
      s = nil
      collectgarbage()
    end
    assert.is_true(fits > 0 and fails > 0)
  end)
end)

describe("finalizers that call luagrad in the middle of an operation", function ()
  local busy, inside = false, 0
  local shared = {}
  for i = 1, 50 do shared[i] = lg.value(i) end

  -- garbage whose finalizers use luagrad: a sum, backward, to_dot, zero_grad
  local function bombs (n)
    for _ = 1, n do
      finalized(function ()
        if busy then inside = inside + 1 end
        local s = lg.sum(shared) * 2
        s:backward()
        lg.to_dot(s)
        lg.zero_grad(shared)
        s:zero_grad()
      end)
    end
  end

  it("leave lg.sum, lg.dot and to_dot with the right answers", function ()
    local xs = {}
    for i = 1, 3000 do xs[i] = lg.value(i) end
    local expected = lg.to_dot(lg.sum({xs[1], xs[2] * 2}))
    inside = 0
    for _ = 1, 300 do
      bombs(30)
      busy = true
      local s = lg.sum(xs)
      local d = lg.dot(xs, xs)
      local t = lg.to_dot(lg.sum({xs[1], xs[2] * 2}))
      busy = false
      assert.are.equal(3000 * 3001 / 2, s.data)
      assert.are.equal(3000 * 3001 * 6001 / 6, d.data)
      assert.are.equal(expected, t)
    end
    collectgarbage()
    if _VERSION ~= "Lua 5.1" or rawget(_G, "jit") then  -- 5.1 runs them later, in its own
      assert.is_true(inside > 0, "no finalizer ran inside luagrad")  -- pace: no use to count
    end
  end)

  it("that change the list being read give an error or a consistent node", function ()
    local outcomes = {}
    for round = 1, 200 do
      local xs = {}
      for i = 1, 1500 do xs[i] = lg.value(1) end
      local replaced = {}
      for k = 1, 20 do
        finalized(function ()
          local i = (round * 31 + k * 97) % 1500 + 1
          replaced[#replaced + 1] = xs[i]   -- the old Value (it may have been read)
          if round % 3 == 0 then xs[i] = "spoiled"
          else xs[i] = lg.value(1) end        -- the same data: the same sum
        end)
      end
      local ok, s = pcall(lg.sum, xs)
      if ok then
        assert.are.equal(1500, s.data)
        s:backward()
        local total = 0
        for i = 1, 1500 do if lg.type(xs[i]) then total = total + xs[i].grad end end
        for _, old in ipairs(replaced) do total = total + old.grad end
        assert.are.equal(1500, total)   -- every slot's 1 landed on the Value it read
        outcomes.ok = (outcomes.ok or 0) + 1
      else
        assert.truthy(s:find("^luagrad.sum: bad argument #1 %(number or value expected at index")
                      or s:find("list changed while being read", 1, true), s)
        outcomes.error = (outcomes.error or 0) + 1
      end
    end
    collectgarbage()
    assert.is_true((outcomes.ok or 0) > 0, "no sum got through")
    -- (how many end in an error depends on when the collector runs: 5 of 200 in a fresh
    -- lua5.4 process, none when other spec files ran first)
  end)

  -- A finalizer runs when an allocation makes the collector take a step; between the two
  -- passes of lg.sum over a list, the node's allocation is the only one. Values must stay
  -- anchored even when the list gains Values there (Lua 5.4 ignores a user value past the
  -- count the userdata was made with, so an unchecked one would leave a parent unanchored).
  it("that turn numbers into Values while a list is read never leave a parent unanchored",
     function ()
    local okmode, oldmode = pcall(collectgarbage, "incremental")   -- steps, not cycles
    local xs, reading, changed = {}, false, 0
    for i = 1, 2000 do xs[i] = (i % 2 == 0) and 1 or lg.value(1) end  -- 1000 Values
    local nodes, errors = {}, 0
    for round = 1, 300 do
      for i = 2, 2000, 2 do xs[i] = 1 end
      for k = 1, 10 do
        finalized(function ()
          if reading then
            local i = ((round * 31 + k * 97) % 1000) * 2 + 2
            xs[i] = lg.value(1)   -- a number becomes a Value only the list holds
            changed = changed + 1
          end
        end)
      end
      reading = true
      local ok, s = pcall(lg.sum, xs)
      reading = false
      if ok then
        nodes[#nodes + 1] = s
      else
        assert.are.equal("luagrad.sum: list changed while being read", (s:gsub("^.-:%d+: ", "")))
        errors = errors + 1
      end
    end
    for i = 2, 2000, 2 do xs[i] = 1 end
    collectgarbage()   -- frees whatever a node failed to anchor
    collectgarbage()
    for _, s in ipairs(nodes) do
      s:backward()     -- every parent a node read must still be alive
      assert.are.equal(2000, s.data)
    end
    if okmode and oldmode == "generational" then collectgarbage("generational") end
    assert.is_true(#nodes > 0)
  end)
end)
