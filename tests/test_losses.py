"""Losses against PyTorch (values and gradients, all reductions, extreme inputs) and finite differences."""
import warnings

import numpy as np
import pytest

from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture(autouse=True)
def strict_numpy():
    """Any numpy overflow / invalid / divide-by-zero warning fails the test."""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _backward_both(torch, out, ref, seed=0):
    probe = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(probe)
    ref.backward(torch.tensor(probe))


def _random_shape(rng):
    return tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_mse_matches_torch(torch, reduction, seed):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng)
    a, b = (rng.standard_normal(shape).astype(np.float32) * 10 for _ in range(2))
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, ref = F.mse_loss(x, y, reduction=reduction), torch.nn.functional.mse_loss(tx, ty, reduction=reduction)
    assert out.dtype == np.float32 and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    _backward_both(torch, out, ref)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_cross_entropy_matches_torch(torch, reduction, scale, seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 12))
    logits = (rng.standard_normal((n, c)) * scale).astype(np.float32)
    labels = rng.integers(0, c, n)
    z, tz = Tensor(logits, requires_grad=True), torch.tensor(logits, requires_grad=True)
    out = F.cross_entropy(z, labels, reduction=reduction)
    ref = torch.nn.functional.cross_entropy(tz, torch.tensor(labels), reduction=reduction)
    assert out.dtype == np.float32 and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    _backward_both(torch, out, ref)
    np.testing.assert_allclose(z.grad.data, tz.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_is_one_node_with_softmax_minus_onehot_gradient():
    logits = np.random.default_rng(1).standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    z = Tensor(logits, dtype=np.float64, requires_grad=True)
    loss = F.cross_entropy(z, labels)
    assert loss._inputs == (z,)
    loss.backward()
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(z.grad.data, (p - np.eye(4)[labels]) / 6, atol=1e-12)


@pytest.mark.parametrize("target", [
    lambda y: y, lambda y: y.astype(np.int32), lambda y: y.tolist(), lambda y: Tensor(y, dtype=np.int64),
])
def test_cross_entropy_accepts_integer_targets(target):
    y = np.array([2, 0, 1])
    logits = Tensor(np.zeros((3, 3)))
    np.testing.assert_allclose(F.cross_entropy(logits, target(y)).item(), np.log(3), rtol=1e-6)


def test_cross_entropy_target_errors():
    logits = Tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"integer class indices, got dtype float32 .*dtype=np.int64"):
        F.cross_entropy(logits, Tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\) for logits of shape \(3, 4\), got shape \(3, 1\)"):
        F.cross_entropy(logits, np.array([[0], [1], [2]]))
    with pytest.raises(IndexError, match=r"class 4, but logits of shape \(3, 4\) have classes 0..3"):
        nn.CrossEntropyLoss()(logits, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="class -1"):
        F.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"expected logits of shape \(N, C\), got shape \(2, 3, 4\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3, 4))), np.array([0, 1]))


def _probabilities(rng, shape):
    p = rng.uniform(0, 1, shape).astype(np.float32)
    p.flat[:2] = [0.0, 1.0][: p.size]  # exact 0 and 1 exercise the clamp at -100
    return p


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("seed", range(4))
def test_bce_matches_torch(torch, reduction, seed):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng)
    p, y = _probabilities(rng, shape), rng.uniform(0, 1, shape).astype(np.float32)
    if seed % 2:
        y = (y > 0.5).astype(np.float32)
    x, tx = Tensor(p, requires_grad=True), torch.tensor(p, requires_grad=True)
    out = F.binary_cross_entropy(x, y, reduction=reduction)
    ref = torch.nn.functional.binary_cross_entropy(tx, torch.tensor(y), reduction=reduction)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    _backward_both(torch, out, ref)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_bce_clamps_logs_at_minus_100(torch):
    out = nn.BCELoss(reduction="none")(Tensor([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_array_equal(out.data, [100.0, 100.0, 0.0, 0.0])


def test_bce_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match=r"BCELoss: input must hold probabilities in \[0, 1\], got values in \[-0.5, 0.5\]"):
        F.binary_cross_entropy(Tensor([-0.5, 0.5]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_bce_with_logits_matches_torch(torch, reduction, scale, seed):
    rng = np.random.default_rng(seed)
    shape = _random_shape(rng)
    z, y = (rng.standard_normal(shape) * scale).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)
    x, tx = Tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(x, y, reduction=reduction)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(y), reduction=reduction)
    # terms of size |z| cancel: both frameworks round at float32 resolution of |z|
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5 + 1e-6 * scale)
    _backward_both(torch, out, ref)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradcheck_every_loss():
    rng = np.random.default_rng(5)
    a, b = (Tensor(rng.standard_normal((3, 4)), dtype=np.float64) for _ in range(2))
    labels = np.array([1, 0, 3])
    probs = Tensor(rng.uniform(0.1, 0.9, (3, 4)), dtype=np.float64)
    soft = rng.uniform(0, 1, (3, 4))
    for reduction in REDUCTIONS:
        assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), a, b)
        assert gradcheck(lambda x: F.cross_entropy(x, labels, reduction=reduction), a)
        assert gradcheck(lambda x: F.binary_cross_entropy(x, soft, reduction=reduction), probs)
        assert gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, soft, reduction=reduction), a)


@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        loss(Tensor(np.full((4, 1), 0.5)), np.zeros(4))


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.CrossEntropyLoss, nn.BCELoss, nn.BCEWithLogitsLoss])
def test_loss_modules(torch, cls):
    assert repr(cls()) == repr(getattr(torch.nn, cls.__name__)()) == f"{cls.__name__}()"
    assert repr(cls(reduction="sum")) == f"{cls.__name__}(reduction='sum')"
    assert list(cls().parameters()) == []
    with pytest.raises(ValueError, match=rf"{cls.__name__}: reduction must be one of .*'avg'"):
        cls(reduction="avg")
    with pytest.raises(ValueError, match="'avg'"):
        getattr(F, {"MSELoss": "mse_loss", "CrossEntropyLoss": "cross_entropy", "BCELoss": "binary_cross_entropy",
                    "BCEWithLogitsLoss": "binary_cross_entropy_with_logits"}[cls.__name__])(
            Tensor(np.full((2, 2), 0.5)), np.array([0, 1]) if cls is nn.CrossEntropyLoss else np.zeros((2, 2)), reduction="avg")
