-- What a new user meets first: any callable where a function is taken, gradcheck on the
-- nested arrays lg.grad takes, the shortest numbers in reports, messages in good grammar,
-- and errors raised by the user's function keeping where they were raised.
local lg = require("luagrad")

local function callable_table (f)
  return setmetatable({}, { __call = function (_, ...) return f(...) end })
end

local function square (x) return x * x end

describe("any callable where a function is taken", function ()
  it("lg.grad and lg.value_and_grad take a compiled function: its gradients, replayed", function ()
    local fg = lg.compile(function (x, y) return x * y + lg.sin(x) end)
    local dx, dy = lg.grad(fg)(3, 4)
    assert.equal(4 + math.cos(3), dx)
    assert.equal(3, dy)
    local y, gx, gy = lg.value_and_grad(fg)(3, 4)
    assert.equal(12 + math.sin(3), y)
    assert.equal(4 + math.cos(3), gx)
    assert.equal(3, gy)
    assert.equal(1, fg.recordings)
    local w = lg.grad(fg)(1, 2)   -- replayed, not recorded again
    assert.equal(2 + math.cos(1), w)
    assert.equal(1, fg.recordings)
  end)

  it("a compiled function given Values raises its own error", function ()
    local fg = lg.compile(function (x) return x * x end)
    assert.has_error(function () lg.grad(fg)(lg.value(1)) end,
                     "luagrad.compiled: bad argument #1 (number or array of numbers expected, "
                     .. "got value)")
  end)

  it("the transforms, gradcheck and compile take a table with __call", function ()
    local f = callable_table(square)
    assert.equal(6, lg.grad(f)(3))
    assert.same({ { 2 } }, lg.hessian(f)(3))
    assert.is_true((lg.gradcheck(f, { 0.7 })))
    assert.is_true((lg.gradgradcheck(f, { 0.7 })))
    local fg = lg.compile(f)
    local y, d = fg(5)
    assert.equal(25, y)
    assert.equal(10, d)
    assert.equal("leaf", lg.no_grad(f, lg.value(7)).op)
  end)

  it("still refuses what cannot be called", function ()
    for _, bad in ipairs({ { 3, "number" }, { {}, "table" }, { lg.value(1), "value" } }) do
      assert.has_error(function () lg.grad(bad[1]) end,
                       "luagrad.grad: bad argument #1 (function expected, got " .. bad[2] .. ")")
      assert.has_error(function () lg.gradcheck(bad[1], { 1 }) end,
                       "luagrad.gradcheck: bad argument #1 (function expected, got " .. bad[2] .. ")")
      assert.has_error(function () lg.compile(bad[1]) end,
                       "luagrad.compile: bad argument #1 (function expected, got " .. bad[2] .. ")")
    end
  end)
end)

describe("lg.gradcheck on nested arrays", function ()
  local function f (v, w) return v[1] * v[2][1] + lg.tanh(w) end

  it("takes the arguments lg.grad takes, naming inputs in depth-first order", function ()
    local ok, report = lg.gradcheck(f, { { 0.5, { 2 } }, 0.25 })
    assert.is_true(ok, report)
    local dv, dw = lg.grad(f)({ 0.5, { 2 } }, 0.25)
    assert.same({ 2, { 0.5 } }, dv)
    assert.is_true(math.abs(dw - (1 - math.tanh(0.25) ^ 2)) < 1e-15)
    ok, report = lg.gradgradcheck(f, { { 0.5, { 2 } }, 0.25 })
    assert.is_true(ok, report)
  end)

  it("names a bad element by its place", function ()
    assert.has_error(function () lg.gradcheck(f, { { 1, { "x" } }, 1 }) end,
                     "luagrad.gradcheck: bad argument #2 (number expected at inputs[1][2][1], "
                     .. "got string)")
    assert.has_error(function () lg.gradcheck(f, { 1, true }) end,
                     "luagrad.gradcheck: bad argument #2 (number expected at index 2, got boolean)")
    assert.has_error(function () lg.gradcheck(f, { { lg.value(1) } }) end,
                     "luagrad.gradcheck: bad argument #2 (number expected at inputs[1][1], got value)")
  end)
end)

describe("reports", function ()
  it("print the shortest number that reads back the same", function ()
    local wrong = function (x) return x * x.data end   -- .data breaks the graph
    local ok, report = lg.gradcheck(wrong, { 0.3 })
    assert.is_false(ok)
    assert.equal("gradients differ at input 1 (x = 0.3): backward 0.3, central difference "
                 .. report:match("central difference (%S+),") .. ", error "
                 .. report:match("error (%S+),") .. ", tolerance "
                 .. report:match("tolerance (%S+)$"), report)
    local d = report:match("central difference (%S+),")
    assert.equal(tonumber(d), tonumber(string.format("%.17g", tonumber(d))))
    assert.is_true(#d <= 17 + 3)
  end)
end)

describe("messages", function ()
  it("count in the singular and the plural", function ()
    assert.has_error(function () lg.jvp(function (x) return x end, { 1 }, { { 1, 2 } }) end,
                     "luagrad.jvp: tangents (2 numbers in 1 argument) must be shaped as primals "
                     .. "(1 number in 1 argument)")
    local _, pullback = lg.vjp(function (x) return x end, 1)
    assert.has_error(function () pullback({ 1, 2 }) end,
                     "luagrad.vjp: the cotangent (2 numbers) must be shaped as the result "
                     .. "(1 number)")
  end)
end)

describe("an error raised by the user's function", function ()
  local function raiser () error("boom") end
  local line = debug.getinfo(raiser, "S").linedefined

  for _, case in ipairs({
    { "lg.grad", function () return lg.grad(raiser)(1) end },
    { "lg.value_and_grad", function () return lg.value_and_grad(raiser)(1) end },
    { "lg.jacobian", function () return lg.jacobian(raiser)(1) end },
    { "lg.vjp", function () return lg.vjp(raiser, 1) end },
    { "lg.jvp", function () return lg.jvp(raiser, { 1 }, { 1 }) end },
    { "lg.no_grad", function () return lg.no_grad(raiser) end },
    { "lg.enable_grad", function () return lg.enable_grad(raiser) end },
    { "lg.gradcheck", function () return lg.gradcheck(raiser, { 1 }) end },
    { "lg.compile", function () return lg.compile(raiser)(1) end },
    { "lg.compile inside lg.no_grad", function ()
        return lg.no_grad(function () return lg.compile(raiser)(1) end)
      end },
  }) do
    it("passes through " .. case[1] .. " unchanged, keeping its position and traceback", function ()
      local tb
      local ok, err = xpcall(case[2], function (e) tb = debug.traceback(e, 2); return e end)
      assert.is_false(ok)
      assert.truthy(err:find(":" .. line .. ": boom$"), err)
      assert.is_string(tb)   -- (its frames are cut at luagrad's pcall: issue 11 leaves this)
      assert.is_true(lg.is_grad_enabled())
      assert.equal(6, lg.grad(square)(3))   -- no transform left open: numbers out again
      local fg = lg.compile(square)         -- no recording left open: guards work again
      assert.same({ 9, 6 }, { fg(3) })
      assert.same({ 16, 8 }, { fg(4) })
      assert.equal(1, fg.recordings)
    end)
  end
end)
