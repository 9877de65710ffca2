"""Grade one (student, module) submission in a private copy of the course.

Run by ``tinytorch course grade`` (and ``tinytorch check``) in a process of its own per submission
(forked from a server that has nbgrader imported already), so that submissions are graded in
parallel and nothing a submission does can reach the grading run. The job's folder ``work`` gets:

``course/``   a one-module nbgrader course: ``source/`` (the tests and points), ``submitted/``
              (the submission, checked and staged), ``release/`` and ``autograded/``
``private/``  the gradebook of this one submission (the kernel may not read it)
``pkg/``      a copy of the ``tinytorch`` package whose file for this module is the export of the
              submission itself (or the student version when that does not compile), so the
              kernel neither writes the real package nor imports the reference solution
``result.json``  status, notes, per-test score, maximum and first error, the autograded folder

The parent merges ``result.json`` into the course gradebook (its only writer).
"""
import functools
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import nbgrader.api
from nbgrader.api import Gradebook
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from tinytorch_course import PACKAGE, ROOT, export

MAX_NOTEBOOK_BYTES = 20 * 2**20
NOTE_PATTERNS = [
    (re.compile(r"skipped cell (\d+) \(KernelDied\)"), "the kernel died in cell {0}; that cell was skipped"),
    (re.compile(r"skipped cell (\d+) \(CellTimeoutError\)"), "cell {0} ignored the interrupt after the time limit; it was skipped"),
    (re.compile(r"Timeout waiting for execute reply \((\d+)s\)"), "a cell ran past the {0} s time limit and was interrupted"),
]


def load_config(root, db_url=None):
    """The course's nbgrader configuration, with the course folder (and gradebook) moved."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = db_url or f"sqlite:///{Path(root, 'gradebook.db')}"
    # Students fetch release/ from the repository, so nbgrader's exchange is unused; pointing it
    # at a writable folder keeps nbgrader from reporting it missing.
    config.Exchange.root = tempfile.gettempdir()
    return config


@functools.cache
def _alembic_head():
    """The gradebook schema version, read in-process (nbgrader starts an `alembic` process for it)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.api.__file__).parent / "alembic")).get_current_head()


def api(root, db_url=None, config=None):
    """nbgrader's API on the course folder ``root``, configured by nbgrader_config.py."""
    nbgrader.api.get_alembic_version = _alembic_head
    config = config or load_config(root, db_url)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def stage_submission(submitted, dest, assignment):
    """Copy a submission folder into ``dest``; return notes on anything wrong with it."""
    dest.mkdir(parents=True)
    expected = f"{assignment}.ipynb"
    files = [p for p in sorted(Path(submitted).glob("*")) if p.is_file() and not p.is_symlink()] if Path(submitted).is_dir() else []
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
            too_big = (Path(submitted) / expected).is_file()
            notes.append(f"{expected} is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB; not graded" if too_big
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
    """A copy of the package whose file for this module is exported from ``notebook``."""
    shutil.copytree(PACKAGE, dest / "tinytorch", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    try:
        target, _ = export.render(student_version)
    except export.ExportError:
        return
    for candidate in (notebook, student_version):
        try:
            candidate_target, text = export.render(candidate)
            compile(text, str(candidate_target), "exec")
        except Exception:  # missing, broken or re-pointed export: fall back to the student version
            continue
        if candidate_target == target:
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


def _notes_from_log(log):
    notes = []
    for line in log.splitlines():
        for pattern, text in NOTE_PATTERNS:
            if m := pattern.search(line):
                note = text.format(*m.groups())
                if note not in notes:
                    notes.append(note)
    return notes


def _first_errors(notebook_path):
    """grade_id -> first line of the error each graded cell ended with (or None)."""
    errors = {}
    if not notebook_path.exists():
        return errors
    for cell in nbformat.read(notebook_path, as_version=4).cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors[grade_id] = f"{out.ename}: {out.evalue}".strip()[:300]
                break
            if out.output_type == "stream" and out.name == "stderr":
                errors[grade_id] = "wrote to stderr: " + out.text.strip().splitlines()[0][:200] if out.text.strip() else "wrote to stderr"
                break
    return errors


def grade(job):
    """Grade ``job`` (see the module docstring); return the result dictionary."""
    work, assignment, student = Path(job["work"]), job["assignment"], job["student"]
    course, private = work / "course", work / "private"
    private.mkdir(parents=True, exist_ok=True)
    source = Path(job["source"])
    shutil.copytree(source, course / "source" / assignment, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    submitted = course / "submitted" / student / assignment
    notes = stage_submission(Path(job["submission"]), submitted, assignment)

    db_url = f"sqlite:///{private / 'gradebook.db'}"
    config = load_config(course, db_url)
    config.SandboxedExecute.package_path = str(work / "pkg")
    config.SandboxedExecute.hidden_paths = [str(ROOT), job.get("hide", str(work))]
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

    graded = nbgrader.autograde(assignment, student, force=True, create=True)
    log = graded.get("log", "")
    (work / "nbgrader.log").write_text(log + (graded.get("error") or ""))
    notes += _notes_from_log(log)
    autograded = course / "autograded" / student / assignment
    errors = _first_errors(autograded / f"{assignment}.ipynb")

    cells = {}
    timestamp = None
    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(assignment, assignment)
        for cell in notebook.grade_cells:
            cells[cell.name] = {"score": 0.0, "max": float(cell.max_score), "error": None}
        try:
            submission = gb.find_submission(assignment, student)
        except Exception:
            submission = None
        if submission is not None and graded["success"]:
            timestamp = submission.timestamp.isoformat() if submission.timestamp else None
            for grade in gb.find_submission_notebook(assignment, assignment, student).grades:
                cells[grade.name]["score"] = float(grade.auto_score or 0)
                cells[grade.name]["error"] = errors.get(grade.name) if not grade.auto_score else None
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
