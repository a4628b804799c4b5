-- Aim a projectile through air with drag: tune the launch angle and speed by gradient
-- descent through 150 simulated steps (the host's luagrad.step) so that after 1.5 s the
-- projectile is at the target; then a tensor of the host's launches gets its gradient.
-- Run by the host: luagrad-sim examples/host/aim.lua
local lg = require("luagrad")

local target = {x = 20, y = 4}
local drag = 0.02
local angle, speed = lg.value(0.6, "angle"), lg.value(15, "speed")

-- Where the projectile is after n steps: Values that remember how they were made when a
-- and s are Values, plain numbers when they are numbers.
local function fly (a, s, n)
  local x, y = 0, 0
  local vx, vy = s * lg.cos(a), s * lg.sin(a)
  for _ = 1, n do x, y, vx, vy = lg.step(x, y, vx, vy, drag) end
  return x, y
end

local function loss_of (a, s)
  local x, y = fly(a, s, 150)
  return (x - target.x) ^ 2 + (y - target.y) ^ 2, x, y
end

-- First, check the host's derivative against central differences on plain numbers.
do
  local loss = loss_of(angle, speed)
  loss:backward()
  local h, a, s = 1e-6, angle.data, speed.data
  local da = (loss_of(a + h, s) - loss_of(a - h, s)) / (2 * h)
  local ds = (loss_of(a, s + h) - loss_of(a, s - h)) / (2 * h)
  print(string.format("check: dloss/dangle %.6f (differences %.6f), dloss/dspeed %.6f (%.6f)",
                      angle.grad, da, speed.grad, ds))
  assert(math.abs(angle.grad - da) < 1e-4 * math.abs(da) and
         math.abs(speed.grad - ds) < 1e-4 * math.abs(ds), "the step's vjp is wrong")
end

local miss
for i = 1, 500 do
  local loss, x, y = loss_of(angle, speed)
  miss = math.sqrt(loss.data)
  if i % 50 == 1 or miss < 1e-4 then
    print(string.format("step %3d  at (%.3f, %.3f)  miss %.2e m", i, x.data, y.data, miss))
  end
  if miss < 1e-4 then break end
  lg.zero_grad({angle, speed})
  loss:backward()
  -- the two parameters live on different scales: give each its own rate
  angle.data = angle.data - 2e-4 * angle.grad
  speed.data = speed.data - 2e-2 * speed.grad
end

-- The host hands over an array of its own, launches (n x 2: angle, speed), as a tensor: the
-- drag-free range of each, and the gradient of the squared misses with respect to every
-- launch, which the host reads back in C.
local function range_gradient (launches)
  launches:requires_grad_()   -- a leaf the host pushed: it may require grad
  local a, s = launches:select(2, 1), launches:select(2, 2)
  local range = s ^ 2 * lg.sin(2 * a) / 9.81
  local loss = ((range - target.x) ^ 2):sum()
  loss:backward()
  return launches.grad, loss.data
end

return {angle = angle, speed = speed, miss = miss, range_gradient = range_gradient}
