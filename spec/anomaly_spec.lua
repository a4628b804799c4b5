-- NaN hunting: lg.detect_anomaly. Forward: the first op whose value is NaN raises, naming the
-- op and the line that made it. Backward: the first node (in the reverse sweep) whose
-- derivative gives NaN raises, naming where the node was made; no grad changes.
-- The ops below are never in a tail call (`return lg.log(x)`): LuaJIT keeps no frame for
-- the caller there, so the position would be the caller's caller.
local lg = require("luagrad")

-- "file:line" of the line that calls it: what luagrad reports as a position
local function here ()
  local info = debug.getinfo(2, "Sl")
  return info.short_src .. ":" .. info.currentline
end

-- the message of the error f raises, without the "file:line: " that luaL_error puts first
local function errorof (f)
  local ok, err = pcall(f)
  assert(not ok, "no error")
  return (err:gsub("^[^:]+:%d+: ", ""))
end

local function forward (op, at)
  return "luagrad: anomaly: '" .. op .. "' produced NaN in forward at " .. at
end

local function backward (op, arg, at)
  return "luagrad: anomaly: backward of '" .. op .. "' produced NaN for argument " .. arg ..
         " (node created at " .. at .. ")"
end

describe("lg.detect_anomaly", function ()
  before_each(function () lg.detect_anomaly(true) end)
  after_each(function () lg.detect_anomaly(false) end)

  it("returns the setting it replaces, and with no argument the current one", function ()
    assert.is_true(lg.detect_anomaly())
    assert.is_true(lg.detect_anomaly(false))
    assert.is_false(lg.detect_anomaly())
    assert.is_false(lg.detect_anomaly(nil))
    assert.is_false(lg.detect_anomaly(true))
    assert.is_true(lg.detect_anomaly())
  end)

  it("takes only a boolean", function ()
    assert.has_error(function () lg.detect_anomaly(1) end,
                     "luagrad.detect_anomaly: bad argument #1 (boolean expected, got number)")
    assert.has_error(function () lg.detect_anomaly("on") end,
                     "luagrad.detect_anomaly: bad argument #1 (boolean expected, got string)")
    assert.is_true(lg.detect_anomaly())
  end)

  describe("in forward", function ()
    it("names an operator and its line", function ()
      local z = lg.value(0)
      local at, f = here(), function () local _ = z / z end
      assert.are.equal(forward("/", at), errorof(f))
      at, f = here(), function () local _ = -lg.value(0 / 0) end
      assert.are.equal(forward("neg", at), errorof(f))
    end)

    it("names a module function and its line", function ()
      local at, f = here(), function () local _ = lg.log(lg.value(-1)) end
      assert.are.equal(forward("log", at), errorof(f))
      at, f = here(), function () local _ = lg.pow(lg.value(-8), 1 / 3) end
      assert.are.equal(forward("^", at), errorof(f))
    end)

    it("names a method and its line", function ()
      local x = lg.value(-1)
      local at, f = here(), function () local _ = x:sqrt() end
      assert.are.equal(forward("sqrt", at), errorof(f))
    end)

    it("names lg.sum and lg.dot and their line", function ()
      local x = lg.value(1 / 0)
      local at, f = here(), function () local _ = lg.sum({ x, 2, -x }) end
      assert.are.equal(forward("sum", at), errorof(f))
      at, f = here(), function () local _ = lg.dot({ x, 1 }, { 0, 1 }) end
      assert.are.equal(forward("dot", at), errorof(f))
    end)

    it("names the caller's line when the op is called through pcall", function ()
      local at, ok, err = here(), pcall(lg.sqrt, lg.value(-1))
      assert.is_false(ok)
      assert.are.equal(forward("sqrt", at), (err:gsub("^[^:]+:%d+: ", "")))
    end)

    it("counts NaN that comes in through a leaf or a number", function ()
      local n = lg.value(0 / 0)   -- a leaf is not an op: no error
      local at, f = here(), function () local _ = n + 1 end
      assert.are.equal(forward("+", at), errorof(f))
      at, f = here(), function () local _ = lg.value(1) * (0 / 0) end
      assert.are.equal(forward("*", at), errorof(f))
    end)

    it("lets infinities through, and plain numbers alone", function ()
      assert.are.equal(-1 / 0, lg.log(lg.value(0)).data)
      local y = lg.log(-1)
      assert.is_true(y ~= y)
    end)

    it("checks nothing under lg.no_grad, where no node is made", function ()
      local y = lg.no_grad(lg.log, lg.value(-1))
      assert.are.equal("leaf", y.op)
      assert.is_true(y.data ~= y.data)
    end)

    it("checks the recording of lg.compile, not its replays in C", function ()
      local at, fg = here(), lg.compile(function (x) local y = lg.log(x); return y end)
      assert.are.equal(forward("log", at), errorof(function () fg(-1) end))
      lg.detect_anomaly(false)
      assert.are.equal(0, (fg(1)))   -- recorded (the failed recording does not count)
      lg.detect_anomaly(true)
      local y = fg(-1)               -- replayed
      assert.is_true(y ~= y)
      assert.are.equal(1, fg.recordings)
    end)

    it("stops checking when turned off", function ()
      lg.detect_anomaly(false)
      local z = lg.value(0)
      local y = z / z
      assert.is_true(y.data ~= y.data)
    end)
  end)

  describe("in backward", function ()
    it("names the node whose derivative gave NaN and where it was made", function ()
      local x = lg.value(0)
      local at, s = here(), lg.sqrt(x)   -- sqrt'(0) = inf, and inf * 0 is NaN
      local y = s * 0
      assert.are.equal(backward("sqrt", 1, at), errorof(function () y:backward() end))
    end)

    it("names the argument: the exponent of a negative base", function ()
      local b, e = lg.value(-2), lg.value(2)
      local at, y = here(), b ^ e   -- d/de = b^e log b, log of a negative number is NaN
      assert.are.equal(backward("^", 2, at), errorof(function () y:backward() end))
    end)

    it("ignores the partial of a constant", function ()
      local b = lg.value(-2)
      local y = b ^ 2   -- d/d2 would be NaN, but 2 is a constant
      y:backward()
      assert.are.equal(-4, b.grad)
    end)

    it("checks the seed's product too", function ()
      local a = lg.value(2)
      local at, y = here(), a * 3
      assert.are.equal(backward("*", 1, at), errorof(function () y:backward(0 / 0) end))
    end)

    it("changes no grad and leaves the graph usable", function ()
      local x, w = lg.value(0), lg.value(3)
      local s = lg.sqrt(x)
      local u = s * 0
      local y = u + w * w
      x.grad, w.grad, s.grad, u.grad, y.grad = 1, 2, 3, 4, 5
      assert.is_false(pcall(y.backward, y))
      assert.are.same({ 1, 2, 3, 4, 5 }, { x.grad, w.grad, s.grad, u.grad, y.grad })
      local v = w * 2   -- the marks and adjoints of the failed sweep are gone:
      v:backward()      -- another graph over w, then the same one, work
      assert.are.equal(4, w.grad)
      lg.detect_anomaly(false)
      y:backward()
      assert.are.same({ 10, 6, 5 }, { w.grad, y.grad, u.grad })
      assert.is_true(x.grad ~= x.grad)   -- 0 * inf, as IEEE says, with detection off
      assert.are.equal("digraph", y:to_dot():sub(1, 7))
    end)

    it("says so when the node was made while detection was off", function ()
      lg.detect_anomaly(false)
      local y = lg.sqrt(lg.value(0)) * 0
      lg.detect_anomaly(true)
      assert.are.equal("luagrad: anomaly: backward of 'sqrt' produced NaN for argument 1 " ..
                       "(node created while anomaly detection was off)",
                       errorof(function () y:backward() end))
    end)

    it("stops checking when turned off", function ()
      local x = lg.value(0)
      local y = lg.sqrt(x) * 0
      lg.detect_anomaly(false)
      y:backward()
      assert.is_true(x.grad ~= x.grad)
    end)
  end)

  it("keeps positions only as long as their nodes", function ()
    local positions = debug.getregistry()["luagrad.positions"]
    local function count ()
      collectgarbage("collect")
      collectgarbage("collect")
      local n = 0
      for k in pairs(positions) do   -- nodes (functions keep their lines there too)
        if type(k) == "userdata" then n = n + 1 end
      end
      return n, collectgarbage("count")
    end
    local x = lg.value(0.5)
    local kept = lg.tanh(x) + 1
    local function churn ()
      for _ = 1, 50000 do
        local y = x * 2
        local _ = lg.exp(y) + y
      end
    end
    churn()
    local n1, kb1 = count()
    churn()
    local n2, kb2 = count()
    assert.are.equal(2, n1)   -- kept and its tanh
    assert.are.equal(2, n2)
    -- a leak of the 50,000 positions would be megabytes; a table's unshrunk hash part, or
    -- the collector's pace under a loaded machine (640 KB seen once on 5.2), is not
    assert.is_true(kb2 - kb1 < 1536, ("memory grew from %.0f to %.0f KB"):format(kb1, kb2))
    assert.are.equal("+", kept.op)
  end)
end)
