-- Misuse: every wrong argument, operand, field or list raises a Lua error with the
-- documented message (asserted verbatim; busted strips the "file:line: " prefix), and
-- nothing a script does, however wrong, breaks the module, a graph or the process.

local lg = require("luagrad")
local h = require("spec.helpers")
local badarg, lecture = h.badarg, h.lecture

-- Things that are neither a number nor a Value, with the type name the messages give.
local function bads ()
  return {
    { "3", "string" },    -- a numeric string is still a string: no coercion
    { "x", "string" },
    { {}, "table" },
    { true, "boolean" },
    { false, "boolean" },
    { nil, "nil" },
    { print, "function" },
    { coroutine.create(function () end), "thread" },
    { io.stdout, "userdata" },  -- a userdata of another library is not a Value
  }
end

local arith = {
  ["+"] = function (a, b) return a + b end,
  ["-"] = function (a, b) return a - b end,
  ["*"] = function (a, b) return a * b end,
  ["/"] = function (a, b) return a / b end,
  ["^"] = function (a, b) return a ^ b end,
}
local arithops = { "+", "-", "*", "/", "^" }

local unaryfns = {}   -- every unary op's module function, from the op table
for _, op in ipairs(lg._ops) do
  if op.arity == 1 and op.fn then unaryfns[#unaryfns + 1] = op.fn end
end
local binaryfns = { "pow", "max", "min" }

local function operand (n, op, t)
  return ("luagrad: bad operand #%d to '%s' (number or value expected, got %s)"):format(n, op, t)
end



local function checklecture (J, a, b, c)
  J:backward()
  assert.are.equal(33, J.data)
  assert.are.equal(1, J.grad)
  assert.are.equal(3, a.grad)
  assert.are.equal(6, b.grad)
  assert.are.equal(9, c.grad)
end

describe("arithmetic operators", function ()
  for _, op in ipairs(arithops) do
    it("reject a non-number on either side of '" .. op .. "'", function ()
      local v = lg.value(2)
      for _, bad in ipairs(bads()) do
        local x, t = bad[1], bad[2]
        assert.has_error(function () return arith[op](v, x) end, operand(2, op, t))
        assert.has_error(function () return arith[op](x, v) end, operand(1, op, t))
      end
    end)
  end

  it("reject a non-number beside a computed Value too", function ()
    local y = lg.value(2) * lg.value(3)
    assert.has_error(function () return y + {} end, operand(2, "+", "table"))
    assert.has_error(function () return "3" * y end, operand(1, "*", "string"))
  end)

  it("name '-' for unary minus given a non-number", function ()
    -- Lua calls __unm only for a Value, so reach the metamethod itself to give it garbage
    local unm = debug.getmetatable(lg.value(1)).__unm
    for _, bad in ipairs(bads()) do
      assert.has_error(function () return unm(bad[1], bad[1]) end, operand(1, "-", bad[2]))
    end
    assert.are.equal(-2, unm(2, 2))   -- a number is a valid operand
  end)

  it("do not coerce strings even when the other side is a number-like string", function ()
    local v = lg.value(1)
    assert.has_error(function () return v + "0x10" end, operand(2, "+", "string"))
    assert.has_error(function () return "1e3" - v end, operand(1, "-", "string"))
  end)
end)

-- Lua 5.1 and LuaJIT call __lt and __le only when both operands are Values: a Value against
-- anything else (a number too) raises Lua's own error, which names the operands' types in the
-- order Lua compares them.
local CMPMETA = _VERSION ~= "Lua 5.1"

local function cmperror (n, op, t)
  if CMPMETA then return operand(n, op, t) end
  return n == 1 and ("attempt to compare %s with userdata"):format(t)
                or ("attempt to compare userdata with %s"):format(t)
end

describe("comparison operators", function ()
  it("reject tables and strings, naming '<' or '<='", function ()
    local v = lg.value(1)
    assert.has_error(function () return v < {} end, cmperror(2, "<", "table"))
    assert.has_error(function () return {} < v end, cmperror(1, "<", "table"))
    assert.has_error(function () return v <= "3" end, cmperror(2, "<=", "string"))
    assert.has_error(function () return "3" <= v end, cmperror(1, "<=", "string"))
    assert.has_error(function () return v < true end, cmperror(2, "<", "boolean"))
  end)

  it("report '>' and '>=' as the swapped '<' and '<='", function ()
    -- Lua evaluates a > b as b < a and a >= b as b <= a, so the Value becomes operand #2
    -- and the bad operand #1
    local v = lg.value(1)
    assert.has_error(function () return v > {} end, cmperror(1, "<", "table"))
    assert.has_error(function () return v >= "x" end, cmperror(1, "<=", "string"))
    assert.has_error(function () return {} > v end, cmperror(2, "<", "table"))
    assert.has_error(function () return "x" >= v end, cmperror(2, "<=", "string"))
  end)

  it("compare a Value with a number only from Lua 5.2 on (5.1, LuaJIT: Lua's error)", function ()
    local v = lg.value(1)
    if CMPMETA then
      assert.is_true(v < 2)
      assert.is_true(0 <= v)
    else
      assert.has_error(function () return v < 2 end, "attempt to compare userdata with number")
      assert.has_error(function () return 0 <= v end, "attempt to compare number with userdata")
      assert.has_error(function () return v > 0 end, "attempt to compare number with userdata")
    end
  end)
end)

describe("elementwise functions", function ()
  for _, fn in ipairs(unaryfns) do
    it("lg." .. fn .. " and v:" .. fn .. " reject a non-number", function ()
      for _, bad in ipairs(bads()) do
        local x, t = bad[1], bad[2]
        assert.has_error(function () return lg[fn](x) end, badarg(fn, 1, "number or value", t))
        -- the method called on a non-Value reports the same argument
        assert.has_error(function () return lg.value(1)[fn](x) end,
                         badarg(fn, 1, "number or value", t))
      end
      assert.has_error(function () return lg[fn]() end,
                       badarg(fn, 1, "number or value", "no value"))
    end)
  end

  for _, fn in ipairs(binaryfns) do
    it("lg." .. fn .. " and v:" .. fn .. " reject a non-number in either position", function ()
      local v = lg.value(2)
      for _, bad in ipairs(bads()) do
        local x, t = bad[1], bad[2]
        local msg1, msg2 = badarg(fn, 1, "number or value", t), badarg(fn, 2, "number or value", t)
        assert.has_error(function () return lg[fn](x, v) end, msg1)
        assert.has_error(function () return lg[fn](x, 2) end, msg1)
        assert.has_error(function () return lg[fn](v, x) end, msg2)
        assert.has_error(function () return lg[fn](2, x) end, msg2)
        assert.has_error(function () return v[fn](v, x) end, msg2)   -- v:fn(x) reports #2
        assert.has_error(function () return v[fn](x, v) end, msg1)
      end
      assert.has_error(function () return lg[fn](v) end,
                       badarg(fn, 2, "number or value", "no value"))
    end)
  end

  it("check the first argument before the second", function ()
    assert.has_error(function () return lg.max("a", {}) end,
                     badarg("max", 1, "number or value", "string"))
  end)
end)

describe("lg.value", function ()
  it("rejects a non-number", function ()
    for _, bad in ipairs(bads()) do
      assert.has_error(function () return lg.value(bad[1]) end, badarg("value", 1, "number", bad[2]))
    end
    assert.has_error(function () return lg.value() end, badarg("value", 1, "number", "no value"))
    assert.has_error(function () return lg.value(lg.value(1)) end,
                     badarg("value", 1, "number", "value"))
  end)

  it("rejects a label that is not a string", function ()
    assert.has_error(function () return lg.value(1, 2) end, badarg("value", 2, "string", "number"))
    assert.has_error(function () return lg.value(1, {}) end, badarg("value", 2, "string", "table"))
    assert.has_error(function () return lg.value(1, false) end,
                     badarg("value", 2, "string", "boolean"))
  end)
end)

describe("fields", function ()
  it("reject assigning data on a computed Value", function ()
    local a = lg.value(1)
    for _, y in ipairs({ a + 1, a * a, -a, a:exp(), lg.sum({ a }), lg.dot({ a }, { a }) }) do
      assert.has_error(function () y.data = 5 end,
                       "luagrad.data: cannot assign the data of a computed value (leaves only)")
    end
  end)

  it("reject non-number data and grad", function ()
    local v = lg.value(1)
    for _, bad in ipairs(bads()) do
      assert.has_error(function () v.data = bad[1] end,
                       "luagrad.data: bad value (number expected, got " .. bad[2] .. ")")
      assert.has_error(function () v.grad = bad[1] end,
                       "luagrad.grad: bad value (number expected, got " .. bad[2] .. ")")
    end
    assert.has_error(function () v.data = v end,
                     "luagrad.data: bad value (number expected, got value)")
    assert.are.equal(1, v.data)   -- left unchanged
    assert.are.equal(0, v.grad)
  end)

  it("reject a label that is neither a string nor nil", function ()
    local v = lg.value(1, "keep")
    assert.has_error(function () v.label = 5 end,
                     "luagrad.label: bad value (string or nil expected, got number)")
    assert.has_error(function () v.label = {} end,
                     "luagrad.label: bad value (string or nil expected, got table)")
    assert.has_error(function () v.label = v end,
                     "luagrad.label: bad value (string or nil expected, got value)")
    assert.are.equal("keep", v.label)
  end)

  it("reject any other field", function ()
    local v = lg.value(1)
    assert.has_error(function () v.foo = 1 end,
                     "luagrad: cannot assign field 'foo' of a value (only data, grad, label)")
    assert.has_error(function () v.op = "+" end,
                     "luagrad: cannot assign field 'op' of a value (only data, grad, label)")
    assert.has_error(function () v.backward = print end,
                     "luagrad: cannot assign field 'backward' of a value (only data, grad, label)")
    assert.has_error(function () v[1] = 1 end,
                     "luagrad: cannot assign a number key of a value (only data, grad, label)")
    assert.has_error(function () return v.foo end)   -- nothing was assigned (value_spec: the message)
  end)
end)

describe("v:backward", function ()
  it("rejects a seed that is not a number", function ()
    local v = lg.value(1) * 2
    for _, bad in ipairs(bads()) do
      if bad[1] ~= nil and bad[2] ~= "table" then   -- nil: the default seed; a table: options
        assert.has_error(function () v:backward(bad[1]) end,
                         badarg("backward", 2, "number", bad[2]))
      end
    end
    assert.has_error(function () v:backward(v) end, badarg("backward", 2, "number", "value"))
    assert.are.equal(0, v.grad)   -- nothing was propagated
  end)
end)

describe("lg.sum", function ()
  it("rejects a non-table", function ()
    assert.has_error(function () return lg.sum(3) end, badarg("sum", 1, "table", "number"))
    assert.has_error(function () return lg.sum("abc") end, badarg("sum", 1, "table", "string"))
    assert.has_error(function () return lg.sum(lg.value(1)) end, badarg("sum", 1, "table", "value"))
    assert.has_error(function () return lg.sum() end, badarg("sum", 1, "table", "no value"))
  end)

  it("rejects a bad element, naming its index", function ()
    local v = lg.value(1)
    assert.has_error(function () return lg.sum({ 1, v, "x" }) end,
                     "luagrad.sum: bad argument #1 (number or value expected at index 3, got string)")
    assert.has_error(function () return lg.sum({ v, {} }) end,
                     "luagrad.sum: bad argument #1 (number or value expected at index 2, got table)")
    assert.has_error(function () return lg.sum({ "3" }) end,
                     "luagrad.sum: bad argument #1 (number or value expected at index 1, got string)")
  end)

  it("rejects a bad element after more Values than fit in user values", function ()
    local list = {}
    for i = 1, 2000 do list[i] = lg.value(i) end
    list[2001] = true
    assert.has_error(function () return lg.sum(list) end,
                     "luagrad.sum: bad argument #1 (number or value expected at index 2001, got boolean)")
  end)
end)

describe("lg.dot", function ()
  it("rejects lists of unequal length", function ()
    local a, b, c = lg.value(1), lg.value(2), lg.value(3)
    assert.has_error(function () return lg.dot({ a, b, c }, { 1, 2 }) end,
                     "luagrad.dot: bad argument #2 (array of length 3 expected, got length 2)")
    assert.has_error(function () return lg.dot({}, { a }) end,
                     "luagrad.dot: bad argument #2 (array of length 0 expected, got length 1)")
  end)

  it("rejects a non-table in either position", function ()
    assert.has_error(function () return lg.dot(5, {}) end, badarg("dot", 1, "table", "number"))
    assert.has_error(function () return lg.dot({}, "x") end, badarg("dot", 2, "table", "string"))
    assert.has_error(function () return lg.dot({}) end, badarg("dot", 2, "table", "no value"))
  end)

  it("rejects a bad element in either list, naming the list and the index", function ()
    local v = lg.value(1)
    assert.has_error(function () return lg.dot({ v, "x" }, { 1, 2 }) end,
                     "luagrad.dot: bad argument #1 (number or value expected at index 2, got string)")
    assert.has_error(function () return lg.dot({ v, 2, 3 }, { 1, v, {} }) end,
                     "luagrad.dot: bad argument #2 (number or value expected at index 3, got table)")
    assert.has_error(function () return lg.dot({ print }, { v }) end,
                     "luagrad.dot: bad argument #1 (number or value expected at index 1, got function)")
  end)
end)

describe("lg.zero_grad", function ()
  it("rejects a list with a non-Value", function ()
    local a = lg.value(1)
    assert.has_error(function () lg.zero_grad({ a, 3 }) end,
                     "luagrad.zero_grad: bad argument #1 (value or tensor expected at index 2, got number)")
    assert.has_error(function () lg.zero_grad({ "a" }) end,
                     "luagrad.zero_grad: bad argument #1 (value or tensor expected at index 1, got string)")
  end)

  it("rejects what is neither a table nor a Value", function ()
    assert.has_error(function () lg.zero_grad(nil) end,
                     "luagrad.zero_grad: bad argument #1 (table or value expected, got nil)")
    assert.has_error(function () lg.zero_grad(5) end,
                     "luagrad.zero_grad: bad argument #1 (table or value expected, got number)")
    assert.has_error(function () lg.zero_grad("x") end,
                     "luagrad.zero_grad: bad argument #1 (table or value expected, got string)")
  end)
end)

describe("methods called on a non-Value", function ()
  it("report argument #1", function ()
    local v = lg.value(1)
    assert.has_error(function () v.backward(3) end, badarg("backward", 1, "value", "number"))
    assert.has_error(function () v.backward() end, badarg("backward", 1, "value", "no value"))
    assert.has_error(function () v.detach({}) end, badarg("detach", 1, "value", "table"))
    assert.has_error(function () v.to_dot(nil) end, badarg("to_dot", 1, "value", "nil"))
    assert.has_error(function () v.zero_grad(3) end,
                     "luagrad.zero_grad: bad argument #1 (table or value expected, got number)")
    assert.has_error(function () v.exp("x") end, badarg("exp", 1, "number or value", "string"))
  end)

  it("report argument #1 for another library's userdata", function ()
    local v = lg.value(1)
    assert.has_error(function () v.backward(io.stdout) end,
                     badarg("backward", 1, "value", "userdata"))
    assert.has_error(function () v.detach(io.stdout) end, badarg("detach", 1, "value", "userdata"))
  end)
end)

describe("lg.to_dot", function ()
  it("rejects a non-Value", function ()
    assert.has_error(function () return lg.to_dot(3) end, badarg("to_dot", 1, "value", "number"))
    assert.has_error(function () return lg.to_dot({}) end, badarg("to_dot", 1, "value", "table"))
    assert.has_error(function () return lg.to_dot() end, badarg("to_dot", 1, "value", "no value"))
  end)
end)

describe("operators Lua itself rejects", function ()
  it("raise an error, and the Value still works", function ()
    local v = lg.value(5)
    assert.has_error(function () return v % 2 end)
    assert.has_error(function () return #v end)
    assert.equal("Value(data=5, grad=0)x", v .. "x")   -- .. is defined: through tostring
    assert.has_error(function () return v() end)
    assert.has_error(function () for _ in v do end end)
    assert.has_error(function () return 2 % v end)
    if _VERSION ~= "Lua 5.1" and _VERSION ~= "Lua 5.2" then
      -- 5.3+ syntax, kept out of the parser of older interpreters
      local idiv = assert(load("local v = ... return v // 2"))
      local band = assert(load("local v = ... return v & 1"))
      local bnot = assert(load("local v = ... return ~v"))
      assert.has_error(function () return idiv(v) end)
      assert.has_error(function () return band(v) end)
      assert.has_error(function () return bnot(v) end)
    end
    local y = v * v
    y:backward()
    assert.are.equal(10, v.grad)
  end)
end)

describe("after errors", function ()
  it("the module and a graph built before them still work exactly", function ()
    local J, a, b, c = lecture()
    local bad = { {}, "3", true, print }
    for i = 1, #bad do
      local x = bad[i]
      assert.is_false(pcall(function () return a + x end))
      assert.is_false(pcall(function () return x * J end))
      assert.is_false(pcall(lg.exp, x))
      assert.is_false(pcall(lg.max, a, x))
      assert.is_false(pcall(lg.sum, { a, b, x }))
      assert.is_false(pcall(lg.dot, { a, b }, { c, x }))
      assert.is_false(pcall(lg.dot, { a, b, c }, { c }))
      assert.is_false(pcall(lg.zero_grad, { a, x }))
      assert.is_false(pcall(J.backward, J, type(x) == "table" and { seed = x } or x))
      assert.is_false(pcall(function () J.data = 1 end))
      assert.is_false(pcall(function () a.label = i end))   -- a number is no label
      assert.is_false(pcall(lg.to_dot, x))
    end
    lg.zero_grad({ a, b, c })   -- the failed zero_grad above may have cleared a
    checklecture(J, a, b, c)
    assert.are.equal("a", a.label)
    -- and new graphs too
    checklecture(lecture())
  end)

  it("a graph built after a failed list operation works exactly", function ()
    local a = lg.value(2)
    local list = {}
    for i = 1, 1500 do list[i] = a end
    list[1501] = "oops"
    assert.is_false(pcall(lg.sum, list))
    assert.is_false(pcall(lg.dot, list, list))
    list[1501] = nil
    local s = lg.sum(list)
    s:backward()
    assert.are.equal(3000, s.data)
    assert.are.equal(1500, a.grad)
    checklecture(lecture())
  end)
end)

describe("random misuse", function ()
  it("never crashes, and every error is a luagrad error", function ()
    math.randomseed(12345)
    local pool = { lg.value(1, "p"), lg.value(-2), lg.value(0), lg.value(3) * lg.value(4) }
    local junk = { 0, 1.5, -3, 1 / 0, 0 / 0, "3", "x", {}, { 1, 2 }, true, false, print,
                   coroutine.create(function () end), io.stdout, 2^63 }
    local function anything ()
      local r = math.random(3)
      if r == 1 then return pool[math.random(#pool)]
      elseif r == 2 then return junk[math.random(#junk)]
      else   -- a list of Values and junk
        local t = {}
        for i = 1, math.random(0, 4) do
          t[i] = (math.random(2) == 1) and pool[math.random(#pool)] or junk[math.random(#junk)]
        end
        return t
      end
    end
    local calls = {}
    for name, f in pairs(lg) do
      if name == "save" then   -- no file is written: its path is always /dev/null
        calls[#calls + 1] = function (_, y) return lg.save("/dev/null", y) end
      elseif type(f) == "function" and name ~= "type" then
        calls[#calls + 1] = function (x, y) return f(x, y) end
      end
    end
    local methods = { "exp", "log", "pow", "max", "backward", "zero_grad", "detach", "to_dot" }
    for _, m in ipairs(methods) do
      calls[#calls + 1] = function (x, y) return pool[1][m](x, y) end
    end
    for _, op in ipairs(arithops) do   -- a Value on one side, so the error is ours
      calls[#calls + 1] = function (x, y) return arith[op](pool[math.random(#pool)], y) end
      calls[#calls + 1] = function (x, y) return arith[op](x, pool[math.random(#pool)]) end
    end
    calls[#calls + 1] = function (x, y) return pool[math.random(#pool)] < y end
    calls[#calls + 1] = function (x, y) return x <= pool[math.random(#pool)] end
    calls[#calls + 1] = function (x, y)
      local v = pool[math.random(#pool)]
      local k = ({ "data", "grad", "label", "op", "foo", 1 })[math.random(6)]
      v[k] = y
    end
    -- the calls may open no_grad scopes they never close and turn anomaly detection on:
    -- closing this outer scope closes every one opened inside it
    local outer = lg.enable_grad()
    local oks, errs = 0, 0
    for _ = 1, 5000 do
      local ok, res = pcall(calls[math.random(#calls)], anything(), anything())
      if ok then
        oks = oks + 1
        if lg.type(res) == "value" then
          if #pool < 40 then pool[#pool + 1] = res else pool[math.random(5, 40)] = res end
        end
      else
        errs = errs + 1
        assert.are.equal("string", type(res))
        -- (or, comparing a Value with a non-Value on 5.1 and LuaJIT, Lua's own error)
        assert.is_truthy(res:find("luagrad", 1, true)
                         or not CMPMETA and res:find("attempt to compare", 1, true), res)
      end
    end
    outer:close()
    lg.detect_anomaly(false)
    assert.is_true(lg.is_grad_enabled())
    assert.is_true(oks > 100)
    assert.is_true(errs > 100)
    collectgarbage("collect")
    -- everything in the pool is still a sound Value
    for i = 1, #pool do
      assert.are.equal("value", lg.type(pool[i]))
      assert.are.equal("string", type(tostring(pool[i])))
      pool[i]:zero_grad()
      pool[i]:backward()
      assert.are.equal(1, pool[i].grad)
      assert.are.equal("digraph", pool[i]:to_dot():sub(1, 7))
    end
    checklecture(lecture())
  end)
end)
