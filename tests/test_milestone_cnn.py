"""Milestone 04 (CNN, 1998): the notebook runs end to end on the package and reaches its targets:
at least 98.5% test accuracy on the 8x8 digits and 90% on Fashion-MNIST (required in CI).
The outputs checked are those of the notebook's run in the book build."""
import re

import nbformat
import pytest

from conftest import require
from test_book import executed_milestone, executed_notebook, site  # noqa: F401  (fixtures: the book build's run)
from tinytorch import datasets
from tinytorch_course import ROOT

NOTEBOOK = ROOT / "book" / "milestones" / "04_cnn.ipynb"


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.fixture(scope="module")
def executed(executed_milestone):
    require(datasets.find_files("fashion-mnist") is not None, "the Fashion-MNIST files")
    return executed_milestone(NOTEBOOK.name)


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")


@pytest.mark.slow
@pytest.mark.xdist_group("book")
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
@pytest.mark.xdist_group("book")
def test_milestone_output_is_clean(executed):
    images, bars = 0, []
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
            assert output.get("name") != "stderr", f"stderr in {cell.source[:60]!r}: {output['text'][:300]}"
            assert "\r" not in output.get("text", "") and "\x1b" not in output.get("text", ""), cell.source[:60]
            data = output.get("data", {})
            images += "image/png" in data
            if "|" in data.get("text/plain", ""):
                bars.append(data["text/plain"])
    assert images >= 4, "loss curves, confusion matrix and misclassified images are plotted"
    # every progress bar is one line of plain text, in its final state (no widgets)
    assert len(bars) == 11 and all("100%|" in bar and "\n" not in bar and "\r" not in bar for bar in bars), bars
    assert not any("application/vnd.jupyter.widget" in key for c in executed.cells
                   for o in c.get("outputs", []) for key in o.get("data", {}))
