"""Benchmarks of tinytorch's transformer against PyTorch, in one process, on one thread.

Workloads:
  block     TransformerBlock forward+backward: batch 16, sequence 32, width 64, 4 heads, feed-forward
            256, causal mask, against torch.nn.TransformerEncoderLayer(norm_first=True, gelu) on the
            same weights
  step      one training step of Milestone 05's language model (forward, cross-entropy, backward,
            gradient clipping, AdamW) against the same model in PyTorch (``torch_gpt``)
  generate  tokens per second of GPT.generate (no cache: the whole context runs at every step), one
            prompt, sampling, against the same loop in PyTorch

numpy's BLAS is limited to one thread with threadpoolctl and PyTorch with torch.set_num_threads(1);
the runs of the two frameworks take turns so both see the same machine load; times are the best
of --repeat rounds, ratios the median of the rounds' ratios. Prints times and ratios (tinytorch
time / PyTorch time); never fails on time.
Run: .venv/bin/python bench/transformer.py [--repeat N] [--only block step generate]
"""
import numpy as np

from common import in_turns, run

TARGETS = {"block": ("PyTorch", 1.5)}  # tinytorch time / PyTorch time, at most
# Milestone 05's language model and batch (book/milestones/05_transformer.ipynb)
MILESTONE = dict(vocab_size=103, context_length=64, d_model=64, nhead=4, num_layers=4, dim_feedforward=256)
BATCH = 32


def torch_gpt(torch, vocab_size, context_length, d_model, nhead, num_layers, dim_feedforward):
    """``tinytorch.models.GPT`` written in PyTorch, with the same ``state_dict`` keys and shapes."""
    nn = torch.nn

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.context_length = context_length
            self.token_embedding = nn.Embedding(vocab_size, d_model)
            self.position_embedding = nn.Embedding(context_length, d_model)
            self.blocks = nn.Sequential(*(
                nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, 0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
                for _ in range(num_layers)))
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab_size)

        def forward(self, idx):
            length = idx.shape[1]
            x = self.token_embedding(idx) + self.position_embedding(torch.arange(length))
            mask = nn.Transformer.generate_square_subsequent_mask(length)
            for block in self.blocks:
                x = block(x, src_mask=mask, is_causal=True)
            return self.head(self.norm(x))

    return TorchGPT()


def load_into(torch, model, state):
    """Copy a tinytorch ``state_dict`` (numpy arrays) into a PyTorch ``model``."""
    model.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in state.items()})
    return model


def bench_block(torch, repeat):
    from tinytorch import Tensor
    from tinytorch.nn import TransformerBlock

    batch, seq, width = 16, 32, 64
    ours = TransformerBlock(width, 4, 4 * width)
    theirs = load_into(torch, torch.nn.TransformerEncoderLayer(
        width, 4, 4 * width, 0.0, activation="gelu", batch_first=True, norm_first=True), ours.state_dict())
    x = np.random.default_rng(0).standard_normal((batch, seq, width), dtype=np.float32)
    mask = np.triu(np.full((seq, seq), -np.inf, dtype=np.float32), k=1)
    tx, px = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tmask, pmask = Tensor(mask), torch.from_numpy(mask)
    grad = np.ones((batch, seq, width), np.float32)
    pgrad = torch.from_numpy(grad)

    def ours_step():
        ours(tx, src_mask=tmask, is_causal=True).backward(grad)

    def theirs_step():
        theirs(px, src_mask=pmask, is_causal=True).backward(pgrad)

    times = in_turns(repeat * 4, {"tinytorch": ours_step, "PyTorch": theirs_step})
    return times, f"batch {batch}, sequence {seq}, width {width}, 4 heads, feed-forward {4 * width}, causal"


def _models(torch):
    import tinytorch
    from tinytorch.models import GPT

    tinytorch.manual_seed(0)
    ours = GPT(**MILESTONE)
    return ours, load_into(torch, torch_gpt(torch, **MILESTONE), ours.state_dict())


def bench_step(torch, repeat):
    import tinytorch

    ours, theirs = _models(torch)
    vocab, context = MILESTONE["vocab_size"], MILESTONE["context_length"]
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (BATCH, context))
    y = rng.integers(0, vocab, BATCH * context)
    ours_opt = tinytorch.optim.AdamW(ours.parameters(), lr=1e-3, weight_decay=0.1)
    theirs_opt = torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=0.1)
    px, py = torch.from_numpy(x), torch.from_numpy(y)

    def ours_step():
        loss = tinytorch.nn.functional.cross_entropy(ours(x).reshape(-1, vocab), y)
        ours_opt.zero_grad()
        loss.backward()
        params = ours_opt.params
        norm = np.sqrt(sum(float((p.grad.data * p.grad.data).sum()) for p in params))
        for p in params:
            p.grad.data *= min(1.0, 1.0 / (norm + 1e-6))
        ours_opt.step()

    def theirs_step():
        loss = torch.nn.functional.cross_entropy(theirs(px).reshape(-1, vocab), py)
        theirs_opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        theirs_opt.step()

    times = in_turns(repeat, {"tinytorch": ours_step, "PyTorch": theirs_step})
    params = sum(p.numel() for p in ours.parameters())
    return times, f"{params:,} parameters, {BATCH} sequences of {context} characters"


def bench_generate(torch, repeat, tokens=64):
    import tinytorch

    ours, theirs = _models(torch)
    prompt = np.zeros((1, 1), dtype=np.int64)

    def theirs_generate():
        ids = torch.from_numpy(prompt)
        with torch.no_grad():
            for _ in range(tokens):
                logits = theirs(ids[:, -MILESTONE["context_length"]:])[:, -1]
                ids = torch.cat([ids, torch.multinomial(torch.softmax(logits, -1), 1)], dim=1)

    runs = {"tinytorch": lambda: ours.generate(tinytorch.Tensor(prompt, dtype=np.int64), tokens),
            "PyTorch": theirs_generate}
    times = in_turns(repeat, runs)
    rates = ", ".join(f"{name} {tokens / min(t):.0f} tokens/s" for name, t in times.items())
    return times, f"{tokens} tokens from a 1-token prompt, sampling, no cache: {rates}"


WORKLOADS = {
    "block": lambda torch, args: bench_block(torch, args.repeat),
    "step": lambda torch, args: bench_step(torch, args.repeat),
    "generate": lambda torch, args: bench_generate(torch, args.repeat),
}


def main(argv=None):
    run(__doc__, WORKLOADS, TARGETS, {
        "--repeat": dict(type=int, default=10, help="rounds of each workload (default 10)"),
    }, argv)


if __name__ == "__main__":
    main()
