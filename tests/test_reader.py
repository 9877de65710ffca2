"""The reader edition of a module page: the release notebook's cells with the outputs of a run on
the reference code; no output may show a solution line; made again only when an input changes;
handed to the book in place of a release notebook only when it matches it."""
import logging
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tinytorch_course import reader

pytestmark = pytest.mark.slow  # each reader notebook starts a kernel

SOLUTION = "def double_plus_one(x):\n    ### BEGIN SOLUTION\n    return 2 * x + 1  # the answer\n    ### END SOLUTION\n"
STUB = "def double_plus_one(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def _notebooks(folder, demo="print('f(3) =', double_plus_one(3))"):
    """A one-module course under ``folder``: instructor and release notebook; ``demo`` is the cell after the solution."""
    meta = {"nbgrader": {"solution": True, "grade": False, "grade_id": "f", "locked": False, "schema_version": 3}}
    paths = []
    for kind, code in (("source", SOLUTION), ("release", STUB)):
        nb = new_notebook(cells=[new_markdown_cell("# Module 01: Test"), new_code_cell(code, metadata=meta),
                                 new_code_cell(demo)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = folder / kind / "01_test" / "01_test.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def test_reader_notebook_has_the_release_cells_and_the_reference_outputs(tmp_path):
    source, release = _notebooks(tmp_path)
    nb = reader.make(source, release)
    released = nbformat.read(release, as_version=4)
    assert [(c.cell_type, c.source) for c in reader.release_cells(nb)] == [(c.cell_type, c.source) for c in released.cells]
    assert nb.cells[1].metadata[reader.KEY] == "note"
    assert nb.cells[2].source == STUB and nb.cells[2].outputs == []
    assert nb.cells[3].outputs[0].text == "f(3) = 7\n"
    assert "2 * x + 1" not in nbformat.writes(nb)


@pytest.mark.parametrize("demo", ["import inspect; print(inspect.getsource(double_plus_one))",
                                  "import inspect; inspect.getsource(double_plus_one)"])
def test_an_output_showing_solution_code_fails(tmp_path, demo):
    source, release = _notebooks(tmp_path, demo)
    with pytest.raises(reader.ReaderError, match=r"01_test: outputs would show solution code: \['return 2 \* x \+ 1'\]"):
        reader.make(source, release)


def test_a_failing_reference_fails_naming_the_module(tmp_path):
    source, release = _notebooks(tmp_path, "assert double_plus_one(3) == 8, 'wrong'")
    with pytest.raises(reader.ReaderError, match="01_test: a cell fails with the reference implementation: AssertionError: wrong"):
        reader.make(source, release)


def test_made_again_only_when_a_notebook_changes(tmp_path):
    source, release = _notebooks(tmp_path)
    cache, made = tmp_path / "cache", []
    assert reader.load(cache, source, release, made.append).cells[3].outputs[0].text == "f(3) = 7\n"
    reader.load(cache, source, release, made.append)
    assert len(made) == 1
    source.write_text(source.read_text().replace("2 * x + 1", "x + x + 2"))
    assert reader.load(cache, source, release, made.append).cells[3].outputs[0].text == "f(3) = 8\n"
    assert len(made) == 2 and nbformat.read(reader.path(cache, "01_test"), as_version=4).cells[3].outputs[0].text == "f(3) = 8\n"


def test_the_book_reads_a_module_page_from_its_reader_notebook(tmp_path, caplog):
    source, release = _notebooks(tmp_path)
    app = SimpleNamespace(srcdir=str(tmp_path), config=SimpleNamespace(nb_execution_cache_path="cache"))
    content = [release.read_text()]
    reader._substitute(app, "release/01_test/01_test", content)
    assert content[0] == nbformat.writes(nbformat.read(reader.path(tmp_path / "cache", "01_test"), as_version=4))
    assert "f(3) = 7" in content[0] and "2 * x + 1" not in content[0]

    content = [release.read_text().replace("# Module 01: Test", "# Module 01: Changed")]
    with caplog.at_level(logging.WARNING):
        reader._substitute(app, "release/01_test/01_test", content)
    assert "# Module 01: Changed" in content[0] and "01_test changed while the book was read" in caplog.text

    for docname in ("book/intro", "release/02_other/02_other"):  # not a module page; no instructor notebook
        content = ["{}"]
        reader._substitute(app, docname, content)
        assert content == ["{}"]
