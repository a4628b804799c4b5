-- Tensors as data: creation, the seeded generator, fields, conversions, printing and every
-- error message of these (docs/tensors.md). The ops on tensors and backward through them
-- are spec/tensor_autograd_spec.lua's.
local lg = require("luagrad")
local H = require("spec.helpers")

local function same (expected, t)   -- t's elements and shape, exactly
  assert.are.same(expected, t:totable())
end

describe("lg.tensor", function ()
  it("makes a tensor of nested arrays, float64 by default", function ()
    local t = lg.tensor{{1, 2}, {3, 4.5}, {5, 6}}
    assert.are.equal("tensor", lg.type(t))
    assert.are.same({3, 2}, t.shape)
    assert.are.equal("float64", t.dtype)
    same({{1, 2}, {3, 4.5}, {5, 6}}, t)
    same({7}, lg.tensor{7})
    same({{{1}, {2}}, {{3}, {4}}}, lg.tensor{{{1}, {2}}, {{3}, {4}}})
  end)
  it("takes dtype and requires_grad options", function ()
    local t = lg.tensor({0.1, 2}, {dtype = "float32", requires_grad = true})
    assert.are.equal("float32", t.dtype)
    assert.is_true(t.requires_grad)
    assert.are.equal(0.10000000149011612, t:get(1))   -- 0.1 rounded to float
    assert.is_false(lg.tensor({1}, {dtype = "float64"}).requires_grad)
  end)
  it("copies a tensor, without history, converting on request", function ()
    local a = lg.tensor({1.5, 2}, {requires_grad = true})
    local b = lg.tensor(a)
    assert.are_not.equal(a, b)
    assert.is_false(b.requires_grad)
    same({1.5, 2}, b)
    local c = lg.tensor(a, {dtype = "float32"})
    assert.are.equal("float32", c.dtype)
    assert.are.equal("float32", lg.tensor(c).dtype)   -- a copy keeps the dtype
  end)
  it("makes an empty 1-D tensor of {}", function ()
    assert.are.same({0}, lg.tensor{}.shape)
    assert.are.same({2, 0}, lg.tensor{{}, {}}.shape)
  end)
  it("refuses ragged tables, word for word", function ()
    assert.has_error(function () lg.tensor{{1, 2}, {3, 4, 5}} end,
      "luagrad.tensor: bad argument #1 (ragged nested table: row 2 has 3 entries, expected 2)")
    assert.has_error(function () lg.tensor{{{1}, {2}}, {{3}, {4, 5}}} end,
      "luagrad.tensor: bad argument #1 (ragged nested table: row {2, 2} has 2 entries, expected 1)")
    assert.has_error(function () lg.tensor{{1, 2}, 3} end,
      "luagrad.tensor: bad argument #1 (ragged nested table: row 2 is a number, expected 2 entries)")
  end)
  it("refuses entries that are not numbers", function ()
    assert.has_error(function () lg.tensor{1, "2"} end,
      "luagrad.tensor: bad argument #1 (number expected at index 2, got string)")
    assert.has_error(function () lg.tensor{{1, 2}, {3, {4}}} end,
      "luagrad.tensor: bad argument #1 (number expected at index {2, 2}, got table)")
    assert.has_error(function () lg.tensor{lg.value(1)} end,
      "luagrad.tensor: bad argument #1 (number expected at index 1, got value)")
    assert.has_error(function () lg.tensor(3) end,
      "luagrad.tensor: bad argument #1 (table expected, got number)")
  end)
  it("refuses bad options", function ()
    assert.has_error(function () lg.tensor({1}, {dtype = "int32"}) end,
      "luagrad.tensor: bad option 'dtype' ('float64' or 'float32' expected, got 'int32')")
    assert.has_error(function () lg.tensor({1}, {dtype = 32}) end,
      "luagrad.tensor: bad option 'dtype' (string expected, got number)")
    assert.has_error(function () lg.tensor({1}, {requires_grad = 1}) end,
      "luagrad.tensor: bad option 'requires_grad' (boolean expected, got number)")
    assert.has_error(function () lg.tensor({1}, {dtyp = "float32"}) end,
      "luagrad.tensor: unknown option 'dtyp'")
    assert.has_error(function () lg.tensor({1}, "float32") end,
      "luagrad.tensor: bad argument #2 (table expected, got string)")
  end)
  it("refuses more than 16 dimensions", function ()
    local deep = 1
    for _ = 1, 17 do deep = {deep} end
    assert.has_error(function () lg.tensor(deep) end,
      "luagrad.tensor: too many dimensions (17; at most 16)")
  end)
end)

describe("lg.zeros, lg.ones, lg.empty, lg.full", function ()
  it("take the shape as numbers or one array, then options", function ()
    same({{0, 0, 0}, {0, 0, 0}}, lg.zeros(2, 3))
    same({{1, 1, 1}, {1, 1, 1}}, lg.ones({2, 3}))
    assert.are.same({4, 1, 2}, lg.empty(4, 1, 2).shape)
    same({{2.5, 2.5}}, lg.full({1, 2}, 2.5))
    same({-1, -1, -1}, lg.full(3, -1))
    local z = lg.zeros(2, {dtype = "float32", requires_grad = true})
    assert.are.equal("float32", z.dtype)
    assert.is_true(z.requires_grad)
    assert.are.equal("float32", lg.ones({2}, {dtype = "float32"}).dtype)
    assert.are.equal("float32", lg.full({2}, 1, {dtype = "float32"}).dtype)
    same({}, lg.zeros(0))
  end)
  it("refuse negative, fractional and NaN sizes", function ()
    assert.has_error(function () lg.zeros(2, -1) end,
      "luagrad.zeros: bad argument #2 (non-negative integer size expected, got -1)")
    assert.has_error(function () lg.ones({2, 2.5}) end,
      "luagrad.ones: bad argument #1 (non-negative integer size expected at index 2, got 2.5)")
    assert.has_error(function () lg.empty(0 / 0) end,
      "luagrad.empty: bad argument #1 (non-negative integer size expected, got nan)")
    assert.has_error(function () lg.zeros({2, "3"}) end,
      "luagrad.zeros: bad argument #1 (size expected at index 2, got string)")
    assert.has_error(function () lg.zeros() end,
      "luagrad.zeros: bad argument #1 (number or table expected, got no value)")
    assert.has_error(function () lg.zeros(2, "3") end,
      "luagrad.zeros: bad argument #2 (number or table expected, got string)")
    assert.has_error(function () lg.zeros({}) end,
      "luagrad.zeros: bad argument #1 (a shape of at least one size expected, got an empty table)")
    assert.has_error(function () lg.full({2}, "x") end,
      "luagrad.full: bad argument #2 (number expected, got string)")
  end)
  it("refuse a shape whose number of elements overflows", function ()
    assert.has_error(function () lg.zeros(1e10, 1e10, 1e10) end,
      "luagrad.zeros: shape {10000000000, 10000000000, 10000000000} has too many elements")
    assert.has_error(function () lg.ones({2 ^ 40, 2 ^ 40}) end,
      "luagrad.ones: shape {1099511627776, 1099511627776} has too many elements")
  end)
  it("fail a huge shape with 'not enough memory', and the state keeps working", function ()
    assert.has_error(function () lg.zeros(1e7, 1e7) end, "not enough memory")
    assert.has_error(function () lg.empty({1e6, 1e6, 8}) end, "not enough memory")
    same({0, 0}, lg.zeros(2))
  end)
end)

describe("lg.eye, lg.arange, lg.linspace", function ()
  it("eye makes an identity, square or not", function ()
    same({{1, 0}, {0, 1}}, lg.eye(2))
    same({{1, 0, 0}, {0, 1, 0}}, lg.eye(2, 3))
    assert.are.equal("float32", lg.eye(2, {dtype = "float32"}).dtype)
    assert.has_error(function () lg.eye(-2) end,
      "luagrad.eye: bad argument #1 (non-negative integer size expected, got -2)")
  end)
  it("arange is half-open, as PyTorch's", function ()
    same({0, 1, 2, 3, 4}, lg.arange(5))
    same({2, 3, 4}, lg.arange(2, 5))
    same({1, 1.25, 1.5, 1.75}, lg.arange(1, 2, 0.25))
    same({5, 3, 1}, lg.arange(5, 0, -2))
    same({}, lg.arange(3, 3))
    assert.are.equal("float32", lg.arange(3, {dtype = "float32"}).dtype)
    assert.has_error(function () lg.arange(0, 5, 0) end,
      "luagrad.arange: bad argument #3 (nonzero step expected, got 0)")
    assert.has_error(function () lg.arange(0, 5, -1) end,
      "luagrad.arange: step -1 does not lead from 0 to 5")
    assert.has_error(function () lg.arange(1 / 0) end,
      "luagrad.arange: bad argument #1 (finite number expected, got inf)")
    assert.has_error(function () lg.arange("5") end,
      "luagrad.arange: bad argument #1 (number expected, got string)")
  end)
  it("linspace includes both ends", function ()
    same({0, 0.25, 0.5, 0.75, 1}, lg.linspace(0, 1, 5))
    same({3}, lg.linspace(3, 7, 1))
    same({}, lg.linspace(3, 7, 0))
    assert.are.equal(0.3, lg.linspace(0.1, 0.3, 3):get(3))
    assert.has_error(function () lg.linspace(0, 1, -1) end,
      "luagrad.linspace: bad argument #3 (non-negative integer size expected, got -1)")
  end)
end)

describe("the seeded generator", function ()
  -- the same numbers on every Lua and platform (src/core/random.c says how they are made)
  it("gives pinned numbers after lg.manual_seed(42)", function ()
    lg.manual_seed(42)
    same({0.083862971059882163, 0.37898025066266861, 0.68004341102813937}, lg.rand(3))
    same({0.93572083049237531, 0.7606036515911091, 0.58891823284225397, 0.43978407164172567},
         lg.randn(4))
    same({6, 2, 6, 3, 6}, lg.randint(1, 6, {5}))
    same({1, 2, 6, 4, 5, 3}, lg.randperm(6))
    same({0.17902278900146484, 0.43619632720947266}, lg.rand(2, {dtype = "float32"}))
    same({0.89047867059707642, -1.6236772537231445}, lg.randn({2}, {dtype = "float32"}))
  end)
  it("repeats itself after the same seed, the _like forms included", function ()
    lg.manual_seed(7)
    local a, b = lg.rand(2, 3), lg.randn(5)
    lg.manual_seed(7)
    same(a:totable(), lg.rand_like(a))
    same(b:totable(), lg.randn_like(b))
  end)
  it("keeps randint within [lo, hi] and randperm a permutation of 1..n", function ()
    lg.manual_seed(1)
    local seen = {}
    for _, x in ipairs(lg.randint(-2, 2, 200):totable()) do
      assert.is_true(x >= -2 and x <= 2 and x == math.floor(x))
      seen[x] = true
    end
    for x = -2, 2 do assert.is_true(seen[x]) end
    local p = lg.randperm(50):totable()
    table.sort(p)
    for i = 1, 50 do assert.are.equal(i, p[i]) end
    same({}, lg.randperm(0))
  end)
  it("refuses bad arguments", function ()
    assert.has_error(function () lg.manual_seed(1.5) end,
      "luagrad.manual_seed: bad argument #1 (integer expected, got 1.5)")
    assert.has_error(function () lg.manual_seed("1") end,
      "luagrad.manual_seed: bad argument #1 (number expected, got string)")
    assert.has_error(function () lg.randint(3, 1, {2}) end,
      "luagrad.randint: empty range (lo 3 is above hi 1)")
    assert.has_error(function () lg.randint(0, 1.5, {2}) end,
      "luagrad.randint: bad argument #2 (integer expected, got 1.5)")
    assert.has_error(function () lg.randint(0, 1) end,
      "luagrad.randint: bad argument #3 (table expected, got no value)")
    assert.has_error(function () lg.randperm(-1) end,
      "luagrad.randperm: bad argument #1 (non-negative integer size expected, got -1)")
    assert.has_error(function () lg.rand_like({}) end,
      "luagrad.rand_like: bad argument #1 (tensor expected, got table)")
  end)
end)

describe("the _like functions", function ()
  it("keep the shape and dtype", function ()
    local t = lg.ones({2, 3}, {dtype = "float32"})
    local z = lg.zeros_like(t)
    assert.are.same({2, 3}, z.shape)
    assert.are.equal("float32", z.dtype)
    same({{1, 1, 1}, {1, 1, 1}}, lg.ones_like(z))
    assert.are.equal("float64", lg.zeros_like(t, {dtype = "float64"}).dtype)
  end)
end)

describe("fields", function ()
  local t = lg.tensor{{1, 2, 3}, {4, 5, 6}}
  it("shape is a fresh array of the sizes; size, dim, numel, # as the contract", function ()
    local s = t.shape
    s[1] = 99
    assert.are.same({2, 3}, t.shape)
    assert.are.same({2, 3}, t:size())
    assert.are.equal(3, t:size(2))
    assert.are.equal(3, t:size(-1))
    assert.are.equal(2, t:size(-2))
    assert.are.equal(2, t:dim())
    assert.are.equal(6, t:numel())
    assert.are.equal(2, #t)
    assert.are.equal(6, lg.numel(t))
    assert.are.equal(2, lg.dim(t))
  end)
  it("dtype, requires_grad, grad, is_leaf and op", function ()
    assert.are.equal("float64", t.dtype)
    assert.is_false(t.requires_grad)
    assert.is_nil(t.grad)
    assert.is_true(t.is_leaf)
    assert.are.equal("leaf", t.op)
  end)
  it("requires_grad_ sets the flag and returns the tensor", function ()
    local w = lg.zeros(2)
    assert.are.equal(w, w:requires_grad_())
    assert.is_true(w.requires_grad)
    w:requires_grad_(false)
    assert.is_false(w.requires_grad)
    w.requires_grad = true
    assert.is_true(w.requires_grad)
    assert.are.equal(w, lg.requires_grad_(w, true))
    assert.has_error(function () w:requires_grad_(1) end,
      "luagrad.requires_grad_: bad argument #2 (boolean expected, got number)")
    assert.has_error(function () w.requires_grad = "yes" end,
      "luagrad.requires_grad: bad value (boolean expected, got string)")
  end)
  it("grad is assignable to nil or a tensor of the same shape and dtype", function ()
    local w = lg.zeros(2, 3)
    local g = lg.ones(2, 3)
    w.grad = g
    assert.are.equal(g, w.grad)
    w.grad = nil
    assert.is_nil(w.grad)
    assert.has_error(function () w.grad = lg.ones(3, 2) end,
      "luagrad.grad: bad value (a gradient of shape {2, 3} expected, got {3, 2})")
    assert.has_error(function () w.grad = lg.ones({2, 3}, {dtype = "float32"}) end,
      "luagrad.grad: bad value (a float64 gradient expected, got float32)")
    assert.has_error(function () w.grad = 0 end,
      "luagrad.grad: bad value (tensor or nil expected, got number)")
    assert.is_nil(w.grad)
  end)
  it("a grad lives as long as its tensor", function ()
    local w = lg.zeros(2)
    w.grad = lg.full({2}, 3)
    collectgarbage()
    collectgarbage()
    same({3, 3}, w.grad)
  end)
  it("reading an unknown field is an error naming it; assigning one too", function ()
    assert.has_error(function () return t.foo end, "luagrad: tensor has no field 'foo'")
    assert.has_error(function () return t[true] end,
      "luagrad: cannot index a tensor with a boolean (t[i] takes a number; t:get(i, ...) "
      .. "reads an element)")
    assert.has_error(function () t.shape = {1} end,
      "luagrad: cannot assign field 'shape' of a tensor (only grad, requires_grad)")
    assert.has_error(function () t[true] = 0 end,
      "luagrad: cannot assign a boolean key of a tensor (only grad, requires_grad)")
  end)
  it("dimensions out of range are the binding's error", function ()
    assert.has_error(function () t:size(3) end,
      "luagrad: dimension 3 out of range for a tensor of 2 dimensions")
    assert.has_error(function () t:size(0) end,
      "luagrad: dimension 0 out of range for a tensor of 2 dimensions")
    assert.has_error(function () t:size(-3) end,
      "luagrad: dimension -3 out of range for a tensor of 2 dimensions")
    assert.has_error(function () t:size(1.5) end,
      "luagrad.size: bad argument #2 (integer expected, got 1.5)")
    assert.has_error(function () lg.size(3) end,
      "luagrad.size: bad argument #1 (tensor expected, got number)")
  end)
  it("the metatable is locked; lg.type tells tensors from Values", function ()
    assert.are.equal("luagrad.Tensor", getmetatable(t))
    assert.are.equal("value", lg.type(lg.value(1)))
    assert.is_nil(lg.type({}))
  end)
  it("comparing tensors is an error pointing to lt and le", function ()
    assert.has_error(function () return t < t end,
      "luagrad: '<' is not defined on tensors (t:lt(x) compares elementwise)")
    assert.has_error(function () return t <= t end,
      "luagrad: '<=' is not defined on tensors (t:le(x) compares elementwise)")
    assert.is_false(t == lg.tensor(t))   -- == stays identity
    assert.is_true(t == t)
  end)
  it("a Value meets a tensor as a scalar operand: the result is a tensor", function ()
    assert.are.equal("tensor", lg.type(lg.value(1) + t))
    assert.has_error(function () return lg.value(1) + {} end,
      "luagrad: bad operand #2 to '+' (number or value expected, got table)")
  end)
end)

describe("conversions", function ()
  it("totable gives nested arrays of numbers", function ()
    local t = lg.tensor({{1, 2}, {3, 4}}, {dtype = "float32"})
    same({{1, 2}, {3, 4}}, t)
    assert.are.same({{1, 2}, {3, 4}}, lg.totable(t))
  end)
  it("item gives the one element, else an error", function ()
    assert.are.equal(2.5, lg.tensor{{2.5}}:item())
    assert.are.equal(2.5, lg.item(lg.tensor{2.5}))
    assert.has_error(function () lg.tensor{1, 2, 3}:item() end,
      "luagrad.item: a tensor of 3 elements has no single number (exactly one element expected)")
    assert.has_error(function () lg.zeros(0):item() end,
      "luagrad.item: a tensor of 0 elements has no single number (exactly one element expected)")
  end)
  it("get reads one element, 1-based, negative from the end", function ()
    local t = lg.tensor{{1, 2, 3}, {4, 5, 6}}
    assert.are.equal(1, t:get(1, 1))
    assert.are.equal(6, t:get(2, 3))
    assert.are.equal(6, t:get(-1, -1))
    assert.are.equal(1, t:get(-2, 1))
    assert.are.equal(5, t:get(-1, 2))
    assert.are.equal(5, lg.get(t, 2, 2))
    assert.has_error(function () t:get(3, 1) end,
      "luagrad: index 3 out of range for dimension 1 of size 2")
    assert.has_error(function () t:get(1, 0) end,
      "luagrad: index 0 out of range for dimension 2 of size 3")
    assert.has_error(function () t:get(1, -4) end,
      "luagrad: index -4 out of range for dimension 2 of size 3")
    assert.has_error(function () lg.tensor{1, 2, 3}:get(5) end,
      "luagrad: index 5 out of range for dimension 1 of size 3")
    assert.has_error(function () t:get(1) end,
      "luagrad.get: 2 indices expected (one per dimension), got 1")
    assert.has_error(function () t:get(1, 1.5) end,
      "luagrad.get: bad argument #3 (integer expected, got 1.5)")
    assert.has_error(function () t:get(1, "2") end,
      "luagrad.get: bad argument #3 (number expected, got string)")
  end)
  it("detach makes a new leaf of the same numbers, with no requires_grad", function ()
    local w = lg.tensor({1, 2}, {requires_grad = true})
    local d = w:detach()
    assert.are_not.equal(w, d)
    assert.is_false(d.requires_grad)
    assert.is_true(d.is_leaf)
    same({1, 2}, d)
    same({1, 2}, lg.detach(w))
    assert.are.equal(3, lg.detach(lg.value(3)).data)   -- a Value's detach too
  end)
  it("clone copies; contiguous of a contiguous tensor is the tensor", function ()
    local t = lg.tensor({{1, 2}, {3, 4}}, {dtype = "float32"})
    local c = t:clone()
    assert.are_not.equal(t, c)
    assert.are.equal("float32", c.dtype)
    same({{1, 2}, {3, 4}}, c)
    assert.are.equal(t, t:contiguous())
    assert.are.equal(t, lg.contiguous(t))
    local r = lg.tensor({1}, {requires_grad = true}):clone()
    assert.is_true(r.requires_grad)   -- a copy with history
    assert.are.equal("copy", r.op)
  end)
  it("to converts between dtypes, and is the tensor itself when it has that dtype", function ()
    local t = lg.tensor{0.1, 1e300}
    local f = t:to("float32")
    assert.are.equal("float32", f.dtype)
    assert.are.same({0.10000000149011612, 1 / 0}, f:totable())
    assert.are.equal(t, t:to("float64"))
    assert.are.equal("float64", f:to("float64").dtype)
    assert.has_error(function () t:to("half") end,
      "luagrad.to: bad argument #2 ('float64' or 'float32' expected, got 'half')")
    assert.has_error(function () t:to() end,
      "luagrad.to: bad argument #2 (string expected, got no value)")
    assert.is_true(lg.tensor({1}, {requires_grad = true}):to("float32").requires_grad)
  end)
end)

describe("tostring", function ()
  it("prints PyTorch's layout: rows aligned, the shape, the dtype when not float64", function ()
    assert.are.equal("Tensor([1, 2, 3], shape={3})", tostring(lg.tensor{1, 2, 3}))
    assert.are.equal("Tensor([[  1,   2],\n        [  3, 4.5]], shape={2, 2})",
                     tostring(lg.tensor{{1, 2}, {3, 4.5}}))
    assert.are.equal("Tensor([[[1, 2]],\n\n        [[3, 4]]], shape={2, 1, 2})",
                     tostring(lg.tensor{{{1, 2}}, {{3, 4}}}))
    assert.are.equal("Tensor([0.5], shape={1}, dtype=float32)",
                     tostring(lg.tensor({0.5}, {dtype = "float32"})))
    assert.are.equal("Tensor([0, 0], shape={2}, requires_grad=true)",
                     tostring(lg.zeros(2):requires_grad_()))
    assert.are.equal("Tensor([], shape={2, 0})", tostring(lg.zeros(2, 0)))
  end)
  local function squeezed (t)   -- without the alignment's spaces
    return (tostring(t):gsub(" +", " "):gsub("%[ ", "["))
  end
  it("prints numbers in the shortest form that reads back the same", function ()
    assert.are.equal("Tensor([0.1, 0.3333333333333333, 1e-300, inf, -inf, nan, 100000], shape={7})",
                     squeezed(lg.tensor{0.1, 1 / 3, 1e-300, 1 / 0, -1 / 0, 0 / 0, 1e5}))
    assert.are.equal("Tensor([0.1, 0.33333334], shape={2}, dtype=float32)",
                     squeezed(lg.tensor({0.1, 1 / 3}, {dtype = "float32"})))
    for _, x in ipairs({0.1, 1 / 3, 2 ^ -1074, 1.7976931348623157e308, 123456.789}) do
      local s = tostring(lg.tensor{x}):match("%[(.*)%]")
      assert.are.equal(x, tonumber(s))
    end
  end)
  it("abbreviates past 1000 elements with ...", function ()
    assert.are.equal("Tensor([   0,    1,    2,  ..., 1997, 1998, 1999], shape={2000})",
                     tostring(lg.arange(2000)))
    local s = tostring(lg.arange(8000):to("float32"):clone())
    assert.are.equal("Tensor([   0,    1,    2,  ..., 7997, 7998, 7999], shape={8000}, dtype=float32)", s)
    assert.are.equal("Tensor([  1,   1,   1, ...,   1,   1,   1], shape={1001})", tostring(lg.ones(1001)))
    assert.are.equal(tostring(lg.ones(1000)), "Tensor([" .. ("1, "):rep(999) .. "1], shape={1000})")
  end)
  it("abbreviates rows too", function ()
    local s = tostring(lg.zeros(8, 200))
    local lines = {}
    for line in (s .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
    assert.are.equal(7, #lines)
    assert.are.equal("Tensor([[  0,   0,   0, ...,   0,   0,   0],", lines[1])
    assert.are.equal("        ...,", lines[4])
    assert.are.equal("        [  0,   0,   0, ...,   0,   0,   0]], shape={8, 200})", lines[7])
  end)
  it("concatenates through tostring", function ()
    local t = lg.tensor{1}
    assert.are.equal("t = Tensor([1], shape={1})", "t = " .. t)
    assert.are.equal("Tensor([1], shape={1})!", t .. "!")
    assert.are.equal("Tensor([1], shape={1})2", t .. 2)
    assert.has_error(function () return t .. {} end,
      "luagrad: bad operand #2 to '..' (string or number expected, got table)")
  end)
end)

describe("memory", function ()
  it("a loop making fresh tensors stays flat without collectgarbage()", function ()
    local before, peak = nil, 0
    for i = 1, 6000 do   -- 48 MB made in all, 8 KB at a time
      local t = lg.zeros(1000)
      if i == 1000 then before = collectgarbage("count") end
      if i > 1000 then peak = math.max(peak, collectgarbage("count")) end
      assert(t)
    end
    assert.is_true(peak < 3 * before + 2048)   -- the collector's pause, not 40 MB more
  end)
end)

describe("docs/tensors.md", function ()
  H.docexamples(it, "docs/tensors.md", 5)
end)
