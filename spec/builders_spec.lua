-- Every op's derivative is written twice: in numbers (backward's) and as ops (the build that
-- create_graph, nested transforms and lg.compile replays use). The two agree, bit for bit,
-- for every op of the op table at many points, the conventions' special points included
-- (0 and -0, ties, the tails, infinities, NaN), and for several seeds.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/builders_spec.lua

local lg = require("luagrad")
local h = require("spec.helpers")

local inf, nan, negzero = math.huge, 0 / 0, h.NEGZERO
local unpack = table.unpack or unpack
local SPECIAL = { -800, -40, -19.5, -2.5, -1.5, -1, -1e-3, negzero, 0, 1e-300, 0.5, 1, 2, 3,
                  19.5, 20, 20.5, 40, 709, 710, inf, -inf, nan }
local PAIRS = { -2.5, -1, negzero, 0, 0.5, 1, 2, inf, nan }   -- for two arguments: every pair
local SEEDS = { 1, 2.5, -0.75 }

-- equal as numbers, or both NaN (0 and -0 count as equal: they add alike into a grad)
local function agree (a, b) return a == b or (a ~= a and b ~= b) end

local function show (xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = ("%.17g"):format(x) end
  return "(" .. table.concat(s, ", ") .. ")"
end

-- op applied to Values or numbers xs, as a script calls it
local function call (op, xs)
  if op.arity == "n" then return lg[op.fn](xs) end
  if op.arity == "pairs" then return lg[op.fn]({ xs[1], xs[2] }, { xs[3], xs[4] }) end
  if op.fn then return lg[op.fn](unpack(xs)) end
  local a, b = xs[1], xs[2]
  if op.name == "+" then return a + b elseif op.name == "-" then return a - b
  elseif op.name == "*" then return a * b elseif op.name == "/" then return a / b
  elseif op.name == "neg" then return -a end
  error("no way to call " .. op.name)
end

local function nargs (op)
  if op.arity == "n" then return 3 elseif op.arity == "pairs" then return 4 end
  return op.arity
end

-- every tuple of points for op's arguments
local function tuples (op)
  local n, t = nargs(op), {}
  if n == 1 then
    for _, x in ipairs(SPECIAL) do t[#t + 1] = { x } end
  elseif n == 2 then
    for _, x in ipairs(PAIRS) do
      for _, y in ipairs(PAIRS) do t[#t + 1] = { x, y } end
    end
  else   -- where, clamp, sum, dot: a few of each kind
    for _, c in ipairs({ 1, 0, negzero, nan, -2 }) do
      for _, p in ipairs({ { 3, -4 }, { inf, 0 }, { nan, 1 }, { negzero, 2 } }) do
        local xs = { c, p[1], p[2] }
        if n == 4 then xs[4] = c * 2 end
        t[#t + 1] = xs
      end
    end
    if n == 3 then   -- clamp's cases: at and between the bounds, crossed and equal bounds
      for _, x in ipairs({ -1, 0, negzero, 0.5, 1, 2, inf, -inf, nan }) do
        for _, b in ipairs({ { 0, 1 }, { negzero, 1 }, { 1, 0 }, { 1, 1 }, { -inf, 0.5 },
                             { 0.5, inf }, { nan, 1 } }) do
          t[#t + 1] = { x, b[1], b[2] }
        end
      end
    end
  end
  return t
end

local function leaves (xs)
  local vs = {}
  for i, x in ipairs(xs) do vs[i] = lg.value(x) end
  return vs
end

describe("every op's derivative built from ops", function ()
  for _, op in ipairs(lg._ops) do
    it(op.name .. ": equals the numeric derivative bit for bit at every point and seed",
       function ()
      local compared = 0
      for _, xs in ipairs(tuples(op)) do
        for _, seed in ipairs(SEEDS) do
          local a = leaves(xs)
          call(op, a):backward(seed)
          local b = leaves(xs)
          local gs = lg.gradients(call(op, b), b, { seeds = { seed }, create_graph = true })
          for i = 1, #xs do
            local built = lg.type(gs[i]) == "value" and gs[i].data or gs[i]
            assert.is_true(agree(a[i].grad, built),
              ("%s at %s, seed %g, argument %d: backward %.17g, built %.17g"):format(
                op.name, show(xs), seed, i, a[i].grad, built))
            compared = compared + 1
          end
        end
      end
      assert.is_true(compared >= 3 * #SEEDS)
    end)
  end

  it("covers every row of the op table", function ()
    local n = 0
    for _ in ipairs(lg._ops) do n = n + 1 end
    assert.is_true(n >= 28)
    assert.equal(0, lg.grad(function (x) return lg.sign(x) end)(2))
    h.near(1, lg.grad(function (x) return lg.where(x, x, 0) end)(2))
  end)
end)

describe("derivatives under lg.compile replays", function ()
  -- a derivative taken inside a compiled function is recorded as ops; replayed at numbers
  -- on the other side of a point, it must still equal eager mode
  local cases = {
    { "abs", function (x) return lg.grad(lg.abs)(x) * x end, 2, -1 },
    { "relu", function (x) return lg.grad(lg.relu)(x) * x end, 2, -1 },
    { "max", function (x) return lg.grad(function (y) return lg.max(y, 1) end)(x) * x end, 2, 0.5 },
    { "min", function (x) return lg.grad(function (y) return lg.min(y, 1) end)(x) * x end, 2, 0.5 },
    { "pow b=0", function (x) return lg.grad(function (y) return y ^ x end)(0) + x end, 2, 0 },
    { "pow a=0", function (x) return lg.grad(function (y) return y ^ x end)(x) * x end, 0, 3 },
    { "sign", function (x) return lg.sign(x) * x end, 2, -1 },
    { "where", function (x) return lg.where(lg.gt(x, 0), x * x, -x) end, 2, -1 },
    { "leaky_relu", function (x) return lg.grad(lg.leaky_relu)(x) * x end, 2, -1 },
    { "leaky_relu slope", function (s)
        return lg.grad(function (y) return lg.leaky_relu(y, s) end)(lg.value(-1)) * s end, 0.5, 2 },
    { "clamp inside", function (x)
        return lg.grad(function (y) return lg.clamp(y, 0, 1) end)(x) * x end, 0.5, 2 },
    { "clamp at a bound", function (x)
        return lg.grad(function (y) return lg.clamp(y, 0, 1) end)(x) * x end, 1, -1 },
    { "clamp bounds", function (x)
        return lg.grad(function (lo) return lg.clamp(x, lo, 1) end)(lg.value(0)) * x end, 0.5, -1 },
    { "softplus", function (x) return lg.grad(lg.softplus)(x) * x end, 25, 3 },
    { "softplus''", function (x) return lg.grad(lg.grad(lg.softplus))(x) * x end, 3, 25 },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. ": recorded at " .. c[3] .. " and replayed at " .. c[4] .. " equals eager",
       function ()
      local fc = lg.compile(c[2])
      fc(c[3])
      local v, g = fc(c[4])
      local ev, eg = lg.value_and_grad(c[2])(c[4])
      assert.is_true(agree(ev, v), c[1] .. " value " .. tostring(v) .. " vs " .. tostring(ev))
      assert.is_true(agree(eg, g), c[1] .. " grad " .. tostring(g) .. " vs " .. tostring(eg))
    end)
  end
end)
