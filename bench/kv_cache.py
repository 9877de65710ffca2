"""Generation with and without the key/value cache (Module 14), on Milestone 05's language model.

Workloads:
  generate  256 new tokens from a one-token prompt (four times the context of 64, so the window
            jumps six times), greedy, with use_cache=False and use_cache=True, for batch 1 and 8;
            both runs must give the same tokens. Target: the cache at least 3x faster (batch 1).

numpy's BLAS is limited to one thread; the two runs take turns (interleaved rounds of the benchmark
harness) so both see the same machine load; the speed-up is the median over the rounds of the
uncached time over the cached time, with its 95% bootstrap interval. Prints; never fails on time.
Run: .venv/bin/python bench/kv_cache.py [--repeat N] [--tokens N]
"""
import numpy as np

from common import in_turns, run
from tinytorch.perf import paired_ratio, percentile

MILESTONE = dict(vocab_size=103, context_length=64, d_model=64, nhead=4, num_layers=4, dim_feedforward=256)
TARGET = 3.0  # uncached time / cached time, at least (batch 1)


def bench_generate(repeat, tokens, batch):
    import tinytorch
    from tinytorch.generation import generate
    from tinytorch.models import GPT

    tinytorch.manual_seed(0)
    model = GPT(**MILESTONE)
    prompt = np.zeros((batch, 1), dtype=np.int64)
    outputs = {}

    def run(use_cache):
        def go():
            outputs[use_cache] = generate(model, prompt, tokens, temperature=0, use_cache=use_cache).data
        return go

    times = in_turns(repeat, {"uncached": run(False), "cached": run(True)})
    same = np.array_equal(outputs[False], outputs[True])
    ratio, low, high = paired_ratio(times["uncached"], times["cached"])
    print(f"\ngenerate: {tokens} tokens, batch {batch}, context {MILESTONE['context_length']}, greedy; "
          f"same tokens: {same}")
    for label, runs in times.items():
        print(f"  {label:9s} median {percentile(runs, 50):7.3f} s, best {min(runs):7.3f} s, "
              f"{tokens * batch / min(runs):7.0f} tokens/s")
    print(f"  speed-up of the cache: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}, {len(times['cached'])} rounds)")
    if batch == 1:
        print(f"  target: at least {TARGET}x -> {ratio:.2f}x, {'met' if ratio >= TARGET else 'missed'}")


def generate_batches(torch, args):
    """The generate workload at batch 1 and 8, each printing its own report."""
    for batch in (1, 8):
        bench_generate(args.repeat, args.tokens, batch)


WORKLOADS = {"generate": generate_batches}


def main(argv=None):
    run(__doc__, WORKLOADS, options={
        "--repeat": dict(type=int, default=5, help="rounds (default 5)"),
        "--tokens": dict(type=int, default=256, help="new tokens per run (default 256)"),
    }, argv=argv)


if __name__ == "__main__":
    main()
