-- bench/optim.lua: one step of luagrad.optim.Adam per parameter element, against Adam's loop
-- written by hand in C (bench/optim_loop.c, built as build/bench/optim_loop) and against
-- torch.optim.Adam (Debian's python3-torch, bench/optim.py), in the same run, one thread.
--   OPENBLAS_NUM_THREADS=1 LUA_CPATH='build/lua/?.so' LUA_PATH='lua/?.lua;lua/?/init.lua' \
--     lua5.4 bench/optim.lua [n [steps [build dir]]]
-- Prints ns per parameter for each, and the ratios; asserts nothing. Then a model's worth of
-- tensors (the four of a 784-256-10 MLP) and 1000 Values, where the fixed cost per tensor
-- and the packing of Values show.
local lg = require("luagrad")
local optim = lg.optim
local n = tonumber(arg[1]) or 1000000
local steps = tonumber(arg[2]) or 100
local build = arg[3] or "build"
local src = (arg[0]:match("^(.*)/optim%.lua$")) or "bench"

local function timed (opt, k)
  opt:step()   -- warm up: the state is made
  local t0 = os.clock()
  for _ = 1, k do opt:step() end
  return (os.clock() - t0) / k
end

local function withgrad (t)
  t.grad = lg.rand(t.shape) * 2 - 1
  return t
end

lg.manual_seed(1)
local p = withgrad(lg.rand(n))
local ns = timed(optim.Adam({ p }, { lr = 1e-3 }), steps) * 1e9 / n
print(("luagrad  %8.3f ns/param  (n %d, %d steps, one float64 tensor, %s)"):format(
  ns, n, steps, lg._VERSION))

local function peer (cmd, pattern)
  local f = io.popen(cmd .. " 2>/dev/null")
  local line = f and f:read("*l")
  if f then f:close() end
  local x = line and tonumber(line:match(pattern))
  if x then print(line) end
  return x
end

local c = peer(("%s/bench/optim_loop %d %d"):format(build, n, steps), "^C loop%s+([%d.]+)")
if c then
  print(("ratio    %8.2f  (luagrad / C loop by hand; 1.2 is the target)"):format(ns / c))
else
  print("C loop   not measured (build " .. build .. "/bench/optim_loop first)")
end
local t = peer(("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 %s/optim.py %d %d")
               :format(src, n, steps), "^torch%s+([%d.]+)")
if t then
  print(("ratio    %8.2f  (luagrad / torch.optim.Adam; below 1 luagrad is faster)"):format(ns / t))
else
  print("torch    not measured (python3-torch is not installed)")
end

-- a model's parameters: 784x256, 256, 256x10, 10 (203,530 numbers in four tensors)
local model = { withgrad(lg.rand(256, 784)), withgrad(lg.rand(256)), withgrad(lg.rand(10, 256)),
                withgrad(lg.rand(10)) }
local m = timed(optim.Adam(model), steps)
print(("MLP      %8.3f ns/param  (784-256-10, four tensors, %.1f us/step)"):format(
  m * 1e9 / 203530, m * 1e6))
local values = {}
for k = 1, 1000 do values[k] = lg.value(k / 1000); values[k].grad = 0.5 end
local v = timed(optim.Adam(values), steps)
print(("Values   %8.3f ns/param  (1000 Values packed into one tensor, %.1f us/step)"):format(
  v * 1e9 / 1000, v * 1e6))
