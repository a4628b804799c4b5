-- An MLP on Fashion-MNIST (Zalando's 28x28 clothing images: 60,000 to train, 10,000 to
-- test), from Debian's dataset-fashion-mnist (scripts/deps.sh --all installs it; MIT
-- licensed): 784 pixels -> 256 ReLU -> 10 classes, cross-entropy, Adam (lr 1e-3),
-- minibatches of 128, float32, 10 epochs. Prints each epoch's time and test accuracy.
-- Run: build/luagrad examples/fashion_mnist.lua [epochs]   (1.5 to 3 s an epoch, and 2 s to read)
-- bench/fashion_mnist.py times PyTorch on the same model, batch size and dtype.
local lg = require("luagrad")
local nn, optim = lg.nn, lg.optim

local root = os.getenv("FASHION_MNIST") or "/usr/share/datasets/fashion-mnist"
local epochs = tonumber(arg and arg[1]) or 10

local function load (part)
  local images = lg.data.read_idx(root .. "/" .. part .. "-images-idx3-ubyte.gz")
  local labels = lg.data.read_idx(root .. "/" .. part .. "-labels-idx1-ubyte.gz")
  local n = images.shape[1]
  return (images:view(n, 784) / 255):to("float32"), labels + 1   -- classes 1..10
end
local Xtrain, Ytrain = load("train")
local Xtest, Ytest = load("t10k")

lg.manual_seed(0)
local model = nn.MLP(784, {256, 10}, {dtype = "float32"})   -- PyTorch's init, seeded
local opt = optim.Adam(model:parameters(), {lr = 1e-3})

local function accuracy (Xs, Ys)
  local guess = lg.no_grad(function () return model(Xs):argmax(2) end):view(-1)
  return guess:eq(Ys):sum().data / Ys.shape[1]
end

local clock = os.clock
for epoch = 1, epochs do
  local t0, sum, count = clock(), 0, 0
  model:train()
  for xb, yb in lg.data.batches(Xtrain, Ytrain, {batch_size = 128}) do
    opt:zero_grad()
    local loss = nn.cross_entropy(model(xb), yb)
    loss:backward()
    opt:step()
    sum, count = sum + loss.data * xb.shape[1], count + xb.shape[1]
  end
  local seconds = clock() - t0
  model:eval()
  print(string.format("epoch %d  loss %.4f  test accuracy %.2f%%  %.2f s (CPU)", epoch,
                      sum / count, 100 * accuracy(Xtest, Ytest), seconds))
end
