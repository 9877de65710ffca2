"""The release gives no solution away: no non-trivial line of a source notebook's solution region
appears anywhere else in its release notebook, in prose or in code."""
import nbformat
import pytest

from tinytorch_course import RELEASE, SOURCE, module_notebooks, solutions
from tinytorch_course.solutions import solution_lines

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]


def leaks(source_nb, release_nb):
    """Solution lines found in the release notebook: ``{line: [cell indices]}``."""
    return solutions.leaks(solution_lines(source_nb), [cell.source for cell in release_nb.cells])


@pytest.mark.parametrize("name", MODULES)
def test_release_does_not_contain_solution_lines(name):
    released = RELEASE / name / f"{name}.ipynb"
    assert released.exists(), f"release/{name} is missing: run `tinytorch course release {name[:2]}`"
    source_nb = nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)
    release_nb = nbformat.read(released, as_version=4)
    assert solution_lines(source_nb), f"{name}: no solution region found"
    found = leaks(source_nb, release_nb)
    assert not found, f"release/{name} shows solution code in cells: " + "; ".join(f"{cells}: {line!r}" for line, cells in found.items())


def test_a_planted_leak_is_found():
    source_nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f(a):\n    ### BEGIN SOLUTION\n    out = np.exp(np.minimum(a, 0))  # stable\n    return out\n    ### END SOLUTION\n")])
    release_nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("def f(a):\n    raise NotImplementedError()"),
        nbformat.v4.new_markdown_cell("Hint: write\n`out  = np.exp(np.minimum(a, 0))`"),
    ])
    assert leaks(source_nb, release_nb) == {"out = np.exp(np.minimum(a, 0))": [1]}
