# Generated from source/20_capstone/20_capstone.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Evaluating language models: bits per byte, comparable across tokenizers."""
import math

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn.losses import cross_entropy
from tinytorch.tensor import Tensor


def bits_per_byte(model, tokenizer, text, batch_size=8):
    """``(bits per byte, total nats)`` of the GPT ``model`` on ``text``: the token ids are cut into
    consecutive windows of ``context_length`` predictions; the first token costs ``ln(vocab_size)``
    (a uniform guess), every other its negative log-likelihood; the total in nats is divided by
    the UTF-8 bytes of ``text`` and ln 2."""
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    if len(ids) < 2:
        raise ValueError(f"bits_per_byte: expected a text of at least 2 tokens, got {len(ids)} ({len(text)} characters)")
    context, nats = model.context_length, math.log(model.vocab_size)
    starts = np.arange(0, len(ids) - 1, context)
    lengths = np.minimum(context, len(ids) - 1 - starts)
    with no_grad():
        for length in np.unique(lengths):
            group = starts[lengths == length]
            for i in range(0, len(group), batch_size):
                windows = np.stack([ids[s:s + length + 1] for s in group[i:i + batch_size]])
                logits = model(windows[:, :-1]).data.reshape(-1, model.vocab_size)
                targets = windows[:, 1:].reshape(-1)
                nats += cross_entropy(Tensor(logits, dtype=np.float64), targets, reduction="sum").item()
    return nats / len(text.encode("utf-8")) / math.log(2), nats
