"""Shared fixtures. Optional components (PyTorch, datasets, a browser) skip locally when missing,
but in CI (CI=true) a missing component is a failure, never a skip."""
import importlib
import os

# The suite runs a process per core (pytest -n): one BLAS thread each, here and in every process a
# test starts. A second BLAS thread finds no free core; it spins waiting for one, which made single
# training tests ten times slower while the book was building on the other core.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import numpy as np  # noqa: E402  (after the thread settings, which BLAS reads when it loads)
import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tinytorch.perf import keep_freed_memory  # noqa: E402

threadpool_limits(limits=1)  # in case a plugin loaded BLAS before this file
keep_freed_memory()  # the trainings here re-allocate the same arrays every step (Module 16)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available, what):
    """Skip (locally) or fail (in CI) when an optional component is missing."""
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is required in CI but missing")
        pytest.skip(f"{what} is not available")


def require_module(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        require(False, f"python package {name!r}")


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the oracle (CPU, double precision available)."""
    torch = require_module("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)


BOOK_FIXTURES = {"site", "executed_notebook", "executed_milestone"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test that reads the book build runs on the worker that builds it, so the book (and
    its long trainings) is built once per run: such tests join the "book" group."""
    for item in items:
        if not BOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            continue
        groups = {mark.args[0] for mark in item.iter_markers("xdist_group")}
        if not groups:
            item.add_marker(pytest.mark.xdist_group("book"))
        elif groups != {"book"}:
            raise pytest.UsageError(f"{item.nodeid} reads the book build but is in xdist group(s) {sorted(groups)}")
