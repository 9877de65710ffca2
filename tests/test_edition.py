"""The student edition holds no solution and no hidden test, and a student can work in it.

The edition is built once; every file in it (notebook cells line by line, other text files line by
line) is scanned for every non-trivial line of a solution or hidden-test region of source/ (the rule
is ``submissions.trivial``: a line counts unless it is shorter than 12 characters or has no letter;
lines the edition's release notebooks show anyway are public, and so are the idioms in
``COMMON_LINES`` that hand-written package code shares with some solution). Then a student's journey, with the
edition's own tools and package: module 01 filled in from the solution,
the solutions of modules 02 and 03 published by the instructor, ``tinytorch check 01``,
``tinytorch export``, milestone 01 run on that package, and ``tinytorch reset``.
"""
import os
import re
import subprocess
import sys
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient

import submissions
from tinytorch_course import SOURCE, grading, module_notebooks
from tinytorch_course.grading import edition as editions

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]
NAME = MODULES[0]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("edition")]
COMMON_LINES = {"rng = np.random.default_rng(seed)"}  # tinytorch/datasets.py, and a solution of module 19


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    return grading.student_edition(tmp_path_factory.mktemp("edition") / "tinytorch", archive=True)


def text_lines(path):
    """The stripped lines of a file as a student reads it: the cells of a notebook, else its text."""
    data = path.read_bytes()
    if path.suffix == ".ipynb":
        return {line.strip() for cell in nbformat.reads(data.decode(), as_version=4).cells
                for line in cell.source.split("\n")}
    return {line.strip() for line in data.decode(errors="replace").splitlines()}


def secrets(edition):
    found = submissions.secret_lines(SOURCE, edition / "release")
    return {line: where for line, where in found.items() if line not in COMMON_LINES}


def test_no_solution_or_hidden_test_line_in_any_file(edition):
    secret = secrets(edition)
    assert len(secret) > 20 * len(MODULES), "too few secret lines found: the scan would prove nothing"
    leaks = {}
    files = [p for p in edition.rglob("*") if p.is_file() and ".git" not in p.relative_to(edition).parts]
    with zipfile.ZipFile(edition.with_suffix(".zip")) as archive:
        assert sorted(n.split("/", 1)[1] for n in archive.namelist()) == sorted(str(p.relative_to(edition)) for p in files)
    for path in files:
        for line in text_lines(path) & secret.keys():
            leaks.setdefault(str(path.relative_to(edition)), []).append((line, *secret[line]))
    assert not leaks, leaks


def test_nothing_instructor_only_is_in_it(edition):
    present = {p.name for p in edition.iterdir()}
    assert {"release", "stubs", "book", "tinytorch", "tinytorch_course", "README.md"} <= present
    assert not present & {"source", "tests", "bench", "gradebook.db", "submitted", "autograded", "feedback", "solutions"}
    assert sorted(p.name for p in (edition / "release").iterdir()) == MODULES
    assert not list(edition.rglob("*.db"))
    assert subprocess.run(["git", "-C", str(edition), "status", "--porcelain"], capture_output=True, text=True,
                          check=True).stdout == ""


def tinytorch(edition, *args):
    """Run the edition's own ``tinytorch`` command (its tools and package, not the repository's)."""
    env = {**os.environ, "PYTHONPATH": str(edition)}
    return subprocess.run([sys.executable, "-m", "tinytorch_course.cli", *args], cwd=edition, env=env,
                          capture_output=True, text=True)


def test_student_journey(edition):
    help_text = tinytorch(edition, "--help").stdout
    assert re.search(r"^ +check ", help_text, re.M) and not re.search(r"^ +course ", help_text, re.M), help_text
    source_nb = nbformat.read(SOURCE / NAME / f"{NAME}.ipynb", as_version=4)
    mine = edition / "release" / NAME / f"{NAME}.ipynb"
    student = nbformat.read(mine, as_version=4)
    nbformat.write(submissions.fill(source_nb, student, range(submissions.count_regions(source_nb))), mine)

    stub = (edition / "tinytorch" / "tensor.py").read_text()
    assert "NotImplementedError" in stub
    run = tinytorch(edition, "export", str(mine.relative_to(edition)))
    assert run.returncode == 0, run.stderr
    assert (edition / "tinytorch" / "tensor.py").read_text() != stub

    # The instructor publishes 02 and 03 (milestone 01 needs them) after their deadlines; module
    # 01's checks need nothing of the later modules, whose package files stay stubs.
    for module in ("02", "03"):
        published = grading.publish_solution(module, edition)
        assert published.parent.parent == edition / "solutions" and published.stem.startswith(module)
        hidden = {line for line, (_, kind) in secrets(edition).items() if kind == "hidden test"}
        assert not text_lines(published) & hidden, "a published solution shows hidden tests"

    run = tinytorch(edition, "check", NAME[:2])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAIL" not in run.stdout and "visible tests:" in run.stdout

    milestone = nbformat.read(edition / "book" / "milestones" / "01_perceptron.ipynb", as_version=4)
    env = {**os.environ, "PYTHONPATH": str(edition), "MPLBACKEND": "Agg"}
    NotebookClient(milestone, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(edition / "book" / "milestones")}}).execute(env=env)
    printed = "".join(out.get("text", "") for cell in milestone.cells for out in cell.get("outputs", []))
    assert "accuracy" in printed.lower(), printed[-2000:]

    run = tinytorch(edition, "reset")
    assert run.returncode == 0, run.stderr
    assert (edition / "tinytorch" / "tensor.py").read_text() == stub  # 01 was not published: the stubs
    for target, text in editions._render(edition / "solutions" / MODULES[1] / f"{MODULES[1]}.ipynb", edition):
        assert target.read_text() == text  # 02 was: its solution
