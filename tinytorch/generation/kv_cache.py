# Generated from source/14_kv_caching/14_kv_caching.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Generation with a key/value cache: KVCache, cached attention, and generate(model, ...)."""
import math

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn.activations import gelu, softmax
from tinytorch.nn.layers import linear
from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


class KVCache:
    """The keys and values of every layer for the positions seen so far, in preallocated arrays of
    shape ``(num_layers, batch_size, num_heads, max_length, head_dim)``; ``length`` positions are filled."""

    def __init__(self, num_layers, batch_size, num_heads, max_length, head_dim, dtype=np.float32):
        shape = (num_layers, batch_size, num_heads, max_length, head_dim)
        self.keys = np.zeros(shape, dtype=dtype)
        self.values = np.zeros(shape, dtype=dtype)
        self.length = 0

    @property
    def max_length(self):
        return self.keys.shape[3]

    @property
    def nbytes(self):
        """Bytes held by the keys and values."""
        return self.keys.nbytes + self.values.nbytes

    def update(self, layer, key, value):
        """Store ``key`` and ``value`` (batch, heads, t, head_dim) at positions ``length .. length+t-1``
        of ``layer``; return views of the layer's keys and values of positions ``0 .. length+t-1``."""
        _, batch, heads, _, head_dim = self.keys.shape
        t = key.shape[2] if key.ndim == 4 else 0
        expected = (batch, heads, t, head_dim)
        if key.shape != expected or value.shape != expected:
            raise ValueError(f"KVCache.update: expected key and value of shape (batch, heads, t, head_dim) = "
                             f"{expected}, got key {key.shape}, value {value.shape}")
        end = self.length + t
        if end > self.max_length:
            raise ValueError(f"KVCache.update: {t} new positions after {self.length} exceed max_length {self.max_length}")
        self.keys[layer, :, :, self.length:end] = key
        self.values[layer, :, :, self.length:end] = value
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    def advance(self, steps):
        """Count ``steps`` more positions as filled (after every layer has written them)."""
        self.length += steps

    def reset(self):
        """Forget every position (the arrays are kept and overwritten)."""
        self.length = 0


def cached_attention(query, keys, values):
    """Causal attention of ``query`` (..., t, D), the last t of S positions, over ``keys`` and
    ``values`` (..., S, D) of all S positions (arrays): query i sees the keys up to position S - t + i."""
    t, length = query.shape[-2], keys.shape[-2]
    scores = (query * (1 / math.sqrt(query.shape[-1]))) @ np.swapaxes(keys, -1, -2)
    if t > 1:
        scores[..., ~np.tri(t, length, length - t, dtype=bool)] = -np.inf
    scores -= scores.max(axis=-1, keepdims=True)  # every query sees at least key 0: no row is all -inf
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores @ values


def attention_step(attn, x, cache, layer):
    """Causal self-attention of ``MultiheadAttention`` ``attn`` for the new positions ``x`` (batch, t, E),
    over the positions in ``cache`` and the new ones, whose keys and values it stores in ``layer``."""
    batch, t, embed_dim = x.shape
    qkv = linear(x, attn.in_proj_weight, attn.in_proj_bias).data
    q, k, v = qkv.reshape(batch, t, 3, attn.num_heads, attn.head_dim).transpose(2, 0, 3, 1, 4)
    keys, values = cache.update(layer, k, v)
    heads = cached_attention(q, keys, values)
    return attn.out_proj(Tensor(heads.transpose(0, 2, 1, 3).reshape(batch, t, embed_dim), dtype=heads.dtype))


def forward_cached(model, ids, cache):
    """The logits (batch, t, vocab) of a ``tinytorch.models.GPT`` for the new tokens ``ids`` (batch, t)
    at positions ``cache.length ..``, reading and extending ``cache``."""
    ids = np.asarray(ids)
    start, t = cache.length, ids.shape[1]
    x = model.token_embedding(ids) + model.position_embedding(np.arange(start, start + t))
    for layer, block in enumerate(model.blocks):
        x = x + attention_step(block.self_attn, block.norm1(x), cache, layer)
        x = x + block.linear2(gelu(block.linear1(block.norm2(x))))
    cache.advance(t)
    return model.head(model.norm(x))


def cache_for(model, batch_size):
    """An empty ``KVCache`` for ``model`` (a GPT) and ``batch_size`` sequences, as long as its context."""
    attn = model.blocks[0].self_attn
    return KVCache(len(model.blocks), batch_size, attn.num_heads, model.context_length, attn.head_dim,
                   dtype=attn.in_proj_weight.dtype)


def sample(logits, temperature, top_k, rng):
    """Next tokens from ``logits`` (batch, vocab): the argmax for ``temperature=0``, otherwise a draw
    from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest (all when None)."""
    logits = logits.astype(np.float64)
    if temperature == 0:
        return logits.argmax(axis=-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = np.partition(logits, -top_k, axis=-1)[:, -top_k, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = softmax(Tensor(logits, dtype=np.float64)).data
    cdf = probs.cumsum(axis=-1)
    return (cdf > rng.random((len(logits), 1)) * cdf[:, -1:]).argmax(axis=-1)


def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, use_cache=True):
    """Extend every prompt of ``idx`` (batch, T) by ``max_new_tokens`` tokens of a GPT ``model``.

    The model sees a window of at most ``context_length`` tokens; when the sequence outgrows it,
    the window jumps to the last ``context_length // 2`` tokens. ``use_cache`` keeps the keys and
    values of the window (``KVCache``), and gives the same tokens. See ``sample`` for
    ``temperature`` and ``top_k``; draws come from ``tinytorch``'s seeded generator.
    """
    ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx, dtype=np.int64)
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"generate: expected prompts of shape (batch, seq) with seq >= 1, got shape {ids.shape}")
    if temperature < 0 or (top_k is not None and top_k < 1):
        raise ValueError(f"generate: expected temperature >= 0 and top_k >= 1 or None, got {temperature} and {top_k}")
    context = model.context_length
    start = max(0, ids.shape[1] - context)
    cache = cache_for(model, len(ids)) if use_cache else None
    was_training = model.training
    model.eval()
    rng = default_generator()
    with no_grad():
        for _ in range(max_new_tokens):
            if ids.shape[1] - start > context:  # the window jumps: keep its last half
                start = ids.shape[1] - max(1, context // 2)
                if cache is not None:
                    cache.reset()
            if cache is None:
                logits = model(ids[:, start:])
            else:  # the tokens of the window the cache has not seen: the window after a jump, else one
                logits = forward_cached(model, ids[:, start + cache.length:], cache)
            token = sample(logits.data[:, -1], temperature, top_k, rng)
            ids = np.concatenate([ids, token[:, None]], axis=1)
    model.train(was_training)
    return Tensor(ids, dtype=np.int64)
