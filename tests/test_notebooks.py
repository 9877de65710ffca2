"""Every instructor notebook executes clean from top to bottom; graded cells stay silent on stderr."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tinytorch_course import ROOT, SOURCE, module_notebooks


@pytest.mark.slow
@pytest.mark.parametrize("notebook", module_notebooks(SOURCE), ids=lambda p: p.stem)
def test_source_notebook_executes_clean(notebook):
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{meta.get('grade_id', cell.source[:60])}: {output}"
            if meta.get("grade"):
                assert output.get("name") != "stderr", f"graded cell {meta['grade_id']} wrote to stderr: {output['text']}"


@pytest.mark.parametrize("notebook", module_notebooks(SOURCE), ids=lambda p: p.stem)
def test_source_notebook_is_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", module_notebooks(SOURCE), ids=lambda p: p.stem)
def test_nbgrader_validate_accepts_the_solution(notebook, tmp_path):
    """nbgrader's own check: the cell metadata is valid and the solution passes every test."""
    nbgrader = Path(sys.executable).parent / "nbgrader"
    out = subprocess.run([nbgrader, "validate", notebook], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert "Success! Your notebook passes all the tests." in out.stdout, out.stdout + out.stderr
