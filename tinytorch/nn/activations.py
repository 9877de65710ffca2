# Generated from source/02_activations/02_activations.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Activation functions and their Module wrappers: ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax."""
import math

import numpy as np

from tinytorch.nn.layers import Module, _as_tensor
from tinytorch.tensor import Tensor


def relu(x):
    """``max(x, 0)`` elementwise."""
    x = _as_tensor(x)
    a = x.data
    out = np.maximum(a, 0)

    def backward(g):
        return (g * (a > 0),)

    return Tensor.from_op(out, (x,), backward)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed without overflow for any input."""
    x = _as_tensor(x)
    a = x.data
    out = np.exp(np.minimum(a, 0)) / (1 + np.exp(-np.abs(a)))

    def backward(g):
        return (g * out * (1 - out),)

    return Tensor.from_op(out, (x,), backward)


def tanh(x):
    """Hyperbolic tangent elementwise."""
    x = _as_tensor(x)
    out = np.tanh(x.data)

    def backward(g):
        return (g * (1 - out * out),)

    return Tensor.from_op(out, (x,), backward)


def _erf(z):
    """Error function of an array, in its dtype (Abramowitz & Stegun 7.1.26: absolute error 1.5e-7)."""
    r = np.minimum(np.abs(z), 10)  # erf(10) is 1 to float64 precision; r * r cannot overflow
    t = 1 / (1 + 0.3275911 * r)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(z) * (1 - poly * np.exp(-r * r))


def gelu(x):
    """``x * Phi(x)`` with the standard normal CDF ``Phi`` (PyTorch's exact, erf-based GELU)."""
    x = _as_tensor(x)
    a = x.data
    cdf = 0.5 * (1 + _erf(a / math.sqrt(2)))
    out = a * cdf

    def backward(g):
        c = np.clip(a, -15, 15)  # beyond 15, x * pdf(x) < 1e-47 (zero in float32) and x * x could overflow
        pdf = np.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)
        return (g * (cdf + c * pdf),)

    return Tensor.from_op(out, (x,), backward)


def _check_dim(x, dim, name):
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"{name}: dim {dim} is out of range for a tensor of shape {x.shape}")


def softmax(x, dim=-1):
    """``exp(x) / sum(exp(x))`` along ``dim``, stable for any input (the max is subtracted first)."""
    x = _as_tensor(x)
    _check_dim(x, dim, "softmax")
    e = np.exp(x.data - x.data.max(axis=dim, keepdims=True))
    out = e / e.sum(axis=dim, keepdims=True)

    def backward(g):
        return (out * (g - (g * out).sum(axis=dim, keepdims=True)),)

    return Tensor.from_op(out, (x,), backward)


def log_softmax(x, dim=-1):
    """``log(softmax(x))`` along ``dim``, computed as ``x - logsumexp(x)`` so it stays finite."""
    x = _as_tensor(x)
    _check_dim(x, dim, "log_softmax")
    shifted = x.data - x.data.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=dim, keepdims=True),)

    return Tensor.from_op(out, (x,), backward)


class ReLU(Module):
    """Layer form of ``relu``."""

    def forward(self, x):
        return relu(x)


class Sigmoid(Module):
    """Layer form of ``sigmoid``."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    """Layer form of ``tanh``."""

    def forward(self, x):
        return tanh(x)


class GELU(Module):
    """Layer form of ``gelu`` (exact erf form)."""

    def forward(self, x):
        return gelu(x)


class _AlongDim(Module):
    """A normalization along one dimension ``dim``, as a layer."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Layer form of ``softmax`` along ``dim``."""

    def forward(self, x):
        return softmax(x, self.dim)


class LogSoftmax(_AlongDim):
    """Layer form of ``log_softmax`` along ``dim``."""

    def forward(self, x):
        return log_softmax(x, self.dim)
