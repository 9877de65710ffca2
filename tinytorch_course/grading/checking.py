"""Check: a student's notebook against its module's visible tests, the way grading runs them.

``check(module, notebook=None, timeout=None)`` is the public entry point (also used by other
commands): it grades the notebook with the release notebook as the source (so only the tests the
student can see run), in the sandbox when this machine has one (a student's own code on their own
machine needs none), and returns the result with, for each graded cell, the failing line and the
error message.
"""
import shutil
import tempfile
from pathlib import Path

from tinytorch_course import RELEASE
from tinytorch_course.grading import sandbox
from tinytorch_course.grading.common import TEMP_PREFIX, GradingError, find_module, settings
from tinytorch_course.grading.autograding import run_job


def check(module, notebook=None, timeout=None):
    """Grade ``notebook`` (default: the release notebook) with module ``module``'s visible tests.

    Returns ``{"status", "notes", "score", "max_score", "cells": {grade_id: {"score", "max",
    "error", "line"}}}``: ``error`` is ``"Name: message"`` of the error a failing test cell raised
    and ``line`` the line of the test cell it was raised from.
    """
    name = find_module(module, RELEASE)
    notebook = Path(notebook or RELEASE / name / f"{name}.ipynb").resolve()
    if not notebook.exists():
        raise GradingError(f"{notebook} does not exist")
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "check-") as tmp:
        folder = Path(tmp, name)
        folder.mkdir()
        shutil.copyfile(notebook, folder / f"{name}.ipynb")
        result, work = run_job("you", name, folder, timeout or settings().submission_timeout,
                               sandboxed=sandbox.problem() is None, source=RELEASE / name, visible_only=True)
        shutil.rmtree(work, ignore_errors=True)
    result["score"] = sum(cell["score"] for cell in result["cells"].values())
    result["max_score"] = sum(cell["max"] for cell in result["cells"].values())
    return result


def report(name, where, result):
    """The text ``tinytorch check`` prints for a result of ``check``."""
    lines = [f"{name}: visible tests of {where}"]
    for test, cell in result["cells"].items():
        ok = cell["score"] == cell["max"]
        lines.append(f"  {'PASS' if ok else 'FAIL'}  {test}  {cell['score']:g}/{cell['max']:g}")
        if not ok and cell.get("line"):
            lines.append(f"        failed at: {cell['line']}")
        if not ok and cell.get("error"):
            lines += [f"        {text}" for text in cell["error"].splitlines()[:20]]
    lines += [f"  note: {note}" for note in result["notes"]]
    lines.append(f"visible tests: {result['score']:g}/{result['max_score']:g} points "
                 "(graded notebooks also run hidden tests)")
    return "\n".join(lines)
