# Generated from source/04_losses/04_losses.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Loss functions: MSE, cross-entropy and binary cross-entropy, each one fused operation."""
import numpy as np

from tinytorch.nn.activations import log_softmax, sigmoid
from tinytorch.nn.layers import Module, _as_tensor
from tinytorch.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(losses, reduction, name):
    """The reduced loss and ``spread(g)``, the gradient of each element of ``losses`` given the reduced one's."""
    _check_reduction(reduction, name)
    if reduction == "none":
        return losses, lambda g: g
    if reduction == "sum":
        return losses.sum(), lambda g: np.broadcast_to(g, losses.shape)
    return losses.mean(), lambda g: np.broadcast_to(g / losses.size, losses.shape)


def _pair(input, target, name):
    """``input`` and ``target`` as tensors of the same shape, or an error naming both shapes."""
    input = _as_tensor(input)
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=input.dtype)
    if input.shape != target.shape:
        raise ValueError(f"{name}: input shape {input.shape} and target shape {target.shape} differ")
    return input, target


def mse_loss(input, target, reduction="mean"):
    """Mean (or summed) squared difference between ``input`` and ``target``."""
    input, target = _pair(input, target, "MSELoss")
    diff = input.data - target.data
    losses = diff * diff
    out, spread = _reduce(losses, reduction, "MSELoss")

    def backward(g):
        d = 2 * spread(g) * diff
        return d, -d

    return Tensor.from_op(out, (input, target), backward)


def _class_indices(target, logits_shape):
    """``target`` as an integer array of class indices for logits of shape ``(N, C)``, or a clear error."""
    if len(logits_shape) != 2:
        raise ValueError(f"CrossEntropyLoss: expected logits of shape (N, C), got shape {logits_shape}")
    n, classes = logits_shape
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"CrossEntropyLoss: target must hold integer class indices, got dtype {labels.dtype} "
            "(use a numpy integer array or Tensor(labels, dtype=np.int64))"
        )
    if labels.shape != (n,):
        raise ValueError(
            f"CrossEntropyLoss: expected target of shape ({n},) for logits of shape {logits_shape}, got shape {labels.shape}"
        )
    outside = (labels < 0) | (labels >= classes)
    if outside.any():
        raise IndexError(
            f"CrossEntropyLoss: target holds class {labels[outside][0]}, but logits of shape {logits_shape} "
            f"have classes 0..{classes - 1}"
        )
    return labels


def cross_entropy(input, target, reduction="mean"):
    """Cross-entropy of logits ``input`` (N, C) against integer class indices ``target`` (N,).

    Log-softmax and negative log-likelihood in one stable operation; the gradient is
    ``(softmax(input) - onehot(target)) / N`` for the mean.
    """
    input = _as_tensor(input)
    labels = _class_indices(target, input.shape)
    rows = np.arange(len(labels))
    log_probs = log_softmax(input.detach(), dim=1).data
    losses = -log_probs[rows, labels]
    out, spread = _reduce(losses, reduction, "CrossEntropyLoss")

    def backward(g):
        grad = np.exp(log_probs)
        grad[rows, labels] -= 1
        return (grad * spread(g)[:, None],)

    return Tensor.from_op(out, (input,), backward)


def binary_cross_entropy(input, target, reduction="mean"):
    """Binary cross-entropy of probabilities ``input`` in [0, 1]; each log is clamped at -100."""
    input, target = _pair(input, target, "BCELoss")
    p, y = input.data, target.data
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError(f"BCELoss: input must hold probabilities in [0, 1], got values in [{p.min()}, {p.max()}]")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_not_p = np.maximum(np.log1p(-p), -100)
    losses = -(y * log_p + (1 - y) * log_not_p)
    out, spread = _reduce(losses, reduction, "BCELoss")

    def backward(g):
        return (spread(g) * (p - y) / np.maximum(p * (1 - p), 1e-12),)

    return Tensor.from_op(out, (input,), backward)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(input)``, computed from the logits without overflow."""
    input, target = _pair(input, target, "BCEWithLogitsLoss")
    z, y = input.data, target.data
    losses = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    out, spread = _reduce(losses, reduction, "BCEWithLogitsLoss")

    def backward(g):
        probs = sigmoid(input.detach()).data
        return (spread(g) * (probs - y),)

    return Tensor.from_op(out, (input,), backward)


class _Loss(Module):
    """A loss as a module: remembers ``reduction`` and calls the matching function."""

    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error (``mse_loss``)."""

    def forward(self, input, target):
        return mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) against integer class indices (N,) (``cross_entropy``)."""

    def forward(self, input, target):
        return cross_entropy(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (``binary_cross_entropy``)."""

    def forward(self, input, target):
        return binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, stable (``binary_cross_entropy_with_logits``)."""

    def forward(self, input, target):
        return binary_cross_entropy_with_logits(input, target, self.reduction)
