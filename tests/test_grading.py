"""Round trip of every module through the grading pipeline, in one grading run.

For each module in source/: the instructor notebook submitted as is scores full marks; the
untouched student version scores 0; two partial submissions (the student version with the first
half, or all but the last, of its solution regions filled in from the source) score exactly the
points of the graded cells that pass when that notebook runs directly with the source's tests,
outside nbgrader.
The other instructor steps then run on the same gradebook: feedback (which must show no line of a
hidden test), CSV export, re-grading, and a student's check (which must show each failing visible
test's line and message).
"""
import csv
import html
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbclient import NotebookClient

import submissions
from tinytorch_course import SOURCE, grading, module_notebooks
from tinytorch_course.grading import sandbox, worker

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def direct_points(partial_path, source_nb, student_version, workdir):
    """Points of the graded cells that pass when the notebook runs with the source's test cells,
    in a plain kernel whose package holds the notebook's own export (as grading does)."""
    nb = nbformat.read(partial_path, as_version=4)
    tests = graded_cells(source_nb)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") in tests:
            cell.source = tests[nbgrader_meta(cell)["grade_id"]].source
    worker.build_package(workdir / "pkg", partial_path, student_version)
    env = {**os.environ, "PYTHONPATH": str(workdir / "pkg")}
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute(env=env)
    return sum(nbgrader_meta(c)["points"] for c in nb.cells if nbgrader_meta(c).get("grade_id") in tests
               and not any(o.output_type == "error" for o in c.outputs))


PARTIALS = {  # student id -> solution regions filled in, given the number of regions
    "first-half": lambda n: range(max(1, n // 2)),
    "all-but-last": lambda n: range(n - 1),
}



@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One grading run: solution, untouched and two partial submissions of every module."""
    root = tmp_path_factory.mktemp("course")
    expected, direct_runs = {}, []
    for name in MODULES:
        source_nb = nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)
        student_version = grading.generate(name, root / "release" / name, grading.gradebook_url(root)) / f"{name}.ipynb"
        student_nb = nbformat.read(student_version, as_version=4)
        regions = submissions.count_regions(source_nb)
        notebooks = {"solution": source_nb, "untouched": student_nb}
        notebooks.update({kind: submissions.fill(source_nb, student_nb, keep(regions)) for kind, keep in PARTIALS.items()})
        for student, nb in notebooks.items():
            folder = root / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
            if student in PARTIALS:
                workdir = root / "direct" / student / name
                workdir.mkdir(parents=True)
                direct_runs.append(((student, name), folder / f"{name}.ipynb", source_nb, student_version, workdir))
        expected[name] = {"regions": regions, "max": sum(c.metadata["nbgrader"]["points"] for c in graded_cells(source_nb).values())}
    with ThreadPoolExecutor(2) as pool:
        for (key, *_), points in zip(direct_runs, pool.map(lambda run: direct_points(*run[1:]), direct_runs)):
            expected[key] = points
    results = grading.grade(root, workers=2, progress=False)
    return root, {(r["student"], r["assignment"]): r for r in results}, expected


@pytest.mark.parametrize("name", MODULES)
def test_solution_scores_full_marks(course, name):
    _, results, expected = course
    result = results["solution", name]
    assert result["status"] == "graded" and result["notes"] == []
    failed = {k: v["error"] for k, v in result["cells"].items() if v["score"] != v["max"]}
    assert not failed, f"graded cells of the source that lose points: {failed}"
    assert result["score"] == result["max_score"] == expected[name]["max"] > 0


@pytest.mark.parametrize("name", MODULES)
def test_untouched_release_scores_zero(course, name):
    _, results, expected = course
    result = results["untouched", name]
    assert result["status"] == "graded" and result["notes"] == []
    assert result["max_score"] == expected[name]["max"]
    passed = [k for k, v in result["cells"].items() if v["score"]]
    assert result["score"] == 0, f"graded cells that pass without any implementation: {passed}"


@pytest.mark.parametrize("name", MODULES)
def test_partial_submissions_score_exactly_their_parts(course, name):
    _, results, expected = course
    scores = []
    for kind in PARTIALS:
        result = results[kind, name]
        assert result["status"] == "graded"
        assert result["score"] == expected[kind, name], (kind, {k: v["score"] for k, v in result["cells"].items()})
        scores.append(result["score"])
    if expected[name]["regions"] > 1:
        assert any(0 < score < expected[name]["max"] for score in scores), f"no partial score among {scores}"


def test_gradebook_feedback_and_export(course, tmp_path):
    root, results, _ = course
    pages = grading.feedback(root, names=MODULES)
    assert len(pages) == len(results)
    solution_page = (root / "feedback" / "solution" / MODULES[0] / f"{MODULES[0]}.html").read_text()
    assert "Score:" in solution_page or "score" in solution_page.lower()
    hidden = {line for line, (_, kind) in submissions.secret_lines(SOURCE, root / "release").items() if kind == "hidden test"}
    assert len(hidden) > len(MODULES)
    for page in pages:  # failing and passing submissions alike
        text = html.unescape(BeautifulSoup(page.read_text(), "html.parser").get_text())  # code lines whole
        shown = {line.strip() for line in text.splitlines()} & hidden
        assert not shown, f"{page.relative_to(root)} shows hidden tests: {sorted(shown)[:5]}"
    untouched = (root / "feedback" / "untouched" / MODULES[0] / f"{MODULES[0]}.html").read_text()
    assert "NotImplementedError" in untouched  # a failing visible test still says why

    rows = list(csv.DictReader(open(grading.export_grades(tmp_path / "grades.csv", root))))
    scores = {(r["student_id"], r["assignment"]): float(r["raw_score"]) for r in rows}
    for (student, name), result in results.items():
        assert scores[student, name] == result["score"]


def test_regrading_one_submission_is_idempotent(course):
    root, results, _ = course
    again = grading.grade(root, names=MODULES[:1], students=["first-half"], workers=1, progress=False)
    assert [r["score"] for r in again] == [results["first-half", MODULES[0]]["score"]]
    rows = list(csv.DictReader(open(grading.export_grades(root / "again.csv", root))))
    assert len(rows) == len(results)


def test_cli_lists_every_course_step():
    out = subprocess.run([sys.executable, "-m", "tinytorch_course.cli", "course", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for step in ("release", "student-edition", "publish-solution", "collect", "grade", "feedback", "export-grades"):
        assert re.search(rf"^ +{step}\s", out, re.M), (step, out)


def test_student_check_shows_what_grading_sees(course):
    root, results, _ = course
    name = MODULES[0]
    notebook = root / "submitted" / "first-half" / name / f"{name}.ipynb"
    run = subprocess.run([sys.executable, "-m", "tinytorch_course.cli", "check", name[:2], "--notebook", str(notebook)],
                         capture_output=True, text=True)
    graded = results["first-half", name]["cells"]
    assert run.returncode == (0 if all(c["score"] == c["max"] for c in graded.values()) else 1), run.stdout + run.stderr
    for test, cell in graded.items():
        if cell["score"] == cell["max"]:  # passing the hidden tests implies passing the visible ones
            assert f"PASS  {test}" in run.stdout, run.stdout
    assert "FAIL" in run.stdout and "visible tests:" in run.stdout
    for test, cell in graded.items():  # a failing visible test shows its failing line and message
        if f"FAIL  {test}" in run.stdout:
            detail = re.search(rf"FAIL  {test} .*\n((?: {{8}}.*\n)*)", run.stdout).group(1)
            assert "failed at: " in detail and "Error" in detail, run.stdout


def test_collect_from_folders_and_zip_archives(tmp_path):
    import zipfile

    name = MODULES[0]
    notebook = (SOURCE / name / f"{name}.ipynb").read_bytes()
    (tmp_path / "download" / "bob" / name).mkdir(parents=True)
    (tmp_path / "download" / "bob" / name / f"{name}.ipynb").write_bytes(notebook)
    (tmp_path / "download" / "bob" / name / "timestamp.txt").write_text("2026-01-02 03:04:05")
    (tmp_path / "download" / "notes.ipynb").write_bytes(notebook)
    with zipfile.ZipFile(tmp_path / "lms.zip", "w") as archive:
        archive.writestr(f"alice_{name}.ipynb", notebook)
    collected, skipped = grading.collect([tmp_path / "download", tmp_path / "lms.zip"], root=tmp_path / "course")
    for student in ("alice", "bob"):
        assert (tmp_path / "course" / "submitted" / student / name / f"{name}.ipynb").read_bytes() == notebook
    assert (tmp_path / "course" / "submitted" / "bob" / name / "timestamp.txt").read_text() == "2026-01-02 03:04:05"
    assert not (tmp_path / "course" / "submitted" / "alice" / name / "timestamp.txt").exists()
    assert len(collected) == 2 and [Path(p).name for p, _ in skipped] == ["notes.ipynb"]
    assert [s for s, n, _ in grading.submissions(tmp_path / "course")] == ["alice", "bob"]


def test_collect_refuses_traversal_links_and_duplicates(tmp_path):
    import zipfile

    name = MODULES[0]
    notebook = (SOURCE / name / f"{name}.ipynb").read_bytes()
    download = tmp_path / "download"
    download.mkdir()
    for bad in ("..", ".", "a b", "x$y"):
        (download / f"{bad}_{name}.ipynb").write_bytes(notebook)
    (download / f"carol_{name}.ipynb").symlink_to(SOURCE / name / f"{name}.ipynb")
    (download / "dave").mkdir()
    (download / "dave" / f"{name}.ipynb").write_bytes(notebook)
    (download / f"dave_{name}.ipynb").write_bytes(b"second")
    with zipfile.ZipFile(tmp_path / "lms.zip", "w") as archive:
        archive.writestr(f"/tmp/eve_{name}.ipynb", notebook)
        archive.writestr(f"../../frank_{name}.ipynb", notebook)
        archive.writestr(f"dave/{name}/{name}.ipynb", b"third")
    course = tmp_path / "course"
    collected, skipped = grading.collect([download, tmp_path / "lms.zip"], root=course)
    reasons = {Path(source.split(":")[-1]).name: reason for source, reason in skipped}
    assert [p.relative_to(course).as_posix() for p in collected] == [f"submitted/dave/{name}/{name}.ipynb"]
    assert (course / "submitted" / "dave" / name / f"{name}.ipynb").read_bytes() == notebook  # the first kept
    for bad in (f".._{name}.ipynb", f"._{name}.ipynb", f"a b_{name}.ipynb", f"x$y_{name}.ipynb"):
        assert "invalid student id" in reasons[bad], reasons
    assert reasons[f"carol_{name}.ipynb"] == "a link"
    assert reasons[f"eve_{name}.ipynb"] == reasons[f"frank_{name}.ipynb"] == "a path outside the archive"
    assert "second submission of dave" in reasons[f"dave_{name}.ipynb"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ipynb") if "download" not in p.parts) == \
        [f"course/submitted/dave/{name}/{name}.ipynb"]


def test_record_copies_no_links(tmp_path):
    """A link in the autograded folder (to an instructor file or /dev/zero) is left out, not followed."""
    autograded = tmp_path / "job" / "autograded"
    autograded.mkdir(parents=True)
    (autograded / "result.txt").write_text("ok")
    (autograded / "zero").symlink_to("/dev/zero")
    (autograded / "secret").symlink_to(SOURCE / MODULES[0] / f"{MODULES[0]}.ipynb")
    grading.generate(MODULES[0], tmp_path / "release" / MODULES[0], grading.gradebook_url(tmp_path))
    result = {"student": "alice", "assignment": MODULES[0], "autograded": str(autograded), "cells": {}, "timestamp": None}
    grading.record(result, tmp_path)
    assert sorted(p.name for p in (tmp_path / "autograded" / "alice" / MODULES[0]).iterdir()) == ["result.txt"]


def test_grading_refuses_without_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    sandbox.problem.cache_clear()
    try:
        with pytest.raises(grading.GradingError, match=r"(?s)refusing.*not installed.*apt-get install bubblewrap"
                                                       r".*--unsafe-no-sandbox"):
            grading.grade(tmp_path, progress=False)
    finally:
        sandbox.problem.cache_clear()
