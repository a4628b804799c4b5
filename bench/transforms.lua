-- bench/transforms.lua: what the transforms cost (W5), each against baselines measured in the
-- same run. bench/run.lua runs it and appends its lines to the report; alone:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua/?.so;;' lua5.4 bench/transforms.lua
-- W5a: the Jacobian of a tall f (few inputs, many outputs) and of a wide one, by forward and by
--      reverse mode: each mode's cost grows with the side it sweeps once per, so lg.jacobian's
--      automatic choice should be the cheaper one.
-- W5b: the Hessian of an n-dimensional Rosenbrock function, exact (forward over reverse, and
--      reverse over reverse) against central differences of the gradient (2n gradients),
--      with each one's error against the analytic Hessian.
-- W5c: a gradient by lg.grad against the same by backward on Values made by hand, and by
--      lg.vjp's pullback; lg.jvp against lg.vjp for one direction.
-- Environment: BENCH_QUICK=1 (smaller and fewer), BENCH_SMOKE=1 (agreement only). Exits 1 if
-- the modes disagree beyond 1e-9 relative.
local lg = require("luagrad")
local fmt, clock = string.format, os.clock
local QUICK, SMOKE = os.getenv("BENCH_QUICK") == "1", os.getenv("BENCH_SMOKE") == "1"

local N = SMOKE and 20 or QUICK and 100 or 200     -- the long side of W5a
local R = SMOKE and 4 or QUICK and 20 or 50        -- the Rosenbrock dimension
local REPS = SMOKE and 1 or 5

local failures = 0
local function agree (a, b, what)
  if math.abs(a - b) > 1e-9 * math.max(1, math.abs(b)) then
    failures = failures + 1
    print(fmt("  FAIL %s: %.17g vs %.17g", what, a, b))
  end
end

-- the median time of REPS runs of fn, in seconds, and fn's last result
local function time (fn)
  local ts, r = {}, nil
  for k = 1, REPS do
    local t0 = clock()
    r = fn()
    ts[k] = clock() - t0
  end
  table.sort(ts)
  return ts[(REPS + 1) // 2], r
end

local function compare (A, B, what)
  for i = 1, #A do
    for j = 1, #A[i] do agree(A[i][j], B[i][j], fmt("%s [%d][%d]", what, i, j)) end
  end
end

print(fmt("W5 transforms (%s; medians of %d)", _VERSION, REPS))

-- W5a: tall: 4 inputs, N outputs; wide: N inputs, 4 outputs
local function tall (a, b, c, d)   -- every output depends on one shared sum of N terms
  local terms = {}
  for i = 1, N do terms[i] = lg.sin(a * i + b) * lg.exp(c / i) end
  local s, out = lg.sum(terms) * d, {}
  for i = 1, N do out[i] = lg.tanh(s * (i / N)) end
  return out
end
local function wide (v)
  local s1, s2 = lg.dot(v, v), lg.sum(v)
  return { s1 * s2, lg.tanh(s1), s2 * s2, lg.sin(v[1]) * v[#v] }
end
local wx = {}
for i = 1, N do wx[i] = math.sin(i) end
for _, case in ipairs({ { "tall", tall, { 0.3, -0.2, 0.5, 1.1 }, "4 inputs, " .. N .. " outputs" },
                        { "wide", wide, { wx }, N .. " inputs, 4 outputs" } }) do
  local name, f, args, shape = case[1], case[2], case[3], case[4]
  local tf, JF = time(function () return lg.jacfwd(f)(table.unpack(args)) end)
  local tr, JR = time(function () return lg.jacrev(f)(table.unpack(args)) end)
  local ta = time(function () return lg.jacobian(f)(table.unpack(args)) end)
  compare(JF, JR, "W5a " .. name)
  print(fmt("  W5a %s (%s): jacfwd %.2f ms, jacrev %.2f ms (rev/fwd %.2fx); auto %.2f ms",
            name, shape, tf * 1e3, tr * 1e3, tr / tf, ta * 1e3))
end

-- W5b: the Hessian of Rosenbrock in R dimensions
local function rosenbrock (v)
  local s = 0
  for i = 1, #v - 1 do s = s + 100 * (v[i + 1] - v[i] ^ 2) ^ 2 + (1 - v[i]) ^ 2 end
  return s
end
local function analytic (x)
  local n, H = #x, {}
  for i = 1, n do
    H[i] = {}
    for j = 1, n do H[i][j] = 0 end
  end
  for i = 1, n - 1 do
    H[i][i] = H[i][i] + 1200 * x[i] ^ 2 - 400 * x[i + 1] + 2
    H[i][i + 1], H[i + 1][i] = -400 * x[i], -400 * x[i]
    H[i + 1][i + 1] = H[i + 1][i + 1] + 200
  end
  return H
end
local x = {}
for i = 1, R do x[i] = 0.5 + 0.3 * math.sin(i) end
local grad = lg.grad(rosenbrock)
local function differences ()   -- central differences of the gradient, column by column
  local H, h = {}, 1e-5
  for i = 1, R do H[i] = {} end
  for j = 1, R do
    local xp, xm = { table.unpack(x) }, { table.unpack(x) }
    xp[j], xm[j] = x[j] + h, x[j] - h
    local gp, gm = grad(xp), grad(xm)
    for i = 1, R do H[i][j] = (gp[i] - gm[i]) / (2 * h) end
  end
  return H
end
local function maxerror (H)
  local A, e = analytic(x), 0
  for i = 1, R do
    for j = 1, R do e = math.max(e, math.abs(H[i][j] - A[i][j])) end
  end
  return e
end
local tfr, HF = time(function () return lg.hessian(rosenbrock, { mode = "forward" })(x) end)
local trr, HR = time(function () return lg.hessian(rosenbrock, { mode = "reverse" })(x) end)
local tfd, HD = time(differences)
compare(HF, HR, "W5b")
compare(HF, analytic(x), "W5b analytic")
print(fmt("  W5b Rosenbrock Hessian, n = %d: forward over reverse %.2f ms (max error %.1e), " ..
          "reverse over reverse %.2f ms (%.1e), central differences of the gradient %.2f ms " ..
          "(%.1e); reverse-over-reverse/differences %.2fx", R, tfr * 1e3, maxerror(HF),
          trr * 1e3, maxerror(HR), tfd * 1e3, maxerror(HD), trr / tfd))

-- W5c: one gradient three ways, and one directional derivative both ways
local tg = time(function () return grad(x) end)
local th = time(function ()
  local leaves = {}
  for i = 1, R do leaves[i] = lg.value(x[i]) end
  rosenbrock(leaves):backward()
  local g = {}
  for i = 1, R do g[i] = leaves[i].grad end
  return g
end)
local tv = time(function ()
  local _, pullback = lg.vjp(rosenbrock, x)
  return pullback(1)
end)
local dir = {}
for i = 1, R do dir[i] = 1 / i end
local tj, jv = time(function () local _, t = lg.jvp(rosenbrock, { x }, { dir }) return t end)
local tb, vj = time(function ()
  local _, pullback = lg.vjp(rosenbrock, x)
  local g, s = pullback(1), 0
  for i = 1, R do s = s + g[i] * dir[i] end
  return s
end)
agree(jv, vj, "W5c jvp against vjp")
print(fmt("  W5c gradient, n = %d: lg.grad %.3f ms, backward by hand %.3f ms (grad/hand " ..
          "%.2fx), vjp %.3f ms; jvp %.3f ms, vjp and dot %.3f ms", R, tg * 1e3, th * 1e3,
          tg / th, tv * 1e3, tj * 1e3, tb * 1e3))

if failures > 0 then
  io.stderr:write("bench/transforms.lua: the modes disagree (see FAIL above)\n")
  os.exit(1)
end
