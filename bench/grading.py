"""Autograding speed: one module notebook, and a class graded with 1 and with 2 workers.

    .venv/bin/python bench/grading.py [--students 40] [--modules 01 02 03 04 05 06]

Prints (1) the seconds to autograde each module's instructor notebook as a submission (the
wall time of one grading process: nbgrader generate + sanitize + execute + save), and (2) the
wall time of `tinytorch course grade` on a synthetic class, with 1 and with 2 workers, and the
speed-up. Synthetic students rotate between a full solution, the untouched student version and a
random half of the solution regions. Uses a temporary course folder; the real gradebook and
submitted/ are not touched.
"""
import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tinytorch_course import SOURCE, grading, submissions  # noqa: E402


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

    print("\n(1) seconds to autograde one module notebook (instructor solution as the submission)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in names:
            folder = root / "submitted" / "solution" / name
            folder.mkdir(parents=True)
            (folder / f"{name}.ipynb").write_bytes((SOURCE / name / f"{name}.ipynb").read_bytes())
        grading.grade(root, names=names, workers=1, progress=False)  # warm the process server and caches
        results = grading.grade(root, names=names, workers=1, progress=False)
        for r in results:
            print(f"  {r['assignment']:<16} {r['seconds']:6.1f} s   {r['score']:g}/{r['max_score']:g}")
        mean = sum(r["seconds"] for r in results) / len(results)
        print(f"  {'mean':<16} {mean:6.1f} s")

    print(f"\n(2) a class of {args.students} students x {len(names)} modules ({args.students * len(names)} submissions)")
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
