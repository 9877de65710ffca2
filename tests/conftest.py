"""Shared fixtures. Optional components (PyTorch, datasets, a browser) skip locally when missing,
but in CI (CI=true) a missing component is a failure, never a skip."""
import importlib
import os

import numpy as np
import pytest

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
