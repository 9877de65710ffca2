"""The one-direction flow source/ -> tinytorch/, and a student's notebook over the package."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tinytorch_course import ROOT, SOURCE, module_notebooks
from tinytorch_course.export import ExportError, render, render_all, stale_files

MODULES = module_notebooks(SOURCE)


def test_package_equals_a_fresh_export_of_source():
    assert MODULES, "no module notebooks found"
    assert stale_files() == [], "run `tinytorch export`"


@pytest.mark.parametrize("notebook", MODULES, ids=lambda p: p.stem)
def test_export_strips_solution_markers_and_says_it_is_generated(notebook):
    target, text = render(notebook)
    assert target.is_relative_to(ROOT / "tinytorch")
    assert text.startswith(f"# Generated from source/{notebook.parent.name}/{notebook.name}")
    assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
    assert "#| export" not in text
    compile(text, str(target), "exec")


def test_notebook_without_target_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("#| export\nx = 1")])
    path = tmp_path / "99_x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ExportError, match="default_exp"):
        render(path)


def test_a_cell_may_export_to_another_package_file(tmp_path):
    cells = ["#| default_exp training", "#| export\nA = 1", "#| export optim.lr_scheduler\nB = 2\n### BEGIN SOLUTION\nC = 3\n### END SOLUTION",
             "#| export\nD = 4", "E = 5"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    path = tmp_path / "07_x.ipynb"
    nbformat.write(nb, path)
    files = render_all(path, tmp_path / "pkg")
    assert [target for target, _ in files] == [tmp_path / "pkg/training.py", tmp_path / "pkg/optim/lr_scheduler.py"]
    assert files[0][1].endswith("A = 1\n\n\nD = 4\n") and files[1][1].endswith("B = 2\nC = 3\n")
    assert all(text.startswith("# Generated from") for _, text in files)
    assert render(path, tmp_path / "pkg") == files[0]


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the repository's code, so exporting over its package cannot disturb other tests."""
    for name in ("tinytorch", "tinytorch_course", "source"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _run(repo, *args, code=None):
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "tinytorch_course.cli", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env={"PYTHONPATH": str(repo), "PATH": ""})


def _student_notebook(repo, body):
    """The tensor module as a student submitted it: `exp` implemented their own way."""
    nb = nbformat.read(repo / "source/01_tensor/01_tensor.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.source.startswith("#| export"):
            cell.source = cell.source.replace("out = np.exp(self.data)", body)
    path = repo / "student_01_tensor.ipynb"
    nbformat.write(nb, path)
    return path


def test_student_export_runs_their_code_and_reset_restores_reference(repo_copy):
    mine = _student_notebook(repo_copy, "out = np.exp(self.data) * 1  # student")
    result = _run(repo_copy, "export", str(mine))
    assert result.returncode == 0, result.stderr
    tensor_py = (repo_copy / "tinytorch/tensor.py").read_text()
    assert "# student" in tensor_py and "student_01_tensor.ipynb" in tensor_py.splitlines()[0]
    check = _run(repo_copy, code="import tinytorch; print(tinytorch.Tensor([0.0]).exp().item())")
    assert check.stdout.strip() == "1.0", check.stderr
    assert _run(repo_copy, "export", "--check").returncode == 1

    assert _run(repo_copy, "reset").returncode == 0
    assert "# student" not in (repo_copy / "tinytorch/tensor.py").read_text()
    assert _run(repo_copy, "export", "--check").returncode == 0


def test_reset_works_even_when_the_students_export_is_broken(repo_copy):
    broken = _student_notebook(repo_copy, "out = = np.exp(self.data)")
    _run(repo_copy, "export", str(broken))
    assert _run(repo_copy, code="import tinytorch").returncode != 0
    assert _run(repo_copy, "reset").returncode == 0
    assert _run(repo_copy, code="import tinytorch").returncode == 0


def test_every_command_has_help():
    from tinytorch_course.cli import build_parser

    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices
    for name, sub in subcommands.items():
        assert sub.format_help().strip(), name
    out = subprocess.run([Path(sys.executable).parent / "tinytorch", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "export" in out.stdout
