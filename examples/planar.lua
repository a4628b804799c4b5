-- The course's one-hidden-layer network (2 inputs, 4 tanh units, 1 output) on the planar
-- "flower": two classes of 200 points each, petals the other class's petals cross. Plain
-- gradient descent on the cross-entropy, then the decision boundary drawn as an SVG.
-- Run: build/luagrad examples/planar.lua [dir]   (writes dir/planar.svg, default ".")
-- Prints the loss every 1000 steps, then the training accuracy (about 90%, as in the course).
local lg = require("luagrad")
local nn = lg.nn
local dir = arg and arg[1] or "."

-- The flower: for class j, angles t around [3.12 j, 3.12 (j + 1)] and radii 4 sin(4t),
-- both with normal noise of 0.2 (the course's planar_utils.load_planar_dataset)
lg.manual_seed(1)
local n, a = 200, 4
local rows, labels = {}, {}
for j = 0, 1 do
  local t = lg.linspace(j * 3.12, (j + 1) * 3.12, n) + lg.randn(n) * 0.2
  local r = lg.sin(t * 4) * a + lg.randn(n) * 0.2
  rows[#rows + 1] = lg.stack({ r * lg.sin(t), r * lg.cos(t) }, 2)
  labels[#labels + 1] = lg.full({ n, 1 }, j)
end
local X, y = lg.cat(rows, 1), lg.cat(labels, 1)   -- 400 x 2 and 400 x 1

local net = nn.Sequential({ nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1) })
local rate, steps = 1.2, 10000
for step = 1, steps do
  net:zero_grad()
  local loss = nn.binary_cross_entropy_with_logits(net(X), y)
  loss:backward()
  lg.no_grad(function ()
    for _, p in ipairs(net:parameters()) do p:sub_(p.grad * rate) end
  end)
  if step % 1000 == 0 then print(("step %5d  loss %.4f"):format(step, loss.data)) end
end

local predicted = lg.no_grad(function () return net(X):gt(0) end)
local accuracy = predicted:eq(y):mean().data
print(("accuracy %.1f%% on the %d training points"):format(100 * accuracy, 2 * n))

lg.plot.decision_boundary(dir .. "/planar.svg", function (points)
  return lg.sigmoid(net(points))
end, X, y, { title = "One hidden layer of 4 tanh units on the flower" })
print("wrote " .. dir .. "/planar.svg")
