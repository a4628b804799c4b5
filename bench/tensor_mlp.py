# bench/tensor_mlp.py: the PyTorch side of bench/tensor_mlp.lua (same model, batch, step).
import sys, time
import torch
torch.set_num_threads(1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
B, NIN, NH, NOUT = 128, 784, 128, 10
torch.manual_seed(1)
X = torch.rand(B, NIN, dtype=torch.float64)
Y = torch.rand(B, NOUT, dtype=torch.float64)
W1 = (torch.rand(NIN, NH, dtype=torch.float64) * 0.1).requires_grad_()
b1 = torch.zeros(NH, dtype=torch.float64, requires_grad=True)
W2 = (torch.rand(NH, NOUT, dtype=torch.float64) * 0.1).requires_grad_()
b2 = torch.zeros(NOUT, dtype=torch.float64, requires_grad=True)
def step():
    h = torch.relu(X @ W1 + b1)
    out = h @ W2 + b2
    loss = ((out - Y) ** 2).mean()
    for p in (W1, b1, W2, b2):
        p.grad = None
    loss.backward()
    return loss
for _ in range(5):
    step()
t0 = time.process_time()
for _ in range(steps):
    loss = step()
ms = (time.process_time() - t0) * 1000 / steps
print("torch    %8.3f ms/step  (batch %d, %d-%d-%d, float64, torch %s)" % (ms, B, NIN, NH, NOUT, torch.__version__))
