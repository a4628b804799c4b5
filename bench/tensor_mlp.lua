-- bench/tensor_mlp.lua: a 784-128-10 MLP's training step (forward, softmax-free squared
-- loss, backward) on a batch of 128, in luagrad's tensors and in PyTorch (Debian's
-- python3-torch, bench/tensor_mlp.py) in the same run, one thread each.
--   OPENBLAS_NUM_THREADS=1 LUA_CPATH='build/lua/?.so' LUA_PATH='lua/?.lua;lua/?/init.lua' \
--     lua5.4 bench/tensor_mlp.lua [steps]
-- Prints ms per step for each and the ratio; the per-example scalar-Value figure (15 ms)
-- it replaces is in docs/performance.md.
local lg = require("luagrad")
local steps = tonumber(arg[1]) or 50
local B, NIN, NH, NOUT = 128, 784, 128, 10

lg.manual_seed(1)
local X = lg.rand(B, NIN)
local Y = lg.rand(B, NOUT)
local W1 = (lg.rand(NIN, NH) * 0.1):detach():requires_grad_()
local b1 = lg.zeros(NH):requires_grad_()
local W2 = (lg.rand(NH, NOUT) * 0.1):detach():requires_grad_()
local b2 = lg.zeros(NOUT):requires_grad_()

local function step ()
  local h = lg.relu(X:matmul(W1) + b1)
  local out = h:matmul(W2) + b2
  local loss = ((out - Y) ^ 2):mean()
  lg.zero_grad({W1, b1, W2, b2})
  loss:backward()
  return loss
end

for _ = 1, 5 do step() end   -- warm up
local t0 = os.clock()
local loss
for _ = 1, steps do loss = step() end
local ms = (os.clock() - t0) * 1000 / steps
print(("luagrad  %8.3f ms/step  (batch %d, %d-%d-%d, loss %.6f, %s)"):format(
  ms, B, NIN, NH, NOUT, loss.data, lg._VERSION))

local src = (arg[0]:match("^(.*)/tensor_mlp%.lua$")) or "bench"
local p = io.popen("OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 " .. src ..
                   "/tensor_mlp.py " .. steps .. " 2>/dev/null")
local line = p and p:read("*l")
if p then p:close() end
local tms = line and tonumber(line:match("^torch%s+([%d.]+)"))
if tms then
  print(line)
  print(("ratio    %8.2f  (luagrad / PyTorch; below 1 luagrad is faster)"):format(ms / tms))
else
  print("PyTorch  not measured (python3-torch is not installed)")
end
