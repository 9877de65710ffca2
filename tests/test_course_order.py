"""Each core module's tests pass with only that module and the modules before it in course order
done: a student works through the course in order, over a package whose later modules are the
release's stubs. Module N's visible and hidden tests run on a package where every module before N
and N itself come from the source notebooks and every later module from its release notebook.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinytorch_course import PACKAGE, RELEASE, SOURCE, export
from tinytorch_course.status import COURSE_ORDER

CORE = [n for n in COURSE_ORDER if n <= 9]
SLOW = ["plt.", "timeit", "time.perf_counter"]  # demonstrations and systems corners: not graded

RUN = """
import json, sys
import nbformat
sys.path.insert(0, {tests!r})
import submissions
nb = nbformat.read({notebook!r}, as_version=4)
print(json.dumps(submissions.run_in_process(nb, hidden=True, skip={skip!r})))
"""


def _notebook(folder, number):
    return next(folder.glob(f"{number:02d}_*/{number:02d}_*.ipynb"))


def _package(root, module):
    """A copy of the package at ``root`` with every module after ``module`` in course order stubbed."""
    shutil.copytree(PACKAGE, root / "tinytorch", ignore=shutil.ignore_patterns("__pycache__"))
    for later in COURSE_ORDER[COURSE_ORDER.index(module) + 1:]:
        for target, text in export.render_all(_notebook(RELEASE, later), root / "tinytorch"):
            target.write_text(text)
    return root


def test_the_core_modules_are_in_course_order():
    assert CORE[:8] == [1, 2, 3, 4, 5, 6, 8, 9], CORE


@pytest.mark.slow
@pytest.mark.parametrize("module", CORE)
def test_a_modules_tests_need_only_the_modules_before_it(module, tmp_path):
    root = _package(tmp_path, module)
    stubbed = [n for n in COURSE_ORDER[COURSE_ORDER.index(module) + 1:] if n <= 9]
    if stubbed:  # the package really holds stubs
        text = "".join(t for _, t in export.render_all(_notebook(RELEASE, stubbed[0]), root / "tinytorch"))
        assert "NotImplementedError" in text
    notebook = _notebook(SOURCE, module)
    code = RUN.format(tests=str(Path(__file__).parent), notebook=str(notebook), skip=SLOW)
    env = {**os.environ, "PYTHONPATH": str(root), "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-c", code], cwd=notebook.parent, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    failures = json.loads(run.stdout.strip().splitlines()[-1])
    assert failures == {}, (f"module {module:02d} with the modules after it stubbed "
                            f"({', '.join(f'{n:02d}' for n in stubbed)}): failing cells {failures}")
