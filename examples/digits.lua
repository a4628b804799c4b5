-- An MLP on the 8x8 handwritten digits (1797 images, data/digits/, with its source and
-- license): 64 standardized pixels -> 256 ReLU -> 128 ReLU -> 10 classes, cross-entropy,
-- Adam, minibatches of 32, trained on 80% of the images (shuffled once with a fixed seed)
-- and tested on the other 359. The test accuracy depends on which images the shuffle puts
-- in the test part: seeds 1, 2, 3 give 98.1%, 98.6%, 98.6%; seed 0 gives 96.9%.
-- Prints a progress line per epoch, the test accuracy, and writes the loss curves to
-- digits.svg (in the folder given as the first argument, else the current one).
-- Run: build/luagrad examples/digits.lua [dir]   (a few seconds)
local lg = require("luagrad")
local nn, optim = lg.nn, lg.optim

local here = (debug.getinfo(1, "S").source:match("^@(.*[/\\])") or "./") .. "../"
local dir = arg and arg[1] or "."

lg.manual_seed(1)
local rows = lg.data.read_csv(here .. "data/digits/digits.csv.gz", {header = false})
rows = rows:index(1, lg.randperm(rows.shape[1]))      -- one fixed shuffle
local X = rows:narrow(2, 1, 64)                         -- pixel counts 0..16
X = (X - X:mean(1, true)) / (X:std(1, true) + 1e-3)     -- (some pixels are always 0)
local classes = rows:narrow(2, 65, 1):view(-1) + 1     -- digits 0..9 -> classes 1..10
local Xtrain, Ytrain, Xtest, Ytest = lg.data.split(X, classes, 0.8)

local model = nn.MLP(64, {256, 128, 10})
local opt = optim.Adam(model:parameters(), {lr = 1e-3})

local function accuracy (Xs, Ys)
  local guess = lg.no_grad(function () return model(Xs):argmax(2) end):view(-1)
  return guess:eq(Ys):sum().data / Ys.shape[1]
end

local epochs = 30
local curve, tcurve = {}, {}
local progress = lg.progress{total = epochs, desc = "digits", every = 5}
for epoch = 1, epochs do
  model:train()
  local sum, count = 0, 0
  for xb, yb in lg.data.batches(Xtrain, Ytrain, {batch_size = 32}) do
    opt:zero_grad()
    local loss = nn.cross_entropy(model(xb), yb)
    loss:backward()
    opt:step()
    sum, count = sum + loss.data * xb.shape[1], count + xb.shape[1]
  end
  model:eval()
  curve[epoch] = sum / count
  tcurve[epoch] = lg.no_grad(function () return nn.cross_entropy(model(Xtest), Ytest) end).data
  progress:update(epoch, {loss = curve[epoch], test_acc = accuracy(Xtest, Ytest)})
end
progress:done()

print(string.format("training accuracy %.1f%%, test accuracy %.1f%% (%d images)",
  100 * accuracy(Xtrain, Ytrain), 100 * accuracy(Xtest, Ytest), Ytest.shape[1]))
lg.plot.lines(dir .. "/digits.svg", {train = curve, test = tcurve},
              {title = "digits: cross-entropy per epoch", xlabel = "epoch", ylabel = "loss",
               yscale = "log"})
print("wrote " .. dir .. "/digits.svg")
