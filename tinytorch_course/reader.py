"""The reader edition of the module pages: each module's student notebook with the real outputs
(numbers, figures) of its demonstrations, visible tests and systems corner.

A release notebook has stubs where the solutions go, so it cannot run as it is. To show its
outputs, a copy in which each solution cell holds the reference code of the instructor notebook is
executed, and its outputs are put under the release notebook's own cells: the page shows what the
student sees, stubs included, and what the reference implementation prints and draws. Hidden tests
are never run or shown (the release has none). Solution cells keep no output, and no output may
contain a solution line of any module (a warning, for one, quotes the line of package code that
raised it), so no solution text reaches the site.

This module is a Sphinx extension (``_config.yml``): when the book reads a module page, it gives
MyST-NB the reader notebook in place of the release notebook (the page's downloadable source stays
the release notebook). Reader notebooks are kept in the execution cache (``reader/NN_name.ipynb``),
which ``tinytorch book`` empties when the package changes, and are made again when the instructor
or release notebook, or this file, changes.
"""
import copy
import functools
import hashlib
import re
import tempfile
import time
from pathlib import Path

import nbformat

from tinytorch_course import module_notebooks, solutions

FOLDER = "reader"  # inside the execution cache
KEY = "tinytorch_reader"  # notebook metadata: the hash the reader notebook was made from
DOCNAME = re.compile(r"release/(?P<name>\d\d_\w+)/(?P=name)")
NOTE = (
    ":::{note}\nThe outputs on this page come from the reference implementation, run when the book "
    "was built: the numbers and figures are real measurements. The code cells are the student "
    "notebook's, with the exercises left open.\n:::"
)


class ReaderError(Exception):
    """A reader notebook cannot be made: the reference fails, or an output would show a solution."""


def path(cache, name):
    """Where the reader notebook of module ``name`` (``01_tensor``) lives in the execution cache."""
    return Path(cache) / FOLDER / f"{name}.ipynb"


def _key(source, release):
    digest = hashlib.sha256()
    for file in (Path(__file__), source, release):
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


def _is_solution(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _output_text(output):
    """The text of one output, as a reader could see it (images left out)."""
    parts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    parts += [value for kind, value in output.get("data", {}).items()
              if isinstance(value, str) and not kind.startswith("image/")]
    return "\n".join(parts)


def _execute(nb, name, timeout):
    """Run ``nb`` top to bottom in a fresh kernel in an empty folder; raise ReaderError on a failing cell."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    with tempfile.TemporaryDirectory() as folder:
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
        except CellExecutionError as error:
            raise ReaderError(f"{name}: a cell fails with the reference implementation: {error.ename}: {error.evalue}") from None


def make(source_path, release_path, secret=None, timeout=900):
    """The reader notebook of one module: the release notebook with the outputs of its run on the
    reference code of ``source_path``. ``secret``: the lines no output may contain (default: the
    solution lines of ``source_path``)."""
    name = Path(release_path).stem
    source_nb = nbformat.read(source_path, as_version=4)
    release_nb = nbformat.read(release_path, as_version=4)
    reference = solutions.reference_code(source_nb)
    run = copy.deepcopy(release_nb)
    for cell in filter(_is_solution, run.cells):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if grade_id not in reference:
            raise ReaderError(f"{name}: solution cell {grade_id!r} is not in {source_path}: release the module again")
        cell.source = reference[grade_id]
    _execute(run, name, timeout)

    reader = copy.deepcopy(release_nb)
    for cell, done in zip(reader.cells, run.cells):
        if cell.cell_type == "code" and not _is_solution(cell):
            cell.outputs, cell.execution_count = done.outputs, done.execution_count
    texts = [_output_text(out) for cell in reader.cells if cell.cell_type == "code" for out in cell.outputs]
    found = solutions.leaks(solutions.solution_lines(source_nb) if secret is None else secret, texts)
    if found:
        raise ReaderError(f"{name}: outputs would show solution code: {sorted(found)[:5]}")
    reader.cells.insert(1, nbformat.v4.new_markdown_cell(NOTE, metadata={KEY: "note"}))
    reader.metadata[KEY] = _key(source_path, release_path)
    return reader


@functools.lru_cache(maxsize=None)
def _solution_lines(folder):
    """Every solution line of the instructor notebooks in ``folder``, read once per build (process)."""
    return frozenset().union(*(solutions.solution_lines(nbformat.read(nb, as_version=4)) for nb in module_notebooks(folder)))


def load(cache, source_path, release_path, log=print):
    """The reader notebook of one module from the execution cache, made (and cached) first when it
    is missing or out of date. Its outputs may hold no solution line of any module in the
    instructor notebooks' folder."""
    target, key = path(cache, Path(release_path).stem), _key(source_path, release_path)
    if target.exists():
        nb = nbformat.read(target, as_version=4)
        if nb.metadata.get(KEY) == key:
            return nb
    start = time.perf_counter()
    nb = make(source_path, release_path, _solution_lines(Path(source_path).parents[1]))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    log(f"reader edition of {target.stem} made in {time.perf_counter() - start:.1f} s")
    return nb


def release_cells(reader):
    """The cells of the release notebook a reader notebook was made from (the note taken out)."""
    return [cell for cell in reader.cells if cell.metadata.get(KEY) != "note"]


# --- Sphinx extension -------------------------------------------------------------------------

def _substitute(app, docname, content):
    """``source-read``: a module page is read from its reader notebook (made now if need be)."""
    from sphinx.util import logging

    match, srcdir = DOCNAME.fullmatch(docname), Path(app.srcdir)
    source = srcdir / "source" / match["name"] / f"{match['name']}.ipynb" if match else None
    if source is None or not source.exists():  # not a module page, or the student edition (no source/)
        return
    logger = logging.getLogger(__name__)
    try:
        nb = load(srcdir / app.config.nb_execution_cache_path, source, srcdir / f"{docname}.ipynb", logger.info)
    except ReaderError as error:
        logger.warning(f"no reader edition: {error}", location=docname)
        return
    released = nbformat.reads(content[0], as_version=4)
    if [(c.cell_type, c.source) for c in release_cells(nb)] != [(c.cell_type, c.source) for c in released.cells]:
        logger.warning(f"{match['name']} changed while the book was read: build again", location=docname)
        return
    content[0] = nbformat.writes(nb)


def setup(app):
    app.connect("source-read", _substitute)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
