"""GPT: a decoder-only transformer language model built from the course's layers."""
import numpy as np

from tinytorch.generation import generate
from tinytorch.nn.embeddings import Embedding
from tinytorch.nn.layers import Linear, Module, Sequential
from tinytorch.nn.transformer import LayerNorm, TransformerBlock
from tinytorch.tensor import Tensor


class GPT(Module):
    """Token and learned position embeddings, ``num_layers`` causal pre-norm blocks, a final
    LayerNorm and a linear head: ``GPT(ids (B, T))`` gives next-token logits (B, T, vocab_size)."""

    def __init__(self, vocab_size, context_length, d_model, nhead, num_layers, dim_feedforward, dropout=0.0):
        super().__init__()
        self.vocab_size, self.context_length = vocab_size, context_length
        self.token_embedding = Embedding(vocab_size, d_model)
        self.position_embedding = Embedding(context_length, d_model)
        self.blocks = Sequential(*(TransformerBlock(d_model, nhead, dim_feedforward, dropout) for _ in range(num_layers)))
        self.norm = LayerNorm(d_model)
        self.head = Linear(d_model, vocab_size)

    def forward(self, idx):
        ids = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if ids.ndim != 2 or not 0 < ids.shape[1] <= self.context_length:
            raise ValueError(
                f"GPT: expected token ids of shape (batch, seq) with 1 <= seq <= context_length "
                f"{self.context_length}, got shape {ids.shape}"
            )
        length = ids.shape[1]
        x = self.token_embedding(ids) + self.position_embedding(np.arange(length))
        for block in self.blocks:
            x = block(x, is_causal=True)
        return self.head(self.norm(x))

    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, use_cache=False):
        """Extend every prompt of ``idx`` (B, T) by ``max_new_tokens`` sampled tokens (int64 Tensor).

        The model reads a window of at most ``context_length`` tokens, which jumps to its last half
        when the sequence outgrows it; ``use_cache=True`` keeps the window's keys and values
        (``tinytorch.generation``, Module 14) and gives the same tokens, faster. ``temperature=0`` takes the most
        likely token, otherwise logits are divided by ``temperature`` and, with ``top_k``, all but
        the ``top_k`` largest are dropped before sampling (from ``tinytorch``'s seeded generator).
        """
        return generate(self, idx, max_new_tokens, temperature, top_k, use_cache)
