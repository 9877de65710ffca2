# Generated from source/12_attention/12_attention.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Attention: scaled_dot_product_attention and MultiheadAttention, with PyTorch's semantics."""
import math

import numpy as np

from tinytorch.nn.layers import Linear, Module, Parameter, _as_tensor, linear
from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


def masked_softmax(scores):
    """Softmax over the last axis in which ``-inf`` scores get weight 0; a row of only ``-inf`` is all zeros."""
    peak = scores.max(axis=-1, keepdims=True)
    peak[np.isneginf(peak)] = 0  # a fully masked row: exp(-inf - 0) = 0, not nan
    e = np.exp(scores - peak)
    total = e.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
    return e / total


def _attention(query, key, value, keep, bias, scale, dropout_p):
    """``softmax(query @ key^T * scale + bias, where keep) @ value`` as one operation.

    Returns the output and the attention weights (an array). With ``key`` and ``value`` None,
    ``query`` holds the three stacked along its first axis (self-attention from one projection).
    """
    packed = key is None
    q, k, v = query.data if packed else (query.data, key.data, value.data)
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if bias is not None:
        scores = scores + bias.data
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    probs = masked_softmax(scores)
    weights = probs
    if dropout_p > 0:
        drop = (default_generator().random(probs.shape) >= dropout_p).astype(probs.dtype) / probs.dtype.type(1 - dropout_p)
        weights = probs * drop
    out = weights @ v

    def gradients(g):
        grad_v = np.swapaxes(weights, -1, -2) @ g
        grad_probs = g @ np.swapaxes(v, -1, -2)
        if dropout_p > 0:
            grad_probs = grad_probs * drop
        grad_scores = probs * (grad_probs - (grad_probs * probs).sum(axis=-1, keepdims=True))
        grad_q = (grad_scores @ k) * scale
        grad_k = (np.swapaxes(grad_scores, -1, -2) @ q) * scale
        return grad_q, grad_k, grad_v, grad_scores

    def backward(g):
        grad_q, grad_k, grad_v, grad_scores = gradients(g)
        grads = (np.stack((grad_q, grad_k, grad_v)),) if packed else (grad_q, grad_k, grad_v)
        return grads if bias is None else grads + (grad_scores,)

    inputs = (query,) if packed else (query, key, value)
    return Tensor.from_op(out, inputs if bias is None else inputs + (bias,), backward), weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """``softmax(query @ key^T / sqrt(E) + mask) @ value`` over the last two axes, as in PyTorch.

    Shapes ``(..., L, E)``, ``(..., S, E)``, ``(..., S, Ev)`` -> ``(..., L, Ev)``. A boolean
    ``attn_mask`` is True where a pair takes part; a float one is added to the scores;
    ``is_causal=True`` lets query ``i`` attend to keys ``j <= i`` only.
    """
    query, key, value = _as_tensor(query), _as_tensor(key), _as_tensor(value)
    if (min(query.ndim, key.ndim, value.ndim) < 2 or query.shape[-1] != key.shape[-1]
            or key.shape[-2] != value.shape[-2]):
        raise ValueError(
            "scaled_dot_product_attention: expected query (..., L, E), key (..., S, E), value (..., S, Ev), "
            f"got query {query.shape}, key {key.shape}, value {value.shape}"
        )
    scores_shape = (*query.shape[:-2], query.shape[-2], key.shape[-2])
    keep = bias = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
        keep = np.tri(*scores_shape[-2:], dtype=bool)
    elif attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        try:
            np.broadcast_shapes(mask.shape, scores_shape)
        except ValueError:
            raise ValueError(
                f"scaled_dot_product_attention: attn_mask of shape {mask.shape} does not broadcast to "
                f"the scores' shape {scores_shape}"
            ) from None
        if mask.dtype == bool:
            keep = mask
        else:
            bias = attn_mask if isinstance(attn_mask, Tensor) else Tensor(mask, dtype=query.dtype)
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    return _attention(query, key, value, keep, bias, scale, dropout_p)[0]


def _additive(mask, dtype):
    """A MultiheadAttention mask (boolean True = ignore, or floats to add) as floats to add to the scores."""
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype == bool:
        return np.where(mask, -np.inf, 0).astype(dtype)
    return mask.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """``num_heads`` attention heads over ``embed_dim`` features, with PyTorch's parameters:
    ``in_proj_weight`` (3E, E) stacks the query, key and value projections; ``out_proj`` mixes the heads."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        bound = math.sqrt(6 / (embed_dim + 3 * embed_dim))
        self.in_proj_weight = Parameter(default_generator().uniform(-bound, bound, (3 * embed_dim, embed_dim)))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            self.out_proj.bias.data[...] = 0

    def _inputs(self, query, key, value):
        """The inputs as Tensors (N, L, E), (N, S, E), (N, S, E), whatever ``batch_first``."""
        query, key, value = _as_tensor(query), _as_tensor(key), _as_tensor(value)
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        batch_axis = 0 if self.batch_first else 1
        if (query.ndim != 3 or key.ndim != 3 or query.shape[-1] != self.embed_dim or key.shape != value.shape
                or key.shape[-1] != self.embed_dim or key.shape[batch_axis] != query.shape[batch_axis]):
            raise ValueError(
                f"MultiheadAttention: expected query {layout} and key, value of one shape, with E = embed_dim = "
                f"{self.embed_dim} and the same N, got query {query.shape}, key {key.shape}, value {value.shape}"
            )
        if not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        return query, key, value

    def _mask_bias(self, attn_mask, key_padding_mask, batch, length, source, dtype):
        """``attn_mask`` and ``key_padding_mask`` as one float Tensor to add to the (N, H, L, S) scores, or None."""
        bias = None
        if attn_mask is not None:
            bias = _additive(attn_mask, dtype)
            if bias.shape not in ((length, source), (batch * self.num_heads, length, source)):
                raise ValueError(
                    f"MultiheadAttention: attn_mask must have shape {(length, source)} or "
                    f"{(batch * self.num_heads, length, source)}, got {bias.shape}"
                )
            if bias.ndim == 3:
                bias = bias.reshape(batch, self.num_heads, length, source)
        if key_padding_mask is not None:
            padding = _additive(key_padding_mask, dtype)
            if padding.shape != (batch, source):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape {(batch, source)}, got {padding.shape}")
            padding = padding[:, None, None, :]
            bias = padding if bias is None else bias + padding
        return None if bias is None else Tensor(bias, dtype=dtype)

    def _heads(self, x):
        """(N, T, E) -> (N, H, T, D)."""
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        self_attention = query is key and key is value
        query, key, value = self._inputs(query, key, value)
        (batch, length, embed_dim), source = query.shape, key.shape[1]
        bias = self._mask_bias(attn_mask, key_padding_mask, batch, length, source, query.dtype)
        keep = np.tri(length, source, dtype=bool) if is_causal and attn_mask is None else None
        dropout_p = self.dropout if self.training else 0.0
        w, b = self.in_proj_weight, self.in_proj_bias
        if self_attention:
            q = linear(query, w, b).reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
            k = v = None
        else:
            q, k, v = (
                self._heads(linear(x, w[i * embed_dim:(i + 1) * embed_dim],
                                   None if b is None else b[i * embed_dim:(i + 1) * embed_dim]))
                for i, x in enumerate((query, key, value))
            )
        out, weights = _attention(q, k, v, keep, bias, 1 / math.sqrt(self.head_dim), dropout_p)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, embed_dim))
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, Tensor(weights.mean(axis=1) if average_attn_weights else weights, dtype=weights.dtype)

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
