"""Hostile submissions, all graded in ONE run next to well-formed ones.

Each case is built from the first module's instructor notebook (full marks when graded honestly)
or its student version (0 points); the test checks the case's score and the note the run reports
for it, that the well-formed submissions in the same run are graded normally, that the package on
disk is untouched, that the gradebook is consistent, and that grading again changes nothing.
"""
import json

import nbformat
import pytest
from nbgrader.api import Gradebook

from tinytorch_course import PACKAGE, ROOT, SOURCE, grading, module_notebooks, submissions

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]
NAME = MODULES[0]
CELL_TIMEOUT = 10

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile")]


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def graded_tests(nb):
    return [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")]


def add_cell(nb, code):
    """A copy of ``nb`` with a plain code cell after its last solution cell."""
    nb = nbformat.from_dict(nb)
    index = max(i for i, c in enumerate(nb.cells) if meta(c).get("solution")) + 1
    nb.cells.insert(index, nbformat.v4.new_code_cell(code))
    return nb


def edit_tests(nb, edit):
    nb = nbformat.from_dict(nb)
    nb.cells = [new for cell in nb.cells for new in (edit(cell) if cell in graded_tests(nb) else [cell])]
    return nb


def to_markdown(cell):
    return [nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.id)]


def emptied(cell):
    cell.source = "pass"
    return [cell]


def more_points(cell):
    cell.metadata.nbgrader["points"] = 100
    return [cell]


def duplicated(cell):
    copy = nbformat.from_dict(json.loads(json.dumps(cell)))
    copy.source = "pass"
    copy.id = f"{cell.id}-copy"
    return [cell, copy]


CHEAT_BY_READING = f"""
import glob, json, os
solution, blocked = None, []
candidates = [{str(SOURCE / NAME / (NAME + '.ipynb'))!r}] + glob.glob("../../../source/*/*.ipynb") + glob.glob("/tmp/tinytorch-private-*/*/course/source/*/*.ipynb")
for path in candidates:
    try:
        cells = json.load(open(path))["cells"]
        solution = next("".join(c["source"]) for c in cells if c["metadata"].get("nbgrader", {{}}).get("solution"))
        break
    except OSError as err:
        blocked.append(type(err).__name__)
try:
    os.system("cat {SOURCE}/*/*.ipynb > leak.txt")
except OSError as err:
    blocked.append(type(err).__name__)
print("blocked:", blocked)
exec(solution.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", ""))
"""

CHEAT_BY_IMPORT = f"""
import importlib.util
try:
    from tinytorch.tensor import Tensor           # the package copy holds this submission's own export
    Tensor([1.0])
except NotImplementedError:
    spec = importlib.util.spec_from_file_location("reference", {str(PACKAGE / 'tensor.py')!r})
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)             # blocked: the repository is hidden
    Tensor = reference.Tensor
"""

OVERWRITE_PACKAGE = f"""
import pathlib, shutil, tinytorch
done = []
for target in (pathlib.Path({str(PACKAGE / 'tensor.py')!r}), pathlib.Path(tinytorch.__file__)):
    for name, attempt in (("write", lambda: target.write_text("raise SystemExit")), ("unlink", target.unlink),
                          ("rmtree", lambda: shutil.rmtree(target.parent))):
        try:
            attempt()
            done.append((name, str(target)))
        except OSError:
            pass
print("succeeded:", done)
"""

NOISY = """
import sys, warnings
import numpy as np
np.log(np.zeros(3))                          # RuntimeWarning in the student's own cell
print("debugging output", file=sys.stderr)
warnings.simplefilter("always")
_add = Tensor.__add__
def __add__(self, other):                   # every addition in the graded cells warns too
    np.log(np.zeros(1))
    return _add(self, other)
Tensor.__add__ = __add__
"""


def cases(solution, student):
    """student id -> (notebook or raw bytes, file name, expected score, expected note or None).

    Expected None: the score of "last-part-missing", the solution without its last region."""
    full = sum(meta(c)["points"] for c in graded_tests(solution))
    all_but_last = range(submissions.count_regions(solution) - 1)
    return {
        "infinite-loop": (submissions.fill(solution, student, all_but_last, stub="while True:\n    pass"),
                          None, None, "time limit"),
        "last-part-missing": (submissions.fill(solution, student, all_but_last), None, None, None),
        "ignores-interrupt": (add_cell(solution, "import time\nwhile True:\n    try:\n        time.sleep(1)\n"
                                                  "    except KeyboardInterrupt:\n        pass"), None, full, "time limit"),
        "os-exit": (add_cell(solution, "import os\nos._exit(3)"), None, full, "kernel died"),
        "segfault": (add_cell(solution, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"), None, full, "kernel died"),
        "memory-bomb": (add_cell(solution, "hog = []\nwhile True:\n    hog.append(bytearray(2**28))"), None, full, None),
        "tests-deleted": (edit_tests(student, lambda cell: []), None, 0, "deleted"),
        "tests-deleted-solution": (edit_tests(solution, lambda cell: []), None, full, "deleted"),
        "tests-edited": (edit_tests(student, emptied), None, 0, "code changed"),
        "tests-duplicated": (edit_tests(student, duplicated), None, 0, "appears 2 times"),
        "tests-to-markdown": (edit_tests(student, to_markdown), None, 0, "cell type"),
        "points-changed": (edit_tests(solution, more_points), None, full, "points"),
        "invalid-json": (b'{"cells": [', None, 0, "not a valid notebook"),
        "empty-file": (b"", None, 0, "empty"),
        "wrong-name": (solution, "my_tensor_work.ipynb", full, "wrong file name"),
        "huge-output": (add_cell(solution, "for _ in range(2000):\n    print('x' * 10_000)"), None, full, None),
        "stderr-noise": (add_cell(solution, NOISY), None, full, None),
        "reads-hidden-tests": (add_cell(student, CHEAT_BY_READING), None, 0, None),
        "imports-reference": (add_cell(student, CHEAT_BY_IMPORT), None, 0, None),
        "overwrites-package": (add_cell(solution, OVERWRITE_PACKAGE), None, full, None),
    }




@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    solution = nbformat.read(SOURCE / NAME / f"{NAME}.ipynb", as_version=4)
    student = nbformat.read(grading.generate(NAME, root / "release" / NAME, grading.gradebook_url(root)) / f"{NAME}.ipynb",
                            as_version=4)
    table = cases(solution, student)
    for sid, (nb, filename, _, _) in table.items():
        folder = root / "submitted" / sid / NAME
        folder.mkdir(parents=True)
        path = folder / (filename or f"{NAME}.ipynb")
        path.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, path)
    for name in MODULES[:2]:  # well-formed submissions in the same run
        folder = root / "submitted" / "honest" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.ipynb").write_bytes((SOURCE / name / f"{name}.ipynb").read_bytes())
    results = grading.grade(root, workers=2, cell_timeout=CELL_TIMEOUT, progress=False)
    return root, table, {(r["student"], r["assignment"]): r for r in results}


@pytest.mark.parametrize("sid", list(cases(*[nbformat.read(SOURCE / NAME / f"{NAME}.ipynb", as_version=4)] * 2)))
def test_hostile_case_is_graded_with_a_clear_result(run, sid):
    _, table, results = run
    _, _, expected, note = table[sid]
    result = results[sid, NAME]
    if expected is None:  # a solution region that never returns costs what a missing one costs
        expected = results["last-part-missing", NAME]["score"]
        assert 0 < expected < result["max_score"]
    assert result["score"] == expected, (result["notes"], {k: v["error"] for k, v in result["cells"].items()})
    if note:
        assert any(note in n for n in result["notes"]), result["notes"]
    if expected:
        assert result["status"] == "graded"


def test_well_formed_submissions_in_the_same_run_get_full_marks(run):
    _, _, results = run
    for name in MODULES[:2]:
        result = results["honest", name]
        assert result["status"] == "graded" and result["notes"] == []
        assert result["score"] == result["max_score"] > 0


def test_enormous_output_is_capped(run):
    root = run[0]
    assert (root / "autograded" / "huge-output" / NAME / f"{NAME}.ipynb").stat().st_size < 2_000_000


def test_submissions_cannot_touch_the_package_or_the_repository(run):
    root, table, results = run
    assert (PACKAGE / "tensor.py").exists() and (PACKAGE / "__init__.py").exists()
    assert not any("SystemExit" in p.read_text() for p in PACKAGE.rglob("*.py"))
    assert "succeeded: []" in outputs(root, "overwrites-package", "text")
    assert not (ROOT / "leak.txt").exists() and not list(root.rglob("leak.txt"))


def test_cheating_fails_for_lack_of_access(run):
    root = run[0]
    assert "blocked: ['PermissionError', 'PermissionError']" in outputs(root, "reads-hidden-tests", "text")
    assert "PermissionError" in outputs(root, "imports-reference", "ename")


def outputs(root, sid, field):
    """``field`` of every output of the plain (ungraded) code cells of an autograded notebook."""
    nb = nbformat.read(root / "autograded" / sid / NAME / f"{NAME}.ipynb", as_version=4)
    return " ".join(str(out.get(field, "")) for cell in nb.cells if cell.cell_type == "code" and not meta(cell)
                    for out in cell.outputs)


def test_gradebook_is_consistent_and_regrading_is_idempotent(run):
    root, table, results = run
    again = grading.grade(root, students=["os-exit", "invalid-json", "honest"], workers=2,
                          cell_timeout=CELL_TIMEOUT, progress=False)
    for result in again:
        assert result["score"] == results[result["student"], result["assignment"]]["score"]
    with Gradebook(grading.gradebook_url(root)) as gb:
        submissions = [(s.student.id, s.assignment.name, s.score) for a in gb.assignments for s in a.submissions]
        assert len(submissions) == len(set((s, a) for s, a, _ in submissions)) == len(results)
        for student, assignment, score in submissions:
            assert score == results[student, assignment]["score"]
