"""Export the cells of a module notebook into its file in the ``tinytorch`` package.

Two markers, both plain comments on the first line of a code cell:

``#| default_exp nn.layers``  the package file this notebook exports to (``tinytorch/nn/layers.py``)
``#| export``                 this cell goes into that file
``#| export optim.lr_scheduler``  this cell goes into another file (``tinytorch/optim/lr_scheduler.py``),
                             for a module that teaches code with more than one home in the package

nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines are dropped and the code between
them is kept, so the instructor notebook exports the reference implementation and a student's
filled-in release notebook exports the student's own.
"""
import re
import sys
from pathlib import Path

from tinytorch_course import PACKAGE, ROOT, SOURCE, module_notebooks

DEFAULT_EXP = re.compile(r"^#\|\s*default_exp\s+([\w.]+)\s*$")
EXPORT = re.compile(r"^#\|\s*export(?:\s+([\w.]+))?\s*$")
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


class ExportError(Exception):
    """A notebook cannot be exported (no target, or nothing to export)."""


def _first_line(cell):
    return cell.source.split("\n", 1)[0].strip()


def _display(path):
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def render_all(notebook_path, package=PACKAGE):
    """``[(target_path, text), ...]``: every package file a notebook exports, its ``default_exp`` file first."""
    import nbformat  # here, not at the top: the other commands start faster without it

    nb = nbformat.read(notebook_path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    targets = [m.group(1) for c in code if (m := DEFAULT_EXP.match(_first_line(c)))]
    if len(targets) != 1:
        raise ExportError(f"{_display(notebook_path)}: expected one '#| default_exp' cell, found {len(targets)}")
    blocks = {targets[0]: []}
    for cell in code:
        lines = cell.source.split("\n")
        if not (m := EXPORT.match(lines[0].strip())):
            continue
        kept = [line for line in lines[1:] if not SOLUTION_MARKER.match(line)]
        blocks.setdefault(m.group(1) or targets[0], []).append("\n".join(kept).strip("\n"))
    if not blocks[targets[0]]:
        raise ExportError(f"{_display(notebook_path)}: no '#| export' cells")
    header = (
        f"# Generated from {_display(notebook_path)} by `tinytorch export`.\n"
        "# Do not edit: change the notebook and export again.\n"
    )
    return [(Path(package).joinpath(*target.split(".")).with_suffix(".py"), header + "\n\n\n".join(b) + "\n")
            for target, b in blocks.items()]


def render(notebook_path, package=PACKAGE):
    """``(target_path, text)``: the notebook's ``default_exp`` file and its contents."""
    return render_all(notebook_path, package)[0]


def export(notebooks=None, package=PACKAGE):
    """Write each notebook's export into the package; default: every source notebook (the reference)."""
    written = []
    for nb_path in notebooks or module_notebooks(SOURCE):
        for target, text in render_all(nb_path, package):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            written.append((Path(nb_path), target))
    return written


def stale_files():
    """Package files that differ from a fresh export of ``source/`` (empty when all is in sync)."""
    stale = []
    for nb_path in module_notebooks(SOURCE):
        for target, text in render_all(nb_path):
            if not target.exists() or target.read_text() != text:
                stale.append(target)
    return stale


def _cmd_export(args):
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run `tinytorch export` to regenerate the package from source/", file=sys.stderr)
        return 1 if stale else 0
    for nb_path, target in export(args.notebooks):
        print(f"{_display(nb_path)} -> {target.relative_to(ROOT)}")
    return 0


def reference_notebooks():
    """The notebooks ``tinytorch reset`` exports: every instructor notebook in source/ or, in the
    student edition (no source/), each module's published solution (solutions/), else the release
    notebook as it was released (stubs/), so that a student's own work in release/ is left alone."""
    if SOURCE.is_dir():
        return module_notebooks(SOURCE)
    published = {nb.stem: nb for nb in module_notebooks(ROOT / "solutions")}
    return [published.get(nb.stem, nb) for nb in module_notebooks(ROOT / "stubs")]


def _cmd_reset(args):
    for _, target in export(reference_notebooks()):
        print(f"restored {target.relative_to(ROOT)}")
    return 0


def add_commands(commands):
    p = commands.add_parser(
        "export",
        help="export notebooks into the tinytorch package",
        description="Export the '#| export' cells of module notebooks into the tinytorch package. "
        "With no notebook, export every instructor notebook in source/ (the reference). "
        "Give your own filled-in release notebook to run the milestones on your code; "
        "`tinytorch reset` brings the reference back.",
    )
    p.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK", help="module notebook(s) to export")
    p.add_argument("--check", action="store_true", help="only report package files that differ from source/")
    p.set_defaults(func=_cmd_export)

    p = commands.add_parser(
        "reset",
        help="restore the reference package (student edition: the stubs or published solutions)",
        description="Overwrite every exported package file with the export of source/; in the student "
        "edition, with the published solution of each module (solutions/), else its release notebook.",
    )
    p.set_defaults(func=_cmd_reset)
