"""Activations against PyTorch (forward and gradients, float32 and extreme inputs) and finite differences."""
import functools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F
from tinytorch.nn.activations import _erf

# each activation written once, for a functional module: tinytorch's or torch.nn.functional
ACTIVATIONS = {
    "relu": lambda f, x: f.relu(x),
    "sigmoid": lambda f, x: f.sigmoid(x),
    "tanh": lambda f, x: f.tanh(x),
    "gelu": lambda f, x: f.gelu(x),
    "softmax": lambda f, x: f.softmax(x, dim=-1),
    "softmax-dim0": lambda f, x: f.softmax(x, dim=0),
    "log_softmax": lambda f, x: f.log_softmax(x, dim=-1),
    "log_softmax-dim1": lambda f, x: f.log_softmax(x, dim=1),
}
OURS = {name: functools.partial(fn, F) for name, fn in ACTIVATIONS.items()}


def theirs(torch, name):
    return functools.partial(ACTIVATIONS[name], torch.nn.functional)


@pytest.fixture(autouse=True)
def strict_numpy():
    """Any numpy overflow / invalid / divide-by-zero warning fails the test."""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _compare(torch, name, data, atol):
    x = Tensor(data, requires_grad=True)
    out = OURS[name](x)
    t = torch.tensor(data, requires_grad=True)
    ref = theirs(torch, name)(t)
    assert out.dtype == np.float32 and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=atol)
    probe = np.random.default_rng(1).standard_normal(data.shape).astype(np.float32)
    out.backward(probe)
    ref.backward(torch.tensor(probe))
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-4, atol=atol)


@pytest.mark.parametrize("name", OURS)
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_matches_torch_on_random_shapes(torch, name, scale, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 7, size=rng.integers(2, 4)))
    data = (rng.standard_normal(shape) * scale).astype(np.float32)
    _compare(torch, name, data, atol=2e-6 * max(1.0, scale) if name == "gelu" else 1e-6)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=6),
                  elements=st.floats(-1e6, 1e6, width=32)))
def test_matches_torch_on_any_finite_input(torch, data):
    for name in OURS:
        _compare(torch, name, data, atol=1e-5 if name == "gelu" else 1e-6)


@pytest.mark.parametrize("name", OURS)
def test_extreme_inputs_stay_finite_without_warnings(torch, name):
    big = np.float32(1.5e38)  # a row spans 3e38: its max-subtraction stays inside float32
    data = np.array([[-big, -1e4, -100.0, -0.0, 0.0, 100.0, 1e4, big],
                     [1000.0, 1000.0, -1000.0, 88.0, 89.0, -88.0, -104.0, 1.0]], dtype=np.float32)
    x = Tensor(data, requires_grad=True)
    out = OURS[name](x)
    out.backward(np.ones_like(data))
    assert np.isfinite(out.data).all() and np.isfinite(x.grad.data).all()
    if name.startswith("log_softmax"):
        return  # torch agrees, but comparing numbers of size 1e38 needs no further proof
    ref = theirs(torch, name)(torch.tensor(data)).numpy()
    finite = np.isfinite(ref)  # torch's GELU overflows to inf at 3e38, where ours returns x
    assert finite.sum() >= data.size - 1
    np.testing.assert_allclose(out.data[finite], ref[finite], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", OURS)
def test_gradcheck(name):
    x = Tensor(np.random.default_rng(2).standard_normal((3, 4)) * 2, dtype=np.float64)
    assert gradcheck(OURS[name], x)


def test_relu_gradient_at_zero_is_zero(torch):
    x = Tensor([0.0, -0.0, 1.0], requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.data.tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_keeps_relative_accuracy_of_tiny_outputs():
    out = F.sigmoid(Tensor([-80.0, -100.0], dtype=np.float64)).data
    np.testing.assert_allclose(out, np.exp([-80.0, -100.0]) / (1 + np.exp([-80.0, -100.0])), rtol=1e-12)


def test_erf_approximation_error_below_2e7():
    z = np.linspace(-8, 8, 4001)
    exact = np.array([math.erf(v) for v in z])
    assert np.abs(_erf(z) - exact).max() < 1.5e-7
    z32 = z.astype(np.float32)
    assert _erf(z32).dtype == np.float32
    assert np.abs(_erf(z32) - np.array([math.erf(float(v)) for v in z32])).max() < 6e-7


def test_softmax_rows_sum_to_one_and_shift_invariance():
    x = np.random.default_rng(3).standard_normal((4, 5, 6))  # float64: x + 500 loses no digits
    for dim in (0, 1, 2, -1):
        s = F.softmax(Tensor(x, dtype=np.float64), dim=dim).data
        np.testing.assert_allclose(s.sum(axis=dim), 1, rtol=1e-12)
        np.testing.assert_allclose(F.softmax(Tensor(x + 500, dtype=np.float64), dim=dim).data, s, atol=1e-12)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_dim_out_of_range_names_the_shape(fn):
    with pytest.raises(ValueError, match=r"dim 2 .*\(3, 4\)"):
        fn(Tensor(np.zeros((3, 4))), dim=2)


def test_modules_wrap_the_functions(torch):
    x = Tensor(np.random.default_rng(4).standard_normal((2, 3)).astype(np.float32))
    pairs = [(nn.ReLU(), F.relu), (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh), (nn.GELU(), F.gelu),
             (nn.Softmax(dim=0), lambda t: F.softmax(t, dim=0)), (nn.LogSoftmax(), F.log_softmax)]
    for module, fn in pairs:
        assert isinstance(module, nn.Module) and list(module.parameters()) == []
        np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert repr(nn.Softmax(dim=1)) == repr(torch.nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.ReLU()) == repr(torch.nn.ReLU()) == "ReLU()"
    assert repr(nn.LogSoftmax(dim=-1)) == "LogSoftmax(dim=-1)"


def test_accepts_arrays_and_keeps_float64():
    assert F.relu(np.array([-1.0, 2.0])).data.tolist() == [0.0, 2.0]
    assert F.gelu(Tensor([1.0], dtype=np.float64)).dtype == np.float64
