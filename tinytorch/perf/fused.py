# Generated from source/16_acceleration/16_acceleration.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Accelerated layers (Module 16): fused operations with hand-written backward, BLAS-friendly
layouts and fewer temporaries; ``accelerate(model)`` swaps them in, sharing the model's parameters."""
import math

import numpy as np

from tinytorch.nn.activations import GELU, ReLU
from tinytorch.nn.attention import _attention
from tinytorch.nn.layers import Linear, Module, Sequential, _as_tensor
from tinytorch.nn.spatial import Conv2d, conv2d
from tinytorch.nn.transformer import TransformerBlock, layer_norm
from tinytorch.tensor import Tensor


def fused_linear(input, weight, bias=None, activation=None):
    """``activation(input @ weight.T + bias)`` as one operation (``activation``: None, "relu" or
    "gelu"), computed on the input viewed as one (rows, features) matrix: one BLAS call."""
    input = _as_tensor(input)
    out_features, in_features = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_features:
        raise ValueError(f"Linear: expected input with last dimension {in_features}, got shape {input.shape} "
                         f"(weight shape {weight.shape})")
    x2 = input.data.reshape(-1, in_features)
    w = weight.data
    out = x2 @ w.T
    if bias is not None:
        out += bias.data

    def backward(g):
        g2 = g.reshape(-1, out_features)
        grad_input = (g2 @ w).reshape(input.shape) if input.requires_grad else None
        grad_bias = None if bias is None else g2.sum(axis=0)
        return grad_input, g2.T @ x2, grad_bias

    inputs = (input, weight) if bias is None else (input, weight, bias)
    result = Tensor.from_op(out.reshape(*input.shape[:-1], out_features), inputs, backward)
    return _activate(result, activation)


def _activate(out, activation):
    """Apply ``activation`` (None, "relu" or "gelu") in place to ``out``, the fresh result of an
    operation whose backward does not read its output; that backward then receives ``g * f'(Z)``."""
    if activation is None:
        return out
    z = out.data
    if activation == "relu":
        derivative = z > 0
        z *= derivative
    elif activation == "gelu":
        derivative = gelu_(z)
    else:
        raise ValueError(f"activation must be None, 'relu' or 'gelu', got {activation!r}")
    if out._backward is not None:
        inner = out._backward
        out._backward = lambda g: inner(g * derivative)
    return out


_ERF = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)  # a5 .. a1 (A&S 7.1.26)
_ERF_P = 0.3275911
BLOCK = 16384  # elements per block: a block's temporaries (64 KiB each in float32) stay in the cache


def _gelu_block(z, derivative):
    """GELU of the 1-D array ``z`` in place; writes ``Phi(z) + z * phi(z)`` into ``derivative``."""
    r = np.abs(z)
    r *= 1 / math.sqrt(2)
    np.minimum(r, 10, out=r)
    t = r * _ERF_P
    t += 1
    np.reciprocal(t, out=t)
    poly = t * _ERF[0]
    for c in _ERF[1:]:
        poly += c
        poly *= t
    np.square(r, out=r)
    np.negative(r, out=r)
    gauss = np.exp(r, out=r)  # exp(-z^2 / 2): erf's factor and the derivative's
    poly *= gauss
    cdf = np.subtract(1, poly, out=poly)
    np.copysign(cdf, z, out=cdf)
    cdf += 1
    cdf *= 0.5  # Phi(z)
    np.multiply(gauss, z, out=derivative)
    derivative *= 1 / math.sqrt(2 * math.pi)
    derivative += cdf
    z *= cdf


def gelu_(z):
    """GELU of the contiguous array ``z`` in place, block by block; returns its derivative at the
    input, the one array the backward needs."""
    flat = z.reshape(-1)
    derivative = np.empty_like(flat)
    for start in range(0, flat.size, BLOCK):
        _gelu_block(flat[start:start + BLOCK], derivative[start:start + BLOCK])
    return derivative.reshape(z.shape)


def _softmax_(scores):
    """Softmax over the last axis, in place; ``-inf`` scores get weight 0, a row of only ``-inf`` zeros."""
    peak = scores.max(axis=-1, keepdims=True)
    peak[np.isneginf(peak)] = 0
    scores -= peak
    np.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    scores /= total
    return scores


def fused_self_attention(packed, additive, scale):
    """Attention of ``packed`` (3, ..., T, D), the stacked queries, keys and values, with the array
    ``additive`` (or None) added to the scores; the softmax and its backward in place."""
    q, k, v = packed.data
    q = q * q.dtype.type(scale)
    probs = q @ np.swapaxes(k, -1, -2)
    if additive is not None:
        probs += additive
    _softmax_(probs)
    out = probs @ v

    def backward(g):
        grads = np.empty(packed.shape, dtype=g.dtype)
        np.matmul(np.swapaxes(probs, -1, -2), g, out=grads[2])
        grad_scores = g @ np.swapaxes(v, -1, -2)
        grad_scores -= np.einsum("...ij,...ij->...i", grad_scores, probs)[..., None]
        grad_scores *= probs
        np.matmul(grad_scores, k, out=grads[0])
        grads[0] *= scale
        np.matmul(np.swapaxes(grad_scores, -1, -2), q, out=grads[1])
        return (grads,)

    return Tensor.from_op(out, (packed,), backward)


class FusedLinear(Linear):
    """``Linear`` computed by ``fused_linear``, with ``activation`` (None, "relu" or "gelu") fused in."""

    activation = None

    def forward(self, x):
        return fused_linear(x, self.weight, self.bias, self.activation)

    def extra_repr(self):
        return super().extra_repr() + f", activation={self.activation}"


class FusedConv2d(Conv2d):
    """``Conv2d`` with ``activation`` (None, "relu" or "gelu") applied inside its operation."""

    activation = None

    def forward(self, x):
        return _activate(conv2d(x, self.weight, self.bias, self.stride, self.padding), self.activation)

    def extra_repr(self):
        return super().extra_repr() + f", activation={self.activation}"


class FusedTransformerBlock(TransformerBlock):
    """``TransformerBlock`` with every projection a ``fused_linear`` (GELU fused into the first of the
    feed-forward network) and self-attention by ``fused_self_attention``: the same results, faster."""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        src = _as_tensor(src)
        if src.ndim != 3 or src.shape[-1] != self.d_model:
            raise ValueError(f"TransformerBlock: expected input of shape (batch, seq, {self.d_model}), got shape {src.shape}")
        attn, (batch, length, width) = self.self_attn, src.shape
        h = layer_norm(src, self.norm1.normalized_shape, self.norm1.weight, self.norm1.bias, self.norm1.eps)
        qkv = fused_linear(h, attn.in_proj_weight, attn.in_proj_bias)
        packed = qkv.reshape(batch, length, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        bias = attn._mask_bias(src_mask, src_key_padding_mask, batch, length, length, src.dtype)
        keep = np.tri(length, dtype=bool) if is_causal and src_mask is None else None
        dropout_p, scale = attn.dropout if attn.training else 0.0, 1 / math.sqrt(attn.head_dim)
        if dropout_p > 0 or (bias is not None and bias.requires_grad):  # Module 12's general op
            heads, _ = _attention(packed, None, None, keep, bias, scale, dropout_p)
        else:
            additive = np.where(keep, 0, -np.inf).astype(src.dtype) if keep is not None else (
                None if bias is None else bias.data)
            heads = fused_self_attention(packed, additive, scale)
        merged = heads.transpose(1, 2).reshape(batch, length, width)
        x = src + self.dropout1(fused_linear(merged, attn.out_proj.weight, attn.out_proj.bias))
        h = layer_norm(x, self.norm2.normalized_shape, self.norm2.weight, self.norm2.bias, self.norm2.eps)
        hidden = self.dropout(fused_linear(h, self.linear1.weight, self.linear1.bias, "gelu"))
        return x + self.dropout2(fused_linear(hidden, self.linear2.weight, self.linear2.bias))


class Identity(Module):
    """Returns its input (stands where an activation moved into the layer before it)."""

    def forward(self, x):
        return x


_FUSED = {Linear: FusedLinear, Conv2d: FusedConv2d, TransformerBlock: FusedTransformerBlock}
_ACTIVATIONS = {ReLU: "relu", GELU: "gelu"}


def accelerate(model):
    """Turn every ``Linear``, ``Conv2d`` and ``TransformerBlock`` in ``model`` (itself included) into
    its fused subclass, in place, keeping its parameters; in a ``Sequential``, a ReLU or GELU right
    after a ``Linear`` or ``Conv2d`` moves into it. Returns ``model``."""
    modules = list(model.modules())
    for module in modules:
        if type(module) in _FUSED:
            module.__class__ = _FUSED[type(module)]
    for module in modules:
        if isinstance(module, Sequential):
            children = list(module.named_children())
            for (_, layer), (name, after) in zip(children, children[1:]):
                if isinstance(layer, (FusedLinear, FusedConv2d)) and type(after) in _ACTIVATIONS:
                    layer.activation = _ACTIVATIONS[type(after)]
                    setattr(module, name, Identity())
    return model
