-- The course's logistic regression, vectorized, on real data: the Breast Cancer Wisconsin
-- (Diagnostic) set, 569 tumours x 30 features (data/breast_cancer/, with its source and
-- license). p = sigmoid(X w + b) for every tumour at once, the mean cross-entropy plus the
-- L2 penalty of scikit-learn's LogisticRegression() (C = 1), and plain gradient descent
-- through backward. It ends by comparing w and b with scikit-learn's own fit of the same
-- objective (data/breast_cancer/sklearn_fit.csv, from tests/fixtures/breast_cancer_sklearn.py).
-- Run: build/luagrad examples/logistic_regression.lua   (about a second)
local lg = require("luagrad")

-- this file's folder, so the example runs from any directory
local here = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "../"
local rows = lg.data.read_csv(here .. "data/breast_cancer/breast_cancer.csv")
local n = rows.shape[1]
local X = rows:narrow(2, 1, 30)          -- 569 x 30
local Y = rows:narrow(2, 31, 1)          -- 569 x 1: 1 benign, 0 malignant

-- standardized features (population standard deviation), as the course does
X = (X - X:mean(1, true)) / X:std(1, true, {unbiased = false})

local w = lg.zeros(30, 1):requires_grad_()
local b = lg.zeros(1):requires_grad_()
local C = 1                              -- scikit-learn's default inverse penalty

local function loss ()
  local z = X:matmul(w) + b
  -- the cross-entropy from the logits, stable for any z: log(1 + e^z) - y z
  local ce = (lg.softplus(z) - Y * z):mean()
  return ce + (w * w):sum() / (2 * C * n)
end

local rate, steps = 1, 5000
for step = 0, steps do
  local L = loss()
  w.grad, b.grad = nil, nil
  L:backward()
  lg.no_grad(function ()
    w:sub_(w.grad, rate)
    b:sub_(b.grad, rate)
  end)
  if step % 1000 == 0 then print(string.format("step %4d  loss %.6f", step, L.data)) end
end

local p = lg.sigmoid(X:matmul(w) + b):detach()
local correct = p:gt(0.5):eq(Y):sum().data
print(string.format("training accuracy %d/%d = %.1f%%", correct, n, 100 * correct / n))

local ref = lg.data.read_csv(here .. "data/breast_cancer/sklearn_fit.csv")
local dw = (w:detach():view(30) - ref:narrow(2, 2, 30):view(30)):abs():amax().data
local db = math.abs(b:get(1) - ref:get(1, 1))
print(string.format("against scikit-learn's fit: max |w - w_ref| = %.1e, |b - b_ref| = %.1e",
                    dw, db))
