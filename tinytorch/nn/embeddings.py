# Generated from source/11_embeddings/11_embeddings.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Token embeddings and positional encodings: Embedding, embedding, sinusoidal_positions."""
import numpy as np

from tinytorch.nn.layers import Module, Parameter
from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


def scatter_add_rows(index, values, num_rows):
    """``out[v] = sum of values[n] over n with index[n] == v``, shape ``(num_rows, D)``."""
    out = np.zeros((num_rows, values.shape[-1]), dtype=values.dtype)
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    sorted_index = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_index[1:] != sorted_index[:-1]])
    out[sorted_index[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


def _as_indices(input, num_embeddings):
    """The ids in ``input`` as an integer array, checked to lie in ``[0, num_embeddings)``."""
    ids = input.data if isinstance(input, Tensor) else np.asarray(input)
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"Embedding: expected integer ids, got dtype {ids.dtype} "
            "(make them with np.int64, e.g. Tensor(ids, dtype=np.int64))"
        )
    if ids.size:
        low, high = ids.min(), ids.max()
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(
                f"Embedding: index {bad} is out of range for a table of {num_embeddings} rows "
                f"(valid ids: 0 to {num_embeddings - 1})"
            )
    return ids


def _padding_index(padding_idx, num_embeddings):
    """``padding_idx`` as a row number in ``[0, num_embeddings)`` (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, embedding_dim) for the integer ids in ``input`` (any shape)."""
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must have shape (num_embeddings, embedding_dim), got shape {weight.shape}")
    num_embeddings, dim = weight.shape
    ids = _as_indices(input, num_embeddings)
    padding_idx = _padding_index(padding_idx, num_embeddings)
    out = weight.data[ids]

    def backward(g):
        grad = scatter_add_rows(ids.reshape(-1), g.reshape(-1, dim), num_embeddings)
        if padding_idx is not None:
            grad[padding_idx] = 0
        return (grad,)

    return Tensor.from_op(out, (weight,), backward)


class Embedding(Module):
    """A lookup table: ``weight`` (num_embeddings, embedding_dim), one learnable row per id."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None, _freeze=False):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        if _weight is not None:
            table = np.asarray(_weight.data if isinstance(_weight, Tensor) else _weight)
            if table.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight has shape {table.shape}, expected {(num_embeddings, embedding_dim)}"
                )
            self.weight = Parameter(table, dtype=table.dtype if table.dtype.kind == "f" else None, requires_grad=not _freeze)
            return
        table = default_generator().standard_normal((num_embeddings, embedding_dim), dtype=np.float32)
        if self.padding_idx is not None:
            table[self.padding_idx] = 0
        self.weight = Parameter(table)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None):
        """An Embedding whose weight is ``embeddings`` (2-D); frozen (no gradient) unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {embeddings.shape}")
        return cls(*embeddings.shape, padding_idx=padding_idx, _weight=embeddings, _freeze=freeze)

    def forward(self, input):
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


def sinusoidal_positions(length, dim, base=10000.0):
    """The fixed positional encoding of Vaswani et al. (2017): a float32 Tensor (length, dim)."""
    frequencies = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = np.arange(length, dtype=np.float64)[:, None] * frequencies
    table = np.empty((length, dim), dtype=np.float32)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return Tensor(table)
