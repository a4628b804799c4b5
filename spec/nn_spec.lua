-- luagrad.nn: modules and losses (docs/learning.md). Outputs, losses and their input gradients
-- against PyTorch 1.13's (tests/fixtures/nn_fixture.py made tests/fixtures/nn_fixture.lua),
-- gradients against central differences, logits of +-1000, naming and state_dict round trips,
-- Dropout's statistics, Linear's initialization bounds, and every error word for word.
local lg = require("luagrad")
local nn = require("luagrad.nn")
local H = require("spec.helpers")

local FIX = dofile("tests/fixtures/nn_fixture.lua")

-- every element of tensor t within tol of the nested array want
local function near (want, t, tol)
  local got = t:totable()
  local function go (a, b, path)
    if type(a) == "table" then
      assert.are.equal(#a, #b, "size at " .. path)
      for i = 1, #a do go(a[i], b[i], path .. "[" .. i .. "]") end
    else
      assert(math.abs(a - b) <= tol * (1 + math.abs(a)), ("%s: expected %.17g, got %.17g"):format(path, a, b))
    end
  end
  go(want, got, "t")
end

local function names (m)
  local out = {}
  for i, p in ipairs(m:named_parameters()) do out[i] = p[1] end
  return table.concat(out, " ")
end

-- PyTorch's 0-based Sequential names made 1-based
local function onebased (sd)
  local out = {}
  for k, v in pairs(sd) do
    local i, rest = k:match("^(%d+)(%..*)$")
    out[tostring(tonumber(i) + 1) .. rest] = lg.tensor(v)
  end
  return out
end

describe("lg.nn", function ()
  it("is the table require('luagrad.nn') returns", function ()
    assert.are.equal(nn, lg.nn)
  end)
end)

describe("nn.Linear", function ()
  it("computes x W^T + b as PyTorch, for a batch and for one sample", function ()
    local f = FIX.linear
    local m = nn.Linear(3, 2)
    m:load_state_dict{weight = lg.tensor(f.weight), bias = lg.tensor(f.bias)}
    near(f.y, m(lg.tensor(FIX.X)), 1e-14)
    near(f.y1, m(lg.tensor(FIX.X[1])), 1e-14)
  end)

  it("initializes weight and bias uniformly within 1/sqrt(nin), from the seeded generator", function ()
    lg.manual_seed(3)
    local m = nn.Linear(16, 200)
    local b = 1 / math.sqrt(16)
    for _, p in ipairs{m.weight, m.bias} do
      local hi, lo = p:amax().data, p:amin().data
      assert.is_true(hi <= b and lo >= -b)
      assert.is_true(hi > 0.9 * b and lo < -0.9 * b)   -- the whole range is used
      assert.is_true(p.requires_grad and p.is_leaf)
    end
    assert.near(0, m.weight:mean().data, 0.01)
    lg.manual_seed(3)
    local again = nn.Linear(16, 200)
    assert.are.same(m.weight:totable(), again.weight:totable())
    assert.are.same(m.bias:totable(), again.bias:totable())
  end)

  it("makes float32 parameters with {dtype = 'float32'} (an extension)", function ()
    local m = nn.Linear(2, 2, {dtype = "float32"})
    assert.are.equal("float32", m.weight.dtype)
    assert.are.equal("float32", m.bias.dtype)
    assert.are.equal("float32", m(lg.ones(3, 2, {dtype = "float32"})).dtype)
  end)

  it("has weight then bias, or no bias with {bias = false}", function ()
    assert.are.equal("weight bias", names(nn.Linear(2, 3)))
    assert.are.equal("weight", names(nn.Linear(2, 3, {bias = false})))
    assert.are.same({3}, nn.Linear(2, 3, {bias = false})(lg.ones(2)).shape)
  end)

  it("refuses bad sizes and inputs", function ()
    assert.has_error(function () nn.Linear(0, 2) end,
                     "luagrad.nn.Linear: bad argument #1 (positive integer expected, got 0)")
    assert.has_error(function () nn.Linear(2, "3") end,
                     "luagrad.nn.Linear: bad argument #2 (positive integer expected, got string)")
    assert.has_error(function () nn.Linear(2, 3, {bais = false}) end,
                     "luagrad.nn.Linear: unknown option 'bais'")
    assert.has_error(function () nn.Linear(2, 3, {bias = 1}) end,
                     "luagrad.nn.Linear: bad option 'bias' (boolean expected, got number)")
    assert.has_error(function () nn.Linear(2, 3, {dtype = "int"}) end,
                     "luagrad.nn.Linear: bad option 'dtype' ('float64' or 'float32' expected, got 'int')")
    local mlp = nn.MLP(3, {4, 2}, {dtype = "float32"})
    for _, p in ipairs(mlp:parameters()) do assert.are.equal("float32", p.dtype) end
    assert.has_error(function () nn.MLP(3, {2}, {dtype = "int"}) end,
                     "luagrad.nn.MLP: bad option 'dtype' ('float64' or 'float32' expected, got 'int')")
    local m = nn.Linear(2, 3)
    assert.has_error(function () m(lg.ones(4, 3)) end,
                     "luagrad.nn.Linear: input of shape {4, 3} has 3 features, expected 2")
    assert.has_error(function () m({1, 2}) end,
                     "luagrad.nn.Linear: bad argument #1 (tensor expected, got table)")
  end)
end)

describe("activations", function ()
  local X = lg.tensor(FIX.X)
  for _, c in ipairs{{"ReLU"}, {"Tanh"}, {"Sigmoid"}, {"Softplus"}, {"Identity"},
                     {"LeakyReLU"}, {"LeakyReLU2", "LeakyReLU", 0.2}} do
    it(c[1] .. " agrees with PyTorch", function ()
      local m = nn[c[2] or c[1]](c[3])
      near(FIX.activations[c[1]], m(X), 1e-15)
      assert.are.equal("", names(m))
    end)
  end
  it("LeakyReLU defaults to a slope of 0.01", function ()
    assert.are.equal(0.01, nn.LeakyReLU().negative_slope)
    assert.has_error(function () nn.LeakyReLU("x") end,
                     "luagrad.nn.LeakyReLU: bad argument #1 (number expected, got string)")
  end)
end)

describe("nn.Sequential", function ()
  it("names parameters by 1-based position, activations counted", function ()
    local m = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)}
    assert.are.equal("1.weight 1.bias 3.weight 3.bias", names(m))
    assert.are.equal(m[1].weight, m:parameters()[1])
    assert.are.equal(m[3].bias, m:parameters()[4])
  end)

  it("applies its modules in order, as PyTorch", function ()
    local m = nn.Sequential{nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)}
    m:load_state_dict(onebased(FIX.seq.state))
    near(FIX.seq.y, m(lg.tensor(FIX.X)), 1e-14)
  end)

  it("refuses what is not a module", function ()
    assert.has_error(function () nn.Sequential(3) end,
                     "luagrad.nn.Sequential: bad argument #1 (array of modules expected, got number)")
    assert.has_error(function () nn.Sequential{nn.ReLU(), print} end,
                     "luagrad.nn.Sequential: entry 2 is not a module (got function)")
  end)
end)

describe("nn.MLP", function ()
  it("is Linear layers with the activation between them", function ()
    local m = nn.MLP(2, {4, 3, 1}, {activation = "tanh"})
    assert.are.equal("1.weight 1.bias 3.weight 3.bias 5.weight 5.bias", names(m))
    assert.are.equal("Sequential(\n  (1): Linear(in_features=2, out_features=4, bias=true)\n" ..
                     "  (2): Tanh()\n  (3): Linear(in_features=4, out_features=3, bias=true)\n" ..
                     "  (4): Tanh()\n  (5): Linear(in_features=3, out_features=1, bias=true)\n)",
                     tostring(m))
    local x = lg.tensor{{0.5, -1}}
    local want = m[5](lg.tanh(m[3](lg.tanh(m[1](x)))))
    assert.are.same(want:totable(), m(x):totable())
    assert.are.equal("ReLU()", tostring(nn.MLP(2, {3, 1})[2]))
  end)

  it("refuses bad sizes and options", function ()
    assert.has_error(function () nn.MLP(2, {}) end,
                     "luagrad.nn.MLP: bad argument #2 (non-empty array of layer sizes expected, got table)")
    assert.has_error(function () nn.MLP(2, {3, 0.5}) end,
                     "luagrad.nn.MLP: bad argument #2 (layer size 2 is not a positive integer: 0.5)")
    assert.has_error(function () nn.MLP(2, {3}, {activation = "gelu"}) end,
                     "luagrad.nn.MLP: bad option 'activation' ('relu', 'tanh', 'sigmoid', " ..
                     "'leaky_relu', 'softplus' or 'identity' expected, got 'gelu')")
    assert.has_error(function () nn.MLP(2, {3}, {act = "relu"}) end,
                     "luagrad.nn.MLP: unknown option 'act'")
  end)
end)

describe("nn.Dropout", function ()
  it("zeroes about p of the entries and scales the rest by 1/(1-p) in training", function ()
    lg.manual_seed(1)
    local m = nn.Dropout(0.3)
    local y = m(lg.ones(100, 100))
    local kept = y:gt(0):sum()
    assert.near(7000, kept.data, 4 * math.sqrt(10000 * 0.3 * 0.7))
    assert.near(1 / 0.7, y:amax().data, 1e-15)
    assert.near(1, y:mean().data, 0.03)   -- unbiased
    assert.are.equal(0, y:amin().data)
  end)

  it("is the identity in eval mode, and with p = 0; p = 1 gives zeros", function ()
    local x = lg.tensor{1, 2, 3}
    local m = nn.Sequential{nn.Dropout(0.5)}
    assert.are.equal(m, m:eval())
    assert.is_false(m[1].training)
    assert.are.equal(x, m(x))
    m:train()
    assert.is_true(m[1].training and m.training)
    assert.are.equal(x, nn.Dropout(0)(x))
    assert.are.same({0, 0, 0}, nn.Dropout(1)(x):totable())
    assert.are.equal(0.5, nn.Dropout().p)
    assert.has_error(function () nn.Dropout(1.5) end,
                     "luagrad.nn.Dropout: bad argument #1 (probability from 0 to 1 expected, got 1.5)")
  end)

  it("passes the gradient through the kept entries only", function ()
    lg.manual_seed(2)
    local x = lg.ones(50, {requires_grad = true})
    local y = nn.Dropout(0.5)(x)
    y:sum():backward()
    assert.are.same(y:totable(), x.grad:totable())
  end)
end)

describe("nn.Module", function ()
  local Net = nn.Module:extend()
  function Net:init (nin)
    self.fc = nn.Linear(nin, 3)
    self.layers = {nn.Linear(3, 2), nn.Linear(2, 1)}
    self.scale = lg.value(2)
    self._mask = lg.ones(3)            -- private: not a parameter
    self.name = "net"
  end
  function Net:forward (x) return self.layers[2](self.layers[1](self.fc(x) * self._mask)) * self.scale end

  it("finds parameters in fields: the array part, then names sorted, depth first", function ()
    local m = Net(2)
    assert.are.equal("fc.weight fc.bias layers.1.weight layers.1.bias layers.2.weight " ..
                     "layers.2.bias scale", names(m))
    assert.are.equal(7, #m:parameters())
    assert.are.same({1, 1}, m(lg.ones(1, 2)).shape)
  end)

  it("makes a plain table a module, and counts a shared parameter once", function ()
    local w = lg.ones(2, {requires_grad = true})
    local m = nn.Module{w, {w}, b = lg.value(1), forward = function (self, x) return x * self[1] end}
    assert.are.equal("1 b", names(m))
    assert.are.same({2, 4}, m(lg.tensor{2, 4}):totable())
    assert.has_error(function () nn.Module{}(1) end,
                     "luagrad.nn.Module: forward is not defined (give the module a forward method)")
  end)

  it("zero_grad sets tensor grads to nil and Value grads to 0", function ()
    local m = Net(2)
    m(lg.ones(1, 2)):sum():backward()
    assert.is_not_nil(m.fc.weight.grad)
    assert.are_not.equal(0, m.scale.grad)
    m:zero_grad()
    assert.is_nil(m.fc.weight.grad)
    assert.are.equal(0, m.scale.grad)
  end)

  it("state_dict shares storage; load_state_dict copies in", function ()
    local a, b = Net(2), Net(2)
    local sd = a:state_dict()
    assert.is_false(sd["fc.weight"].requires_grad)
    lg.no_grad(function () a.fc.weight:fill_(5) end)
    assert.are.equal(5, sd["fc.weight"]:get(1, 1))
    b:load_state_dict(sd)
    assert.are.same(a.fc.weight:totable(), b.fc.weight:totable())
    assert.are.equal(2, b.scale.data)
    lg.no_grad(function () a.fc.weight:fill_(1) end)
    assert.are.equal(5, b.fc.weight:get(1, 1))   -- a copy
    assert.is_true(b.fc.weight.requires_grad)
  end)

  it("load_state_dict is strict and changes nothing when it refuses", function ()
    local m = nn.Sequential{nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)}
    local sd = m:state_dict()
    local before = m[1].weight:totable()
    local function try (change, msg)
      local bad = {}
      for k, v in pairs(sd) do bad[k] = lg.zeros(v.shape) end
      change(bad)
      assert.has_error(function () m:load_state_dict(bad) end, msg)
      assert.are.same(before, m[1].weight:totable())
    end
    try(function (t) t["3.bias"] = nil end, "luagrad.nn.Module:load_state_dict: missing entry '3.bias'")
    try(function (t) t["2.weight"] = lg.ones(1) end,
        "luagrad.nn.Module:load_state_dict: unexpected entry '2.weight'")
    try(function (t) t["1.weight"] = lg.ones(2, 3) end,
        "luagrad.nn.Module:load_state_dict: entry '1.weight' has shape {2, 3}, expected {3, 2}")
    try(function (t) t["1.bias"] = {0, 0, 0} end,
        "luagrad.nn.Module:load_state_dict: entry '1.bias' is not a tensor (got table)")
    assert.has_error(function () m:load_state_dict(3) end,
                     "luagrad.nn.Module:load_state_dict: bad argument #1 (table expected, got number)")
  end)

  it("m:save and m:load round trip through a safetensors file", function ()
    local path = os.tmpname()
    local a, b = Net(2), Net(2)
    a.scale.data = 3
    a:save(path, {epoch = "4"})
    local t = lg.load(path)
    assert.are.same(a.layers[2].bias:totable(), t["layers.2.bias"]:totable())
    local m, meta = b:load(path)
    assert.are.equal(b, m)
    assert.are.equal("4", meta.epoch)
    for i, p in ipairs(a:parameters()) do
      local q = b:parameters()[i]
      if lg.type(p) == "tensor" then assert.are.same(p:totable(), q:totable())
      else assert.are.equal(p.data, q.data) end
    end
    os.remove(path)
  end)
end)

-- ---- losses ----------------------------------------------------------------------------------

local function classes (t) return t end

local LOSSES = {
  {"mse_loss"}, {"binary_cross_entropy"}, {"binary_cross_entropy_with_logits"},
  {"cross_entropy", classes}, {"nll_loss", classes}, {"hinge_loss"},
}

describe("losses", function ()
  for _, c in ipairs(LOSSES) do
    local name = c[1]
    for _, red in ipairs{"mean", "sum"} do
      local f = FIX.losses[name .. "_" .. red]
      local function target ()
        if c[2] then return f.target end
        return lg.tensor(f.target)
      end
      it(name .. " (" .. red .. ") agrees with PyTorch, value and gradient", function ()
        local x = lg.tensor(f.input, {requires_grad = true})
        local loss = nn[name](x, target(), red == "sum" and {reduction = red} or nil)
        assert.are.equal("value", lg.type(loss))
        assert.near(f.loss, loss.data, 1e-12 * (1 + math.abs(f.loss)))
        loss:backward()
        near(f.grad, x.grad, 1e-12)
      end)
      it(name .. " (" .. red .. ") agrees with a central difference", function ()
        local x0 = lg.tensor(f.input)
        if name == "binary_cross_entropy_with_logits" then   -- leave out the huge logits
          x0 = lg.clamp(x0, -30, 30)
        end
        local x = lg.tensor(x0, {requires_grad = true})
        local opts = {reduction = red}
        nn[name](x, target(), opts):backward()
        local flat, h = x0:reshape(-1), 1e-6
        for i = 1, flat:numel() do
          local up, down = lg.tensor(flat), lg.tensor(flat)
          up[i] = flat:get(i) + h
          down[i] = flat:get(i) - h
          local d = (nn[name](up:view(x0.shape), target(), opts).data -
                     nn[name](down:view(x0.shape), target(), opts).data) / (2 * h)
          assert.near(d, x.grad:reshape(-1):get(i), 1e-6 * (1 + math.abs(d)))
        end
      end)
    end
    it(name .. " with {reduction = 'none'} gives the losses (an extension)", function ()
      local f = FIX.losses[name .. "_mean"]
      local l = nn[name](lg.tensor(f.input), c[2] and f.target or lg.tensor(f.target),
                         {reduction = "none"})
      near(FIX.losses[name .. "_none"].loss, l, 1e-12)
    end)
  end

  it("binary_cross_entropy_with_logits is finite at +-1000, loss and gradient", function ()
    local z = lg.tensor({1000, -1000, 1000, -1000}, {requires_grad = true})
    local loss = nn.binary_cross_entropy_with_logits(z, lg.tensor{1, 0, 0, 1}, {reduction = "sum"})
    assert.are.equal(2000, loss.data)
    loss:backward()
    assert.are.same({0, 0, 1, -1}, z.grad:totable())
  end)

  it("cross_entropy is finite at logits of +-1000", function ()
    local z = lg.tensor({{1000, -1000}, {-1000, 1000}}, {requires_grad = true})
    local loss = nn.cross_entropy(z, {2, 2})
    assert.are.equal(1000, loss.data)
    loss:backward()
    assert.are.same({{0.5, -0.5}, {0, 0}}, z.grad:totable())
  end)

  it("cross_entropy takes classes as a tensor, and a 1-D input as one sample", function ()
    local z = lg.tensor{{1, 2, 3}, {3, 1, 0}}
    assert.are.equal(nn.cross_entropy(z, {3, 1}).data, nn.cross_entropy(z, lg.tensor{3, 1}).data)
    assert.near(nn.cross_entropy(z, {3, 1}, {reduction = "sum"}).data,
                nn.cross_entropy(z[1], 3).data + nn.cross_entropy(z[2], {1}).data, 1e-15)
  end)

  it("binary_cross_entropy clamps its logs at -100, as PyTorch", function ()
    assert.are.equal(100, nn.binary_cross_entropy(lg.tensor{0}, lg.tensor{1}).data)
    assert.are.equal(0, nn.binary_cross_entropy(lg.tensor{1}, lg.tensor{1}).data)
  end)

  it("refuses mismatched shapes, bad classes and bad arguments, word for word", function ()
    local E = {
      {function () nn.mse_loss(lg.ones(3, 1), lg.ones(3)) end,
       "luagrad.nn.mse_loss: input of shape {3, 1} and target of shape {3} differ"},
      {function () nn.hinge_loss(lg.ones(2), lg.ones(3)) end,
       "luagrad.nn.hinge_loss: scores of shape {2} and target of shape {3} differ"},
      {function () nn.hinge_loss(lg.ones(2, 2), lg.tensor{{1, -1}, {0, 1}}) end,
       "luagrad.nn.hinge_loss: target 0 at index 3 is not -1 or 1"},
      {function () nn.mse_loss({1}, lg.ones(1)) end,
       "luagrad.nn.mse_loss: bad argument #1 (tensor expected, got table)"},
      {function () nn.binary_cross_entropy_with_logits(lg.ones(1), 1) end,
       "luagrad.nn.binary_cross_entropy_with_logits: bad argument #2 (tensor expected, got number)"},
      {function () nn.binary_cross_entropy(lg.tensor{0.5, 1.5}, lg.ones(2)) end,
       "luagrad.nn.binary_cross_entropy: input values must be from 0 to 1 (got 1.5)"},
      {function () nn.mse_loss(lg.ones(1), lg.ones(1), {reduction = "avg"}) end,
       "luagrad.nn.mse_loss: bad option 'reduction' ('mean', 'sum' or 'none' expected, got 'avg')"},
      {function () nn.mse_loss(lg.ones(1), lg.ones(1), {reduce = "sum"}) end,
       "luagrad.nn.mse_loss: unknown option 'reduce'"},
      {function () nn.mse_loss(lg.ones(1), lg.ones(1), "sum") end,
       "luagrad.nn.mse_loss: bad argument #3 (table of options expected, got string)"},
      {function () nn.cross_entropy(lg.ones(2, 3), {1, 4}) end,
       "luagrad.nn.cross_entropy: class 4 at index 2 is out of range (1 to 3)"},
      {function () nn.cross_entropy(lg.ones(2, 3), {0, 1}) end,
       "luagrad.nn.cross_entropy: class 0 at index 1 is out of range (1 to 3)"},
      {function () nn.nll_loss(lg.ones(2, 3), lg.tensor{1, 1.5}) end,
       "luagrad.nn.nll_loss: class 1.5 at index 2 is not an integer"},
      {function () nn.nll_loss(lg.ones(2, 3), {1, "2"}) end,
       "luagrad.nn.nll_loss: class at index 2 is not a number (got string)"},
      {function () nn.cross_entropy(lg.ones(2, 3), {1}) end,
       "luagrad.nn.cross_entropy: input has 2 rows and classes 1 entries"},
      {function () nn.cross_entropy(lg.ones(2, 3), "1") end,
       "luagrad.nn.cross_entropy: bad argument #2 (array or tensor of class indices expected, got string)"},
      {function () nn.cross_entropy(lg.ones(2, 3), lg.ones(2, 1)) end,
       "luagrad.nn.cross_entropy: classes must be 1-D (got shape {2, 1})"},
      {function () nn.cross_entropy(lg.ones(2, 3, 4), {1, 1}) end,
       "luagrad.nn.cross_entropy: bad argument #1 (N x C tensor expected, got shape {2, 3, 4})"},
      {function () nn.nll_loss(3, {1}) end,
       "luagrad.nn.nll_loss: bad argument #1 (tensor expected, got number)"},
    }
    for _, e in ipairs(E) do assert.has_error(e[1], e[2]) end
  end)
end)

describe("docs/learning.md", function ()
  it("is read by save_spec (its examples run there)", function ()
    assert.is_true(H.readfile("docs/learning.md"):find("## Modules and losses", 1, true) ~= nil)
  end)
end)
