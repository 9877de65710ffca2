"""Module 16's accelerated layers (``tinytorch.perf.accelerate``) against the plain ones and PyTorch,
in one process, on one thread unless said otherwise.

Workloads:
  block    TransformerBlock forward+backward (batch 16, sequence 32, width 64, 4 heads, feed-forward
           256, causal): accelerated, plain, and torch.nn.TransformerEncoderLayer on the same weights.
           Target: accelerated at most 1.0x PyTorch.
  step     one training step of Milestone 05's language model (forward, cross-entropy, backward,
           clipping, AdamW) accelerated, plain (the module-13 composition) and in PyTorch; the losses
           of 20 steps from the same weights are printed. Then the same step in fresh processes, one
           per contender and round, plain or accelerated, with glibc's default malloc or after
           keep_freed_memory() (a setting for the whole process, so no contender may share one).
           Target: accelerated with keep_freed_memory() at least 1.5x faster than plain with the
           default.
  epoch    one epoch of Milestone 04's CNN on Fashion-MNIST (batch 64, Adam), accelerated and in
           PyTorch. Target: at most 1.0x PyTorch.
  threads  the accelerated step with numpy's BLAS on 1 and on 2 threads.

Contenders take turns in interleaved rounds (the benchmark harness, ``tinytorch.perf``, or a fresh
process per turn); a ratio is the median of the rounds' ratios with its 95% bootstrap interval. Prints; never fails on time.
Run: .venv/bin/python bench/acceleration.py [--repeat N] [--only block step epoch threads] [--epoch-images N]
"""
import subprocess
import sys
from pathlib import Path

import numpy as np

import spatial
from common import in_turns, report, run
from spatial import milestone_cnn
from tinytorch.perf import paired_ratio, percentile
from transformer import BATCH, MILESTONE, load_into, torch_gpt

STEPS = 20
SETTINGS = {  # contender in a process of its own -> (accelerate the model, keep_freed_memory())
    "plain, default malloc": (False, False),
    "plain, keep_freed_memory": (False, True),
    "accelerated, default malloc": (True, False),
    "accelerated, keep_freed_memory": (True, True),
}


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


def step_in_this_process(contender, steps):
    """Median seconds and minor page faults per step of ``steps`` Milestone 05 training steps
    (after 3 warm-up steps) of the ``contender`` of ``SETTINGS``, in this process: call it in a
    fresh one (``in_a_fresh_process``)."""
    import resource

    import tinytorch
    from threadpoolctl import threadpool_limits
    from tinytorch.models import GPT
    from tinytorch.perf import accelerate, keep_freed_memory, timed

    fused, keep = SETTINGS[contender]
    if keep and not keep_freed_memory():
        raise RuntimeError("keep_freed_memory() needs glibc")
    tinytorch.manual_seed(0)
    model = accelerate(GPT(**MILESTONE)) if fused else GPT(**MILESTONE)
    step = _step(tinytorch, model, *_batch())
    with threadpool_limits(limits=1):
        for _ in range(3):
            step()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        seconds = [timed(step) for _ in range(steps)]
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return float(np.median(seconds)), faults / steps


def in_a_fresh_process(contender, steps):
    """``step_in_this_process(contender, steps)`` in a new interpreter."""
    child = "import sys, acceleration; print(*acceleration.step_in_this_process(sys.argv[1], int(sys.argv[2])))"
    out = subprocess.run([sys.executable, "-c", child, contender, str(steps)], cwd=Path(__file__).parent,
                         capture_output=True, text=True, check=True)
    return tuple(map(float, out.stdout.split()))


def in_fresh_processes(repeat, steps=5):
    """Seconds and page faults per step of every contender of ``SETTINGS``, each round in a fresh
    interpreter per contender, in a random order within the round."""
    runs = {name: [] for name in SETTINGS}
    order = np.random.default_rng(0)
    for _ in range(repeat):
        for i in order.permutation(len(SETTINGS)):
            name = list(SETTINGS)[i]
            runs[name].append(in_a_fresh_process(name, steps))
    return runs


def report_step(torch, args):
    """The step workload in one process, then in fresh processes with the target's speed-up."""
    times, note = bench_step(torch, args.repeat)
    report("step", note, times)
    ratio, low, high = paired_ratio(times["plain"], times["tinytorch"])
    print(f"  plain / accelerated, in one process: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f})")
    runs = in_fresh_processes(args.repeat)
    print(f"\nstep in fresh processes (a process per contender and round, {args.repeat} rounds):")
    baseline = [seconds for seconds, _ in runs["plain, default malloc"]]
    for label, rounds in runs.items():
        times, faults = zip(*rounds)
        ratio, low, high = paired_ratio(baseline, times)
        print(f"  {label:31s} median {percentile(times, 50) * 1e3:7.1f} ms, {np.median(faults):6.0f} page faults; "
              f"plain with the default / this: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f})")
    print(f"  target: accelerated with keep_freed_memory() at least 1.5x faster than plain -> {ratio:.2f}x, "
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
