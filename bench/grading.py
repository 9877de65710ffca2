"""Autograding speed: the sandbox's cost, one module notebook, and a class with 1 and 2 workers.

    .venv/bin/python bench/grading.py [--students 40] [--modules 01 02 03 04 05 06] [--repeat 3]

Prints (1) the cost of the bubblewrap sandbox: starting a Python process inside it against
starting it plainly, and the seconds to autograde each module's instructor notebook with and
without the sandbox (the wall time of one grading process: nbgrader generate + sanitize + execute
+ save; runs alternate, best of ``--repeat``), and (2) the wall time of `tinytorch course grade`
on a synthetic class, sandboxed, with 1 and with 2 workers, and the speed-up. Synthetic students
rotate between a full solution, the untouched student version and a random half of the solution
regions. Uses a temporary course folder; the real gradebook and submitted/ are not touched.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
import submissions  # noqa: E402
from tinytorch_course import SOURCE, grading  # noqa: E402
from tinytorch_course.grading import sandbox  # noqa: E402


def write_class(root, names, students, seed=0):
    rng = random.Random(seed)
    for name in names:
        source_nb = nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)
        student_nb = nbformat.read(grading.generate(name, root / "release" / name, grading.gradebook_url(root))
                                   / f"{name}.ipynb", as_version=4)
        regions = submissions.count_regions(source_nb)
        for i in range(students):
            kind = i % 3
            keep = (range(regions) if kind == 0 else () if kind == 1
                    else rng.sample(range(regions), max(1, regions // 2)))
            folder = root / "submitted" / f"student{i:02d}" / name
            folder.mkdir(parents=True)
            nbformat.write(submissions.fill(source_nb, student_nb, set(keep)), folder / f"{name}.ipynb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--modules", nargs="*", default=["01", "02", "03", "04", "05", "06"])
    parser.add_argument("--repeat", type=int, default=3, help="runs of (1); the best is kept")
    args = parser.parse_args()
    names, missing = [], []
    for key in args.modules:
        try:
            names.append(grading.find_module(key))
        except grading.GradingError:
            missing.append(key)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if missing:
        print(f"modules not in source/ yet (left out): {', '.join(missing)}")

    if problem := sandbox.problem():
        sys.exit(f"no sandbox on this machine: {problem}")
    print("\n(1) the sandbox's cost")
    with tempfile.TemporaryDirectory() as tmp:
        plain = [sys.executable, "-c", "pass"]
        inside = sandbox.bwrap_command(Path(tmp), None, sandbox.kernel_uid()) + plain
        os.chmod(tmp, 0o777)
        starts = {}
        for label, command in (("plain", plain), ("sandboxed", inside)) * args.repeat:
            start = time.perf_counter()
            subprocess.run(command, check=True)
            starts[label] = min(starts.get(label, 1e9), time.perf_counter() - start)
        print(f"  start Python: {starts['plain'] * 1e3:.0f} ms plain, {starts['sandboxed'] * 1e3:.0f} ms in bwrap "
              f"(+{(starts['sandboxed'] - starts['plain']) * 1e3:.0f} ms)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in names:
            folder = root / "submitted" / "solution" / name
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_bytes((SOURCE / name / f"{name}.ipynb").read_bytes())
        grading.grade(root, names=names[:1], workers=1, progress=False)  # warm the process server and caches
        best = {}
        for _ in range(args.repeat):
            for unsafe in (True, False):
                for r in grading.grade(root, names=names, workers=1, progress=False, unsafe=unsafe):
                    key = (r["assignment"], unsafe)
                    best[key] = min(best.get(key, 1e9), r["seconds"])
        print(f"  {'module':<16} {'no sandbox':>10} {'sandbox':>8} {'overhead':>9}")
        for name in names:
            print(f"  {name:<16} {best[name, True]:8.2f} s {best[name, False]:6.2f} s {best[name, False] - best[name, True]:+7.2f} s")
        overhead = sum(best[n, False] - best[n, True] for n in names) / len(names)
        mean = sum(best[n, False] for n in names) / len(names)
        print(f"  {'mean':<16} {'':>10} {mean:6.2f} s {overhead:+7.2f} s per graded notebook")

    print(f"\n(2) a class of {args.students} students x {len(names)} modules ({args.students * len(names)} "
          "submissions), sandboxed")
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_class(root, names, args.students)
            start = time.perf_counter()
            results = grading.grade(root, names=names, workers=workers, progress=False)
            walls[workers] = time.perf_counter() - start
            graded = sum(r["status"] == "graded" for r in results)
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {walls[workers]:7.1f} s  "
                  f"({walls[workers] / len(results):.2f} s per submission, {graded}/{len(results)} graded)")
    print(f"  speed-up with 2 workers: {walls[1] / walls[2]:.2f}x")


if __name__ == "__main__":
    main()
