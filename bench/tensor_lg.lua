-- bench/tensor_lg.lua: luagrad's side of the tensor benchmark (bench/tensor_bench.lua runs
-- it once per round). Usage: lua5.4 bench/tensor_lg.lua MODE [memsteps], MODE "full" or
-- "smoke"; prints "check NAME x" lines (numbers every implementation must agree on), then
-- "time NAME seconds-per-unit" lines (process CPU time), or, with memsteps, "rss" lines.
-- The workloads, their data and their sizes are bench/tensor_common.lua's.
local lg = require("luagrad")
local C = dofile((arg[0]:match("^(.*)/[^/]*$") or "bench") .. "/tensor_common.lua")
collectgarbage("generational")   -- what lua5.4 uses anyway, said explicitly
local mode, memsteps = arg[1] or "full", tonumber(arg[2])
local S = C.sizes[mode]

local function tensor (rows, cols, seed, scale, dtype)
  local t = {}
  for i = 0, rows - 1 do
    local r = {}
    for j = 0, cols - 1 do r[j + 1] = C.val(i * cols + j, seed) * scale end
    t[i + 1] = r
  end
  return lg.tensor(t, {dtype = dtype})
end

local function clock (f, reps)
  f()   -- warm up
  local t0 = os.clock()
  for _ = 1, reps do f() end
  return (os.clock() - t0) / reps
end

-- T1: vectorized logistic regression, one step (forward, backward, update)
local function t1 ()
  local n, d = S.t1n, S.t1d
  local X = tensor(n, d, 1, 1)
  local yt = {}
  for i = 0, n - 1 do yt[i + 1] = {C.label(i)} end
  local Y = lg.tensor(yt)
  local w = tensor(d, 1, 2, 0.1):requires_grad_()
  local b = lg.zeros(1):requires_grad_()
  local loss
  local function step ()
    local z = X:matmul(w) + b
    loss = (lg.softplus(z) - Y * z):mean()
    w.grad, b.grad = nil, nil
    loss:backward()
    lg.no_grad(function ()
      w:sub_(w.grad, C.t1lr)
      b:sub_(b.grad, C.t1lr)
    end)
  end
  for _ = 1, 3 do step() end
  print(("check T1 %.17g"):format(loss.data))
  return clock(step, S.t1reps)
end

-- T2: MLP nin-nh-nout (ReLU, squared loss), a batch, one SGD step, in a dtype
local function t2 (dtype)
  local B, NIN, NH, NOUT = S.t2b, S.t2in, S.t2h, S.t2out
  local X, Y = tensor(B, NIN, 3, 1, dtype), tensor(B, NOUT, 4, 1, dtype)
  local W1 = tensor(NIN, NH, 5, 0.1, dtype):requires_grad_()
  local b1 = lg.zeros(NH, {dtype = dtype}):requires_grad_()
  local W2 = tensor(NH, NOUT, 6, 0.1, dtype):requires_grad_()
  local b2 = lg.zeros(NOUT, {dtype = dtype}):requires_grad_()
  local params, loss = {W1, b1, W2, b2}, nil
  local function step ()
    local h = lg.relu(X:matmul(W1) + b1)
    loss = ((h:matmul(W2) + b2 - Y) ^ 2):mean()
    lg.zero_grad(params)
    loss:backward()
    lg.no_grad(function ()
      for _, p in ipairs(params) do p:sub_(p.grad, C.t2lr) end
    end)
  end
  return step, function () return loss.data end
end

-- T3: tanh(a * b + c) on n elements, its sum's backward
local function t3 ()
  local n = S.t3n
  local a = tensor(1, n, 11, 2):view(n):requires_grad_()
  local b = tensor(1, n, 12, 2):view(n):requires_grad_()
  local c = tensor(1, n, 13, 2):view(n):requires_grad_()
  local s
  local function step ()
    s = lg.tanh(a * b + c):sum()
    a.grad, b.grad, c.grad = nil, nil, nil
    s:backward()
  end
  step()
  print(("check T3 %.17g"):format(s.data))
  print(("check T3grad %.17g"):format(a.grad:sum().data + 2 * b.grad:sum().data +
                                      3 * c.grad:sum().data))
  return clock(step, S.t3reps)
end

-- T4: matmul n x n, float64, no graph
local function t4 ()
  local n = S.t4n
  local A, B = tensor(n, n, 21, 1), tensor(n, n, 22, 1)
  local P
  local t = clock(function () P = A:matmul(B) end, S.t4reps)
  print(("check T4 %.17g"):format(P:sum().data))
  return t
end

-- T5: one op on 1-element tensors (no graph), per op
local function t5 ()
  local a, b = lg.tensor({1.5}), lg.tensor({2.5})
  local k, c = S.t5ops, nil
  local t = clock(function () for _ = 1, k do c = a + b end end, 3)
  print(("check T5 %.17g"):format(c:item()))
  return t / k
end

local function rss (which)
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  return (tonumber(s:match(which .. ":%s*(%d+)")) or 0) / 1024
end

if memsteps then   -- T2 float64 for memsteps steps: resident MB along the way, and the peak
  local step = t2("float64")
  for i = 1, memsteps do
    step()
    if i == memsteps // 10 then print(("rss early %.1f"):format(rss("VmRSS"))) end
  end
  print(("rss late %.1f"):format(rss("VmRSS")))
  print(("rss peak %.1f"):format(rss("VmHWM")))
  return
end

local times = {}
times.T1 = t1()
for _, dt in ipairs({"float64", "float32"}) do
  local step, loss = t2(dt)
  for _ = 1, 3 do step() end
  print(("check T2%s %.17g"):format(dt == "float64" and "f64" or "f32", loss()))
  times["T2" .. (dt == "float64" and "f64" or "f32")] = clock(step, S.t2reps)
end
times.T3 = t3()
times.T4 = t4()
times.T5 = t5()
for _, k in ipairs(C.names) do print(("time %s %.9g"):format(k, times[k])) end
