-- The logistic regression of examples/logistic_regression_values.lua, vectorized: the same
-- data as one 100x2 tensor, p = sigmoid(X w + b) for every point at once, the same
-- cross-entropy loss and gradient descent. It prints what the scalar version prints, to
-- the last digit: the tensors' ops are the Values' ops, run over the elements.
-- Run: build/luagrad examples/logistic_regression_tensors.lua
local lg = require("luagrad")

-- The scalar example's generator and data, point for point.
local state = 42
local function uniform ()
  state = (state * 1103515245 + 12345) % 2147483648
  return state / 2147483648
end
local function normal ()  -- Box-Muller
  return math.sqrt(-2 * math.log(1 - uniform())) * math.cos(2 * math.pi * uniform())
end

local rows, labels = {}, {}   -- class 1 around (1.5, 1), class 0 around (-1, -1.5)
for i = 1, 100 do
  local y = i % 2
  local cx, cy = (y == 1) and 1.5 or -1, (y == 1) and 1 or -1.5
  rows[i] = {cx + normal(), cy + normal()}
  labels[i] = {y}
end
local X, Y = lg.tensor(rows), lg.tensor(labels)   -- 100x2 and 100x1

local w = lg.zeros(2, 1):requires_grad_()
local b = lg.value(0, "b")

local function predict (x) return lg.sigmoid(x:matmul(w) + b) end   -- 100x1

local function loss ()
  local p = predict(X)
  return -(Y * lg.log(p) + (1 - Y) * lg.log(1 - p)):mean()
end

local rate = 0.5
for step = 0, 200 do
  local L = loss()
  w.grad = nil
  b.grad = 0
  L:backward()
  -- a step outside the graph: a new leaf w, the Value b in place
  w = lg.no_grad(function () return w - rate * w.grad end):requires_grad_()
  b.data = b.data - rate * b.grad
  if step % 20 == 0 then print(string.format("step %3d  loss %.4f", step, L.data)) end
end

local p = predict(X):detach()
local correct = (p:gt(0.5) - Y):abs():lt(0.5):sum().data
print(string.format("w = (%.3f, %.3f)  b = %.3f", w:get(1, 1), w:get(2, 1), b.data))
print(string.format("accuracy %d/%d = %.0f%%", correct, 100, correct))
