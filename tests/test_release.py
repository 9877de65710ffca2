"""release/ is exactly what nbgrader generates from source/, module by module."""
import filecmp

import nbformat
import pytest

from tinytorch_course import RELEASE, SOURCE, grading, module_notebooks

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    list(grading.release(root / "release", grading.gradebook_url(root)))
    return root / "release"


@pytest.mark.parametrize("name", MODULES)
def test_release_is_what_nbgrader_generates(regenerated, name):
    fresh, committed = regenerated / name, RELEASE / name
    assert committed.is_dir(), f"release/{name} is missing: run `tinytorch course release`"
    compare = filecmp.dircmp(fresh, committed)
    stale = compare.left_only + compare.right_only + filecmp.cmpfiles(fresh, committed, compare.common_files, shallow=False)[1]
    assert not stale, f"release/{name} differs from a fresh release ({stale}): run `tinytorch course release`"


@pytest.mark.parametrize("name", MODULES)
def test_release_hides_solutions_and_hidden_tests(name):
    nb = nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
        assert marker not in text
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions and all("raise NotImplementedError()" in c.source for c in solutions)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_release_has_no_other_modules():
    released = sorted(p.name for p in RELEASE.glob("[0-9][0-9]_*") if p.is_dir())  # not milestones/, the student's runs
    assert released == MODULES
