-- backward, zero_grad, detach and the grad and data fields: what the reverse sweep adds where,
-- accumulation, reuse of Values on several paths, deep chains, and random graphs checked
-- against central differences of a plain-Lua re-evaluation.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" \
--        spec/backward_spec.lua     (add --exclude-tags=slow to skip the 10^6-deep chain)

local lg = require("luagrad")
local h = require("spec.helpers")
local isfloat, grads, near, tanh = h.isfloat, h.grads, h.near, h.tanh





describe("v:backward", function ()
  it("seeds 1: the output's own grad gets 1 and each input its partial", function ()
    local a, b = lg.value(3), lg.value(-2)
    local y = a * b
    y:backward()
    assert.equal(1, y.grad)
    assert.same({-2, 3}, grads(a, b))
  end)

  it("adds the seed to the output's grad instead of overwriting it", function ()
    local a = lg.value(3)
    local y = a * 2
    y.grad = 5
    y:backward()
    assert.equal(6, y.grad)
    assert.equal(2, a.grad)
  end)

  it("scales every gradient by an explicit seed", function ()
    local a, b = lg.value(3), lg.value(-2)
    local u = a * b
    local y = u + a
    y:backward(2.5)
    assert.equal(2.5, y.grad)
    assert.equal(2.5, u.grad)
    assert.same({2.5 * (-2 + 1), 2.5 * 3}, grads(a, b))
    local c = lg.value(4)
    local z = c * c
    z:backward(-1)
    assert.equal(-1, z.grad)
    assert.equal(-8, c.grad)
  end)

  it("treats a nil seed as 1", function ()
    local a = lg.value(3)
    local y = a * 4
    y:backward(nil)
    assert.equal(4, a.grad)
    assert.equal(1, y.grad)
  end)

  it("called twice doubles every grad, intermediates as well as leaves (micrograd #53)",
     function ()
    local a, b, c = lg.value(2), lg.value(3), lg.value(-1.5)
    local u = a * b          -- 6
    local v = u * c          -- -9
    local w = v:tanh()
    local y = w + u * a      -- u and a reach y by two paths
    y:backward()
    local once = grads(a, b, c, u, v, w, y)
    y:backward()
    local twice = grads(a, b, c, u, v, w, y)
    for i = 1, #once do
      assert.not_equal(0, once[i])
      assert.equal(2 * once[i], twice[i], "node " .. i)
    end
    assert.equal(2, y.grad)
    assert.equal(2, w.grad)
    local e = math.exp(-18)   -- w = tanh(-9): tanh' from its stable form, 4e / (1 + e)^2
    assert.equal(2 * (4 * e / ((1 + e) * (1 + e))), v.grad)
  end)

  it("adds on top of what an earlier backward of another output left", function ()
    local a = lg.value(2)
    local y1, y2 = a * 3, a * a
    y1:backward()
    y2:backward()
    assert.equal(3 + 4, a.grad)
    assert.equal(1, y1.grad)
    assert.equal(1, y2.grad)
  end)

  it("gives a Value used on several paths the sum of them: a*a + a gives 2a + 1", function ()
    local a = lg.value(3)
    local b = a * a + a
    b:backward()
    assert.equal(12, b.data)
    assert.equal(7, a.grad)
  end)

  it("sums the two sides of a diamond", function ()
    local a = lg.value(1.5)
    local left = a * 2            -- 3
    local right = a + 3           -- 4.5
    local d = left * right        -- d/da = 2*right + left = 9 + 3
    d:backward()
    assert.equal(13.5, d.data)
    assert.equal(12, a.grad)
    assert.equal(4.5, left.grad)
    assert.equal(3, right.grad)
  end)

  it("sums over the consumers of a reused intermediate", function ()
    local a, b = lg.value(0.5), lg.value(2)
    local u = a * b               -- 1, consumed by three nodes
    local y = u * u + lg.exp(u) + u * 3
    y:backward()
    local du = 2 * u.data + math.exp(u.data) + 3
    assert.near(du, u.grad, 1e-15)
    assert.near(du * 2, a.grad, 1e-14)
    assert.near(du * 0.5, b.grad, 1e-15)
  end)

  it("from an intermediate Value touches only its ancestors", function ()
    local a, b, c = lg.value(2), lg.value(3), lg.value(4)
    local u = a * b
    local y = u + c
    local z = y * 2
    u:backward()
    assert.equal(1, u.grad)
    assert.same({3, 2, 0}, grads(a, b, c))
    assert.equal(0, y.grad)
    assert.equal(0, z.grad)
  end)

  it("on a leaf gives the leaf grad 1 (or the seed)", function ()
    local a = lg.value(7)
    a:backward()
    assert.equal(1, a.grad)
    a:backward(3)
    assert.equal(4, a.grad)
  end)

  it("gives no gradient to plain numbers mixed into the graph and changes no data", function ()
    local a = lg.value(2)
    local y = (a + 1) * 3 - 4 / a
    local before = y.data
    y:backward()
    assert.equal(7, before)
    assert.equal(before, y.data)
    assert.equal(2, a.data)
    assert.equal(3 + 1, a.grad)
  end)

  it("runs through a chain 100000 deep of x + 1 without overflowing the stack", function ()
    local x0 = lg.value(0.5)
    local x = x0
    for _ = 1, 100000 do x = x + 1 end
    x:backward()
    assert.equal(100000.5, x.data)
    assert.equal(1, x0.grad)
  end)

  it("runs through a chain 100000 deep of x * 1.0000001 with the exact product as gradient",
     function ()
    local k = 1.0000001
    local x0 = lg.value(1.5)
    local x = x0
    local data, g = 1.5, 1
    for _ = 1, 100000 do
      x = x * k
      data = data * k
      g = g * k
    end
    x:backward()
    assert.equal(data, x.data)
    assert.equal(g, x0.grad)
    assert.is_true(g > 1.01 and g < 1.011)
  end)

  it("runs through a chain 1000000 deep #slow", function ()
    local x0 = lg.value(0)
    local x = x0
    for _ = 1, 1000000 do x = x + 1 end
    x:backward()
    assert.equal(1000000, x.data)
    assert.equal(1, x0.grad)
  end)

  it("runs through a 100000-deep chain of a Value reused at every step", function ()
    local a = lg.value(1)
    local x = a
    for _ = 1, 100000 do x = x + a end
    x:backward()
    assert.equal(100001, x.data)
    assert.equal(100001, a.grad)
  end)
end)

describe("v:zero_grad", function ()
  it("zeroes v and every Value it depends on, leaves and intermediates", function ()
    local a, b, c = lg.value(2), lg.value(3), lg.value(4)
    local u = a * b
    local y = u + c
    y:backward()
    assert.same({3, 2, 1, 1, 1}, grads(a, b, c, u, y))
    y:zero_grad()
    assert.same({0, 0, 0, 0, 0}, grads(a, b, c, u, y))
  end)

  it("leaves alone Values outside that graph, consumers of v included", function ()
    local a, b, other = lg.value(2), lg.value(3), lg.value(9)
    local u = a * b
    local y = u + 1
    y:backward()
    other.grad = 5
    u:zero_grad()
    assert.same({0, 0, 0}, grads(a, b, u))
    assert.equal(1, y.grad)
    assert.equal(5, other.grad)
  end)

  it("lets a later backward start from zero", function ()
    local a = lg.value(2)
    local y = a * a
    y:backward(); y:backward()
    assert.equal(8, a.grad)
    y:zero_grad()
    y:backward()
    assert.equal(4, a.grad)
    assert.equal(1, y.grad)
  end)

  it("works on a chain 100000 deep", function ()
    local x0 = lg.value(1)
    local x = x0
    for _ = 1, 100000 do x = x * 1 end
    x:backward()
    assert.equal(1, x0.grad)
    x:zero_grad()
    assert.equal(0, x0.grad)
    assert.equal(0, x.grad)
  end)
end)

describe("lg.zero_grad", function ()
  it("zeroes each Value of an array and nothing else", function ()
    local a, b, c = lg.value(2), lg.value(3), lg.value(4)
    local u = a * b
    local y = u * c
    y:backward()
    lg.zero_grad({u, c})
    assert.equal(0, u.grad)
    assert.equal(0, c.grad)
    assert.same({12, 8, 1}, grads(a, b, y))
  end)

  it("accepts an empty array", function ()
    local a = lg.value(1)
    a.grad = 3
    assert.has_no.errors(function () lg.zero_grad({}) end)
    assert.equal(3, a.grad)
  end)
end)

describe("v:detach", function ()
  it("gives a new leaf with the same data", function ()
    local a = lg.value(2)
    local y = a * 3
    local d = y:detach()
    assert.equal("leaf", d.op)
    assert.equal(6, d.data)
    assert.is_false(d == y)
    assert.equal(0, d.grad)
  end)

  it("stops backward: a graph built on it does not reach the original", function ()
    local a = lg.value(2)
    local y = a * 3
    local d = y:detach()
    local z = d * d + y * 0
    z:backward()
    assert.equal(12, d.grad)
    assert.equal(1 * 0, y.grad)
    assert.equal(0, a.grad)
    local w = d * 5
    w:backward()
    assert.equal(0, a.grad)
  end)

  it("is a leaf whose data can change without touching the original", function ()
    local a = lg.value(2)
    local y = a * 3
    local d = y:detach()
    d.data = 10
    assert.equal(10, d.data)
    assert.equal(6, y.data)
    local e = a:detach()
    e.data = -1
    assert.equal(2, a.data)
  end)
end)

describe("v.grad", function ()
  it("starts at 0.0, a float, on leaves and computed Values", function ()
    local a = lg.value(3)
    local y = a * 2
    assert.equal(0, a.grad)
    assert.equal(0, y.grad)
    isfloat(a.grad)
    isfloat(y.grad)
  end)

  it("is assignable, and backward adds on top of what was assigned", function ()
    local a = lg.value(3)
    local y = a * 2
    a.grad = 10
    assert.equal(10, a.grad)
    isfloat(a.grad)
    y:backward()
    assert.equal(12, a.grad)
    y.grad = 0.25
    assert.equal(0.25, y.grad)
  end)
end)

describe("v.data", function ()
  it("is a float holding the number given", function ()
    local a = lg.value(3)
    assert.equal(3, a.data)
    isfloat(a.data)
    isfloat((a * 2).data)
  end)

  it("is assignable on leaves; a new forward computation uses the new data", function ()
    local a, b = lg.value(2), lg.value(3)
    local old = a * b
    a.data = 5
    assert.equal(5, a.data)
    isfloat(a.data)
    local new = a * b
    assert.equal(15, new.data)
    assert.equal(6, old.data)   -- computed Values keep their data
    new:backward()
    assert.same({3, 5}, grads(a, b))
  end)

  it("cannot be assigned on a computed Value", function ()
    local y = lg.value(2) * 3
    assert.has_error(function () y.data = 1 end)
    assert.equal(6, y.data)
  end)
end)

-- {==================================================================
-- Random graphs: a DAG is a list of nodes {op, i, j} over earlier nodes (leaves first),
-- built once with Values and evaluated again in plain Lua for central differences.
-- ===================================================================


-- plain-Lua evaluation of the graph at the leaf values x; returns all node values
local function evaluate (graph, x)
  local val = {}
  for i = 1, graph.nleaves do val[i] = x[i] end
  for k = graph.nleaves + 1, #graph.nodes do
    local n = graph.nodes[k]
    local p, q = val[n[2]], val[n[3] or n[2]]
    local op = n[1]
    if op == "+" then val[k] = p + q
    elseif op == "-" then val[k] = p - q
    elseif op == "*" then val[k] = p * q
    elseif op == "/" then val[k] = p / q
    elseif op == "tanh" then val[k] = tanh(p)
    elseif op == "exp" then val[k] = math.exp(p) end
  end
  return val
end

-- the output: the sum of the last `nout` nodes, in order
local function output (graph, val)
  local s = val[#graph.nodes - graph.nout + 1]
  for k = #graph.nodes - graph.nout + 2, #graph.nodes do s = s + val[k] end
  return s
end

-- the same operation on Values
local function apply (op, p, q)
  if op == "+" then return p + q
  elseif op == "-" then return p - q
  elseif op == "*" then return p * q
  elseif op == "/" then return p / q
  elseif op == "tanh" then return p:tanh()
  else return lg.exp(p) end
end

-- Builds a random graph over nleaves leaves and nops operations. Each op draws its operands
-- from all earlier nodes, favouring recent ones, so subexpressions are reused. Ops that would
-- leave a tame range (exp of a large value, division by a small one, a product growing past
-- 100) are replaced by tanh, so the central difference stays accurate.
local function build (nleaves, nops, nout)
  local graph = {nleaves = nleaves, nodes = {}, nout = nout}
  local x, v = {}, {}
  local OPS = {"+", "-", "*", "/", "tanh", "exp"}
  for i = 1, nleaves do
    x[i] = math.random() * 4 - 2
    v[i] = lg.value(x[i])
    graph.nodes[i] = {"leaf"}
  end
  local val = evaluate(graph, x)
  for k = nleaves + 1, nleaves + nops do
    local function pick ()
      if math.random() < 0.5 then return math.random(math.max(1, k - 4), k - 1) end
      return math.random(1, k - 1)
    end
    local op, i, j = OPS[math.random(#OPS)], pick(), pick()
    local p, q = val[i], val[j]
    if (op == "exp" and math.abs(p) > 2) or (op == "/" and math.abs(q) < 0.5)
       or (op == "*" and math.abs(p * q) > 100) then
      op = "tanh"
    end
    local node = {op, i, j}
    graph.nodes[k] = node
    val = evaluate(graph, x)
    if math.abs(val[k]) > 100 then
      node = {"tanh", i}
      graph.nodes[k] = node
      val = evaluate(graph, x)
    end
    v[k] = apply(node[1], v[i], v[j])
  end
  local out = v[#graph.nodes - nout + 1]
  for k = #graph.nodes - nout + 2, #graph.nodes do out = out + v[k] end
  return graph, x, v, out
end

describe("v:backward on random graphs", function ()
  it("agrees with a central difference of a plain-Lua re-evaluation for every leaf", function ()
    math.randomseed(20240531)
    local H, used = 1e-6, 0
    for trial = 1, 6 do
      local nleaves = 2 + trial % 4
      local graph, x, v, out = build(nleaves, 15 + 5 * trial, 3)
      local val = evaluate(graph, x)
      local want = output(graph, val)
      near(want, out.data, 1e-12, "forward of graph " .. trial)
      for k = nleaves + 1, #graph.nodes do
        near(val[k], v[k].data, 1e-12, "node " .. k .. " of graph " .. trial)
      end
      out:backward()
      for i = 1, nleaves do
        local up, down = {}, {}
        for j = 1, nleaves do up[j], down[j] = x[j], x[j] end
        up[i], down[i] = x[i] + H, x[i] - H
        local cd = (output(graph, evaluate(graph, up)) - output(graph, evaluate(graph, down)))
                   / (2 * H)
        near(cd, v[i].grad, 1e-6, "leaf " .. i .. " of graph " .. trial)
        if v[i].grad ~= 0 then used = used + 1 end
      end
    end
    assert.is_true(used >= 10)   -- the graphs do depend on their leaves
  end)

  it("gives every leaf the same gradient after zero_grad and a second backward", function ()
    math.randomseed(7)
    local graph, x, v, out = build(4, 30, 2)
    out:backward()
    local first = {}
    for i = 1, 4 do first[i] = v[i].grad end
    out:zero_grad()
    for i = 1, #v do assert.equal(0, v[i].grad) end
    out:backward()
    for i = 1, 4 do assert.equal(first[i], v[i].grad) end
    assert.equal(#graph.nodes, #v)
    assert.equal(#x, 4)
  end)
end)
