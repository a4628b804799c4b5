-- The part of the LÖVE toy that learns, with no LÖVE in it: a 2-H-H-1 tanh network on the
-- plane, trained on labelled points by full-batch Adam, written by hand with tensors (the
-- update runs in place under lg.no_grad). main.lua draws it; any LuaJIT can run it.
local lg = require("luagrad")

local Learner = {}
Learner.__index = Learner

-- Two interleaved spirals of n points each, labels 0 and 1, from luagrad's seeded generator
-- (the same points on every platform).
function Learner.spirals (n, seed)
  lg.manual_seed(seed)
  local t, noise = lg.rand(2 * n), lg.randn(2 * n, 2)
  local points = {}
  for i = 1, 2 * n do
    local class = i <= n and 0 or 1
    local r = 0.15 + 0.85 * t:get(i)             -- radius 0.15 .. 1
    local a = 4 * math.pi * t:get(i) + class * math.pi
    points[i] = {r * math.cos(a) + 0.045 * noise:get(i, 1),
                 r * math.sin(a) + 0.045 * noise:get(i, 2), class}
  end
  return points
end

-- A fresh network of hidden width h, weights scaled by 1/sqrt(fan-in) (tanh's usual start).
function Learner.new (points, h, seed)
  lg.manual_seed(seed)
  local function param (rows, cols, scale)
    local t = cols and lg.randn(rows, cols) or lg.zeros(rows)
    return (scale and t * scale or t):requires_grad_()
  end
  local self = setmetatable({points = points, step = 0, history = {}}, Learner)
  self.params = {param(2, h, 1.6), param(h), param(h, h, 1 / math.sqrt(h)), param(h),
                 param(h, 1, 1 / math.sqrt(h)), param(1)}
  self.m, self.v = {}, {}
  for i, p in ipairs(self.params) do
    self.m[i], self.v[i] = lg.zeros_like(p), lg.zeros_like(p)
  end
  self:set_points(points)
  return self
end

-- The tensors of the training set, rebuilt when the player adds a point.
function Learner:set_points (points)
  local xs, ys = {}, {}
  for i, p in ipairs(points) do xs[i], ys[i] = {p[1], p[2]}, {p[3]} end
  self.points, self.X, self.Y = points, lg.tensor(xs), lg.tensor(ys)
end

function Learner:add_point (x, y, class)
  self.points[#self.points + 1] = {x, y, class}
  self:set_points(self.points)
end

-- The logits (n x 1) of the network at the points X (n x 2).
function Learner:logits (X)
  local P = self.params
  local h1 = lg.tanh(X:matmul(P[1]) + P[2])
  local h2 = lg.tanh(h1:matmul(P[3]) + P[4])
  return h2:matmul(P[5]) + P[6]
end

-- One Adam step on the binary cross-entropy of the logits z, mean(softplus(z) - y z), which
-- is stable for any z. Returns the loss and the accuracy before the step.
function Learner:train (lr)
  local z = self:logits(self.X)
  local loss = (lg.softplus(z) - self.Y * z):mean()
  loss:backward()
  self.step = self.step + 1
  local b1, b2, t = 0.9, 0.999, self.step
  lg.no_grad(function ()
    for i, p in ipairs(self.params) do
      local g, m, v = p.grad, self.m[i], self.v[i]
      m:mul_(b1):add_(g, 1 - b1)
      v:mul_(b2):add_(g * g, 1 - b2)
      local mhat, vhat = m / (1 - b1 ^ t), v / (1 - b2 ^ t)
      p:sub_(mhat / (vhat:sqrt() + 1e-8) * lr)
      p.grad = nil
    end
  end)
  local right = z:gt(0):eq(self.Y):mean()
  local record = {step = t, loss = loss.data, accuracy = right.data}
  self.history[#self.history + 1] = record
  return record
end

-- The probability of class 1 on a g x g grid over [lo, hi]^2, as an array of rows (row 1 at
-- y = hi, the top of the screen), computed under no_grad: no graph is kept.
function Learner:grid (g, lo, hi)
  local xs = {}
  for r = 1, g do
    local y = hi - (hi - lo) * (r - 1) / (g - 1)
    for c = 1, g do xs[#xs + 1] = {lo + (hi - lo) * (c - 1) / (g - 1), y} end
  end
  local p = lg.no_grad(function () return lg.sigmoid(self:logits(lg.tensor(xs))) end)
  local rows, k = {}, 0
  for r = 1, g do
    local row = {}
    for c = 1, g do k = k + 1; row[c] = p:get(k, 1) end
    rows[r] = row
  end
  return rows
end

return Learner
