-- The n-ary ops, one node over any number of terms: lg.sum and lg.dot (values, gradients,
-- central differences, numbers mixed in, many terms, bad lists).
-- Run: lua5.4 /usr/bin/busted "--lpath=lua/?.lua;lua/?/init.lua" "--cpath=build/lua/?.so" spec/nary_spec.lua

local lg = require("luagrad")
local h = require("spec.helpers")
local near, isfloat, grads = h.near, h.isfloat, h.grads

local H = 1e-6          -- central-difference step
local DTOL = 1e-6       -- derivative tolerance, relative above 1 and absolute below
local FTOL = 1e-12      -- forward-value tolerance, the same way

-- n distinct leaves 1..n and, for each, an intermediate 2*x_i that only the sum keeps
local function leaves_and_doubles (n)
  local xs, terms = {}, {}
  for i = 1, n do
    xs[i] = lg.value(i)
    terms[i] = xs[i] * 2
  end
  return xs, terms
end

local function all_grads_equal (xs, g)
  for i = 1, #xs do
    if xs[i].grad ~= g then
      assert.equal(g, xs[i].grad, "grad of element " .. i)
    end
  end
end

describe("lg.sum", function ()
  it("is one node named sum whose data is the sum and gives each Value gradient 1",
     function ()
    local a, b, c = lg.value(1), lg.value(2.5), lg.value(-4)
    local s = lg.sum({a, b, c})
    assert.equal("sum", s.op)
    assert.equal(-0.5, s.data)
    isfloat(s.data)
    s:backward()
    assert.same({1, 1, 1}, grads(a, b, c))
    assert.equal(1, s.grad)
  end)

  it("of an empty list is a Value holding 0.0", function ()
    local s = lg.sum({})
    assert.equal("value", lg.type(s))
    assert.equal(0, s.data)
    isfloat(s.data)
    assert.equal("sum", s.op)
    assert.has_no.errors(function () s:backward() end)
    assert.equal(1, s.grad)
  end)

  it("of plain numbers is still a Value", function ()
    local s = lg.sum({1, 2})
    assert.equal("value", lg.type(s))
    assert.equal(3, s.data)
    assert.equal("sum", s.op)
  end)

  it("counts a Value each time it appears", function ()
    local a = lg.value(2)
    local s = lg.sum({a, a, a})
    s:backward()
    assert.equal(6, s.data)
    assert.equal(3, a.grad)
  end)

  it("mixes numbers and Values, with gradient only to the Values", function ()
    local a, b = lg.value(1.5), lg.value(-2)
    local s = lg.sum({a, 2, b, 3.5, a})
    s:backward()
    assert.equal(6.5, s.data)
    assert.same({2, 1}, grads(a, b))
  end)

  it("agrees with a central difference of its plain-Lua value, scaled by the seed", function ()
    local x0 = {-1.25, 0, 1e-3, 7}
    local xs = {}
    for i = 1, #x0 do xs[i] = lg.value(x0[i]) end
    local s = lg.sum(xs)
    s:backward(2)
    local function f (t) local r = 0; for i = 1, #t do r = r + t[i] end; return r end
    for i = 1, #x0 do
      local up, down = {}, {}
      for j = 1, #x0 do up[j], down[j] = x0[j], x0[j] end
      up[i], down[i] = x0[i] + H, x0[i] - H
      near(2 * (f(up) - f(down)) / (2 * H), xs[i].grad, DTOL)
    end
  end)

  it("takes 1024 and 1025 Values (both sides of the user-value limit) and keeps them alive",
     function ()
    for _, n in ipairs({1023, 1024, 1025}) do
      local xs, terms = leaves_and_doubles(n)
      local s = lg.sum(terms)
      terms = nil
      collectgarbage(); collectgarbage()
      s:backward()
      assert.equal(n * (n + 1), s.data)
      all_grads_equal(xs, 2)
    end
  end)

  it("takes 2000 and 100000 Values with exact gradients, even after a collection",
     function ()
    for _, n in ipairs({2000, 100000}) do
      local xs, terms = leaves_and_doubles(n)
      local s = lg.sum(terms)
      terms = nil
      collectgarbage(); collectgarbage()
      assert.equal("sum", s.op)
      s:backward()
      assert.equal(n * (n + 1), s.data)
      all_grads_equal(xs, 2)
    end
  end)

  it("counts one Value repeated 2000 times 2000 times", function ()
    local a = lg.value(0.5)
    local list = {}
    for i = 1, 2000 do list[i] = a end
    local s = lg.sum(list)
    s:backward()
    assert.equal(1000, s.data)
    assert.equal(2000, a.grad)
  end)

  it("mixes numbers and more than 1024 Values", function ()
    local xs, list = {}, {}
    for i = 1, 1500 do
      xs[i] = lg.value(1)
      list[#list + 1] = xs[i]
      list[#list + 1] = 2
    end
    local s = lg.sum(list)
    s:backward()
    assert.equal(4500, s.data)
    all_grads_equal(xs, 1)
  end)
end)

describe("lg.dot", function ()
  it("is one node named dot, the sum of pairwise products, with the other factor as gradient",
     function ()
    local a, b, c, d = lg.value(1), lg.value(2), lg.value(3), lg.value(-4)
    local y = lg.dot({a, b}, {c, d})
    assert.equal("dot", y.op)
    assert.equal(-5, y.data)
    isfloat(y.data)
    y:backward()
    assert.same({3, -4, 1, 2}, grads(a, b, c, d))
  end)

  it("of empty lists is a Value holding 0, and of numbers is a Value", function ()
    local z = lg.dot({}, {})
    assert.equal("value", lg.type(z))
    assert.equal(0, z.data)
    assert.equal("dot", z.op)
    local y = lg.dot({1, 2}, {3, 4})
    assert.equal("value", lg.type(y))
    assert.equal(11, y.data)
  end)

  it("counts a Value each time it appears: dot({a, a}, {b, a}) = ab + a^2", function ()
    local a, b = lg.value(3), lg.value(5)
    local y = lg.dot({a, a}, {b, a})
    y:backward()
    assert.equal(24, y.data)
    assert.equal(5 + 2 * 3, a.grad)
    assert.equal(3, b.grad)
    local c = lg.value(-2)
    local z = lg.dot({c}, {c})
    z:backward()
    assert.equal(4, z.data)
    assert.equal(-4, c.grad)
  end)

  it("mixes numbers and Values in either list", function ()
    local a, b = lg.value(1.5), lg.value(-2)
    local y = lg.dot({a, 2, 4}, {3, b, 0.5})
    y:backward()
    assert.equal(4.5 - 4 + 2, y.data)
    assert.same({3, 2}, grads(a, b))
  end)

  it("agrees with a central difference in every element", function ()
    local x0, w0 = {-1.25, 0, 1e-3, 7}, {0.5, -3, 2, 1e-2}
    local xs, ws = {}, {}
    for i = 1, #x0 do xs[i], ws[i] = lg.value(x0[i]), lg.value(w0[i]) end
    local y = lg.dot(xs, ws)
    y:backward()
    local function f (p, q) local r = 0; for i = 1, #p do r = r + p[i] * q[i] end; return r end
    near(f(x0, w0), y.data, FTOL)
    for i = 1, #x0 do
      local up, down = {}, {}
      for j = 1, #x0 do up[j], down[j] = x0[j], x0[j] end
      up[i], down[i] = x0[i] + H, x0[i] - H
      near((f(up, w0) - f(down, w0)) / (2 * H), xs[i].grad, DTOL)
      near((f(x0, up) - f(x0, down)) / (2 * H), ws[i].grad, DTOL)
    end
  end)

  it("takes 512 and 513 pairs of Values (1024 and 1026 Values) and keeps them alive",
     function ()
    for _, n in ipairs({512, 513}) do
      local xs, terms = leaves_and_doubles(n)
      local ones = {}
      for i = 1, n do ones[i] = lg.value(1) end
      local y = lg.dot(terms, ones)
      terms = nil
      collectgarbage(); collectgarbage()
      y:backward()
      assert.equal(n * (n + 1), y.data)
      all_grads_equal(xs, 2)
      for i = 1, n do
        if ones[i].grad ~= 2 * i then assert.equal(2 * i, ones[i].grad) end
      end
    end
  end)

  it("takes 100000 pairs with exact gradients", function ()
    local n = 100000
    local xs, ws = {}, {}
    for i = 1, n do
      xs[i] = lg.value(i)
      ws[i] = lg.value(2)
    end
    local y = lg.dot(xs, ws)
    collectgarbage()
    y:backward()
    assert.equal(n * (n + 1), y.data)
    all_grads_equal(xs, 2)
    for i = 1, n do
      if ws[i].grad ~= i then assert.equal(i, ws[i].grad) end
    end
  end)
end)

describe("the op table's n-ary ops", function ()
  it("are exactly sum and dot, both specced above", function ()
    local names = {}
    for _, op in ipairs(lg._ops) do
      if op.arity == "n" or op.arity == "pairs" then names[#names + 1] = op.name end
    end
    assert.same({ "sum", "dot" }, names)
  end)
end)
