"""The backward engine: order, accumulation, broadcasting, graph release, grad mode."""
import gc
import re
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch
from tinytorch import Tensor
from tinytorch.autograd import gradcheck, topological_order, unbroadcast


def test_ten_thousand_op_chain_backward_without_recursion():
    x = Tensor([2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0001**10_000], rtol=1e-3)


def test_each_node_runs_its_backward_once_and_sums_all_paths():
    calls = []
    x = Tensor([3.0], requires_grad=True)

    def counted(t):
        def backward(g):
            calls.append(1)
            return (2 * g,)
        return Tensor.from_op(t.data * 2, (t,), backward)

    h = counted(x)
    out = h * h + h * 3 + h  # h feeds four places
    out.sum().backward()
    assert len(calls) == 1
    # d/dx (h^2 + 4h) with h = 2x: (2h + 4) * 2
    np.testing.assert_allclose(x.grad.data, [(2 * 6 + 4) * 2])


def test_diamond_matches_torch(torch):
    a = np.array([[0.5, -1.0], [2.0, 0.1]])
    x, tx = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)

    def f(v):  # b feeds three uses, c two
        b = v * v
        c = b.exp()
        return (b * c + b + c).sum()

    f(x).backward()
    f(tx).backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_leaf_gradients_accumulate_until_cleared():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.data, [3 + 2, 3 + 4])
    w.grad = None
    (w * 1).sum().backward()
    np.testing.assert_allclose(w.grad.data, [1, 1])


def test_gradients_are_own_copies():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0


def test_broadcast_gradient_reduced_to_input_shape():
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    b = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = Tensor(np.ones((4, 1)), requires_grad=True)
    (x * b + c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (4, 1)
    np.testing.assert_allclose(b.grad.data, [4, 4, 4])
    np.testing.assert_allclose(c.grad.data, [[3]] * 4)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=4), st.data())
def test_unbroadcast_sums_what_broadcasting_repeated(shape, data):
    shape = tuple(shape)
    lead = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    big = lead + tuple(n if n != 1 else data.draw(st.integers(1, 3)) for n in shape)
    g = np.random.default_rng(0).standard_normal(big)
    reduced = unbroadcast(g, shape)
    assert reduced.shape == shape
    # the sum of a gradient is preserved by the reduction
    np.testing.assert_allclose(reduced.sum(), g.sum())


def test_graph_is_released_after_backward():
    x = Tensor(np.ones((100, 100)), requires_grad=True)
    hidden = (x * 2).exp()
    probe = weakref.ref(hidden)
    loss = hidden.sum()
    del hidden
    gc.collect()
    assert probe() is not None  # the graph keeps it alive before backward
    loss.backward()
    gc.collect()
    assert probe() is None  # ... and lets go of it after
    with pytest.raises(RuntimeError, match="already used"):
        loss.backward()


def test_no_grad_records_nothing_and_restores_the_mode():
    w = Tensor([1.0], requires_grad=True)
    with tinytorch.no_grad():
        y = w * 2
        assert not tinytorch.is_grad_enabled()
    assert not y.requires_grad and y._inputs == ()
    assert tinytorch.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with tinytorch.no_grad():
            1 / 0
    assert tinytorch.is_grad_enabled()

    @tinytorch.no_grad()
    def predict(v):
        return v * w

    assert not predict(Tensor([1.0])).requires_grad


def test_backward_argument_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).backward()
    y = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        y.backward(np.ones(2))


def test_backward_with_explicit_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(Tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, 0.0, 12.0])


def test_topological_order_puts_inputs_first_and_skips_constants():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([2.0])
    y = x * c
    z = y + x
    ids = [id(t) for t in topological_order(z)]
    assert id(c) not in ids and ids[-1] == id(z)
    assert ids.index(id(x)) < ids.index(id(y)) < ids.index(id(z))


def test_gradcheck_catches_a_wrong_derivative():
    a = Tensor(np.random.default_rng(0).standard_normal((3, 2)), dtype=np.float64)
    wrong = lambda t: Tensor.from_op(t.data**3, (t,), lambda g: (g * 2 * t.data**2,))  # noqa: E731
    with pytest.raises(AssertionError, match=r"gradcheck: gradient of input 0 \(shape \(3, 2\)\)"):
        gradcheck(wrong, a)
    assert gradcheck(lambda t: t**3, a)


def test_no_grad_is_reentrant_like_torch(torch):
    """One no_grad object entered again before it exits (recursion, nesting) restores every level."""
    for framework in (tinytorch, torch):
        @framework.no_grad()
        def depth(n):
            assert not framework.is_grad_enabled()
            return 0 if n == 0 else 1 + depth(n - 1)

        assert depth(3) == 3 and framework.is_grad_enabled(), framework.__name__
    same = tinytorch.no_grad()  # torch.no_grad does not allow this one; tinytorch's does
    with same:
        with same:
            pass
        assert not tinytorch.is_grad_enabled()
    assert tinytorch.is_grad_enabled()


@pytest.mark.parametrize("grad_shape, shape", [((2, 3), (3, 2)), ((6,), (2, 3)), ((3,), (2, 3)), ((4, 3), (2, 3))])
def test_unbroadcast_rejects_shapes_broadcasting_cannot_give(grad_shape, shape):
    with pytest.raises(ValueError, match=rf"unbroadcast: a gradient of shape {re.escape(str(grad_shape))} .*{re.escape(str(shape))}"):
        unbroadcast(np.ones(grad_shape), shape)


def test_a_wrongly_shaped_local_gradient_fails_like_torch(torch):
    """A backward returning a gradient of the wrong shape is an error, never silently reshaped."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    flat = Tensor.from_op(x.data.sum(axis=0), (x,), lambda g: (np.ones(6),))
    with pytest.raises(ValueError, match=r"\(6,\).*\(2, 3\)"):
        flat.sum().backward()

    class Flat(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t.sum(dim=0)

        @staticmethod
        def backward(ctx, g):
            return torch.ones(6, dtype=g.dtype)

    with pytest.raises(RuntimeError, match="invalid gradient"):
        Flat.apply(torch.ones((2, 3), dtype=torch.float64, requires_grad=True)).sum().backward()
