"""`tinytorch status` with and without its cache: the second run must be at least 10x faster.

    .venv/bin/python bench/status.py [--modules 01 02 03] [--repeat 5]

A student's notebooks are the release notebooks with the given modules filled in from the
solution (the others untouched). Measured: (1) in this process, `status()` on a copy of release/
with an empty cache (the visible tests of the filled-in modules run) and then with the cache it
wrote, the median of `--repeat` cached runs; (2) the `tinytorch status` command of a student
edition, end to end (interpreter start-up included), first and second run. (2) runs in a student
edition because the cache is keyed on the package too, and in a shared work tree others change it.
Prints seconds and ratios; never fails on time.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nbformat  # noqa: E402

from tinytorch_course import RELEASE, status  # noqa: E402
from tinytorch_course.grading import find_module, student_edition  # noqa: E402
from tinytorch_course.grading.edition import solution_notebook  # noqa: E402


def fill(folder, modules):
    """The notebooks of ``modules`` in ``folder`` filled in from the solution."""
    for key in modules:
        name = find_module(key, RELEASE)
        notebook = folder / name / f"{name}.ipynb"
        nbformat.write(solution_notebook(name, notebook), notebook)
    return folder


def seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def command(edition):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(edition)}
    return lambda: subprocess.run([sys.executable, "-m", "tinytorch_course.cli", "status"], cwd=edition,
                                  check=True, capture_output=True, env=env)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="*", default=["01", "02", "03"], help="modules filled in")
    parser.add_argument("--repeat", type=int, default=5, help="cached runs (the median is shown)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"modules filled in: {' '.join(args.modules)}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = fill(Path(shutil.copytree(RELEASE, Path(tmp, "work"))), args.modules)
        cache = Path(tmp, "status.json")
        first = seconds(lambda: status.status(folder, cache=cache, progress=False))
        again = statistics.median(seconds(lambda: status.status(folder, cache=cache, progress=False))
                                  for _ in range(args.repeat))
        print(f"(1) status(): first run {first:.2f} s, cached {again * 1000:.1f} ms: {first / again:.0f}x faster")

        edition = student_edition(Path(tmp, "edition"), git=False)
        fill(edition / "release", args.modules)
        first, again = seconds(command(edition)), seconds(command(edition))
        print(f"(2) tinytorch status in a student edition: first run {first:.2f} s, second {again:.2f} s: "
              f"{first / again:.1f}x faster (target: at least 10x)")


if __name__ == "__main__":
    main()
