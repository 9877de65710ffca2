"""Instructor notebooks are committed valid and without outputs.

That each one runs is checked where it already runs, so no notebook executes twice for the same
fact: grading the instructor notebook as a submission must give full marks (every graded cell,
hidden tests included, passes and writes nothing to stderr; tests/test_grading.py), and the book
build executes every module page with the reference code and fails on any cell's error
(tinytorch_course/reader.py; tests/test_book.py).
"""
import nbformat
import pytest

from tinytorch_course import SOURCE, module_notebooks


@pytest.mark.parametrize("notebook", module_notebooks(SOURCE), ids=lambda p: p.stem)
def test_source_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
