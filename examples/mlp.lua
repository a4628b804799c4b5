-- A scalar MLP (2-16-16-1, ReLU) trained by hand on two interleaved half-moons: every
-- weight a Value, a max-margin loss with L2 regularization, full-batch gradient descent
-- (backward, update, zero_grad). The data and initial weights come from a fixed seed.
-- Run: build/luagrad examples/mlp.lua      (docs/training-loop.md walks through it)
-- Prints the loss every 10 steps, then the accuracy on the 100 training points.
local lg = require("luagrad")

local state = 1   -- Park and Miller's generator: exact in a double, the same on every Lua
local function uniform (a, b)
  state = state * 16807 % 2147483647
  return a + (b - a) * state / 2147483647
end
local function normal ()  -- Box-Muller
  return math.sqrt(-2 * math.log(1 - uniform(0, 1))) * math.cos(2 * math.pi * uniform(0, 1))
end

-- two moons: y = 1 on the upper arc, y = -1 on the lower one, shifted; noise 0.1
local data = {}
for i = 1, 100 do
  local t, y = uniform(0, math.pi), (i % 2 == 1) and 1 or -1
  local x1 = (y == 1) and math.cos(t) or 1 - math.cos(t)
  local x2 = (y == 1) and math.sin(t) or 0.5 - math.sin(t)
  data[i] = { x = { x1 + 0.1 * normal(), x2 + 0.1 * normal() }, y = y }
end

-- the model: layers of neurons, each a weight per input and a bias, all Values
local params = {}
local function layer (nin, nout, relu)
  local l = { relu = relu }
  for j = 1, nout do
    local w = {}
    for i = 1, nin do w[i] = lg.value(uniform(-1, 1)); params[#params + 1] = w[i] end
    l[j] = { w = w, b = lg.value(0) }
    params[#params + 1] = l[j].b
  end
  return l
end
local model = { layer(2, 16, true), layer(16, 16, true), layer(16, 1, false) }

local function forward (x)
  for _, l in ipairs(model) do
    local out = {}
    for j, n in ipairs(l) do
      local a = lg.dot(n.w, x) + n.b   -- one node for the weighted sum
      out[j] = l.relu and a:relu() or a
    end
    x = out
  end
  return x[1]
end

local function loss ()
  local hinge, right = {}, 0
  for i, d in ipairs(data) do
    local score = forward(d.x)
    hinge[i] = (1 - d.y * score):relu()   -- max(0, 1 - y * score)
    if (score.data > 0) == (d.y > 0) then right = right + 1 end
  end
  local l2 = lg.dot(params, params)
  return lg.sum(hinge) / #data + 1e-4 * l2, right / #data
end

local steps = 100
for step = 0, steps - 1 do
  local L, accuracy = loss()
  L:backward()                              -- every parameter's .grad: dL/dparameter
  local rate = 1 - 0.9 * step / steps       -- the step size falls from 1 to 0.1
  for _, p in ipairs(params) do p.data = p.data - rate * p.grad end
  lg.zero_grad(params)                      -- backward adds to .grad: clear it for the next step
  if step % 10 == 0 then
    print(string.format("step %3d  loss %.4f  accuracy %3.0f%%", step, L.data, 100 * accuracy))
  end
end
local L, accuracy = loss()
print(string.format("after %d steps: loss %.4f, accuracy %.0f%% (%d parameters)", steps, L.data,
                    100 * accuracy, #params))
