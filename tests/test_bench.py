"""The benchmark scripts run and print their ratios (they are never judged on time)."""
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["core.py", "--repeat", "1"],
    ["spatial.py", "--repeat", "1", "--epoch-images", "128"],
    ["transformer.py", "--repeat", "1"],
], ids=["core", "spatial", "transformer"])
def test_benchmark_prints_ratios(torch, args):
    out = subprocess.run([sys.executable, BENCH / args[0], *args[1:]], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("tinytorch / PyTorch:") == 3, out.stdout
    assert "target: at most" in out.stdout


@pytest.mark.slow
def test_profiler_benchmark_prints_its_ratios():
    out = subprocess.run([sys.executable, BENCH / "profiler.py", "--repeat", "3"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    for line in ("flag / off:", "on / off:", "off / never used:"):
        assert out.stdout.count(line) == 2, out.stdout
    assert "all the original objects: True" in out.stdout


@pytest.mark.parametrize("script", ["core.py", "spatial.py", "transformer.py", "grading.py", "datasets.py", "profiler.py",
                                    "status.py", "kv_cache.py", "acceleration.py", "compression.py"])
def test_benchmark_has_help(script):
    out = subprocess.run([sys.executable, BENCH / script, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr
