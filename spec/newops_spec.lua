-- The elementwise ops log1p, expm1, softplus, square, clamp and leaky_relu, on Values,
-- numbers and tensors: values and derivatives against PyTorch 1.13's (float64, written in as
-- literals below), against known numbers and central differences; second derivatives;
-- their conventions at 0, at clamp's bounds, in the tails, at -1, NaN, inf and -0.0;
-- lg.compile replays across the kinks; tensors with broadcasting in both dtypes; and every
-- error word for word.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/newops_spec.lua

local lg = require("luagrad")
local h = require("spec.helpers")
local same, close, badarg = h.same, h.close, h.badarg

local inf, nan, negzero = math.huge, 0 / 0, h.NEGZERO
local HSTEP = 1e-6
local unpack = table.unpack or unpack

-- PyTorch 1.13 (Debian's python3-torch), float64 unless said: torch.log1p, torch.expm1,
-- F.softplus, torch.square, F.leaky_relu (slope 0.01, then 0.2), torch.clamp with number
-- bounds (0..1, min only, max only, 2..1) and with tensor bounds (every gradient), and the
-- float32 kernels' values. Made by a short script once; x, y, dy/dx, d2y/dx2 per row.
local TORCH = {
  log1p = {   -- x, y, dy/dx, d2y/dx2
    {-1.0, -inf, inf, -inf},
    {-0.999, -6.907755278982136, 999.9999999999991, -999999.9999999983},
    {-0.5, -0.6931471805599453, 2.0, -4.0},
    {negzero, negzero, 1.0, -1.0},
    {0.0, 0.0, 1.0, -1.0},
    {1e-10, 9.999999999500001e-11, 0.9999999999, -0.9999999998},
    {0.001, 0.0009995003330835331, 0.9990009990009991, -0.9980029960049943},
    {0.5, 0.4054651081081644, 0.6666666666666666, -0.4444444444444444},
    {1.0, 0.6931471805599453, 0.5, -0.25},
    {10.0, 2.3978952727983707, 0.09090909090909091, -0.008264462809917356},
    {1e+300, 690.7755278982137, 1e-300, negzero},
    {inf, inf, 0.0, negzero},
    {nan, nan, nan, nan},
    {-2.0, nan, -1.0, -1.0},
  },
  expm1 = {   -- x, y, dy/dx, d2y/dx2
    {-800.0, -1.0, 0.0, 0.0},
    {-40.0, -1.0, 0.0, 0.0},
    {-1.0, -0.6321205588285577, 0.36787944117144233, 0.36787944117144233},
    {-1e-10, -9.999999999500001e-11, 0.9999999999, 0.9999999999},
    {negzero, negzero, 1.0, 1.0},
    {0.0, 0.0, 1.0, 1.0},
    {1e-10, 1.00000000005e-10, 1.0000000001, 1.0000000001},
    {0.001, 0.0010005001667083417, 1.0010005001667084, 1.0010005001667084},
    {0.5, 0.6487212707001282, 1.6487212707001282, 1.6487212707001282},
    {1.0, 1.7182818284590453, 2.7182818284590455, 2.7182818284590455},
    {10.0, 22025.465794806718, 22026.465794806718, 22026.465794806718},
    {709.0, 8.218407461554972e+307, 8.218407461554972e+307, 8.218407461554972e+307},
    {710.0, inf, inf, inf},
    {inf, inf, inf, inf},
    {-inf, -1.0, 0.0, 0.0},
    {nan, nan, nan, nan},
  },
  softplus = {   -- x, y, dy/dx, d2y/dx2
    {-800.0, 0.0, 0.0, 0.0},
    {-40.0, 4.248354255291589e-18, 4.248354255291589e-18, 4.248354255291589e-18},
    {-20.5, 1.2501528656053017e-09, 1.2501528648238605e-09, 1.2501528632609782e-09},
    {-1.0, 0.31326168751822286, 0.2689414213699951, 0.19661193324148185},
    {negzero, 0.6931471805599453, 0.5, 0.25},
    {0.0, 0.6931471805599453, 0.5, 0.25},
    {0.001, 0.6936473055599401, 0.5002499999791666, 0.24999993750001043},
    {0.5, 0.9740769841801067, 0.6224593312018546, 0.2350037122015945},
    {1.0, 1.3132616875182228, 0.7310585786300049, 0.19661193324148185},
    {19.9, 19.900000002277924, 0.9999999977220729, 2.2779269529829097e-09},
    {20.0, 20.000000002061153, 0.9999999979388464, 0.0},
    {20.0000001, 20.0000001, 1.0, 0.0},
    {21.0, 21.0, 1.0, 0.0},
    {40.0, 40.0, 1.0, 0.0},
    {800.0, 800.0, 1.0, 0.0},
    {inf, inf, 1.0, 0.0},
    {-inf, 0.0, 0.0, 0.0},
    {nan, nan, nan, nan},
  },
  square = {   -- x, y, dy/dx, d2y/dx2
    {-3.0, 9.0, -6.0, 2.0},
    {negzero, 0.0, negzero, 2.0},
    {0.0, 0.0, 0.0, 2.0},
    {2.5, 6.25, 5.0, 2.0},
    {1e+200, inf, 2e+200, 2.0},
    {inf, inf, inf, 2.0},
    {-inf, inf, -inf, 2.0},
    {nan, nan, nan, 2.0},
  },
  leaky_relu = {   -- x, y, dy/dx, d2y/dx2
    {-2.0, -0.02, 0.01, 0.0},
    {-1e-300, -1.0000000000000001e-302, 0.01, 0.0},
    {negzero, negzero, 0.01, 0.0},
    {0.0, 0.0, 0.01, 0.0},
    {3.0, 3.0, 1.0, 0.0},
    {inf, inf, 1.0, 0.0},
    {-inf, -inf, 0.01, 0.0},
    {nan, nan, 0.01, 0.0},
  },
  leaky_relu_02 = {   -- x, y, dy/dx, d2y/dx2
    {-2.0, -0.4, 0.2, 0.0},
    {negzero, negzero, 0.2, 0.0},
    {0.0, 0.0, 0.2, 0.0},
    {3.0, 3.0, 1.0, 0.0},
    {nan, nan, 0.2, 0.0},
  },
  clamp01 = {   -- x, y, dy/dx, d2y/dx2
    {-2.0, 0.0, 0.0, 0.0},
    {negzero, negzero, 1.0, 0.0},
    {0.0, 0.0, 1.0, 0.0},
    {0.5, 0.5, 1.0, 0.0},
    {1.0, 1.0, 1.0, 0.0},
    {3.0, 1.0, 0.0, 0.0},
    {inf, 1.0, 0.0, 0.0},
    {-inf, 0.0, 0.0, 0.0},
    {nan, nan, 0.0, 0.0},
  },
  clamp_lo = {   -- x, y, dy/dx, d2y/dx2
    {-1.0, 0.0, 0.0, 0.0},
    {0.0, 0.0, 1.0, 0.0},
    {2.0, 2.0, 1.0, 0.0},
    {inf, inf, 1.0, 0.0},
  },
  clamp_hi = {   -- x, y, dy/dx, d2y/dx2
    {-1.0, -1.0, 1.0, 0.0},
    {0.0, 0.0, 1.0, 0.0},
    {2.0, 0.0, 0.0, 0.0},
    {-inf, -inf, 1.0, 0.0},
  },
  clamp21 = {   -- x, y, dy/dx, d2y/dx2
    {0.5, 1.0, 0.0, 0.0},
    {1.5, 1.0, 0.0, 0.0},
    {3.0, 1.0, 0.0, 0.0},
  },
  clamp = {   -- x, lo, hi, y, dy/dx, dy/dlo, dy/dhi
    {-2.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0},
    {0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0},
    {0.5, 0.0, 1.0, 0.5, 1.0, 0.0, 0.0},
    {1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0},
    {3.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0},
    {0.5, 2.0, 1.0, 1.0, 0.0, 0.0, 1.0},
    {0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.0},
    {2.0, 2.0, 2.0, 2.0, 1.0, 0.0, 0.0},
    {-2.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0},
    {3.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0},
    {0.5, nan, 1.0, nan, 0.0, 0.0, 0.0},
    {0.5, 0.0, nan, nan, 0.0, 0.0, 0.0},
    {nan, 0.0, 1.0, nan, 0.0, 0.0, 0.0},
    {negzero, 0.0, 1.0, negzero, 1.0, 0.0, 0.0},
    {0.0, negzero, 1.0, 0.0, 1.0, 0.0, 0.0},
  },
  float32 = {   -- x, log1p, expm1, softplus, square (PyTorch's float32 kernels)
    {-3.0, nan, -0.9502129554748535, 0.04858735203742981, 9.0},
    {-0.5, -0.6931471824645996, -0.39346933364868164, 0.4740769863128662, 0.25},
    {0.25, 0.2231435477733612, 0.2840254306793213, 0.825939416885376, 0.0625},
    {2.0, 1.0986123085021973, 6.389056205749512, 2.1269280910491943, 4.0},
    {19.9, 3.0397491455078125, 438995456.0, 19.899999618530273, 396.0099792480469},
    {25.0, 3.25809645652771, 72004902912.0, 25.0, 625.0},
  },
}

local function show (x) return ("%.17g"):format(x) end

-- a and b equal bit for bit (NaN equals NaN; 0 is not -0), or within rel when rel is given
-- and neither is special
local function agree (a, b, rel, what)
  local ok = same(a, b)
  if not ok and rel and a == a and b == b and math.abs(a) ~= inf and a ~= 0 then
    ok = close(a, b, rel)
  end
  assert.is_true(ok, (what or "") .. ": expected " .. show(a) .. ", got " .. show(b))
end

local function cd (f, x) return (f(x + HSTEP) - f(x - HSTEP)) / (2 * HSTEP) end

-- the value and derivative of op at x on a Value (slope or bounds as numbers in ...)
local function eval (op, x, ...)
  local v = lg.value(x)
  local y = lg[op](v, ...)
  y:backward()
  return y.data, v.grad, y
end

-- the unary ops (and leaky_relu, clamp at number bounds): PyTorch's rows, where they differ
-- from PyTorch the documented value instead
local ROWS = {   -- label, op, PyTorch's rows, the operands after x
  {"log1p(x)", "log1p", TORCH.log1p},
  {"expm1(x)", "expm1", TORCH.expm1},
  {"softplus(x)", "softplus", TORCH.softplus},
  {"square(x)", "square", TORCH.square},
  {"leaky_relu(x)", "leaky_relu", TORCH.leaky_relu},
  {"leaky_relu(x, 0.2)", "leaky_relu", TORCH.leaky_relu_02, 0.2},
  {"clamp(x, 0, 1)", "clamp", TORCH.clamp01, 0, 1},
  {"clamp(x, 0, nil)", "clamp", TORCH.clamp_lo, 0, nil},
  {"clamp(x, nil, 0)", "clamp", TORCH.clamp_hi, nil, 0},
  {"clamp(x, 2, 1)", "clamp", TORCH.clamp21, 2, 1},
}
-- luagrad's derivatives where they are more exact than PyTorch's formula:
-- expm1'(x) = e^x, not expm1(x) + 1 (which is 0 below x = -37); the second derivative of
-- softplus at the threshold 20 is sigmoid'(20) (PyTorch's double backward gives 0 there
-- though its first derivative is sigmoid(20), not 1)
local OURS = {
  expm1 = { [-40] = { d1 = math.exp(-40), d2 = math.exp(-40) } },
  softplus = { [20] = { d2 = 2.0611536181902037e-09 } },
}

describe("the new ops against PyTorch", function ()
  for _, r in ipairs(ROWS) do
    local label, name, rows, args = r[1], r[2], r[3], {r[4], r[5]}
    local function unpackargs () return args[1], args[2] end
    it(label .. ": the values, first and second derivatives PyTorch gives, to 1e-15", function ()
      for _, row in ipairs(rows) do
        local x, y, d1, d2 = row[1], row[2], row[3], row[4]
        local ours = OURS[name] and OURS[name][x] or {}
        local at = label .. " at " .. show(x)
        local data, grad = eval(name, x, unpackargs())
        agree(y, data, 1e-15, at)
        -- a grad is accumulated into 0, so -0 arrives as 0: zeros of either sign agree
        if (ours.d1 or d1) == 0 then assert.is_true(grad == 0, at .. " first derivative")
        else agree(ours.d1 or d1, grad, 1e-15, at .. " first derivative") end
        agree(y, lg[name](x, unpackargs()), 1e-15, at .. " on a number")
        -- the derivative built from ops (create_graph) is the same number
        local v = lg.value(x)
        local built = lg.gradients(lg[name](v, unpackargs()), {v}, { create_graph = true })[1]
        built = lg.type(built) == "value" and built.data or built
        if grad == 0 then assert.is_true(built == 0, at .. " built derivative")
        else agree(grad, built, nil, at .. " built derivative") end
        local g2 = lg.grad(lg.grad(function (u) return lg[name](u, unpackargs()) end))(x)
        -- the second derivative: 0 and -0 count alike (a where's 0 or a product's -0)
        local e2 = ours.d2 or d2
        if e2 == 0 then assert.is_true(g2 == 0, at .. " second derivative " .. show(g2))
        else agree(e2, g2, 1e-14, at .. " second derivative") end
      end
    end)
  end
end)

describe("lg.clamp(x, lo, hi) with Value bounds", function ()
  it("gives PyTorch's values and gradients to x, lo and hi, the bounds included", function ()
    for _, row in ipairs(TORCH.clamp) do
      local x, lo, hi = lg.value(row[1]), lg.value(row[2]), lg.value(row[3])
      local at = ("clamp(%s, %s, %s)"):format(show(row[1]), show(row[2]), show(row[3]))
      local y = lg.clamp(x, lo, hi)
      assert.equal("clamp", y.op)
      y:backward()
      agree(row[4], y.data, nil, at)
      assert.same({row[5], row[6], row[7]}, {x.grad, lo.grad, hi.grad}, at)
      local m = x:clamp(lo, hi)   -- the method, the same node
      assert.equal("clamp", m.op)
      agree(row[4], m.data, nil, at .. " (method)")
      agree(row[4], lg.clamp(row[1], row[2], row[3]), nil, at .. " (numbers)")
    end
  end)

  it("passes no gradient at all where x < lo = hi, as PyTorch", function ()
    local x, b = lg.value(-2), lg.value(1)
    local y = lg.clamp(x, b, b)
    y:backward()
    assert.same({1, 0, 0}, {y.data, x.grad, b.grad})
  end)

  it("takes nil for either bound (a one-sided clamp), with numbers or Values", function ()
    local x, hi = lg.value(3), lg.value(1)
    local y = lg.clamp(x, nil, hi)
    y:backward()
    assert.same({1, 0, 1}, {y.data, x.grad, hi.grad})
    local lo = lg.value(-1)
    x = lg.value(-3)
    y = x:clamp(lo)   -- hi left out
    y:backward()
    assert.same({-1, 0, 1}, {y.data, x.grad, lo.grad})
    assert.equal(-1, lg.clamp(-3, -1))
    assert.equal(-1, lg.clamp(-3, -1, nil))
    assert.equal(5, lg.clamp(5, nil, 7))
    assert.equal(inf, lg.clamp(inf, 0))
  end)
end)

describe("lg.leaky_relu(x [, slope])", function ()
  it("defaults the slope to 0.01, absent or nil", function ()
    for _, y in ipairs({ lg.leaky_relu(-3), lg.leaky_relu(-3, nil), lg.leaky_relu(-3, 0.01) }) do
      assert.equal(-3 * 0.01, y)
    end
    local v = lg.value(-3)
    assert.equal(-3 * 0.01, v:leaky_relu().data)
    assert.equal(-3 * 0.25, v:leaky_relu(0.25).data)
    assert.equal("leaky_relu", v:leaky_relu().op)
  end)

  it("sends dy/dslope = x (for x <= 0, else 0) to a Value slope", function ()
    for _, c in ipairs({ {-2, 0.1, -0.2, 0.1, -2}, {3, 0.1, 3, 1, 0}, {0, 0.3, 0, 0.3, 0} }) do
      local x, s = lg.value(c[1]), lg.value(c[2])
      local y = lg.leaky_relu(x, s)
      y:backward()
      assert.same({c[3], c[4], c[5]}, {y.data, x.grad, s.grad})
    end
  end)

  it("has the Hessian [[0, 1], [1, 0]] in (x, slope) for x < 0, and 0 for x > 0", function ()
    local f = function (x, s) return lg.leaky_relu(x, s) end
    for _, mode in ipairs({ "reverse", "forward" }) do
      assert.same({ {0, 1}, {1, 0} }, lg.hessian(f, { mode = mode })(-1.5, 0.2))
      assert.same({ {0, 0}, {0, 0} }, lg.hessian(f, { mode = mode })(1.5, 0.2))
    end
  end)
end)

describe("central differences", function ()
  local CASES = {
    {"log1p", function (x) return math.log(1 + x) end, {-0.7, -0.2, 0.3, 2, 50}},
    {"expm1", function (x) return math.exp(x) - 1 end, {-3, -0.5, 0.25, 1.5, 6}},
    {"softplus", function (x) return math.log(1 + math.exp(x)) end, {-30, -2, -0.1, 0.7, 5, 19}},
    {"square", function (x) return x * x end, {-4, -0.3, 0.2, 7}},
    {"leaky_relu", function (x) return x > 0 and x or 0.01 * x end, {-4, -1e-3, 1e-3, 2}},
    {"clamp", function (x) return math.min(math.max(x, -1), 2) end, {-3, -0.5, 1.5, 4}, {-1, 2}},
  }
  for _, c in ipairs(CASES) do
    it(c[1] .. ": value, first and second derivative agree with central differences", function ()
      local args = c[4] or {}
      local d1 = lg.grad(function (u) return lg[c[1]](u, args[1], args[2]) end)
      for _, x in ipairs(c[3]) do
        local y, g = eval(c[1], x, args[1], args[2])
        local at = c[1] .. " at " .. x
        h.near(c[2](x), y, 1e-12, at)
        h.near(cd(c[2], x), g, 1e-6, at .. "'")
        h.near(cd(function (u) return lg.grad(function (w) return lg[c[1]](w, args[1], args[2])
          end)(u) end, x), lg.grad(d1)(x), 1e-5, at .. "''")
      end
    end)
  end

  it("second derivatives equal the known ones", function ()
    local d2 = function (name, x) return lg.grad(lg.grad(lg[name]))(x) end
    h.near(-1 / 1.5 ^ 2, d2("log1p", 0.5), 1e-14)
    h.near(math.exp(-2), d2("expm1", -2), 1e-14)
    local s = 1 / (1 + math.exp(-0.5))
    h.near(s * (1 - s), d2("softplus", 0.5), 1e-14)
    assert.equal(2, d2("square", -3))
    assert.equal(0, d2("leaky_relu", -3))
    assert.equal(0, lg.grad(lg.grad(function (u) return lg.clamp(u, 0, 1) end))(0.5))
    -- third: log1p''' = 2/(1 + x)^3, expm1''' = e^x
    h.near(2 / 1.5 ^ 3, lg.grad(lg.grad(lg.grad(lg.log1p)))(0.5), 1e-13)
    h.near(math.exp(1.25), lg.grad(lg.grad(lg.grad(lg.expm1)))(1.25), 1e-13)
  end)

  it("the tails keep their digits: softplus, expm1 and log1p near 0 and far out", function ()
    assert.equal(1e-20, lg.log1p(1e-20))
    assert.equal(1e-20, lg.expm1(1e-20))
    assert.equal(-1, lg.expm1(-800))
    h.near(math.exp(-700), lg.softplus(-700), 1e-14)   -- log1p(e^-700), not log(1 + tiny) = 0
    assert.equal(1e6, lg.softplus(1e6))                -- x itself past 20: no overflow
    assert.equal(inf, lg.square(1e200))
  end)
end)

describe("lg.compile replays", function ()
  -- each function recorded at the first point, then replayed across the kinks and tails;
  -- its derivative taken inside (built from ops) must follow, as eager mode does
  local CASES = {
    {"log1p", function (x) return lg.log1p(x) end, {0.5, -1, -0.5, 0, negzero, 3, -2}},
    {"expm1", function (x) return lg.expm1(x) end, {0.5, -40, 0, negzero, 709, 710}},
    {"softplus", function (x) return lg.softplus(x) end, {0.5, 19.5, 20, 20.5, 40, -40}},
    {"square", function (x) return lg.square(x) end, {0.5, -3, 0, negzero}},
    {"leaky_relu", function (x) return lg.leaky_relu(x) end, {0.5, -1, 0, negzero, 2}},
    {"leaky_relu(x, s)", function (x, s) return lg.leaky_relu(x, s) end,
     {{2, 0.1}, {-2, 0.1}, {0, 0.3}, {-1, -0.5}}},
    {"clamp(x, 0, 1)", function (x) return lg.clamp(x, 0, 1) end, {0.5, -1, 0, 1, 2, nan}},
    {"clamp(x, lo, hi)", function (x, lo, hi) return lg.clamp(x, lo, hi) end,
     {{0.5, 0, 1}, {-1, 0, 1}, {2, 0, 1}, {0, 0, 1}, {1, 0, 1}, {0.5, 2, 1}, {-2, 1, 1}}},
    {"clamp(x, nil, hi)", function (x, hi) return lg.clamp(x, nil, hi) end,
     {{0.5, 1}, {2, 1}, {1, 1}}},
  }
  local function points (p) if type(p) == "table" then return p end return {p} end
  local function agreeall (e, c, what)
    for i = 1, math.max(#e, #c) do
      if e[i] == 0 then assert.is_true(c[i] == 0, what .. " result " .. i)
      else agree(e[i], c[i], 1e-14, what .. " result " .. i) end
    end
  end
  for _, c in ipairs(CASES) do
    local name, f, at = c[1], c[2], c[3]
    local inner = function (...)   -- the op plus its derivative times x, taken inside
      local args = {...}
      local d = lg.grad(function (u) return f(u, select(2, unpack(args))) end)(args[1])
      return f(...) + d * args[1]
    end
    it(name .. ": compiled equals eager at every point, recorded once", function ()
      for _, g in ipairs({ f, inner }) do
        local fc = lg.compile(g)
        for _, p in ipairs(at) do
          local xs = points(p)
          local what = name .. " at " .. table.concat(xs, ", ")
          local all = {}
          for i = 1, #xs do all[i] = i end
          agreeall({lg.value_and_grad(g, { argnums = all })(unpack(xs))}, {fc(unpack(xs))}, what)
        end
        assert.equal(1, fc.recordings, name)
      end
    end)
  end
end)

-- every element of a tensor result, flat, in order
local function elements (t)
  local out = {}
  local function walk (x)
    if type(x) == "number" then out[#out + 1] = x else for _, e in ipairs(x) do walk(e) end end
  end
  walk(t:totable())
  return out
end

describe("the new ops on tensors", function ()
  local SPECIALS = { -800, -40, -20.5, -2, -1, -0.5, negzero, 0, 1e-10, 0.5, 1, 2, 19.9, 20,
                     21, 710, inf, -inf, nan }
  local FORMS = {
    {"log1p", {}}, {"expm1", {}}, {"softplus", {}}, {"square", {}}, {"leaky_relu", {}},
    {"leaky_relu", {0.2}}, {"clamp", {-1, 1}}, {"clamp", {nil, 0}}, {"clamp", {0.5}},
  }

  it("give the scalar op's numbers, bit for bit, as module functions and methods", function ()
    local t = lg.tensor(SPECIALS)
    for _, f in ipairs(FORMS) do
      local name, a = f[1], f[2]
      for _, y in ipairs({ lg[name](t, a[1], a[2]), t[name](t, a[1], a[2]) }) do
        assert.equal("tensor", lg.type(y))
        local ys = elements(y)
        for i, x in ipairs(SPECIALS) do
          agree(lg[name](x, a[1], a[2]), ys[i], nil, name .. " at " .. show(x))
        end
      end
    end
  end)

  it("leaky_relu defaults the slope to 0.01 on tensors too", function ()
    assert.same({-0.02, 0, 3}, elements(lg.leaky_relu(lg.tensor{-2, 0, 3})))
    assert.same({-0.4, 0, 3}, elements(lg.tensor{-2, 0, 3}:leaky_relu(0.2)))
  end)

  it("broadcast bounds and slopes, and reduce each gradient to its operand's shape", function ()
    -- PyTorch: clamp(x 1x3, lo 2x1, hi 0-d) with the gradient w; x.grad [[0, 2, 0]],
    -- lo.grad [[1], [9]], hi.grad 9
    local x = lg.tensor({{-2, 0.5, 3}}, {requires_grad = true})
    local lo = lg.tensor({{0}, {1}}, {requires_grad = true})
    local hi = lg.value(2)
    local y = lg.clamp(x, lo, hi)
    assert.same({2, 3}, y.shape)
    assert.same({{0, 0.5, 2}, {1, 1, 2}}, y:totable())
    y:backward(lg.tensor{{1, 2, 3}, {4, 5, 6}})
    assert.same({{0, 2, 0}}, x.grad:totable())
    assert.same({{1}, {9}}, lo.grad:totable())
    assert.equal(9, hi.grad)
    -- leaky_relu(x 2x3, slope 1x3): dx = slope where x <= 0, dslope = sum of x there
    local a = lg.tensor({{-1, 2, 0}, {-3, -4, 5}}, {requires_grad = true})
    local s = lg.tensor({{0.1, 0.2, 0.5}}, {requires_grad = true})
    local z = a:leaky_relu(s)
    assert.same({{-1 * 0.1, 2, 0}, {-3 * 0.1, -4 * 0.2, 5}}, z:totable())
    z:sum():backward()
    assert.same({{0.1, 1, 0.5}, {0.1, 0.2, 1}}, a.grad:totable())
    assert.same({{-4, -4, 0}}, s.grad:totable())
  end)

  it("backward agrees with central differences, on views too", function ()
    local base = {{-1.5, -0.2, 0.3}, {0.9, 2.5, -3}}
    local w = lg.tensor{{1, -2}, {0.5, 3}, {-1, 2}}
    for _, f in ipairs(FORMS) do
      local name, a = f[1], f[2]
      local shifted = name == "log1p" and 3.5 or 0   -- inside log1p's domain
      local function loss (t) return (lg[name](t:t() + shifted, a[1], a[2]) * w):sum() end
      local t = lg.tensor(base, {requires_grad = true})
      loss(t):backward()
      local g = t.grad:totable()
      for i = 1, 2 do
        for j = 1, 3 do
          local function at (d)
            local c = {{base[1][1], base[1][2], base[1][3]}, {base[2][1], base[2][2], base[2][3]}}
            c[i][j] = c[i][j] + d
            return loss(lg.tensor(c)).data
          end
          h.near((at(HSTEP) - at(-HSTEP)) / (2 * HSTEP), g[i][j], 1e-6,
                 name .. " at element " .. i .. ", " .. j)
        end
      end
    end
  end)

  it("keep float32 (PyTorch's float32 values to float32 precision) and its gradients", function ()
    local xs = {}
    for i, row in ipairs(TORCH.float32) do xs[i] = row[1] end
    local t = lg.tensor(xs, {dtype = "float32", requires_grad = true})
    for k, name in ipairs({"log1p", "expm1", "softplus", "square"}) do
      local y = lg[name](t)
      assert.equal("float32", y.dtype)
      local ys = elements(y)
      for i, row in ipairs(TORCH.float32) do
        local want = row[k + 1]
        if want ~= want then assert.is_true(ys[i] ~= ys[i], name .. " at " .. row[1])
        else h.near(want, ys[i], 2e-7, name .. " at " .. row[1]) end
      end
    end
    local y = t:clamp(-1, 1) + lg.leaky_relu(t) + lg.softplus(t)
    assert.equal("float32", y.dtype)
    y:sum():backward()
    assert.equal("float32", t.grad.dtype)
    local g = elements(t.grad)
    h.near(0 + 0.01 + 1 / (1 + math.exp(3)), g[1], 1e-6)     -- x = -3
    h.near(1 + 0.01 + 1 / (1 + math.exp(0.5)), g[2], 1e-6)   -- x = -0.5
    assert.equal(0 + 1 + 1, g[6])                            -- x = 25: outside, linear, linear
    -- a float64 operand makes the result float64
    assert.equal("float64", lg.clamp(t, lg.tensor{0}, 1).dtype)
  end)

  it("are constants without requires_grad, and record a node with it", function ()
    local c = lg.clamp(lg.tensor{1, 2}, 0, 1)
    assert.equal("leaf", c.op)
    assert.is_false(c.requires_grad)
    local t = lg.tensor({1, 2}, {requires_grad = true})
    for _, name in ipairs({"log1p", "expm1", "softplus", "square", "leaky_relu"}) do
      assert.equal(name, lg[name](t).op)
    end
    assert.equal("clamp", t:clamp(0, 1).op)
  end)
end)

describe("errors", function ()
  local v, t = lg.value(1), lg.tensor{1, 2}
  local MISSING = "number or value expected when #3 is nil"
  it("clamp: at least one bound, operands that are numbers, Values or tensors", function ()
    assert.has_error(function () lg.clamp(1) end,
                     "luagrad.clamp: bad argument #2 (" .. MISSING .. ", got nil)")
    assert.has_error(function () lg.clamp(v, nil, nil) end,
                     "luagrad.clamp: bad argument #2 (" .. MISSING .. ", got nil)")
    assert.has_error(function () v:clamp() end,
                     "luagrad.clamp: bad argument #2 (" .. MISSING .. ", got nil)")
    assert.has_error(function () t:clamp() end,
                     "luagrad.clamp: bad argument #2 (" .. MISSING .. ", got nil)")
    assert.has_error(function () lg.clamp() end, badarg("clamp", 1, "number or value", "no value"))
    assert.has_error(function () lg.clamp(nil, 0, 1) end, badarg("clamp", 1, "number or value", "nil"))
    assert.has_error(function () lg.clamp("1", 0, 1) end,
                     badarg("clamp", 1, "number or value", "string"))
    assert.has_error(function () lg.clamp(1, "0", 1) end,
                     badarg("clamp", 2, "number or value", "string"))
    assert.has_error(function () v:clamp(0, {}) end, badarg("clamp", 3, "number or value", "table"))
    assert.has_error(function () lg.clamp(1, false) end,
                     badarg("clamp", 2, "number or value", "boolean"))
    assert.has_error(function () t:clamp("a") end,
      "luagrad: bad operand #2 to 'clamp' (number, value or tensor expected, got string)")
    assert.has_error(function () lg.clamp(lg.zeros(2, 3), lg.zeros(4), 1) end,
      "luagrad: bad operand shapes to 'clamp' ({2, 3} and {4}: not broadcastable)")
  end)

  it("leaky_relu: the slope a number, a Value or a tensor", function ()
    assert.has_error(function () lg.leaky_relu() end,
                     badarg("leaky_relu", 1, "number or value", "no value"))
    assert.has_error(function () lg.leaky_relu("x") end,
                     badarg("leaky_relu", 1, "number or value", "string"))
    assert.has_error(function () lg.leaky_relu(1, "0.1") end,
                     badarg("leaky_relu", 2, "number or value", "string"))
    assert.has_error(function () v:leaky_relu({}) end,
                     badarg("leaky_relu", 2, "number or value", "table"))
    assert.has_error(function () lg.leaky_relu(t, true) end,
      "luagrad: bad operand #2 to 'leaky_relu' (number, value or tensor expected, got boolean)")
    assert.has_error(function () lg.leaky_relu(lg.zeros(2, 3), lg.zeros(2)) end,
      "luagrad: bad operand shapes to 'leaky_relu' ({2, 3} and {2}: not broadcastable)")
  end)

  it("the unary ones: a number, a Value or a tensor", function ()
    for _, name in ipairs({"log1p", "expm1", "softplus", "square"}) do
      assert.has_error(function () lg[name]() end, badarg(name, 1, "number or value", "no value"))
      assert.has_error(function () lg[name]("2") end, badarg(name, 1, "number or value", "string"))
    end
  end)
end)

describe("the op table", function ()
  it("lists the new ops with their functions and arities", function ()
    local rows = {}
    for _, op in ipairs(lg._ops) do rows[op.name] = op end
    for name, arity in pairs({ log1p = 1, expm1 = 1, softplus = 1, square = 1, clamp = 3,
                               leaky_relu = 2 }) do
      assert.same({ name = name, fn = name, arity = arity }, rows[name])
    end
  end)

  it("prints them in DOT as any op, a bound left out as -inf or inf", function ()
    local dot = lg.to_dot(lg.clamp(lg.value(1, "x"), nil, 2))
    assert.truthy(dot:find('label="clamp"', 1, true))
    assert.truthy(dot:find('label="-inf"', 1, true))
    dot = lg.leaky_relu(lg.value(-1)):to_dot()
    assert.truthy(dot:find('label="leaky_relu"', 1, true))
    assert.truthy(dot:find('label="0.01"', 1, true))
  end)
end)
