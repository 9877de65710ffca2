"""Tensor operations against PyTorch (forward and gradients) and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch
from tinytorch import Tensor
from tinytorch.autograd import gradcheck
from tinytorch.testing import assert_same_as


def _check(torch, rng, fn, *shapes, positive=False, what="op"):
    """fn on random float64 inputs: PyTorch's values and gradients, and finite differences."""
    arrays = [rng.uniform(0.5, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]
    assert_same_as(torch, fn, *arrays, what=what)
    assert gradcheck(fn, *[Tensor(a, dtype=np.float64) for a in arrays])


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
    _check(torch, rng, BINARY[name], *shapes, positive=name in ("div", "rdiv"), what=name)


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
    "permute-negative": lambda a: a.permute(-1, 0, -2),
    "transpose-negative": lambda a: a.transpose(-1, 0),
    "pow0": lambda a: a**0,
    "slice": lambda a: a[1:, ::2, -1],
    "int-index": lambda a: a[0],
    "fancy-repeated": lambda a: a[[0, 0, 1]],
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_torch(torch, rng, name):
    fn = UNARY[name]
    positive = name in ("log", "sqrt", "pow-half")
    _check(torch, rng, fn, (2, 3, 4), positive=positive, what=name)


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
    _check(torch, rng, lambda a, b: a @ b, *shapes, what="matmul")


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
    _check(torch, rng, lambda a, b: a * b + b, tuple(shape), tuple(other), what="a * b + b")


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
    assert x.numpy() is x.data
    assert Tensor([[2.5]]).item() == 2.5 and type(Tensor([[2.5]]).item()) is float
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


def test_pow_zero_has_zero_gradient_at_zero_like_torch(torch):
    data = np.array([0.0, 1.5, -2.0])
    ours, theirs = Tensor(data, dtype=np.float64, requires_grad=True), torch.tensor(data, requires_grad=True)
    (ours**0).sum().backward()
    (theirs**0).sum().backward()
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


def test_permute_rejects_what_is_not_a_permutation():
    x = Tensor(np.ones((2, 3)))
    for dims in [(0, 0), (0,), (0, 2), (-3, 0), (1, -2, 0)]:
        with pytest.raises(ValueError, match=rf"permute: dims .* shape \(2, 3\)"):
            x.permute(*dims)


DTYPES = [np.bool_, np.int32, np.int64, np.float32, np.float64]
SCALARS = [2, 0.5, True]
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "rsub": lambda a, b: b - a, "rmul": lambda a, b: b * a, "rdiv": lambda a, b: b / a}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_python_numbers_follow_torch_type_promotion(torch, op, dtype):
    data = np.array([3, 1, 2]).astype(dtype)
    for scalar in SCALARS:
        try:
            ref = OPS[op](torch.tensor(data), scalar)
        except RuntimeError:  # e.g. subtracting bools, which torch forbids
            continue
        out = OPS[op](Tensor(data, dtype=dtype), scalar)
        assert str(out.dtype) == str(ref.dtype).replace("torch.", ""), f"{dtype.__name__} {op} {scalar!r}"
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("left", DTYPES[1:])
@pytest.mark.parametrize("right", DTYPES[1:])
def test_tensor_pairs_follow_torch_type_promotion(torch, left, right):
    for shape_a, shape_b in [((3,), (3,)), ((3,), ()), ((), (3,))]:
        a, b = np.ones(shape_a, dtype=left) * 3, np.ones(shape_b, dtype=right) * 2
        ref = torch.tensor(a) * torch.tensor(b)
        out = Tensor(a, dtype=left) * Tensor(b, dtype=right)
        assert str(out.dtype) == str(ref.dtype).replace("torch.", ""), f"{shape_a} {left} * {shape_b} {right}"


def test_int_tensor_times_a_float_keeps_the_fraction():
    x = Tensor([1, 2, 3], dtype=np.int64)
    np.testing.assert_array_equal((x * 0.5).data, [0.5, 1.0, 1.5])
    assert (x * 0.5).dtype == np.float32 and (x * 2).dtype == np.int64 and (x / 2).dtype == np.float32
    assert (x**0.5).dtype == np.float32


def test_tensor_copies_its_data_like_torch_tensor_and_from_numpy_shares():
    for dtype in (np.float32, np.float64, np.int64):
        array = np.arange(3).astype(dtype)
        t = Tensor(array, dtype=dtype)
        t.data[0] = 7
        assert array[0] == 0, f"Tensor({dtype.__name__} array) changed the caller's array"
    shared = np.zeros(3, dtype=np.float32)
    view = tinytorch.from_numpy(shared)
    view.data[1] = 5.0
    assert shared[1] == 5.0 and view.dtype == np.float32 and not view.requires_grad
    assert tinytorch.from_numpy(np.zeros(2)).dtype == np.float64  # keeps the dtype, as torch.from_numpy
    with pytest.raises(TypeError, match="from_numpy: expected a numpy array, got list"):
        tinytorch.from_numpy([1.0])
    t = Tensor([1.0, 2.0])
    assert Tensor(t).data is not t.data


def test_sgd_step_leaves_the_users_array_alone():
    weights = np.ones(3, dtype=np.float32)
    w = Tensor(weights, requires_grad=True)
    (w * w).sum().backward()
    tinytorch.optim.SGD([w], lr=0.1).step()
    np.testing.assert_array_equal(weights, np.ones(3))
    np.testing.assert_allclose(w.data, 0.8)


COMPARISONS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
               "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}


@pytest.mark.parametrize("op", COMPARISONS)
def test_comparisons_are_elementwise_bool_tensors_like_torch(torch, op):
    a, b = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([2.0, 2.0, 2.0])
    fn = COMPARISONS[op]
    for x, y, tx, ty in [(Tensor(a), Tensor(b), torch.tensor(a), torch.tensor(b)), (Tensor(a), 2.0, torch.tensor(a), 2.0)]:
        out, ref = fn(x, y), fn(tx, ty)
        assert isinstance(out, Tensor) and out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.data, ref.numpy())
    t = Tensor(a, requires_grad=True)
    assert fn(t, t).data.all() == fn(torch.tensor(a), torch.tensor(a)).all().item()


def test_bool_and_hash_like_torch(torch):
    assert bool(Tensor([2.0]) == Tensor([2.0])) and not Tensor(0.0)
    assert bool(Tensor([[1.0]])) is bool(torch.tensor([[1.0]]))
    for data in ([1.0, 2.0], []):
        with pytest.raises(RuntimeError, match=r"bool: the truth value of a tensor of shape"):
            bool(Tensor(data))
        with pytest.raises(RuntimeError):
            bool(torch.tensor(data))
    t = Tensor([1.0, 2.0])
    assert {t: 1}[t] == 1 and len({t, Tensor([1.0, 2.0])}) == 2  # hashed by identity, as torch
    assert (t == None) is False and (t != "a") is True  # noqa: E711


def test_factories_accept_a_shape_tuple_like_torch(torch):
    for factory in ("zeros", "ones", "randn"):
        for args in [(2, 3), ((2, 3),), ([2, 3],)]:
            out = getattr(tinytorch, factory)(*args)
            assert out.shape == tuple(getattr(torch, factory)(*args).shape) == (2, 3), (factory, args)
    assert tinytorch.zeros(2, dtype=np.int64).dtype == np.int64
    assert tinytorch.ones((2,), requires_grad=True).requires_grad
