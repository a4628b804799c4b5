-- Host functions as scripts see them: run by tests/test_hostfn.c, which registered
-- lg.polar(r, theta) -> x, y and lg.guarded(x) -> sqrt(x), and refuse_vjp(flag).
-- Returns the number of failed checks.
local lg = require("luagrad")
local passed, failed = 0, 0

local function check (name, fn)
  local ok, err = pcall(fn)
  if ok then passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL ", name, ": ", tostring(err), "\n")
  end
end

local function near (a, b, tol)
  assert(math.abs(a - b) <= tol * (1 + math.abs(b)), ("%.17g ~= %.17g"):format(a, b))
end

local function errors (fn, msg)
  local ok, err = pcall(fn)
  assert(not ok, "no error")
  err = tostring(err):gsub("^[^:]+:%d+: ", "")
  assert(err == msg, "error was: " .. err)
end

check("returns one Value per output, op named after the function", function ()
  local x, y = lg.polar(lg.value(2), lg.value(0.5))
  assert(lg.type(x) == "value" and lg.type(y) == "value")
  near(x.data, 2 * math.cos(0.5), 1e-15)
  near(y.data, 2 * math.sin(0.5), 1e-15)
  assert(x.op == "polar" and y.op == "polar")
end)

check("returns numbers for numbers", function ()
  local x, y = lg.polar(2, 0)
  assert(type(x) == "number" and x == 2 and y == 0)
end)

check("takes a number for any argument", function ()
  local t = lg.value(0.25)
  local x = lg.polar(3, t)
  x:backward()
  near(t.grad, -3 * math.sin(0.25), 1e-12)
end)

check("backward flows through it and agrees with central differences", function ()
  for _, p in ipairs({ {2, 0.5}, {0.3, -1.2}, {1.7, 3.0} }) do
    local r, t = lg.value(p[1]), lg.value(p[2])
    local x, y = lg.polar(r, t)
    local J = x * x * y + lg.sin(y) * x   -- both outputs, several paths
    J:backward()
    local function f (r0, t0)
      local a, b = r0 * math.cos(t0), r0 * math.sin(t0)
      return a * a * b + math.sin(b) * a
    end
    local h = 1e-6
    near(r.grad, (f(p[1] + h, p[2]) - f(p[1] - h, p[2])) / (2 * h), 1e-6)
    near(t.grad, (f(p[1], p[2] + h) - f(p[1], p[2] - h)) / (2 * h), 1e-6)
  end
end)

check("a second backward adds again, through the function too", function ()
  local r = lg.value(2)
  local x = lg.polar(r, 0)
  x:backward(); x:backward()
  near(r.grad, 2, 1e-15)
end)

check("a call used by one output only sends that output's adjoint", function ()
  local r, t = lg.value(2), lg.value(0.5)
  local _, y = lg.polar(r, t)
  y:backward()
  near(r.grad, math.sin(0.5), 1e-15)
  near(t.grad, 2 * math.cos(0.5), 1e-15)
end)

check("bad arguments raise errors in luagrad's shape", function ()
  errors(function () lg.polar(1, "2") end,
         "luagrad.polar: bad argument #2 (number or value expected, got string)")
  errors(function () lg.polar(1) end,
         "luagrad.polar: bad argument #2 (number or value expected, got no value)")
  errors(function () lg.polar(1, 2, 3) end,
         "luagrad.polar: bad argument #3 (no more than 2 arguments expected, got number)")
end)

check("the host's forward errors become Lua errors", function ()
  errors(function () lg.guarded(-1) end, "luagrad.guarded: negative input -1")
  errors(function () lg.guarded(lg.value(-2)) end, "luagrad.guarded: negative input -2")
  assert(lg.guarded(4) == 2)
end)

check("a failing vjp raises from backward and leaves every grad as it was", function ()
  local a = lg.value(4)
  local b = a * 3
  local y = lg.guarded(b) + a
  refuse_vjp(true)
  errors(function () y:backward() end, "luagrad.guarded: vjp refused")
  assert(a.grad == 0 and b.grad == 0 and y.grad == 0)
  refuse_vjp(false)
  y:backward()   -- the graph still works
  near(a.grad, 1 + 3 * 0.5 / math.sqrt(12), 1e-15)
end)

check("to_dot draws the function once, feeding each output", function ()
  local x, y = lg.polar(lg.value(1, "r"), 2)
  local dot = lg.to_dot(x + y)
  local _, calls = dot:gsub('label="polar"', "")
  assert(calls == 1, dot)
  assert(dot:find("{ r | data 1 | grad 0 }", 1, true), dot)
end)

check("outputs keep the call and its inputs alive", function ()
  local x
  do
    local r = lg.value(2)
    x = lg.polar(r, lg.value(0))
  end
  for _ = 1, 3 do collectgarbage("collect") end
  x:backward()
  assert(x.grad == 1)
end)

check("computed outputs refuse data assignment", function ()
  local x = lg.polar(lg.value(1), 0)
  errors(function () x.data = 3 end,
         "luagrad.data: cannot assign the data of a computed value (leaves only)")
end)

check("lg.compile refuses a graph holding host functions", function ()
  local fg = lg.compile(function (r) return (lg.polar(r, 0)) end)
  errors(function () fg(1) end, "luagrad.compile: host functions cannot be compiled")
  assert(lg.compile(function (r) return r * 2 end)(1) == 2)   -- and compiling still works
end)

check("under lg.no_grad the outputs are leaves and backward stops there", function ()
  local r, t = lg.value(2), lg.value(0.5)
  local x, y = lg.no_grad(lg.polar, r, t)
  assert(x.op == "leaf" and y.op == "leaf")
  near(x.data, 2 * math.cos(0.5), 1e-15)
  near(y.data, 2 * math.sin(0.5), 1e-15)
  local J = x * r
  J:backward()
  near(r.grad, x.data, 1e-15)   -- through J = x * r only
  assert(t.grad == 0)
  assert(select("#", lg.no_grad(lg.polar, 1, t)) == 2)
  errors(function () lg.no_grad(lg.guarded, lg.value(-1)) end, "luagrad.guarded: negative input -1")
  assert(lg.is_grad_enabled())
end)

check("under lg.no_grad in a recording, the arguments read are guards", function ()
  local fg = lg.compile(function (r)
    local x = lg.no_grad(lg.polar, r, 0)
    return x * r
  end)
  for _, r in ipairs({ 2, 2, 3 }) do
    local v, dr = fg(r)
    near(v, r * r, 1e-15)
    near(dr, r, 1e-15)
  end
  assert(fg.recordings == 2)
end)

-- "file:line" of the line that calls it
local function here ()
  local info = debug.getinfo(2, "Sl")
  return info.short_src .. ":" .. info.currentline
end

check("anomaly detection names a host function that gives NaN, and where", function ()
  lg.detect_anomaly(true)
  local r = lg.value(0 / 0)
  local at, f = here(), function () local _ = lg.polar(r, 1) end
  errors(f, "luagrad: anomaly: 'polar' produced NaN in forward at " .. at)
  local x = lg.value(0)
  local g
  at, g = here(), lg.guarded(x)   -- its vjp gives 0 * 0.5 / 0: NaN
  local y = g * 0 + x
  x.grad = 7
  errors(function () y:backward() end, "luagrad: anomaly: backward of 'guarded' produced " ..
         "NaN for argument 1 (node created at " .. at .. ")")
  assert(x.grad == 7 and g.grad == 0 and y.grad == 0)
  lg.detect_anomaly(false)
  y:backward()
  assert(x.grad ~= x.grad and y.grad == 1)
end)

print(("%d passed, %d failed"):format(passed, failed))
return failed
