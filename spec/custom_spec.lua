-- lg.custom: functions written in Lua with their own backward, used like built-in ops. On
-- numbers a call gives numbers; on Values it is one call node whose outputs are Values. A
-- numbers sweep (backward, lg.gradients, lg.tangents) calls backward with numbers; a sweep on
-- Values (create_graph, nested transforms) calls it with Values, so that it can be
-- differentiated again. Errors, re-entrant callbacks, coroutines, the collector and hostile
-- callbacks each get a section.
local lg = require("luagrad")
require("luagrad.busted")

local unpack = table.unpack or unpack

-- x * y, whose backward is made of operators: it works on numbers and on Values
local mul = lg.custom{ name = "mul",
  forward = function (x, y) return x * y end,
  backward = function (g, x, y) return g * y, g * x end }

-- x^3, backward 3 g x^2
local cube = lg.custom{ name = "cube",
  forward = function (x) return x ^ 3 end,
  backward = function (g, x) return 3 * g * x * x end }

-- two outputs: sin x and cos x; backward with lg functions
local sincos = lg.custom{ name = "sincos",
  forward = function (x) return math.sin(x), math.cos(x) end,
  backward = function (gs, gc, x) return gs * lg.cos(x) - gc * lg.sin(x) end }

-- e^x, whose backward uses its output: on Values, a call of myexp again
local myexp = lg.custom{ name = "myexp",
  forward = math.exp,
  backward = function (g, x, y) return g * y end }

local function near (expected, actual, tol)
  assert.is_true(math.abs(expected - actual) <= (tol or 1e-12) * math.max(1, math.abs(expected)),
                 ("expected %.17g, got %.17g"):format(expected, actual))
end

local function grads (vs)
  local t = {}
  for i, v in ipairs(vs) do t[i] = v.grad end
  return t
end

local function isfloat (x) return math.type == nil or math.type(x) == "float" end

-- 2x, whose backward (2 g) calls how() while state.fail is true: returns it and state.
local function breakable (name, how)
  local state = { fail = true }
  local f = lg.custom{ name = name,
    forward = function (x) return 2 * x end,
    backward = function (g)
      if state.fail then how() end
      return 2 * g
    end }
  return f, state
end

describe("lg.custom on numbers", function ()
  it("returns forward's numbers, as floats", function ()
    local y = mul(2, 3)
    assert.are.equal(6, y)
    assert.is_nil(lg.type(y))
    assert.is_true(isfloat(y))
    local s, c = sincos(0)
    assert.are.equal(0, s)
    assert.are.equal(1, c)
    assert.are.equal(2, select("#", sincos(0)))
    local int = lg.custom{ forward = function (a, b) return a + b, 7 end,
                           backward = function (g) return g, g end }
    local a, b = int(1, 2)
    assert.are.same({3, 7}, {a, b})
    assert.is_true(isfloat(a) and isfloat(b))
  end)

  it("hands forward and backward floats, whatever the caller passed", function ()
    local types = {}
    local spy = lg.custom{
      forward = function (x, k) types[#types + 1] = {x, k}; return x * k end,
      backward = function (g, x, k, y)
        types[#types + 1] = {g, x, k, y}
        return g * k, g * x
      end }
    spy(2, 3)
    local v = lg.value(2)
    spy(v, 3):backward()
    assert.are.same({ {2, 3}, {2, 3}, {1, 2, 3, 6} }, types)
    for _, call in ipairs(types) do
      for _, x in ipairs(call) do assert.is_true(isfloat(x)) end
    end
  end)
end)

describe("lg.custom on Values", function ()
  it("makes one call node whose output is a Value named after the function", function ()
    local a, b = lg.value(2), lg.value(3)
    local z = mul(a, b)
    assert.are.equal("value", lg.type(z))
    assert.are.equal("mul", z.op)
    assert.are.equal(6, z.data)
    z:backward()
    assert.are.equal(3, a.grad)
    assert.are.equal(2, b.grad)
    assert.are.equal(1, z.grad)
    local anon = lg.custom{ forward = function (x) return x end,
                            backward = function (g) return g end }
    assert.are.equal("custom", anon(a).op)
    assert.are.equal("value", lg.type(anon(a)))
  end)

  it("gives each output of a multi-output function a Value, and backward every adjoint", function ()
    local x0 = 0.5
    local x = lg.value(x0)
    local s, c = sincos(x)
    assert.are.equal("sincos", s.op)
    assert.are.equal("sincos", c.op)
    assert.are.equal(math.sin(x0), s.data)
    assert.are.equal(math.cos(x0), c.data)
    local y = s * c                   -- sin(2x) / 2
    y:backward()
    near(math.cos(2 * x0), x.grad)
    x.grad = 0
    s:backward()                      -- c's adjoint is 0
    near(math.cos(x0), x.grad)
    x.grad = 0
    c:backward()
    near(-math.sin(x0), x.grad)
  end)

  it("calls backward with the output adjoints, the arguments, then the outputs", function ()
    local seen
    local spy = lg.custom{ name = "spy",
      forward = function (x, y) return x + y, x - y end,
      backward = function (...)
        seen = {n = select("#", ...), ...}
        local gp, gm = ...
        return gp + gm, gp - gm
      end }
    local a = lg.value(5)
    local p, m = spy(a, 2)
    local y = p * 3 + m * 7
    y:backward()
    assert.are.same({n = 6, 3, 7, 5, 2, 7, 3}, seen)
    assert.are.equal(10, a.grad)
    a.grad = 0
    p:backward()                      -- an output nothing uses has adjoint 0
    assert.are.same({n = 6, 1, 0, 5, 2, 7, 3}, seen)
    assert.are.equal(1, a.grad)
  end)

  it("folds numbers among the arguments into the node as constants", function ()
    local a = lg.value(2)
    local y = mul(a, 4) + mul(5, a)
    assert.are.equal(18, y.data)
    y:backward()
    assert.are.equal(9, a.grad)
  end)

  it("sums both paths when the same Value is passed twice", function ()
    local a = lg.value(3)
    local y = mul(a, a)
    y:backward()
    assert.are.equal(6, a.grad)
    local b = lg.value(-2)
    mul(mul(b, b), b):backward()
    assert.are.equal(12, b.grad)
  end)

  it("counts a nil adjoint from backward as 0", function ()
    local first = lg.custom{ forward = function (x, y) return x * y end,
                             backward = function (g, x) return nil, g * x end }
    local a, b = lg.value(3), lg.value(4)
    first(a, b):backward()
    assert.are.equal(0, a.grad)
    assert.are.equal(3, b.grad)
    local none = lg.custom{ forward = function (x) return x end, backward = function () end }
    local c = lg.value(1)
    local y = none(c) + c
    y:backward()
    assert.are.equal(1, c.grad)
    assert.are.same({0}, lg.gradients(none(c), {c}))
    assert.are.same({0}, lg.tangents({none(c)}, {c}))
    assert.are.same({0}, lg.gradients(none(c), {c}, {create_graph = true}))
  end)

  it("works when one function is called many times in one graph", function ()
    local x = lg.value(1.5)
    local y = x
    for _ = 1, 1000 do y = mul(y, 1.001) end
    y:backward()
    near(1.001 ^ 1000, x.grad, 1e-10)
    near(1.5 * 1.001 ^ 1000, y.data, 1e-10)
    local a, b = lg.value(2), lg.value(3)
    local z = mul(mul(a, b), mul(b, a))          -- a^2 b^2
    z:backward()
    assert.are.equal(36, z.data)
    assert.are.equal(36, a.grad)
    assert.are.equal(24, b.grad)
    local xs, ys = {}, {}
    for i = 1, 200 do
      xs[i] = lg.value(i / 100)
      ys[i] = cube(xs[i])
    end
    lg.sum(ys):backward()
    for i = 1, 200 do near(3 * (i / 100) ^ 2, xs[i].grad) end
  end)

  it("joins lg.sum and lg.dot graphs, on either side", function ()
    local a, b = lg.value(2), lg.value(3)
    local s = lg.sum{mul(a, b), cube(a), 4}      -- ab + a^3 + 4
    assert.are.equal(18, s.data)
    s:backward()
    assert.are.same({15, 2}, grads{a, b})
    a.grad, b.grad = 0, 0
    local d = lg.dot({mul(a, b), a}, {b, cube(b)})  -- a b^2 + a b^3
    assert.are.equal(72, d.data)
    d:backward()
    assert.are.same({36, 66}, grads{a, b})
    a.grad, b.grad = 0, 0
    local m = mul(lg.sum{a, b}, lg.dot({a}, {b})) -- (a + b) a b
    assert.are.equal(30, m.data)
    m:backward()
    assert.are.same({21, 16}, grads{a, b})
  end)
end)

describe("gradients through lg.custom", function ()
  it("agree with central differences", function ()
    assert.gradients(function (x, y)
      local s, c = sincos(mul(x, y))
      return s * c + cube(x) / y + myexp(y)
    end, {0.3, -1.7})
    assert.gradients(function (x) return cube(lg.tanh(x)) end, {0.7})
    assert.gradients(function (x, y) return lg.sum{mul(x, y), cube(y), x} end, {-1.2, 0.4})
  end)

  it("and second derivatives agree, when backward is made of ops", function ()
    assert.gradients(function (x, y)
      local s, c = sincos(mul(x, y))
      return s * c + cube(x) / y + myexp(y)
    end, {0.3, -1.7}, {order = 2})
  end)

  it("catch a wrong backward", function ()
    local half = lg.custom{ name = "half", forward = function (x) return x * x end,
                            backward = function (g, x) return g * x end }
    assert.is_not.gradients(half, {1.5})
    local ok, report = lg.gradcheck(half, {1.5})
    assert.is_false(ok)
    local diff = report:match("^gradients differ at input 1 %(x = 1%.5%): backward 1%.5, "
                              .. "central difference (%S+),")
    assert.truthy(diff, report)
    near(3, tonumber(diff), 1e-6)
    local swapped = lg.custom{ forward = function (x, y) return x * y * y end,
                               backward = function (g, x, y) return 2 * g * x * y, g * y * y end }
    assert.is_not.gradients(swapped, {1, 3})
  end)

  it("catch a backward right in first order but not in second (it reads .data)", function ()
    local frozen = lg.custom{ name = "frozen", forward = function (x) return x ^ 3 end,
      backward = function (g, x)
        local x0 = lg.type(x) == "value" and x.data or x   -- a constant to the graph
        return 3 * g * x0 * x0
      end }
    assert.gradients(frozen, {0.8})
    assert.is_not.gradients(frozen, {0.8}, {order = 2})
    local ok, report = lg.gradgradcheck(frozen, {0.8})
    assert.is_false(ok)
    assert.truthy(report:find("d/d(input 1) of d/d(input 1) (x = 0.8", 1, true), report)
    assert.truthy(report:find("): backward 0, central difference 4.8", 1, true), report)
    assert.gradients(cube, {0.8}, {order = 2})
  end)
end)

describe("higher derivatives through lg.custom", function ()
  it("nest lg.grad to any order", function ()
    assert.are.equal(12, lg.grad(cube)(2))
    assert.are.equal(12, lg.grad(lg.grad(cube))(2))
    assert.are.equal(6, lg.grad(lg.grad(lg.grad(cube)))(2))
    assert.are.equal(0, lg.grad(lg.grad(lg.grad(lg.grad(cube))))(2))
    near(math.exp(1), lg.grad(lg.grad(lg.grad(myexp)))(1))
    local function f (x) local s, c = sincos(x); return s * c end   -- sin(2x) / 2
    near(-2 * math.sin(1), lg.grad(lg.grad(f))(0.5))
    near(-4 * math.cos(1), lg.grad(lg.grad(lg.grad(f)))(0.5))
  end)

  it("give lg.hessian's exact matrix, forward and reverse", function ()
    local function f (x, y) return mul(cube(x), y) + mul(x, y) ^ 2 end   -- x^3 y + x^2 y^2
    local H = {{6 * 2 * 3 + 2 * 9, 3 * 4 + 4 * 2 * 3}, {3 * 4 + 4 * 2 * 3, 2 * 4}}
    assert.are.same(H, lg.hessian(f)(2, 3))
    assert.are.same(H, lg.hessian(f, {mode = "reverse"})(2, 3))
  end)

  it("come out of backward{create_graph = true}", function ()
    local x = lg.value(2)
    local y = mul(cube(x), x)                     -- x^4
    y:backward{create_graph = true}
    assert.are.equal("value", lg.type(x.grad))
    assert.are.equal(32, x.grad.data)             -- 4 x^3
    assert.are.same({48}, lg.gradients(x.grad, {x}))   -- 12 x^2
    local g = x.grad
    g:backward()
    assert.are.equal(32 + 48, x.grad)
  end)

  it("in forward mode agree with reverse mode, on numbers and nested", function ()
    assert.are.same({6, 3}, {lg.jvp(mul, {2, 3}, {1, 0})})
    local out, tout = lg.jvp(function (x) local s, c = sincos(x); return {s, c} end, {0.5}, {2})
    assert.are.same({math.sin(0.5), math.cos(0.5)}, out)
    near(2 * math.cos(0.5), tout[1])
    near(-2 * math.sin(0.5), tout[2])
    local _, d2 = lg.jvp(lg.grad(cube), {2}, {1})
    assert.are.equal(12, d2)
    local function g (x, y)
      local s, c = sincos(mul(x, y))
      return {s, c, cube(x) * myexp(y)}
    end
    local F, R = lg.jacfwd(g)(0.7, -0.4), lg.jacrev(g)(0.7, -0.4)
    for i = 1, 3 do
      for j = 1, 2 do near(R[i][j], F[i][j]) end
    end
    near(-0.4 * math.cos(0.7 * -0.4), F[1][1])
    near(3 * 0.49 * math.exp(-0.4), F[3][1])
    local function h (x, y) return mul(cube(x), myexp(y)) end
    local HF, HR = lg.jacfwd(lg.grad(h))(0.7, -0.4), lg.jacrev(lg.grad(h))(0.7, -0.4)
    local e = math.exp(-0.4)
    local exact = {{6 * 0.7 * e, 3 * 0.49 * e}, {3 * 0.49 * e, 0.343 * e}}
    for i = 1, 2 do
      for j = 1, 2 do
        near(exact[i][j], HF[i][j])
        near(exact[i][j], HR[i][j])
      end
    end
  end)
end)

describe("lg.custom's errors", function ()
  local function fwd (x) return x end
  local function bwd (g) return g end

  it("checks its definition", function ()
    assert.has_error(function () lg.custom(3) end,
                     "luagrad.custom: bad argument #1 (table expected, got number)")
    assert.has_error(function () lg.custom() end,
                     "luagrad.custom: bad argument #1 (table expected, got no value)")
    assert.has_error(function () lg.custom{} end,
                     "luagrad.custom: bad field 'forward' (function expected, got nil)")
    assert.has_error(function () lg.custom{ forward = 1, backward = bwd } end,
                     "luagrad.custom: bad field 'forward' (function expected, got number)")
    assert.has_error(function () lg.custom{ forward = fwd } end,
                     "luagrad.custom: bad field 'backward' (function expected, got nil)")
    assert.has_error(function () lg.custom{ forward = fwd, backward = lg.value(1) } end,
                     "luagrad.custom: bad field 'backward' (function expected, got value)")
    local badname = "luagrad.custom: bad field 'name' (1 to 63 characters, no zero byte)"
    assert.has_error(function () lg.custom{ forward = fwd, backward = bwd, name = "" } end,
                     badname)
    assert.has_error(function ()
      lg.custom{ forward = fwd, backward = bwd, name = ("n"):rep(64) }
    end, badname)
    assert.has_error(function () lg.custom{ forward = fwd, backward = bwd, name = "a\0b" } end,
                     badname)
    assert.has_error(function () lg.custom{ forward = fwd, backward = bwd, name = 5 } end,
                     "luagrad.custom: bad field 'name' (string expected, got number)")
    assert.has_error(function () lg.custom{ forward = fwd, backward = bwd, nmae = "x" } end,
                     "luagrad.custom: unknown option 'nmae'")
    assert.has_error(function () lg.custom{ forward = fwd, backward = bwd, "x" } end,
                     "luagrad.custom: unknown option (a number key)")
    local long = lg.custom{ forward = fwd, backward = bwd, name = ("n"):rep(63) }
    assert.are.equal(("n"):rep(63), long(lg.value(1)).op)
  end)

  it("checks the arguments of a call", function ()
    assert.has_error(function () mul() end,
                     "luagrad.mul: bad number of arguments (1 to 4096 expected, got 0)")
    assert.has_error(function () mul(lg.value(1), "2") end,
                     "luagrad.mul: bad argument #2 (number or value expected, got string)")
    assert.has_error(function () mul(nil, lg.value(1)) end,
                     "luagrad.mul: bad argument #1 (number or value expected, got nil)")
    assert.has_error(function () mul({}, 1) end,
                     "luagrad.mul: bad argument #1 (number or value expected, got table)")
    local xs = {}
    for i = 1, 4097 do xs[i] = 1 end
    assert.has_error(function () mul(unpack(xs, 1, 4097)) end,
                     "luagrad.mul: bad number of arguments (1 to 4096 expected, got 4097)")
  end)

  it("passes an error of forward through unchanged", function ()
    local obj = {}
    local raising = lg.custom{ forward = function (x)
                                 if x > 1 then error(obj) end
                                 error("boom", 0)
                               end, backward = bwd }
    for _, x in ipairs({1, lg.value(1)}) do
      assert.has_error(function () raising(x) end, "boom")
    end
    for _, x in ipairs({2, lg.value(2)}) do
      local ok, err = pcall(raising, x)
      assert.is_false(ok)
      assert.are.equal(obj, err)
    end
    local where = lg.custom{ forward = function () error("at a line") end, backward = bwd }
    local _, err = pcall(where, lg.value(1))
    assert.truthy(err:find("^.*custom_spec%.lua:%d+: at a line$"), err)
  end)

  it("refuses forward results that are not 1 to 4096 numbers", function ()
    local results
    local f = lg.custom{ name = "f", forward = function () return unpack(results, 1, results.n) end,
                         backward = bwd }
    local cases = {
      {{n = 0}, "luagrad.f: forward must return 1 to 4096 numbers, got 0 results"},
      {{n = 1, "1"}, "luagrad.f: forward must return numbers (result #1 is string)"},
      {{n = 2, 1, {}}, "luagrad.f: forward must return numbers (result #2 is table)"},
      {{n = 1, lg.value(1)}, "luagrad.f: forward must return numbers (result #1 is value)"},
      {{n = 2, 1, nil}, "luagrad.f: forward must return numbers (result #2 is nil)"},
    }
    local many = {n = 4097}
    for i = 1, 4097 do many[i] = i end
    cases[#cases + 1] = {many, "luagrad.f: forward must return 1 to 4096 numbers, got 4097 results"}
    for _, case in ipairs(cases) do
      results = case[1]
      assert.has_error(function () f(1) end, case[2])
      assert.has_error(function () f(lg.value(1)) end, case[2])
    end
  end)

  it("makes an error of backward its own, and changes no grad", function ()
    local twice, state = breakable("twice", function () error("nope", 0) end)
    local x, w = lg.value(3), lg.value(5)
    local t = twice(x)
    local y = t * w + w * x                       -- dy/dx = 2w + w, dy/dw = 2x + x
    x.grad, w.grad, t.grad, y.grad = 0.5, -1, 7, 2
    local before = grads{x, w, t, y}
    local msg = "luagrad.twice: nope"
    assert.has_error(function () y:backward() end, msg)
    assert.are.same(before, grads{x, w, t, y})
    assert.has_error(function () y:backward{create_graph = true} end, msg)
    assert.are.same(before, grads{x, w, t, y})
    assert.has_error(function () lg.gradients(y, {x, w}) end, msg)
    assert.has_error(function () lg.gradients(y, {x, w}, {create_graph = true}) end, msg)
    assert.has_error(function () lg.tangents(y, x) end, msg)
    assert.has_error(function () lg.tangents(y, x, {create_graph = true}) end, msg)
    assert.has_error(function () lg.jvp(twice, {1}, {1}) end, msg)
    assert.has_error(function () lg.grad(lg.grad(twice))(1) end, msg)
    assert.has_error(function () lg.hessian(function (a) return twice(a) * a end)(1) end, msg)
    assert.are.same(before, grads{x, w, t, y})
    state.fail = false
    y:backward()
    assert.are.same({0.5 + 15, -1 + 9, 7 + 5, 2 + 1}, grads{x, w, t, y})
    assert.are.same({15, 9}, lg.gradients(y, {x, w}))
    assert.are.equal(15, lg.tangents(y, x))
    assert.are.same({4, 4}, {lg.jvp(twice, {2}, {2})})
  end)

  it("keeps the original message inside its own", function ()
    local where = breakable("where", function () error("deep down") end)
    local y = where(lg.value(1))
    local ok, err = pcall(y.backward, y)
    assert.is_false(ok)
    assert.truthy(err:find("^luagrad%.where: .*custom_spec%.lua:%d+: deep down$"), err)
    ok, err = pcall(function () y:backward{create_graph = true} end)
    assert.is_false(ok)
    assert.truthy(err:find("luagrad.where: ", 1, true), err)
    assert.truthy(err:find("custom_spec%.lua:%d+: deep down$"), err)
  end)

  it("leaves no adjoint of a failed sweep behind for the next one", function ()
    local bad, state = breakable("bad", function () error("later", 0) end)
    local x0 = 0.3
    local x = lg.value(x0)
    local s, c = sincos(x)
    local y = bad(s) * c + c + mul(c, 1)          -- 2 s c + 2 c
    for _ = 1, 3 do
      assert.has_error(function () y:backward() end, "luagrad.bad: later")
      assert.has_error(function () lg.tangents(y, x) end, "luagrad.bad: later")
    end
    assert.are.equal(0, x.grad)
    state.fail = false
    y:backward()
    near(2 * math.cos(2 * x0) - 2 * math.sin(x0), x.grad)
    near(2 * math.cos(2 * x0) - 2 * math.sin(x0), lg.tangents(y, x))
  end)

  it("refuses backward results that are neither numbers nor Values", function ()
    local result
    local f = lg.custom{ name = "f", forward = function (x, y) return x * y end,
                         backward = function () return 1, result end }
    local x = lg.value(2)
    local y = f(x, x) + x
    for _, r in ipairs({"2", {}, true, print}) do
      result = r
      local t = lg.type(r) or type(r)
      assert.has_error(function () y:backward() end,
                       "luagrad.f: backward must return numbers or values (result #2 is "
                       .. t .. ")")
      assert.has_error(function () lg.tangents(y, x) end,
                       "luagrad.f: backward must return numbers or values (result #2 is "
                       .. t .. ")")
      assert.has_error(function () y:backward{create_graph = true} end,
                       "luagrad.f: backward must return numbers or values (result #2 is "
                       .. t .. ")")
      assert.has_error(function () lg.tangents(y, x, {create_graph = true}) end,
                       "luagrad.f: backward must return numbers or values (result #2 is "
                       .. t .. ")")
      assert.are.equal(0, x.grad)
    end
    result = lg.sum({ 1, 2 })                     -- a Value where numbers are swept: its data
    y:backward()
    assert.are.equal(1 + 3 + 1, x.grad)
    result = 3
    y:backward()
    assert.are.equal(2 * (1 + 3 + 1), x.grad)
  end)
end)

describe("lg.custom's callbacks", function ()
  it("may build graphs of their own and differentiate them", function ()
    local inner
    local sq = lg.custom{ name = "sq", forward = function (x) return x * x end,
      backward = function (g, x)
        local x0 = lg.type(x) == "value" and x.data or x
        local v = lg.value(x0)
        local w = v * v * v
        w:backward()
        local d = lg.gradients(v * v, v)
        local d2 = lg.grad(function (t) return t * t end)(x0)
        local d3 = lg.grad(lg.grad(function (t) return cube(t) end))(x0)
        inner[x0] = {v.grad, d, d2, d3}
        return g * 2 * x
      end }
    local function f (t) return sq(t) * sq(t + 1) end   -- t^2 (t + 1)^2
    local expect = { [3] = {27, 6, 6, 18}, [4] = {48, 8, 8, 24} }
    local x = lg.value(3)
    local y = f(x)
    for _, case in ipairs({
      {168, function () y:backward(); return x.grad end},
      {168, function () return lg.gradients(y, x) end},
      {168, function () return lg.tangents(y, x) end},
      {168, function () return lg.grad(f)(3) end},
      {168, function () return lg.gradients(y, x, {create_graph = true}).data end},
      {146, function () return lg.grad(lg.grad(f))(3) end} }) do   -- 12 t^2 + 12 t + 2
      inner = {}
      assert.are.equal(case[1], case[2]())
      assert.are.same(expect, inner)
    end
  end)

  it("may call lg.sum and lg.dot on Values", function ()
    local viasum = lg.custom{ name = "viasum", forward = function (x, y) return x + 2 * y end,
      backward = function (g, x, y)
        local a, b = lg.value(1), lg.value(2)
        local s = lg.sum{a, b, b}
        local d = lg.dot({a, b}, {s, s})
        d:backward()
        assert(a.grad == 5 + 3 and b.grad == 5 + 6, "inner grads")
        local dx, dy = lg.sum{g}, lg.dot({g}, {2})   -- always Values: numbers in a numbers sweep
        if type(g) == "number" then return dx.data, dy.data end
        return dx, dy
      end }
    local x, y = lg.value(1), lg.value(4)
    local z = viasum(x, y) * viasum(y, x)         -- (x + 2y)(y + 2x)
    z:backward()
    assert.are.same({6 + 2 * 9, 2 * 6 + 9}, grads{x, y})
    local g = lg.gradients(z, {x, y}, {create_graph = true})
    assert.are.same({24, 21}, {g[1].data, g[2].data})
    local function f (a, b) return viasum(a, b) * viasum(b, a) end   -- 2a^2 + 5ab + 2b^2
    assert.are.same({{4, 5}, {5, 4}}, lg.hessian(f)(1, 4))
  end)

  it("run from a coroutine", function ()
    local co = coroutine.create(function ()
      local x = lg.value(2)
      local y = mul(cube(x), x)
      y:backward()
      coroutine.yield(x.grad)
      local g = lg.grad(lg.grad(function (t) return mul(cube(t), t) end))(2)
      return lg.gradients(y, x), lg.tangents(y, x), g
    end)
    assert.are.same({true, 32}, {coroutine.resume(co)})
    assert.are.same({true, 32, 32, 48}, {coroutine.resume(co)})
  end)

  it("may create and resume coroutines, which may sweep graphs of their own", function ()
    local viaco = lg.custom{ name = "viaco",
      forward = function (x)
        return coroutine.wrap(function (v) coroutine.yield(v * 3) end)(x)
      end,
      backward = function (g, x)
        local x0 = lg.type(x) == "value" and x.data or x
        local d = coroutine.wrap(function ()
          local v = lg.value(x0)
          local w = cube(v) + v * 3
          w:backward()
          coroutine.yield(v.grad - 3 * x0 * x0)
        end)()
        return g * d
      end }
    local xs, ys = {}, {}
    for i = 1, 5 do
      xs[i] = lg.value(i)
      ys[i] = viaco(cube(xs[i]))                   -- 3 x^3
    end
    -- each backward of viaco sweeps in a coroutine; the next calls back into this thread
    assert.are.equal(3 * 8, ys[2].data)
    lg.sum(ys):backward()
    for i = 1, 5 do assert.are.equal(9 * i * i, xs[i].grad) end
    assert.are.equal(18 * 2, lg.grad(lg.grad(function (t) return viaco(cube(t)) end))(2))
  end)

  it("cannot yield across a sweep, which then fails cleanly", function ()
    local yielding = true
    local yc = lg.custom{ name = "yc", forward = function (x) return x end,
      backward = function (g)
        if yielding then coroutine.yield(1) end
        return g
      end }
    local x = lg.value(1)
    local y = yc(x) * 2
    for _, run in ipairs({
      function () y:backward() end,
      function () y:backward{create_graph = true} end,
      function () lg.tangents(y, x) end }) do
      local ok, err = coroutine.resume(coroutine.create(run))
      assert.is_false(ok)
      assert.truthy(err:find("luagrad.yc: ", 1, true) and err:find("yield", 1, true), err)
      assert.are.equal(0, x.grad)
    end
    yielding = false
    assert.is_true(coroutine.resume(coroutine.create(function () y:backward() end)))
    assert.are.equal(2, x.grad)
  end)
end)

describe("lg.custom and the collector", function ()
  it("frees 10^4 functions made and called once each", function ()
    local function round ()
      for i = 1, 10000 do
        local f = lg.custom{ forward = function (x) return x * i end,
                             backward = function (g) return g * i end }
        local x = lg.value(1)
        f(x):backward()
        assert(x.grad == i and f(2) == 2 * i)
      end
    end
    local function memory ()
      collectgarbage()
      collectgarbage()
      return collectgarbage("count")
    end
    round()
    round()
    local m0 = memory()
    round()
    round()
    -- kept definitions would take megabytes a round; the two weak tables' hash parts may
    -- still double once, as the collector's pace (valgrind's too) sets how many dead entries
    -- they meet
    assert.is_true(memory() - m0 < 1024, ("grew by %.1f KB"):format(memory() - m0))
    local registry = debug.getregistry()
    local customs, defined = registry["luagrad.customs"], registry["luagrad.defined"]
    assert.are.equal("v", getmetatable(customs).__mode)
    assert.are.equal("k", getmetatable(defined).__mode)
    local n = 0
    for _ in pairs(customs) do n = n + 1 end
    for _ in pairs(defined) do n = n + 1 end
    assert.is_true(n < 100, n .. " definitions left")
  end)

  it("keeps a call working after its function is unreachable", function ()
    local x = lg.value(3)
    local probe = setmetatable({}, {__mode = "v"})
    local function make ()   -- returns, so that no stack slot keeps f
      local f = lg.custom{ name = "gone", forward = function (a) return a * a, a end,
                           backward = function (g1, g2, a) return 2 * g1 * a + g2 end }
      probe[1] = f
      local y, c = f(x)
      return y, y * c
    end
    local y, s = make()
    collectgarbage()
    collectgarbage()
    assert.is_nil(probe[1])
    assert.are.equal("gone", y.op)
    s:backward()                                  -- x^3
    assert.are.equal(27, x.grad)
    assert.are.equal(27, lg.tangents(s, x))
    local g = lg.gradients(s, x, {create_graph = true})
    assert.are.equal(27, g.data)
    assert.are.equal(18, lg.gradients(g, x))
  end)

  it("lets a finalizer sweep a graph that only it reaches", function ()
    local result
    local finalized = require("spec.helpers").finalized
    local function make ()   -- returns, so that no stack slot keeps the graph
      local f = lg.custom{ name = "fin", forward = function (a) return a * a end,
                           backward = function (g, a) return 2 * g * a end }
      local x = lg.value(3)
      local y = f(x)
      finalized(function ()
        local ok, err = pcall(y.backward, y)
        local gok, g = pcall(lg.gradients, y, x, {create_graph = true})
        result = {ok, err, x.grad, gok, lg.type(g) and g.data or g}
      end)
    end
    make()
    for _ = 1, 3 do collectgarbage() end
    assert.are.same({true, nil, 6, true, 6}, result)
  end)
end)

describe("hostile lg.custom callbacks", function ()
  it("raise non-string error objects", function ()
    local tbl, tstate = breakable("tbl", function () error({}) end)
    local x = lg.value(1)
    local y = tbl(x) * x
    local msg = "luagrad.tbl: error object is not a string"
    assert.has_error(function () y:backward() end, msg)
    assert.has_error(function () y:backward{create_graph = true} end, msg)
    assert.has_error(function () lg.tangents(y, x) end, msg)
    local num, nstate = breakable("num", function () error(42, 0) end)
    local z = num(x)
    assert.has_error(function () z:backward() end, "luagrad.num: 42")
    assert.has_error(function () z:backward{create_graph = true} end, "luagrad.num: 42")
    local meta, mstate = breakable("meta", function ()
      error(setmetatable({}, {__tostring = function () return "dressed" end}))
    end)
    local m = meta(x)
    assert.has_error(function () m:backward() end, "luagrad.meta: error object is not a string")
    assert.are.equal(0, x.grad)
    tstate.fail, nstate.fail, mstate.fail = false, false, false
    lg.sum{y, z, m}:backward()                    -- 2x^2 + 2x + 2x
    assert.are.equal(8, x.grad)
  end)

  it("raise huge messages, cut to what fits", function ()
    local text = ("m"):rep(1000)
    local huge, state = breakable("huge", function () error(text, 0) end)
    local x = lg.value(1)
    local y = huge(x)
    assert.has_error(function () y:backward() end, "luagrad.huge: " .. text:sub(1, 255))
    assert.has_error(function () lg.tangents(y, x) end, "luagrad.huge: " .. text:sub(1, 255))
    assert.has_error(function () y:backward{create_graph = true} end, "luagrad.huge: " .. text)
    local big = breakable(("h"):rep(63), function () error(("\255"):rep(4096), 0) end)
    local z = big(x)
    local ok, err = pcall(z.backward, z)
    assert.is_false(ok)
    assert.are.equal(("luagrad.%s: %s"):format(("h"):rep(63), ("\255"):rep(255)), err)
    assert.are.equal(0, x.grad)
    state.fail = false
    y:backward()
    assert.are.equal(2, x.grad)
  end)

  it("nest: a backward calling another custom function is differentiated again", function ()
    local mycos = lg.custom{ name = "mycos", forward = math.cos,
                             backward = function (g, x) return -g * lg.sin(x) end }
    local mysin = lg.custom{ name = "mysin", forward = math.sin,
                             backward = function (g, x) return g * mycos(x) end }
    local x0 = 0.4
    local x = lg.value(x0)
    mysin(x):backward()
    assert.are.equal(math.cos(x0), x.grad)
    near(-math.sin(x0), lg.grad(lg.grad(mysin))(x0))
    near(-math.cos(x0), lg.grad(lg.grad(lg.grad(mysin)))(x0))
    near(-math.sin(x0), lg.hessian(mysin)(x0)[1][1])
    local _, t = lg.jvp(lg.grad(mysin), {x0}, {1})
    near(-math.sin(x0), t)
    -- a backward whose own backward fails reports the inner function
    local fail = lg.custom{ name = "inner", forward = function (a) return a end,
                            backward = function () error("inner failed", 0) end }
    local outer = lg.custom{ name = "outer", forward = function (a) return a end,
                             backward = function (g, a) return g * fail(a) end }
    assert.are.equal(2, lg.grad(outer)(2))
    assert.has_error(function () lg.grad(lg.grad(outer))(2) end, "luagrad.inner: inner failed")
    local nested = lg.custom{ name = "nested", forward = function (a) return a end,
      backward = function (g, a)
        local v = lg.value(lg.type(a) and a.data or a)
        outer(v):backward()                        -- a sweep calling outer's backward
        return g * v.grad
      end }
    assert.are.equal(5, lg.grad(nested)(5))   -- outer's backward is g a, on purpose
  end)

  it("take 300 arguments, Values and numbers mixed", function ()
    local n = 300
    local weighted = lg.custom{ name = "weighted",
      forward = function (...)
        local s = 0
        for i = 1, select("#", ...) do s = s + i * select(i, ...) end
        return s
      end,
      backward = function (g, ...)
        local d = {}
        for i = 1, select("#", ...) - 1 do d[i] = g * i end
        return unpack(d, 1, n)
      end }
    local xs, values = {}, {}
    for i = 1, n do
      if i % 3 == 0 then xs[i] = i else xs[i] = lg.value(i); values[#values + 1] = xs[i] end
    end
    local y = weighted(unpack(xs, 1, n))
    assert.are.equal(n * (n + 1) * (2 * n + 1) / 6, y.data)
    y:backward()
    for _, v in ipairs(values) do assert.are.equal(v.data, v.grad) end
    local g = lg.gradients(y, values, {create_graph = true})
    local t = lg.tangents({y}, values, {tangents = g})
    local s = 0
    for _, v in ipairs(values) do s = s + v.data * v.data end
    assert.are.same({s}, t)
  end)

  it("take as many arguments as the Lua stack holds: 4096, or 3998 on 5.1's", function ()
    local n = _VERSION == "Lua 5.1" and 3998 or 4096   -- LuaJIT says 5.1 too
    local count = lg.custom{ name = "count",
      forward = function (...) return select("#", ...) end,
      backward = function (g, ...)
        local d = {}
        for i = 1, select("#", ...) - 1 do d[i] = g * i end
        return unpack(d, 1, n)
      end }
    local xs = {}
    for i = 1, n do xs[i] = lg.value(i) end
    local y = count(unpack(xs, 1, n))
    assert.are.equal(n, y.data)
    y:backward()
    assert.are.same({1, 2, n}, {xs[1].grad, xs[2].grad, xs[n].grad})
    local g = lg.gradients(y, {xs[n]}, {create_graph = true})
    assert.are.same({n}, g)
    assert.are.same({n}, lg.tangents({y}, {xs[n]}))
  end)

  it("take 0 arguments: an error", function ()
    local f = lg.custom{ name = "zero", forward = function () return 1 end,
                         backward = function () end }
    assert.has_error(function () f() end,
                     "luagrad.zero: bad number of arguments (1 to 4096 expected, got 0)")
  end)
end)

describe("custom functions and the recording modes", function ()
  it("under lg.no_grad give leaves, and run forward once", function ()
    local runs = 0
    local f = lg.custom{ name = "twice", forward = function (x, y) runs = runs + 1
                                                     return 2 * x, x + y end,
                         backward = function (g1, g2) return 2 * g1 + g2, g2 end }
    local x = lg.value(3)
    local a, b = lg.no_grad(f, x, 4)
    assert.are.equal(1, runs)
    assert.are.equal("leaf", a.op)
    assert.are.equal("leaf", b.op)
    assert.are.equal(6, a.data)
    assert.are.equal(7, b.data)
    a:backward()
    assert.are.equal(0, x.grad)
    assert.are.equal("twice", f(x, 4).op)   -- recording again outside
  end)

  it("under lg.detect_anomaly name the function and the line, forward and backward", function ()
    local mylog = lg.custom{ name = "mylog", forward = function (x) return math.log(x) end,
                             backward = function (g, x) return g / x end }
    local nanback = lg.custom{ name = "nanback", forward = function (x) return x end,
                               backward = function () return 0 / 0 end }
    local x = lg.value(2)
    lg.detect_anomaly(true)
    local line = debug.getinfo(1, "l").currentline
    local ok, err = pcall(mylog, lg.value(-1))
    local z = nanback(x) * 3
    local ok2, err2 = pcall(z.backward, z)
    lg.detect_anomaly(false)
    assert.is_false(ok)
    assert.are.equal("luagrad: anomaly: 'mylog' produced NaN in forward at "
                     .. "spec/custom_spec.lua:" .. (line + 1), (err:gsub("at .-spec/", "at spec/")))
    assert.is_false(ok2)
    assert.are.equal("luagrad: anomaly: backward of 'nanback' produced NaN for argument 1 "
                     .. "(node created at spec/custom_spec.lua:" .. (line + 2) .. ")",
                     (err2:gsub("at .-spec/", "at spec/")))
    assert.are.equal(0, x.grad)
    z:backward()   -- off again: NaN flows as IEEE says
    assert.is_true(x.grad ~= x.grad)
  end)
end)

describe("a callback during a sweep in numbers", function ()
  local msg = "luagrad: a custom function's callback cannot walk the graph being "
              .. "differentiated (backward, lg.gradients, zero_grad, to_dot on its Values)"

  it("may not walk the graph being swept: an error, not wrong numbers", function ()
    local w, x = lg.value(4), lg.value(1)
    local walks = {
      function () return lg.gradients(w * 2, w) end,
      function () w:backward() end,
      function () return lg.tangents(w * 2, w) end,
      function () w:zero_grad() end,
      function () return lg.to_dot(w) end,
    }
    for k = 1, #walks do
      local f = lg.custom{ name = "walker", forward = function (u) return 4 * u end,
                           backward = function (g) walks[k]() return 4 * g end }
      local y = f(x) * w + w * 10
      local ok, err = pcall(y.backward, y)
      assert.is_false(ok, "walk " .. k)
      assert.truthy(err:find(msg, 1, true), err)
      assert.are.equal(0, w.grad)
      assert.are.equal(0, x.grad)
      walks[k] = function () end   -- fixed: the same graph then gives the right numbers
      y:backward()
      assert.are.equal(14, w.grad)
      assert.are.equal(16, x.grad)
      w.grad, x.grad = 0, 0
    end
  end)

  it("may walk it in a sweep on Values, which holds nothing in the nodes", function ()
    local w, x = lg.value(4), lg.value(1)
    local seen
    local f = lg.custom{ name = "peek", forward = function (u) return 4 * u end,
                         backward = function (g) seen = lg.gradients(w * 2, w) return 4 * g end }
    local g = lg.gradients(f(x) * w, { x, w }, { create_graph = true })
    assert.are.equal(2, seen)
    assert.are.equal(16, g[1].data or g[1])
    assert.are.equal(4, g[2].data or g[2])
  end)
end)

describe("custom functions in compiled graphs", function ()
  it("replay in C with their callbacks, equal to eager mode, recording once", function ()
    local forwards, backwards = 0, 0
    local softplus = lg.custom{ name = "softplus",
      forward = function (x) forwards = forwards + 1 return math.log(1 + math.exp(x)) end,
      backward = function (g, x) backwards = backwards + 1 return g * lg.sigmoid(x) end }
    local f = function (w, xs)
      local s = 0
      for i = 1, #xs do s = s + softplus(w * xs[i]) end
      return s
    end
    local fg = lg.compile(f)
    for k = 1, 5 do
      local w, xs = 0.1 * k, { 1, -2, 0.5 * k }
      local v, dw, dxs = fg(w, xs)
      local ev, edw, edxs = lg.value_and_grad(f)(w, xs)
      assert.near(ev, v, 1e-12)
      assert.near(edw, dw, 1e-12)
      for i = 1, 3 do assert.near(edxs[i], dxs[i], 1e-12) end
    end
    assert.are.equal(1, fg.recordings)
    assert.is_true(forwards >= 5 * 3 * 2 and backwards >= 5 * 3 * 2)
  end)

  it("an error in a replayed backward surfaces, and the compiled function works after", function ()
    local fail = false
    local sq = lg.custom{ name = "sq", forward = function (x) return x * x end,
      backward = function (g, x) if fail then error("refused") end return 2 * x * g end }
    local p = lg.value(3)
    local fg = lg.compile(function (x) return sq(x) * p end)
    assert.are.same({ 12, 12 }, { fg(2) })
    fail = true
    local ok, err = pcall(fg, 2)
    assert.is_false(ok)
    assert.truthy(err:find("luagrad.sq: .*refused$"), err)
    assert.are.equal(4, p.grad)   -- the first call's credit only
    fail = false
    assert.are.same({ 27, 18 }, { fg(3) })
    assert.are.equal(13, p.grad)
  end)
end)
