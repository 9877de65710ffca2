# Generated from source/13_transformers/13_transformers.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Layer normalization and the pre-norm transformer block, with PyTorch's names and weights."""
import functools
import math
import numbers

import numpy as np

from tinytorch.nn.activations import gelu
from tinytorch.nn.attention import MultiheadAttention
from tinytorch.nn.layers import Dropout, Linear, Module, Parameter, _as_tensor
from tinytorch.tensor import Tensor


def _normalized_shape(normalized_shape):
    """``normalized_shape`` (an int or a sequence of ints) as a tuple."""
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


@functools.lru_cache(maxsize=None)
def _ones(n, dtype):
    """A read-only vector of ``n`` ones: ``rows @ _ones(n, dtype)`` sums each row, in BLAS."""
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False
    return ones


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize the last ``len(normalized_shape)`` dimensions to mean 0 and variance 1, then
    scale by ``weight`` and shift by ``bias`` (both of shape ``normalized_shape``, or None)."""
    input = _as_tensor(input)
    shape = _normalized_shape(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape or input.ndim < len(shape):
        raise ValueError(
            f"LayerNorm: expected an input whose last dimensions are {shape}, got shape {input.shape}"
        )
    x = input.data
    n = math.prod(shape)
    rows = x.reshape(-1, n)  # one row per normalized vector
    ones = _ones(n, x.dtype)  # rows @ ones: the sum of each row, in BLAS
    gamma = None if weight is None else weight.data.reshape(n)
    centered = rows - (rows @ ones / n)[:, None]
    rstd = 1 / np.sqrt(np.einsum("ij,ij->i", centered, centered) / n + eps)[:, None]
    xhat = centered * rstd
    out = xhat if gamma is None else xhat * gamma
    if bias is not None:
        out += bias.data.reshape(n)

    def backward(g):
        g = g.reshape(-1, n)
        g_hat = g if gamma is None else g * gamma
        grad_input = g_hat - (g_hat @ ones / n)[:, None]
        grad_input -= xhat * (np.einsum("ij,ij->i", g_hat, xhat) / n)[:, None]
        grad_input *= rstd
        grad_weight = None if weight is None else np.einsum("ij,ij->j", g, xhat).reshape(shape)
        grad_bias = None if bias is None else g.sum(axis=0).reshape(shape)
        grads = (grad_input.reshape(x.shape), grad_weight, grad_bias)
        return tuple(grad for grad, t in zip(grads, (input, weight, bias)) if t is not None)

    inputs = tuple(t for t in (input, weight, bias) if t is not None)
    return Tensor.from_op(out.reshape(x.shape), inputs, backward)


class LayerNorm(Module):
    """Layer normalization over the last dimensions ``normalized_shape``, as ``torch.nn.LayerNorm``."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        shape = self.normalized_shape
        self.weight = Parameter(np.ones(shape, dtype=np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class TransformerBlock(Module):
    """Pre-norm transformer block: ``x + self_attn(norm1(x))``, then ``x + ffn(norm2(x))`` with GELU.

    Its ``state_dict`` has the keys and shapes of ``torch.nn.TransformerEncoderLayer(d_model, nhead,
    dim_feedforward, dropout, activation="gelu", batch_first=True, norm_first=True)``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.0):
        super().__init__()
        self.d_model, self.nhead, self.dim_feedforward = d_model, nhead, dim_feedforward
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        self.linear1 = Linear(d_model, dim_feedforward)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        src = _as_tensor(src)
        if src.ndim != 3 or src.shape[-1] != self.d_model:
            raise ValueError(
                f"TransformerBlock: expected input of shape (batch, seq, {self.d_model}), got shape {src.shape}"
            )
        h = self.norm1(src)
        attended, _ = self.self_attn(h, h, h, key_padding_mask=src_key_padding_mask, need_weights=False,
                                     attn_mask=src_mask, is_causal=is_causal)
        x = src + self.dropout1(attended)
        hidden = self.dropout(gelu(self.linear1(self.norm2(x))))
        return x + self.dropout2(self.linear2(hidden))

    def extra_repr(self):
        return f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}"
