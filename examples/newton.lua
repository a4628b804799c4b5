-- Newton's method on the Rosenbrock function, with exact second derivatives: lg.hessian
-- differentiates lg.grad's gradient, which is itself recorded as Values. A custom function
-- (lg.custom) supplies one term with a derivative of its own.
-- Run: build/luagrad examples/newton.lua
-- Prints each iterate, the gradient's norm and the Hessian, then the minimum at (1, 1).
local lg = require("luagrad")

-- 100 * t^2, with its derivative written out (and written with ops, so it can be
-- differentiated again by lg.hessian)
local hundred_square = lg.custom{
  name = "hundred_square",
  forward = function (t) return 100 * t * t end,
  backward = function (g, t) return g * 200 * t end,
}

local function rosenbrock (v)
  local x, y = v[1], v[2]
  return (1 - x) ^ 2 + hundred_square(y - x * x)
end

local gradient, hessian = lg.grad(rosenbrock), lg.hessian(rosenbrock)

local v = {-1.2, 1}
for step = 1, 20 do
  local g, H = gradient(v), hessian(v)
  local norm = math.sqrt(g[1] ^ 2 + g[2] ^ 2)
  print(("step %2d  x = (%.12f, %.12f)  |grad| = %.3e  H = [[%.6g, %.6g], [%.6g, %.6g]]")
        :format(step, v[1], v[2], norm, H[1][1], H[1][2], H[2][1], H[2][2]))
  if norm < 1e-10 then break end
  -- solve H d = g (2 x 2) and step to v - d
  local det = H[1][1] * H[2][2] - H[1][2] * H[2][1]
  local d1 = (H[2][2] * g[1] - H[1][2] * g[2]) / det
  local d2 = (H[1][1] * g[2] - H[2][1] * g[1]) / det
  v = {v[1] - d1, v[2] - d2}
end
print(("minimum at (%.12f, %.12f), f = %.3e"):format(v[1], v[2], rosenbrock(v)))
