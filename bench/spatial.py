"""Benchmarks of tinytorch's spatial layers against PyTorch, in one process, on one thread.

Workloads:
  conv     Conv2d forward+backward: input (32, 3, 32, 32), 16 output channels, 3x3, padding 1
  pool     MaxPool2d(2) forward+backward: input (32, 16, 32, 32)
  epoch    one training epoch of Milestone 04's CNN on Fashion-MNIST (60,000 images, batch 64, Adam)

numpy's BLAS is limited to one thread with threadpoolctl and PyTorch with torch.set_num_threads(1);
the runs of the two frameworks are interleaved so both see the same machine load, and each
figure is the best of --repeat runs (the epoch runs once by default). Prints times and ratios
(tinytorch time / PyTorch time); never fails on time. Without the Fashion-MNIST files the epoch
runs on random images of the same shape.
Run: .venv/bin/python bench/spatial.py [--repeat N] [--only conv pool epoch] [--epoch-images N]
"""
import argparse
import platform
import time

import numpy as np

WORKLOADS = ("conv", "pool", "epoch")
TARGETS = {"conv": 2.5}  # tinytorch time / PyTorch time, at most


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(repeat, runs):
    """Best time of each of ``runs`` (name -> function), the runs taking turns."""
    times = {name: [] for name in runs}
    for fn in runs.values():  # warm up
        fn()
    for _ in range(repeat):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return {name: min(t) for name, t in times.items()}


def _forward_backward(framework_ones):
    def run(layer, x):
        out = layer(x)
        out.backward(framework_ones(out))
    return run


def bench_conv(torch, repeat):
    from tinytorch import Tensor
    from tinytorch.nn import Conv2d

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 32, 32), dtype=np.float32)
    ours = Conv2d(3, 16, 3, padding=1)
    theirs = torch.nn.Conv2d(3, 16, 3, padding=1)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_step = _forward_backward(lambda out: np.ones(out.shape, np.float32))
    theirs_step = _forward_backward(torch.ones_like)
    times = interleaved(repeat, {"tinytorch": lambda: ours_step(ours, tx), "PyTorch": lambda: theirs_step(theirs, px)})
    flops = 3 * 2 * 32 * 16 * 32 * 32 * 27  # forward, input gradient, weight gradient
    return times, f"(32, 3, 32, 32) -> 16 channels, 3x3, padding 1; tinytorch {flops / times['tinytorch'] / 1e9:.1f} GFLOP/s"


def bench_pool(torch, repeat):
    from tinytorch import Tensor
    from tinytorch.nn import MaxPool2d

    x = np.random.default_rng(0).standard_normal((32, 16, 32, 32), dtype=np.float32)
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_step = _forward_backward(lambda out: np.ones(out.shape, np.float32))
    theirs_step = _forward_backward(torch.ones_like)
    ours, theirs = MaxPool2d(2), torch.nn.MaxPool2d(2)
    times = interleaved(repeat * 4, {"tinytorch": lambda: ours_step(ours, tx), "PyTorch": lambda: theirs_step(theirs, px)})
    return times, "MaxPool2d(2) on (32, 16, 32, 32)"


def milestone_cnn(nn):
    """The Fashion-MNIST network of Milestone 04, built from ``nn`` (tinytorch.nn or torch.nn)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def fashion_images(limit):
    from tinytorch.datasets import load_fashion_mnist

    try:
        data = load_fashion_mnist(download=False)
        x, y, source = data.x_train, data.y_train, "Fashion-MNIST"
    except (FileNotFoundError, OSError, RuntimeError):
        rng = np.random.default_rng(0)
        x, y, source = rng.random((60_000, 28, 28), dtype=np.float32), rng.integers(0, 10, 60_000), "random images"
    return x[:limit, None], y[:limit], source


def epoch_tinytorch(x, y, order, init, batch_size):
    import tinytorch.nn as nn
    from tinytorch.data import DataLoader, TensorDataset
    from tinytorch.optim import Adam

    model = milestone_cnn(nn)
    for p, value in zip(model.parameters(), init):
        p.data[...] = value
    loss_fn, opt = nn.CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x[order], y[order]), batch_size=batch_size)
    start = time.perf_counter()
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


def epoch_torch(torch, x, y, order, init, batch_size):
    model = milestone_cnn(torch.nn)
    with torch.no_grad():
        for p, value in zip(model.parameters(), init):
            p.copy_(torch.from_numpy(value))
    loss_fn, opt = torch.nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x[order]), torch.from_numpy(y[order])), batch_size=batch_size)
    start = time.perf_counter()
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start, loss.item()


def bench_epoch(torch, repeat, images, batch_size=64):
    import tinytorch.nn as nn

    x, y, source = fashion_images(images)
    init = [p.data.copy() for p in milestone_cnn(nn).parameters()]
    order = np.random.default_rng(0).permutation(len(x))
    runs = {"tinytorch": [], "PyTorch": []}
    for _ in range(repeat):
        runs["tinytorch"].append(epoch_tinytorch(x, y, order, init, batch_size))
        runs["PyTorch"].append(epoch_torch(torch, x, y, order, init, batch_size))
    times = {name: min(t for t, _ in r) for name, r in runs.items()}
    losses = {name: r[-1][1] for name, r in runs.items()}
    note = (f"{len(x):,} {source} images, batch {batch_size}, same weights and batches; "
            f"last loss tinytorch {losses['tinytorch']:.4f}, PyTorch {losses['PyTorch']:.4f}")
    return times, note


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--repeat", type=int, default=10, help="runs of conv and pool; the best is reported (default 10)")
    parser.add_argument("--epoch-repeat", type=int, default=1, help="runs of the training epoch (default 1)")
    parser.add_argument("--epoch-images", type=int, default=60_000, help="training images in the epoch (default 60000)")
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS), help="workloads to run")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    import tinytorch

    tinytorch.manual_seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    benches = {
        "conv": lambda: bench_conv(torch, args.repeat),
        "pool": lambda: bench_pool(torch, args.repeat),
        "epoch": lambda: bench_epoch(torch, args.epoch_repeat, args.epoch_images),
    }
    with threadpool_limits(limits=1):
        print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, 1 thread")
        for name in args.only:
            times, note = benches[name]()
            print(f"\n{name}: {note}")
            for label, seconds in times.items():
                print(f"  {label:10s} {seconds * 1e3:11.3f} ms")
            ratio = times["tinytorch"] / times["PyTorch"]
            line = f"  tinytorch / PyTorch: {ratio:.2f}x"
            if name in TARGETS:
                line += f" (target: at most {TARGETS[name]}x, {'met' if ratio <= TARGETS[name] else 'missed'})"
            print(line)


if __name__ == "__main__":
    main()
