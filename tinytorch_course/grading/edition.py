"""The student edition: what students get, with no solution and no hidden test in it.

``student_edition(out)`` writes a folder (a git repository, and optionally a zip archive) with the
release notebooks (generated afresh from source/), the milestones and the book sources, the course tools (``tinytorch check``,
``export``, ``reset``), and a ``tinytorch`` package whose module-taught files are exported from the
release notebooks: stubs that raise ``NotImplementedError``. Code that no module teaches (the
package's ``__init__`` files, datasets, random) is copied as it is. No ``source/``, gradebook,
submission, test suite or reference solution goes in.

``publish_solution(module, out)`` adds a module's reference code to an edition after its deadline:
``solutions/NN_name/NN_name.ipynb`` (the edition's release notebook with the solution cells filled
in, still without hidden tests) and the module's package file exported from it, so that a student stuck in
one module can go on with the next ones and the milestones. ``tinytorch reset`` in the edition
restores each module's file from its published solution, or else from ``stubs/`` (the release
notebooks as released; students work in ``release/``).
"""
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import nbformat

from tinytorch_course import PACKAGE, ROOT, SOURCE, export
from tinytorch_course.grading.common import TEMP_PREFIX, GradingError, find_module, modules
from tinytorch_course.grading.releasing import generate
from tinytorch_course.grading.tracebacks import HIDDEN_REGION

# Copied from the repository (when present): the book, the course tools, the set-up.
SHARED = ["book", "tinytorch_course", "_config.yml", "_toc.yml", "nbgrader_config.py", "pyproject.toml",
          "requirements", "scripts/setup.sh", ".gitignore"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", "_build")
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
README = """# TinyTorch (student edition)

Build a PyTorch-style deep-learning framework, module by module, in the notebooks of `release/`.

```bash
bash scripts/setup.sh                                   # .venv with everything the course needs
.venv/bin/tinytorch check 01                            # your notebook against the visible tests
.venv/bin/tinytorch export release/01_tensor/01_tensor.ipynb  # your code into tinytorch/
.venv/bin/tinytorch reset                               # back to the stubs (or published solutions)
.venv/bin/tinytorch status                              # your progress, and the milestones you unlocked
```

The milestones are in `book/milestones/` (`tinytorch milestone NN` runs one on your package once
it is unlocked); `book/getting-started.md` walks through a module. When your instructor publishes
the solution of a module, it appears in `solutions/` and `tinytorch reset` uses it.
"""


def _render(notebook, out):
    """``[(package file in out, text), ...]`` of a notebook's export, naming the notebook relative to ``out``."""
    shown = str(Path(notebook).resolve()), str(Path(notebook).resolve().relative_to(out.resolve()))
    return [(target, text.replace(*shown)) for target, text in export.render_all(notebook, out / "tinytorch")]


def _export(notebook, out):
    """Write a notebook's export into the package of the edition ``out``."""
    for target, text in _render(notebook, out):
        target.write_text(text)


def _commit(out, message):
    if shutil.which("git") and (out / ".git").is_dir():
        git = ["git", "-C", str(out), "-c", "user.name=TinyTorch", "-c", "user.email=tinytorch@localhost"]
        subprocess.run(git + ["add", "-A"], check=True, capture_output=True)
        subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", message], check=True, capture_output=True)


def student_edition(out, archive=False, git=True):
    """Write the student edition into ``out`` (must not exist or be empty); return ``out``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise GradingError(f"{out} is not empty; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX + "edition-") as tmp:
        for name in modules():  # generated afresh: a module not released yet is in it too
            generate(name, out / "release" / name, f"sqlite:///{Path(tmp, 'gradebook.db')}")
    for item in SHARED:
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, out / item, ignore=IGNORE)
        elif path.is_file():
            (out / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / item)
    shutil.copytree(PACKAGE, out / "tinytorch", ignore=IGNORE)
    shutil.copytree(out / "release", out / "stubs")  # as released, for `tinytorch reset`
    for name in modules():
        _export(out / "stubs" / name / f"{name}.ipynb", out)
    (out / "README.md").write_text(README)
    if git and shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(out)], check=True)
        _commit(out, "TinyTorch student edition")
    if archive:
        with zipfile.ZipFile(out.with_suffix(".zip"), "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.rglob("*")):
                if path.is_file() and ".git" not in path.relative_to(out).parts:
                    zf.write(path, Path(out.name, path.relative_to(out)))
    return out


def solution_notebook(name, release_notebook):
    """``release_notebook`` of module ``name`` with its solution cells filled in (no hidden tests)."""
    meta = lambda cell: cell.metadata.get("nbgrader", {})  # noqa: E731
    source = nbformat.read(SOURCE / name / f"{name}.ipynb", as_version=4)
    solutions = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}
    nb = nbformat.read(release_notebook, as_version=4)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in solutions:
            cell.source = HIDDEN_REGION.sub("", SOLUTION_MARKER.sub("", solutions[meta(cell)["grade_id"]]))
    return nb


def publish_solution(module, out):
    """Publish module ``module``'s reference code into the student edition ``out``; return the notebook."""
    out, name = Path(out), find_module(module)
    if not (out / "release" / name).is_dir():
        raise GradingError(f"{out} is not a student edition with module {name} (no release/{name}/)")
    notebook = out / "solutions" / name / f"{name}.ipynb"
    notebook.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(solution_notebook(name, out / "release" / name / f"{name}.ipynb"), notebook)
    _export(notebook, out)
    _commit(out, f"Solution of {name}")
    return notebook
