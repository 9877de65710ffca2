"""The solution regions of an instructor notebook (``### BEGIN SOLUTION`` ... ``### END SOLUTION``):
the reference code of its solution cells, and the lines of those regions that no student or reader
may see (in a release notebook, or in the book's pages and their outputs)."""
import re

from tinytorch_course.export import SOLUTION_MARKER

REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
MIN_LENGTH = 16  # shorter lines (`return out`, `else:`, `n = len(x)`) say nothing about the answer


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _code_lines(text):
    """Non-trivial lines of code: comments dropped, whitespace collapsed."""
    lines = (" ".join(line.split("#", 1)[0].split()) for line in text.splitlines())
    return {line for line in lines if len(line) >= MIN_LENGTH}


def reference_code(nb):
    """``{grade_id: source}`` of every solution cell, with the solution markers dropped (as exported)."""
    return {_nbgrader(cell)["grade_id"]: "\n".join(line for line in cell.source.split("\n") if not SOLUTION_MARKER.match(line))
            for cell in nb.cells if _nbgrader(cell).get("solution")}


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


def leaks(lines, texts):
    """``{line: [indices of the texts that contain it]}`` for the ``lines`` found in ``texts``
    (whitespace collapsed, so that layout cannot hide a line)."""
    texts = [" ".join(text.split()) for text in texts]
    found = {}
    for line in lines:
        where = [i for i, text in enumerate(texts) if line in text]
        if where:
            found[line] = where
    return found
