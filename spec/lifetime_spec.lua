-- Lifetime: a graph lives while Lua can reach one of its Values and the collector frees it
-- after; deep chains and big graphs work; a training loop keeps memory flat. The heavy
-- tests carry the #slow tag (busted still runs them unless told --exclude-tags=slow).
--
-- Graphs are built inside helper functions so that no stale register of the test function
-- keeps a Value alive by accident: only what a helper returns stays reachable.

local lg = require("luagrad")

local function fullgc ()
  collectgarbage("collect")
  collectgarbage("collect")
end

local function kb () return collectgarbage("count") end

-- resident set size in MB, or nil where /proc is missing
local function rssmb ()
  local f = io.open("/proc/self/statm", "r")
  if not f then return nil end
  local _, resident = f:read("*n", "*n")
  f:close()
  return resident and resident * 4096 / 2^20
end

local function countpairs (t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function weaktable () return setmetatable({}, { __mode = "v" }) end

-- the collector modes this interpreter can be switched to
local modes = {}
if _VERSION == "Lua 5.4" then modes = { "incremental", "generational" } end

describe("a deep chain", function ()
  it("1,000,000 deep builds, backpropagates exactly and is freed #slow", function ()
    fullgc()
    local m0 = kb()
    local function build ()
      local x = lg.value(0.5)
      local y = x
      for _ = 1, 1000000 do y = y + x end
      return y, x
    end
    local y, x = build()
    y:backward()
    assert.are.equal(500000.5, y.data)
    assert.are.equal(1000001, x.grad)
    assert.are.equal(1, y.grad)
    y:backward()   -- a second sweep over the same deep graph accumulates
    assert.are.equal(2000002, x.grad)
    y, x = nil, nil
    fullgc()
    local left = kb() - m0
    assert.is_true(left < 256, ("%.1f KB left after freeing the chain"):format(left))
  end)

  it("of mixed unary, binary and n-ary ops 1,000,000 deep has the exact gradient #slow", function ()
    local function build ()
      local x = lg.value(2)
      local z, d = x, 1   -- d: dz/dx carried forward in plain numbers
      for i = 1, 1000000 do
        local k = i % 6
        if k == 0 then z, d = z + x, d + 1
        elseif k == 1 then z, d = -z, -d
        elseif k == 2 then z, d = z - x, d - 1
        elseif k == 3 then z = 1 * z
        elseif k == 4 then z, d = lg.sum({ z, x, 1 }), d + 1
        else z, d = lg.dot({ z, x }, { 1, -1 }), d - 1 end
      end
      return z, x, d
    end
    local z, x, d = build()
    z:backward()
    assert.are.equal(d, x.grad)
    assert.are.equal(1, z.grad)
  end)
end)

describe("a training loop", function ()
  -- One step: a fresh graph with labeled leaves, n-ary ops and a backward sweep.
  local function step ()
    local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
    local L = 3 * (a + b * c) + lg.sum({ a, b }) + lg.dot({ c }, { 1 })
    L:backward()
    return L.data, a.grad, b.grad, c.grad
  end

  -- Runs n steps, sampling collectgarbage("count") 100 times; returns the samples.
  local function run (n)
    local samples = {}
    for i = 1, n do
      local data, ga, gb, gc = step()
      if data ~= 43 or ga ~= 4 or gb ~= 7 or gc ~= 10 then
        error(("step %d: wrong result %s %s %s %s"):format(i, data, ga, gb, gc))
      end
      if i % (n / 100) == 0 then samples[#samples + 1] = kb() end
    end
    return samples
  end

  local function check (samples, r0, r1)
    local first, second = 0, 0
    for i = 1, 50 do first = math.max(first, samples[i]) end
    for i = 51, 100 do second = math.max(second, samples[i]) end
    assert.is_true(second < 1.5 * first + 1024,
                   ("heap max %.0f KB in the second half vs %.0f KB in the first"):format(second, first))
    if r0 and r1 then
      assert.is_true(r1 - r0 < 50, ("resident size grew by %.1f MB"):format(r1 - r0))
    end
  end

  for _, mode in ipairs(modes) do
    it("keeps memory flat over 1,000,000 steps under the " .. mode .. " collector #slow", function ()
      local previous = collectgarbage(mode)
      finally(function () collectgarbage(previous) end)
      fullgc()
      local r0 = rssmb()
      local samples = run(1000000)
      local r1 = rssmb()
      check(samples, r0, r1)
    end)
  end

  if #modes == 0 then
    it("keeps memory flat over 1,000,000 steps #slow", function ()
      fullgc()
      local r0 = rssmb()
      local samples = run(1000000)
      check(samples, r0, rssmb())
    end)
  end
end)

-- x = x + y, n times over: n interior nodes and two leaves
local function addchain (n)
  local x, y = lg.value(0), lg.value(1)
  for _ = 1, n do x = x + y end
  return x, y
end

-- Lua heap bytes per Value, as measured (scripts/node_bytes.lua) and documented in the README:
-- a binary node of two Values, and a leaf. Where a version has fewer user values than 5.4, a
-- node's parents are held by one more object (a table, or on 5.3 a closure).
local BYTES = ({
  ["Lua 5.4"] = { binary = 120, leaf = 64 },
  ["Lua 5.3"] = { binary = 152, leaf = 72 },
  ["Lua 5.2"] = { binary = 176, leaf = 72 },
  ["Lua 5.1"] = { binary = 184, leaf = 72 },
  LuaJIT = { binary = 184, leaf = 80 },
})[rawget(_G, "jit") and "LuaJIT" or _VERSION]

describe("memory per node", function ()
  it("is as documented for an interior binary node (1,000,000 of them)", function ()
    local n = 1000000
    fullgc()
    local m0 = kb()
    local x, y = addchain(n)
    fullgc()
    local per = (kb() - m0) * 1024 / n
    assert.is_true(per < BYTES.binary + 8, ("%.1f bytes per interior node"):format(per))
    x:backward()
    assert.are.equal(n, y.grad)
  end)

  it("is as documented (plus slack) for a leaf (1,000,000 of them)", function ()
    local n = 1000000
    -- fill the table first, so that storing the Values measures the Values alone and not
    -- the table's own 16 bytes per entry
    local t = {}
    for i = 1, n do t[i] = false end
    fullgc()
    local m0 = kb()
    for i = 1, n do t[i] = lg.value(i) end
    fullgc()
    local per = (kb() - m0) * 1024 / n
    assert.is_true(per < BYTES.leaf + 8, ("%.1f bytes per leaf"):format(per))
    assert.are.equal(n, t[n].data)
  end)

  it("lets a graph of 10,000,000 nodes build, backpropagate and go #slow", function ()
    local n = 10000000
    fullgc()
    local m0 = kb()
    local x, y = addchain(n)
    x:backward()
    assert.are.equal(n, x.data)
    assert.are.equal(n, y.grad)
    x, y = nil, nil
    fullgc()
    local left = kb() - m0
    assert.is_true(left < 1024, ("%.1f KB left after freeing the graph"):format(left))
  end)
end)

describe("lg.sum and lg.dot over 100,000 Values", function ()
  local n = 100000

  it("lg.sum keeps its Values alive after the list is dropped, and its gradients are exact", function ()
    local function build ()
      local xs, weak = {}, weaktable()
      for i = 1, n do
        xs[i] = lg.value(i)
        weak[i] = xs[i]
      end
      return lg.sum(xs), weak, { xs[1], xs[n / 2], xs[n] }
    end
    local s, weak, kept = build()
    fullgc()
    assert.are.equal(n, countpairs(weak))
    s:backward()
    assert.are.equal(n * (n + 1) / 2, s.data)
    local wrong = 0
    for i = 1, n do
      if weak[i].grad ~= 1 or weak[i].data ~= i then wrong = wrong + 1 end
    end
    assert.are.equal(0, wrong)
    assert.are.equal(1, kept[2].grad)
    s = nil
    fullgc()   -- now only the three kept Values remain
    assert.are.equal(3, countpairs(weak))
    assert.are.equal(n, kept[3].data)
  end)

  it("lg.dot keeps both lists' Values alive, and its gradients are exact", function ()
    local function build ()
      local xs, ys, wx, wy = {}, {}, weaktable(), weaktable()
      for i = 1, n do
        xs[i], ys[i] = lg.value(i), lg.value(2)
        wx[i], wy[i] = xs[i], ys[i]
      end
      return lg.dot(xs, ys), wx, wy, { xs[7], ys[7] }
    end
    local d, wx, wy, kept = build()
    fullgc()
    assert.are.equal(n, countpairs(wx))
    assert.are.equal(n, countpairs(wy))
    d:backward()
    assert.are.equal(n * (n + 1), d.data)
    local wrong = 0
    for i = 1, n do
      if wx[i].grad ~= 2 or wy[i].grad ~= i then wrong = wrong + 1 end
    end
    assert.are.equal(0, wrong)
    assert.are.equal(2, kept[1].grad)
    assert.are.equal(7, kept[2].grad)
    d = nil
    fullgc()
    assert.are.equal(1, countpairs(wx))
    assert.are.equal(1, countpairs(wy))
  end)

  it("count a Value listed many times once per listing", function ()
    local function build ()
      local v, list = lg.value(3), {}
      for i = 1, 4000 do list[i] = (i % 2 == 0) and v or 1 end
      return lg.sum(list), lg.dot(list, list), v
    end
    local s, d, v = build()
    fullgc()
    s:backward()
    assert.are.equal(2000, v.grad)
    assert.are.equal(2000 * 3 + 2000, s.data)
    v.grad = 0
    d:backward()   -- d = 2000 v^2 + 2000
    assert.are.equal(2000 * 2 * 3, v.grad)
    assert.are.equal(2000 * 9 + 2000, d.data)
  end)
end)

describe("parents", function ()
  -- Each case builds y from fresh parents and returns y, the parents and their expected
  -- gradients; only y is kept, the parents are watched through a weak table.
  local cases = {
    { "unary function", function ()
        local x = lg.value(0); return lg.exp(x), { x }, { 1 } end },
    { "unary method", function ()
        local x = lg.value(0.5); return x:relu(), { x }, { 1 } end },
    { "unary minus", function ()
        local x = lg.value(2); return -x, { x }, { -1 } end },
    { "binary operator", function ()
        local x, w = lg.value(3), lg.value(4); return x * w, { x, w }, { 4, 3 } end },
    { "binary operator with a constant", function ()
        local x = lg.value(3); return 10 - x, { x }, { -1 } end },
    { "binary function", function ()
        local x, w = lg.value(3), lg.value(4); return lg.max(x, w), { x, w }, { 0, 1 } end },
    { "binary method", function ()
        local x = lg.value(3); return x:pow(2), { x }, { 6 } end },
    { "sum", function ()
        local x, w = lg.value(3), lg.value(4); return lg.sum({ x, w, 5, x }), { x, w }, { 2, 1 } end },
    { "dot", function ()
        local x, w = lg.value(3), lg.value(4)
        return lg.dot({ x, 2 }, { w, x }), { x, w }, { 6, 3 } end },
    { "chain", function ()
        local x = lg.value(3)
        local z = x
        for _ = 1, 100 do z = (z * 1 + 1) - 1 end
        return z, { x }, { 1 } end },
  }

  for _, case in ipairs(cases) do
    it("stay alive while their child lives: " .. case[1], function ()
      local function build ()
        local y, parents, grads = case[2]()
        local weak = weaktable()
        for i = 1, #parents do weak[i] = parents[i] end
        return y, weak, grads, #parents
      end
      local y, weak, grads, np = build()
      for _ = 1, 3 do collectgarbage("collect") end
      assert.are.equal(np, countpairs(weak))
      y:backward()
      for i = 1, np do
        assert.are.equal(grads[i], weak[i].grad)
      end
      assert.are.equal("string", type(y:to_dot()))
    end)
  end
end)

describe("collection", function ()
  it("frees a leaf once it is unreachable", function ()
    local weak = weaktable()
    weak[1] = lg.value(1)
    weak[2] = lg.value(2, "labeled")   -- the label must not keep it alive
    local v = lg.value(3)
    v.label = "set later"
    weak[3] = v
    v = nil
    fullgc()
    assert.is_nil(weak[1])
    assert.is_nil(weak[2])
    assert.is_nil(weak[3])
  end)

  it("frees a computed Value's parents once the child is dropped", function ()
    local function build ()
      local weak = weaktable()
      local x, w = lg.value(1, "x"), lg.value(2)
      local y = lg.tanh(x * w + 1)
      weak.x, weak.w, weak.y = x, w, y
      return y, weak
    end
    local y, weak = build()
    fullgc()
    assert.is_not_nil(weak.x)
    assert.is_not_nil(weak.w)
    y:backward()
    y = nil
    fullgc()
    assert.is_nil(weak.y)
    assert.is_nil(weak.x)
    assert.is_nil(weak.w)
  end)

  it("frees the Values of lg.sum and lg.dot once the result is dropped", function ()
    local function build ()
      local weak, xs = weaktable(), {}
      for i = 1, 2000 do xs[i] = lg.value(i); weak[i] = xs[i] end
      local small = { xs[1], xs[2] }
      return lg.sum(xs), lg.dot(small, small), weak
    end
    local s, d, weak = build()
    fullgc()
    assert.are.equal(2000, countpairs(weak))
    s = nil
    fullgc()
    assert.are.equal(2, countpairs(weak))   -- d still holds xs[1] and xs[2]
    assert.are.equal(5, d.data)
    d = nil
    fullgc()
    assert.are.equal(0, countpairs(weak))
  end)

  it("frees Values after backward, zero_grad and to_dot have walked them", function ()
    local function build ()
      local weak = weaktable()
      local a, b = lg.value(1, "a"), lg.value(2, "b")
      local y = a * b + a
      y:backward()
      y:zero_grad()
      lg.zero_grad({ a, b })
      y:to_dot()
      weak[1], weak[2], weak[3] = a, b, y
      return weak
    end
    local weak = build()
    fullgc()
    assert.are.equal(0, countpairs(weak))
  end)

  it("frees the original of a detached Value", function ()
    local function build ()
      local weak = weaktable()
      local y = lg.value(2) * 3
      weak[1] = y
      return y:detach(), weak
    end
    local d, weak = build()
    fullgc()
    assert.is_nil(weak[1])
    assert.are.equal(6, d.data)
    assert.are.equal("leaf", d.op)
  end)
end)

describe("derivatives recorded as Values", function ()
  it("free a Value whose grad (a Value) refers back to it, on every Lua", function ()
    local function build ()
      local weak = weaktable()
      local x = lg.value(2)
      local y = x * x * x + lg.sin(x)
      y:backward({ create_graph = true })   -- x.grad = 3x^2 + cos x, a graph holding x
      weak[1], weak[2], weak[3] = x, y, x.grad
      return weak
    end
    local weak = build()
    fullgc()
    assert.are.equal(0, countpairs(weak))
  end)

  it("keep memory flat over a loop of create_graph backwards and nested transforms", function ()
    local d2 = lg.grad(lg.grad(function (t) return t ^ 3 * lg.exp(t) end))
    local function step (i)
      local x = lg.value(i % 7 / 7)
      local y = x * x * x
      y:backward({ create_graph = true })
      return x.grad.data + d2(0.5) + lg.hessian(function (v) return v[1] * v[2] end)({ 1, 2 })[1][2]
    end
    -- the first run grows buffers and the table of grads to their size (a table does not
    -- shrink when the collector empties it)
    for i = 1, 20000 do step(i) end
    fullgc()
    local before = kb()
    for i = 1, 20000 do step(i) end
    fullgc()
    assert.is_true(kb() < before * 1.1 + 64, ("%.0f KB before, %.0f after"):format(before, kb()))
  end)

  it("free the custom functions nobody uses", function ()
    local function build ()
      local weak = weaktable()
      local f = lg.custom({ forward = function (x) return 2 * x end,
                            backward = function (g) return 2 * g end })
      local x = lg.value(1)
      local y = f(x)
      y:backward()
      weak[1], weak[2], weak[3] = f, x, y
      return weak
    end
    local weak = build()
    fullgc()
    assert.are.equal(0, countpairs(weak))
  end)
end)
