-- bench/lua_bench.lua: one measurement of one workload, in one process, on one backend.
--   lua5.4 bench/lua_bench.lua BACKEND GC WORKLOAD SIZE [W3DATA]
-- BACKEND: plain (Lua numbers, forward only), floor (the least a C-backed Value op can cost,
-- forward only), floorchk (the floor plus the two operand checks soundness needs), luagrad,
-- anomaly (luagrad with lg.detect_anomaly(true)), compiled (luagrad's lg.compile: recorded
-- once, then replayed; W1-W3 only).
-- GC: inc or gen (set explicitly), or - (left alone). WORKLOAD: w1 (SIZE reps), w2 (SIZE
-- ops), w3bin / w3dot (SIZE steps), w4 (SIZE ops). Prints one RESULT line (bench/common.lua)
-- for bench/run.lua.
-- This file and common.lua also run under Lua 5.1 and LuaJIT (W1 and W3, GC "-": their default
-- collector), which cannot run the generator: W3DATA, a file of common.write_w3data, gives W3
-- its inputs there. Under another interpreter than 5.4 the implementation's name says which
-- (luagrad-luajit, plain-lua5.1, ...).
local C = require("common")
local clock = C.clock
local backend, gcmode, workload, size = arg[1], arg[2], arg[3], tonumber(arg[4])
local w3data = arg[5]
local interp = rawget(_G, "jit") and "luajit" or (_VERSION:gsub("^Lua ", "lua"))

C.setgc(gcmode)

local compiled = backend == "compiled"
local B = C.backend(compiled and "luagrad" or backend)
local lg = compiled and require("luagrad")

local function out (fields, check)
  table.insert(fields, 1, {"impl", interp == "lua5.4" and backend or backend .. "-" .. interp})
  table.insert(fields, 2, {"gc", gcmode})
  table.insert(fields, 3, {"wl", workload})
  table.insert(fields, 4, {"n", size})
  C.result(fields, check)
end

-- W1 compiled: the same function, recorded once, replayed reps times (forward + backward).
local function w1compiled (reps)
  local fg = lg.compile(function (a, b, c) return 3 * (a + b * c) end)
  local J, ga, gb, gc
  local t0 = clock()
  for _ = 1, reps do J, ga, gb, gc = fg(5, 3, 2) end
  out({{"total_us", (clock() - t0) / reps * 1e6}}, {J, ga, gb, gc})
end

-- W1: J = 3*(a + b*c) on a fresh graph, then backward, reps times.
local function w1 (reps)
  if compiled then return w1compiled(reps) end
  local value = B.value
  local J, a, b, c
  local t0 = clock()
  if backend == "plain" then   -- no leaves to make: numbers are the leaves
    local x, y, z = 5.0, 3.0, 2.0
    for _ = 1, reps do J = 3 * (x + y * z) end
  else
    for _ = 1, reps do
      a, b, c = value(5), value(3), value(2)
      J = 3 * (a + b * c)
    end
  end
  local tf = clock() - t0
  local fields = {{"fwd_us", tf / reps * 1e6}}
  if not B.grad then
    out(fields, {B.data(J)})
    return
  end
  t0 = clock()
  for _ = 1, reps do
    a, b, c = value(5), value(3), value(2)
    J = 3 * (a + b * c)
    J:backward()
  end
  fields[#fields + 1] = {"total_us", (clock() - t0) / reps * 1e6}
  out(fields, {J.data, a.grad, b.grad, c.grad})
end

-- W2 compiled: the DAG as a function of the leaves' numbers, recorded once, then replayed;
-- fwd_ns is forward and backward together, per op.
local function w2compiled (nops)
  local leafx, A, Bi, Ci, ncells = C.w2_program(nops)
  local L = #leafx
  local function f (xs)
    local outs = {}
    for i = 1, L do outs[i] = xs[i] end
    for k = 1, ncells do
      local a, b, c = outs[A[k]], outs[Bi[k]], outs[Ci[k]]
      local u = a * b
      local w = u - c
      local q = w / lg.exp(w)
      outs[L + k] = lg.tanh(q + a)
    end
    return outs[L + ncells]
  end
  local fg = lg.compile(f)
  local J, g = fg(leafx)
  local reps = math.max(3, math.floor(2e6 / nops))
  local t0 = clock()
  for _ = 1, reps do J, g = fg(leafx) end
  local n = 6 * ncells
  local check = {J}
  for i = 1, L do check[#check + 1] = g[i] end
  out({{"ops", n}, {"fwd_ns", (clock() - t0) / reps / n * 1e9}}, check)
end

-- W2: the random DAG of bench/common.lua; forward ns/op, backward ns/node, bytes per node.
local function w2 (nops)
  if compiled then return w2compiled(nops) end
  local leafx, A, Bi, Ci, ncells = C.w2_program(nops)
  local value, exp, tanh = B.value, B.exp, B.tanh
  local L = #leafx
  local used = {}
  for k = 1, ncells do used[Bi[k]] = true; used[Ci[k]] = true end
  used[L] = true   -- cell 1's a
  local nleaves = 0
  for i = 1, L do if used[i] then nleaves = nleaves + 1 end end
  local base = C.heap()
  local outs, leaves = {}, {}
  for i = 1, L do leaves[i] = value(leafx[i]); outs[i] = leaves[i] end
  local t0 = clock()
  for k = 1, ncells do
    local a, b, c = outs[A[k]], outs[Bi[k]], outs[Ci[k]]
    local u = a * b
    local w = u - c
    local e = exp(w)
    local q = w / e
    local s = q + a
    outs[L + k] = tanh(s)
  end
  local tf = clock() - t0
  local J = outs[L + ncells]
  local n = 6 * ncells
  local fields = {{"ops", n}, {"fwd_ns", tf / n * 1e9}}
  if not B.grad then
    out(fields, {B.data(J)})
    return
  end
  t0 = clock()
  J:backward()
  local tb = clock() - t0
  fields[#fields + 1] = {"bwd_ns", tb / (n + nleaves) * 1e9}
  local check = {J.data}
  for i = 1, L do check[#check + 1] = leaves[i].grad end
  -- bytes: the graph alone, held by J (leaves included); then one leaf, measured apart
  outs, leaves = nil, nil  -- luacheck: ignore (dropped, so the collector can free them)
  local graph = C.heap() - base
  local nums, vals = {}, {}  -- luacheck: ignore (kept only to be measured)
  local h0 = C.heap()
  for i = 1, 10000 do nums[i] = i + 0.5 end
  local h1 = C.heap()
  for i = 1, 10000 do vals[i] = value(i) end
  local h2 = C.heap()
  local leafb = ((h2 - h1) - (h1 - h0)) / 10000
  fields[#fields + 1] = {"leaf_bytes", leafb}
  fields[#fields + 1] = {"node_bytes", (graph - nleaves * leafb) / n}
  out(fields, check)
end

-- W3: MLP 2-16-16-1 on two moons, SVM max-margin loss + L2, full-batch SGD.
-- dot = false: every neuron is b + w1*x1 + w2*x2 + ... in binary ops; true: lg.dot / lg.sum.
local function w3 (steps, dot)
  local D = w3data and dofile(w3data) or C.w3inputs(steps)
  local X, Y, init, lrs = D.X, D.Y, D.init, D.lr
  if #lrs < steps then error(("%s has learning rates for %d steps, not %d"):format(
                               w3data or "w3inputs", #lrs, steps)) end
  local value, relu, sum, dotf = B.value, B.relu, B.sum, B.dot
  local model, params = {}, {}
  for l, layer in ipairs(init) do
    model[l] = {}
    for j, n in ipairs(layer) do
      local w = {}
      for i, x in ipairs(n.w) do w[i] = value(x); params[#params + 1] = w[i] end
      local b = value(n.b)
      params[#params + 1] = b
      model[l][j] = {w = w, b = b}
    end
  end
  local nl, alpha = #model, C.W3_ALPHA
  local function score (x)
    local h = x
    for l = 1, nl do
      local layer, o = model[l], {}
      for j = 1, #layer do
        local n = layer[j]
        local act
        if dot then act = dotf(n.w, h) + n.b
        else
          local w = n.w
          act = n.b
          for i = 1, #w do act = act + w[i] * h[i] end
        end
        if l < nl then act = relu(act) end
        o[j] = act
      end
      h = o
    end
    return h[1]
  end
  local function loss ()
    local data, reg
    if dot then
      local m = {}
      for i = 1, #X do m[i] = relu(1 - Y[i] * score(X[i])) end
      data, reg = sum(m), dotf(params, params)
    else
      data, reg = 0, 0
      for i = 1, #X do data = data + relu(1 - Y[i] * score(X[i])) end
      for i = 1, #params do reg = reg + params[i] * params[i] end
    end
    return data / #X + reg * alpha
  end
  local check, last = {}, nil
  local data = B.data
  if compiled then  -- the parameters are leaves made outside: live in every replay
    local fg = lg.compile(loss)
    fg()   -- the recording, outside the timing: steps measure replays, as in training
    loss = function ()  -- each replay adds the gradients to the parameters' grads
      B.zero_grad(params)
      return (fg())
    end
    data = function (x) return x end
  end
  local t0 = clock()
  for k = 0, steps - 1 do
    local J = loss()
    if B.grad then
      if not compiled then
        B.zero_grad(params)
        J:backward()
      end
      local lr = lrs[k + 1]
      for i = 1, #params do
        local p = params[i]
        p.data = p.data - lr * p.grad
      end
    end
    if k == 0 then
      check[1] = data(J)
      if B.grad then for i = 1, #params do check[#check + 1] = params[i].grad end end
    end
    last = data(J)
  end
  local t = clock() - t0
  if B.grad then check[#check + 1] = last end
  out({{"steps", steps}, {"ms", t / steps * 1e3}}, check)
end

-- W4: a chain n ops deep (v = tanh(v + x), n/2 times): build, backward, collect.
local function w4 (nops)
  local value, tanh = B.value, B.tanh
  local _, rss0 = C.rss()
  collectgarbage("collect")
  local t0 = clock()
  local x = value(0.5)
  local v = x
  for _ = 1, math.floor(nops / 2) do v = tanh(v + x) end
  local t1 = clock()
  local heap = collectgarbage("count") * 1024
  local check = {B.data(v)}
  if B.grad then
    v:backward()
    check[2] = x.grad
  end
  local t2 = clock()
  v, x = nil, nil  -- luacheck: ignore (dropped: the collect below frees the chain)
  collectgarbage("collect")
  local t3 = clock()
  local hwm = C.rss()
  out({{"build_s", t1 - t0}, {"bwd_s", t2 - t1}, {"collect_s", t3 - t2}, {"total_s", t3 - t0},
       {"heap_mb", heap / 2^20}, {"peak_mb", hwm and rss0 and (hwm - rss0) / 2^20 or "nan"}},
      check)
end

if workload == "w1" then w1(size)
elseif workload == "w2" then w2(size)
elseif workload == "w3bin" then w3(size, false)
elseif workload == "w3dot" then w3(size, true)
elseif workload == "w4" then w4(size)
else error("unknown workload " .. tostring(workload)) end
