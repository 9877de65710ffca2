"""What the profiler costs: nothing when it is off, and how much while it records.

Workloads:
  chain    a chain of 1000 elementwise operations on 16-element tensors, forward and backward
           (the fixed cost per operation dominates: the worst case for any per-op overhead)
  mlp      one training step (forward, backward, Adam) of an MLP 64-128-64-10 on a batch of 32

In interleaved rounds (a random order within each round), three states are timed in this process:
  off      after a profile() block has been entered and left: the framework as it was
  flag     the instrumentation installed but no profile recording: every operation goes through
           a wrapper that checks a flag, the cost a profiler flag inside every op would have
           (an upper bound: a check written inside an op saves the wrapper's call)
  on       inside profile(): recording every operation, backward step and module
and, in two worker processes that take turns in the same rounds, "off" against "never used" (a
process in which no profile ever ran). Ratios are medians of the per-round ratios with 95%
bootstrap intervals. That "off" runs exactly the code that ran before any profile is also checked
directly: every attribute the profiler replaced is the original object again. One thread; prints
figures, never fails on time.
Run: .venv/bin/python bench/profiler.py [--repeat N] [--only chain mlp]
"""
import multiprocessing
import sys

import numpy as np
from threadpoolctl import threadpool_limits

import tinytorch
from common import parser
from tinytorch import Tensor, nn
from tinytorch.perf import paired_ratio, percentile, timed
from tinytorch.profiler import profile

WORKLOADS = ("chain", "mlp")


def chain_workload():
    def leaves():
        return [Tensor(np.full(16, v, dtype=np.float32), requires_grad=True) for v in (1.0, 0.999, 0.001)]

    def run():
        x, w, b = leaves()
        y = x
        for _ in range(250):
            y = (y * w + b) * 0.5 + 1.0
        y.sum().backward()

    return run, "1000 elementwise ops on 16-element tensors, forward and backward"


def mlp_workload():
    tinytorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    data = np.random.default_rng(0)
    x, y = Tensor(data.random((32, 64), dtype=np.float32)), Tensor(data.integers(0, 10, 32), dtype=np.int64)
    loss_fn, optimizer = nn.CrossEntropyLoss(), tinytorch.optim.Adam(model.parameters(), lr=1e-3)

    def run():
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return run, "one Adam training step of an MLP 64-128-64-10, batch 32"


def rounds(workload, repeat, seed=0):
    """Seconds of ``workload`` in each state, over ``repeat`` interleaved rounds."""
    flagged = profile()  # used only for its instrumentation, never entered: no profile is recording

    def in_state(state):
        if state == "flag":
            flagged._instrument()
            try:
                return timed(workload)
            finally:
                flagged._restore()
        if state == "on":
            with profile():
                return timed(workload)
        return timed(workload)

    states, rng = ("off", "flag", "on"), np.random.default_rng(seed)
    for state in states:  # warm-up
        in_state(state)
    times = {state: [] for state in states}
    for _ in range(repeat):
        for i in rng.permutation(len(states)):
            times[states[i]].append(in_state(states[i]))
    return times


def worker(connection, name, profiled):
    """Time workload ``name`` whenever asked, in a process where a profile ran before or never."""
    with threadpool_limits(limits=1):
        fn, _ = BUILDERS[name]()
        if profiled:
            with profile():
                fn()
        for _ in range(3):
            fn()
        while connection.recv():
            connection.send(timed(fn))


def across_processes(name, repeat, seed=0):
    """Seconds of workload ``name`` in a process that never profiled and in one that did, in turns."""
    pipes, processes = {}, []
    for state in ("never used", "off"):
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.Process(target=worker, args=(child, name, state == "off"), daemon=True)
        process.start()
        pipes[state] = parent
        processes.append(process)
    times, rng = {state: [] for state in pipes}, np.random.default_rng(seed)
    for _ in range(repeat):
        for state in rng.permutation(list(pipes)):
            pipes[state].send(True)
            times[state].append(pipes[state].recv())
    for state, process in zip(pipes, processes):
        pipes[state].send(False)
        process.join()
    return times


def snapshot():
    """Every attribute the profiler may replace, as it is now."""
    owners = [m for name, m in sys.modules.items() if name.split(".")[0] == "tinytorch" and m is not None]
    owners += [Tensor, nn.Module, *tinytorch.optim.Optimizer.__subclasses__(), tinytorch.optim.Optimizer]
    return [(owner, dict(vars(owner))) for owner in owners]


BUILDERS = {"chain": chain_workload, "mlp": mlp_workload}


def main(argv=None):
    p = parser(__doc__, WORKLOADS)
    p.add_argument("--repeat", type=int, default=30, help="interleaved rounds per workload (default 30)")
    args = p.parse_args(argv)
    never = {name: across_processes(name, args.repeat) for name in args.only}
    with threadpool_limits(limits=1):
        workloads = {name: BUILDERS[name]() for name in args.only}
        before = snapshot()
        for name, (fn, note) in workloads.items():
            times = rounds(fn, args.repeat)
            print(f"\n{name}: {note}")
            for state, label in (("off", "off (after a profile)"), ("flag", "flag check in every op"), ("on", "profiling")):
                print(f"  {label:24s} median {percentile(times[state], 50) * 1e3:9.3f} ms")
            for state in ("flag", "on"):
                ratio, low, high = paired_ratio(times[state], times["off"])
                print(f"  {state} / off: {ratio:.3f}x (95% CI {low:.3f}-{high:.3f}, {args.repeat} rounds)")
            ratio, low, high = paired_ratio(never[name]["off"], never[name]["never used"])
            print(f"  off / never used: {ratio:.3f}x (95% CI {low:.3f}-{high:.3f}, {args.repeat} rounds, "
                  "two processes in turns)")
        replaced = sum(len(snap) for _, snap in before)
        same = all(vars(owner).get(k) is v for owner, snap in before for k, v in snap.items())
        print(f"\nafter every profile: {replaced} attributes checked, all the original objects: {same}")


if __name__ == "__main__":
    main()
