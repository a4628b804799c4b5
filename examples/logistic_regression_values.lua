-- Logistic regression built from Values: p = sigmoid(w.x + b), cross-entropy loss, gradient
-- descent through backward, on two 2-D clusters generated with a fixed seed.
-- Run: build/luagrad examples/logistic_regression_values.lua
-- (examples/logistic_regression.lua is the same model on real data, with tensors.)
-- Prints the loss every 20 steps as it falls, then the final weights and accuracy.
local lg = require("luagrad")

-- A small linear congruential generator, so the data is the same on every Lua.
local state = 42
local function uniform ()
  state = (state * 1103515245 + 12345) % 2147483648
  return state / 2147483648
end
local function normal ()  -- Box-Muller
  return math.sqrt(-2 * math.log(1 - uniform())) * math.cos(2 * math.pi * uniform())
end

local data = {}  -- class 1 around (1.5, 1), class 0 around (-1, -1.5)
for i = 1, 100 do
  local y = i % 2
  local cx, cy = (y == 1) and 1.5 or -1, (y == 1) and 1 or -1.5
  data[i] = {x = {cx + normal(), cy + normal()}, y = y}
end

local w = {lg.value(0, "w1"), lg.value(0, "w2")}
local b = lg.value(0, "b")
local params = {w[1], w[2], b}

local function predict (x) return lg.sigmoid(lg.dot(w, x) + b) end

local function loss ()
  local terms = {}
  for i, d in ipairs(data) do
    local p = predict(d.x)
    terms[i] = (d.y == 1) and lg.log(p) or lg.log(1 - p)
  end
  return -lg.sum(terms) / #data
end

local rate = 0.5
for step = 0, 200 do
  local L = loss()
  lg.zero_grad(params)
  L:backward()
  for _, p in ipairs(params) do p.data = p.data - rate * p.grad end
  if step % 20 == 0 then print(string.format("step %3d  loss %.4f", step, L.data)) end
end

local correct = 0
for _, d in ipairs(data) do
  local guess = (predict(d.x).data > 0.5) and 1 or 0
  if guess == d.y then correct = correct + 1 end
end
print(string.format("w = (%.3f, %.3f)  b = %.3f", w[1].data, w[2].data, b.data))
print(string.format("accuracy %d/%d = %.0f%%", correct, #data, 100 * correct / #data))
