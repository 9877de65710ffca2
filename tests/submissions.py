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


def run_in_process(source_nb, bug=(), hidden=False, solved=True, skip=()):
    """Run the code cells of an instructor notebook in this process, up to its last graded cell,
    going on after a failing cell as nbgrader does; return ``{grade_id or "ungraded": message}``
    of the cells that raise.

    ``bug`` is a list of ``(old, new)`` replacements planted in the code; the hidden tests are
    removed unless ``hidden``; with ``solved=False`` every solution region is nbgrader's stub.
    Plain cells containing a string of ``skip`` (slow demonstrations) are not run.
    """
    cells = [c for c in source_nb.cells if c.cell_type == "code"]
    sources = [c.source for c in cells]
    for old, new in bug:
        changed = [s.replace(old, new) for s in sources]
        assert changed != sources, f"the code to plant a bug in, {old!r}, is not in the notebook"
        sources = changed
    if not solved:
        stub = lambda m: f"{m.group(1)}raise NotImplementedError()\n"  # noqa: E731
        sources = [REGION.sub(stub, s) if _nbgrader(c).get("solution") else s for c, s in zip(cells, sources)]
    graded = [_nbgrader(c).get("grade_id") if _nbgrader(c).get("grade") else None for c in cells]
    last = max(i for i, g in enumerate(graded) if g)
    namespace, failures = {"__name__": "__main__"}, {}
    for cell, source, grade_id in zip(cells[: last + 1], sources, graded):
        if not (grade_id or _nbgrader(cell).get("solution")) and any(s in source for s in skip):
            continue
        code = source if hidden else HIDDEN.sub("", source)
        try:
            exec(compile(code, f"<{grade_id or 'cell'}>", "exec"), namespace)
        except Exception as err:
            failures[grade_id or "ungraded"] = f"{type(err).__name__}: {err}"
    return failures


def visible_failures(module, bug=(), skip=()):
    """The failure messages of the visible checks of module ``module`` (e.g. "02") with ``bug`` planted."""
    from tinytorch_course import SOURCE

    path = next(SOURCE.glob(f"{module}_*/{module}_*.ipynb"))
    return run_in_process(nbformat.read(path, as_version=4), bug, skip=skip)


def assert_bug_named(module, bug, cell, words, skip=()):
    """Planting ``bug`` in module ``module`` fails graded cell ``cell`` with a message containing ``words``."""
    failures = visible_failures(module, bug, skip)
    assert cell in failures, f"planting {bug} in module {module} should fail {cell}; failures: {failures}"
    missing = [w for w in words if w not in failures[cell]]
    assert not missing, f"the message of {cell} should mention {missing}: {failures[cell]}"
