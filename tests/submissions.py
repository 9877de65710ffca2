"""Synthetic submissions, for testing and benchmarking the grading pipeline.

A module's solution *regions* are the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` blocks of its
instructor notebook, counted in notebook order. ``fill(source_nb, student_nb, keep)`` is the
student version with the regions whose index is in ``keep`` filled in from the source: what a
student who has done exactly those parts would submit.
"""
import re

import nbformat

REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*(?:\n|$)", re.M | re.S)


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def solution_sources(source_nb):
    """grade_id -> source of every solution cell of the instructor notebook."""
    return {_nbgrader(c)["grade_id"]: c.source for c in source_nb.cells if _nbgrader(c).get("solution")}


def count_regions(source_nb):
    return sum(len(REGION.findall(text)) for text in solution_sources(source_nb).values())


def fill(source_nb, student_nb, keep, stub="# YOUR CODE HERE\nraise NotImplementedError()"):
    """The student version with the solution regions whose index is in ``keep`` filled in, and
    ``stub`` (nbgrader's by default) in the others."""
    solutions = solution_sources(source_nb)
    counter = iter(range(count_regions(source_nb)))

    def region(match):
        indent, code = match.groups()
        return code if next(counter) in keep else "".join(f"{indent}{line}\n" for line in stub.split("\n"))

    nb = nbformat.from_dict(student_nb)
    for cell in nb.cells:
        if _nbgrader(cell).get("grade_id") in solutions:
            cell.source = REGION.sub(region, solutions[_nbgrader(cell)["grade_id"]]).rstrip("\n")
    return nb


HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.M | re.S)


def trivial(line):
    """Lines too common to be a secret: shorter than 12 characters once stripped (``pass``,
    ``return out``, ``)``, ``else:``), or without a letter."""
    return len(line) < 12 or not re.search(r"[A-Za-z]", line)


def secret_lines(source_folder, release_folder):
    """{stripped line: (module, "solution" or "hidden test")} of every non-trivial line inside a
    solution or hidden-test region of the instructor notebooks, leaving out the lines the release
    notebooks show anyway (provided code that a solution repeats)."""
    public = {line.strip() for nb_path in release_folder.glob("*/*.ipynb")
              for cell in nbformat.read(nb_path, as_version=4).cells for line in cell.source.split("\n")}
    secrets = {}
    for nb_path in sorted(source_folder.glob("[0-9][0-9]_*/[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(nb_path, as_version=4).cells:
            for kind, pattern in (("solution", REGION), ("hidden test", HIDDEN)):
                for match in pattern.finditer(cell.source):
                    for line in match.groups()[-1].split("\n"):
                        line = line.strip()
                        if not trivial(line) and line not in public:
                            secrets.setdefault(line, (nb_path.stem, kind))
    return secrets
