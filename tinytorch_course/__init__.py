"""Course tooling (not part of the framework): export notebooks to the package, release and grade
with nbgrader, build the book. Kept outside `tinytorch` so that it works even when a student's
exported code is broken. Needs the ``course`` extra.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
PACKAGE = ROOT / "tinytorch"


def module_notebooks(folder=SOURCE):
    """The module notebooks ``NN_name/NN_name.ipynb`` under ``folder``, in course order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*/[0-9][0-9]_*.ipynb") if p.stem == p.parent.name)
