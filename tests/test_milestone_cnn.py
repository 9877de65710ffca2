"""Milestone 04 (CNN, 1998): the notebook runs end to end on the package and reaches its targets:
at least 98.5% test accuracy on the 8x8 digits and 90% on Fashion-MNIST (required in CI)."""
import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import require
from tinytorch import datasets
from tinytorch_course import ROOT

NOTEBOOK = ROOT / "book" / "milestones" / "04_cnn.ipynb"


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
    assert nb.metadata["mystnb"]["merge_streams"] is True, "progress bars must render as plain text in the book"


@pytest.fixture(scope="module")
def executed():
    require(datasets.find_files("fashion-mnist") is not None, "the Fashion-MNIST files")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.slow
def test_milestone_reaches_both_targets(executed):
    results = _text(executed.cells[-1])
    print(results)
    digits = float(re.search(r"8x8 digits:\s+([\d.]+)% test accuracy", results).group(1))
    fashion = float(re.search(r"Fashion-MNIST:\s+([\d.]+)% test accuracy", results).group(1))
    mlp = float(re.search(r"parameters: ([\d.]+)%", results).group(1))
    assert digits >= 98.5 and fashion >= 90.0
    assert fashion > mlp, "the CNN beats the MLP with fewer parameters"
    assert re.search(r"first-layer filters changed by \d+%", "".join(_text(c) for c in executed.cells))


@pytest.mark.slow
def test_milestone_output_is_clean(executed):
    from myst_nb.core.utils import coalesce_streams

    images = 0
    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", output
            assert output.get("name") != "stderr", f"stderr in {cell.source[:60]!r}: {output['text'][:300]}"
            images += "image/png" in output.get("data", {})
        # what the book shows: streams merged, carriage returns applied
        for output in coalesce_streams([nbformat.from_dict(o) for o in cell.outputs]):
            assert "\r" not in output.get("text", ""), f"progress bar left a carriage return in {cell.source[:60]!r}"
    assert images >= 4, "loss curves, confusion matrix and misclassified images are plotted"
    bars = [line for c in executed.cells
            for o in coalesce_streams([nbformat.from_dict(o) for o in c.outputs])
            for line in o.get("text", "").splitlines() if "100%|" in line]
    assert len(bars) >= 3 and all("\x1b" not in line for line in bars), bars
