"""``tinytorch status`` and ``tinytorch milestone``: a student's progress and the milestones it unlocks.

The milestone requirements are checked against the specification's table. The logic of ``status``
(states, unlocking, the cache, the JSON schema, refusing a locked milestone) is tested in this
process on copies of release/ with the visible-test run replaced by a counting stand-in; the real
thing runs once, in a student edition: a student fills in modules 01-03, exports them, sees
Milestone 01 unlocked and runs it on their own code with ``tinytorch milestone 01``.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from tinytorch_course import RELEASE, ROOT, book, grading, module_notebooks, status
from tinytorch_course.cli import main
from tinytorch_course.course import MILESTONES, MODULES, spans
from tinytorch_course.grading.edition import solution_notebook

RELEASED = {int(p.parent.name[:2]): p for p in module_notebooks(RELEASE)}
STATES = {"not started", "in progress", "complete"}


def total_points(path):
    nb = nbformat.read(path, as_version=4)
    return sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


def complete(folder, numbers):
    """A student's work in ``folder``: modules ``numbers`` filled in with the solution, the rest untouched."""
    shutil.copytree(RELEASE, folder)
    for n in numbers:
        name = RELEASED[n].parent.name
        nbformat.write(solution_notebook(name, RELEASED[n]), folder / name / f"{name}.ipynb")
    return folder


class FakeCheck:
    """Stands in for ``tinytorch check``: counts its calls and gives ``fraction`` of the points."""

    def __init__(self, fraction=1.0, graded=True):
        self.calls, self.fraction, self.graded = [], fraction, graded

    def __call__(self, name, notebook):
        self.calls.append(name)
        total = total_points(notebook)
        return {"status": "graded" if self.graded else "not graded", "notes": [],
                "cells": {"test": {"score": total * self.fraction, "max": total}}}


@pytest.fixture
def fake(monkeypatch):
    check = FakeCheck()
    monkeypatch.setattr(status, "visible_check", check)
    return check


@pytest.fixture
def first_three(tmp_path):
    return complete(tmp_path / "work", (1, 2, 3))


# --- the declaration ----------------------------------------------------------------------------

def spec_table():
    """{milestone: (name, required modules)} from the specification's module-to-milestone table."""
    spec = (ROOT / "tinytorch_course" / "course-structure.md").read_text(encoding="utf-8")
    table = spec.split("## 🎯 Module → Milestone Mapping", 1)[1].split("\n---", 1)[0]
    rows = {}
    for line in table.splitlines():
        if m := re.match(r"\|\s*(\d\d)\s*\|\s*(.+?)\s*\|\s*([\d\-, ]+?)\s*\|", line):
            required = set()
            for part in m.group(3).split(","):
                first, _, last = part.strip().partition("-")
                required.update(range(int(first), int(last or first) + 1))
            rows[int(m.group(1))] = (m.group(2), required)
    return rows


def test_milestone_requirements_are_the_specification_table():
    table = spec_table()
    assert len(table) == 5
    assert {n: (m.name, set(m.requires)) for n, m in MILESTONES.items()} == table


def test_learning_journey_shows_the_declared_table():
    page = (ROOT / "book" / "learning-journey.md").read_text(encoding="utf-8")
    assert "{include} _generated/milestone-map.md" in page
    assert (ROOT / book.MILESTONE_MAP).read_text(encoding="utf-8") == book.render_milestone_map()
    for n, milestone in MILESTONES.items():
        assert f"| {n:02d} | {milestone.name} | {spans(milestone.requires)} |" in book.render_milestone_map()
    assert spans((1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13)) == "01-06, 08-13" and spans((7,)) == "07"


# --- status ---------------------------------------------------------------------------------------

def test_untouched_release_is_not_started_without_running_anything(tmp_path, fake):
    progress = status.status(RELEASE, cache=tmp_path / "cache.json", progress=False)
    assert fake.calls == []
    assert list(progress["modules"]) == [f"{n:02d}" for n in status.COURSE_ORDER if n in RELEASED]
    for key, module in progress["modules"].items():
        assert module == {"state": "not started", "points": 0, "total": total_points(RELEASED[int(key)])}, key
        assert module["total"] > 0
    assert not any(m["unlocked"] for m in progress["milestones"].values())
    assert progress["milestones"]["01"]["missing"] == ["01", "02", "03"]
    assert status.render(progress).endswith("Next: start 01 Tensor")


def test_modules_01_to_03_complete_unlock_milestone_01_only(first_three, tmp_path, fake):
    progress = status.status(first_three, cache=tmp_path / "cache.json", progress=False)
    assert sorted(fake.calls) == ["01_tensor", "02_activations", "03_layers"]  # only the started ones ran
    for key, module in progress["modules"].items():
        expected = "complete" if key in ("01", "02", "03") else "not started"
        assert module["state"] == expected, key
        assert module["points"] == (module["total"] if expected == "complete" else 0)
    milestones = progress["milestones"]
    assert milestones["01"] == {"unlocked": True, "missing": []}
    assert milestones["02"] == milestones["03"] == {"unlocked": False, "missing": ["04", "05", "06"]}
    assert milestones["04"]["missing"] == ["04", "05", "06", "08", "09"]
    assert milestones["05"]["missing"] == ["04", "05", "06", "08", "09", "10", "11", "12", "13"]
    text = status.render(progress, first_three)
    assert re.search(r"01 Perceptron \(1957\) +unlocked", text)
    assert "02 XOR (1969)" in text and "locked: finish 04 Losses, 05 Autograd, 06 Optimizers" in text
    assert text.endswith("Next: run Milestone 01: Perceptron (1957): `tinytorch milestone 01`")


def test_partial_work_is_in_progress(first_three, tmp_path, monkeypatch):
    monkeypatch.setattr(status, "visible_check", FakeCheck(fraction=0.5))
    progress = status.status(first_three, numbers=(1,), cache=tmp_path / "cache.json", progress=False)
    module = progress["modules"]["01"]
    assert module["state"] == "in progress" and module["points"] == module["total"] / 2
    assert list(progress["modules"]) == ["01"] and progress["milestones"]["01"]["missing"] == ["01", "02", "03"]
    assert "Next: finish 01 Tensor" in status.render(progress, first_three)


def test_second_run_comes_from_the_cache(first_three, tmp_path, fake, monkeypatch):
    cache = tmp_path / "cache.json"
    first = status.status(first_three, cache=cache, progress=False)
    assert len(fake.calls) == 3
    assert status.status(first_three, cache=cache, progress=False) == first
    assert len(fake.calls) == 3, "the second run executed checks"

    layers = first_three / "03_layers" / "03_layers.ipynb"
    nb = nbformat.read(layers, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))
    nbformat.write(nb, layers)
    status.status(first_three, cache=cache, progress=False)
    assert fake.calls[3:] == ["03_layers"], "only the changed notebook runs again"

    monkeypatch.setattr(book, "package_hash", lambda: "another package")
    status.status(first_three, cache=cache, progress=False)
    assert sorted(fake.calls[4:]) == ["01_tensor", "02_activations", "03_layers"], "a new export runs every check again"


def test_a_check_that_could_not_grade_is_not_cached(first_three, tmp_path, monkeypatch):
    failing = FakeCheck(fraction=0.0, graded=False)
    monkeypatch.setattr(status, "visible_check", failing)
    progress = status.status(first_three, numbers=(1,), cache=tmp_path / "cache.json", progress=False)
    assert progress["modules"]["01"]["state"] == "in progress"
    status.status(first_three, numbers=(1,), cache=tmp_path / "cache.json", progress=False)
    assert failing.calls == ["01_tensor", "01_tensor"]


def test_json_has_exactly_the_documented_schema(first_three, tmp_path, fake, monkeypatch, capsys):
    monkeypatch.setattr(status, "CACHE", tmp_path / "cache.json")
    assert main(["status", "--json", "--dir", str(first_three)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"modules", "milestones"}
    assert set(out["modules"]) == {f"{n:02d}" for n in RELEASED}
    for module in out["modules"].values():
        assert set(module) == {"state", "points", "total"} and module["state"] in STATES
        assert all(isinstance(module[k], (int, float)) for k in ("points", "total"))
    assert set(out["milestones"]) == {f"{n:02d}" for n in MILESTONES}
    for milestone in out["milestones"].values():
        assert set(milestone) == {"unlocked", "missing"} and isinstance(milestone["unlocked"], bool)
        assert all(re.fullmatch(r"\d\d", m) and int(m) in MODULES for m in milestone["missing"])
    assert len(fake.calls) == 3
    assert main(["status", "--json", "--dir", str(first_three)]) == 0 and len(fake.calls) == 3
    assert json.loads(capsys.readouterr().out) == out


def test_locked_milestone_is_refused(first_three, tmp_path, fake, monkeypatch, capsys):
    monkeypatch.setattr(status, "CACHE", tmp_path / "cache.json")
    assert main(["milestone", "02", "--dir", str(first_three)]) == 2
    err = capsys.readouterr().err
    assert "Milestone 02: XOR (1969) is locked: finish 04 Losses, 05 Autograd, 06 Optimizers first" in err
    assert "--force" in err
    assert not (first_three / "milestones").exists()
    assert main(["milestone", "07", "--dir", str(first_three)]) == 2
    assert "no milestone 07" in capsys.readouterr().err


# --- the real thing, in a student edition -------------------------------------------------------

def tinytorch(edition, *args):
    """Start the edition's own ``tinytorch`` command (its tools, its package); ``.communicate()`` waits."""
    env = {**os.environ, "PYTHONPATH": str(edition)}
    return subprocess.Popen([sys.executable, "-m", "tinytorch_course.cli", *args], cwd=edition, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(command):
    """``(exit status, stdout, stderr)`` of a started command."""
    out, err = command.communicate(timeout=900)
    return command.returncode, out, err


@pytest.mark.slow
def test_milestone_01_runs_on_the_students_code_in_the_student_edition(tmp_path):
    edition = grading.student_edition(tmp_path / "edition", git=False)
    release = edition / "release"

    # The student fills in modules 01-03 and exports them; every later module is a stub.
    names = [RELEASED[n].parent.name for n in (1, 2, 3)]
    for name in names:
        nbformat.write(solution_notebook(name, release / name / f"{name}.ipynb"), release / name / f"{name}.ipynb")
    code, _, err = finished(tinytorch(edition, "export", *[f"release/{name}/{name}.ipynb" for name in names]))
    assert code == 0, err

    # Meanwhile (it needs no status), Milestone 02 forced: it runs on the edition's package and stops
    # at the first stub of a module the student has not done (04 Losses or 06 Optimizers).
    status_run = tinytorch(edition, "status", "--json")
    try:
        code, out, err = finished(tinytorch(edition, "milestone", "02", "--force"))
        assert code == 1 and "NotImplementedError" in err, out + err
        assert (release / "milestones" / "02_xor.ipynb").exists()
        code, out, err = finished(status_run)
    finally:
        status_run.kill()  # only if a failure above left it running
    assert code == 0, err
    progress = json.loads(out)
    for key in ("01", "02", "03"):
        assert progress["modules"][key]["state"] == "complete", (key, progress["modules"][key])
        assert progress["modules"][key]["points"] == progress["modules"][key]["total"] > 0
    assert {key for key, m in progress["modules"].items() if m["state"] != "not started"} == {"01", "02", "03"}
    assert progress["milestones"]["01"] == {"unlocked": True, "missing": []}
    assert progress["milestones"]["02"] == {"unlocked": False, "missing": ["04", "05", "06"]}

    code, out, err = finished(tinytorch(edition, "milestone", "01"))
    assert code == 0, out + err
    assert "note:" not in err, err  # the package holds the student's exports
    result = json.loads(out.strip().splitlines()[-1])
    assert result["milestone"] == "01_perceptron" and result["train_accuracy"] == 1.0
    nb = nbformat.read(release / "milestones" / "01_perceptron.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(o.output_type == "error" for o in outputs)
    assert any('{"milestone": "01_perceptron"' in o.get("text", "") for o in outputs)
