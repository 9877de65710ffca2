"""The benchmark harness (tinytorch.perf.benchmark): statistics checked exactly on synthetic timings
from a manual clock, against numpy and scipy."""
import json
import subprocess
import sys
from itertools import cycle

import numpy as np
import pytest

from tinytorch import perf
from tinytorch.perf import *  # noqa: F403 (the tests use the names the package exports)
from tinytorch.perf import benchmark


def test_the_package_exports_every_public_name_of_the_harness():
    harness = {name for name, value in vars(benchmark).items()
               if not name.startswith("_") and getattr(value, "__module__", None) == benchmark.__name__}
    assert {"Benchmark", "Result", "percentile", "paired_ratio"} <= harness <= set(perf.__all__)
    for name in harness:
        assert getattr(perf, name) is getattr(benchmark, name), name


def ticking(clock, durations):
    """A function that takes the next of ``durations`` seconds on ``clock`` at each call."""
    it = iter(durations)
    return lambda *args: clock.advance(next(it))


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_percentile_matches_numpy(rng, n):
    x = rng.lognormal(size=n)
    q = np.concatenate(([0, 50, 90, 99, 100], rng.uniform(0, 100, 20)))
    np.testing.assert_allclose(percentile(x, q), np.percentile(x, q), rtol=1e-13, atol=0)
    assert percentile(x, 50) == pytest.approx(np.median(x), rel=1e-13)
    assert isinstance(percentile(x, 90), float) and percentile(x, q.reshape(5, 5)).shape == (5, 5)


def test_percentile_rejects_bad_input():
    with pytest.raises(ValueError, match="none"):
        percentile([], 50)
    with pytest.raises(ValueError, match="101"):
        percentile([1.0, 2.0], 101)


@pytest.mark.parametrize("n", range(1, 120))
def test_median_interval_is_the_narrowest_with_the_binomial_guarantee(n):
    """[x_(j), x_(n-j+1)] covers the median with probability 1 - 2 P(B <= j-1), B ~ Bin(n, 1/2):
    j must be the largest index keeping that at least 95%."""
    binom = pytest.importorskip("scipy.stats").binom
    x = np.arange(n, dtype=float)  # the order statistics are their own indices
    low, high = median_ci(x[::-1])
    j = int(low) + 1
    if 1 - 2 * binom.cdf(0, n, 0.5) < 0.95:  # too few samples for any interval: the full range
        assert (low, high) == (0, n - 1)
        return
    assert high == n - j
    assert 1 - 2 * binom.cdf(j - 1, n, 0.5) >= 0.95 > 1 - 2 * binom.cdf(j, n, 0.5)


def test_intervals_cover_the_true_median_as_often_as_they_claim():
    population = np.random.default_rng(5)
    samples = [population.lognormal(0.0, 0.8, 50) for _ in range(400)]  # true median exp(0) = 1
    order = np.mean([lo <= 1 <= hi for lo, hi in map(median_ci, samples)])
    boot = np.mean([lo <= 1 <= hi for lo, hi in (bootstrap_ci(s, resamples=500, seed=k) for k, s in enumerate(samples))])
    assert 0.93 <= order <= 0.99, order
    assert 0.90 <= boot <= 0.98, boot


def test_bootstrap_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(2).lognormal(size=80)
    ours = bootstrap_ci(x, np.median, 0.9, resamples=20000, seed=0)
    theirs = stats.bootstrap((x,), np.median, confidence_level=0.9, n_resamples=20000, method="percentile",
                             rng=np.random.default_rng(1)).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high), rel=0.03)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3) != bootstrap_ci(x, seed=4)


def test_summary_of_synthetic_timings_is_exact():
    clock = ManualClock()
    durations = [0.5, 0.25] + [0.004, 0.002, 0.001, 0.003, 0.005, 0.009, 0.002, 0.006, 0.001, 0.007]
    result = Benchmark(warmup=2, min_repeats=10, max_repeats=10, clock=clock).run(ticking(clock, durations), "s")
    assert result.warmup_times == [0.5, 0.25] and result.times == durations[2:]
    assert result.stopped_by == "max_repeats"
    s = result.stats
    for q in (50, 90, 99):
        assert s[f"p{q}"] == pytest.approx(np.percentile(durations[2:], q), rel=1e-13)
    assert s["median"] == s["p50"] and s["n"] == 10 and s["min"] == 0.001 and s["max"] == 0.009
    assert s["throughput"] == pytest.approx(1 / s["median"])
    assert (s["ci_low"], s["ci_high"]) == median_ci(durations[2:]) == (0.001, 0.007)


def test_repeats_stop_when_the_interval_is_narrow():
    clock = ManualClock()
    result = Benchmark(warmup=1, min_repeats=7, clock=clock).run(ticking(clock, [1.0] + [0.001] * 100))
    assert result.stopped_by == "ci" and result.times == [0.001] * 7


def test_repeats_stop_at_the_time_budget():
    clock = ManualClock()
    noisy = ticking(clock, cycle([0.25, 0.75]))  # the median's interval never narrows to 1%
    result = Benchmark(warmup=0, min_repeats=5, budget=25, rel_width=0.01, clock=clock).run(noisy)
    assert result.stopped_by == "budget" and len(result.times) == 50  # 25 pairs of 1 s


def test_number_of_calls_per_sample():
    clock = ManualClock()
    assert timed(ticking(clock, [0.001, 0.002, 0.003]), clock, number=3) == 0.002
    result = Benchmark(warmup=0, min_repeats=2, max_repeats=2, number=4, clock=clock).run(ticking(clock, [0.5] * 8))
    assert result.times == [0.5, 0.5]
    with pytest.raises(ValueError, match="min_repeats"):
        Benchmark(min_repeats=5, max_repeats=2)


def test_paired_ratio_of_synthetic_runs():
    base = np.random.default_rng(0).uniform(1e-3, 1e-2, 40)
    assert paired_ratio(2.5 * base, base) == pytest.approx((2.5, 2.5, 2.5), rel=1e-13)
    drift = np.geomspace(1, 20, 40)  # the machine gets 20x slower during the run: the pairs cancel it
    assert paired_ratio(0.5 * base * drift, base * drift) == pytest.approx((0.5, 0.5, 0.5), rel=1e-13)
    noise = np.random.default_rng(1).lognormal(0, 0.1, 40)
    ratio, low, high = paired_ratio(base * noise, base, seed=7)
    assert ratio == pytest.approx(np.median(noise), rel=1e-13) and low < ratio < high
    assert (low, high) == bootstrap_ci(noise * base / base, seed=7)
    for a, b in (([1.0], [1.0, 2.0]), ([], []), ([1.0, 0.0], [1.0, 1.0])):
        with pytest.raises(ValueError):
            paired_ratio(a, b)


def test_compare_interleaves_rounds_in_random_order():
    clock, order = ManualClock(), []

    def system(name, seconds):
        def run():
            order.append(name)
            clock.advance(seconds * (1 + len(order) / 10))  # the machine slows down, for both alike
        return run

    def once(seed):
        order.clear()
        cmp = Benchmark(warmup=1, min_repeats=20, max_repeats=20, clock=clock).compare(
            {"a": system("a", 0.003), "b": system("b", 0.001)}, seed=seed)
        return cmp, list(order)

    cmp, calls = once(0)
    rounds = [calls[i:i + 2] for i in range(2, len(calls), 2)]
    assert calls[:2] == ["a", "b"] and all(sorted(r) == ["a", "b"] for r in rounds)
    assert ["a", "b"] in rounds and ["b", "a"] in rounds, "the order within a round is drawn at random"
    assert once(0)[1] == calls and once(1)[1] != calls, "the order comes from the seed"
    assert cmp.stopped_by == "max_repeats" and len(cmp.results["a"].times) == 20
    ratio, low, high = cmp.ratios["b"]
    assert 2.8 < low <= ratio <= high < 3.2  # exactly 3 but for the slowdown between the two calls of a round
    assert ratio == paired_ratio(cmp.results["a"].times, cmp.results["b"].times)[0]
    with pytest.raises(ValueError, match="two"):
        Benchmark().compare({"a": system("a", 1)})


def test_compare_stops_when_the_ratio_is_known():
    clock = ManualClock()
    cmp = Benchmark(warmup=0, min_repeats=6, clock=clock).compare(
        {"x": lambda: clock.advance(0.002), "y": lambda: clock.advance(0.008)})
    assert cmp.stopped_by == "ci" and cmp.ratios == {"y": (0.25, 0.25, 0.25)}
    assert len(cmp.results["y"].times) == 6


def test_mlperf_scenarios():
    clock, seen = ManualClock(), []

    def query(q):
        seen.append(q)
        clock.advance(0.001 * q)

    bench = Benchmark(warmup=0, min_repeats=10, max_repeats=10, clock=clock)
    result = single_stream(query, [1, 2, 3, 4, 5], benchmark=bench)
    assert seen == [1, 2, 3, 4, 5] * 2 and result.scenario == "single-stream"
    assert result.metric == ("p90 latency (s)", pytest.approx(np.percentile([0.001 * q for q in seen], 90)))
    batch = offline(lambda: clock.advance(0.5), items=1000, benchmark=bench)
    assert batch.metric == ("throughput (items/s)", 2000.0)


def test_results_as_json_markdown_and_plot(tmp_path):
    clock = ManualClock()
    result = Benchmark(warmup=1, min_repeats=5, clock=clock).run(ticking(clock, [0.002] * 6), "ours", items=32)
    result.to_json(tmp_path / "r.json")
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["stats"]["median"] == 0.002 and record["stats"]["throughput"] == pytest.approx(16000)
    assert record["times"] == [0.002] * 5 and record["warmup_times"] == [0.002]
    assert Result.from_dict(record).times == result.times
    table = markdown_table([result, result])
    assert table.count("\n") == 3 and "| ours | latency | 5 | 2 |" in table
    pytest.importorskip("matplotlib").use("Agg")
    from tinytorch.perf import plot

    ax = plot([result])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ours"]


def test_environment_is_recorded_with_every_result():
    env = environment()
    assert env["numpy"] == np.__version__ and env["blas"]["name"]
    assert env["python"].endswith(sys.version.split()[0]) and env["cpu"] and env["cpus_available"] >= 1
    assert "threadpools" in env and all("num_threads" in pool for pool in env["threadpools"])
    json.dumps(env)
    assert Result("x", [1.0]).environment.keys() == env.keys()
    assert summarize([1.0, 3.0])["mean"] == 2.0


def test_package_needs_numpy_alone():
    code = "import sys, tinytorch.perf; assert 'matplotlib' not in sys.modules and 'threadpoolctl' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
