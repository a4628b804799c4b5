-- Every operation of luagrad: forward values, derivatives (one table-driven central-difference
-- check, one row per op), exact values, PyTorch's conventions at non-differentiable points,
-- numbers in and numbers out, op names, masks and where, and comparisons (sum and dot: nary_spec).
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/ops_spec.lua
-- (busted --lua=lua5.4 re-executes itself through a shell and splits that lpath at the ';')

local lg = require("luagrad")
local h = require("spec.helpers")
local near, isfloat, isnan, grads = h.near, h.isfloat, h.isnan, h.grads
local tanh, sigmoid, relu = h.tanh, h.sigmoid, h.relu

local H = 1e-6          -- central-difference step
local DTOL = 1e-6       -- derivative tolerance, relative above 1 and absolute below
local FTOL = 1e-12      -- forward-value tolerance, the same way
local inf = math.huge




local function neg (x) return -x end

local function cd1 (f, x)
  return (f(x + H) - f(x - H)) / (2 * H)
end

--[[ The gradient-check table, one row per op.
Unary rows: name, plain-Lua function, points (inside the domain; negative, near zero and
larger values), and exact = true where the module function on a number must equal the
plain-Lua one bit for bit (both are the C library's function).
Binary rows: name (the v.op it makes), plain-Lua function, the forms that make it
(method forms need a Value first), points {a, b} for every form, and extra points checked
only for Value op number. Numbers in the points are integers or floats as written. ]]
local UNARY = {
  {"neg",     neg,      {-2.5, -1e-3, 0, 1e-3, 3, 40}},
  {"exp",     math.exp, {-3, -1e-3, 0, 1e-3, 0.5, 4.5}, exact = true},
  {"log",     math.log, {1e-2, 0.3, 1, 2.5, 50}, exact = true},
  {"sqrt",    math.sqrt, {1e-2, 0.25, 1, 2, 100}, exact = true},
  {"sin",     math.sin, {-2.5, -1e-3, 0, 1, 3.5, 10}, exact = true},
  {"cos",     math.cos, {-2.5, -1e-3, 0, 1, 3.5, 10}, exact = true},
  {"tan",     math.tan, {-1.2, -1e-3, 0, 0.7, 1.4}, exact = true},
  {"tanh",    tanh,     {-3, -0.4, -1e-3, 0, 0.5, 5}},
  {"sigmoid", sigmoid,  {-30, -2, -1e-3, 0, 1.5, 30}},
  {"relu",    relu,     {-2, -1e-3, 1e-3, 0.5, 7}},
  {"abs",     math.abs, {-2, -1e-3, 1e-3, 3}, exact = true},
  {"sign",    function (x) return x > 0 and 1.0 or x < 0 and -1.0 or x end,
              {-2.5, -1e-3, 1e-3, 3}, exact = true},
  {"log1p",   function (x) return math.log(1 + x) end, {-0.9, -0.3, 0.25, 1, 30}},
  {"expm1",   function (x) return math.exp(x) - 1 end, {-5, -0.3, 0.25, 1, 8}},
  {"softplus", function (x) return math.log(1 + math.exp(x)) end, {-25, -1, -1e-3, 0, 2, 19.5}},
  {"square",  function (x) return x * x end, {-3, -1e-3, 0, 0.5, 12}, exact = true},
}

local ANYWHERE = {{-2, 3}, {0.5, -1e-3}, {1e-3, 0}, {4, 7.5}, {-10, -0.25}, {0, 0}, {3, 3}}

local BINARY = {
  {"+", function (a, b) return a + b end,
    {{"a + b", function (a, b) return a + b end}}, ANYWHERE},
  {"-", function (a, b) return a - b end,
    {{"a - b", function (a, b) return a - b end}}, ANYWHERE},
  {"*", function (a, b) return a * b end,
    {{"a * b", function (a, b) return a * b end}}, ANYWHERE},
  {"/", function (a, b) return a / b end,
    {{"a / b", function (a, b) return a / b end}},
    {{-2, 3}, {0.5, -0.1}, {1e-3, 2}, {4, 7.5}, {-10, -0.25}, {0, 1.5}, {7, 7}}},
  {"^", function (a, b) return a ^ b end,
    {{"a ^ b", function (a, b) return a ^ b end},
     {"lg.pow(a, b)", function (a, b) return lg.pow(a, b) end},
     {"a:pow(b)", function (a, b) return a:pow(b) end, method = true}},
    {{0.5, 2}, {2, -1.5}, {0.1, 3}, {1e-2, 1.5}, {3, 0.5}, {1.5, 0}, {7, 2.5}, {2, 3}},
    vnum = {{-1.5, 3}, {-2, 2}, {-0.5, -1}, {0, 2}, {-3, 0}, {-1e-3, 2}}},
  {"max", math.max,
    {{"lg.max(a, b)", function (a, b) return lg.max(a, b) end},
     {"a:max(b)", function (a, b) return a:max(b) end, method = true}},
    {{-2, 3}, {3, -2}, {0.5, 0.499}, {1e-3, -1e-3}, {7, 7.5}, {-10, 0}}},
  {"min", math.min,
    {{"lg.min(a, b)", function (a, b) return lg.min(a, b) end},
     {"a:min(b)", function (a, b) return a:min(b) end, method = true}},
    {{-2, 3}, {3, -2}, {0.5, 0.499}, {1e-3, -1e-3}, {7, 7.5}, {-10, 0}}},
  {"leaky_relu", function (a, s) return a > 0 and a or a * s end,
    {{"lg.leaky_relu(a, s)", function (a, b) return lg.leaky_relu(a, b) end},
     {"a:leaky_relu(s)", function (a, b) return a:leaky_relu(b) end, method = true}},
    {{-2, 0.01}, {3, 0.2}, {-0.5, -1.5}, {1e-3, 4}, {-1e-3, 0.3}, {-10, 0}}},
}

-- The masks: 1 where the comparison holds, else 0, with zero derivative (away from ties,
-- where a central difference sees the step)
local MASKPOINTS = {{-2, 3}, {3, -2}, {0.5, 0.25}, {1e-3, -1e-3}, {7, 7.5}, {-10, 0}}
for _, m in ipairs({ {"gt", function (a, b) return a > b end}, {"lt", function (a, b) return a < b end},
                     {"ge", function (a, b) return a >= b end}, {"le", function (a, b) return a <= b end},
                     {"eq", function (a, b) return a == b end}, {"ne", function (a, b) return a ~= b end} }) do
  local name, holds = m[1], m[2]
  BINARY[#BINARY + 1] = {name, function (a, b) return holds(a, b) and 1.0 or 0.0 end,
    {{"lg." .. name .. "(a, b)", function (a, b) return lg[name](a, b) end},
     {"a:" .. name .. "(b)", function (a, b) return a[name](a, b) end, method = true}},
    MASKPOINTS, mask = true}
end

local checked = {}   -- row name -> true once its checks are defined

local function row (rows, name)
  for _, r in ipairs(rows) do
    if r[1] == name then return r end
  end
  error("no gradient-check row for " .. name)
end

-- The central-difference checks for unary op `name`, as `it`s of the current describe, for
-- each form {label, function (x) ... end} that users write the op in.
local function unary_checks (name, forms)
  local r = row(UNARY, name)
  local f, points = r[2], r[3]
  checked[name] = true
  for _, form in ipairs(forms) do
    it(form[1] .. " agrees with the plain-Lua value and a central difference at " ..
       table.concat(points, ", "), function ()
      for _, x0 in ipairs(points) do
        local x = lg.value(x0)
        local y = form[2](x)
        assert.equal(name, y.op)
        assert.equal(0, y.grad)
        y:backward()
        local at = name .. " at " .. x0
        near(f(x0), y.data, FTOL, at)
        near(cd1(f, x0), x.grad, DTOL, at)
        assert.equal(1, y.grad)
      end
    end)
  end
  if lg[name] then
    it("lg." .. name .. " of a plain number is a plain number with the same value", function ()
      for _, x0 in ipairs(points) do
        local y = lg[name](x0)
        assert.equal("number", type(y))
        if r.exact then assert.equal(f(x0), y)
        else near(f(x0), y, FTOL, name .. " at " .. x0) end
      end
    end)
  end
end

local function binary_case (form, f, name, a0, b0, mix)
  local a, b = lg.value(a0), lg.value(b0)
  local y
  if mix == "vv" then y = form[2](a, b)
  elseif mix == "vn" then y = form[2](a, b0)
  else y = form[2](a0, b) end
  local at = form[1] .. " at " .. a0 .. ", " .. b0 .. " (" .. mix .. ")"
  assert.equal(name, y.op, at)
  y:backward()
  near(f(a0, b0), y.data, FTOL, at)
  local da = (f(a0 + H, b0) - f(a0 - H, b0)) / (2 * H)
  local db = (f(a0, b0 + H) - f(a0, b0 - H)) / (2 * H)
  if mix ~= "nv" then near(da, a.grad, DTOL, "d/da of " .. at) else assert.equal(0, a.grad) end
  if mix ~= "vn" then near(db, b.grad, DTOL, "d/db of " .. at) else assert.equal(0, b.grad) end
end

local function fmtpoints (points)
  local s = {}
  for i, p in ipairs(points) do s[i] = "(" .. p[1] .. ", " .. p[2] .. ")" end
  return table.concat(s, " ")
end

-- The central-difference checks for binary op `name`, in each of its forms.
local function binary_checks (name)
  local r = row(BINARY, name)
  local f, forms, points = r[2], r[3], r[4]
  checked[name] = true
  for _, form in ipairs(forms) do
    it(form[1] .. " of two Values agrees with a central difference in each argument at " ..
       fmtpoints(points), function ()
      for _, p in ipairs(points) do binary_case(form, f, name, p[1], p[2], "vv") end
    end)
    it(form[1] .. " of a Value and a number agrees with a central difference", function ()
      for _, p in ipairs(points) do binary_case(form, f, name, p[1], p[2], "vn") end
      for _, p in ipairs(r.vnum or {}) do binary_case(form, f, name, p[1], p[2], "vn") end
    end)
    if not form.method then
      it(form[1] .. " of a number and a Value agrees with a central difference", function ()
        for _, p in ipairs(points) do binary_case(form, f, name, p[1], p[2], "nv") end
      end)
    end
    it(form[1] .. " takes integer and float numbers alike", function ()
      local moved = 0   -- total |gradient| seen, so that the test can tell something
      for _, k in ipairs({1, 2, 3}) do
        local a1, a2 = lg.value(1.5), lg.value(1.5)
        local y1, y2 = form[2](a1, k), form[2](a2, k + 0.0)
        y1:backward(); y2:backward()
        assert.equal(f(1.5, k + 0.0), y1.data)
        assert.equal(y1.data, y2.data)
        assert.equal(a1.grad, a2.grad)
        isfloat(y1.data)
        moved = moved + math.abs(a1.grad)
        if not form.method then
          local b1, b2 = lg.value(1.5), lg.value(1.5)
          local z1, z2 = form[2](k, b1), form[2](k + 0.0, b2)
          z1:backward(); z2:backward()
          assert.equal(f(k + 0.0, 1.5), z1.data)
          assert.equal(z1.data, z2.data)
          assert.equal(b1.grad, b2.grad)
          isfloat(z1.data)
          moved = moved + math.abs(b1.grad)
        end
      end
      assert.is_true(moved > 0 or r.mask)
    end)
  end
end



describe("+", function ()
  binary_checks("+")

  it("gives the lecture's exact values for J = 3*(a + b*c) with a, b, c = 5, 3, 2", function ()
    local a, b, c = lg.value(5, "a"), lg.value(3, "b"), lg.value(2, "c")
    local J = 3 * (a + b * c)
    J:backward()
    assert.equal(33, J.data)
    isfloat(J.data)
    assert.same({3, 6, 9}, grads(a, b, c))
    assert.equal("*", J.op)
  end)

  it("is exact on small integers and gives each argument gradient 1", function ()
    local a, b = lg.value(2), lg.value(3)
    local y = a + b
    y:backward()
    assert.equal(5, y.data)
    assert.same({1, 1}, grads(a, b))
    assert.equal(7.5, (a + 5.5).data)
    assert.equal(9, (7 + a).data)
  end)

  it("of a Value with itself gives gradient 2", function ()
    local a = lg.value(4)
    local y = a + a
    y:backward()
    assert.equal(8, y.data)
    assert.equal(2, a.grad)
  end)
end)

describe("-", function ()
  binary_checks("-")

  it("gives gradients 1 and -1 exactly, with a number on either side", function ()
    local a, b = lg.value(2), lg.value(5)
    local y = a - b
    y:backward()
    assert.equal(-3, y.data)
    assert.same({1, -1}, grads(a, b))
    local c = lg.value(1.25)
    local z = 10 - c
    z:backward()
    assert.equal(8.75, z.data)
    assert.equal(-1, c.grad)
  end)

  it("of a Value with itself is 0 with gradient 0", function ()
    local a = lg.value(4)
    local y = a - a
    y:backward()
    assert.equal(0, y.data)
    assert.equal(0, a.grad)
  end)
end)

describe("*", function ()
  binary_checks("*")

  it("gives each argument the other's value as its gradient, exactly", function ()
    local a, b = lg.value(-3), lg.value(0.5)
    local y = a * b
    y:backward()
    assert.equal(-1.5, y.data)
    assert.same({0.5, -3}, grads(a, b))
  end)

  it("of a Value with itself gives gradient 2a", function ()
    local a = lg.value(-2.5)
    local y = a * a
    y:backward()
    assert.equal(6.25, y.data)
    assert.equal(-5, a.grad)
  end)
end)

describe("/", function ()
  binary_checks("/")

  it("gives 1/b and -a/b^2 exactly where they are exact", function ()
    local a, b = lg.value(3), lg.value(2)
    local y = a / b
    y:backward()
    assert.equal(1.5, y.data)
    assert.same({0.5, -0.75}, grads(a, b))
  end)

  it("divides by zero as IEEE does, without an error: 1/0 = inf", function ()
    local a = lg.value(1)
    local y
    assert.has_no.errors(function () y = a / 0; y:backward() end)
    assert.equal(inf, y.data)
    assert.equal(inf, a.grad)
    local b = lg.value(0)
    local z
    assert.has_no.errors(function () z = 1 / b; z:backward() end)
    assert.equal(inf, z.data)
    assert.equal(-inf, b.grad)
    local c = lg.value(-2)
    assert.equal(-inf, (c / 0).data)
    local n = lg.value(0) / lg.value(0)
    assert.is_true(isnan(n.data))
  end)
end)

describe("^ (also lg.pow and v:pow)", function ()
  binary_checks("^")

  it("is exact on small integer powers and names its op ^ in every form", function ()
    local x = lg.value(3)
    local y = x ^ 2
    y:backward()
    assert.equal(9, y.data)
    assert.equal(6, x.grad)
    assert.equal("^", lg.pow(x, 2).op)
    assert.equal("^", x:pow(2).op)
    assert.equal("^", lg.pow(2, x).op)
    assert.equal(8, (2 ^ lg.value(3)).data)
    assert.equal(0.25, (lg.value(2) ^ -2).data)
  end)

  it("of two numbers through lg.pow is a plain number", function ()
    local y = lg.pow(2, 3)
    assert.equal("number", type(y))
    assert.equal(8, y)
    assert.equal(2 ^ 0.5, lg.pow(2, 0.5))
  end)

  it("gives x^0 derivative 0 with respect to x, even at x = 0", function ()
    local x = lg.value(0)
    local y = x ^ 0
    y:backward()
    assert.equal(1, y.data)
    assert.equal(0, x.grad)
    local x2, p = lg.value(0), lg.value(0)
    local y2 = lg.pow(x2, p)
    y2:backward()
    assert.equal(1, y2.data)
    assert.equal(0, x2.grad)
    assert.equal(0, p.grad)   -- d/dy 0^y at y = 0 is 0 (PyTorch)
    local x3 = lg.value(-4)
    local y3 = x3:pow(0)
    y3:backward()
    assert.equal(0, x3.grad)
  end)

  it("gives x^y derivative 0 with respect to y where x = 0 and y >= 0", function ()
    local x, y = lg.value(0), lg.value(2)
    local z = x ^ y
    z:backward()
    assert.equal(0, z.data)
    assert.equal(0, x.grad)
    assert.equal(0, y.grad)
    local w = lg.value(0.5)
    local z2 = 0 ^ w     -- a number base
    z2:backward()
    assert.equal(0, z2.data)
    assert.equal(0, w.grad)
    local u = lg.value(0)
    local z3 = 0 ^ u
    z3:backward()
    assert.equal(1, z3.data)
    assert.equal(0, u.grad)
  end)

  it("gives NaN for d/dy (-2)^y, with no error", function ()
    local y = lg.value(2)
    local z
    assert.has_no.errors(function () z = (-2) ^ y; z:backward() end)
    assert.equal(4, z.data)
    assert.is_true(isnan(y.grad))
    local x, y2 = lg.value(-2), lg.value(2)
    local z2 = lg.pow(x, y2)
    z2:backward()
    assert.equal(4, z2.data)
    assert.equal(-4, x.grad)
    assert.is_true(isnan(y2.grad))
  end)

  it("gives NaN for a negative base to a fractional power, with no error", function ()
    local x = lg.value(-8)
    local y
    assert.has_no.errors(function () y = x ^ (1 / 3); y:backward() end)
    assert.is_true(isnan(y.data))
  end)
end)

describe("unary -", function ()
  unary_checks("neg", {{"-x", function (x) return -x end}})

  it("negates exactly, names its op neg, and gives gradient -1", function ()
    local x = lg.value(3)
    local y = -x
    y:backward()
    assert.equal(-3, y.data)
    assert.equal("neg", y.op)
    assert.equal(-1, x.grad)
    local z = lg.value(2)
    local w = -(-z)
    w:backward()
    assert.equal(2, w.data)
    assert.equal(1, z.grad)
  end)
end)

-- the forms of a unary op `name`: module function and method
local function fn_forms (name)
  return {
    {"lg." .. name .. "(x)", function (x) return lg[name](x) end},
    {"x:" .. name .. "()", function (x) return x[name](x) end},
  }
end

describe("lg.exp", function ()
  unary_checks("exp", fn_forms("exp"))

  it("of a number is exactly math.exp's, and exp(0) is 1 with gradient 1", function ()
    assert.equal(math.exp(1), lg.exp(1))
    local x = lg.value(0)
    local y = x:exp()
    y:backward()
    assert.equal(1, y.data)
    assert.equal(1, x.grad)
  end)

  it("overflows to inf without an error", function ()
    local x = lg.value(1000)
    local y = lg.exp(x)
    y:backward()
    assert.equal(inf, y.data)
    assert.equal(inf, x.grad)
  end)
end)

describe("lg.log", function ()
  unary_checks("log", fn_forms("log"))

  it("gives log(1) = 0 with gradient 1 exactly", function ()
    local x = lg.value(1)
    local y = x:log()
    y:backward()
    assert.equal(0, y.data)
    assert.equal(1, x.grad)
    assert.equal(0.5, (function () local z = lg.value(2); lg.log(z):backward(); return z.grad end)())
  end)

  it("gives NaN for log(-1) and -inf for log(0), with no error", function ()
    local a, b
    assert.has_no.errors(function () a = lg.log(lg.value(-1)); b = lg.value(0):log() end)
    assert.is_true(isnan(a.data))
    assert.equal(-inf, b.data)
    assert.is_true(isnan(lg.log(-1)))
    assert.equal(-inf, lg.log(0))
    local x = lg.value(0)
    local y = lg.log(x)
    assert.has_no.errors(function () y:backward() end)
    assert.equal(inf, x.grad)
    local x2 = lg.value(-1)
    local y2 = lg.log(x2)
    y2:backward()
    assert.equal(-1, x2.grad)   -- 1/x, as PyTorch
  end)
end)

describe("lg.sqrt", function ()
  unary_checks("sqrt", fn_forms("sqrt"))

  it("is exact on perfect squares with gradient 1/(2 sqrt x)", function ()
    local x = lg.value(16)
    local y = lg.sqrt(x)
    y:backward()
    assert.equal(4, y.data)
    assert.equal(0.125, x.grad)
  end)

  it("has derivative +inf at 0 (sqrt'(0) = inf, as PyTorch)", function ()
    local x = lg.value(0)
    local y = x:sqrt()
    y:backward()
    assert.equal(0, y.data)
    assert.equal(math.huge, x.grad)
  end)

  it("has derivative -inf at -0.0, as IEEE division and PyTorch give (log' too)", function ()
    for _, name in ipairs({ "sqrt", "log" }) do
      local negz, pos = lg.value(h.NEGZERO), lg.value(0)
      lg[name](negz):backward()
      lg[name](pos):backward()
      assert.equal(-math.huge, negz.grad, name)
      assert.equal(math.huge, pos.grad, name)
    end
  end)

  it("gives NaN for sqrt(-1), with no error", function ()
    local x = lg.value(-1)
    local y
    assert.has_no.errors(function () y = lg.sqrt(x); y:backward() end)
    assert.is_true(isnan(y.data))
    assert.is_true(isnan(lg.sqrt(-1)))
  end)
end)

describe("lg.sin", function ()
  unary_checks("sin", fn_forms("sin"))

  it("gives sin(0) = 0 with gradient cos(0) = 1 exactly", function ()
    local x = lg.value(0)
    local y = x:sin()
    y:backward()
    assert.equal(0, y.data)
    assert.equal(1, x.grad)
  end)
end)

describe("lg.cos", function ()
  unary_checks("cos", fn_forms("cos"))

  it("gives cos(0) = 1 with gradient -sin(0) = 0 exactly", function ()
    local x = lg.value(0)
    local y = lg.cos(x)
    y:backward()
    assert.equal(1, y.data)
    assert.equal(0, x.grad)
  end)
end)

describe("lg.tan", function ()
  unary_checks("tan", fn_forms("tan"))

  it("gives tan(0) = 0 with gradient 1 exactly", function ()
    local x = lg.value(0)
    local y = x:tan()
    y:backward()
    assert.equal(0, y.data)
    assert.equal(1, x.grad)
  end)
end)

describe("lg.tanh", function ()
  unary_checks("tanh", fn_forms("tanh"))

  it("gives tanh(0) = 0 with gradient 1, and saturates at +-1 with every digit of its "
     .. "tiny gradient", function ()
    local x = lg.value(0)
    local y = lg.tanh(x)
    y:backward()
    assert.equal(0, y.data)
    assert.equal(1, x.grad)
    for _, x0 in ipairs({ 19, 20, 40, -40, 300 }) do
      local big = lg.value(x0)
      local s = big:tanh()
      s:backward()
      assert.near(x0 > 0 and 1 or -1, s.data, 1e-15)
      -- sech^2 x = 4 e^(-2|x|) / (1 + e^(-2|x|))^2: 7.2e-35 at 40, where 1 - y^2 gives 0
      local e = math.exp(-2 * math.abs(x0))
      assert.near(4 * e / (1 + e) ^ 2, big.grad, 1e-15 * 4 * e)
      if x0 < 300 then assert.is_true(big.grad > 0) end
    end
    assert.equal(-1, lg.tanh(-40))
  end)

  it("gives sigmoid' every digit in both tails", function ()
    for _, x0 in ipairs({ 20, 40, 700, -20, -40, -700 }) do
      local x = lg.value(x0)
      lg.sigmoid(x):backward()
      -- sigmoid'(x) = e^(-|x|) / (1 + e^(-|x|))^2: 4.2e-18 at 40, where y (1 - y) gives 0
      local e = math.exp(-math.abs(x0))
      assert.near(e / (1 + e) ^ 2, x.grad, 1e-15 * e)
      if math.abs(x0) < 700 then assert.is_true(x.grad > 0) end
    end
  end)
end)

describe("lg.sigmoid", function ()
  unary_checks("sigmoid", fn_forms("sigmoid"))

  it("gives sigmoid(0) = 0.5 with gradient 0.25 exactly", function ()
    local x = lg.value(0)
    local y = x:sigmoid()
    y:backward()
    assert.equal(0.5, y.data)
    assert.equal(0.25, x.grad)
  end)

  it("stays finite and in [0, 1] far out, with no overflow to NaN", function ()
    for _, x0 in ipairs({-1000, -745, 745, 1000}) do
      local x = lg.value(x0)
      local y = lg.sigmoid(x)
      y:backward()
      assert.is_false(isnan(y.data))
      assert.is_true(y.data >= 0 and y.data <= 1)
      assert.is_false(isnan(x.grad))
      assert.near(0, x.grad, 1e-300)
    end
    assert.equal(1, lg.sigmoid(1000))
    assert.equal(0, lg.sigmoid(-1000))
  end)
end)

describe("lg.relu", function ()
  unary_checks("relu", fn_forms("relu"))

  it("passes positives with gradient 1 and clamps negatives to 0 with gradient 0", function ()
    local p, n = lg.value(2.5), lg.value(-2.5)
    local yp, yn = p:relu(), lg.relu(n)
    yp:backward(); yn:backward()
    assert.equal(2.5, yp.data)
    assert.equal(0, yn.data)
    assert.same({1, 0}, grads(p, n))
  end)

  it("has derivative 0 at 0 (relu'(0) = 0, as PyTorch)", function ()
    local x = lg.value(0)
    local y = lg.relu(x)
    y:backward()
    assert.equal(0, y.data)
    assert.equal(0, x.grad)
  end)

  it("keeps NaN as NaN", function ()
    local y = lg.relu(lg.value(0 / 0))
    assert.is_true(isnan(y.data))
    assert.is_true(isnan(lg.relu(0 / 0)))
  end)
end)

describe("lg.abs", function ()
  unary_checks("abs", fn_forms("abs"))

  it("gives gradient sign(x) exactly", function ()
    local p, n = lg.value(3), lg.value(-3)
    local yp, yn = p:abs(), lg.abs(n)
    yp:backward(); yn:backward()
    assert.equal(3, yp.data)
    assert.equal(3, yn.data)
    assert.same({1, -1}, grads(p, n))
  end)

  it("has derivative 0 at 0 (abs'(0) = 0, as PyTorch)", function ()
    local x = lg.value(0)
    local y = x:abs()
    y:backward()
    assert.equal(0, y.data)
    assert.equal(0, x.grad)
  end)
end)

-- the checks shared by lg.max and lg.min
local function maxmin_checks (name, f)
  binary_checks(name)

  it("sends the whole gradient to the " .. (name == "max" and "larger" or "smaller") ..
     " argument", function ()
    local a, b = lg.value(2), lg.value(5)
    local y = lg[name](a, b)
    y:backward()
    assert.equal(f(2, 5), y.data)
    if name == "max" then assert.same({0, 1}, grads(a, b))
    else assert.same({1, 0}, grads(a, b)) end
  end)

  it("splits the gradient 0.5/0.5 on a tie of two Values (as PyTorch)", function ()
    local a, b = lg.value(1.5), lg.value(1.5)
    local y = lg[name](a, b)
    y:backward()
    assert.equal(1.5, y.data)
    assert.same({0.5, 0.5}, grads(a, b))
    local c, d = lg.value(-4), lg.value(-4)
    local z = c[name](c, d)
    z:backward(3)
    assert.same({1.5, 1.5}, grads(c, d))
  end)

  it("gives a Value tied with a number half the gradient, in either order", function ()
    local a, b = lg.value(2), lg.value(2)
    local y1, y2 = lg[name](a, 2), lg[name](2.0, b)
    y1:backward(); y2:backward()
    assert.equal(2, y1.data)
    assert.equal(2, y2.data)
    assert.same({0.5, 0.5}, grads(a, b))
    local c = lg.value(7)
    local z = c[name](c, 7)
    z:backward()
    assert.equal(0.5, c.grad)
  end)

  it("of a Value with itself gives it the whole gradient", function ()
    local a = lg.value(3)
    local y = lg[name](a, a)
    y:backward()
    assert.equal(3, y.data)
    assert.equal(1, a.grad)
  end)

  it("gives NaN data and gradient 0 to both arguments when either is NaN", function ()
    for _, p in ipairs({{0 / 0, 1}, {1, 0 / 0}, {0 / 0, 0 / 0}}) do
      local a, b = lg.value(p[1]), lg.value(p[2])
      local y = lg[name](a, b)
      assert.has_no.errors(function () y:backward() end)
      assert.is_true(isnan(y.data))
      assert.same({0, 0}, grads(a, b))
    end
    local c = lg.value(0 / 0)
    local z = lg[name](c, 5)
    z:backward()
    assert.is_true(isnan(z.data))
    assert.equal(0, c.grad)
    assert.is_true(isnan(lg[name](0 / 0, 1)))
  end)

  it("of two numbers is a plain number; with a Value in either position it is a Value",
     function ()
    local y = lg[name](1, 2)
    assert.equal("number", type(y))
    assert.equal(f(1, 2), y)
    assert.equal("value", lg.type(lg[name](lg.value(1), 2)))
    assert.equal("value", lg.type(lg[name](1, lg.value(2))))
    assert.equal(f(1, 2), lg[name](1, lg.value(2)).data)
    assert.equal(f(1, 2), lg[name](lg.value(1), 2).data)
    assert.equal(name, lg[name](1, lg.value(2)).op)
  end)
end

describe("lg.max (also a:max(b))", function () maxmin_checks("max", math.max) end)
describe("lg.min (also a:min(b))", function () maxmin_checks("min", math.min) end)

describe("lg.sign", function ()
  unary_checks("sign", fn_forms("sign"))

  it("keeps 0, -0 and NaN as they are, and gives them no gradient", function ()
    assert.equal(1 / 0, 1 / lg.sign(0))
    assert.equal(-1 / 0, 1 / lg.sign(h.NEGZERO))
    local n = lg.sign(0 / 0)
    assert.is_true(n ~= n)
    local x = lg.value(0)
    lg.sign(x):backward()
    assert.equal(0, x.grad)
  end)
end)

describe("lg.log1p", function ()
  unary_checks("log1p", fn_forms("log1p"))

  it("is exact near 0, -inf at -1 (derivative +inf) and NaN below", function ()
    assert.equal(1e-300, lg.log1p(1e-300))
    local x = lg.value(-1)
    local y = lg.log1p(x)
    y:backward()
    assert.equal(-inf, y.data)
    assert.equal(inf, x.grad)
    assert.is_true(isnan(lg.log1p(-2)))
  end)
end)

describe("lg.expm1", function ()
  unary_checks("expm1", fn_forms("expm1"))

  it("is exact near 0, and its derivative e^x keeps its digits far left", function ()
    assert.equal(1e-300, lg.expm1(1e-300))
    local x = lg.value(-40)
    lg.expm1(x):backward()
    assert.equal(math.exp(-40), x.grad)   -- expm1(x) + 1 would give 0
  end)
end)

describe("lg.softplus", function ()
  unary_checks("softplus", fn_forms("softplus"))

  it("is x itself past 20 (PyTorch's threshold) with derivative 1, sigmoid(x) up to it",
     function ()
    local x = lg.value(20.5)
    local y = lg.softplus(x)
    y:backward()
    assert.same({20.5, 1}, {y.data, x.grad})
    x = lg.value(20)
    lg.softplus(x):backward()
    near(sigmoid(20), x.grad, 1e-15)
    assert.equal(1e300, lg.softplus(1e300))
    assert.equal(0, lg.softplus(-1e300))
  end)
end)

describe("lg.square", function ()
  unary_checks("square", fn_forms("square"))

  it("gives 2x exactly", function ()
    local x = lg.value(-1.5)
    local y = x:square()
    y:backward()
    assert.same({2.25, -3}, {y.data, x.grad})
  end)
end)

describe("lg.leaky_relu (also a:leaky_relu(s))", function ()
  binary_checks("leaky_relu")

  it("defaults the slope to 0.01 and has derivative slope at 0 (as PyTorch)", function ()
    local x = lg.value(0)
    local y = lg.leaky_relu(x)
    y:backward()
    assert.same({0, 0.01}, {y.data, x.grad})
    assert.equal(-0.05, lg.leaky_relu(-5))
    assert.is_true(isnan(lg.leaky_relu(0 / 0)))
  end)
end)

describe("lg.clamp (also x:clamp(lo, hi))", function ()
  checked.clamp = true

  it("agrees with min(max(x, lo), hi) and a central difference in each argument", function ()
    local f = function (x, lo, hi) return math.min(math.max(x, lo), hi) end
    for _, p in ipairs({ {-2, -1, 1}, {0.5, -1, 1}, {3, -1, 1}, {0.3, 0.5, 2}, {4, 0.5, 2} }) do
      local x, lo, hi = lg.value(p[1]), lg.value(p[2]), lg.value(p[3])
      local y = lg.clamp(x, lo, hi)
      assert.equal("clamp", y.op)
      y:backward()
      assert.equal(f(p[1], p[2], p[3]), y.data)
      local d = {}
      for i = 1, 3 do
        local q1, q2 = {p[1], p[2], p[3]}, {p[1], p[2], p[3]}
        q1[i], q2[i] = q1[i] + H, q2[i] - H
        d[i] = (f(q1[1], q1[2], q1[3]) - f(q2[1], q2[2], q2[3])) / (2 * H)
      end
      for i, g in ipairs({x.grad, lo.grad, hi.grad}) do near(d[i], g, DTOL) end
    end
  end)

  it("passes the gradient at the bounds (lo <= x <= hi, as PyTorch) and none outside",
     function ()
    for _, c in ipairs({ {-1, 1}, {1, 1}, {0, 1}, {-1.5, 0}, {1.5, 0} }) do
      local x = lg.value(c[1])
      x:clamp(-1, 1):backward()
      assert.equal(c[2], x.grad, "at " .. c[1])
    end
  end)
end)

describe("the masks lg.gt, lt, ge, le, eq, ne", function ()
  for _, name in ipairs({"gt", "lt", "ge", "le", "eq", "ne"}) do binary_checks(name) end

  it("hold or not on ties and NaN as Lua's comparisons do", function ()
    local nan = 0 / 0
    local want = { gt = {0, 0}, lt = {0, 0}, ge = {1, 0}, le = {1, 0}, eq = {1, 0}, ne = {0, 1} }
    for name, w in pairs(want) do
      assert.equal(w[1], lg[name](lg.value(2), 2).data, name .. " on a tie")
      assert.equal(w[2], lg[name](lg.value(nan), 2).data, name .. " with NaN")
      assert.equal(w[2], lg[name](nan, nan), name .. " with NaN, numbers")
    end
  end)
end)

describe("lg.where", function ()
  checked.where = true

  it("picks a where c is nonzero (NaN too), else b, and sends the gradient to the one picked",
     function ()
    for _, c0 in ipairs({ 1, -2.5, 0 / 0, 0, h.NEGZERO }) do
      local c, a, b = lg.value(c0), lg.value(3), lg.value(-4)
      local picked = c0 ~= 0
      local forms = { lg.where(c, a, b), c:where(a, b) }
      for _, y in ipairs(forms) do
        assert.equal("where", y.op)
        assert.equal(picked and 3 or -4, y.data)
        y:backward(2)
      end
      assert.equal(picked and 4 or 0, a.grad)
      assert.equal(picked and 0 or 4, b.grad)
      assert.equal(0, c.grad)
    end
  end)

  it("takes numbers in any place, and gives a number for three", function ()
    local a = lg.value(5)
    local y = lg.where(1, a, 7) + lg.where(0, 7, a) + lg.where(a, 1, 2)
    y:backward()
    assert.equal(11, y.data)
    assert.equal(2, a.grad)
    assert.equal(2.0, lg.where(0, 1, 2))
    isfloat(lg.where(1, 1, 2))
  end)

  it("agrees with a central difference in a and b", function ()
    for _, p in ipairs({ {1, 0.5, -3}, {0, 2, 7}, {-1, -1e-3, 4} }) do
      local c, a, b = lg.value(p[1]), lg.value(p[2]), lg.value(p[3])
      local y = lg.where(c, a * a, b * b * b)
      y:backward()
      local f = function (x, z) return p[1] ~= 0 and x * x or z * z * z end
      near(cd1(function (x) return f(x, p[3]) end, p[2]), a.grad, DTOL)
      near(cd1(function (z) return f(p[2], z) end, p[3]), b.grad, DTOL)
    end
  end)

  it("names a bad argument", function ()
    assert.has_error(function () lg.where(1, "x", 2) end,
      "luagrad.where: bad argument #2 (number or value expected, got string)")
    assert.has_error(function () lg.where({}, 1, 2) end,
      "luagrad.where: bad argument #1 (number or value expected, got table)")
  end)
end)

describe("lg.<unary op> on plain numbers", function ()
  it("returns plain numbers, the same as Lua's math library where it has the function",
     function ()
    assert.equal(math.exp(1), lg.exp(1))
    assert.equal(math.log(2), lg.log(2))
    assert.equal(math.sqrt(2), lg.sqrt(2))
    assert.equal(math.sin(1), lg.sin(1))
    assert.equal(math.cos(1), lg.cos(1))
    assert.equal(math.tan(1), lg.tan(1))
    assert.equal(3, lg.abs(-3))
    assert.equal(0, lg.relu(-3))
    assert.equal(3, lg.relu(3))
    assert.equal(0.5, lg.sigmoid(0))
    assert.equal(0, lg.tanh(0))
    for _, name in ipairs({"exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid",
                           "relu", "abs", "log1p", "expm1", "softplus", "square",
                           "leaky_relu"}) do
      assert.equal("number", type(lg[name](0.5)), name)
    end
  end)
end)

-- Lua 5.1 and LuaJIT call no metamethod to compare a userdata with a number
local NUMCMP = _VERSION ~= "Lua 5.1"

describe("< <= > >=", function ()
  it("compare the data of two Values and return booleans", function ()
    local a, b, c = lg.value(1), lg.value(2), lg.value(2)
    assert.equal(true, a < b)
    assert.equal(false, b < a)
    assert.equal(false, b < c)
    assert.equal(true, b <= c)
    assert.equal(true, a <= b)
    assert.equal(false, b <= a)
    assert.equal(true, b > a)
    assert.equal(false, b > c)
    assert.equal(true, b >= c)
    assert.equal(false, a >= b)
  end)

  it("compare a Value with a number, in both orders (Lua 5.2+; 5.1 raises)", function ()
    local a = lg.value(2)
    if not NUMCMP then
      assert.has_error(function () return a < 3 end, "attempt to compare userdata with number")
      assert.has_error(function () return 3 <= a end, "attempt to compare number with userdata")
      return
    end
    assert.equal(true, a < 3)
    assert.equal(false, a < 2)
    assert.equal(true, a <= 2)
    assert.equal(false, a <= 1.5)
    assert.equal(true, a > 1)
    assert.equal(false, a > 2)
    assert.equal(true, a >= 2.0)
    assert.equal(false, a >= 3)
    assert.equal(true, 1 < a)
    assert.equal(false, 2 < a)
    assert.equal(true, 2 <= a)
    assert.equal(false, 3 <= a)
    assert.equal(true, 3 > a)
    assert.equal(false, 2 > a)
    assert.equal(true, 2.0 >= a)
    assert.equal(false, 1 >= a)
  end)

  it("compare computed Values by their data and build no graph", function ()
    local a = lg.value(3)
    local b = a * 2
    assert.equal(true, a < b)
    assert.equal(false, b <= a)
    if NUMCMP then assert.equal(true, b >= 6) end
    b:backward()
    assert.equal(2, a.grad)
  end)

  it("follow IEEE for NaN: every comparison with NaN is false", function ()
    local n, a = lg.value(0 / 0), lg.value(1)
    assert.equal(false, n < a)
    assert.equal(false, n <= a)
    assert.equal(false, n > a)
    assert.equal(false, n >= a)
    assert.equal(false, n <= n)
  end)
end)

describe("==", function ()
  it("is identity: a Value equals itself and not another with the same data", function ()
    local a, b = lg.value(2), lg.value(2)
    assert.is_true(a == a)
    assert.is_false(a == b)
    assert.is_true(a ~= b)
    assert.is_false(a == 2)
    local c = a + 0
    assert.is_false(c == a)
    assert.equal(2, c.data)
  end)
end)

describe("the gradient-check table", function ()
  it("has a row for every op of the op table, and every row was checked", function ()
    local n = 0
    for _, op in ipairs(lg._ops) do
      local nary = op.arity == "n" or op.arity == "pairs"   -- specced in nary_spec
      assert.is_true(nary or checked[op.name] == true, "op " .. op.name .. " not checked")
      if op.arity == 1 or op.arity == 2 then n = n + 1 end
    end
    assert.equal(n, #UNARY + #BINARY)
  end)
end)
