# Generated from source/19_benchmarking/19_benchmarking.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Benchmark harness: warm-up, repeats until the median is known well enough, percentiles,
bootstrap intervals, interleaved paired comparisons, MLPerf-style scenarios and reports."""
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np


class ManualClock:
    """A clock that moves only when told to (``advance``): synthetic timings for exact tests.

    It counts in exact fractions, so that a call that advanced it by 0.001 measures 0.001 exactly,
    wherever the clock stood (floating-point sums would round).
    """

    def __init__(self, start=0):
        self.now = Fraction(start)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += Fraction(seconds)


def timed(fn, clock=time.perf_counter, number=1):
    """Seconds per call of ``fn()``, over ``number`` calls in a row."""
    start = clock()
    for _ in range(number):
        fn()
    return float((clock() - start) / number)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """What a timing depends on besides the code: Python, numpy and its BLAS, threads, CPU, load."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    env = {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "numpy": np.__version__,
        "blas": {"name": blas.get("name"), "version": blas.get("version")},
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
                       if k in os.environ},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:  # the BLAS actually loaded, and how many threads it runs now
        from threadpoolctl import threadpool_info
        env["threadpools"] = [{k: pool.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                              for pool in threadpool_info()]
    except ImportError:
        pass
    if "torch" in sys.modules:  # only when the caller uses it: never imported here
        torch = sys.modules["torch"]
        env["torch"] = {"version": torch.__version__, "num_threads": torch.get_num_threads()}
    return env


def percentile(samples, q):
    """The ``q``-th percentiles (0-100) of ``samples``, interpolating linearly between order statistics."""
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("percentile: expected at least one sample, got none")
    q = np.asarray(q, dtype=np.float64)
    if np.any((q < 0) | (q > 100)) or np.any(np.isnan(q)):
        raise ValueError(f"percentile: q must be between 0 and 100, got {q.tolist()}")
    position = q / 100 * (x.size - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, x.size - 1)
    out = x[below] + (x[above] - x[below]) * (position - below)
    return float(out) if out.ndim == 0 else out


def median_ci(samples, confidence=0.95):
    """A distribution-free interval for the median: two order statistics, from the binomial law."""
    x = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    n = x.size
    if n == 0:
        raise ValueError("median_ci: expected at least one sample, got none")
    k = np.arange(n)
    # log P(B = k) for B ~ Bin(n, 1/2), by the ratio of consecutive binomial coefficients
    log_pmf = np.concatenate(([0.0], np.cumsum(np.log((n - k[:-1]) / (k[:-1] + 1))))) - n * np.log(2)
    j = int(np.count_nonzero(np.cumsum(np.exp(log_pmf)) <= (1 - confidence) / 2))
    if j == 0:
        return float(x[0]), float(x[-1])
    return float(x[j - 1]), float(x[n - j])


def summarize(samples, confidence=0.95):
    """Count, mean, spread, p50/p90/p99 and the median's confidence interval of ``samples``."""
    x = np.asarray(samples, dtype=np.float64)
    p50, p90, p99 = percentile(x, [50, 90, 99])
    low, high = median_ci(x, confidence)
    return {"n": int(x.size), "mean": float(x.mean()), "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "min": float(x.min()), "max": float(x.max()), "median": float(p50),
            "p50": float(p50), "p90": float(p90), "p99": float(p99), "ci_low": low, "ci_high": high}


@dataclass
class Result:
    """The times of one benchmark (seconds per call, in the order measured) and what produced them."""

    name: str
    times: list
    warmup_times: list = field(default_factory=list)
    items: int = 1
    scenario: str = "latency"
    stopped_by: str = ""
    confidence: float = 0.95
    environment: dict = field(default_factory=environment)

    @property
    def stats(self):
        """``summarize`` of the times, plus the throughput in items per second at the median."""
        stats = summarize(self.times, self.confidence)
        stats["throughput"] = self.items / stats["median"] if stats["median"] > 0 else float("inf")
        return stats

    @property
    def metric(self):
        """The scenario's figure of merit: ``(name, value)``."""
        if self.scenario == "offline":
            return "throughput (items/s)", self.stats["throughput"]
        if self.scenario == "single-stream":
            return "p90 latency (s)", self.stats["p90"]
        return "median (s)", self.stats["median"]

    def to_dict(self):
        return {"name": self.name, "scenario": self.scenario, "items": self.items, "stopped_by": self.stopped_by,
                "confidence": self.confidence, "stats": self.stats, "times": list(map(float, self.times)),
                "warmup_times": list(map(float, self.warmup_times)), "environment": self.environment}

    def to_json(self, path=None):
        """The result as JSON text; also written to ``path`` if given."""
        return _json(self.to_dict(), path)

    @classmethod
    def from_dict(cls, d):
        return cls(d["name"], d["times"], d["warmup_times"], d["items"], d["scenario"], d["stopped_by"],
                   d["confidence"], d["environment"])


class Benchmark:
    """Times functions: ``warmup`` calls, then repeats until the median is known to ``rel_width``
    (relative width of its ``confidence`` interval), ``budget`` seconds or ``max_repeats`` samples."""

    def __init__(self, warmup=3, min_repeats=10, max_repeats=10_000, budget=1.0, rel_width=0.05,
                 confidence=0.95, number=1, clock=time.perf_counter):
        if not 1 <= min_repeats <= max_repeats:
            raise ValueError(f"Benchmark: need 1 <= min_repeats <= max_repeats, got {min_repeats} and {max_repeats}")
        self.warmup, self.min_repeats, self.max_repeats = warmup, min_repeats, max_repeats
        self.budget, self.rel_width, self.confidence = budget, rel_width, confidence
        self.number, self.clock = number, clock

    def _time(self, fn):
        return timed(fn, self.clock, self.number)

    def _stop(self, n, start, precise):
        """Why to stop after ``n`` samples, or "" to go on; ``precise()`` says if the interval is narrow enough."""
        if n >= self.max_repeats:
            return "max_repeats"
        if n < self.min_repeats:
            return ""
        if precise():
            return "ci"
        return "budget" if self.clock() - start >= self.budget else ""

    def _precise(self, times):
        low, high = median_ci(times, self.confidence)
        return high - low <= self.rel_width * percentile(times, 50)

    def run(self, fn, name="", items=1, scenario="latency"):
        """Time ``fn()``; ``items`` is how many items one call processes (for the throughput)."""
        warmup_times = [self._time(fn) for _ in range(self.warmup)]
        times, start = [], self.clock()
        while not (stopped := self._stop(len(times), start, lambda: self._precise(times))):
            times.append(self._time(fn))
        return Result(name or getattr(fn, "__name__", "fn"), times, warmup_times, items, scenario, stopped,
                      self.confidence)

    def compare(self, runs, seed=0, items=1, resamples=2000):
        """Run ``runs`` (name -> function) in interleaved rounds, in a random order within each round."""
        if len(runs) < 2:
            raise ValueError(f"compare: expected at least two contenders, got {list(runs)}")
        names, rng = list(runs), np.random.default_rng(seed)
        warmup = {name: [self._time(runs[name]) for _ in range(self.warmup)] for name in names}
        times, start, checked = {name: [] for name in names}, self.clock(), 0
        subject = names[0]

        def ratios():
            return {other: paired_ratio(times[subject], times[other], self.confidence, resamples, seed)
                    for other in names[1:]}

        def precise():  # the bootstrap is not free: check again only when the rounds grew by a quarter
            nonlocal checked
            n = len(times[subject])
            if n < checked * 1.25:
                return False
            checked = n
            return all(high - low <= self.rel_width * ratio for ratio, low, high in ratios().values())

        while not (stopped := self._stop(len(times[subject]), start, precise)):
            for i in rng.permutation(len(names)):
                times[names[i]].append(self._time(runs[names[i]]))
        env = environment()
        results = {name: Result(name, times[name], warmup[name], items, "latency", stopped, self.confidence, env)
                   for name in names}
        return Comparison(results, ratios(), stopped)


@dataclass
class Comparison:
    """Interleaved results of several contenders; ``ratios[name]`` is ``(ratio, low, high)`` of the
    first contender's time over ``name``'s."""

    results: dict
    ratios: dict
    stopped_by: str

    def to_dict(self):
        return {"results": {k: r.to_dict() for k, r in self.results.items()},
                "ratios": {k: list(v) for k, v in self.ratios.items()}, "stopped_by": self.stopped_by}

    def to_json(self, path=None):
        """The comparison as JSON text; also written to ``path`` if given."""
        return _json(self.to_dict(), path)


def _json(record, path):
    text = json.dumps(record, indent=1)
    if path is not None:
        with open(path, "w") as f:
            f.write(text + "\n")
    return text


def single_stream(fn, queries, name="", benchmark=None):
    """MLPerf's single-stream scenario: one query at a time (``fn(query)``, cycling through
    ``queries``); the metric is the p90 latency."""
    queries, position = list(queries), [0]

    def one_query():
        fn(queries[position[0] % len(queries)])
        position[0] += 1

    return (benchmark or Benchmark()).run(one_query, name or getattr(fn, "__name__", "fn"), 1, "single-stream")


def offline(fn, items, name="", benchmark=None):
    """MLPerf's offline scenario: ``fn()`` processes all ``items`` samples at once; the metric is
    the throughput in items per second."""
    return (benchmark or Benchmark()).run(fn, name or getattr(fn, "__name__", "fn"), items, "offline")


def bootstrap_ci(samples, statistic=np.median, confidence=0.95, resamples=2000, seed=0):
    """Percentile-bootstrap interval ``(low, high)`` of ``statistic(samples)``; ``statistic``
    takes an ``axis`` argument, like ``np.median``."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci: expected at least one sample, got none")
    if not 0 < confidence < 1:
        raise ValueError(f"bootstrap_ci: confidence must be between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    values = statistic(x[rng.integers(0, x.size, size=(resamples, x.size))], axis=1)
    low, high = percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(low), float(high)


def paired_ratio(times_a, times_b, confidence=0.95, resamples=2000, seed=0):
    """Median of the per-round ratios ``a_i / b_i`` of two interleaved runs, with its bootstrap
    interval: ``(ratio, low, high)``."""
    a = np.asarray(times_a, dtype=np.float64).ravel()
    b = np.asarray(times_b, dtype=np.float64).ravel()
    if a.size != b.size or a.size == 0:
        raise ValueError(f"paired_ratio: expected two equally long, non-empty lists of times, got {a.size} and {b.size}")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValueError(f"paired_ratio: times must be positive, got minimum {min(a.min(), b.min())}")
    ratios = a / b
    low, high = bootstrap_ci(ratios, confidence=confidence, resamples=resamples, seed=seed)
    return percentile(ratios, 50), low, high


def markdown_table(results):
    """A markdown table of ``results`` (Result objects): latency percentiles, interval, throughput."""
    rows = ["| benchmark | scenario | n | median (ms) | 95% CI (ms) | p90 (ms) | p99 (ms) | items/s | stopped by |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r.stats
        rows.append(f"| {r.name} | {r.scenario} | {s['n']} | {s['median'] * 1e3:.4g} | "
                    f"{s['ci_low'] * 1e3:.4g}-{s['ci_high'] * 1e3:.4g} | {s['p90'] * 1e3:.4g} | "
                    f"{s['p99'] * 1e3:.4g} | {s['throughput']:.4g} | {r.stopped_by} |")
    return "\n".join(rows)


def plot(results, ax=None):
    """Latency distributions of ``results`` (one box each, p90 and p99 marked) on a log axis."""
    import matplotlib.pyplot as plt  # only when plotting: the package itself needs numpy alone

    if ax is None:
        ax = plt.subplots(figsize=(1.6 + 1.2 * len(results), 3.5))[1]
    data = [np.asarray(r.times) * 1e3 for r in results]
    ax.boxplot(data, whis=(1, 99), showfliers=False)
    for i, r in enumerate(results, start=1):
        s = r.stats
        ax.plot([i, i], [s["p90"] * 1e3, s["p99"] * 1e3], "v", color="tab:red", markersize=5)
    ax.set_xticks(range(1, len(results) + 1), [r.name for r in results], rotation=20)
    ax.set(yscale="log", ylabel="milliseconds per call", title="latency (box: p25-p75, whiskers p1-p99, red: p90, p99)")
    return ax
