-- The function transforms (lua/luagrad/functional.lua): lg.grad, lg.value_and_grad,
-- lg.jacobian (jacfwd, jacrev), lg.hessian, lg.jvp and lg.vjp; their shapes, modes, errors,
-- and jvp against vjp on random graphs.
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/transforms_spec.lua

local lg = require("luagrad")

local function near (expected, actual, tol, what)
  assert.is_number(actual, what)
  assert.near(expected, actual, tol * math.max(1, math.abs(expected)), what)
end

local function isfloat (x)
  assert.are.equal("number", type(x))
  if math.type then assert.are.equal("float", math.type(x)) end
end

describe("lg.grad", function ()
  it("returns one gradient per argument, as numbers", function ()
    local f = function (x, y) return x * x * y + lg.sin(y) end
    local dx, dy = lg.grad(f)(3, 2)
    assert.are.equal(12, dx)
    near(9 + math.cos(2), dy, 1e-15)
    isfloat(dx)
    isfloat(dy)
  end)

  it("shapes each gradient like its argument: nested arrays", function ()
    local f = function (w, b, xs)
      local s = b
      for i = 1, #xs do s = s + w[i] * xs[i][1] * xs[i][2] end
      return s
    end
    local dw, db, dxs = lg.grad(f)({ 2, 3 }, 1, { { 4, 5 }, { 6, 7 } })
    assert.are.same({ 20, 42 }, dw)
    assert.are.equal(1, db)
    assert.are.same({ { 10, 8 }, { 21, 18 } }, dxs)
    assert.are.same({ {}, 0 }, { lg.grad(function (t, x) return x * 0 end)({}, 5) })
  end)

  it("runs ordinary Lua: loops and branches see numbers through the Values", function ()
    local f = function (x)
      local y = x
      for _ = 1, 3 do
        if y.data > 1 then y = y / 2 else y = y * y end   -- (5.1 compares no Value with a number)
      end
      return y
    end
    -- at 3: 3/2, 3/4, 9/16: y = (x/4)^2, dy/dx = x/8
    assert.are.equal(3 / 8, lg.grad(f)(3))
    -- at 0.5: 1/4, 1/16, 1/256: y = x^8, dy/dx = 8x^7
    assert.are.equal(8 * 0.5 ^ 7, lg.grad(f)(0.5))
  end)

  it("a function that returns a number has zero gradients", function ()
    assert.are.same({ 0, 0 }, { lg.grad(function () return 7 end)(1, 2) })
  end)

  it("given Values, returns Values (the derivative can be differentiated again)", function ()
    local x = lg.value(2)
    local g = lg.grad(function (t) return t ^ 3 end)(x)
    assert.are.equal("value", lg.type(g))
    assert.are.equal(12, g.data)
    g:backward()
    assert.are.equal(12, x.grad)   -- d/dx 3x^2
  end)

  it("rejects what is not a function, and bad arguments and results", function ()
    assert.has_error(function () lg.grad(3) end,
                     "luagrad.grad: bad argument #1 (function expected, got number)")
    assert.has_error(function () lg.grad(function (x) return { x } end)(1) end,
                     "luagrad.grad: the function must return a value or a number, got table")
    assert.has_error(function () lg.grad(function (x) return x end)("1") end,
                     "luagrad.grad: the function must return a value or a number, got string")
    assert.has_error(function () lg.grad(function (x) return x end)({ 1, { true } }) end,
                     "luagrad.grad: the function must return a value or a number, got table")
    assert.has_error(function () lg.grad(function (x) return x end)({ [0] = 1 }) end,
                     "luagrad.grad: bad argument #1 (a table's keys must be 1 .. #t or strings, "
                     .. "got number 0)")
    local deep = {}
    deep[1] = deep
    assert.has_error(function () lg.grad(function () return 0 end)(deep) end,
                     "luagrad.grad: argument #1 nested too deeply (or a table that contains "
                     .. "itself)")
  end)

  it("passes an error of the function through unchanged", function ()
    local ok, err = pcall(lg.grad(function () error({ code = 7 }) end), 1)
    assert.is_false(ok)
    assert.are.same({ code = 7 }, err)
  end)
end)

describe("argument trees", function ()
  it("differentiate string-keyed tables as well as arrays; other leaves pass through", function ()
    local v, dx, dcfg = lg.value_and_grad(function (x, cfg) return x * cfg.scale end)(
      2, { scale = 3, name = "a" })
    assert.are.equal(6, v)
    assert.are.equal(3, dx)
    assert.are.same({ scale = 2 }, dcfg)
    local g = lg.grad(function (p)
      return p.w[1] * p.w[2] + p.b * (p.on and 1 or 0)
    end)({ w = { 2, 5 }, b = 1, on = true, f = print })
    assert.are.same({ w = { 5, 2 }, b = 1 }, g)
  end)

  it("pass non-differentiable arguments through, with no gradient", function ()
    local seen
    local dx, ds, dt = lg.grad(function (x, s, t) seen = { s, t } return x * x end)(3, "hi", true)
    assert.are.equal(6, dx)
    assert.is_nil(ds)
    assert.is_nil(dt)
    assert.are.same({ "hi", true }, seen)
  end)

  it("work under lg.jacobian, lg.jvp and lg.vjp alike", function ()
    local f = function (p) return { y = p.a * p.b, z = p.a } end
    local J = lg.jacobian(f)({ a = 2, b = 3 })   -- rows y, z (sorted), columns a, b (sorted)
    assert.are.same({ { 3, 2 }, { 1, 0 } }, J)
    local out, t = lg.jvp(f, { { a = 2, b = 3 } }, { { a = 1, b = 0 } })
    assert.are.same({ y = 6, z = 2 }, out)
    assert.are.same({ y = 3, z = 1 }, t)
    local o, pullback = lg.vjp(f, { a = 2, b = 3 })
    assert.are.same({ y = 6, z = 2 }, o)
    assert.are.same({ a = 3 + 1, b = 2 }, pullback({ y = 1, z = 1 }))
  end)
end)

describe("option argnums", function ()
  local f = function (x, y, z) return x * y + z end

  it("picks the arguments differentiated, in the order given", function ()
    assert.are.equal(3, lg.grad(f, { argnums = 1 })(2, 3, 4))
    assert.are.same({ 1, 3 }, { lg.grad(f, { argnums = { 3, 1 } })(2, 3, 4) })
    local v, dy = lg.value_and_grad(f, { argnums = 2 })(2, 3, 4)
    assert.are.same({ 10, 2 }, { v, dy })
  end)

  it("leaves the other arguments as they are (not recorded, any type)", function ()
    local g = lg.grad(function (x, cfg) return x * cfg.k end, { argnums = 1 })
    assert.are.equal(5, g(2, { k = 5 }))
    local called
    assert.are.equal(4, lg.grad(function (x, cb) cb() return x * x end, { argnums = 1 })(2,
                                function () called = true end))
    assert.is_true(called)
  end)

  it("selects the Jacobian's and the Hessian's columns", function ()
    assert.are.same({ { 2 } }, lg.jacobian(f, { argnums = 2 })(2, 3, 4))
    local H = lg.hessian(function (x, y) return x * x * y end, { argnums = 1 })(3, 5)
    assert.are.same({ { 10 } }, H)
    local H2 = lg.hessian(function (x, y) return x * x * y end)(3, 5)
    assert.are.same({ { 10, 6 }, { 6, 0 } }, H2)
  end)

  it("is checked, with messages that name what is wrong", function ()
    assert.has_error(function () lg.grad(f, { argnums = 0 }) end,
      "luagrad.grad: bad option 'argnums' (argument number expected, got 0 at index 1)")
    assert.has_error(function () lg.grad(f, { argnums = { 1, 1 } }) end,
      "luagrad.grad: bad option 'argnums' (argument 1 twice at index 2)")
    assert.has_error(function () lg.grad(f, { argnums = {} }) end,
      "luagrad.grad: bad option 'argnums' (argument number or array of them expected, got "
      .. "an empty table)")
    assert.has_error(function () lg.grad(f, { argnums = "1" }) end,
      "luagrad.grad: bad option 'argnums' (argument number expected, got string at index 1)")
    assert.has_error(function () lg.grad(f, { argnum = 1 }) end,
      "luagrad.grad: unknown option 'argnum'")
    assert.has_error(function () lg.grad(f, { mode = "forward" }) end,
      "luagrad.grad: unknown option 'mode'")
    assert.has_error(function () lg.grad(f, { argnums = 4 })(1, 2, 3) end,
      "luagrad.grad: argnums asks for argument #4, but the function was given 3")
    assert.has_error(function () lg.grad(f, 7) end,
      "luagrad.grad: bad argument #2 (table expected, got number)")
  end)
end)

describe("option has_aux", function ()
  local f = function (x, y) return x * y, { note = "aux", y = y } end

  it("returns f's second result after the gradients, undifferentiated", function ()
    local dx, dy, aux = lg.grad(f, { has_aux = true })(2, 3)
    assert.are.same({ 3, 2 }, { dx, dy })
    assert.are.equal("aux", aux.note)
    local v, a, gx = lg.value_and_grad(f, { has_aux = true, argnums = 1 })(2, 3)
    assert.are.equal(6, v)
    assert.are.equal("aux", a.note)
    assert.are.equal(3, gx)
  end)

  it("is a boolean", function ()
    assert.has_error(function () lg.grad(f, { has_aux = 1 }) end,
      "luagrad.grad: bad option 'has_aux' (boolean expected, got number)")
  end)
end)

describe("lg.jvp and lg.vjp on several results", function ()
  local f = function (x, y) return x * y, lg.sin(x), { x + y } end

  it("jvp returns every result, then every result's tangent", function ()
    local a, b, c, ta, tb, tc = lg.jvp(f, { 2, 3 }, { 1, 0 })
    assert.are.same({ 6, math.sin(2), { 5 } }, { a, b, c })
    assert.are.same({ 3, math.cos(2), { 1 } }, { ta, tb, tc })
  end)

  it("vjp returns every result, then a pullback that takes one cotangent per result",
     function ()
    local a, b, c, pullback = lg.vjp(f, 2, 3)
    assert.are.same({ 6, math.sin(2), { 5 } }, { a, b, c })
    local dx, dy = pullback(1, 0, { 0 })
    assert.are.same({ 3, 2 }, { dx, dy })
    dx, dy = pullback(0, 1, { 1 })
    assert.are.same({ math.cos(2) + 1, 1 }, { dx, dy })
    assert.has_error(function () pullback(1, 0) end,
      "luagrad.vjp: the cotangents (2 numbers in 2) must be shaped as the results (3 numbers "
      .. "in 3)")
  end)
end)

describe("lg.value_and_grad", function ()
  it("returns the value first", function ()
    local v, dx, dy = lg.value_and_grad(function (x, y) return x / y end)(3, 4)
    assert.are.equal(0.75, v)
    assert.are.equal(0.25, dx)
    assert.are.equal(-3 / 16, dy)
    assert.are.same({ 5, 0 }, { lg.value_and_grad(function () return 5 end)(1) })
  end)
end)

describe("lg.jacobian", function ()
  local f = function (x, y) return { x * y, x + y, lg.exp(x) } end

  it("rows are outputs, columns inputs; every mode agrees", function ()
    local expected = { { 3, 2 }, { 1, 1 }, { math.exp(2), 0 } }
    for _, J in ipairs({ lg.jacobian(f)(2, 3), lg.jacfwd(f)(2, 3), lg.jacrev(f)(2, 3),
                         lg.jacobian(f, { mode = "reverse" })(2, 3),
                         lg.jacobian(f, { mode = "forward" })(2, 3) }) do
      assert.are.equal(3, #J)
      for i = 1, 3 do
        for j = 1, 2 do near(expected[i][j], J[i][j], 1e-15) end
      end
    end
  end)

  it("flattens every result and every argument in order", function ()
    local g = function (v, s) return v[1] * s, { v[2] * v[2], s } end
    local J = lg.jacobian(g)({ 2, 3 }, 5)
    assert.are.same({ { 5, 0, 2 }, { 0, 6, 0 }, { 0, 0, 1 } }, J)
  end)

  it("rejects a bad mode", function ()
    assert.has_error(function () lg.jacobian(f, { mode = "sideways" }) end,
                     "luagrad.jacobian: bad option 'mode' (\"forward\" or \"reverse\" expected, "
                     .. "got \"sideways\")")
    assert.has_error(function () lg.hessian(f, 3) end,
                     "luagrad.hessian: bad argument #2 (table expected, got number)")
  end)
end)

describe("lg.jvp and lg.vjp", function ()
  it("jvp: the output and its derivative in a direction, shaped like the output", function ()
    local out, t = lg.jvp(function (x, y) return { x * y, lg.sin(x) } end, { 2, 3 }, { 1, 0 })
    assert.are.same({ 6, math.sin(2) }, out)
    assert.are.same({ 3, math.cos(2) }, t)
    local o, d = lg.jvp(function (v) return lg.dot(v, v) end, { { 1, 2 } }, { { 1, 1 } })
    assert.are.equal(5, o)
    assert.are.equal(6, d)
  end)

  it("vjp: the output and a pullback that may be called again", function ()
    local out, pullback = lg.vjp(function (x, y) return { x * y, lg.sin(x) } end, 2, 3)
    assert.are.same({ 6, math.sin(2) }, out)
    local dx, dy = pullback({ 1, 0 })
    assert.are.same({ 3, 2 }, { dx, dy })
    dx, dy = pullback({ 0, 2 })
    assert.are.same({ 2 * math.cos(2), 0 }, { dx, dy })
    local o, pb = lg.vjp(function (v) return v[1] * v[2] end, { 4, 5 })
    assert.are.equal(20, o)
    assert.are.same({ 10, 8 }, pb(2))
  end)

  it("reject mismatched shapes", function ()
    assert.has_error(function ()
      lg.jvp(function (x, y) return x * y end, { 1, 2 }, { 1 })
    end, "luagrad.jvp: tangents (1 number in 1 argument) must be shaped as primals "
         .. "(2 numbers in 2 arguments)")
    assert.has_error(function () lg.jvp(function (x) return x end, 1, { 1 }) end,
                     "luagrad.jvp: bad argument #2 (table expected, got number)")
    local _, pullback = lg.vjp(function (x) return { x, x } end, 1)
    assert.has_error(function () pullback({ 1 }) end,
                     "luagrad.vjp: the cotangent (1 number) must be shaped as the result "
                     .. "(2 numbers)")
    assert.has_error(function () pullback(1) end)
  end)

  -- random graphs of every op: u . (J v) by jvp equals (u J) . v by vjp
  local UNARY = { "exp", "sin", "cos", "tanh", "sigmoid", "abs", "relu" }
  local BINARY = { "+", "-", "*", "max", "min" }

  local function randomgraph (seed)
    local r = seed
    local function rand ()
      r = (r * 1103515245 + 12345) % 2147483648
      return r / 2147483648
    end
    local program = {}
    for k = 1, 25 do
      if rand() < 0.4 then
        program[k] = { UNARY[1 + math.floor(rand() * #UNARY)], 1 + math.floor(rand() * (k + 2)) }
      else
        program[k] = { BINARY[1 + math.floor(rand() * #BINARY)], 1 + math.floor(rand() * (k + 2)),
                       1 + math.floor(rand() * (k + 2)), rand() < 0.2 and rand() or nil }
      end
    end
    local function f (a, b, c)
      local v = { a, b, c }
      for k, p in ipairs(program) do
        local x, y = v[p[2]], p[4] or v[p[3]]
        if p[1] == "+" then v[k + 3] = x + y
        elseif p[1] == "-" then v[k + 3] = x - y
        elseif p[1] == "*" then v[k + 3] = x * y
        elseif #p == 2 then v[k + 3] = lg[p[1]](x)
        else v[k + 3] = lg[p[1]](x, y) end
        if math.abs(lg.type(v[k + 3]) and v[k + 3].data or v[k + 3]) > 1e3 then
          v[k + 3] = lg.tanh(v[k + 3])   -- keep the numbers tame
        end
      end
      return { v[#v], v[#v - 3], v[#v - 7] }
    end
    return f, rand
  end

  it("agree on random graphs: u . (J v) = (u J) . v", function ()
    for seed = 1, 40 do
      local f, rand = randomgraph(seed)
      local x = { rand() * 2 - 1, rand() * 2 - 1, rand() * 2 - 1 }
      local v = { rand() - 0.5, rand() - 0.5, rand() - 0.5 }
      local u = { rand() - 0.5, rand() - 0.5, rand() - 0.5 }
      local _, jv = lg.jvp(f, x, v)
      local _, pullback = lg.vjp(f, x[1], x[2], x[3])
      local uj = { pullback(u) }
      local lhs, rhs = 0, 0
      for i = 1, 3 do
        lhs = lhs + u[i] * jv[i]
        rhs = rhs + uj[i] * v[i]
      end
      near(rhs, lhs, 1e-12, "seed " .. seed)
      -- and the whole Jacobian both ways
      local JF, JR = lg.jacfwd(f)(x[1], x[2], x[3]), lg.jacrev(f)(x[1], x[2], x[3])
      for i = 1, 3 do
        for j = 1, 3 do near(JR[i][j], JF[i][j], 1e-12, "seed " .. seed) end
      end
    end
  end)
end)

describe("transforms under lg.no_grad", function ()
  it("still record their function, as torch.func's do", function ()
    local d2 = lg.no_grad(function ()
      return lg.grad(lg.grad(function (x) return x ^ 3 end))(2)
    end)
    assert.are.equal(12, d2)
    local H = lg.no_grad(lg.hessian(function (v) return v[1] * v[2] end), { 1, 2 })
    assert.are.same({ { 0, 1 }, { 1, 0 } }, H)
    assert.is_true(lg.is_grad_enabled())
  end)
end)

describe("nested transforms", function ()
  it("a Hessian-vector product, forward over reverse, equals the Hessian times v", function ()
    local f = function (x) return x[1] ^ 2 * x[2] + lg.exp(x[1] * x[2]) end
    local x, v = { 0.5, -1.5 }, { 2, 3 }
    local _, hv = lg.jvp(lg.grad(f), { x }, { v })
    local H = lg.hessian(f)(x)
    for i = 1, 2 do near(H[i][1] * v[1] + H[i][2] * v[2], hv[i], 1e-13) end
  end)

  it("grad of jvp: reverse over forward", function ()
    -- d/dx of the derivative of x^3 in direction 1: d/dx 3x^2 = 6x
    local g = lg.grad(function (x)
      local _, t = lg.jvp(function (y) return y ^ 3 end, { x }, { 1 })
      return t
    end)
    assert.are.equal(12, g(2))
  end)

  it("jacobian of jacobian: third-order tensors as nested rows", function ()
    local J2 = lg.jacobian(function (x, y)
      local J = lg.jacobian(function (a, b) return { a * a * b } end)(x, y)
      return J[1]
    end)(2, 3)
    -- d/d(x, y) of (2xy, x^2) = [[2y, 2x], [2x, 0]]
    assert.are.same({ { 6, 4 }, { 4, 0 } }, J2)
  end)

  it("vjp inside grad", function ()
    local g = lg.grad(function (x)
      local _, pullback = lg.vjp(function (y) return lg.sin(y) * y end, x)
      return pullback(1)
    end)
    -- d/dx (cos x * x + sin x) = -sin x * x + 2 cos x
    near(-math.sin(0.7) * 0.7 + 2 * math.cos(0.7), g(0.7), 1e-14)
  end)
end)
