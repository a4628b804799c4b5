-- Host functions as scripts see them: run by tests/test_hostfn.c, which registered
-- lg.polar(r, theta) -> x, y, lg.guarded(x) -> sqrt(x) (refusing x < 0), lg.steep(x) -> x^3
-- (its vjp refusing x > 10), and refuse_vjp(flag), which makes guarded's vjp refuse.
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

-- lg.compile on graphs holding host functions: replays run the host's functions in C.

local unpack = table.unpack or unpack

-- Eager value and gradients of f at the numbers xs.
local function eager (f, xs)
  local leaves = {}
  for i, x in ipairs(xs) do leaves[i] = lg.value(x) end
  local y = f(unpack(leaves))
  y:backward()
  local grads = {}
  for i, l in ipairs(leaves) do grads[i] = l.grad end
  return y.data, grads
end

-- fg agrees with eager mode to 1e-12 at each point; returns fg's recordings.
local function agrees (f, points)
  local fg = lg.compile(f)
  for _, xs in ipairs(points) do
    local ev, eg = eager(f, xs)
    local got = {fg(unpack(xs))}
    near(got[1], ev, 1e-12)
    for i = 1, #xs do near(got[i + 1], eg[i], 1e-12) end
  end
  return fg.recordings
end

local function randompoints (n, lo, hi)
  local points = {}
  for k = 1, n do
    points[k] = {}
    for i = 1, 3 do points[k][i] = lo + (hi - lo) * math.random() end
  end
  return points
end

check("compiled host functions agree with eager mode, one recording", function ()
  math.randomseed(11)
  local fs = {
    function (r) return lg.guarded(r) * 3 end,                        -- one output
    function (r, t) local x, y = lg.polar(r, t); return x * x * y + lg.sin(y) * x end,
    function (r, t) local _, y = lg.polar(r, 0.5); return y * t end,  -- a constant argument
    function (r, t, u)                                                -- called twice
      local x1, y1 = lg.polar(r, t)
      local x2, y2 = lg.polar(x1 + u, y1 * 0.5)
      return x2 * y2 + lg.guarded(r * r + u * u) * x1
    end,
    function (r, t) return lg.steep(lg.polar(2, t) + r) end,          -- numbers only but one
  }
  for _, f in ipairs(fs) do
    assert(agrees(f, randompoints(6, 0.1, 2)) == 1)
  end
end)

check("a compiled graph counts a call and each output used as nodes", function ()
  local fg = lg.compile(function (r, t) local x, y = lg.polar(r, t); return x + y end)
  fg(1, 2)
  assert(fg.nodes == 6, tostring(fg))   -- r, t, the call, x, y, x + y
end)

check("guards on host functions' outputs choose the branch, as eagerly", function ()
  local function f (r, t)
    local x, y = lg.polar(r, t)
    if x > 0 then return x * y end
    return lg.guarded(-x) + y
  end
  local points = {{1, 0.5}, {2, 0.25}, {1, 3}, {2, 2.5}, {1.5, 0.1}}
  assert(agrees(f, points) == 3)   -- x > 0 at the first two, not at the next two, then again
end)

check("a replay that would fail only on another branch records that branch", function ()
  local fg = lg.compile(function (x)
    if x > 0 then return lg.guarded(x) end
    return lg.guarded(-x) * 2
  end)
  near(fg(4), 2, 1e-15)
  local v, g = fg(-9)   -- guarded(-9) would fail: the guard x > 0 broke first
  near(v, 6, 1e-15)
  near(g, -1 / 3, 1e-15)
  assert(fg.recordings == 2)
end)

check("a failing replay forward raises the host's error and changes nothing", function ()
  local p, runs = lg.value(1), 0
  local fg = lg.compile(function (x) runs = runs + 1; return lg.guarded(x * p) + p * x end)
  fg(4)
  local grad = p.grad
  errors(function () fg(-2) end, "luagrad.guarded: negative input -2")
  assert(p.grad == grad and runs == 1, "grad changed or the function ran again")
  local v, g = fg(9)   -- still usable, no new recording
  near(v, 3 + 9, 1e-15)
  near(g, 0.5 / 3 + 1, 1e-15)
  assert(fg.recordings == 1)
end)

check("a failing replay backward raises the host's error, no grad half-updated", function ()
  local p, q = lg.value(2), lg.value(0.5)
  local fg = lg.compile(function (x) return q * x + lg.steep(x * p) + p end)
  local function grads () return p.grad, q.grad end
  fg(1)
  local gp, gq = grads()
  errors(function () fg(6) end, "luagrad.steep: slope too steep at 12")
  local ap, aq = grads()
  assert(ap == gp and aq == gq, "grads changed")
  local v, g = fg(3)
  near(v, 1.5 + 216 + 2, 1e-15)
  near(g, 0.5 + 3 * 36 * 2, 1e-15)
  near(p.grad, gp + 3 * 36 * 3 + 1, 1e-12)
  assert(fg.recordings == 1)
  refuse_vjp(true)
  local hg = lg.compile(function (x) return lg.guarded(x) * q end)
  errors(function () hg(4) end, "luagrad.guarded: vjp refused")   -- right after recording
  assert(q.grad == gq + 3)
  refuse_vjp(false)
  near(select(2, hg(16)), 0.5 / 8, 1e-15)
end)

check("a call only guards read runs forward but never its vjp, as eagerly", function ()
  local fg = lg.compile(function (x)
    local s = lg.guarded(x)     -- compared, never returned
    if s > 1 then return lg.steep(x) * 2 end
    return x * 3
  end)
  refuse_vjp(true)
  local ok, v, g = pcall(fg, 4)
  refuse_vjp(false)
  assert(ok, v)
  assert(v == 128 and g == 96)
  errors(function () fg(-1) end, "luagrad.guarded: negative input -1")
end)

check("replays leave the recorded graph's Values as they were", function ()
  local seen
  local fg = lg.compile(function (r, t)
    local x, y = lg.polar(r, t)
    seen = {r, t, x, y}
    return x * y
  end)
  fg(2, 0.5)
  local r, t, x, y = seen[1], seen[2], seen[3], seen[4]
  for k = 1, 5 do fg(k + 0.5, k * 0.25) end
  near(x.data, 2 * math.cos(0.5), 1e-15)
  near(y.data, 2 * math.sin(0.5), 1e-15)
  assert(r.grad == 0 and t.grad == 0 and x.grad == 0 and y.grad == 0)
  local J = x * y   -- r^2 cos t sin t = r^2 sin(2t) / 2
  J:backward()      -- the call's recorded outputs, and adjoints of 0, as they were
  near(r.grad, 2 * math.sin(1), 1e-15)
  near(t.grad, 4 * math.cos(1), 1e-15)
end)

check("forward mode and lg.gradients go through host functions, one vjp per output", function ()
  local J = lg.jacfwd(function (r, t) return { lg.polar(r, t) } end)(2, 0.5)
  local R = lg.jacrev(function (r, t) return { lg.polar(r, t) } end)(2, 0.5)
  near(J[1][1], math.cos(0.5), 1e-15)
  near(J[1][2], -2 * math.sin(0.5), 1e-15)
  near(J[2][1], math.sin(0.5), 1e-15)
  near(J[2][2], 2 * math.cos(0.5), 1e-15)
  for i = 1, 2 do
    for j = 1, 2 do near(J[i][j], R[i][j], 1e-15) end
  end
  local r = lg.value(4)
  local y = lg.guarded(r) * 3
  near(lg.tangents(y, r, { tangents = 2 }), 2 * 3 * 0.25, 1e-15)
  refuse_vjp(true)
  errors(function () lg.tangents(y, r) end, "luagrad.guarded: vjp refused")
  errors(function () lg.gradients(y, r) end, "luagrad.guarded: vjp refused")
  refuse_vjp(false)
  near(lg.gradients(y, r), 0.75, 1e-15)
  assert(r.grad == 0)
end)

check("a host function cannot be differentiated twice: its derivative is C, not ops", function ()
  local msg = "'polar' is a host function, whose derivative is not made of ops: it cannot "
           .. "be differentiated on Values (create_graph, nested transforms)"
  local r, t = lg.value(2), lg.value(0.5)
  local x = lg.polar(r, t)
  errors(function () x:backward({ create_graph = true }) end, "luagrad.backward: " .. msg)
  assert(r.grad == 0 and t.grad == 0)
  errors(function () lg.hessian(function (a, b) return (lg.polar(a, b)) end)(2, 0.5) end,
         "luagrad.gradients: " .. msg)
  errors(function () lg.tangents(x, r, { create_graph = true }) end, "luagrad.tangents: " .. msg)
  x:backward()   -- in numbers it works as before
  near(r.grad, math.cos(0.5), 1e-15)
end)

check("a custom function in a compiled graph: replayed, its callbacks in the caller's state", function ()
  local calls = 0
  local cube = lg.custom({ name = "cube",
    forward = function (x) calls = calls + 1; return x * x * x end,
    backward = function (g, x) return g * 3 * x * x end })
  local fg = lg.compile(function (x, y) return cube(x) * lg.polar(y, 0) + x end)
  for k = 1, 4 do
    local v, dx, dy = fg(k, k + 1)
    near(v, k ^ 3 * (k + 1) + k, 1e-15)
    near(dx, 3 * k * k * (k + 1) + 1, 1e-15)
    near(dy, k ^ 3, 1e-15)
  end
  assert(fg.recordings == 1 and calls == 5, calls)   -- recorded once, then 4 replays
  local co = coroutine.wrap(function () return fg(2, 3) end)   -- from another thread
  near(co(), 26, 1e-15)
  local again
  again = lg.compile(function (x) return lg.custom({ forward = function (u) return u end,
    backward = function (g) again(1); return g end })(x) end)
  local ok, err = pcall(again, 1)   -- its backward calls it again
  assert(not ok and err:find("luagrad.custom: .*luagrad.compiled: called from inside its own "
                             .. "replay %(a custom function's callback%)$"), err)
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

-- Mutation from inside (see spec/mutation_spec.lua): finalizers that run in the allocations
-- of host calls and of sweeps through them change the lists given, drop graphs and abandon
-- coroutines suspended inside scopes. Every result must be right, and the state must work.
check("host calls and sweeps through them survive finalizers that change what they read",
      function ()
  local outs, ins = {}, {}
  local function spoil ()
    for k in pairs(outs) do outs[k] = "spoiled" end
    for k in pairs(ins) do ins[k] = nil end
    local co = coroutine.create(function ()
      lg.no_grad(function () lg.grad(function (u) coroutine.yield(); return u end)(1) end)
    end)
    coroutine.resume(co)
  end
  for round = 1, 200 do
    for _ = 1, 5 do setmetatable({}, {__gc = spoil}) end
    local r, t = lg.value(2), lg.value(0.5)
    local p, q = lg.polar(r, t)
    local s = lg.steep(r) * round
    outs[1], outs[2], outs[3] = p, q, s   -- what the finalizers spoil; the call gets locals,
    ins[1], ins[2] = r, t                 -- since a table constructor may itself run them
    local g = lg.gradients({ p, q, s }, { r, t })
    near(g[1], math.cos(0.5) + math.sin(0.5) + 12 * round, 1e-14)
    near(g[2], 2 * (math.cos(0.5) - math.sin(0.5)), 1e-14)
    local tg = lg.tangents({ lg.polar(r, t) }, { r, t }, { tangents = { 1, 0 } })
    near(tg[1], math.cos(0.5), 1e-15)
    if round % 50 == 0 then collectgarbage() end
  end
  collectgarbage()
  collectgarbage()
  assert(lg.is_grad_enabled() and lg._transform() == 0, "a scope was left open")
  assert(lg.grad(function (u) return (lg.polar(u, 0)) end)(3) == 1)
end)

print(("%d passed, %d failed"):format(passed, failed))
return failed
