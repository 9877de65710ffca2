"""Inference speed of compressed models (Modules 17 and 18) on Fashion-MNIST-sized inputs.

Workloads:
  shrink  Milestone 04's CNN against the same network with half its channels and hidden units
          removed by tinytorch.nn.utils.prune.shrink, 1,000 images. Target: at least 1.5x faster.
  int8    Milestone 03's MLP on 1,000 images: tinytorch float32 and INT8 (tinytorch.quantization),
          PyTorch float32 and PyTorch's dynamic INT8 (quantize_dynamic, FBGEMM kernels), on the same
          weights. No target: numpy has no int8 matrix product, so tinytorch's INT8 is exact but
          slower than its float32; PyTorch's shows what integer kernels give on this processor.

numpy's BLAS and PyTorch run on one thread; the contenders take turns (interleaved rounds of the
benchmark harness); a ratio is the median over the rounds, with its 95% bootstrap interval.
Prints; never fails on time.
Run: .venv/bin/python bench/compression.py [--repeat N] [--only shrink int8]
"""
import warnings

import numpy as np

from common import in_turns, one_thread, parser
from tinytorch.perf import paired_ratio, percentile

WORKLOADS = ("shrink", "int8")
TARGET = 1.5  # dense time / shrunk time, at least


def _print(name, note, times, pairs):
    print(f"\n{name}: {note}")
    for label, runs in times.items():
        print(f"  {label:18s} median {percentile(runs, 50) * 1e3:9.2f} ms, best {min(runs) * 1e3:9.2f} ms")
    ratios = {}
    for slow, fast in pairs:
        ratios[slow, fast] = paired_ratio(times[slow], times[fast])
        ratio, low, high = ratios[slow, fast]
        print(f"  {slow} / {fast}: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}, {len(times[fast])} rounds)")
    return ratios


def bench_shrink(repeat):
    import tinytorch
    from tinytorch import Tensor, nn, no_grad
    from tinytorch.nn.utils import prune

    tinytorch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    half = prune.shrink(cnn, 0.5)
    x = Tensor(np.random.default_rng(0).random((1000, 1, 28, 28), dtype=np.float32))

    def run(model):
        def go():
            with no_grad():
                model(x)
        return go

    times = in_turns(repeat, {"dense": run(cnn), "half": run(half)})
    ratio = _print("shrink", "LeNet inference, 1,000 images, half the channels removed", times, [("dense", "half")])
    speedup = ratio["dense", "half"][0]
    print(f"  target: at least {TARGET}x faster -> {speedup:.2f}x, {'met' if speedup >= TARGET else 'missed'}")


def bench_int8(repeat):
    import torch

    import tinytorch
    from tinytorch import Tensor, nn, no_grad
    from tinytorch.quantization import quantize

    tinytorch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    x = np.random.default_rng(0).standard_normal((1000, 784)).astype(np.float32)
    int8 = quantize(mlp, [x[:256]])
    reference = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                    torch.nn.ReLU(), torch.nn.Linear(128, 10))
    reference.load_state_dict({k: torch.tensor(v) for k, v in mlp.state_dict().items()})
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "torch.quantize_per_tensor", UserWarning)
        torch_int8 = torch.ao.quantization.quantize_dynamic(reference.eval(), {torch.nn.Linear}, dtype=torch.qint8)
    xt, tx = Tensor(x), torch.tensor(x)

    def ours(model):
        def go():
            with no_grad():
                model(xt)
        return go

    def theirs(model):
        def go():
            with torch.no_grad():
                model(tx)
        return go

    times = in_turns(repeat, {"tinytorch float32": ours(mlp), "tinytorch INT8": ours(int8),
                              "PyTorch float32": theirs(reference), "PyTorch INT8": theirs(torch_int8)})
    _print("int8", "Milestone 03 MLP inference, 1,000 images", times,
           [("tinytorch INT8", "tinytorch float32"), ("PyTorch INT8", "PyTorch float32"),
            ("tinytorch INT8", "PyTorch INT8")])


def main(argv=None):
    p = parser(__doc__, WORKLOADS)
    p.add_argument("--repeat", type=int, default=10, help="rounds (default 10)")
    args = p.parse_args(argv)
    with one_thread():
        for name in args.only:
            {"shrink": bench_shrink, "int8": bench_int8}[name](args.repeat)


if __name__ == "__main__":
    main()
