# PyTorch's epoch on the model of examples/fashion_mnist.lua: 784 -> 256 ReLU -> 10,
# cross-entropy, Adam (lr 1e-3), minibatches of 128 shuffled each epoch, float32, one
# thread. Prints the same lines as the example, so the two epoch times sit side by side.
# Run: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/fashion_mnist.py [epochs]
import gzip, os, sys, time
import numpy as np
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
root = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5

def load(part):
    with gzip.open("%s/%s-images-idx3-ubyte.gz" % (root, part)) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open("%s/%s-labels-idx1-ubyte.gz" % (root, part)) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(images, dtype=torch.float32) / 255, torch.tensor(labels, dtype=torch.long)

Xtrain, Ytrain = load("train")
Xtest, Ytest = load("t10k")
model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()

for epoch in range(1, epochs + 1):
    t0, total, count = time.process_time(), 0.0, 0
    model.train()
    order = torch.randperm(len(Ytrain))
    for first in range(0, len(Ytrain), 128):
        idx = order[first:first + 128]
        xb, yb = Xtrain[idx], Ytrain[idx]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        count += len(idx)
    seconds = time.process_time() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(Xtest).argmax(1) == Ytest).float().mean().item()
    print("epoch %d  loss %.4f  test accuracy %.2f%%  %.2f s (CPU)" % (epoch, total / count,
                                                                     100 * acc, seconds))
