-- Derivatives of derivatives: every op's derivative built from ops (lg.gradients with
-- create_graph, v:backward{create_graph = true}) equals its numeric derivative, and its
-- second and third derivatives equal analytic values; Hessians of known functions exactly;
-- lg.gradients and lg.tangents themselves.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/higher_spec.lua

local lg = require("luagrad")
local helpers = require("spec.helpers")
local near, tanh, sigmoid = helpers.near, helpers.tanh, helpers.sigmoid



local function data (x) return lg.type(x) == "value" and x.data or x end

-- Every unary op: its first, second and third derivatives.
local UNARY = {
  { "exp", function (x) return math.exp(x) end, function (x) return math.exp(x) end,
    function (x) return math.exp(x) end },
  { "log", function (x) return 1 / x end, function (x) return -1 / x ^ 2 end,
    function (x) return 2 / x ^ 3 end, positive = true },
  { "sqrt", function (x) return 0.5 / math.sqrt(x) end, function (x) return -0.25 * x ^ -1.5 end,
    function (x) return 0.375 * x ^ -2.5 end, positive = true },
  { "sin", math.cos, function (x) return -math.sin(x) end, function (x) return -math.cos(x) end },
  { "cos", function (x) return -math.sin(x) end, function (x) return -math.cos(x) end, math.sin },
  { "tan", function (x) return 1 + math.tan(x) ^ 2 end,
    function (x) local t = math.tan(x) return 2 * t * (1 + t * t) end,
    function (x) local t = math.tan(x) return (2 + 6 * t * t) * (1 + t * t) end },
  { "tanh", function (x) return 1 - tanh(x) ^ 2 end,
    function (x) local t = tanh(x) return -2 * t * (1 - t * t) end,
    function (x) local t = tanh(x) return (6 * t * t - 2) * (1 - t * t) end },
  { "sigmoid", function (x) local s = sigmoid(x) return s * (1 - s) end,
    function (x) local s = sigmoid(x) return s * (1 - s) * (1 - 2 * s) end,
    function (x) local s = sigmoid(x) return s * (1 - s) * (1 - 6 * s + 6 * s * s) end },
  { "relu", function (x) return x > 0 and 1 or 0 end, function () return 0 end,
    function () return 0 end },
  { "abs", function (x) return x > 0 and 1 or -1 end, function () return 0 end,
    function () return 0 end },
  { "neg", function () return -1 end, function () return 0 end, function () return 0 end,
    apply = function (x) return -x end },
  { "sign", function () return 0 end, function () return 0 end, function () return 0 end },
  { "log1p", function (x) return 1 / (1 + x) end, function (x) return -1 / (1 + x) ^ 2 end,
    function (x) return 2 / (1 + x) ^ 3 end, positive = true },
  { "expm1", math.exp, math.exp, math.exp },
  { "softplus", sigmoid, function (x) local s = sigmoid(x) return s * (1 - s) end,
    function (x) local s = sigmoid(x) return s * (1 - s) * (1 - 2 * s) end },
  { "square", function (x) return 2 * x end, function () return 2 end, function () return 0 end },
  { "leaky_relu", function (x) return x > 0 and 1 or 0.01 end, function () return 0 end,
    function () return 0 end },
  { "clamp", function (x) return (x >= -1 and x <= 1) and 1 or 0 end, function () return 0 end,
    function () return 0 end, apply = function (x) return lg.clamp(x, -1, 1) end },
}

local POINTS = { -1.7, -0.3, 0.4, 1.1, 2.6 }

describe("every unary op's derivative built from ops", function ()
  for _, row in ipairs(UNARY) do
    local name, d1, d2, d3 = row[1], row[2], row[3], row[4]
    local f = row.apply or lg[name]
    it(name .. ": first derivative equals the numeric one; second and third are exact", function ()
      for _, p in ipairs(POINTS) do
        local x0 = row.positive and math.abs(p) or p
        local x = lg.value(x0)
        local y = f(x)
        local g = lg.gradients(y, x, { create_graph = true })
        y:backward()
        assert.are.equal(x.grad, data(g), name)                 -- the same formula, bit for bit
        near(d1(x0), data(g), 1e-12, name .. "'")
        local g2 = lg.gradients(g, x, { create_graph = true })
        near(d2(x0), data(g2), 1e-11, name .. "''")
        near(d3(x0), data(lg.gradients(g2, x)), 1e-10, name .. "'''")
        -- the same through the transforms
        near(d2(x0), lg.grad(lg.grad(f))(x0), 1e-11, name .. "'' by lg.grad")
        near(d3(x0), lg.grad(lg.grad(lg.grad(f)))(x0), 1e-10, name .. "''' by lg.grad")
      end
    end)
  end
end)

-- Every binary op: its Hessian in (a, b) at a point.
local BINARY = {
  { "+", function (a, b) return a + b end, function () return 0, 0, 0 end },
  { "-", function (a, b) return a - b end, function () return 0, 0, 0 end },
  { "*", function (a, b) return a * b end, function () return 0, 1, 0 end },
  { "/", function (a, b) return a / b end,
    function (a, b) return 0, -1 / b ^ 2, 2 * a / b ^ 3 end },
  { "^", function (a, b) return a ^ b end,
    function (a, b)
      return b * (b - 1) * a ^ (b - 2), a ^ (b - 1) * (1 + b * math.log(a)),
             a ^ b * math.log(a) ^ 2
    end, positive = true },
  { "pow", lg.pow, function (a, b)
      return b * (b - 1) * a ^ (b - 2), a ^ (b - 1) * (1 + b * math.log(a)),
             a ^ b * math.log(a) ^ 2
    end, positive = true },
  { "max", lg.max, function () return 0, 0, 0 end },
  { "min", lg.min, function () return 0, 0, 0 end },
  -- y = a for a > 0, else s a: d2/da ds = 1 where a <= 0
  { "leaky_relu", lg.leaky_relu, function (a) return 0, a > 0 and 0 or 1, 0 end },
}
for _, mask in ipairs({ "gt", "lt", "ge", "le", "eq", "ne" }) do   -- zero derivatives
  BINARY[#BINARY + 1] = { mask, lg[mask], function () return 0, 0, 0 end }
end

describe("every binary op's Hessian", function ()
  for _, row in ipairs(BINARY) do
    local name, f, h = row[1], row[2], row[3]
    it(name .. ": exact, by forward over reverse and reverse over reverse", function ()
      for i = 1, #POINTS - 1 do
        local a0, b0 = POINTS[i], POINTS[i + 1]
        if row.positive then a0 = math.abs(a0) end
        local haa, hab, hbb = h(a0, b0)
        for _, mode in ipairs({ "forward", "reverse" }) do
          local H = lg.hessian(function (a, b) return f(a, b) end, { mode = mode })(a0, b0)
          near(haa, H[1][1], 1e-11, name .. " d2/da2 " .. mode)
          near(hab, H[1][2], 1e-11, name .. " d2/dadb " .. mode)
          near(hab, H[2][1], 1e-11, name .. " d2/dbda " .. mode)
          near(hbb, H[2][2], 1e-11, name .. " d2/db2 " .. mode)
        end
        -- first derivatives on Values equal backward's
        local a, b = lg.value(a0), lg.value(b0)
        local y = f(a, b)
        local g = lg.gradients(y, { a, b }, { create_graph = true })
        y:backward()
        assert.are.equal(a.grad, data(g[1]))
        assert.are.equal(b.grad, data(g[2]))
      end
    end)
  end

  it("x ^ number and number ^ x: constants stay constants", function ()
    near(3 * 2 * 1.5, lg.grad(lg.grad(function (x) return x ^ 3 end))(1.5), 1e-12)
    near(2 ^ 1.5 * math.log(2) ^ 2, lg.grad(lg.grad(function (x) return 2 ^ x end))(1.5), 1e-12)
    assert.are.equal(0, lg.grad(lg.grad(function (x) return x ^ 1 end))(1.5))
  end)

  it("conventions hold in second order too: x^0 and ties", function ()
    assert.are.equal(0, lg.grad(lg.grad(function (x) return x ^ 0 end))(0))
    -- max(x, x) = x: half the gradient to each argument, both the same x
    assert.are.equal(1, lg.grad(function (x) return lg.max(x, x) end)(2))
    assert.are.equal(0, lg.grad(lg.grad(function (x) return lg.max(x, x) * x end))(2) - 2)
  end)
end)

describe("the tables above", function ()
  it("have a row for every unary and binary op of the op table", function ()
    local rows = {}
    for _, row in ipairs(UNARY) do rows[row[1]] = true end
    for _, row in ipairs(BINARY) do rows[row[1]] = true end
    for _, op in ipairs(lg._ops) do
      if op.arity == 1 or op.arity == 2 then
        assert.is_true(rows[op.name] == true or rows[op.fn] == true, "no row for " .. op.name)
      end
    end
  end)

  it("where: its second derivatives follow the branch taken, exactly", function ()
    local f = function (c, a, b) return lg.where(c, a * a * a, b * b) end
    for _, c0 in ipairs({ 1, 0 }) do
      local H = lg.hessian(f)(c0, 1.5, -2)
      near(c0 ~= 0 and 9 or 0, H[2][2], 1e-12)
      near(c0 ~= 0 and 0 or 2, H[3][3], 1e-12)
      near(0, H[1][1], 1e-12)
      near(0, H[2][3], 1e-12)
    end
  end)
end)

describe("n-ary ops", function ()
  it("sum and dot: gradients and Hessians", function ()
    local f = function (v) return lg.dot(v, v) * lg.sum(v) end
    local x = { 0.5, -1.25, 2 }
    -- f = (sum xi^2)(sum xi); df/dxk = 2 xk S + Q; d2f/dxk dxl = 2 S [k = l] + 2 xk + 2 xl
    local S, Q = 1.25, 0.25 + 1.5625 + 4
    local g = lg.grad(f)(x)
    local H = lg.hessian(f)(x)
    for k = 1, 3 do
      near(2 * x[k] * S + Q, g[k], 1e-12)
      for l = 1, 3 do
        near((k == l and 2 * S or 0) + 2 * x[k] + 2 * x[l], H[k][l], 1e-12)
      end
    end
  end)

  it("dot with constants and a Value used twice", function ()
    local H = lg.hessian(function (x, y) return lg.dot({ x, 3, x }, { y, x, x }) end)(2, 5)
    -- x*y + 3x + x^2
    assert.are.same({ { 2, 1 }, { 1, 0 } }, H)
  end)

  it("a sum over more Values than a userdata anchors one by one", function ()
    local n = 1500
    local g = lg.grad(function (v)
      local sq = {}
      for i = 1, n do sq[i] = v[i] * v[i] end
      return lg.sum(sq)
    end)
    local x = {}
    for i = 1, n do x[i] = i / n end
    local gx = g(x)
    for i = 1, n, 97 do near(2 * x[i], gx[i], 1e-12) end
    local d2 = lg.grad(function (v)
      local s = lg.grad(function (w) return lg.sum(w) * lg.sum(w) end)(v)
      return s[1]
    end)(x)
    for i = 1, n, 97 do near(2, d2[i], 1e-12) end
  end)
end)

describe("Hessians of known functions", function ()
  local function rosenbrock (v)
    local s = 0
    for i = 1, #v - 1 do s = s + 100 * (v[i + 1] - v[i] ^ 2) ^ 2 + (1 - v[i]) ^ 2 end
    return s
  end

  -- the analytic Hessian of the n-dimensional Rosenbrock function
  local function analytic (x)
    local n, H = #x, {}
    for i = 1, n do
      H[i] = {}
      for j = 1, n do H[i][j] = 0 end
    end
    for i = 1, n - 1 do
      H[i][i] = H[i][i] + 1200 * x[i] ^ 2 - 400 * x[i + 1] + 2
      H[i][i + 1] = -400 * x[i]
      H[i + 1][i] = -400 * x[i]
      H[i + 1][i + 1] = H[i + 1][i + 1] + 200
    end
    return H
  end

  it("Rosenbrock in 2 and 5 dimensions, exactly, in both modes", function ()
    for _, x in ipairs({ { 1, 1 }, { -1.2, 1 }, { 0.3, -0.7, 1.9, 2.2, -0.4 } }) do
      local A = analytic(x)
      for _, mode in ipairs({ "forward", "reverse" }) do
        local H = lg.hessian(rosenbrock, { mode = mode })(x)
        assert.are.equal(#x, #H)
        for i = 1, #x do
          for j = 1, #x do near(A[i][j], H[i][j], 1e-12, mode .. " " .. i .. "," .. j) end
        end
      end
    end
    assert.are.same({ { 802, -400 }, { -400, 200 } }, lg.hessian(rosenbrock)({ 1, 1 }))
  end)

  it("a Gaussian log-density: the Hessian is minus the precision", function ()
    local f = function (x, y) return -(x * x - x * y + y * y) end
    assert.are.same({ { -2, 1 }, { 1, -2 } }, lg.hessian(f)(0.3, 1.7))
  end)
end)

describe("v:backward{create_graph = true}", function ()
  it("makes every grad a Value that can be differentiated again", function ()
    local x, y = lg.value(1.5), lg.value(-2)
    local z = x * x * y + lg.sin(x)
    z:backward({ create_graph = true })
    assert.are.equal("value", lg.type(x.grad))
    assert.are.equal("value", lg.type(y.grad))
    near(2 * 1.5 * -2 + math.cos(1.5), x.grad.data, 1e-14)
    near(2.25, y.grad.data, 1e-14)
    assert.are.equal(1, z.grad)   -- the seed, a number
    local gx = x.grad
    x.grad, y.grad = 0, 0
    gx:backward()
    near(2 * -2 - math.sin(1.5), x.grad, 1e-14)   -- d2z/dx2
    near(3, y.grad, 1e-14)                          -- d2z/dxdy
  end)

  it("accumulates: a second call adds a second graph", function ()
    local x = lg.value(3)
    local y = x ^ 3
    y:backward({ create_graph = true })
    y:backward({ create_graph = true })
    near(54, x.grad.data, 1e-14)
    local g = x.grad
    x:zero_grad()
    assert.are.equal(0, x.grad)
    g:backward()
    near(36, x.grad, 1e-14)   -- d/dx (2 * 3x^2)
  end)

  it("a numeric backward, an assignment or zero_grad turns grad back into a number", function ()
    local x = lg.value(2)
    local y = x * x
    y:backward({ create_graph = true })
    assert.are.equal("value", lg.type(x.grad))
    y:backward()
    assert.are.equal(8, x.grad)
    y:backward({ create_graph = true })
    assert.are.equal("value", lg.type(x.grad))
    near(12, x.grad.data, 1e-14)   -- 8 + 4, the number kept
    x.grad = 1
    assert.are.equal(1, x.grad)
    y:backward({ create_graph = true })
    lg.zero_grad({ x })
    assert.are.equal(0, x.grad)
  end)

  it("takes a seed, a number or a Value", function ()
    local x, s = lg.value(2), lg.value(3)
    local y = x * x
    y:backward({ seed = 2, create_graph = true })
    near(8, x.grad.data, 1e-14)
    x.grad = 0
    y:backward({ seed = s, create_graph = true })
    near(12, x.grad.data, 1e-14)
    local g = x.grad
    g:backward()
    near(4, s.grad, 1e-14)   -- d(2 x s)/ds
  end)

  it("a grad that does not depend on anything stays a number", function ()
    local x = lg.value(2)
    local y = 3 * x
    y:backward({ create_graph = true })
    assert.are.equal(3, x.grad)
  end)

  it("rejects bad options, leaving every grad as it was", function ()
    local x = lg.value(2)
    local y = x * x
    assert.has_error(function () y:backward({ create_graph = 1 }) end,
                     "luagrad.backward: bad option 'create_graph' (boolean expected, got number)")
    assert.has_error(function () y:backward({ retain_graph = true }) end,
                     "luagrad.backward: unknown option 'retain_graph'")
    assert.has_error(function () y:backward({ [1] = 2 }) end,
                     "luagrad.backward: unknown option (a number key)")
    assert.has_error(function () y:backward({ seed = "2" }) end,
                     "luagrad.backward: bad seed (number expected, got string; a value seed "
                     .. "needs create_graph)")
    assert.has_error(function () y:backward({ seed = x }) end,
                     "luagrad.backward: bad seed (number expected, got value; a value seed "
                     .. "needs create_graph)")
    assert.has_error(function () y:backward({ seed = {}, create_graph = true }) end,
                     "luagrad.backward: bad seed (number or value expected, got table)")
    assert.are.equal(0, x.grad)
    y:backward({ seed = 0.5 })
    assert.are.equal(2, x.grad)
  end)

  it("deep chains: no recursion on depth", function ()
    local x = lg.value(0.5)
    local y = x
    for _ = 1, 20000 do y = y + 0.0001 * x * x end   -- x + 2 x^2
    local g = lg.gradients(y, x, { create_graph = true })
    near(3, g.data, 1e-9)
    near(4, lg.gradients(g, x), 1e-9)
  end)
end)

describe("lg.gradients", function ()
  it("gives gradients without touching any grad", function ()
    local x, y = lg.value(2), lg.value(3)
    local z = x * y + x
    local g = lg.gradients(z, { x, y })
    assert.are.same({ 4, 2 }, g)
    assert.are.equal(0, x.grad)
    assert.are.equal(0, z.grad)
    assert.are.equal(4, lg.gradients(z, x))   -- a lone input: a lone result
    z:backward()   -- and backward is unaffected
    assert.are.equal(4, x.grad)
  end)

  it("takes several outputs with seeds, numbers among them, and unused inputs", function ()
    local x, y, w = lg.value(2), lg.value(3), lg.value(7)
    local g = lg.gradients({ x * y, x + y, 5 }, { x, y, w }, { seeds = { 1, 10, 100 } })
    assert.are.same({ 13, 12, 0 }, g)
    local gv = lg.gradients({ x * y, x + y }, { x, w }, { seeds = { 1, 10 }, create_graph = true })
    assert.are.equal(13, data(gv[1]))
    assert.are.equal(0, gv[2])
    assert.are.same({ 0, 0 }, lg.gradients(3, { x, y }))
    assert.are.same({}, lg.gradients(x * y, {}))
  end)

  it("an output listed twice counts twice", function ()
    local x = lg.value(2)
    local y = x * x
    assert.are.same({ 8 }, lg.gradients({ y, y }, { x }))
    assert.are.equal(8, lg.gradients({ y, y }, { x }, { create_graph = true })[1].data)
  end)

  it("a Value seed makes the result a Value (a vector-Jacobian product on Values)", function ()
    local x, v = lg.value(2), lg.value(5)
    local g = lg.gradients(x * x, x, { seeds = v })
    assert.are.equal("value", lg.type(g))
    assert.are.equal(20, g.data)
    assert.are.equal(4, lg.gradients(g, v))
  end)

  it("rejects bad arguments", function ()
    local x = lg.value(1)
    assert.has_error(function () lg.gradients("y", x) end,
                     "luagrad.gradients: bad argument #1 (value, tensor or table expected, got string)")
    assert.has_error(function () lg.gradients(x, 3) end,
                     "luagrad.gradients: bad argument #2 (value, tensor or table expected, got number)")
    assert.has_error(function () lg.gradients(x, { 3 }) end,
                     "luagrad.gradients: bad argument #2 (value or tensor expected at index 1, "
                     .. "got number)")
    assert.has_error(function () lg.gradients({ x, "y" }, x) end,
                     "luagrad.gradients: bad argument #1 (number, value or tensor expected at index 2, "
                     .. "got string)")
    assert.has_error(function () lg.gradients(x, x, 3) end,
                     "luagrad.gradients: bad argument #3 (table expected, got number)")
    assert.has_error(function () lg.gradients(x, x, { seeds = { 1, 2 } }) end,
                     "luagrad.gradients: bad option 'seeds' (1 expected, got 2)")
    assert.has_error(function () lg.gradients(x, x, { seeds = { "1" } }) end,
                     "luagrad.gradients: bad option 'seeds' (number, value or tensor expected at "
                     .. "index 1, got string)")
    assert.has_error(function () lg.gradients(x, x, { seed = 1 }) end,
                     "luagrad.gradients: unknown option 'seed'")
    assert.has_error(function () lg.gradients(x, x, { create_graph = "yes" }) end,
                     "luagrad.gradients: bad option 'create_graph' (boolean expected, got string)")
  end)
end)

describe("lg.tangents", function ()
  it("is forward mode: one sweep gives every output's directional derivative", function ()
    local x, y = lg.value(2), lg.value(3)
    local outs = { x * y, lg.sin(x), y / x, 4 }
    local t = lg.tangents(outs, { x, y }, { tangents = { 1, -1 } })
    near(3 - 2, t[1], 1e-15)
    near(math.cos(2), t[2], 1e-15)
    near(-3 / 4 - 1 / 2, t[3], 1e-15)
    assert.are.equal(0, t[4])
    assert.are.equal(3, lg.tangents(x * y, { x, y }, { tangents = { 1, 0 } }))
    assert.are.equal(0, x.grad)
  end)

  it("an input's tangent is its own: what it depends on is ignored", function ()
    local x = lg.value(2)
    local u = x * x
    local z = u * 3 + x
    -- perturbing u alone: dz = 3; perturbing x alone through u too: dz = 13
    assert.are.equal(3, lg.tangents(z, { u }, { tangents = { 1 } }))
    assert.are.equal(13, lg.tangents(z, { x }, { tangents = { 1 } }))
    assert.are.equal(4, lg.tangents(z, { u, x }, { tangents = { 1, 1 } }))
  end)

  it("a zero tangent perturbs nothing, even through an infinite derivative", function ()
    local x, y = lg.value(0), lg.value(1)
    local z = lg.sqrt(x) + y
    assert.are.equal(1, lg.tangents(z, { x, y }, { tangents = { 0, 1 } }))
    assert.are.equal(math.huge, lg.tangents(z, { x, y }, { tangents = { 1, 0 } }))
  end)

  it("on Values (create_graph) gives Values that differentiate again", function ()
    local x = lg.value(1.2)
    local y = lg.exp(x) * x
    local t = lg.tangents(y, x, { tangents = 1, create_graph = true })
    assert.are.equal("value", lg.type(t))
    near(math.exp(1.2) * 2.2, t.data, 1e-14)
    near(math.exp(1.2) * 3.2, lg.gradients(t, x), 1e-14)   -- d/dx of the tangent
    local tv = lg.tangents(y, x, { tangents = lg.value(2) })
    near(math.exp(1.2) * 4.4, tv.data, 1e-14)
  end)

  it("rejects bad arguments", function ()
    local x = lg.value(1)
    assert.has_error(function () lg.tangents(x, x, { tangents = { 1, 2 } }) end,
                     "luagrad.tangents: bad option 'tangents' (1 expected, got 2)")
    assert.has_error(function () lg.tangents(x, x, { seeds = 1 }) end,
                     "luagrad.tangents: unknown option 'seeds'")
    assert.has_error(function () lg.tangents(true, x) end,
                     "luagrad.tangents: bad argument #1 (value or table expected, got boolean)")
  end)
end)

describe("nesting", function ()
  it("an inner derivative does not confuse its input with an outer one", function ()
    -- d/dx [x * d/dy (x + y)] = 1 (Siskind and Pearlmutter's example)
    assert.are.equal(1, lg.grad(function (x)
      return x * lg.grad(function (y) return x + y end)(1)
    end)(5))
    -- the inner input is the outer one's Value: d/dx [d/dy (x y) at y = x] = 1, not 2
    assert.are.equal(1, lg.grad(function (x)
      return lg.grad(function (y) return x * y end)(x)
    end)(5))
    -- the inner transform gets numbers but closes over the outer Value
    assert.are.equal(1, lg.grad(function (z)
      return lg.grad(function (y) return z * y end)(3)
    end)(2))
  end)

  it("to any depth: the n-th derivative of exp(2x) is 2^n exp(2x)", function ()
    local f = function (x) return lg.exp(2 * x) end
    for n = 1, 6 do
      f = lg.grad(f)
      near(2 ^ n * math.exp(0.6), f(0.3), 1e-10, "order " .. n)
    end
  end)

  it("an error inside a nested transform leaves later transforms at the top level", function ()
    assert.has_error(function ()
      lg.grad(function (x) return lg.grad(function () error("inner") end)(x) end)(1)
    end)
    assert.are.equal("number", type(lg.grad(function (x) return x * x end)(3)))
  end)
end)
