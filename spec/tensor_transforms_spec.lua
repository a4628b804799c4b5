-- The toolkit on tensors, first order: lg.gradients, grad, value_and_grad, vjp, jacobian and
-- jacrev with tensors (alone and in trees with numbers and Values), gradcheck and
-- assert.gradients element by element, no_grad and stop_gradient; against central
-- differences and PyTorch's numbers (tests/fixtures/mlp_grad.py), and every error word for
-- word, including those of what is not supported yet (forward mode, second order).

local lg = require("luagrad")
require("luagrad.busted")
local H = require("spec.helpers")
local unpack = unpack or table.unpack   -- luacheck: ignore 113

local NOTYET = "luagrad: tensors are not supported here yet (lg.compile, forward mode, "
               .. "create_graph and nested transforms on tensors come later)"

-- the numbers of a tensor (or nested table), flat, in row-major order
local function flat (t, out)
  out = out or {}
  if lg.type(t) == "tensor" then t = t:totable() end
  if type(t) == "number" then out[#out + 1] = t
  else for _, x in ipairs(t) do flat(x, out) end end
  return out
end

local function near (expected, actual, tol, what)
  local e, a = flat(expected), flat(actual)
  assert.are.equal(#e, #a, what)
  for i = 1, #e do H.near(e[i], a[i], tol or 1e-12, what) end
end

local function shape (t) return table.concat(t.shape, ", ") end

-- d f / d x[e] by central differences, for each element e of tensor argument k
local function central (f, args, k, h)
  h = h or 1e-6
  local x = args[k]
  local n, out = x:numel(), {}
  for e = 1, n do
    local function at (d)
      local moved = {}
      for i, a in ipairs(args) do moved[i] = a end
      local y = x:clone()
      y:view(-1)[e] = x:view(-1):get(e) + d
      moved[k] = y
      local r = f(unpack(moved, 1, #args))
      return lg.type(r) == "value" and r.data or r
    end
    out[e] = (at(h) - at(-h)) / (2 * h)
  end
  return out
end

local F = dofile("tests/fixtures/mlp_grad.lua")

local function mlp (p, X, Y)
  local h = (X:matmul(p.W1:t()) + p.b1):tanh()
  local out = h:matmul(p.W2:t()) + p.b2
  return ((out - Y) ^ 2):mean()
end

local function params ()
  return { W1 = lg.tensor(F.W1), b1 = lg.tensor(F.b1), W2 = lg.tensor(F.W2),
           b2 = lg.value(F.b2), name = "mlp" }
end

describe("lg.gradients on tensors", function ()
  it("gives a gradient tensor of each tensor input's shape", function ()
    local w = lg.tensor({ { 1, -2 }, { 3, 0.5 }, { -1, 4 } }, { requires_grad = true })
    local b = lg.value(0.5)
    local y = (w * w * b):sum() + b * b
    local g = lg.gradients(y, { w, b })
    near({ { 1, -2 }, { 3, 0.5 }, { -1, 4 } }, g[1])   -- 2 w b = w
    H.near(31.25 + 1, g[2])                               -- sum(w^2) + 2 b
    assert.is_nil(w.grad)                                 -- no .grad is touched
    near(lg.ones(3, 2), lg.gradients(w, w, { seeds = lg.ones(3, 2) }))
  end)

  it("seeds a tensor output with a tensor of its shape, and adds several outputs", function ()
    local w = lg.tensor({ 1, 2, 3 }, { requires_grad = true })
    local seed = lg.tensor({ 1, 10, 100 })
    near({ 3, 30, 300 }, lg.gradients(w * 3, w, { seeds = seed }))
    local g = lg.gradients({ w * 3, (w * w):sum() }, { w }, { seeds = { seed, 2 } })
    near({ 3 + 4, 30 + 8, 300 + 12 }, g[1])
    near({ 3, 30, 300 }, lg.gradients(w * 3, w, { seeds = seed:view(3, 1):t():view(3) }))
  end)

  it("gives zeros where the sweep does not reach an input, as for Values", function ()
    local w = lg.tensor({ { 1, 2 } }, { requires_grad = true })
    local other = lg.zeros(2, 3)
    local c = lg.tensor({ 5 })                 -- does not require grad: no adjoint reaches it
    local g = lg.gradients((w * c):sum(), { other, c, lg.value(1) })
    near(lg.zeros(2, 3), g[1])
    assert.are.same({ 2, 3 }, g[1].shape)
    near({ 0 }, g[2])
    assert.are.equal(0, g[3])
  end)

  it("keeps the input's dtype", function ()
    local w = lg.tensor({ 1.5, 2 }, { dtype = "float32", requires_grad = true })
    local g = lg.gradients((w * w):sum(), w)
    assert.are.equal("float32", g.dtype)
    near({ 3, 4 }, g)
  end)

  it("reaches a view's base and an intermediate tensor", function ()
    local w = lg.tensor({ { 1, 2, 3 }, { 4, 5, 6 } }, { requires_grad = true })
    local v = w:t()
    local y = ((v * lg.tensor({ 1, 2 })):exp()):sum()
    local g = lg.gradients(y, { w, v })
    near(flat(g[2]:t()), g[1], 1e-12)
    near(central(function (x) return ((x:t() * lg.tensor({ 1, 2 })):exp()):sum() end,
                 { w:detach() }, 1), g[1], 1e-6)
  end)

  it("says what is wrong, word for word", function ()
    local w = lg.tensor({ { 1, 2 }, { 3, 4 } }, { requires_grad = true })
    assert.has_error(function () lg.gradients(w * 2, w) end,
                     "luagrad.gradients: output 1 is a tensor: it needs a seed of its shape "
                     .. "{2, 2} (option 'seeds')")
    assert.has_error(function () lg.gradients(w * 2, w, { seeds = lg.ones(4) }) end,
                     "luagrad.gradients: bad option 'seeds' (a tensor of shape {2, 2} expected "
                     .. "at index 1, got shape {4})")
    assert.has_error(function () lg.gradients(w * 2, w, { seeds = 1 }) end,
                     "luagrad.gradients: bad option 'seeds' (a tensor of shape {2, 2} expected "
                     .. "at index 1, got number)")
    assert.has_error(function () lg.gradients(w:sum(), w, { seeds = lg.ones(1) }) end,
                     "luagrad.gradients: bad option 'seeds' (number or value expected at index "
                     .. "1, got tensor)")
    assert.has_error(function () lg.gradients(w:sum(), { w, "w" }) end,
                     "luagrad.gradients: bad argument #2 (value or tensor expected at index 2, "
                     .. "got string)")
    assert.has_error(function () lg.gradients(w:sum(), w, { create_graph = true }) end, NOTYET)
    assert.has_error(function () lg.gradients(w:sum(), w, { seeds = lg.value(1) }) end, NOTYET)
  end)
end)

describe("lg.grad and lg.value_and_grad on tensors", function ()
  it("returns gradient tensors shaped like the tensor arguments", function ()
    local W = lg.tensor({ { 1, -2 }, { 0.5, 3 }, { -1, 2 } })
    local g = lg.grad(function (w) return (w * w):sum() end)(W)
    assert.are.equal("tensor", lg.type(g))
    assert.are.equal("3, 2", shape(g))
    near({ { 2, -4 }, { 1, 6 }, { -2, 4 } }, g)
    assert.is_false(W.requires_grad)   -- the argument is left as it was
  end)

  it("agrees with PyTorch on a small MLP's loss, over a tree of tensors and a Value", function ()
    local X, Y = lg.tensor(F.X), lg.tensor(F.Y)
    local loss, g = lg.value_and_grad(mlp)(params(), X, Y)
    H.near(F.loss, loss, 1e-12)
    assert.are.equal("number", type(loss))
    near(F.dW1, g.W1, 1e-10)
    near(F.db1, g.b1, 1e-10)
    near(F.dW2, g.W2, 1e-10)
    H.near(F.db2, g.b2, 1e-10)      -- a Value's gradient is a number
    assert.is_nil(g.name)           -- a string passes through and gets none
    assert.are.same({ 5, 3 }, g.W1.shape)
  end)

  it("agrees with central differences, argument by argument", function ()
    local X, Y = lg.tensor(F.X), lg.tensor(F.Y)
    local function f (W1, b1, W2) return mlp({ W1 = W1, b1 = b1, W2 = W2, b2 = 0.25 }, X, Y) end
    local args = { lg.tensor(F.W1), lg.tensor(F.b1), lg.tensor(F.W2) }
    local g = { lg.grad(f)(args[1], args[2], args[3]) }
    for k = 1, 3 do near(central(f, args, k), g[k], 1e-6) end
  end)

  it("takes argnums and has_aux with tensors", function ()
    local X, Y = lg.tensor(F.X), lg.tensor(F.Y)
    local dX = lg.grad(function (p, x, y) return mlp(p, x, y) end, { argnums = 2 })(params(), X, Y)
    near(central(function (x) return mlp(params(), x, Y) end, { X }, 1), dX, 1e-6)
    local dY, dp, aux = lg.grad(function (p, x, y) return mlp(p, x, y), y:sum() end,
                                { argnums = { 3, 1 }, has_aux = true })(params(), X, Y)
    near(central(function (y) return mlp(params(), X, y) end, { Y }, 1), dY, 1e-6)
    near(F.dW1, dp.W1, 1e-10)
    H.near(flat(F.Y)[1] + flat(F.Y)[2] + flat(F.Y)[3] + flat(F.Y)[4] + flat(F.Y)[5]
           + flat(F.Y)[6] + flat(F.Y)[7] + flat(F.Y)[8], aux.data, 1e-12)   -- as f gave it
    local v, a, g = lg.value_and_grad(function (w) return (w * 2):sum(), "aux" end,
                                      { has_aux = true })(lg.ones(2))
    assert.are.equal(4, v)
    assert.are.equal("aux", a)
    near({ 2, 2 }, g)
  end)

  it("takes a Value beside tensors by its number, and gives it a number", function ()
    local W = lg.tensor({ 1, 2, 3 })
    local x = lg.value(2)
    local gx = lg.grad(function (w, s) return (w * s):sum() end, { argnums = 2 })(W, x)
    assert.are.equal("number", type(gx))
    H.near(6, gx)
    local g = lg.grad(function (t) return (t.w * t.s * t.k):sum() end)({ w = W, s = x, k = 3 })
    near({ 6, 6, 6 }, g.w)
    H.near(18, g.s)
    H.near(12, g.k)
  end)

  it("counts a tensor in an argument that is not differentiated, tree or not", function ()
    local g = lg.grad(function (x, c) return (x * c[0]):sum() end, { argnums = 1 })(
      lg.ones(2), { [0] = lg.tensor({ 3, 4 }) })
    near({ 3, 4 }, g)
  end)

  it("differentiates at numbers through tensors it closes over, not at Values", function ()
    local W = lg.tensor({ 1, 2, 3 })
    H.near(6, lg.grad(function (x) return (W * x):sum() end)(2))
    near({ 1, 2, 3 }, lg.jacobian(function (x) return W * x end)(2))
    assert.has_error(function () lg.grad(function (x) return (W * x):sum() end)(lg.value(2)) end,
                     NOTYET)   -- given a Value, the derivative would be recorded
  end)

  it("refuses a tensor result, and nesting on tensors", function ()
    assert.has_error(function () lg.grad(function (w) return w * 2 end)(lg.ones(2)) end,
                     "luagrad.grad: the function must return a value or a number, got tensor")
    assert.has_error(function ()
      lg.grad(function (w) return lg.grad(function (v) return (v * v):sum() end)(w):sum() end)(
        lg.ones(2))
    end, NOTYET)
  end)
end)

describe("lg.vjp on tensors", function ()
  it("takes and returns tensors", function ()
    local A = lg.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    local x = lg.tensor({ 1, -1, 2 })
    local y, s, pullback = lg.vjp(function (a, v) return a:matmul(v), v:sum() end, A, x)
    near({ 5, 11 }, y)
    assert.is_false(y.requires_grad)   -- results without history
    H.near(2, s)
    local gA, gx = pullback(lg.tensor({ 1, 10 }), 0)
    near({ { 1, -1, 2 }, { 10, -10, 20 } }, gA)   -- c x^T
    near({ 41, 52, 63 }, gx)                      -- A^T c
    local _, gx2 = pullback(lg.zeros(2), 1)
    near({ 1, 1, 1 }, gx2)
  end)

  it("checks each cotangent against its result, word for word", function ()
    local _, _, pullback = lg.vjp(function (v) return v * 2, v:sum() end, lg.ones(3))
    assert.has_error(function () pullback(lg.ones(2), 1) end,
                     "luagrad.vjp: cotangent 1 must be a tensor of shape {3} (its result's), "
                     .. "got shape {2}")
    assert.has_error(function () pullback(1, 1) end,
                     "luagrad.vjp: cotangent 1 must be a tensor of shape {3} (its result's), "
                     .. "got number")
    assert.has_error(function () pullback(lg.ones(3), lg.ones(1)) end,
                     "luagrad.vjp: cotangent 2 must be a number or value (as its result), got "
                     .. "tensor")
  end)
end)

describe("lg.jacobian on tensors", function ()
  it("has PyTorch's layout, out.shape .. in.shape, and its numbers", function ()
    local X = lg.tensor(F.X)
    local J = lg.jacobian(function (w) return X:matmul(w:t()):tanh() end)(lg.tensor(F.W1))
    assert.are.same(F.jac_shape, J.shape)
    near(F.jac, J, 1e-12)
    local Jr = lg.jacrev(function (w) return X:matmul(w:t()):tanh() end)(lg.tensor(F.W1))
    near(F.jac, Jr, 1e-12)
  end)

  it("gives one result per input, and Values no dimensions", function ()
    local A = lg.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
    local JA, Jx = lg.jacobian(function (a, v) return a:matmul(v) end)(A, lg.tensor({ 1, -1, 2 }))
    assert.are.same({ 2, 2, 3 }, JA.shape)
    near({ { { 1, -1, 2 }, { 0, 0, 0 } }, { { 0, 0, 0 }, { 1, -1, 2 } } }, JA)
    near(A, Jx)
    local Jv, Js = lg.jacobian(function (v, s) return (v * s):sum() end)(lg.ones(2), lg.value(3))
    near({ 3, 3 }, Jv)
    H.near(2, Js)
    local rows = lg.jacobian(function (v) return v * 2, v:sum(), 7 end)(lg.ones(2))
    near({ { 2, 0 }, { 0, 2 } }, rows[1])
    near({ 1, 1 }, rows[2])
    near({ 0, 0 }, rows[3])
  end)
end)

describe("what does not work on tensors yet", function ()
  local sq = function (w) return (w * w):sum() end
  it("says so, word for word", function ()
    assert.has_error(function () lg.jvp(sq, { lg.ones(2) }, { lg.ones(2) }) end,
                     "luagrad.jvp: forward mode on tensors is not supported yet (lg.vjp works "
                     .. "on tensors)")
    assert.has_error(function () lg.jacfwd(sq)(lg.ones(2)) end,
                     "luagrad.jacobian: forward mode on tensors is not supported yet "
                     .. "(lg.jacrev, or mode = \"reverse\", works on tensors)")
    assert.has_error(function () lg.hessian(sq)(lg.ones(2)) end,
                     "luagrad.hessian: second derivatives of functions of tensors are not "
                     .. "supported yet (first order only: lg.grad, lg.vjp and lg.jacrev work "
                     .. "on tensors)")
    assert.has_error(function () lg.gradgradcheck(sq, { lg.ones(2) }) end, NOTYET)
  end)
end)

describe("lg.gradcheck and assert.gradients on tensors", function ()
  local X, Y = lg.tensor(F.X), lg.tensor(F.Y)
  local function f (W1, b1) return mlp({ W1 = W1, b1 = b1, W2 = lg.tensor(F.W2), b2 = 0.25 },
                                       X, Y) end

  it("checks every element of each tensor input", function ()
    local ok, report = lg.gradcheck(f, { lg.tensor(F.W1), lg.tensor(F.b1) })
    assert.is_true(ok)
    assert.truthy(report:find("^gradients agree; closest to failing: input %d element {%d"))
    assert.gradients(f, { lg.tensor(F.W1), lg.tensor(F.b1) })
    assert.gradients(function (w, s) return (w * s):sum() end, { lg.ones(2), 3 })
  end)

  it("names the worst element by its index", function ()
    local function broken (w, v)   -- w's element {2, 1} is read as a number: no gradient
      return (w * v):sum() + w:get(2, 1) ^ 2
    end
    local ok, report = lg.gradcheck(broken, { lg.tensor({ { 1, 2 }, { 3, 4 } }), lg.ones(2) })
    assert.is_false(ok)
    assert.truthy(report:find("^gradients differ at input 1 element {2, 1} %(x = 3%): backward 1, "
                              .. "central difference 7%.0000"), report)
    ok, report = lg.gradcheck(function (w, v) return (w * v):sum() + v:get(2) ^ 2 end,
                              { lg.ones(2, 2), lg.tensor({ 1, 5 }) })
    assert.is_false(ok)
    assert.truthy(report:find("^gradients differ at input 2 element {2} %(x = 5%)"))
    assert.is_not.gradients(broken, { lg.tensor({ { 1, 2 }, { 3, 4 } }), lg.ones(2) })
  end)
end)

describe("no_grad, enable_grad and stop_gradient on tensors", function ()
  it("record nothing under no_grad, and again under enable_grad", function ()
    local W = lg.ones(2, 2):requires_grad_()
    local y = lg.no_grad(function () return W * 2 end)
    assert.is_false(y.requires_grad)
    assert.is_true(y.is_leaf)
    local z = lg.no_grad(function () return lg.enable_grad(function () return W * 2 end) end)
    assert.is_true(z.requires_grad)
    near({ { 2, 2 }, { 2, 2 } }, lg.gradients(z:sum(), W))
  end)

  it("stop_gradient detaches a tensor", function ()
    local W = lg.ones(2):requires_grad_()
    local s = lg.stop_gradient(W * 3)
    assert.is_false(s.requires_grad)
    near({ 3, 3 }, s)
    near({ 3, 3 }, lg.grad(function (w) return (lg.stop_gradient(w) * w):sum() end)(lg.ones(2) * 3))
  end)
end)
