"""Course commands of the ``tinytorch`` CLI, over nbgrader's API.

``tinytorch course release``   student notebooks of every module, source/ -> release/
``tinytorch course collect``   submissions from folders or zip archives -> submitted/STUDENT/NN_name/
``tinytorch course grade``     autograde submitted/ in parallel -> autograded/ and gradebook.db
``tinytorch course feedback``  HTML feedback per student -> feedback/
``tinytorch course export``    grades -> CSV
``tinytorch check NN``         a student's notebook against the module's visible tests

Every module ``source/NN_name/NN_name.ipynb`` is the nbgrader assignment ``NN_name``. Grading runs
one process per (student, module) in a private copy of the course (see ``autograde.py``); this
process is the only writer of the course gradebook and merges each result as it arrives.
"""
import atexit
import functools
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tinytorch_course import RELEASE, ROOT, SOURCE, module_notebooks
from tinytorch_course.kernel import PRIVATE



def gradebook_url(root=ROOT):
    """The gradebook of the course whose submitted/, autograded/ and feedback/ are under ``root``."""
    return f"sqlite:///{Path(root, 'gradebook.db')}"


class GradingError(Exception):
    """A course command cannot go on (unknown module, nbgrader failure)."""


def _reported(command):
    """A CLI command that prints a GradingError as a message (exit status 2), not a traceback."""
    @functools.wraps(command)
    def run(args):
        try:
            return command(args)
        except GradingError as err:
            print(f"tinytorch: {err}", file=sys.stderr)
            return 2
    return run


def modules(folder=SOURCE):
    """Assignment names of every module in ``folder`` (source/ by default), in course order."""
    return [nb.parent.name for nb in module_notebooks(folder)]


def find_module(key, folder=SOURCE):
    """``01``, ``1``, ``01_tensor`` or ``tensor`` -> ``01_tensor``."""
    key = str(key)
    for name in modules(folder):
        number, _, word = name.partition("_")
        if key in (name, word) or (key.isdigit() and int(key) == int(number)):
            return name
    raise GradingError(f"no module {key!r} in {folder.name}/; modules: {', '.join(modules(folder)) or 'none'}")


def _settings():
    from tinytorch_course.autograde import load_config

    return load_config(ROOT).SandboxedExecute


# ----- release ----------------------------------------------------------------------------------
def generate(assignment, dest, db_url):
    """Have nbgrader generate the student version of one module into ``dest`` (replaced)."""
    from tinytorch_course.autograde import api

    with tempfile.TemporaryDirectory(prefix=PRIVATE + "release-") as tmp:
        shutil.copytree(SOURCE / assignment, Path(tmp, "source", assignment),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        result = api(tmp, db_url).generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise GradingError(f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}")
        dest = Path(dest)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp, "release", assignment), dest)
    return dest


def release(release_dir=RELEASE, db_url=gradebook_url(), names=None):
    """Generate every module's student version into ``release_dir``; remove releases of gone modules."""
    names = names or modules()
    for name in names:
        yield generate(name, Path(release_dir, name), db_url)
    for old in Path(release_dir).glob("[0-9][0-9]_*"):
        if old.is_dir() and old.name not in modules():
            shutil.rmtree(old)


@_reported
def _cmd_release(args):
    names = [find_module(m) for m in args.modules] if args.modules else None
    for dest in release(names=names):
        print(f"released {dest.relative_to(ROOT)}")
    return 0


# ----- collect ----------------------------------------------------------------------------------
def _notebook_owner(relative, names):
    """(student, module) for a path like ``alice/01_tensor.ipynb`` or ``alice_01_tensor.ipynb``."""
    parts = Path(relative).parts
    stem = Path(relative).stem
    for name in names:
        if len(parts) >= 2 and (stem == name or parts[-2] == name) and parts[0] != name:
            return parts[0], name
        if stem.endswith("_" + name) and len(stem) > len(name) + 1:
            return stem[: -len(name) - 1], name
    return None


def collect(paths, root=ROOT):
    """Copy notebooks found in folders or zip archives into ``submitted/STUDENT/NN_name/``.

    A notebook is recognised as ``STUDENT/NN_name.ipynb``, ``STUDENT/NN_name/anything.ipynb`` or
    ``STUDENT_NN_name.ipynb`` (a learning platform's download). Returns (collected, skipped).
    """
    names, collected, skipped = modules(), [], []
    with tempfile.TemporaryDirectory(prefix=PRIVATE + "collect-") as tmp:
        folders = []
        for i, path in enumerate(map(Path, paths)):
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(Path(tmp, str(i)))
                folders.append(Path(tmp, str(i)))
            else:
                folders.append(path)
        for folder in folders:
            for nb in sorted(folder.rglob("*.ipynb")):
                if ".ipynb_checkpoints" in nb.parts:
                    continue
                owner = _notebook_owner(nb.relative_to(folder), names)
                if owner is None:
                    skipped.append(nb)
                    continue
                student, name = owner
                dest = Path(root, "submitted", student, name)
                dest.mkdir(parents=True, exist_ok=True)
                target = dest / (f"{name}.ipynb" if nb.stem.endswith(name) else nb.name)
                shutil.copyfile(nb, target)
                timestamp = nb.parent / "timestamp.txt"
                if timestamp.exists():
                    shutil.copyfile(timestamp, dest / "timestamp.txt")
                collected.append(target)
    return collected, skipped


@_reported
def _cmd_collect(args):
    collected, skipped = collect(args.paths)
    for path in collected:
        print(f"collected {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    for path in skipped:
        print(f"skipped {path} (not STUDENT/NN_name.ipynb or STUDENT_NN_name.ipynb)", file=sys.stderr)
    return 0


# ----- grade ------------------------------------------------------------------------------------
def submissions(root=ROOT, names=None, students=None):
    """(student, module, folder) for every submission folder ``root/submitted/STUDENT/NN_name``."""
    names = names or modules()
    found = []
    for folder in sorted(Path(root, "submitted").glob("*/*")):
        student, name = folder.parent.name, folder.name
        if folder.is_dir() and name in names and (not students or student in students):
            found.append((student, name, folder))
    return found


@functools.cache
def _run_dir():
    """The folder of this run's grading jobs (hidden from every kernel); removed at exit."""
    path = tempfile.mkdtemp(prefix=PRIVATE + "grading-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)


@functools.cache
def _processes():
    """Grading processes are forked from a server that has imported nbgrader once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tinytorch_course.autograde"])
    return context


def _worker_main(job_file, log_file):
    from tinytorch_course import autograde

    autograde.main(job_file, log_file)


def run_job(student, assignment, folder, timeout, source=None, visible_only=False, cell_timeout=None):
    """Grade one submission in its own process; return (result, work folder)."""
    work = Path(tempfile.mkdtemp(prefix="job-", dir=_run_dir()))
    job = {"hide": str(_run_dir()), "student": student, "assignment": assignment, "submission": str(Path(folder).resolve()),
           "source": str(source or SOURCE / assignment), "work": str(work), "visible_only": visible_only,
           "cell_timeout": cell_timeout}
    (work / "job.json").write_text(json.dumps(job))
    start = time.perf_counter()
    proc = _processes().Process(target=_worker_main, args=(str(work / "job.json"), str(work / "worker.log")))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():  # its kernel notices and exits (tinytorch_course.kernel)
        proc.kill()
        proc.join()
    result_file = work / "result.json"
    if result_file.exists():
        return {**json.loads(result_file.read_text()), "seconds": time.perf_counter() - start}, work
    if proc.exitcode == -signal.SIGKILL:
        note = f"grading took longer than {timeout} s and was stopped"
    else:
        tail = Path(work, "worker.log").read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        note = f"the grading process failed ({tail[0][:300]})"
    return {"student": student, "assignment": assignment, "status": "not graded", "notes": [note],
            "cells": {}, "timestamp": None, "autograded": None, "seconds": time.perf_counter() - start}, work


def ensure_assignments(names, db_url):
    """Make sure the course gradebook knows each module's graded cells (from source/)."""
    with tempfile.TemporaryDirectory(prefix=PRIVATE + "release-") as tmp:
        for name in names:
            generate(name, Path(tmp, name), db_url)


def record(result, root=ROOT):
    """Merge one worker's result into the course gradebook and autograded/ (idempotent)."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    student, assignment = result["student"], result["assignment"]
    dest = Path(root, "autograded", student, assignment)
    if dest.exists():
        shutil.rmtree(dest)
    if result.get("autograded"):
        shutil.copytree(result["autograded"], dest)
    with Gradebook(gradebook_url(root)) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader
        gb.update_or_create_student(student)
        kwargs = {"timestamp": parse_utc(result["timestamp"])} if result.get("timestamp") else {}
        submission = gb.update_or_create_submission(assignment, student, **kwargs)
        total = maximum = 0.0
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                cell = result["cells"].get(grade.name, {})
                grade.needs_manual_grade = cell.get("manual", False)
                grade.auto_score = None if grade.needs_manual_grade else cell.get("score", 0.0)
                total += grade.auto_score or 0.0
                maximum += grade.max_score
        gb.db.commit()
    result["score"], result["max_score"] = total, maximum
    return result


def grade(root=ROOT, names=None, students=None, workers=None, timeout=None, cell_timeout=None, progress=True):
    """Autograde every submission under ``root/submitted``; return the results in (student, module) order.

    Each submission is graded in a process of its own, ``workers`` at a time; this process merges
    each result into ``root/gradebook.db`` and ``root/autograded`` as it arrives.
    """
    from tqdm import tqdm

    jobs = submissions(root, names, students)
    timeout = timeout or _settings().submission_timeout
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    ensure_assignments(sorted({name for _, name, _ in jobs}), gradebook_url(root))
    results = []
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(jobs), unit="submission", disable=not progress) as bar:
        futures = [pool.submit(run_job, student, name, folder, timeout, cell_timeout=cell_timeout)
                   for student, name, folder in jobs]
        for future in as_completed(futures):
            result, work = future.result()
            try:
                results.append(record(result, root))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            bar.set_postfix_str(f"{result['student']}/{result['assignment']}")
            bar.update()
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


@_reported
def _cmd_grade(args):
    names = [find_module(m) for m in args.modules] if args.modules else None
    results = grade(names=names, students=args.students or None, workers=args.workers, timeout=args.timeout,
                    cell_timeout=args.cell_timeout)
    if not results:
        print("no submissions found in submitted/STUDENT/NN_name/")
        return 0
    print(summary(results))
    return 0


# ----- feedback and export ------------------------------------------------------------------------
def feedback(root=ROOT, names=None):
    """Have nbgrader write HTML feedback for every autograded submission; return the pages."""
    from tinytorch_course.autograde import api

    nbgrader = api(root, gradebook_url(root))
    for name in names or modules():
        if not any(Path(root, "autograded").glob(f"*/{name}")):
            continue
        result = nbgrader.generate_feedback(name, force=True)
        if not result["success"]:
            raise GradingError(f"nbgrader could not generate feedback for {name}:\n{result.get('error')}")
    return sorted(Path(root, "feedback").glob("*/*/*.html"))


@_reported
def _cmd_feedback(args):
    names = [find_module(m) for m in args.modules] if args.modules else None
    for page in feedback(names=names):
        print(f"feedback {page.relative_to(ROOT)}")
    return 0


def export_grades(to, root=ROOT):
    """Write every student's score on every module to a CSV file with nbgrader's exporter."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    plugin = CsvExportPlugin()
    plugin.to = str(to)
    with Gradebook(gradebook_url(root)) as gb:
        plugin.export(gb)
    return Path(to)


@_reported
def _cmd_export(args):
    print(f"grades written to {export_grades(args.to)}")
    return 0


# ----- student check -------------------------------------------------------------------------------
def check(module, notebook=None, timeout=None):
    """Grade a student's notebook against the module's visible tests; return the result."""
    name = find_module(module, RELEASE)
    notebook = Path(notebook or RELEASE / name / f"{name}.ipynb").resolve()
    if not notebook.exists():
        raise GradingError(f"{notebook} does not exist")
    with tempfile.TemporaryDirectory(prefix=PRIVATE + "check-") as tmp:
        folder = Path(tmp, name)
        folder.mkdir()
        shutil.copyfile(notebook, folder / f"{name}.ipynb")
        result, work = run_job("you", name, folder, timeout or _settings().submission_timeout,
                               source=RELEASE / name, visible_only=True)
        shutil.rmtree(work, ignore_errors=True)
    return result


@_reported
def _cmd_check(args):
    result = check(args.module, args.notebook)
    total = maximum = 0.0
    print(f"{find_module(args.module, RELEASE)}: visible tests of {args.notebook or 'the release notebook'}")
    for name, cell in result["cells"].items():
        total, maximum = total + cell["score"], maximum + cell["max"]
        ok = cell["score"] == cell["max"]
        line = f"  {'PASS' if ok else 'FAIL'}  {name}  {cell['score']:g}/{cell['max']:g}"
        if not ok and cell.get("error"):
            line += f"  ({cell['error']})"
        print(line)
    for note in result["notes"]:
        print(f"  note: {note}")
    print(f"visible tests: {total:g}/{maximum:g} points (graded notebooks also run hidden tests)")
    return 0 if result["status"] == "graded" and total == maximum else 1


def add_commands(commands):
    course = commands.add_parser(
        "course", help="instructor commands: release, collect, grade, feedback, export",
        description="Run the nbgrader course from the repository root (configuration: nbgrader_config.py).")
    steps = course.add_subparsers(dest="step", required=True, metavar="STEP")

    p = steps.add_parser("release", help="generate the student notebooks of every module into release/",
                         description="Generate release/NN_name/ from source/NN_name/ with nbgrader (solutions and "
                         "hidden tests removed) and record each module's graded cells in gradebook.db.")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules (e.g. 01 or 01_tensor)")
    p.set_defaults(func=_cmd_release)

    p = steps.add_parser("collect", help="copy submissions from folders or zip archives into submitted/",
                         description=collect.__doc__.split("\n\n")[1].strip())
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folder or .zip of submissions")
    p.set_defaults(func=_cmd_collect)

    p = steps.add_parser("grade", help="autograde submitted/ into autograded/ and gradebook.db, in parallel",
                         description="Autograde every submitted/STUDENT/NN_name/ (one process per submission, "
                         "N at a time), merge the scores into gradebook.db and print a per-student summary.")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules")
    p.add_argument("--student", dest="students", action="append", metavar="ID", help="only this student (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel graders (default: number of cores)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per submission (default: nbgrader_config.py)")
    p.add_argument("--cell-timeout", type=int, default=None, help="seconds per cell (default: nbgrader_config.py)")
    p.set_defaults(func=_cmd_grade)

    p = steps.add_parser("feedback", help="generate HTML feedback into feedback/",
                         description="Generate feedback/STUDENT/NN_name/NN_name.html from autograded/ with nbgrader.")
    p.add_argument("modules", nargs="*", metavar="MODULE", help="only these modules")
    p.set_defaults(func=_cmd_feedback)

    p = steps.add_parser("export", help="export grades to CSV",
                         description="Write one row per (student, module) with score and maximum, from gradebook.db.")
    p.add_argument("--to", type=Path, default=Path("grades.csv"), help="CSV file to write (default: grades.csv)")
    p.set_defaults(func=_cmd_export)

    p = commands.add_parser(
        "check", help="run a module's visible tests on your notebook",
        description="Grade your notebook the way autograding does, with the tests you can see "
        "(the hidden tests run only when it is graded), and print a per-test summary.")
    p.add_argument("module", help="module number or name, e.g. 01")
    p.add_argument("--notebook", type=Path, default=None,
                   help="your notebook (default: release/NN_name/NN_name.ipynb)")
    p.set_defaults(func=_cmd_check)
