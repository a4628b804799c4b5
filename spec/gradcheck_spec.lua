-- lg.gradcheck and the busted assertion for users' specs (luagrad.busted).
local lg = require("luagrad")
require("luagrad.busted")

-- broken: multiplies by a number read from .data, so backward misses one path
local function broken (x) return x * x.data end
local function square (x) return x * x end

describe("lg.gradcheck", function ()
  it("passes a function whose backward is right, at several inputs", function ()
    local ok, report = lg.gradcheck(function (x, y) return lg.tanh(x * y) + lg.exp(x) / y end,
                                    {0.3, -1.7})
    assert.is_true(ok, report)
    assert.truthy(report:find("^gradients agree; closest to failing: input %d"))
  end)

  it("fails a function whose backward is wrong, naming the input and both numbers", function ()
    local ok, report = lg.gradcheck(broken, {3})
    assert.is_false(ok)
    assert.are.equal("gradients differ at input 1 (x = 3): backward 3, central difference "
                     .. report:match("central difference (%S+),") .. ", error "
                     .. report:match("error (%S+),") .. ", tolerance "
                     .. report:match("tolerance (%S+)$"), report)
    assert.is_true(math.abs(tonumber(report:match("central difference (%S+),")) - 6) < 1e-6)
  end)

  it("names the worst of several inputs", function ()
    local ok, report = lg.gradcheck(function (a, b) return a * 2 + broken(b) end, {1, 5})
    assert.is_false(ok)
    assert.truthy(report:find("input 2 (x = 5)", 1, true), report)
  end)

  it("takes eps, atol and rtol", function ()
    -- a forward difference of x^3 with a big eps is off by about eps^2 = 1e-4 relative
    local ok = lg.gradcheck(function (x) return x ^ 3 end, {1}, {eps = 1e-2, atol = 0, rtol = 1e-6})
    assert.is_false(ok)
    ok = lg.gradcheck(function (x) return x ^ 3 end, {1}, {eps = 1e-2, atol = 0, rtol = 1e-3})
    assert.is_true(ok)
  end)

  it("reports bad arguments in the library's shape", function ()
    assert.has_error(function () lg.gradcheck(3, {1}) end,
                     "luagrad.gradcheck: bad argument #1 (function expected, got number)")
    assert.has_error(function () lg.gradcheck(square, 1) end,
                     "luagrad.gradcheck: bad argument #2 (table expected, got number)")
    assert.has_error(function () lg.gradcheck(square, {1, "2"}) end,
                     "luagrad.gradcheck: bad argument #2 (number expected at index 2, got string)")
    assert.has_error(function () lg.gradcheck(square, {1}, 5) end,
                     "luagrad.gradcheck: bad argument #3 (table expected, got number)")
    assert.has_error(function () lg.gradcheck(function () return 1 end, {1}) end,
                     "luagrad.gradcheck: the function must return a value, got number")
  end)
end)

describe("assert.gradients (require 'luagrad.busted')", function ()
  it("passes when backward agrees with central differences", function ()
    assert.gradients(square, {1.5})
    assert.gradients(function (x, y) return lg.sigmoid(x) * lg.log(y) end, {0.2, 3})
    assert.is_not.gradients(broken, {3})
  end)

  it("fails with a message naming the input and both numbers", function ()
    local ok, err = pcall(function () assert.gradients(broken, {3}) end)
    assert.is_false(ok)
    local msg = tostring(type(err) == "table" and err.message or err)
    assert.truthy(msg:find("Expected the gradients of the function to agree with central "
                           .. "differences", 1, true), msg)
    assert.truthy(msg:find("input 1 (x = 3): backward 3, central difference", 1, true), msg)
  end)
end)
