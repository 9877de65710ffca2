"""What the benchmarks share: timing in turns, one training epoch, and the report.

Every figure is measured at one thread (threadpoolctl for numpy's BLAS, torch.set_num_threads(1)),
with the contenders taking turns so that they see the same machine load. A ratio is the median
over the rounds of tinytorch's time over the other's; the times shown are the best rounds.
"""
import argparse
import platform
import time
from contextlib import contextmanager

import numpy as np


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def in_turns(repeat, runs, warmup=True):
    """Seconds of each of ``runs`` (name -> function) over ``repeat`` rounds, the runs taking turns."""
    if warmup:
        for fn in runs.values():
            fn()
    times = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return times


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
    start = time.perf_counter()
    for inputs, targets in batches:
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start, loss.item()


def parser(doc, workloads):
    """The command line shared by the benchmark scripts (``doc``: the script's docstring)."""
    head, _, rest = doc.partition("\n\n")
    p = argparse.ArgumentParser(description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=workloads, default=list(workloads), help="workloads to run")
    return p


@contextmanager
def one_thread():
    """PyTorch and numpy's BLAS on one thread; yields torch. Prints the versions."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, 1 thread")
        yield torch


def report(name, note, times, target=None):
    """Print the best times and tinytorch's ratio to every other contender.

    ``target``: ``(reference name, largest acceptable ratio)``; never fails, only says met or missed.
    """
    print(f"\n{name}: {note}")
    for label, runs in times.items():
        print(f"  {label:10s} {min(runs) * 1e3:11.3f} ms")
    ours = np.array(times["tinytorch"])
    ratios = {label: float(np.median(ours / np.array(runs))) for label, runs in times.items() if label != "tinytorch"}
    for label, ratio in ratios.items():
        print(f"  tinytorch / {label}: {ratio:.2f}x")
    if target:
        reference, limit = target
        verdict = "met" if ratios[reference] <= limit else "missed"
        print(f"  target: at most {limit}x {reference} -> {ratios[reference]:.2f}x, {verdict}")
