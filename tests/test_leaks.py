"""The release gives no solution away: no non-trivial line of a source notebook's solution region
appears anywhere else in its release notebook, in prose or in code."""
import re

import nbformat
import pytest

from tinytorch_course import RELEASE, SOURCE, module_notebooks

MODULES = [nb.parent.name for nb in module_notebooks(SOURCE)]
REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
MIN_LENGTH = 16  # shorter lines (`return out`, `else:`, `n = len(x)`) say nothing about the answer


def _code_lines(text):
    """Non-trivial lines of code: comments dropped, whitespace collapsed."""
    lines = (" ".join(line.split("#", 1)[0].split()) for line in text.splitlines())
    return {line for line in lines if len(line) >= MIN_LENGTH}


def solution_lines(nb):
    """The non-trivial lines of every solution region, except those its own cell also gives
    outside its regions (a scaffold may repeat a line such as ``for name, p in params.items():``)."""
    lines = set()
    for cell in nb.cells:
        regions = REGION.findall(cell.source)
        given = _code_lines(REGION.sub("", cell.source))
        for region in regions:
            lines |= _code_lines(region) - given
    return lines


def leaks(source_nb, release_nb):
    """Solution lines found in the release notebook: ``{line: [cell indices]}``."""
    cells = [" ".join(cell.source.split()) for cell in release_nb.cells]
    found = {}
    for line in solution_lines(source_nb):
        where = [i for i, text in enumerate(cells) if line in text]
        if where:
            found[line] = where
    return found


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
