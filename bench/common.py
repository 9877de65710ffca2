"""What the benchmarks share: the harness settings, one training epoch, the report, and main().

Timing and statistics come from tinytorch's benchmark harness (``tinytorch.perf``, Module 19).
Every figure is measured at one thread (threadpoolctl for numpy's BLAS, torch.set_num_threads(1)),
with the contenders running in interleaved rounds, in a random order within each round, so that
they see the same machine load. A ratio is the median over the rounds of tinytorch's time over
the other's, with its 95% bootstrap interval; the times shown are the median and the best round.
"""
import argparse
from contextlib import contextmanager

from tinytorch.perf import Benchmark, environment, paired_ratio, percentile, timed

__all__ = ["timed", "in_turns", "adam_epoch", "parser", "one_thread", "report", "run"]


def in_turns(repeat, runs, warmup=True):
    """Seconds of each of ``runs`` (name -> function) over ``repeat`` interleaved rounds."""
    harness = Benchmark(warmup=1 if warmup else 0, min_repeats=repeat, max_repeats=repeat)
    return {name: result.times for name, result in harness.compare(runs).results.items()}


def adam_epoch(framework, model, weights, batches):
    """One epoch of the manual training loop (cross-entropy, Adam with lr 1e-3) from ``weights``.

    The same code trains a tinytorch model (``framework`` is tinytorch) and a PyTorch one
    (``framework`` is torch). Returns the seconds it took and the last batch's loss.
    """
    params = list(model.parameters())
    if framework.__name__ == "torch":
        with framework.no_grad():
            for p, value in zip(params, weights):
                p.copy_(framework.from_numpy(value))
    else:
        for p, value in zip(params, weights):
            p.data[...] = value
    loss_fn, optimizer = framework.nn.CrossEntropyLoss(), framework.optim.Adam(params, lr=1e-3)
    losses = []

    def epoch():
        for inputs, targets in batches:
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        losses.append(loss.item())

    return timed(epoch), losses[-1]


def parser(doc, workloads):
    """The command line shared by the benchmark scripts (``doc``: the script's docstring)."""
    head, _, rest = doc.partition("\n\n")
    p = argparse.ArgumentParser(description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=workloads, default=list(workloads), help="workloads to run")
    return p


@contextmanager
def one_thread():
    """PyTorch and numpy's BLAS on one thread; yields torch. Prints the environment."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        env = environment()
        print(f"{env['python']}, numpy {env['numpy']} ({env['blas']['name']} {env['blas']['version']}), "
              f"torch {torch.__version__}, 1 thread; {env['cpu']}, {env['cpus_available']} cores, "
              f"load average {env['load_average'][0]:.1f}")
        yield torch


def report(name, note, times, target=None):
    """Print the best times and tinytorch's ratio to every other contender.

    ``target``: ``(reference name, largest acceptable ratio)``; never fails, only says met or missed.
    """
    print(f"\n{name}: {note}")
    for label, runs in times.items():
        print(f"  {label:10s} median {percentile(runs, 50) * 1e3:11.3f} ms, best {min(runs) * 1e3:11.3f} ms")
    ratios = {label: paired_ratio(times["tinytorch"], runs) for label, runs in times.items() if label != "tinytorch"}
    for label, (ratio, low, high) in ratios.items():
        print(f"  tinytorch / {label}: {ratio:.2f}x (95% CI {low:.2f}-{high:.2f}, {len(times['tinytorch'])} rounds)")
    if target:
        reference, limit = target
        ratio = ratios[reference][0]
        print(f"  target: at most {limit}x {reference} -> {ratio:.2f}x, {'met' if ratio <= limit else 'missed'}")


def run(doc, workloads, targets=None, options=None, argv=None):
    """The ``main`` of a benchmark script: parse its command line, then run the workloads chosen.

    ``doc``: the script's docstring; ``workloads``: name -> function ``(torch, args)`` that returns
    ``(times, note)`` for :func:`report`, or None when it has printed its own report; ``targets``:
    name -> the ``target`` of :func:`report`; ``options``: the script's own flags after ``--only``,
    flag -> keyword arguments of ``add_argument``; ``argv``: the arguments (default: the command line).
    The workloads run in the order given to ``--only``, on one thread, after seeding tinytorch and
    PyTorch with 0.
    """
    p = parser(doc, tuple(workloads))
    for flag, settings in (options or {}).items():
        p.add_argument(flag, **settings)
    args = p.parse_args(argv)

    import tinytorch

    with one_thread() as torch:
        tinytorch.manual_seed(0)
        torch.manual_seed(0)
        for name in args.only:
            result = workloads[name](torch, args)
            if result is not None:
                times, note = result
                report(name, note, times, (targets or {}).get(name))
