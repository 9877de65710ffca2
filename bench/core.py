"""Benchmarks of the tinytorch core against PyTorch (and raw numpy), in one process, on one thread.

Workloads:
  mlp       one epoch of an MLP 64-128-64-10 on scikit-learn's 8x8 digits (batch 32, Adam, cross-entropy)
  autograd  a chain of 1000 elementwise operations on small tensors, forward and backward
  matmul    a 1024x1024 float32 matrix product

Each workload runs ``--repeat`` rounds (ten times as many for the short autograd chain); a round
runs every contender once, back to back. Times are the best round; a ratio is the median over the
rounds of tinytorch's time over the other's, so that a change of machine load between rounds
cancels out. Prints times and ratios; never fails on time.
Run: .venv/bin/python bench/core.py [--repeat N] [--only mlp autograd matmul]
"""
import argparse
import platform
import time

import numpy as np

WORKLOADS = ("mlp", "autograd", "matmul")
TARGETS = {  # tinytorch time / reference time, at most
    "mlp": ("PyTorch", 0.5),
    "autograd": ("PyTorch", 0.5),
    "matmul": ("numpy", 1.1),
}


# ----- MLP epoch ------------------------------------------------------------------------------
def digits_batches(batch_size=32):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return [(x[i:i + batch_size], y[i:i + batch_size].astype(np.int64)) for i in range(0, len(x), batch_size)]


def mlp_epoch_tinytorch(batches, init):
    from tinytorch import Tensor
    from tinytorch.nn import CrossEntropyLoss, Linear, ReLU, Sequential
    from tinytorch.optim import Adam

    model = Sequential(Linear(64, 128), ReLU(), Linear(128, 64), ReLU(), Linear(64, 10))
    for p, value in zip(model.parameters(), init):
        p.data[...] = value
    loss_fn, opt = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for xb, yb in batches:
        loss = loss_fn(model(Tensor(xb)), Tensor(yb, dtype=np.int64))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


def mlp_epoch_torch(torch, batches, init):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    with torch.no_grad():
        for p, value in zip(model.parameters(), init):
            p.copy_(torch.from_numpy(value))
    loss_fn, opt = nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.from_numpy(xb), torch.from_numpy(yb)) for xb, yb in batches]
    start = time.perf_counter()
    for xb, yb in batches:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


def bench_mlp(torch, repeat):
    batches = digits_batches()
    rng = np.random.default_rng(0)
    shapes = [(128, 64), (128,), (64, 128), (64,), (10, 64), (10,)]
    init = [rng.uniform(-0.125, 0.125, shape).astype(np.float32) for shape in shapes]
    runs = {"tinytorch": [], "PyTorch": []}
    for _ in range(repeat):
        runs["tinytorch"].append(mlp_epoch_tinytorch(batches, init))
        runs["PyTorch"].append(mlp_epoch_torch(torch, batches, init))
    times = {name: [t for t, _ in r] for name, r in runs.items()}
    losses = {name: r[-1][1] for name, r in runs.items()}
    note = f"{len(batches)} batches; last loss tinytorch {losses['tinytorch']:.6f}, PyTorch {losses['PyTorch']:.6f}"
    return times, note


# ----- autograd overhead ------------------------------------------------------------------------
CHAIN_OPS, CHAIN_SIZE = 1000, 16


def chain(x, w, b):
    """``CHAIN_OPS`` elementwise operations: multiply and add with tensors, then with numbers."""
    y = x
    for _ in range(CHAIN_OPS // 4):
        y = (y * w + b) * 0.5 + 1.0
    return y.sum()


def chain_tinytorch():
    from tinytorch import Tensor

    x, w, b = (Tensor(np.full(CHAIN_SIZE, v), requires_grad=True) for v in (1.0, 0.999, 0.001))
    start = time.perf_counter()
    chain(x, w, b).backward()
    return time.perf_counter() - start


def chain_torch(torch):
    x, w, b = (torch.full((CHAIN_SIZE,), v, requires_grad=True) for v in (1.0, 0.999, 0.001))
    start = time.perf_counter()
    chain(x, w, b).backward()
    return time.perf_counter() - start


def bench_autograd(torch, repeat):
    repeat *= 10  # a chain takes milliseconds
    times = {"tinytorch": [], "PyTorch": []}
    for _ in range(repeat):
        times["tinytorch"].append(chain_tinytorch())
        times["PyTorch"].append(chain_torch(torch))
    per_op = ", ".join(f"{name} {min(t) / CHAIN_OPS * 1e6:.2f} us" for name, t in times.items())
    return times, f"{CHAIN_OPS} ops on {CHAIN_SIZE}-element tensors; per op (forward+backward): {per_op}"


# ----- matmul ----------------------------------------------------------------------------------
def bench_matmul(torch, repeat, n=1024):
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = Tensor(a), Tensor(b)
    pa, pb = torch.from_numpy(a), torch.from_numpy(b)

    def timed(fn):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    runs = {"tinytorch": lambda: ta @ tb, "numpy": lambda: a @ b, "PyTorch": lambda: pa @ pb}
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    gflops = 2 * n**3 / min(times["numpy"]) / 1e9
    return times, f"{n}x{n} float32; numpy {gflops:.1f} GFLOP/s"


BENCHES = {"mlp": bench_mlp, "autograd": bench_autograd, "matmul": bench_matmul}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--repeat", type=int, default=20, help="rounds per workload (default 20)")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="workloads to run")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, 1 thread")
        for name in args.only:
            times, note = BENCHES[name](torch, args.repeat)
            reference, target = TARGETS[name]
            print(f"\n{name}: {note}")
            for label, runs in times.items():
                print(f"  {label:10s} {min(runs) * 1e3:9.3f} ms")
            ratios = {label: float(np.median(np.array(times["tinytorch"]) / runs))
                      for label, runs in times.items() if label != "tinytorch"}
            for label, ratio in ratios.items():
                print(f"  tinytorch / {label}: {ratio:.2f}x")
            verdict = "met" if ratios[reference] <= target else "missed"
            print(f"  target: at most {target}x {reference} -> {ratios[reference]:.2f}x, {verdict}")

if __name__ == "__main__":
    main()
