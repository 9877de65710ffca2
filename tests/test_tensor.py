"""Tensor operations against PyTorch (forward and gradients) and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch
from tinytorch import Tensor
from tinytorch.autograd import gradcheck


def _pair(torch, rng, *shapes, positive=False):
    """The same random float64 data as tinytorch leaves and torch leaves."""
    arrays = [rng.uniform(0.5, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]
    ours = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _check(torch, rng, fn, *shapes, positive=False):
    """fn(*inputs) in both frameworks: equal values and equal gradients of a random projection."""
    ours, theirs = _pair(torch, rng, *shapes, positive=positive)
    out, ref = fn(*ours), fn(*theirs)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    probe = rng.standard_normal(ref.shape)
    (out * Tensor(probe, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(probe)).sum().backward()
    for o, t in zip(ours, theirs):
        if t.grad is None:  # the input does not take part in fn
            assert o.grad is None
            continue
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, *[Tensor(o.data, dtype=np.float64) for o in ours])


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "radd": lambda a, b: 2.5 + a,
    "rsub": lambda a, b: 1.0 - b,
    "rmul": lambda a, b: 3 * b,
    "rdiv": lambda a, b: 1 / b,
}
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ()), ((1, 3), (2, 1))]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES)
def test_binary_ops_match_torch(torch, rng, name, shapes):
    _check(torch, rng, BINARY[name], *shapes, positive=name in ("div", "rdiv"))


UNARY = {
    "neg": lambda a: -a,
    "pow2": lambda a: a**2,
    "pow3": lambda a: a**3,
    "pow-half": lambda a: a**-0.5,
    "exp": lambda a: a.exp(),
    "log": lambda a: a.log(),
    "sqrt": lambda a: a.sqrt(),
    "sum": lambda a: a.sum(),
    "sum-axis": lambda a: a.sum(axis=1),
    "sum-keepdims": lambda a: a.sum(axis=0, keepdims=True),
    "sum-tuple": lambda a: a.sum(axis=(0, 2)),
    "mean": lambda a: a.mean(),
    "mean-axis": lambda a: a.mean(axis=-1),
    "mean-keepdims": lambda a: a.mean(axis=(1, 2), keepdims=True),
    "reshape": lambda a: a.reshape(4, -1),
    "transpose": lambda a: a.transpose(0, 2),
    "T": lambda a: a.permute(2, 1, 0) if not isinstance(a, Tensor) else a.T,
    "permute": lambda a: a.permute(2, 0, 1),
    "slice": lambda a: a[1:, ::2, -1],
    "int-index": lambda a: a[0],
    "fancy-repeated": lambda a: a[[0, 0, 1]],
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_torch(torch, rng, name):
    fn = UNARY[name]
    positive = name in ("log", "sqrt", "pow-half")
    _check(torch, rng, fn, (2, 3, 4), positive=positive)


def test_max_matches_torch_amax(torch, rng):
    for axis, keepdims in [(None, False), (1, False), (0, True), ((0, 2), False)]:
        a = rng.standard_normal((3, 4, 5))
        ours, theirs = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
        dim = tuple(range(3)) if axis is None else axis
        out, ref = ours.max(axis=axis, keepdims=keepdims), torch.amax(theirs, dim=dim, keepdim=keepdims)
        np.testing.assert_allclose(out.data, ref.detach().numpy())
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy())


def test_max_ties_share_the_gradient_like_torch(torch):
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    ours, theirs = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours.max(axis=1).sum().backward()
    torch.amax(theirs, dim=1).sum().backward()
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy())


MATMUL_SHAPES = [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
                 ((2, 1, 3, 4), (5, 4, 2)), ((6, 2, 3), (6, 3, 2))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul_matches_torch(torch, rng, shapes):
    _check(torch, rng, lambda a, b: a @ b, *shapes)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    drop=st.lists(st.booleans(), min_size=4, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_broadcast_gradients_reduce_to_input_shape(torch, shape, drop, seed):
    """Random broadcast pairs: the gradient of each input has that input's shape and torch's value."""
    rng = np.random.default_rng(seed)
    other = [1 if d else n for n, d in zip(shape, drop)][: len(shape)]
    other = other[rng.integers(0, len(other) + 1):]  # maybe fewer leading dims
    _check(torch, rng, lambda a, b: a * b + b, tuple(shape), tuple(other))


def test_float32_is_the_default_and_is_kept():
    x = Tensor([[1, 2], [3, 4]])
    assert x.dtype == np.float32
    for out in (x + 1, x * 0.5, 2 / x, x @ x, x.exp(), x.mean(), x**2, x - np.float64(1.0)):
        assert out.dtype == np.float32, out


def test_reflected_operators_and_numpy_on_the_left():
    x = Tensor([1.0, 2.0])
    assert isinstance(np.array([1.0, 1.0]) + x, Tensor)
    np.testing.assert_allclose((np.array([3.0, 3.0]) - x).data, [2.0, 1.0])
    np.testing.assert_allclose((-x + 2 * x - x / 2).data, [0.5, 1.0])


def test_matmul_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned: 3 != 4"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_error_names_both_shapes(op):
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4,)))
    fn = {"add": a.__add__, "sub": a.__sub__, "mul": a.__mul__, "div": a.__truediv__}[op]
    with pytest.raises(ValueError, match=rf"{op}: shapes \(2, 3\) and \(4,\)"):
        fn(b)


def test_errors_are_raised_from_the_tinytorch_call():
    """The traceback ends in tinytorch code with a clear message, not inside numpy."""
    with pytest.raises(ValueError) as info:
        Tensor(np.ones(6)).reshape(4, 2)
    assert "reshape" in str(info.value) and "(6,)" in str(info.value)
    assert info.traceback[-1].path.name == "tensor.py"
    with pytest.raises(ValueError, match=r"item: .*shape \(2,\)"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="pow"):
        Tensor([1.0]) ** Tensor([2.0])
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], dtype=np.int64, requires_grad=True)


def test_conversions():
    x = Tensor([[2.0, 3.0]], requires_grad=True)
    assert x.numpy() is x.data and x.item is not None
    d = x.detach()
    assert not d.requires_grad and d.data is x.data
    assert Tensor([1.0], dtype=np.float64).detach().dtype == np.float64
    assert Tensor(5.0).item() == 5.0 and len(x) == 1 and x.ndim == 2 and x.numel() == 2
    assert "requires_grad=True" in repr(x)
    assert x.argmax(axis=1).data.tolist() == [1]


def test_factories_follow_the_global_seed():
    tinytorch.manual_seed(7)
    a = tinytorch.randn(3, 4)
    tinytorch.manual_seed(7)
    b = tinytorch.randn(3, 4)
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, b.data)
    assert tinytorch.zeros(2, 2).data.sum() == 0 and tinytorch.ones(3).data.sum() == 3
