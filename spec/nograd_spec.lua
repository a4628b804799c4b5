-- Stopping gradients: lg.no_grad, lg.enable_grad, lg.is_grad_enabled, lg.stop_gradient, and
-- how lg.compile records under them.
local lg = require("luagrad")

local LUA54 = _VERSION == "Lua 5.4"
local YIELDS = _VERSION ~= "Lua 5.1" or rawget(_G, "jit") ~= nil   -- pcall can yield

-- every op of the op table (lg._ops), through each way a script reaches it
local function everyop (a, b)
  local t = { a + b, a - b, a * b, a / b, a ^ 2, 2 ^ a, a ^ b, -a, a:exp(), a:pow(3), a:min(b) }
  for _, op in ipairs(lg._ops) do
    local f = op.fn and lg[op.fn]
    if op.arity == 1 and f then t[#t + 1] = f(a)
    elseif op.arity == 2 and f then t[#t + 1] = f(a, b)
    elseif op.arity == 3 then t[#t + 1] = f(a, a, b)
    elseif op.arity == "n" then t[#t + 1] = f({ a, b, 3 })
    elseif op.arity == "pairs" then t[#t + 1] = f({ a, b }, { b, 2 }) end
  end
  return t
end

describe("lg.no_grad", function ()
  after_each(function () assert.is_true(lg.is_grad_enabled()) end)

  it("runs the function and returns every result, nil included", function ()
    local n = select("#", lg.no_grad(function () return 1, nil, "x", nil end))
    assert.are.equal(4, n)
    local a, b, c = lg.no_grad(function (x, y) return y, x, 7 end, "p", "q")
    assert.are.same({ "q", "p", 7 }, { a, b, c })
  end)

  it("makes every op return a leaf holding the same value", function ()
    local a, b = lg.value(1.5), lg.value(0.25)
    local recorded = everyop(a, b)
    local plain = lg.no_grad(everyop, a, b)
    assert.are.equal(#recorded, #plain)
    for i = 1, #recorded do
      assert.are_not.equal("leaf", recorded[i].op)
      assert.are.equal("value", lg.type(plain[i]))
      assert.are.equal("leaf", plain[i].op)
      assert.are.equal(recorded[i].data, plain[i].data)
    end
  end)

  it("leaves numbers numbers", function ()
    local x, y = lg.no_grad(function () return lg.exp(0), lg.max(1, 2) end)
    assert.are.equal(1, x)
    assert.are.equal(2, y)
  end)

  it("cuts backward there: the gradient does not reach the inputs", function ()
    local a, b = lg.value(2), lg.value(3)
    local c = lg.no_grad(function () return a * b end)
    local J = c * a
    J:backward()
    assert.are.equal(2, c.grad)
    assert.are.equal(6, a.grad)   -- through J = c * a only, with c a constant 6
    assert.are.equal(0, b.grad)
  end)

  it("does not stop backward over a graph built before", function ()
    local a = lg.value(3)
    local J = a * a
    lg.no_grad(function () J:backward() end)
    assert.are.equal(6, a.grad)
  end)

  it("nests, and restores the state from before", function ()
    lg.no_grad(function ()
      assert.is_false(lg.is_grad_enabled())
      lg.no_grad(function () assert.is_false(lg.is_grad_enabled()) end)
      assert.is_false(lg.is_grad_enabled())
      assert.are.equal("leaf", (lg.value(1) * 2).op)
    end)
    assert.are.equal("*", (lg.value(1) * 2).op)
  end)

  it("restores recording when the function raises, and raises its error unchanged", function ()
    local e = {}
    local ok, got = pcall(lg.no_grad, function () error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, got)
    local function boom () error("boom") end
    local _, direct = pcall(boom)
    ok, got = pcall(lg.no_grad, boom)
    assert.is_false(ok)
    assert.are.equal(direct, got)   -- with the position of error(), not of no_grad
    assert.is_true(lg.is_grad_enabled())
    ok, got = pcall(lg.no_grad, function () return lg.value(1) + {} end)
    assert.are.equal("luagrad: bad operand #2 to '+' (number or value expected, got table)",
                     (got:gsub("^[^:]+:%d+: ", "")))
  end)

  it("takes anything with __call", function ()
    local model = setmetatable({ w = lg.value(2) }, { __call = function (m, x) return m.w * x end })
    assert.are.equal("leaf", lg.no_grad(model, 3).op)
  end)

  it("refuses anything that cannot be called", function ()
    for _, c in ipairs({ { 3, "number" }, { {}, "table" }, { "f", "string" },
                         { lg.value(1), "value" } }) do
      assert.has_error(function () lg.no_grad(c[1]) end,
                       "luagrad.no_grad: bad argument #1 (function expected, got " .. c[2] .. ")")
    end
    assert.has_error(function () lg.no_grad(nil, 1) end,
                     "luagrad.no_grad: bad argument #1 (function expected, got nil)")
  end)

  if YIELDS then
    it("lets the function yield", function ()
      local co = coroutine.wrap(function ()
        return lg.no_grad(function ()
          coroutine.yield(lg.is_grad_enabled())
          return "done"
        end)
      end)
      assert.is_false(co())
      assert.is_false(lg.is_grad_enabled())   -- the setting belongs to the state
      assert.are.equal("done", co())
    end)
  end
end)

describe("lg.no_grad() with no argument", function ()
  after_each(function () assert.is_true(lg.is_grad_enabled()) end)

  it("returns a token whose close restores recording", function ()
    local t = lg.no_grad()
    assert.is_false(lg.is_grad_enabled())
    assert.are.equal("leaf", (lg.value(2) * 3).op)
    t:close()
    assert.is_true(lg.is_grad_enabled())
    assert.are.equal("*", (lg.value(2) * 3).op)
  end)

  it("ignores a second close", function ()
    local t = lg.no_grad()
    t:close()
    local u = lg.no_grad()
    t:close()
    assert.is_false(lg.is_grad_enabled())
    u:close()
    t:close()
    assert.is_true(lg.is_grad_enabled())
  end)

  it("closes, with an outer token, every scope opened inside it", function ()
    local outer = lg.no_grad()
    local inner = lg.enable_grad()
    assert.is_true(lg.is_grad_enabled())
    outer:close()
    assert.is_true(lg.is_grad_enabled())
    inner:close()   -- closed already, by outer
    assert.is_true(lg.is_grad_enabled())
  end)

  it("ignores a stale token whose place was taken by a later scope", function ()
    local a = lg.no_grad()
    local b = lg.no_grad()
    a:close()               -- closes b too
    local c = lg.no_grad()  -- at a's place
    local d = lg.enable_grad()  -- at b's place
    b:close()
    assert.is_true(lg.is_grad_enabled())   -- d still open
    d:close()
    assert.is_false(lg.is_grad_enabled())  -- c still open
    a:close()
    assert.is_false(lg.is_grad_enabled())
    c:close()
  end)

  it("has a close method that checks its argument", function ()
    local t = lg.no_grad()
    assert.has_error(function () t.close(3) end,
                     "luagrad.close: bad argument #1 (scope expected, got number)")
    assert.has_error(function () t.close(lg.value(1)) end,
                     "luagrad.close: bad argument #1 (scope expected, got value)")
    t:close()
    assert.are.equal("luagrad.Scope", getmetatable(t))
  end)

  if LUA54 then
    -- 5.4 syntax, compiled only here so that the file parses on every Lua
    local function chunk (src) return assert(load(src, "=close", "t")) end

    it("is a to-be-closed scope", function ()
      local r = chunk([[
        local lg, a = ...
        local inside, nested, after
        do
          local _ <close> = lg.no_grad()
          inside = a * 2
          do
            local _ <close> = lg.enable_grad()
            nested = a * 2
          end
          after = a * 2
        end
        return inside.op, nested.op, after.op, (a * 2).op
      ]])
      assert.are.same({ "leaf", "*", "leaf", "*" }, { r(lg, lg.value(1)) })
    end)

    it("restores recording when an error unwinds through the scope", function ()
      local ok, err = pcall(chunk([[
        local lg = ...
        local _ <close> = lg.no_grad()
        local _ <close> = lg.no_grad()
        error("through two scopes", 0)
      ]]), lg)
      assert.is_false(ok)
      assert.are.equal("through two scopes", err)
    end)

    it("restores recording when a suspended coroutine holding a scope is closed", function ()
      local co = coroutine.create(chunk([[
        local lg = ...
        local _ <close> = lg.no_grad()
        coroutine.yield()
      ]]))
      coroutine.resume(co, lg)
      assert.is_false(lg.is_grad_enabled())
      assert.is_true(coroutine.close(co))
    end)
  end
end)

describe("lg.enable_grad", function ()
  after_each(function () assert.is_true(lg.is_grad_enabled()) end)

  it("records inside lg.no_grad, and returns the function's results", function ()
    local a = lg.value(2)
    local inner, outer = lg.no_grad(function ()
      local y, z = lg.enable_grad(function (x) return x * x, "z" end, a)
      assert.are.equal("z", z)
      return y, a * a
    end)
    assert.are.equal("*", inner.op)
    assert.are.equal("leaf", outer.op)
    inner:backward()
    assert.are.equal(4, a.grad)
  end)

  it("restores the state from before when the function raises", function ()
    lg.no_grad(function ()
      assert.is_false(pcall(lg.enable_grad, function () error("x") end))
      assert.is_false(lg.is_grad_enabled())
    end)
  end)

  it("refuses anything but a function", function ()
    assert.has_error(function () lg.enable_grad(true) end,
                     "luagrad.enable_grad: bad argument #1 (function expected, got boolean)")
  end)
end)

describe("lg.is_grad_enabled", function ()
  it("is true unless a no_grad scope is open", function ()
    assert.is_true(lg.is_grad_enabled())
    assert.is_false(lg.no_grad(lg.is_grad_enabled))
    assert.is_true(lg.no_grad(lg.enable_grad, lg.is_grad_enabled))
  end)
end)

describe("lg.stop_gradient", function ()
  it("gives a new leaf holding a Value's data", function ()
    local x = lg.value(3)
    local y = x * x
    local s = lg.stop_gradient(y)
    assert.are.equal("leaf", s.op)
    assert.are.equal(9, s.data)
    assert.are_not.equal(y, s)
    local J = s * x   -- d/dx = s only: no path through s
    J:backward()
    assert.are.equal(9, x.grad)
    assert.are.equal(0, y.grad)
  end)

  it("gives a number back unchanged", function ()
    assert.are.equal(2.5, lg.stop_gradient(2.5))
    if math.type then assert.are.equal("integer", math.type(lg.stop_gradient(3))) end
  end)

  it("refuses anything else", function ()
    for _, c in ipairs({ { {}, "table" }, { "3", "string" }, { true, "boolean" } }) do
      assert.has_error(function () lg.stop_gradient(c[1]) end,
                       "luagrad.stop_gradient: bad argument #1 (number, value or tensor "
                       .. "expected, got " .. c[2] .. ")")
    end
    assert.has_error(function () lg.stop_gradient() end,
                     "luagrad.stop_gradient: bad argument #1 (number, value or tensor "
                     .. "expected, got no value)")
  end)
end)

describe("lg.compile under the modes", function ()
  after_each(function () assert.is_true(lg.is_grad_enabled()) end)

  it("records inside lg.no_grad: a compiled function returns gradients", function ()
    local fg = lg.compile(function (x) return x * x * 3 end)
    local y, dx = lg.no_grad(fg, 2)
    assert.are.same({ 12, 12 }, { y, dx })
    y, dx = lg.no_grad(fg, 3)   -- a replay
    assert.are.same({ 27, 18 }, { y, dx })
    assert.are.equal(1, fg.recordings)
  end)

  -- an unrecorded result reads its operands' data, which is a guard
  for _, c in ipairs({
    { "no_grad", function (x) return lg.no_grad(function () return x * x end) * x end },
    { "stop_gradient", function (x) return lg.stop_gradient(x * x) * x end },
    { "detach", function (x) return (x * x):detach() * x end },
  }) do
    it("records again when the data read by " .. c[1] .. " changes", function ()
      local fg = lg.compile(c[2])
      for _, x in ipairs({ 2, 3, 3, 4 }) do
        local y, dx = fg(x)
        assert.are.equal(x * x * x, y)
        assert.are.equal(x * x, dx)   -- the stopped factor counts as a constant
      end
      assert.are.equal(3, fg.recordings)
    end)
  end

  it("reads the data of every Value of an unrecorded sum", function ()
    local fg = lg.compile(function (x, y)
      return lg.no_grad(function () return lg.sum({ x, 2, y }) end) + x
    end)
    assert.are.same({ 7, 1, 0 }, { fg(1, 3) })
    assert.are.same({ 7, 1, 0 }, { fg(1, 3) })
    assert.are.same({ 10, 1, 0 }, { fg(1, 6) })
    assert.are.equal(2, fg.recordings)
  end)
end)
