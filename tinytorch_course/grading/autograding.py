"""Grade: autograde submitted/ in parallel -> autograded/ and gradebook.db.

Each (student, module) is graded by a process of its own (``worker.py``) in a private copy of a
one-module course, ``workers`` at a time; its kernel runs in the sandbox (``sandbox.py``). This
process is the only one that opens the course gradebook: it merges each result as it arrives
(``record.py``).
"""
import atexit
import functools
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from tinytorch_course import ROOT, SOURCE
from tinytorch_course.grading import sandbox
from tinytorch_course.grading.common import TEMP_PREFIX, GradingError, gradebook_url, in_parallel, modules, settings
from tinytorch_course.grading.recording import record
from tinytorch_course.grading.releasing import ensure_assignments


def submissions(root=ROOT, names=None, students=None):
    """(student, module, folder) for every submission folder ``root/submitted/STUDENT/NN_name``."""
    names = names or modules()
    found = []
    for folder in sorted(Path(root, "submitted").glob("*/*")):
        student, name = folder.parent.name, folder.name
        if folder.is_dir() and not folder.is_symlink() and name in names and (not students or student in students):
            found.append((student, name, folder))
    return found


def sandbox_or_refuse(unsafe):
    """Whether kernels run sandboxed: yes, unless ``unsafe``; refuses when the sandbox cannot run."""
    if unsafe:
        return False
    if problem := sandbox.problem():
        raise GradingError(f"refusing to grade without a sandbox: {problem}")
    return True


@functools.cache
def _run_dir():
    """The folder of this run's grading jobs; removed at exit."""
    path = tempfile.mkdtemp(prefix=TEMP_PREFIX + "grading-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)


@functools.cache
def _processes():
    """Grading processes are forked from a server that has imported nbgrader once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tinytorch_course.grading.worker"])
    return context


def _worker_main(job_file, log_file):
    os.setpgid(0, 0)  # a group of its own, killed as one on timeout
    from tinytorch_course.grading import worker

    worker.main(job_file, log_file)


def run_job(student, assignment, folder, timeout, sandboxed=True, source=None, visible_only=False, cell_timeout=None):
    """Grade one submission in its own process; return (result, work folder)."""
    work = Path(tempfile.mkdtemp(prefix="job-", dir=_run_dir()))
    job = {"student": student, "assignment": assignment, "submission": str(Path(folder).absolute()),
           "source": str(source or SOURCE / assignment), "work": str(work), "visible_only": visible_only,
           "cell_timeout": cell_timeout, "sandbox": sandboxed, "uid": sandbox.kernel_uid() if sandboxed else None}
    (work / "job.json").write_text(json.dumps(job))
    start = time.perf_counter()
    proc = _processes().Process(target=_worker_main, args=(str(work / "job.json"), str(work / "worker.log")))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():  # the kernel dies with it (bwrap --die-with-parent), and its processes with the kernel
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.join()
    result_file = work / "result.json"
    if result_file.exists():
        return {**json.loads(result_file.read_text()), "seconds": time.perf_counter() - start}, work
    if proc.exitcode == -signal.SIGKILL:
        note = f"grading took longer than {timeout} s and was stopped"
    else:
        log = work / "worker.log"
        tail = (log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []) or ["no output"]
        note = f"the grading process failed ({tail[0][:300]})"
    return {"student": student, "assignment": assignment, "status": "not graded", "notes": [note],
            "cells": {}, "timestamp": None, "autograded": None, "seconds": time.perf_counter() - start}, work


def grade(root=ROOT, names=None, students=None, workers=None, timeout=None, cell_timeout=None, progress=True,
          unsafe=False):
    """Autograde every submission under ``root/submitted``; return the results in (student, module) order.

    Each submission is graded in a process of its own, ``workers`` at a time, its kernel in the
    sandbox (refused when the sandbox cannot run, unless ``unsafe``); this process merges each
    result into ``root/gradebook.db`` and ``root/autograded`` as it arrives.
    """
    sandboxed = sandbox_or_refuse(unsafe)
    jobs = submissions(root, names, students)
    timeout = timeout or settings().submission_timeout
    ensure_assignments(sorted({name for _, name, _ in jobs}), gradebook_url(root))
    results = []
    graded = in_parallel(lambda job: run_job(*job, timeout, sandboxed, cell_timeout=cell_timeout), jobs, workers,
                         progress, label=lambda job, out: f"{out[0]['student']}/{out[0]['assignment']}",
                         unit="submission")
    for _, (result, work) in graded:
        try:
            results.append(record(result, root))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return sorted(results, key=lambda r: (r["student"], r["assignment"]))


def summary(results):
    """Per-student table of scores and notes, as text."""
    names = sorted({r["assignment"] for r in results})
    by_student = {}
    for r in results:
        by_student.setdefault(r["student"], {})[r["assignment"]] = r
    width = max([len("student")] + [len(s) for s in by_student])
    lines = ["  ".join(["student".ljust(width)] + [n[:12].rjust(12) for n in names] + ["total".rjust(11)])]
    notes = []
    for student, rows in sorted(by_student.items()):
        cells, got, out_of = [], 0.0, 0.0
        for name in names:
            r = rows.get(name)
            if r is None:
                cells.append("-".rjust(12))
                continue
            got, out_of = got + r["score"], out_of + r["max_score"]
            mark = "" if r["status"] == "graded" else "!"
            cells.append(f"{r['score']:g}/{r['max_score']:g}{mark}".rjust(12))
            notes += [f"  {student} {name}: {note}" for note in r["notes"]]
        lines.append("  ".join([student.ljust(width)] + cells + [f"{got:g}/{out_of:g}".rjust(11)]))
    if notes:
        lines += ["", "notes (! = not graded, scored 0):"] + notes
    return "\n".join(lines)
