-- lg.compile: record once, replay in C; the same numbers as eager mode, or a new recording.
local lg = require("luagrad")

-- A number to compare a Value with: Lua 5.1 and LuaJIT compare a Value only with a Value.
local K = _VERSION == "Lua 5.1" and lg.value or function (x) return x end

-- Eager value and gradients of f at the numbers xs, for comparison.
local function eager (f, ...)
  local args, leaves = {...}, {}
  for i, x in ipairs(args) do leaves[i] = lg.value(x) end
  local y = f((table.unpack or unpack)(leaves))
  y:backward()
  local grads = {}
  for i, l in ipairs(leaves) do grads[i] = l.grad end
  return y.data, grads
end

local function near (a, b, rel)
  if a ~= a then return b ~= b end
  return math.abs(a - b) <= rel * math.max(1, math.abs(a), math.abs(b))
end

describe("lg.compile", function ()
  it("returns the value, then the gradient for each argument", function ()
    local fg = lg.compile(function (x, y) return x * y + lg.tanh(x) end)
    local v, dx, dy = fg(2, 3)
    assert.are.equal(6 + math.tanh(2), v)
    assert.is_true(near(3 + 1 - math.tanh(2) ^ 2, dx, 1e-15))
    assert.are.equal(2, dy)
    v, dx, dy = fg(1, 5)   -- replayed for new numbers
    assert.are.equal(5 + math.tanh(1), v)
    assert.are.equal(1, dy)
    assert.are.equal(1, fg.recordings)
    assert.are.equal(5, fg.nodes)
    assert.are.equal("Compiled(nodes=5, recordings=1)", tostring(fg))
  end)

  it("agrees with eager mode to 1e-12 on random graphs", function ()
    math.randomseed(7)
    for _ = 1, 20 do
      local ops = {}
      for i = 1, 40 do ops[i] = {math.random(6), math.random(i + 2), math.random(i + 2)} end
      local function f (a, b, c)
        local nodes = {a, b, c}
        for i, o in ipairs(ops) do
          local p, q = nodes[o[2]], nodes[o[3]]
          local r
          if o[1] == 1 then r = p + q elseif o[1] == 2 then r = p - q
          elseif o[1] == 3 then r = p * q * 0.5 elseif o[1] == 4 then r = p / (1 + q * q)
          elseif o[1] == 5 then r = lg.tanh(p) else r = lg.exp(p * 0.1) end
          nodes[i + 3] = r
        end
        return lg.sum({nodes[#nodes], nodes[#nodes - 1], nodes[#nodes - 7]})
      end
      local fg = lg.compile(f)
      for _ = 1, 5 do
        local x = {math.random() * 2 - 1, math.random() * 2 - 1, math.random() * 2 - 1}
        local ev, eg = eager(f, x[1], x[2], x[3])
        local cv, g1, g2, g3 = fg(x[1], x[2], x[3])
        assert.is_true(near(ev, cv, 1e-12))
        assert.is_true(near(eg[1], g1, 1e-12) and near(eg[2], g2, 1e-12)
                       and near(eg[3], g3, 1e-12))
      end
      assert.are.equal(1, fg.recordings)
    end
  end)

  it("takes arrays (nested too) and returns gradients shaped like them", function ()
    local fg = lg.compile(function (xs, w, m)
      return lg.dot(xs, {w, w, w}) + m[1][1] * m[2][2]
    end)
    local v, gx, gw, gm = fg({1, 2, 3}, 2, {{5, 0}, {0, 7}})
    assert.are.equal(12 + 35, v)
    assert.are.same({2, 2, 2}, gx)
    assert.are.equal(6, gw)
    assert.are.same({{7, 0}, {0, 5}}, gm)
  end)

  it("records again when the arguments change shape", function ()
    local fg = lg.compile(function (xs) return lg.sum(xs) end)
    fg({1, 2})
    local v, g = fg({1, 2, 3})
    assert.are.equal(6, v)
    assert.are.same({1, 1, 1}, g)
    assert.are.equal(2, fg.recordings)
    fg({4, 5, 6})
    assert.are.equal(2, fg.recordings)
  end)

  it("records again when a comparison Lua made comes out differently", function ()
    local fg = lg.compile(function (x) if x > K(0) then return x * x else return -x end end)
    assert.are.same({9, 6}, {fg(3)})
    assert.are.same({16, 8}, {fg(4)})
    assert.are.equal(1, fg.recordings)
    assert.are.same({2, -1}, {fg(-2)})
    assert.are.equal(2, fg.recordings)
    assert.are.same({5, -1}, {fg(-5)})
    assert.are.equal(2, fg.recordings)
  end)

  it("guards comparisons of Values that are not part of the result", function ()
    local fg = lg.compile(function (x, y)
      local s = x + y           -- compared, never returned
      if s <= K(1) then return x * 2 end
      return y * 3
    end)
    assert.are.same({2, 2, 0}, {fg(1, 0)})
    assert.are.same({6, 0, 3}, {fg(1, 2)})
    assert.are.equal(2, fg.recordings)
    assert.are.same({0.5, 2, 0}, {fg(0.25, 0.5)})
    assert.are.equal(3, fg.recordings)
  end)

  it("treats data read inside the function as a guard", function ()
    local fg = lg.compile(function (x) local s = x.data; return x * s end)
    assert.are.same({9, 3}, {fg(3)})
    assert.are.same({9, 3}, {fg(3)})
    assert.are.equal(1, fg.recordings)
    assert.are.same({16, 4}, {fg(4)})   -- the frozen 3 would give 12: it records again
    assert.are.equal(2, fg.recordings)
    local tg = lg.compile(function (x) local _ = tostring(x); return x + 1 end)
    tg(1); tg(2)
    assert.are.equal(2, tg.recordings)
  end)

  it("recomputes relu, abs, max and min branches in C without recording again", function ()
    local fg = lg.compile(function (x, y) return lg.relu(x) + lg.abs(y) + lg.max(x, y) end)
    assert.are.same({2 + 1 + 2, 2, -1}, {fg(2, -1)})
    assert.are.same({0 + 3 + 3, 0, 2}, {fg(-2, 3)})
    assert.are.equal(1, fg.recordings)
  end)

  it("reads the current data of leaves made outside and adds to their grads", function ()
    local p = lg.value(2)
    local fg = lg.compile(function (x) return p * x end)
    assert.are.same({10, 2}, {fg(5)})
    assert.are.equal(5, p.grad)
    p.data = 3   -- what an optimizer does
    assert.are.same({15, 3}, {fg(5)})
    assert.are.equal(10, p.grad)
    assert.are.equal(1, fg.recordings)
  end)

  it("freezes numbers the function closes over", function ()
    local k = 2
    local fg = lg.compile(function (x) return x * k end)
    fg(1)
    k = 10
    assert.are.same({2, 2}, {fg(1)})   -- documented: k was folded in when recorded
  end)

  it("trains an MLP exactly as eager mode does", function ()
    math.randomseed(3)
    local ws = {}
    for i = 1, 12 do ws[i] = math.random() - 0.5 end
    local data = {}
    for i = 1, 10 do data[i] = {math.random() * 2 - 1, math.random() * 2 - 1, i % 2} end
    local function loss (w)
      local terms = {}
      for i, d in ipairs(data) do
        local h1 = lg.tanh(w[1] * d[1] + w[2] * d[2] + w[3])
        local h2 = lg.tanh(w[4] * d[1] + w[5] * d[2] + w[6])
        local h3 = lg.relu(w[7] * d[1] + w[8] * d[2] + w[9])
        local o = lg.sigmoid(w[10] * h1 + w[11] * h2 + w[12] * h3)
        terms[i] = (o - d[3]) ^ 2
      end
      return lg.sum(terms)
    end
    local fg = lg.compile(loss)
    local we, wc = {}, {}
    for i = 1, 12 do we[i], wc[i] = ws[i], ws[i] end
    for _ = 1, 30 do
      local leaves = {}
      for i = 1, 12 do leaves[i] = lg.value(we[i]) end
      local L = loss(leaves)
      L:backward()
      local lc, g = fg(wc)
      assert.is_true(near(L.data, lc, 1e-12))
      for i = 1, 12 do
        we[i] = we[i] - 0.5 * leaves[i].grad
        wc[i] = wc[i] - 0.5 * g[i]
      end
    end
    for i = 1, 12 do assert.is_true(near(we[i], wc[i], 1e-12)) end
    assert.are.equal(1, fg.recordings)
  end)
end)

describe("lg.compile errors", function ()
  it("rejects what is not a function", function ()
    assert.has_error(function () lg.compile(3) end,
                     "luagrad.compile: bad argument #1 (function expected, got number)")
  end)

  it("rejects arguments that are not numbers or arrays of numbers", function ()
    local fg = lg.compile(function (x) return x * 2 end)
    assert.has_error(function () fg("3") end,
      "luagrad.compiled: bad argument #1 (number or array of numbers expected, got string)")
    assert.has_error(function () fg({1, true}) end,
      "luagrad.compiled: bad argument #1 (number or array of numbers expected, got boolean)")
    assert.has_error(function () fg(lg.value(1)) end,
      "luagrad.compiled: bad argument #1 (number or array of numbers expected, got value)")
    local t = {}
    t[1] = t
    assert.has_error(function () fg(t) end,
                     "luagrad.compiled: bad argument #1 (arrays nested too deeply)")
    assert.are.same({4, 2}, {fg(2)})   -- and it still works
  end)

  it("requires the function to return a Value", function ()
    assert.has_error(function () lg.compile(function () return 3 end)(1) end,
                     "luagrad.compile: the function must return a value, got number")
  end)

  it("passes the function's own errors through and keeps working", function ()
    local fail = true
    local fg = lg.compile(function (x)
      if fail then error("boom", 0) end
      return x + 1
    end)
    assert.has_error(function () fg(1) end, "boom")
    local a = lg.value(1)
    assert.is_true(a < K(2))   -- comparisons outside a recording record nothing
    fail = false
    assert.are.same({2, 1}, {fg(1)})
    assert.are.equal(1, fg.recordings)
  end)

  it("allows a compiled function inside another's recording", function ()
    local inner = lg.compile(function (x) return x * x end)
    local outer = lg.compile(function (x)
      local v = inner(x.data)   -- a number to the outer recording (and a data guard)
      return x * v
    end)
    assert.are.same({27, 9}, {outer(3)})
    assert.are.same({64, 16}, {outer(4)})
    assert.are.equal(2, outer.recordings)
    assert.are.equal(1, inner.recordings)
  end)

  it("locks its metatable", function ()
    assert.are.equal("luagrad.Compiled", getmetatable(lg.compile(print)))
  end)
end)

describe("lg.compile of derivatives inside the function", function ()
  -- The derivative of abs is built from ops that must not branch on the data they were
  -- built at: recorded at 2, replayed at -1, it must be eager mode's -1 * sign(-1) = 1.
  it("replays lg.grad(lg.abs) at the other sign as eager mode computes it",
     function ()
    local function f (x) return lg.grad(lg.abs)(x) * x end
    local fg = lg.compile(f)
    assert.are.same({2, 1}, {fg(2)})
    local x = lg.value(-1)
    local y = f(x)
    y:backward()
    assert.are.same({1, -1}, {y.data, x.grad})
    assert.are.same({y.data, x.grad}, {fg(-1)})
  end)
end)
