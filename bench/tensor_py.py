# bench/tensor_py.py: PyTorch's and NumPy's side of the tensor benchmark (bench/tensor_bench.lua
# runs it once per round, under Debian's /usr/bin/python3). Usage:
#   tensor_py.py torch|numpy MODE [memsteps]
# PyTorch runs eager with autograd, one thread; NumPy runs the same steps with the backward
# written by hand. The data, sizes and rates are bench/tensor_common.lua's, written again here.
# Prints what bench/tensor_lg.lua prints.
import sys, time

impl, mode = sys.argv[1], sys.argv[2]
memsteps = int(sys.argv[3]) if len(sys.argv) > 3 else None
import numpy as np
if impl == "torch":
    import torch
    torch.set_num_threads(1)

SIZES = {
    "full": dict(t1n=569, t1d=30, t1reps=2000, t2b=128, t2in=784, t2h=256, t2out=10,
                 t2reps=100, t3n=1000000, t3reps=10, t4n=1024, t4reps=5, t5ops=200000),
    "smoke": dict(t1n=23, t1d=5, t1reps=3, t2b=4, t2in=12, t2h=8, t2out=3,
                  t2reps=3, t3n=1000, t3reps=3, t4n=33, t4reps=2, t5ops=10),
}
S = SIZES[mode]
T1LR, T2LR = 0.1, 0.01
NAMES = ["T1", "T2f64", "T2f32", "T3", "T4", "T5"]

def val(rows, cols, seed, scale, dtype=np.float64):
    i = np.arange(rows * cols, dtype=np.int64)
    a = (((i * 7919 + seed * 104729) % 1009) / 1009 - 0.5) * scale
    a = a.reshape(rows, cols).astype(dtype)
    return torch.from_numpy(a) if impl == "torch" else a

def clock(f, reps):
    f()
    t0 = time.process_time()
    for _ in range(reps):
        f()
    return (time.process_time() - t0) / reps

def check(name, x):
    print("check %s %.17g" % (name, float(x)))

def t1():
    n, d = S["t1n"], S["t1d"]
    X = val(n, d, 1, 1)
    lab = np.array([[1.0 if (i * 31) % 7 < 3 else 0.0] for i in range(n)])
    if impl == "torch":
        Y = torch.from_numpy(lab)
        w = val(d, 1, 2, 0.1).requires_grad_()
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        def step():
            z = X @ w + b
            loss = (torch.nn.functional.softplus(z) - Y * z).mean()
            w.grad = b.grad = None
            loss.backward()
            with torch.no_grad():
                w.sub_(w.grad, alpha=T1LR)
                b.sub_(b.grad, alpha=T1LR)
            return loss
    else:
        Y = lab
        w = val(d, 1, 2, 0.1)
        b = np.zeros(1)
        def step():
            z = X @ w + b
            loss = (np.logaddexp(0, z) - Y * z).mean()
            dz = (1 / (1 + np.exp(-z)) - Y) / n   # d loss / dz
            w[...] -= T1LR * (X.T @ dz)
            b[...] -= T1LR * dz.sum()
            return loss
    for _ in range(2):
        step()
    check("T1", step())
    return clock(step, S["t1reps"])

def t2(dtype):
    B, NIN, NH, NOUT = S["t2b"], S["t2in"], S["t2h"], S["t2out"]
    X, Y = val(B, NIN, 3, 1, dtype), val(B, NOUT, 4, 1, dtype)
    W1, W2 = val(NIN, NH, 5, 0.1, dtype), val(NH, NOUT, 6, 0.1, dtype)
    if impl == "torch":
        td = torch.float64 if dtype == np.float64 else torch.float32
        b1 = torch.zeros(NH, dtype=td)
        b2 = torch.zeros(NOUT, dtype=td)
        params = [p.requires_grad_() for p in (W1, b1, W2, b2)]
        def step():
            h = torch.relu(X @ W1 + b1)
            loss = ((h @ W2 + b2 - Y) ** 2).mean()
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.sub_(p.grad, alpha=T2LR)
            return loss
    else:
        b1, b2 = np.zeros(NH, dtype), np.zeros(NOUT, dtype)
        lr = dtype(T2LR)
        def step():
            z1 = X @ W1 + b1
            h = np.maximum(z1, 0)
            e = h @ W2 + b2 - Y
            loss = (e * e).mean()
            dout = e * dtype(2 / e.size)
            dh = (dout @ W2.T) * (z1 > 0)
            W2[...] -= lr * (h.T @ dout)
            b2[...] -= lr * dout.sum(0)
            W1[...] -= lr * (X.T @ dh)
            b1[...] -= lr * dh.sum(0)
            return loss
    return step

def t3():
    n = S["t3n"]
    a, b, c = (val(1, n, s, 2).reshape(n) for s in (11, 12, 13))
    out = {}
    if impl == "torch":
        for x in (a, b, c):
            x.requires_grad_()
        def step():
            s = torch.tanh(a * b + c).sum()
            a.grad = b.grad = c.grad = None
            s.backward()
            out["s"] = s
            out["g"] = (a.grad.sum() + 2 * b.grad.sum() + 3 * c.grad.sum())
    else:
        def step():
            y = np.tanh(a * b + c)
            s = y.sum()
            dz = 1 - y * y
            ga, gb = dz * b, dz * a
            out["s"] = s
            out["g"] = ga.sum() + 2 * gb.sum() + 3 * dz.sum()
    step()
    check("T3", out["s"])
    check("T3grad", out["g"])
    return clock(step, S["t3reps"])

def t4():
    n = S["t4n"]
    A, B = val(n, n, 21, 1), val(n, n, 22, 1)
    out = {}
    def step():
        out["P"] = A @ B
    t = clock(step, S["t4reps"])
    check("T4", out["P"].sum())
    return t

def t5():
    if impl == "torch":
        a, b = torch.tensor([1.5], dtype=torch.float64), torch.tensor([2.5], dtype=torch.float64)
    else:
        a, b = np.array([1.5]), np.array([2.5])
    k = S["t5ops"]
    out = {}
    def step():
        for _ in range(k):
            c = a + b
        out["c"] = c
    t = clock(step, 3)
    check("T5", out["c"][0])
    return t / k

def rss(which):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(which + ":"):
                return int(line.split()[1]) / 1024
    return 0

if memsteps is not None:
    step = t2(np.float64)
    for i in range(1, memsteps + 1):
        step()
        if i == memsteps // 10:
            print("rss early %.1f" % rss("VmRSS"))
    print("rss late %.1f" % rss("VmRSS"))
    print("rss peak %.1f" % rss("VmHWM"))
    sys.exit(0)

times = {"T1": t1()}
for dt, name in ((np.float64, "T2f64"), (np.float32, "T2f32")):
    step = t2(dt)
    for _ in range(2):
        step()
    check(name, step())
    times[name] = clock(step, S["t2reps"])
times["T3"] = t3()
times["T4"] = t4()
times["T5"] = t5()
for k in NAMES:
    print("time %s %.9g" % (k, times[k]))
