-- lg.compile against hostile functions: argument tables changed from inside f, a custom
-- function's callback or a finalizer; the compiled function called again from inside its
-- own call; allocations failing while it records again; numbers that reach Lua during a
-- recording that no guard checks (grads, sweeps in numbers, texts, the sign of zero). Each
-- must give eager mode's numbers, or a Lua error, never a crash (make test also runs this
-- file under AddressSanitizer). The memory cases use lg_testhost (see hostile_spec.lua).
local lg = require("luagrad")

local has_host, host = pcall(require, "lg_testhost")
local function needhost ()
  if not has_host then
    assert(_VERSION ~= "Lua 5.4", "lg_testhost is built with the Lua 5.4 module: " .. host)
    pending("no lg_testhost for " .. _VERSION)
    return false
  end
  return true
end

-- A number to compare a Value with: Lua 5.1 and LuaJIT compare a Value only with a Value.
local K = _VERSION == "Lua 5.1" and lg.value or function (x) return x end
local unpack = table.unpack or unpack
local negzero = require("spec.helpers").NEGZERO   -- made at run time (Lua 5.1 folds -0.0)

local finalized = require("spec.helpers").finalized   -- an object whose finalizer is fn

-- Eager mode's value and gradients of f at the numbers xs: f's own backward calls and grad
-- reads happen as they do in f; the gradients are those of f's result alone.
local function eager (f, ...)
  local leaves = {}
  for i, x in ipairs({...}) do leaves[i] = lg.value(x) end
  local y = f(unpack(leaves))
  for _, l in ipairs(leaves) do l.grad = 0 end
  y:backward()
  local out = {y.data}
  for i, l in ipairs(leaves) do out[i + 1] = l.grad end
  return out
end

-- x^2 as a custom function, and how many times its forward has run
local function countedsq ()
  local calls = 0
  local sq = lg.custom{name = "sq",
    forward = function (u) calls = calls + 1; return u * u end,
    backward = function (g, u) return 2 * u * g end}
  return sq, function () return calls end
end

-- fg and eager mode agree at each point (a list of argument lists)
local function agree (f, points)
  local fg = lg.compile(f)
  for _, xs in ipairs(points) do
    assert.are.same(eager(f, unpack(xs)), {fg(unpack(xs))})
  end
  return fg
end

describe("lg.compile with argument tables changed by Lua code", function ()
  it("shapes the gradients as recorded when f changes the table it was given", function ()
    local args = {1, 2, 3}
    local fg = lg.compile(function (xs)
      args[1] = "hello, world"
      args[2] = nil
      args[7] = {1, 2}
      return lg.sum(xs)
    end)
    local v, g = fg(args)
    assert.are.equal(6, v)
    assert.are.same({1, 1, 1}, g)
  end)

  it("shapes them as recorded when f empties, grows or retypes nested tables", function ()
    local args = {{1, 2}, 3, {4, {5}}}
    local fg = lg.compile(function (m, k)
      args[1] = 7                 -- a table becomes a number
      args[2] = {1, 2, 3, 4}      -- a number becomes a table
      for i = #args[3], 1, -1 do args[3][i] = nil end
      return m[1][1] * m[1][2] + m[2] * m[3][2][1] * k
    end)
    for _ = 1, 2 do   -- the recording, then a replay (args is whole again each time)
      local v, gm, gk = fg(args, 2)
      assert.are.equal(2 + 3 * 5 * 2, v)
      assert.are.same({{2, 1}, 10, {0, {6}}}, gm)
      assert.are.equal(15, gk)
      args = {{1, 2}, 3, {4, {5}}}
    end
  end)

  it("shapes them as recorded when a custom function's callback changes the table", function ()
    local args = {1, 2, 3}
    local sq = lg.custom{name = "sq",
      forward = function (u) args[3] = nil; args[1] = "x"; return u * u end,
      backward = function (g, u) args[2] = {}; return 2 * u * g end}
    local fg = lg.compile(function (xs) return sq(xs[1]) + xs[2] * xs[3] end)
    local v, g = fg(args)          -- recorded (the callbacks run in the recording)
    assert.are.equal(1 + 6, v)
    assert.are.same({2, 3, 2}, g)
    args = {2, 3, 4}
    v, g = fg(args)                -- replayed: the callbacks run in the replay
    assert.are.equal(4 + 12, v)
    assert.are.same({4, 4, 3}, g)
    assert.are.equal(1, fg.recordings)
  end)

  it("shapes them as recorded when a finalizer changes the table", function ()
    local args = {1, 2, 3}
    local fg = lg.compile(function (xs)
      finalized(function () args[1] = nil; args[2] = "y" end)
      collectgarbage()
      collectgarbage()
      return xs[1] * xs[2] * xs[3]
    end)
    local v, g = fg(args)
    assert.are.same({nil, "y", 3}, args)   -- the finalizer ran
    assert.are.equal(6, v)
    assert.are.same({6, 3, 2}, g)
  end)

  it("gives its own numbers when it is called again from inside f", function ()
    local fg
    fg = lg.compile(function (xs)
      if #xs > 1 then
        local v, g = fg({xs[1].data})     -- another shape: a recording of its own
        assert(v == xs[1].data ^ 3 and g[1] == 3 * xs[1].data ^ 2)
        return lg.sum(xs) * v
      end
      return xs[1] ^ 3
    end)
    local v, g = fg({2, 5})
    assert.are.equal(7 * 8, v)
    assert.are.same({8, 8}, g)
    v, g = fg({3, 1})
    assert.are.equal(4 * 27, v)
    assert.are.same({27, 27}, g)
  end)

  it("refuses a call from a finalizer during its own replay, and keeps working", function ()
    local fg, armed, got = nil, false, nil
    local sq = lg.custom{name = "sq", forward = function (u)
        if armed then
          armed = false
          finalized(function () got = {pcall(fg, 100)} end)
          collectgarbage()
          collectgarbage()
        end
        return u * u
      end,
      backward = function (g, u) return 2 * u * g end}
    fg = lg.compile(function (x) return sq(x) + x end)
    armed = true                      -- the finalizer runs inside the recording: it may call
    assert.are.same({12, 7}, {fg(3)}) -- fg, whose call records for itself
    assert.are.same({true, 10100, 201}, got)
    assert.are.same({20, 9}, {fg(4)}) -- that recording served its own call: a new one
    assert.are.equal(3, fg.recordings)  -- (fg(100) made one too)
    armed, got = true, nil            -- inside the replay it may not
    assert.are.same({30, 11}, {fg(5)})
    assert.are.same({false, "luagrad.compiled: called from inside its own replay (a custom "
                     .. "function's callback)"}, got)
    assert.are.same({42, 13}, {fg(6)})
    assert.are.equal(3, fg.recordings)
  end)
end)

describe("lg.compile when an allocation fails", function ()
  -- x.data is a guard: each new number records again, so every allocation of a recording
  -- that replaces another is tried
  local function f (xs, y)
    local s = y * y.data
    for i = 1, #xs do s = s + lg.tanh(xs[i] * y) end
    if s > K(0) then s = s * 2 end
    return s
  end

  local function check (fg, xs, y)
    local args = {unpack(xs)}
    args[#args + 1] = y
    local ref = eager(function (...)
      local a = {...}
      local y1 = table.remove(a)
      return f(a, y1)
    end, unpack(args))
    local out = {fg(xs, y)}
    assert.are.equal(ref[1], out[1])
    for i = 1, #xs do assert.are.equal(ref[i + 1], out[2][i]) end
    assert.are.equal(ref[#xs + 2], out[3])
  end

  it("raises 'not enough memory' while recording again, and keeps the old tape", function ()
    if not needhost() then return end
    local fg = lg.compile(f)
    check(fg, {0.5, -1}, 2)
    local n, failed = 0, 0
    repeat
      local y = 2 + (n + 1) / 64     -- a new number: a new recording
      local ok, err = host.pcall_fail(n, fg, {0.25, 1, 0.125}, y)
      if not ok then
        failed = failed + 1
        assert.are.equal("not enough memory", err)
      end
      check(fg, {0.5, -1}, 2)            -- the recording before, or a new one: right
      check(fg, {0.25, 1, 0.125}, y)     -- another shape
      check(fg, {0.5, -1}, 2)
      n = n + 1
    until ok
    assert.is_true(failed > 10)
  end)

  it("raises 'not enough memory' while replaying, and keeps working", function ()
    if not needhost() then return end
    local fg = lg.compile(function (xs) return lg.dot(xs, xs) end)
    local xs = {1, 2, 3}
    fg(xs)
    local n = 0
    repeat
      local ok, err = host.pcall_fail(n, fg, {4, 5, 6})
      if not ok then assert.are.equal("not enough memory", err) end
      local v, g = fg(xs)
      assert.are.equal(14, v)
      assert.are.same({2, 4, 6}, g)
      n = n + 1
    until ok
    assert.are.equal(1, fg.recordings)
  end)
end)

describe("lg.compile and numbers that reach Lua while it records", function ()
  it("records again after x.grad is read behind a backward inside f", function ()
    local fg = agree(function (x)
      local y = x * x
      y:backward()
      return x * x.grad       -- 2 x, a number: the frozen 6 would give 4 * 6 at 4
    end, {{3}, {4}, {-1}})
    assert.are.same({32, 8}, {fg(4)})
  end)

  it("records again after backward{create_graph = true} sets grads inside f", function ()
    agree(function (x)
      local y = x * x * x
      y:backward{create_graph = true}
      return x.grad * x       -- the grad is a Value here
    end, {{2}, {3}, {-1.5}})
  end)

  it("records again after lg.gradients or lg.tangents give numbers inside f", function ()
    agree(function (x)
      local g = lg.gradients(x * x, {x})[1]
      return x * g
    end, {{3}, {4}, {0.5}})
    agree(function (x)
      local t = lg.tangents({lg.sin(x)}, {x})[1]
      return x * t
    end, {{1}, {2}, {-0.25}})
    agree(function (x)   -- lg.grad on numbers: the number it gives depends on x
      return x + lg.grad(function (u) return u * u * x end)(1)
    end, {{1}, {2}, {7}})
  end)

  it("records again after to_dot's text or tostring is read inside f", function ()
    agree(function (x) return x * #lg.to_dot(x * x) end, {{3}, {10}, {100}})
    agree(function (x) return x * #tostring(x) end, {{3}, {10}, {0.25}})
  end)

  it("follows changes f makes to Values made outside it", function ()
    local pe, pc = lg.value(2), lg.value(2)
    local function maker (p)
      return function (x)
        local y = p * x
        y:backward()              -- p.grad changes as in eager mode
        p.label = "p" .. p.grad
        local r = y * #p.label
        p:zero_grad()
        p.grad = p.grad + 1
        return r
      end
    end
    local fe, fg = maker(pe), lg.compile(maker(pc))
    for _, x in ipairs({1, 2, 3, 30}) do
      local ref = eager(fe, x)
      assert.are.same(ref, {fg(x)})
      assert.are.equal(pe.grad, pc.grad)
      assert.are.equal(pe.label, pc.label)
    end
  end)

  it("leaves the grads of leaves only its guards read as eager backward does", function ()
    local pe, pc = lg.value(-0.25), lg.value(-0.25)
    local function maker (p)
      return function (x)
        local t = p + p.grad            -- p.grad is a Value from the second call on
        local y = t * lg.tanh(t)
        y:backward{create_graph = true}
        if p < K(0) then return x * 2 end  -- p is compared, and the result does not use it
        return x * 3
      end
    end
    local fe, fg = maker(pe), lg.compile(maker(pc))
    for _, x in ipairs({0, 0.75, 2}) do
      assert.are.same(eager(fe, x), {fg(x)})
      assert.are.equal("value", lg.type(pe.grad))
      assert.are.equal("value", lg.type(pc.grad))
      assert.are.equal(pe.grad.data, pc.grad.data)
    end
  end)

  it("recomputes a custom function's forward in the replay", function ()
    local sq, calls = countedsq()
    local fg = agree(function (x) return sq(x) * 3 + sq(2) + sq(x.data) end,
                     {{3}, {4}, {-2}})
    assert.are.equal(3, fg.recordings)   -- x.data is a guard; sq(x) alone would replay
    local hg = agree(function (x) return sq(x) * 3 end, {{3}, {4}, {-2}})
    assert.are.equal(1, hg.recordings)
    assert.is_true(calls() > 0)
  end)

  it("tells 0 from -0 in a data guard", function ()
    local fg = agree(function (x)
      if 1 / x.data > 0 then return x + 1 end
      return x - 1
    end, {{0}, {negzero}, {0}, {negzero}})
    assert.are.equal(4, fg.recordings)
    local v = fg(negzero)
    assert.are.equal(-1, v)
  end)

  it("follows the data of leaves made outside, through a compiled function inside", function ()
    local p = lg.value(2)
    local inner = lg.compile(function (x) return p * x end)
    local outer = lg.compile(function (x) return x * inner(x.data) end)
    assert.are.same({3 * 2 * 3, 6}, {outer(3)})
    p.data = 5
    assert.are.same({3 * 5 * 3, 15}, {outer(3)})
  end)
end)

describe("lg.tangents in numbers with its outputs list changed by a callback", function ()
  it("gives the tangents of the outputs it was given, every one set", function ()
    local armed, outs = false
    local function change ()
      if armed then outs[2] = lg.value(5); outs[3] = lg.value(6) end
    end
    local f = lg.custom{name = "f",
      forward = function (u) change(); return 2 * u end,
      backward = function (g) change(); return 2 * g end}
    local x = lg.value(3)
    outs = {f(x), 7}
    armed = true
    local t = lg.tangents(outs, {x}, {tangents = {1}})
    assert.are.equal("value", lg.type(outs[2]))   -- the callback ran during the sweep
    assert.are.same({2, 0}, t)
  end)
end)

describe("lg.compile and comparisons with Lua integers beyond 2^53", function ()
  if not math.type then   -- before 5.3 every number is a float: nothing to round
    it("has no integers to compare on " .. _VERSION, function () end)
    return
  end

  -- f at x, with one branch per outcome of the comparison form (Value on either side)
  local forms = {
    { "x < n", function (x, n) return x < n end },
    { "x <= n", function (x, n) return x <= n end },
    { "n < x", function (x, n) return n < x end },
    { "n <= x", function (x, n) return n <= x end },
  }
  local bigs = { 9007199254740993, -9007199254740993, 9007199254740992, math.maxinteger,
                 math.mininteger, math.tointeger(2^53) + 3 }
  local points = { 2^53, 2^53 + 2, -2^53, -2^53 - 2, 2^63, -2^63, 2^63 - 1024, 1.5, 0 / 0 }

  it("decide on each replay as Lua's own comparison does", function ()
    for _, form in ipairs(forms) do
      for _, n in ipairs(bigs) do
        local function f (x) if form[2](x, n) then return x * 2 end return x * 3 end
        for _, first in ipairs(points) do
          local fg = lg.compile(f)
          fg(first)   -- recorded at first, then replayed (or recorded again) at each point
          for _, x in ipairs(points) do
            local want = (form[2](x, n) and 2 or 3)
            local value, grad = fg(x)
            local where = ("%s with n = %d, recorded at %.17g, called at %.17g")
                          :format(form[1], n, first, x)
            assert.are.equal(want, grad, where)
            if x == x then assert.are.equal(want * x, value, where) end
          end
        end
      end
    end
  end)
end)

describe("lg.compile and Values computed outside the function", function ()
  it("uses the data they have at each call, as eager mode does", function ()
    local p = lg.value(2)
    local q = p * 2                    -- computed outside: its data stays 4
    local fg = lg.compile(function (x) return x * q end)
    assert.are.same({ 12, 4 }, { fg(3) })
    assert.are.same({ 6, 3 }, { p.grad, q.grad })   -- as eager backward gives: 3 * 2, 3
    p.data = 5                         -- q.data is still 4: eager mode gives 12
    assert.are.same({ 12, 4 }, { fg(3) })
    assert.are.equal(1, fg.recordings)
    assert.are.same({ 12, 6 }, { p.grad, q.grad })   -- every grad eager backward gives
    local y = lg.value(3) * q
    assert.are.equal(12, y.data)
  end)

  it("uses the data of a custom function's outputs made outside, and its backward", function ()
    local sq, calls = countedsq()
    local p = lg.value(3)
    local q = sq(p)                    -- 9, made outside
    local fg = lg.compile(function (x) return x * q + x end)
    assert.are.same({ 20, 10 }, { fg(2) })
    p.data = -1
    assert.are.same({ 20, 10 }, { fg(2) })
    assert.are.equal(1, calls())       -- its forward never ran again
    assert.are.equal(2 * (2 * -1) + 2 * (2 * 3), p.grad)   -- backward at p's data of each call
  end)

  it("uses the data of a grad left as a Value by backward{create_graph = true}", function ()
    local w = lg.value(3)
    ;(w * w * w):backward{ create_graph = true }
    local g = w.grad                   -- 27, a Value
    local fg = lg.compile(function (x) return x * g end)
    assert.are.same({ 54, 27 }, { fg(2) })
    w.data = 1                         -- g.data stays 27
    assert.are.same({ 54, 27 }, { fg(2) })
  end)

  it("follows branches on their data as eager mode does", function ()
    local p = lg.value(2)
    local q = p + 0
    local fg = lg.compile(function (x) if q < x then return x * q end return x end)
    assert.are.same({ 6, 2 }, { fg(3) })
    p.data = 10                        -- q.data is still 2
    assert.are.same({ 6, 2 }, { fg(3) })
    assert.are.same({ 1, 1 }, { fg(1) })
  end)
end)
