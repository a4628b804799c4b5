"""bench/torch_bench.py: baseline (d), PyTorch in float64, scalar mode (one 0-d tensor per
value, as a Value is) and batched mode (W3 as matrices). The same LCG and numbers as
bench/common.lua; prints RESULT lines for bench/run.lua. Run under /usr/bin/python3 with
Debian's python3-torch; bench/run.lua skips it when `import torch` fails.
    torch_bench.py W1_REPS W2_SIZES(comma-separated) W3_SCALAR_STEPS W3_BATCHED_STEPS
"""
import math
import sys
import time

import torch

torch.set_num_threads(1)
F64 = torch.float64
MASK = (1 << 64) - 1
W2_LEAVES = 100
SIZES = [2, 16, 16, 1]
ALPHA = 1e-4


class LCG:
    def __init__(self, seed):
        self.s = seed

    def uniform(self):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.s >> 11) * 2.0 ** -53

    def int(self, m):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & MASK
        return (self.s >> 33) % m


def result(impl, wl, n, fields, check):
    kv = " ".join(f"{k}={v:.6g}" for k, v in fields)
    chk = ",".join(repr(float(x)) for x in check)
    print(f"RESULT impl={impl} gc=- wl={wl} n={n} {kv} check={chk}", flush=True)


def leaf(x):
    return torch.tensor(float(x), dtype=F64, requires_grad=True)


def w1(reps):
    t0 = time.process_time()
    for _ in range(reps):
        a, b, c = leaf(5), leaf(3), leaf(2)
        J = 3 * (a + b * c)
    tf = time.process_time() - t0
    t0 = time.process_time()
    for _ in range(reps):
        a, b, c = leaf(5), leaf(3), leaf(2)
        J = 3 * (a + b * c)
        J.backward()
    tt = time.process_time() - t0
    result("torch-scalar", "w1", reps, [("fwd_us", tf / reps * 1e6), ("total_us", tt / reps * 1e6)],
           [J.item(), a.grad.item(), b.grad.item(), c.grad.item()])


def w2(nops):
    G = LCG(42)
    L = W2_LEAVES
    ncells = (nops + 5) // 6
    leafx = [G.uniform() * 2 - 1 for _ in range(L)]
    A, B, C = [0], [0], [0]
    for k in range(1, ncells + 1):
        avail = L + k - 1
        A.append(avail)
        B.append(1 + G.int(avail))
        C.append(1 + G.int(avail))
    used = set(B[1:]) | set(C[1:]) | {L}
    nleaves = sum(1 for i in range(1, L + 1) if i in used)
    leaves = [leaf(x) for x in leafx]
    outs = [None] + leaves
    t0 = time.process_time()
    for k in range(1, ncells + 1):
        a, b, c = outs[A[k]], outs[B[k]], outs[C[k]]
        u = a * b
        w = u - c
        e = torch.exp(w)
        q = w / e
        s = q + a
        outs.append(torch.tanh(s))
    tf = time.process_time() - t0
    J = outs[-1]
    t0 = time.process_time()
    J.backward()
    tb = time.process_time() - t0
    n = 6 * ncells
    result("torch-scalar", "w2", nops, [("ops", n), ("fwd_ns", tf / n * 1e9),
                                        ("bwd_ns", tb / (n + nleaves) * 1e9)],
           [J.item()] + [(x.grad.item() if x.grad is not None else 0.0) for x in leaves])


def moons(G):
    X, Y = [], []
    for i in range(50):
        t = math.pi * i / 49
        X.append([math.cos(t) + 0.1 * (G.uniform() * 2 - 1),
                  math.sin(t) + 0.1 * (G.uniform() * 2 - 1)])
        Y.append(-1.0)
    for i in range(50):
        t = math.pi * i / 49
        X.append([1 - math.cos(t) + 0.1 * (G.uniform() * 2 - 1),
                  0.5 - math.sin(t) + 0.1 * (G.uniform() * 2 - 1)])
        Y.append(1.0)
    return X, Y


def init(G):
    layers = []
    for l in range(len(SIZES) - 1):
        layers.append([([G.uniform() * 2 - 1 for _ in range(SIZES[l])], 0.0)
                       for _ in range(SIZES[l + 1])])
    return layers


def w3scalar(steps):
    G = LCG(42)
    X, Y = moons(G)
    model = [[([leaf(x) for x in w], leaf(b)) for w, b in layer] for layer in init(G)]
    params = [p for layer in model for w, b in layer for p in w + [b]]

    def score(x):
        h = x
        for l, layer in enumerate(model):
            o = []
            for w, b in layer:
                act = b
                for wi, hi in zip(w, h):
                    act = act + wi * hi
                o.append(torch.relu(act) if l < len(model) - 1 else act)
            h = o
        return h[0]

    check, last = [], None
    t0 = time.process_time()
    for k in range(steps):
        data, reg = 0, 0
        for x, y in zip(X, Y):
            data = data + torch.relu(1 - y * score(x))
        for p in params:
            reg = reg + p * p
        J = data / len(X) + reg * ALPHA
        for p in params:
            p.grad = None
        J.backward()
        with torch.no_grad():
            lr = 1.0 - 0.9 * k / 100
            for p in params:
                p -= lr * p.grad
        if k == 0:
            check = [J.item()] + [p.grad.item() for p in params]
        last = J.item()
    t = time.process_time() - t0
    result("torch-scalar", "w3bin", steps, [("steps", steps), ("ms", t / steps * 1e3)],
           check + [last])


def w3batched(steps):
    G = LCG(42)
    X, Y = moons(G)
    Xt, Yt = torch.tensor(X, dtype=F64), torch.tensor(Y, dtype=F64)
    Ws, bs = [], []
    for layer in init(G):
        Ws.append(torch.tensor([w for w, _ in layer], dtype=F64, requires_grad=True))
        bs.append(torch.tensor([b for _, b in layer], dtype=F64, requires_grad=True))

    def flatgrad():
        out = []
        for W, b in zip(Ws, bs):
            for j in range(W.shape[0]):
                out += W.grad[j].tolist() + [b.grad[j].item()]
        return out

    check, last = [], None
    t0 = time.process_time()
    for k in range(steps):
        h = Xt
        for l, (W, b) in enumerate(zip(Ws, bs)):
            h = h @ W.T + b
            if l < len(Ws) - 1:
                h = torch.relu(h)
        data = torch.relu(1 - Yt * h[:, 0]).sum()
        reg = sum((p * p).sum() for p in Ws + bs)
        J = data / len(X) + reg * ALPHA
        for p in Ws + bs:
            p.grad = None
        J.backward()
        with torch.no_grad():
            lr = 1.0 - 0.9 * k / 100
            for p in Ws + bs:
                p -= lr * p.grad
        if k == 0:
            check = [J.item()] + flatgrad()
        last = J.item()
    t = time.process_time() - t0
    for wl in ("w3bin", "w3dot"):   # one batched program serves both columns
        result("torch-batched", wl, steps, [("steps", steps), ("ms", t / steps * 1e3)],
               check + [last])


def main():
    w1(int(sys.argv[1]))
    for n in sys.argv[2].split(","):
        if n:
            w2(int(n))
    w3scalar(int(sys.argv[3]))
    w3batched(int(sys.argv[4]))


if __name__ == "__main__":
    main()
