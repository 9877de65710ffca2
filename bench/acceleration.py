"""Module 16's accelerated layers (``tinytorch.perf.accelerate``) against the plain ones and PyTorch,
in one process, on one thread unless said otherwise.

Workloads:
  block    TransformerBlock forward+backward (batch 16, sequence 32, width 64, 4 heads, feed-forward
           256, causal): accelerated, plain, and torch.nn.TransformerEncoderLayer on the same weights.
           Target: accelerated at most 1.0x PyTorch.
  step     one training step of Milestone 05's language model (forward, cross-entropy, backward,
           clipping, AdamW) accelerated, plain (the module-13 composition) and in PyTorch; the losses
           of 20 steps from the same weights are printed. Target: accelerated at least 1.5x faster
           than plain.
  epoch    one epoch of Milestone 04's CNN on Fashion-MNIST (batch 64, Adam), accelerated and in
           PyTorch. Target: at most 1.0x PyTorch.
  threads  the accelerated step with numpy's BLAS on 1 and on 2 threads.

Contenders take turns in interleaved rounds (the benchmark harness, ``tinytorch.perf``); a ratio is
the median of the rounds' ratios with its 95% bootstrap interval. Prints; never fails on time.
Run: .venv/bin/python bench/acceleration.py [--repeat N] [--only block step epoch threads] [--epoch-images N]
"""
import numpy as np

import spatial
from common import in_turns, report, run
from spatial import milestone_cnn
from tinytorch.perf import paired_ratio, percentile
from transformer import BATCH, MILESTONE, load_into, torch_gpt

STEPS = 20


def bench_block(torch, repeat):
    from tinytorch import Tensor
    from tinytorch.nn import TransformerBlock
    from tinytorch.perf import accelerate

    batch, seq, width = 16, 32, 64
    plain = TransformerBlock(width, 4, 4 * width)
    fused = accelerate(TransformerBlock(width, 4, 4 * width))
    fused.load_state_dict(plain.state_dict())
    theirs = load_into(torch, torch.nn.TransformerEncoderLayer(
        width, 4, 4 * width, 0.0, activation="gelu", batch_first=True, norm_first=True), plain.state_dict())
    x = np.random.default_rng(0).standard_normal((batch, seq, width), dtype=np.float32)
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    grad = np.ones((batch, seq, width), np.float32)
    pgrad = torch.from_numpy(grad)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(seq)
    runs = {"tinytorch": lambda: fused(tx, is_causal=True).backward(grad),
            "plain": lambda: plain(tx, is_causal=True).backward(grad),
            "PyTorch": lambda: theirs(px, src_mask=mask, is_causal=True).backward(pgrad)}
    return in_turns(repeat * 4, runs), f"accelerated; batch {batch}, sequence {seq}, width {width}, 4 heads, causal"


def _step(framework, model, x, y):
    """One Milestone 05 training step for ``model`` of ``framework``; returns a function giving the loss."""
    vocab = MILESTONE["vocab_size"]
    optimizer = framework.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    clip = framework.nn.utils.clip_grad_norm_
    if framework.__name__ == "torch":
        x, y = framework.from_numpy(x), framework.from_numpy(y)

    def step():
        loss = framework.nn.functional.cross_entropy(model(x).reshape(-1, vocab), y)
        optimizer.zero_grad()
        loss.backward()
        clip(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    return step


def _gpts(torch):
    import tinytorch
    from tinytorch.models import GPT
    from tinytorch.perf import accelerate

    tinytorch.manual_seed(0)
    plain = GPT(**MILESTONE)
    fused = accelerate(GPT(**MILESTONE))
    fused.load_state_dict(plain.state_dict())
    return plain, fused, load_into(torch, torch_gpt(torch, **MILESTONE), plain.state_dict())


def _batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, MILESTONE["vocab_size"], (BATCH, MILESTONE["context_length"])), \
        rng.integers(0, MILESTONE["vocab_size"], BATCH * MILESTONE["context_length"])


def bench_step(torch, repeat):
    import tinytorch

    plain, fused, theirs = _gpts(torch)
    x, y = _batch()
    steps = {"tinytorch": _step(tinytorch, fused, x, y), "plain": _step(tinytorch, plain, x, y),
             "PyTorch": _step(torch, theirs, x, y)}
    losses = {name: [step() for _ in range(STEPS)] for name, step in steps.items()}
    worst = max(abs(a - b) / abs(b) for a, b in zip(losses["tinytorch"], losses["plain"]))
    print(f"\nstep: losses over {STEPS} steps from the same weights, accelerated {losses['tinytorch'][-1]:.6f}, "
          f"plain {losses['plain'][-1]:.6f}, PyTorch {losses['PyTorch'][-1]:.6f}; "
          f"largest relative difference accelerated/plain {worst:.1e}")
    times = in_turns(repeat, steps)
    return times, f"accelerated; Milestone 05's model, {BATCH} sequences of {MILESTONE['context_length']} tokens"


def bench_epoch(torch, repeat, images):
    import tinytorch
    from tinytorch.perf import accelerate

    for framework, nn in ((torch, torch.nn), (tinytorch, tinytorch.nn)):  # first-call costs out of the timing
        model = milestone_cnn(nn)
        images_ = framework.zeros(64, 1, 28, 28, requires_grad=True)
        model(images_).sum().backward()
    times, note = spatial.bench_epoch(torch, repeat, images, models={
        "tinytorch": (tinytorch, lambda: accelerate(milestone_cnn(tinytorch.nn))),
        "plain": (tinytorch, lambda: milestone_cnn(tinytorch.nn)),
        "PyTorch": (torch, lambda: milestone_cnn(torch.nn))})
    return times, "accelerated; " + note


def bench_threads(torch, repeat):
    import tinytorch
    from threadpoolctl import threadpool_limits

    _, fused, _ = _gpts(torch)
    step = _step(tinytorch, fused, *_batch())

    def on(threads):
        def run():
            with threadpool_limits(limits=threads):
                step()
        return run

    times = in_turns(repeat, {"1 thread": on(1), "2 threads": on(2)})
    print("\nthreads: the accelerated Milestone 05 step, numpy's BLAS on 1 and 2 threads")
    for label, runs in times.items():
        print(f"  {label:10s} median {percentile(runs, 50) * 1e3:9.1f} ms, best {min(runs) * 1e3:9.1f} ms")
    ratio, low, high = paired_ratio(times["1 thread"], times["2 threads"])
    print(f"  1 thread / 2 threads: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}, {len(times['1 thread'])} rounds)")


def report_step(torch, args):
    """The step workload, reported with the speed-up of the accelerated step over the plain one."""
    times, note = bench_step(torch, args.repeat)
    report("step", note, times)
    ratio, low, high = paired_ratio(times["plain"], times["tinytorch"])
    print(f"  plain / accelerated: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}); target: at least 1.5x -> "
          f"{'met' if ratio >= 1.5 else 'missed'}")


WORKLOADS = {
    "block": lambda torch, args: bench_block(torch, args.repeat),
    "step": report_step,
    "epoch": lambda torch, args: bench_epoch(torch, 1, args.epoch_images),
    "threads": lambda torch, args: bench_threads(torch, args.repeat),  # prints its own report
}
TARGETS = {"block": ("PyTorch", 1.0), "epoch": ("PyTorch", 1.0)}


def main(argv=None):
    run(__doc__, WORKLOADS, TARGETS, {
        "--repeat": dict(type=int, default=5, help="rounds (default 5; the block runs 4x as many)"),
        "--epoch-images": dict(type=int, default=60_000, help="training images in the epoch (default 60000)"),
    }, argv)


if __name__ == "__main__":
    main()
