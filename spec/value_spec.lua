-- Values as objects: lg.value, the fields data, grad, label and op, lg.type, lg._VERSION,
-- loading the module (once, twice, and again from scratch) and what a Value lets a script
-- see of itself (methods, unknown fields, its metatable).

local lg = require("luagrad")

-- true when x is a float; on Lua 5.1/5.2 every number is one
local function isfloat (x)
  if math.type then return math.type(x) == "float" end
  return type(x) == "number"
end

describe("lg.value", function ()
  it("makes a leaf Value holding the number", function ()
    local v = lg.value(5)
    assert.are.equal(5, v.data)
    assert.are.equal("leaf", v.op)
    assert.is_nil(v.label)
    assert.are.equal("value", lg.type(v))
  end)

  it("keeps a label given as the second argument", function ()
    local v = lg.value(-2.5, "weight")
    assert.are.equal(-2.5, v.data)
    assert.are.equal("weight", v.label)
  end)

  it("treats an explicit nil label as no label", function ()
    assert.is_nil(lg.value(1, nil).label)
  end)

  it("stores data as a float, even when given an integer", function ()
    local v = lg.value(3)
    assert.is_true(isfloat(v.data))
    assert.are.equal(3, v.data)
    if math.type then assert.are.equal("3.0", tostring(v.data)) end
  end)

  it("holds a double exactly, large, small and negative", function ()
    for _, x in ipairs({ 2^53, -2^53, 0.1, 1e-300, 1e300, -0.0, 123456.789 }) do
      assert.are.equal(x, lg.value(x).data)
    end
    assert.are.equal(1 / 0, lg.value(1 / 0).data)
    local nan = lg.value(0 / 0).data
    assert.is_true(nan ~= nan)
  end)

  it("makes a new Value on every call", function ()
    local a, b = lg.value(1), lg.value(1)
    assert.are_not.equal(a, b)   -- == is identity
    assert.is_true(rawequal(a, a))
  end)
end)

describe("v.grad", function ()
  it("starts at 0.0", function ()
    local v = lg.value(7)
    assert.are.equal(0, v.grad)
    assert.is_true(isfloat(v.grad))
  end)

  it("is assignable and reads back as a float", function ()
    local v = lg.value(7)
    v.grad = 2
    assert.are.equal(2, v.grad)
    assert.is_true(isfloat(v.grad))
    v.grad = -0.25
    assert.are.equal(-0.25, v.grad)
  end)

  it("is assignable on a computed Value too", function ()
    local y = lg.value(2) * lg.value(3)
    y.grad = 4.5
    assert.are.equal(4.5, y.grad)
  end)
end)

describe("v.data", function ()
  it("is assignable on a leaf and reads back as a float", function ()
    local v = lg.value(1)
    v.data = 10
    assert.are.equal(10, v.data)
    assert.is_true(isfloat(v.data))
  end)

  it("assigned on a leaf changes what later operations compute", function ()
    local w = lg.value(1)
    w.data = 4
    local y = w * w
    assert.are.equal(16, y.data)
    y:backward()
    assert.are.equal(8, w.grad)
  end)

  it("of a computed Value is the result of its operation", function ()
    local y = lg.value(6) / lg.value(4)
    assert.are.equal(1.5, y.data)
    assert.is_true(isfloat(y.data))
  end)
end)

describe("v.label", function ()
  it("can be set, changed and cleared with nil", function ()
    local v = lg.value(1)
    v.label = "x"
    assert.are.equal("x", v.label)
    v.label = "y"
    assert.are.equal("y", v.label)
    v.label = nil
    assert.is_nil(v.label)
  end)

  it("belongs to one Value only", function ()
    local a, b = lg.value(1, "a"), lg.value(1)
    assert.are.equal("a", a.label)
    assert.is_nil(b.label)
    assert.is_nil((a + b).label)   -- results do not inherit labels
  end)

  it("can be set on a computed Value", function ()
    local y = lg.value(1) + 2
    y.label = "y"
    assert.are.equal("y", y.label)
  end)

  it("survives garbage collection while its Value lives", function ()
    local v = lg.value(1, "kept")
    local w = lg.value(2)
    w.label = "also kept"
    collectgarbage("collect")
    collectgarbage("collect")
    assert.are.equal("kept", v.label)
    assert.are.equal("also kept", w.label)
  end)

  it("may be any string, including empty and binary ones", function ()
    assert.are.equal("", lg.value(1, "").label)
    assert.are.equal("a\0b", lg.value(1, "a\0b").label)
  end)
end)

describe("v.op", function ()
  it("is \"leaf\" for lg.value and for v:detach()", function ()
    assert.are.equal("leaf", lg.value(1).op)
    assert.are.equal("leaf", (lg.value(1) * 2):detach().op)
  end)

  it("names the operation of a computed Value", function ()
    local a, b = lg.value(2), lg.value(3)
    assert.are.equal("+", (a + b).op)
    assert.are.equal("-", (a - b).op)
    assert.are.equal("*", (a * b).op)
    assert.are.equal("/", (a / b).op)
    assert.are.equal("^", (a ^ b).op)
    assert.are.equal("neg", (-a).op)
    assert.are.equal("exp", a:exp().op)
    assert.are.equal("log", lg.log(a).op)
  end)
end)

describe("lg.type", function ()
  it("returns \"value\" for a Value, leaf or computed", function ()
    local v = lg.value(1)
    assert.are.equal("value", lg.type(v))
    assert.are.equal("value", lg.type(v + 1))
    assert.are.equal("value", lg.type(lg.sum({ v })))
  end)

  it("returns nil for everything else", function ()
    local others = { 1, 1.5, "value", "3", {}, true, false, print,
                     coroutine.create(function () end), io.stdout }
    for i = 1, #others do
      assert.is_nil(lg.type(others[i]), "for " .. tostring(others[i]))
    end
    assert.is_nil(lg.type(nil))
  end)

  it("needs an argument", function ()
    assert.has_error(function () lg.type() end,
                     "luagrad.type: bad argument #1 (value expected, got no value)")
  end)
end)

describe("lg._VERSION", function ()
  it("is \"luagrad X.Y.Z\"", function ()
    assert.are.equal("string", type(lg._VERSION))
    assert.is_truthy(lg._VERSION:match("^luagrad %d+%.%d+%.%d+$"))
  end)
end)

describe("require(\"luagrad\")", function ()
  it("returns the same table when called twice", function ()
    assert.are.equal(lg, require("luagrad"))
    assert.are.equal(require("luagrad"), require("luagrad"))
  end)

  it("sets no globals, even when loaded from scratch", function ()
    local saved, savedcore = package.loaded.luagrad, package.loaded["luagrad.core"]
    local before = {}
    for k in pairs(_G) do before[k] = true end
    package.loaded.luagrad, package.loaded["luagrad.core"] = nil, nil
    local ok, fresh = pcall(require, "luagrad")
    local added = {}
    for k in pairs(_G) do
      if not before[k] then added[#added + 1] = tostring(k) end
    end
    package.loaded.luagrad, package.loaded["luagrad.core"] = saved, savedcore
    assert.is_true(ok, fresh)
    assert.are.equal("table", type(fresh))
    assert.are.same({}, added)
  end)

  it("loads again after being unloaded, and old and new Values work together", function ()
    local saved, savedcore = package.loaded.luagrad, package.loaded["luagrad.core"]
    local a = lg.value(2, "a")                    -- made by the first load
    package.loaded.luagrad, package.loaded["luagrad.core"] = nil, nil
    local ok, lg2 = pcall(require, "luagrad")
    package.loaded.luagrad, package.loaded["luagrad.core"] = saved, savedcore
    assert.is_true(ok, lg2)
    local b = lg2.value(3, "b")                   -- made by the second
    assert.are.equal("value", lg.type(b))
    assert.are.equal("value", lg2.type(a))
    local y = a * b + lg.exp(b) - lg2.log(a)      -- mix both modules' functions
    y:backward()
    assert.near(6 + math.exp(3) - math.log(2), y.data, 1e-12)
    assert.near(3 - 1 / 2, a.grad, 1e-12)
    assert.near(2 + math.exp(3), b.grad, 1e-12)
    assert.are.equal("a", a.label)                -- labels are shared, too
    assert.are.equal("Value(label=b, data=3, grad=" .. string.format("%.14g", b.grad) .. ")",
                     tostring(b))
    assert.are.equal(lg.to_dot(y), lg2.to_dot(y))
    local z = lg2.sum({ a, b }) + lg.dot({ a }, { b })
    assert.are.equal(11, z.data)
  end)
end)

describe("a Value's fields and methods", function ()
  it("reaches every method through the Value", function ()
    local v = lg.value(1)
    for _, name in ipairs({ "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid",
                            "relu", "abs", "pow", "max", "min", "backward", "zero_grad",
                            "detach", "to_dot" }) do
      assert.are.equal("function", type(v[name]), name)
    end
  end)

  it("calls a method with the Value as its first argument", function ()
    local v = lg.value(0)
    assert.are.equal(1, v:exp().data)
    assert.are.equal(9, lg.value(3):pow(2).data)
    assert.are.equal(4, lg.value(3):max(4).data)
  end)

  it("raises on reading an unknown field, naming it and the valid ones", function ()
    local v = lg.value(1)
    local valid = " (fields: data, grad, label, op; methods: abs, backward, clamp, cos, detach, "
                  .. "eq, exp, expm1, ge, gt, le, leaky_relu, log, log1p, lt, max, min, ne, pow, "
                  .. "relu, sigmoid, sign, sin, softplus, sqrt, square, tan, tanh, to_dot, where, "
                  .. "zero_grad)"
    assert.has_error(function () return v.dat end, "luagrad: a value has no field 'dat'" .. valid)
    assert.has_error(function () return v.Data end, "luagrad: a value has no field 'Data'" .. valid)
    assert.has_error(function () return v.__index end,
                     "luagrad: a value has no field '__index'" .. valid)
    assert.has_error(function () return v[1] end, "luagrad: a value has no number key" .. valid)
    assert.has_error(function () return v[true] end, "luagrad: a value has no boolean key" .. valid)
    assert.has_error(function () return v[v] end, "luagrad: a value has no userdata key" .. valid)
    assert.has_error(function () return v[{}] end, "luagrad: a value has no table key" .. valid)
    assert.equal(1, v.data)   -- and the Value works on
  end)

  it("concatenates as tostring gives it, on either side of a string or a number", function ()
    local v = lg.value(2, "w")
    assert.equal("loss Value(label=w, data=2, grad=0)", "loss " .. v)
    assert.equal("Value(label=w, data=2, grad=0) at step 3", v .. " at step " .. 3)
    assert.equal(tostring(v) .. tostring(v * 1), v .. v * 1)
    assert.equal("1" .. tostring(v), 1 .. v)
    assert.has_error(function () return v .. {} end,
                     "luagrad: bad operand #2 to '..' (string, number or value expected, got table)")
    assert.has_error(function () return true .. v end,
                     "luagrad: bad operand #1 to '..' (string, number or value expected, got boolean)")
  end)

  it("hides its metatable: getmetatable gives the string \"luagrad.Value\"", function ()
    local v = lg.value(1)
    assert.are.equal("luagrad.Value", getmetatable(v))
    assert.are.equal(getmetatable(v), getmetatable(v * 2))
  end)

  it("cannot have its metatable replaced", function ()
    local v = lg.value(1)
    assert.has_error(function () setmetatable(v, {}) end)
    assert.are.equal(2, (v + 1).data)   -- still a working Value
    assert.are.equal("value", lg.type(v))
  end)

  it("is a userdata, not a table", function ()
    assert.are.equal("userdata", type(lg.value(1)))
  end)
end)
