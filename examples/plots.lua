-- Logistic regression on squared features (x1, x2, x1^2, x2^2, x1*x2) separating a disc from
-- the ring around it, trained with a progress line, then drawn: the loss and accuracy
-- curves (loss.svg) and the classifier's regions over the data (boundary.svg).
-- Run: build/luagrad examples/plots.lua [dir]     (the figures go to dir, default ".")
-- Prints the progress (one line redrawn on a terminal, plain lines elsewhere) and the files.
local lg = require("luagrad")
local dir = arg and arg[1] or "."

local state = 1   -- Park and Miller's generator: exact in a double, the same on every Lua
local function uniform (a, b)
  state = state * 16807 % 2147483647
  return a + (b - a) * state / 2147483647
end

-- 120 points in [-2, 2]^2: label 1 inside the circle of radius 1.2, else 0 (a few flipped)
local X, y = {}, {}
for i = 1, 120 do
  local x1, x2 = uniform(-2, 2), uniform(-2, 2)
  X[i], y[i] = { x1, x2 }, (x1 * x1 + x2 * x2 < 1.44) == (uniform(0, 1) > 0.05) and 1 or 0
end

local function features (p) return { p[1], p[2], p[1] * p[1], p[2] * p[2], p[1] * p[2] } end
local w, b = {}, lg.value(0)
local params = { b }
for k = 1, 5 do w[k] = lg.value(0); params[k + 1] = w[k] end

local function probability (p) return lg.sigmoid(lg.dot(w, features(p)) + b) end

local steps = 300
local losses, accuracies = {}, {}
local progress = lg.progress({ total = steps, every = 50 })
for step = 1, steps do
  local terms, right = {}, 0
  for i, p in ipairs(X) do
    local q = probability(p)
    terms[i] = y[i] == 1 and -lg.log(q) or -lg.log(1 - q)   -- binary cross-entropy
    if (q.data > 0.5) == (y[i] == 1) then right = right + 1 end
  end
  local loss = lg.sum(terms) / #X
  loss:backward()
  for _, v in ipairs(params) do v.data = v.data - 0.5 * v.grad end
  lg.zero_grad(params)
  losses[step], accuracies[step] = loss.data, right / #X
  progress:update(step, { loss = loss, acc = accuracies[step] })
end
progress:done()

lg.plot.lines(dir .. "/loss.svg", { loss = losses, accuracy = accuracies },
              { title = "Logistic regression on squared features", ylim = { 0, 1.05 } })
lg.plot.decision_boundary(dir .. "/boundary.svg", function (points)
  local out = {}
  for i, p in ipairs(points) do out[i] = probability(p).data end
  return out
end, X, y, { title = "A disc and the ring around it", classes = { "ring", "disc" } })
print("wrote " .. dir .. "/loss.svg and " .. dir .. "/boundary.svg")
