-- Tensors in the graph: every tensor op's gradient against central differences and known
-- values, broadcasting's reduction back to each operand's shape, views, both dtypes,
-- non-contiguous operands, the bridge to Values, .grad's rules, and the errors word for word.

local lg = require("luagrad")
local H = require("spec.helpers")
local unpack = unpack or table.unpack

-- nested tables <-> flat arrays, for rebuilding perturbed inputs
local function flatten (t, out)
  out = out or {}
  if type(t) == "number" then out[#out + 1] = t
  else for _, x in ipairs(t) do flatten(x, out) end end
  return out
end

local function unflatten (flat, shape, level, pos)
  level, pos = level or 1, pos or {1}
  local t = {}
  for i = 1, shape[level] do
    if level == #shape then t[i] = flat[pos[1]]; pos[1] = pos[1] + 1
    else t[i] = unflatten(flat, shape, level + 1, pos) end
  end
  return t
end

local function flat (t) return flatten(t:totable()) end

local function scalar (v)
  if type(v) == "number" then return v end
  return v.data
end

-- Checks the gradients f's Value result gives its tensor inputs (nested tables of numbers)
-- against central differences; returns the analytic gradients as flat arrays.
local function checkgrad (f, inputs, tol)
  tol = tol or 1e-6
  local ts = {}
  for i, x in ipairs(inputs) do ts[i] = lg.tensor(x, {requires_grad = true}) end
  local y = f(unpack(ts))
  assert.equal("value", lg.type(y))
  y:backward()
  local grads = {}
  for i, x in ipairs(inputs) do
    local shape = ts[i].shape
    assert.is_not_nil(ts[i].grad, "no grad for input " .. i)
    assert.same(shape, ts[i].grad.shape)
    local g = flat(ts[i].grad)
    local xs = flatten(x)
    for e = 1, #xs do
      local h = 1e-6 * math.max(1, math.abs(xs[e]))
      local args = {}
      local function at (delta)
        for j, xj in ipairs(inputs) do
          if j == i then
            local c = {}
            for k, v in ipairs(xs) do c[k] = v end
            c[e] = c[e] + delta
            args[j] = lg.tensor(unflatten(c, shape))
          else args[j] = lg.tensor(xj) end
        end
        return scalar(f(unpack(args)))
      end
      local num = (at(h) - at(-h)) / (2 * h)
      assert(H.close(num, g[e], tol),
             ("input %d element %d: analytic %.12g, central difference %.12g"):format(
               i, e, g[e], num))
    end
    grads[i] = g
  end
  return grads
end

-- a fixed weighting, so that a loss sees every element differently
local function weights (t)
  local n = t:numel()
  local w = {}
  for i = 1, n do w[i] = 0.3 + 0.1 * i end
  return lg.tensor(unflatten(w, t.shape))
end

local function wsum (t) return (t * weights(t)):sum() end

local A23 = {{0.5, -1.25, 2.0}, {1.5, 0.75, -0.4}}
local P23 = {{0.5, 1.25, 2.0}, {1.5, 0.75, 0.4}}   -- positive: log, sqrt, pow

describe("tensor autograd", function ()

  describe("elementwise ops", function ()
    local unary = {"exp", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "abs"}
    for _, name in ipairs(unary) do
      it(name .. " matches the scalar op and its derivative", function ()
        local g = checkgrad(function (x) return wsum(lg[name](x)) end, {A23})
        local y = lg[name](lg.tensor(A23))
        local xs, ys = flatten(A23), flat(y)
        for e = 1, #xs do
          local v = lg.value(xs[e])
          local out = lg[name](v)
          assert.equal(out.data, ys[e])   -- bit for bit
          out:backward()
          assert(H.close(v.grad * (0.3 + 0.1 * e), g[1][e], 1e-12))
        end
      end)
    end
    for _, name in ipairs({"log", "sqrt"}) do
      it(name .. " on positive elements", function ()
        checkgrad(function (x) return wsum(lg[name](x)) end, {P23})
        assert.equal(lg[name](lg.value(0.75)).data, lg[name](lg.tensor(P23)):get(2, 2))
      end)
    end
    it("unary minus and methods", function ()
      checkgrad(function (x) return wsum(-x) end, {A23})
      checkgrad(function (x) return wsum(x:exp():tanh()) end, {A23})
    end)

    local binary = {
      {"+", function (a, b) return a + b end}, {"-", function (a, b) return a - b end},
      {"*", function (a, b) return a * b end}, {"/", function (a, b) return a / b end},
      {"^", function (a, b) return a ^ b end}, {"max", function (a, b) return lg.max(a, b) end},
      {"min", function (a, b) return a:min(b) end},
    }
    local shapes = {
      {{{1, 2, 3}, {4, 5, 6}}, {{0.5, 1.5, 2.5}, {3.5, 4.25, 5.75}}},   -- same shape
      {{{1, 2, 3}, {4, 5, 6}}, {0.5, 1.5, 2.5}},                        -- {2,3} with {3}
      {{{1}, {2}}, {{0.5, 1.5, 2.5}}},                                  -- {2,1} with {1,3}
      {{0.25, 1.5, 2.5}, {{1.1}, {2.2}}},                               -- {3} with {2,1}
    }
    for _, op in ipairs(binary) do
      it("'" .. op[1] .. "' broadcasts, and each gradient has its operand's shape", function ()
        for _, s in ipairs(shapes) do
          checkgrad(function (a, b) return wsum(op[2](a, b)) end, {s[1], s[2]})
        end
      end)
    end

    it("a Value and a number broadcast as scalars; the Value gets its gradient", function ()
      local x = lg.tensor(A23, {requires_grad = true})
      local b = lg.value(0.5)
      local y = (x * b + 2) / 4 - b
      local loss = wsum(y)
      loss:backward()
      -- dloss/db = sum(w * (x / 4 - 1))
      local xs, expect = flatten(A23), 0
      for e = 1, #xs do expect = expect + (0.3 + 0.1 * e) * (xs[e] / 4 - 1) end
      H.near(expect, b.grad, 1e-12)
      for e, g in ipairs(flat(x.grad)) do H.near((0.3 + 0.1 * e) * 0.5 / 4, g, 1e-12) end
      local z = 2 ^ lg.tensor({1, 2, 3})
      assert.same({2, 4, 8}, z:totable())
    end)

    it("where picks, and its gradient reaches the picked operand only", function ()
      local c = lg.tensor({{1, 0, 1}, {0, 0, 1}})
      local g = checkgrad(function (a, b) return wsum(lg.where(c, a, b)) end, {A23, P23})
      assert.equal(0, g[1][2])
      assert.equal(0, g[2][1])
    end)

    it("comparisons give 0 and 1 with no history", function ()
      local x = lg.tensor({1, 2, 3}, {requires_grad = true})
      local m = x:gt(1.5)
      assert.same({0, 1, 1}, m:totable())
      assert.is_false(m.requires_grad)
      assert.same({1, 0, 0}, x:le(lg.tensor({1, 1, 1})):totable())
      assert.same({0, 1, 0}, x:eq(2):totable())
      assert.same({1, 0, 1}, lg.sign(x - 2):abs():totable())
    end)

    it("non-contiguous operands: a transposed view and an expanded one", function ()
      checkgrad(function (a) return wsum(lg.exp(a:t()) * a:t()) end, {A23})
      checkgrad(function (a, b) return wsum(a:t() + b) end, {A23, {{1}, {2}, {3}}})
    end)
  end)

  describe("reductions", function ()
    it("sum and mean of everything are Values", function ()
      local x = lg.tensor(A23, {requires_grad = true})
      local s, m = x:sum(), lg.mean(x)
      assert.equal("value", lg.type(s))
      H.near(0.5 - 1.25 + 2 + 1.5 + 0.75 - 0.4, s.data, 1e-12)
      H.near(s.data / 6, m.data, 1e-12)
      m:backward()
      for _, g in ipairs(flat(x.grad)) do H.near(1 / 6, g) end
    end)
    it("over dimensions, with keepdim, and over arrays of dimensions", function ()
      local x = lg.tensor(A23)
      assert.same({2}, x:sum(2).shape)
      assert.same({2, 1}, x:sum(2, true).shape)
      assert.same({1, 3}, lg.sum(x, 1, true).shape)
      assert.same({3}, x:mean(-2).shape)
      assert.equal("value", lg.type(x:sum({1, 2})))
      assert.same({1, 1}, x:sum({1, 2}, true).shape)
      H.near(2.0 + (-0.4), x:sum(1):get(3), 1e-12)
      checkgrad(function (a) return wsum(a:sum(2)) end, {A23})
      checkgrad(function (a) return wsum(a:mean(1, true)) end, {A23})
      checkgrad(function (a) return wsum(a:sum({1, 2}, true)) end, {A23})
      checkgrad(function (a) return wsum(a:t():mean(2)) end, {A23})
    end)
    it("prod amax amin logsumexp var std norm: central differences", function ()
      for _, f in ipairs({
        function (a) return a:prod() end, function (a) return wsum(a:prod(2)) end,
        function (a) return a:amax() end, function (a) return wsum(a:amin(1, true)) end,
        function (a) return a:logsumexp() end, function (a) return wsum(a:logsumexp(2)) end,
        function (a) return a:var() end, function (a) return wsum(a:var(2, {unbiased = false})) end,
        function (a) return wsum(a:std(1)) end, function (a) return a:std() end,
        function (a) return a:norm() end, function (a) return a:norm(1) end,
        function (a) return a:norm(3) end, function (a) return a:norm(math.huge) end,
        function (a) return wsum(a:softmax(2)) end, function (a) return wsum(a:log_softmax(1)) end,
      }) do
        checkgrad(f, {A23})
      end
    end)
    it("as PyTorch at its special points: zeros of prod, ties of amax and amin", function ()
      -- the figures are torch 1.13's (float64) for the same inputs and weightings
      local x = lg.tensor({{0, 3, 0}, {1, 2, 4}}, {requires_grad = true})
      local p = x:prod(2)
      assert.same({0, 8}, p:totable())
      ;(p * lg.tensor{1, 2}):sum():backward()
      assert.same({{0, 0, 0}, {16, 8, 4}}, x.grad:totable())
      local y = lg.tensor({{1, 3, 3}, {0, 2, -1}}, {requires_grad = true})
      y:prod():backward()
      assert.same({{0, 0, 0}, {-18, 0, 0}}, y.grad:totable())
      y.grad = nil
      ;(y:amax(2, true) * lg.tensor{{1}, {2}}):sum():backward()
      assert.same({{0, 0.5, 0.5}, {0, 2, 0}}, y.grad:totable())
      y.grad = nil
      y:norm(math.huge):backward()
      assert.same({{0, 0.5, 0.5}, {0, 0, 0}}, y.grad:totable())
      H.near(4.898979485566356, y:norm().data, 1e-15)
      H.near(2.6666666666666665, y:var().data, 1e-15)
      H.near(2.1698460195562856, y:logsumexp(2):get(2), 1e-15)
      local sm = y:softmax(2):totable()
      H.near(0.8437947344813395, sm[2][2], 1e-15)
      H.near(-4.0181499279178094, y:log_softmax(1):get(2, 3), 1e-15)
    end)
    it("argmax and argmin give 1-based indices, no gradient; the first of ties", function ()
      local y = lg.tensor({{1, 3, 3}, {0, 2, -1}}, {requires_grad = true})
      assert.same({2, 2}, y:argmax(2):totable())
      assert.same({{2}, {2}}, y:argmax(2, true):totable())
      assert.same({2, 2, 2}, lg.argmin(y, 1):totable())
      assert.equal(2, y:argmax())
      assert.equal(6, y:argmin())
      assert.is_false(y:argmax(1).requires_grad)
      assert.same({2}, lg.tensor({1, 0 / 0, 5}):argmax(1):totable())   -- NaN is the max
    end)
    it("a 1-D tensor reduced along its dimension is a Value", function ()
      assert.equal("value", lg.type(lg.tensor({1, 2}):sum(1)))
    end)
  end)

  describe("products", function ()
    local M34 = {{1, 2, 0.5, -1}, {0.25, -3, 2, 1}, {1.5, 1, -0.5, 2}}
    it("2-D x 2-D", function ()
      local y = lg.matmul(lg.tensor(A23), lg.tensor(M34))
      assert.same({2, 4}, y.shape)
      H.near(0.5 * 1 - 1.25 * 0.25 + 2 * 1.5, y:get(1, 1), 1e-12)
      checkgrad(function (a, b) return wsum(a:matmul(b)) end, {A23, M34})
      checkgrad(function (a, b) return wsum(a:mm(b)) end, {A23, M34})
      checkgrad(function (a, b) return wsum(a:t():matmul(b)) end, {{{1, 2}, {3, 4}}, A23})
    end)
    it("1-D and 2-D mixed, 1-D . 1-D (a Value), batched with broadcast batches", function ()
      local v = lg.matmul(lg.tensor({1, 2, 3}), lg.tensor(M34))
      assert.same({4}, v.shape)
      assert.same({2}, lg.matmul(lg.tensor(A23), lg.tensor({1, 2, 3})).shape)
      checkgrad(function (a, b) return wsum(a:matmul(b)) end, {{1, 2, 3}, M34})
      checkgrad(function (a, b) return wsum(a:matmul(b)) end, {A23, {1, -2, 0.5}})
      local d = lg.matmul(lg.tensor({1, 2, 3}), lg.tensor({4, 5, 6}))
      assert.equal("value", lg.type(d))
      assert.equal(32, d.data)
      checkgrad(function (a, b) return lg.dot(a, b) end, {{1, 2, 3}, {4, -5, 6}})
      local B = {{{1, 2, 3}, {4, 5, 6}}, {{0.5, 0, -1}, {2, 1, 1}}}   -- {2, 2, 3}
      assert.same({2, 2, 4}, lg.matmul(lg.tensor(B), lg.tensor(M34)).shape)
      checkgrad(function (a, b) return wsum(a:matmul(b)) end, {B, M34})
      checkgrad(function (a, b) return wsum(lg.matmul(a, b)) end, {A23, {M34, M34}})
    end)
    it("outer", function ()
      local y = lg.outer(lg.tensor({1, 2}), lg.tensor({3, 4, 5}))
      assert.same({{3, 4, 5}, {6, 8, 10}}, y:totable())
      checkgrad(function (a, b) return wsum(lg.outer(a, b)) end, {{1, 2}, {3, -4, 5}})
    end)
  end)

  describe("views and copies", function ()
    it("share storage and pass gradients back to their base", function ()
      checkgrad(function (a) return wsum(a:view(3, 2)) end, {A23})
      checkgrad(function (a) return wsum(a:view({-1})) end, {A23})
      checkgrad(function (a) return wsum(a:t():reshape(6)) end, {A23})   -- copies
      checkgrad(function (a) return wsum(a:transpose(1, 2)) end, {A23})
      checkgrad(function (a) return wsum(lg.t(a)) end, {A23})
      checkgrad(function (a) return wsum(a:unsqueeze(2):permute(3, 2, 1)) end, {A23})
      checkgrad(function (a) return wsum(a:unsqueeze(1):squeeze(1)) end, {A23})
      checkgrad(function (a) return wsum(a:view(2, 1, 3):squeeze()) end, {A23})
      checkgrad(function (a) return wsum(a:view(2, 1, 3):expand(2, 4, 3)) end, {A23})
      checkgrad(function (a) return wsum(a:unsqueeze(1):expand(2, -1, -1)) end, {A23})
      checkgrad(function (a) return wsum(a:view(1, 2, 3):flatten()) end, {A23})
      checkgrad(function (a) return wsum(a:narrow(2, 2, 2)) end, {A23})
      checkgrad(function (a) return wsum(a:select(2, 3)) end, {A23})
      checkgrad(function (a) return wsum(a[2]) end, {A23})
      checkgrad(function (a) return a[2][3] * a[1][1] end, {A23})
      checkgrad(function (a) return wsum(a:clone() * a:contiguous()) end, {A23})
    end)
    it("have the shapes and numbers they should", function ()
      local x = lg.arange(6):view(2, 3)
      assert.same({{0, 3}, {1, 4}, {2, 5}}, x:t():totable())
      assert.same({{1, 2}, {4, 5}}, x:narrow(2, 2, 2):totable())
      assert.same({2, 5}, x:select(2, -1):totable())
      assert.same({3, 4, 5}, x[2]:totable())
      assert.equal(5, x[2][3].data)
      assert.equal(5, x[-1][-1].data)
      assert.same({6}, x:flatten().shape)
      assert.same({2, 3}, x:view(2, 1, 3):squeeze(2).shape)
      assert.same({2, 1, 3}, x:view(2, 1, 3):squeeze(1).shape)
      assert.same({1}, lg.ones(1, 1):squeeze().shape)
      assert.same({3, 2}, x:t():contiguous().shape)
      assert.same({0, 3, 1, 4, 2, 5}, x:t():reshape(-1):totable())
    end)
    it("clone and to keep history; to converts the gradient's dtype back", function ()
      local x = lg.tensor({1, 2, 3}, {dtype = "float32", requires_grad = true})
      local y = x:to("float64")
      assert.equal("float64", y.dtype)
      assert.equal(x, x:to("float32"))
      ;(y * y):sum():backward()
      assert.equal("float32", x.grad.dtype)
      assert.same({2, 4, 6}, x.grad:totable())
      assert.equal("copy", x:clone().op)
    end)
  end)

  describe("dtypes", function ()
    it("float32 stays float32; with float64 it gives float64; numbers never change it", function ()
      local a = lg.tensor({1, 2}, {dtype = "float32", requires_grad = true})
      local b = lg.tensor({3, 4})
      assert.equal("float32", (a * 2).dtype)
      assert.equal("float32", (a * lg.value(2)).dtype)
      assert.equal("float32", lg.exp(a).dtype)
      assert.equal("float64", (a + b).dtype)
      assert.equal("float32", a:matmul(lg.tensor({{1}, {1}}, {dtype = "float32"})).dtype)
      assert.equal("float64", a:matmul(lg.tensor({{1}, {1}})).dtype)
      local loss = (a * b):sum() + (a:exp()):sum()
      loss:backward()
      assert.equal("float32", a.grad.dtype)
      local g = a.grad:totable()
      assert(H.close(3 + math.exp(1), g[1], 1e-6))
      assert(H.close(4 + math.exp(2), g[2], 1e-6))
    end)
  end)

  describe("gradients", function ()
    it("accumulate over backwards, and reset with nil or lg.zero_grad", function ()
      local x = lg.tensor({1, 2}, {requires_grad = true})
      ;(x * 3):sum():backward()
      ;(x * 3):sum():backward()
      assert.same({6, 6}, x.grad:totable())
      x.grad = nil
      assert.is_nil(x.grad)
      ;(x * x):sum():backward()
      assert.same({2, 4}, x.grad:totable())
      local v = lg.value(1)
      v.grad = 5
      lg.zero_grad({x, v})
      assert.is_nil(x.grad)
      assert.equal(0, v.grad)
    end)
    it("intermediates keep none unless retain_grad()", function ()
      local x = lg.tensor({1, 2}, {requires_grad = true})
      local y, z = x * 2, x * 3
      z:retain_grad()
      assert.is_false(y.is_leaf)
      ;(y * z):sum():backward()
      assert.is_nil(y.grad)
      assert.same({2, 4}, z.grad:totable())   -- d/dz = y
      assert.same({12, 24}, x.grad:totable())  -- 2*z + 3*y = 12 x
    end)
    it("t:backward(g) seeds a tensor's sweep", function ()
      local x = lg.tensor({{1, 2}, {3, 4}}, {requires_grad = true})
      local y = x * x
      y:backward(lg.tensor({{1, 0}, {0, 2}}))
      assert.same({{2, 0}, {0, 16}}, x.grad:totable())
      x.grad = nil
      x:backward(lg.ones(2, 2))   -- a leaf's own .grad
      assert.same({{1, 1}, {1, 1}}, x.grad:totable())
    end)
    it("no_grad and constants record no history", function ()
      local x = lg.tensor({1, 2}, {requires_grad = true})
      local y = lg.no_grad(function () return x * 2 end)
      assert.is_false(y.requires_grad)
      assert.is_true(y.is_leaf)
      assert.equal("leaf", y.op)
      local c = lg.tensor({1, 2}) * 2
      assert.is_false(c.requires_grad)
      assert.equal("value", lg.type(lg.no_grad(function () return x:sum() end)))
    end)
    it("to_dot draws a tensor node with its op and shape", function ()
      local w = lg.tensor({{1, 2}, {3, 4}}, {requires_grad = true, dtype = "float32"})
      local y = lg.tanh(w:matmul(lg.ones(2, {dtype = "float32"})) + lg.value(0.5)):sum()
      local dot = y:to_dot()
      assert.truthy(dot:find('label="{ tensor | shape \\{2, 2\\} float32 }"', 1, true))
      assert.truthy(dot:find('label="matmul"', 1, true))
      assert.truthy(dot:find('label="squeeze"', 1, true))
      assert.truthy(dot:find('label="{ data 0.5 | grad 0 }"', 1, true))
    end)
    it("lg.stack of Values makes a tensor connected to them", function ()
      local a, b = lg.value(2), lg.value(3)
      local t = lg.stack({a, b, 4})
      assert.same({2, 3, 4}, t:totable())
      assert.is_true(t.requires_grad)
      ;(t * lg.tensor({1, 10, 100})):sum():backward()
      assert.equal(1, a.grad)
      assert.equal(10, b.grad)
      assert.is_false(lg.stack({1, 2}).requires_grad)
    end)
    it("a Value loss over tensors: the contract's example", function ()
      local X = lg.tensor{{1, 2}, {3, 4}, {5, 6}}
      local w = lg.tensor({{0.1}, {-0.2}}, {requires_grad = true})
      local b = lg.value(0.5)
      local p = lg.sigmoid(X:matmul(w) + b)
      local loss = ((p - 1) ^ 2):mean()
      loss:backward()
      assert.same({2, 1}, w.grad.shape)
      -- by hand: dloss/dz_i = 2 (p_i - 1) p_i (1 - p_i) / 3
      local z = {0.2, 0.0, -0.2}
      local gw1, gw2, gb = 0, 0, 0
      for i = 1, 3 do
        local p_i = H.sigmoid(z[i])
        local dz = 2 * (p_i - 1) * p_i * (1 - p_i) / 3
        gw1, gw2, gb = gw1 + dz * X:get(i, 1), gw2 + dz * X:get(i, 2), gb + dz
      end
      H.near(gw1, w.grad:get(1, 1), 1e-12)
      H.near(gw2, w.grad:get(2, 1), 1e-12)
      H.near(gb, b.grad, 1e-12)
    end)
  end)

  describe("joining and splitting", function ()
    it("cat and stack join along a dimension; gradients go back to each part", function ()
      local a, b = lg.tensor({{1, 2}, {3, 4}}), lg.tensor({{5, 6}})
      assert.same({{1, 2}, {3, 4}, {5, 6}}, lg.cat({a, b}, 1):totable())
      assert.same({{1, 2, 1, 2}, {3, 4, 3, 4}}, lg.cat({a, a}, -1):totable())
      assert.same({2, 2, 2}, lg.stack({a, a}).shape)
      assert.same({2, 2, 3}, lg.stack({a, a, a}, 3).shape)
      assert.same({{1, 2}, {3, 4}}, lg.stack({a[1], a[2]}):totable())
      assert.equal("float32", lg.cat({a:to("float32"), a:to("float32")}).dtype)
      assert.equal("float64", lg.cat({a:to("float32"), a}).dtype)
      checkgrad(function (x, y) return wsum(lg.cat({x, y, x}, 1)) end,
                {{{1, 2}, {3, 4}}, {{5, 6}}})
      checkgrad(function (x, y) return wsum(lg.stack({x, y}, 2)) end, {A23, P23})
      checkgrad(function (x) return wsum(lg.stack({x:t(), x:t()})) end, {A23})
    end)
    it("split and chunk give views; index copies the entries at indices", function ()
      local x = lg.arange(7)
      local parts = x:split(3)
      assert.equal(3, #parts)
      assert.same({6}, parts[3]:totable())
      local p2 = x:split({2, 5})
      assert.same({2, 3, 4, 5, 6}, p2[2]:totable())
      local m = lg.arange(6):view(2, 3)
      local ch = m:chunk(2, 2)
      assert.same({{0, 1}, {3, 4}}, ch[1]:totable())
      assert.same({{2}, {5}}, ch[2]:totable())
      assert.equal(3, #lg.arange(3):chunk(5))
      assert.same({2, 0, 2}, lg.arange(10):index(1, {3, 1, 3}):totable())
      assert.same({{2, 1}, {5, 4}}, m:index(2, lg.tensor{-1, 2}):totable())
      checkgrad(function (a) return wsum(a:index(2, {3, 1, 3, 3})) end, {A23})
      checkgrad(function (a) local s = a:split(2, 2) return wsum(s[1]) + 3 * wsum(s[2]) end,
                {A23})
      checkgrad(function (a) local c = a:chunk(2) return wsum(c[2] * c[1]) end, {A23})
    end)
    it("say what was wrong", function ()
      assert.has_error(function () lg.cat({lg.ones(2, 3), lg.ones(2, 2)}, 1) end,
        "luagrad.cat: tensor 2 has shape {2, 2}, which does not match {2, 3} (sizes may "
        .. "differ along dimension 1 only)")
      assert.has_error(function () lg.cat({}) end,
        "luagrad.cat: bad argument #1 (a non-empty array of tensors expected)")
      assert.has_error(function () lg.cat({lg.ones(2), 3}) end,
        "luagrad.cat: bad argument #1 (tensor expected at index 2, got number)")
      assert.has_error(function () lg.ones(4):split({1, 2}) end,
        "luagrad.split: sizes that add up to 4 expected (the size of dimension 1), got 3")
      assert.has_error(function () lg.ones(4):index(1, {5}) end,
        "luagrad: index 5 out of range for dimension 1 of size 4")
      assert.has_error(function () lg.ones(4):chunk(0) end,
        "luagrad.chunk: bad argument #2 (a positive integer number of parts expected)")
    end)
  end)

  describe("slicing and in place", function ()
    it("t[{...}] is Torch7's slicing: indices, {first, last} and {}", function ()
      local x = lg.arange(12):view(3, 4)
      assert.same({{5, 6}, {9, 10}}, x[{{2, 3}, {2, 3}}]:totable())
      assert.same({1, 5, 9}, x[{{}, 2}]:totable())
      assert.same({4, 5, 6, 7}, x[{2}]:totable())
      assert.same({{8, 9, 10, 11}}, x[{{-1, -1}}]:totable())
      assert.equal("value", lg.type(x[{3, 4}]))
      assert.equal(11, x[{3, 4}].data)
      checkgrad(function (a) return wsum(a[{{1, 2}, {2, 3}}]) end, {A23})
      checkgrad(function (a) return a[{2, 3}] * a[{1, {1, 2}}]:sum() end, {A23})
    end)
    it("fill_ zero_ copy_ add_ sub_ mul_ div_ write through views into the base", function ()
      local x = lg.zeros(2, 3)
      assert.equal(x, x:fill_(2))
      x[1]:add_(lg.tensor{1, 2, 3})
      x:t()[3]:mul_(10)   -- column 3
      x[{2, {1, 2}}]:sub_(1, 0.5)
      x[2]:div_(lg.value(2))
      assert.same({{3, 4, 50}, {0.75, 0.75, 10}}, x:totable())
      x:copy_(lg.tensor{1, 2, 3})   -- broadcast
      assert.same({{1, 2, 3}, {1, 2, 3}}, x:totable())
      x:add_(x:t():t())   -- a source sharing the storage is read before the write
      assert.same({{2, 4, 6}, {2, 4, 6}}, x:totable())
      x:zero_()
      assert.same({{0, 0, 0}, {0, 0, 0}}, x:totable())
      x[2] = 7
      x[{1, 3}] = lg.value(5)
      x[{{}, 1}] = lg.tensor{8, 9}
      assert.same({{8, 0, 5}, {9, 7, 7}}, x:totable())
      local f = lg.zeros(2, {dtype = "float32"})
      f:add_(0.1)
      assert.equal("float32", f.dtype)
      assert.same({0.10000000149011612, 0.10000000149011612}, f:totable())
    end)
    it("are allowed on a tensor that requires grad only under no_grad", function ()
      local w = lg.tensor({1, 2}, {requires_grad = true})
      assert.has_error(function () w:add_(1) end,
        "luagrad.add_: an in-place op on a tensor that requires grad is allowed only under "
        .. "lg.no_grad (as an optimizer's step does)")
      assert.has_error(function () w[1] = 0 end,
        "luagrad.setindex: an in-place op on a tensor that requires grad is allowed only "
        .. "under lg.no_grad (as an optimizer's step does)")
      ;(w * w):sum():backward()
      lg.no_grad(function ()
        w:sub_(w.grad, 0.5)   -- a gradient descent step
        w[2] = w[2] * 2
      end)
      assert.same({0, 0}, w:totable())
      assert.is_true(w.requires_grad)
      assert.has_error(function () lg.ones(1):expand(3):fill_(0) end,
        "luagrad.fill_: cannot write into an expanded tensor (several of its elements share "
        .. "one memory location; clone() it first)")
      assert.has_error(function () lg.ones(2):add_(lg.ones(3)) end,
        "luagrad.add_: bad argument #2 (shape {3} does not broadcast to the tensor's {2})")
      assert.has_error(function () lg.ones(2):copy_(1) end,
        "luagrad.copy_: bad argument #2 (tensor expected, got number)")
    end)
    it("a backward that needs a tensor changed since is the contract's error", function ()
      local msg = "luagrad: a tensor needed for backward was changed in place (after the op "
        .. "that needs it ran: compute again from the changed tensor)"
      local x = lg.tensor({1, 2, 3}, {requires_grad = true})
      local c = lg.tensor({1, 1, 1})
      local y = (x * c):sum()
      c:add_(1)
      assert.has_error(function () y:backward() end, msg)
      assert.is_nil(x.grad)   -- no .grad changed
      local v = lg.tensor({{1, 2}, {3, 4}})
      local z = (x[{{1, 2}}]:matmul(v)):sum()
      v[{1, 1}] = 0   -- through a view: the storage's version
      assert.has_error(function () z:backward() end, msg)
      local e = lg.exp(x)
      local s = e:sum()
      lg.no_grad(function () e:mul_(2) end)   -- exp's backward reads its result
      assert.has_error(function () s:backward() end, msg)
      ;(x * c):sum():backward()   -- computed again: fine
      assert.same({2, 2, 2}, x.grad:totable())
      local u = lg.tensor({1, 2})
      local k = (x[{{1, 2}}] + u):sum()   -- + reads no operand in backward
      u:add_(1)
      k:backward()
      assert.same({3, 3, 2}, x.grad:totable())
    end)
  end)

  describe("errors", function ()
    local t23 = lg.ones(2, 3)
    it("are the contract's, word for word", function ()
      assert.has_error(function () return t23 + lg.ones(4) end,
        "luagrad: bad operand shapes to '+' ({2, 3} and {4}: not broadcastable)")
      assert.has_error(function () return t23 * lg.ones(4) end,
        "luagrad: bad operand shapes to '*' ({2, 3} and {4}: not broadcastable)")
      assert.has_error(function () return lg.pow(t23, lg.ones(2)) end,
        "luagrad: bad operand shapes to '^' ({2, 3} and {2}: not broadcastable)")
      assert.has_error(function () return lg.matmul(t23, lg.ones(4, 5)) end,
        "luagrad.matmul: cannot multiply shapes {2, 3} and {4, 5} (3 ~= 4)")
      assert.has_error(function () return t23:view(4, 4) end,
        "luagrad.view: shape {4, 4} is invalid for a tensor of 6 elements")
      assert.has_error(function () return lg.ones(3)[5] end,
        "luagrad: index 5 out of range for dimension 1 of size 3")
      assert.has_error(function () return t23:select(2, 4) end,
        "luagrad: index 4 out of range for dimension 2 of size 3")
    end)
    it("name what was wrong", function ()
      assert.has_error(function () return t23 + "x" end,
        "luagrad: bad operand #2 to '+' (number, value or tensor expected, got string)")
      assert.has_error(function () return t23:mm(lg.ones(3)) end,
        "luagrad.mm: bad argument #2 (a 2-D tensor expected, got 1-D)")
      assert.has_error(function () return lg.dot(t23, lg.ones(3)) end,
        "luagrad.dot: bad argument #1 (a 1-D tensor expected, got 2-D)")
      assert.has_error(function () return lg.dot(lg.ones(2), lg.ones(3)) end,
        "luagrad.dot: cannot multiply shapes {2} and {3} (2 ~= 3)")
      assert.has_error(function () return t23:t():view(6) end,
        "luagrad.view: a tensor of shape {3, 2} and these strides cannot be viewed as {6} "
        .. "without a copy (use reshape)")
      assert.has_error(function () return t23:expand(4, 3, 2) end,
        "luagrad.expand: cannot expand shape {2, 3} to {4, 3, 2}")
      assert.has_error(function () return t23:narrow(2, 2, 3) end,
        "luagrad.narrow: length 3 from index 2 out of range for dimension 2 of size 3")
      assert.has_error(function () return t23:permute(1, 1) end,
        "luagrad.permute: bad argument #2 (a permutation of the 2 dimensions expected)")
      assert.has_error(function () return t23:sum(3) end,
        "luagrad: dimension 3 out of range for a tensor of 2 dimensions")
      assert.has_error(function () return t23:sum({1, 1}) end,
        "luagrad.sum: dimension 1 repeated")
      assert.has_error(function () return lg.ones(2, 2, 2):t() end,
        "luagrad.t: bad argument #1 (a tensor of at most 2 dimensions expected, got 3; "
        .. "transpose(d1, d2) swaps any two)")
    end)
    it("of backward", function ()
      local x = lg.tensor({1, 2}, {requires_grad = true})
      local y = x * 2
      assert.has_error(function () y:backward() end,
        "luagrad.backward: a tensor's backward needs a gradient of its shape {2} "
        .. "(t:backward(g); a Value, such as t:sum(), needs none)")
      assert.has_error(function () y:backward(lg.ones(3)) end,
        "luagrad.backward: bad argument #2 (a gradient of shape {2} expected, got {3})")
      assert.has_error(function () lg.ones(2):backward(lg.ones(2)) end,
        "luagrad.backward: the tensor does not require grad (it has no graph to "
        .. "differentiate)")
      assert.has_error(function () y.requires_grad = false end,
        "luagrad.requires_grad: only a leaf's requires_grad can be set (detach() it first)")
      assert.is_nil(x.grad)   -- nothing changed
      y:backward(lg.ones(2))
      assert.same({2, 2}, x.grad:totable())   -- and the graph still works
    end)
    it("of what is not supported on tensors yet", function ()
      local x = lg.tensor({1, 2}, {requires_grad = true})
      local msg = "luagrad: tensors are not supported here yet (lg.compile, forward mode, "
        .. "create_graph and nested transforms on tensors come later)"
      assert.has_error(function () (x * x):sum():backward{create_graph = true} end, msg)
    end)
  end)
end)
