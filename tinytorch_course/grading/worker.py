"""Grade one (student, module) submission in a private copy of the course.

Run by ``tinytorch course grade`` (and ``tinytorch check``) in a process of its own per submission
(forked from a server that has nbgrader imported already), so that submissions are graded in
parallel and one that brings its grading down takes nothing else with it. The submission's code
runs only inside the sandbox (``sandbox.py``). The job's folder ``work`` gets:

``course/``   a one-module nbgrader course: ``source/`` (the tests and points), ``submitted/``
              (the submission, checked and staged: regular files only), ``release/`` and
              ``autograded/``, and the gradebook of this one submission
``pkg/``      a copy of the ``tinytorch`` package whose file for this module is the export of the
              submission itself (or the student version when that does not compile), so the
              kernel neither writes the real package nor imports the reference solution; the
              sandbox mounts it read-only
``result.json``  status, notes, per-test score, maximum, error and failing line, the autograded folder

The parent merges ``result.json`` into the course gradebook (its only writer).
"""
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from tinytorch_course import PACKAGE, export
from tinytorch_course.grading import tracebacks
from tinytorch_course.grading.common import api, load_config

MAX_NOTEBOOK_BYTES = 20 * 2**20
NOTE_PATTERNS = [
    (re.compile(r"skipped cell (\d+) \(KernelDied\)"), "the kernel died in cell {0}; that cell was skipped"),
    (re.compile(r"skipped cell (\d+) \(CellTimeoutError\)"), "cell {0} ignored the interrupt after the time limit; it was skipped"),
    (re.compile(r"Timeout waiting for execute reply \((\d+)s\)"), "a cell ran past the {0} s time limit and was interrupted"),
]


def stage_submission(submitted, dest, assignment):
    """Copy a submission folder into ``dest``; return notes on anything wrong with it."""
    dest.mkdir(parents=True)
    expected = f"{assignment}.ipynb"
    submitted = Path(submitted)
    files = [p for p in sorted(submitted.iterdir()) if p.is_file() and not p.is_symlink()] if submitted.is_dir() else []
    for path in files:
        if path.stat().st_size <= MAX_NOTEBOOK_BYTES:
            shutil.copyfile(path, dest / path.name)
    notes = []
    notebook = dest / expected
    if not notebook.exists():
        others = sorted(p.name for p in dest.glob("*.ipynb"))
        if len(others) == 1:
            (dest / others[0]).rename(notebook)
            notes.append(f"wrong file name: {others[0]} (expected {expected}); graded as {expected}")
        elif others:
            notes.append(f"wrong file names: {', '.join(others)} (expected {expected}); not graded")
            return notes
        else:
            given = submitted / expected
            notes.append(f"{expected} is a link; links are not graded" if given.is_symlink()
                         else f"{expected} is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB; not graded" if given.is_file()
                         else f"no notebook submitted (expected {expected})")
            return notes
    for other in dest.glob("*.ipynb"):
        if other != notebook:
            other.unlink()
    problem = None
    if notebook.stat().st_size == 0:
        problem = "the notebook file is empty"
    else:
        try:
            nbformat.validate(nbformat.read(notebook, as_version=4))
        except Exception as err:  # not JSON, not a notebook, or not a valid one
            problem = f"not a valid notebook ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
    if problem:
        notebook.unlink()
        notes.append(f"{expected}: {problem}; not graded")
    return notes


def build_package(dest, notebook, student_version):
    """A copy of the package whose files for this module are exported from ``notebook``."""
    shutil.copytree(PACKAGE, dest / "tinytorch", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        targets = [target for target, _ in export.render_all(student_version)]
    except export.ExportError:
        return
    for candidate in (notebook, student_version):
        try:
            files = export.render_all(candidate)
            for target, text in files:
                compile(text, str(target), "exec")
        except Exception:  # missing, broken or re-pointed export: fall back to the student version
            continue
        if [target for target, _ in files] == targets:
            for target, text in files:
                dest.joinpath("tinytorch", target.relative_to(PACKAGE)).write_text(text)
            return


def tampering(submitted, student_version, source):
    """Notes on the graded cells of ``submitted`` that differ from the student version."""
    try:
        cells = nbformat.read(submitted, as_version=4).cells
    except Exception:
        return []
    instructor = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nbformat.read(source, as_version=4).cells}
    notes = []
    for cell in nbformat.read(student_version, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        copies = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
        if not copies:
            notes.append(f"{grade_id}: deleted (or its metadata removed); the source version was graded")
            continue
        if len(copies) > 1:
            notes.append(f"{grade_id}: appears {len(copies)} times; only the last copy was graded, with the source version")
        copy = copies[-1]
        changes = [what for what, changed in (
            ("cell type", copy.cell_type != cell.cell_type),
            ("code", copy.source not in (cell.source, instructor.get(grade_id))),
            ("points", copy.metadata.nbgrader.get("points") != meta.get("points")),
            ("metadata", any(copy.metadata.nbgrader.get(k) != meta.get(k) for k in ("grade", "solution", "locked"))),
        ) if changed]
        if changes:
            notes.append(f"{grade_id}: {', '.join(changes)} changed in the submission; the source version was graded")
    return notes


def restore_deleted(submitted, student_version):
    """Put the graded test cells that ``submitted`` lacks back where the student version has them
    (nbgrader would add them after the previous graded cell, before the set-up cells between)."""
    nb = nbformat.read(submitted, as_version=4)
    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    missing = [(i, c) for i, c in enumerate(nbformat.read(student_version, as_version=4).cells)
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"]["grade_id"] not in present]
    for index, cell in missing:
        nb.cells.insert(min(index, len(nb.cells)), cell)
    if missing:
        nbformat.write(nb, submitted)


def _notes_from_log(log):
    notes = []
    for line in log.splitlines():
        for pattern, text in NOTE_PATTERNS:
            if m := pattern.search(line):
                note = text.format(*m.groups())
                if note not in notes:
                    notes.append(note)
    return notes


def _failures(notebook_path):
    """grade_id -> (error message, failing line of the cell or None) of each graded cell that failed."""
    failures = {}
    if not notebook_path.exists():
        return failures
    for cell in nbformat.read(notebook_path, as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.cell_type != "code":
            continue
        if found := tracebacks.summary(cell):
            failures[grade_id] = (found[0][:2000], found[1])
        elif stderr := [o for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]:
            text = stderr[0].text.strip()
            failures[grade_id] = ("wrote to stderr" + (": " + text.splitlines()[0][:200] if text else ""), None)
    return failures


def grade(job):
    """Grade ``job`` (see the module docstring); return the result dictionary."""
    work, assignment, student = Path(job["work"]), job["assignment"], job["student"]
    course = work / "course"
    source = Path(job["source"])
    shutil.copytree(source, course / "source" / assignment, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    submitted = course / "submitted" / student / assignment
    notes = stage_submission(Path(job["submission"]), submitted, assignment)

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    config = load_config(course, db_url)
    config.SandboxedExecute.package_path = str(work / "pkg")
    config.SandboxedExecute.sandbox = job["sandbox"]
    config.SandboxedExecute.kernel_uid = -1 if job.get("uid") is None else job["uid"]
    if job.get("cell_timeout"):
        config.SandboxedExecute.timeout = job["cell_timeout"]
    if job.get("visible_only"):  # the source is a release notebook: no solution markers, no hidden tests
        config.ClearSolutions.enforce_metadata = False
    nbgrader = api(course, config=config)
    generated = nbgrader.generate_assignment(assignment, force=True, create=True)
    if not generated["success"]:
        raise RuntimeError(f"nbgrader could not generate {assignment}:\n{generated.get('error') or generated.get('log')}")
    student_version = course / "release" / assignment / f"{assignment}.ipynb"
    build_package(work / "pkg", submitted / f"{assignment}.ipynb", student_version)
    if (submitted / f"{assignment}.ipynb").exists():
        notes += tampering(submitted / f"{assignment}.ipynb", student_version, source / f"{assignment}.ipynb")
        restore_deleted(submitted / f"{assignment}.ipynb", student_version)

    graded = nbgrader.autograde(assignment, student, force=True, create=True)
    log = graded.get("log", "")
    (work / "nbgrader.log").write_text(log + (graded.get("error") or ""))
    notes += _notes_from_log(log)
    autograded = course / "autograded" / student / assignment
    failures = _failures(autograded / f"{assignment}.ipynb")

    cells = {}
    timestamp = None
    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(assignment, assignment)
        for cell in notebook.grade_cells:
            cells[cell.name] = {"score": 0.0, "max": float(cell.max_score), "error": None, "line": None}
        try:
            submission = gb.find_submission(assignment, student)
        except Exception:
            submission = None
        if submission is not None and graded["success"]:
            timestamp = submission.timestamp.isoformat() if submission.timestamp else None
            for grade in gb.find_submission_notebook(assignment, assignment, student).grades:
                cells[grade.name]["score"] = float(grade.auto_score or 0)
                if not grade.auto_score:
                    cells[grade.name]["error"], cells[grade.name]["line"] = failures.get(grade.name, (None, None))
                cells[grade.name]["manual"] = bool(grade.needs_manual_grade)  # written answers
    status = "graded" if graded["success"] else "not graded"
    if not graded["success"] and not notes:
        notes.append("nbgrader could not grade this submission: " + (graded.get("error") or "").strip().splitlines()[-1:][0][:300]
                     if graded.get("error") else "nbgrader could not grade this submission")
    return {"student": student, "assignment": assignment, "status": status, "notes": notes, "cells": cells,
            "timestamp": timestamp, "autograded": str(autograded) if autograded.exists() else None}


def main(job_file, log_file):
    """Entry point of a grading process: output to ``log_file``, result to ``work/result.json``."""
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    job = json.loads(Path(job_file).read_text())
    result = grade(job)
    Path(job["work"], "result.json").write_text(json.dumps(result))
