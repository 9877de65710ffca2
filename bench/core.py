"""Benchmarks of the tinytorch core against PyTorch (and raw numpy), in one process, on one thread.

Workloads:
  mlp       one epoch of an MLP 64-128-64-10 on scikit-learn's 8x8 digits (batch 32, Adam, cross-entropy)
  autograd  a chain of 1000 elementwise operations on small tensors, forward and backward
  matmul    a 1024x1024 float32 matrix product

Each workload runs --repeat rounds (ten times as many for the short autograd chain); in a round
every contender runs once. Times are the best round; a ratio is the median over the rounds of
tinytorch's time over the other's. Prints times and ratios; never fails on time.
Run: .venv/bin/python bench/core.py [--repeat N] [--only mlp autograd matmul]
"""
import numpy as np

from common import adam_epoch, in_turns, one_thread, parser, report

WORKLOADS = ("mlp", "autograd", "matmul")
TARGETS = {"mlp": ("PyTorch", 0.5), "autograd": ("PyTorch", 0.5), "matmul": ("numpy", 1.1)}


def mlp(nn):
    """The benchmark MLP, built from ``nn`` (tinytorch.nn or torch.nn)."""
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def bench_mlp(torch, repeat):
    import tinytorch
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int64)
    ours_batches = [(tinytorch.Tensor(x[i:i + 32]), tinytorch.Tensor(y[i:i + 32], dtype=np.int64))
                    for i in range(0, len(x), 32)]
    theirs_batches = [(torch.from_numpy(x[i:i + 32]), torch.from_numpy(y[i:i + 32])) for i in range(0, len(x), 32)]
    init = [p.data.copy() for p in mlp(tinytorch.nn).parameters()]
    losses = {}

    def epoch(framework, batches):
        seconds, losses[framework.__name__] = adam_epoch(framework, mlp(framework.nn), init, batches)
        return seconds

    times = in_turns(repeat, {"tinytorch": lambda: epoch(tinytorch, ours_batches),
                              "PyTorch": lambda: epoch(torch, theirs_batches)})
    note = (f"{len(ours_batches)} batches, same weights; last loss tinytorch {losses['tinytorch']:.6f}, "
            f"PyTorch {losses['torch']:.6f}")
    return times, note


CHAIN_OPS, CHAIN_SIZE = 1000, 16


def chain(x, w, b):
    """``CHAIN_OPS`` elementwise operations, forward and backward: with tensors, then with numbers."""
    y = x
    for _ in range(CHAIN_OPS // 4):
        y = (y * w + b) * 0.5 + 1.0
    y.sum().backward()


def bench_autograd(torch, repeat):
    from tinytorch import Tensor

    def leaves(make):
        return [make(v) for v in (1.0, 0.999, 0.001)]

    times = in_turns(repeat * 10, {
        "tinytorch": lambda: chain(*leaves(lambda v: Tensor(np.full(CHAIN_SIZE, v), requires_grad=True))),
        "PyTorch": lambda: chain(*leaves(lambda v: torch.full((CHAIN_SIZE,), v, requires_grad=True))),
    })
    per_op = ", ".join(f"{name} {min(t) / CHAIN_OPS * 1e6:.2f} us" for name, t in times.items())
    return times, f"{CHAIN_OPS} ops on {CHAIN_SIZE}-element tensors; per op (forward+backward): {per_op}"


def bench_matmul(torch, repeat, n=1024):
    from tinytorch import Tensor

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = Tensor(a), Tensor(b)
    pa, pb = torch.from_numpy(a), torch.from_numpy(b)
    times = in_turns(repeat, {"tinytorch": lambda: ta @ tb, "numpy": lambda: a @ b, "PyTorch": lambda: pa @ pb})
    gflops = 2 * n**3 / min(times["numpy"]) / 1e9
    return times, f"{n}x{n} float32; numpy {gflops:.1f} GFLOP/s"


BENCHES = {"mlp": bench_mlp, "autograd": bench_autograd, "matmul": bench_matmul}


def main(argv=None):
    p = parser(__doc__, WORKLOADS)
    p.add_argument("--repeat", type=int, default=20, help="rounds per workload (default 20)")
    args = p.parse_args(argv)
    with one_thread() as torch:
        for name in args.only:
            times, note = BENCHES[name](torch, args.repeat)
            report(name, note, times, TARGETS[name])


if __name__ == "__main__":
    main()
