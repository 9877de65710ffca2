"""Benchmarks of tinytorch's spatial layers against PyTorch, in one process, on one thread.

Workloads:
  conv     Conv2d forward+backward: input (32, 3, 32, 32), 16 output channels, 3x3, padding 1
  pool     MaxPool2d(2) forward+backward: input (32, 16, 32, 32)
  epoch    one training epoch of Milestone 04's CNN on Fashion-MNIST (60,000 images, batch 64, Adam)

numpy's BLAS is limited to one thread with threadpoolctl and PyTorch with torch.set_num_threads(1);
the runs of the two frameworks take turns so both see the same machine load; times are the best
of --repeat rounds (the epoch runs once by default), ratios the median of the rounds' ratios.
Prints times and ratios (tinytorch time / PyTorch time); never fails on time. Without the
Fashion-MNIST files the epoch runs on random images of the same shape.
Run: .venv/bin/python bench/spatial.py [--repeat N] [--only conv pool epoch] [--epoch-images N]
"""
import numpy as np

from common import adam_epoch, in_turns, run

TARGETS = {"conv": ("PyTorch", 2.5)}  # tinytorch time / PyTorch time, at most


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
    times = in_turns(repeat, {"tinytorch": lambda: ours_step(ours, tx), "PyTorch": lambda: theirs_step(theirs, px)})
    flops = 3 * 2 * 32 * 16 * 32 * 32 * 27  # forward, input gradient, weight gradient
    return times, f"(32, 3, 32, 32) -> 16 channels, 3x3, padding 1; tinytorch {flops / min(times['tinytorch']) / 1e9:.1f} GFLOP/s"


def bench_pool(torch, repeat):
    from tinytorch import Tensor
    from tinytorch.nn import MaxPool2d

    x = np.random.default_rng(0).standard_normal((32, 16, 32, 32), dtype=np.float32)
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours_step = _forward_backward(lambda out: np.ones(out.shape, np.float32))
    theirs_step = _forward_backward(torch.ones_like)
    ours, theirs = MaxPool2d(2), torch.nn.MaxPool2d(2)
    times = in_turns(repeat * 4, {"tinytorch": lambda: ours_step(ours, tx), "PyTorch": lambda: theirs_step(theirs, px)})
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


def bench_epoch(torch, repeat, images, batch_size=64, models=None):
    """One training epoch of each of ``models`` (label -> (framework, build)), by default tinytorch's
    and PyTorch's CNN, from the same weights on the same batches."""
    import tinytorch
    from tinytorch.data import DataLoader, TensorDataset

    models = models or {"tinytorch": (tinytorch, lambda: milestone_cnn(tinytorch.nn)),
                        "PyTorch": (torch, lambda: milestone_cnn(torch.nn))}
    x, y, source = fashion_images(images)
    init = [p.data.copy() for p in milestone_cnn(tinytorch.nn).parameters()]
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    loaders = {tinytorch: DataLoader(TensorDataset(x, y), batch_size=batch_size),
               torch: torch.utils.data.DataLoader(
                   torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch_size)}
    losses = {}

    def epoch(label, framework, build):
        seconds, losses[label] = adam_epoch(framework, build(), init, loaders[framework])
        return seconds

    runs = {label: (lambda label=label, spec=spec: epoch(label, *spec)) for label, spec in models.items()}
    times = in_turns(repeat, runs, warmup=False)
    note = (f"{len(x):,} {source} images, batch {batch_size}, same weights and batches; last loss "
            + ", ".join(f"{label} {loss:.4f}" for label, loss in losses.items()))
    return times, note


WORKLOADS = {
    "conv": lambda torch, args: bench_conv(torch, args.repeat),
    "pool": lambda torch, args: bench_pool(torch, args.repeat),
    "epoch": lambda torch, args: bench_epoch(torch, args.epoch_repeat, args.epoch_images),
}


def main(argv=None):
    run(__doc__, WORKLOADS, TARGETS, {
        "--repeat": dict(type=int, default=10, help="rounds of conv and pool (default 10)"),
        "--epoch-repeat": dict(type=int, default=1, help="rounds of the training epoch (default 1)"),
        "--epoch-images": dict(type=int, default=60_000, help="training images in the epoch (default 60000)"),
    }, argv)


if __name__ == "__main__":
    main()
