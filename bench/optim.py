# bench/optim.py: torch.optim.Adam's step on one float64 parameter of n elements, one
# thread: the PyTorch peer of bench/optim.lua (which runs it). Prints ns per parameter.
import sys, time, torch
torch.set_num_threads(1)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
i = torch.arange(n, dtype=torch.float64)
p = ((i % 1000) / 1000 - 0.5).requires_grad_()
p.grad = ((i * 7) % 1000) / 500 - 1
opt = torch.optim.Adam([p], lr=1e-3)
opt.step()   # warm up (the state is made)
t0 = time.process_time()
for _ in range(steps):
    opt.step()
t = time.process_time() - t0
print("torch    %8.3f ns/param  (n %d, %d steps, torch %s, foreach=False)" %
      (t * 1e9 / steps / n, n, steps, torch.__version__))
