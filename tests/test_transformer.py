"""LayerNorm, TransformerBlock and GPT against PyTorch (float64 values and gradients; causal and
padding masks), GPT.generate's semantics, and a training run of Milestone 05's language model that
follows PyTorch's loss curve from the same weights on the same batches."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.models import GPT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from transformer import MILESTONE, load_into, torch_gpt  # noqa: E402  (the PyTorch twin of GPT)


def _close(ours, theirs, what, rtol=1e-6, atol=1e-6):
    np.testing.assert_allclose(np.asarray(getattr(ours, "data", ours)), theirs.detach().numpy(),
                               rtol=rtol, atol=atol, err_msg=what)


def _float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def _torch_block(torch, ours):
    theirs = torch.nn.TransformerEncoderLayer(ours.d_model, ours.nhead, ours.dim_feedforward, 0.0, activation="gelu",
                                              batch_first=True, norm_first=True).double()
    return load_into(torch, theirs, ours.state_dict())


# ----- LayerNorm --------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, normalized", [((7,), 7), ((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)), ((4, 1), 1)])
@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layer_norm_matches_torch(torch, rng, shape, normalized, affine, bias):
    ours = _float64(nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine, bias=bias))
    theirs = torch.nn.LayerNorm(normalized, eps=1e-4, elementwise_affine=affine, bias=bias).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if affine:
        for p in ours.parameters():
            p.data = rng.standard_normal(p.shape)
        load_into(torch, theirs, ours.state_dict())
    x = rng.standard_normal(shape) * 3 + 2
    tx, px = Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(tx), theirs(px)
    _close(out, ref, "LayerNorm output", rtol=1e-10, atol=1e-10)
    probe = rng.standard_normal(shape)
    out.backward(probe)
    ref.backward(torch.tensor(probe))
    _close(tx.grad, px.grad, "LayerNorm input gradient", rtol=1e-9, atol=1e-10)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _close(p.grad, q.grad, f"LayerNorm {name} gradient", rtol=1e-9, atol=1e-10)


def test_layer_norm_float32_and_initialisation(torch, rng):
    ours, theirs = nn.LayerNorm(64), torch.nn.LayerNorm(64)
    assert repr(ours) == repr(theirs)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.data, q.detach().numpy())
    x = (rng.standard_normal((16, 32, 64)) * 5 + 3).astype(np.float32)
    out = ours(Tensor(x))
    assert out.dtype == np.float32
    _close(out, theirs(torch.from_numpy(x)), "LayerNorm float32", rtol=1e-4, atol=1e-5)
    constant = ours(Tensor(np.full((2, 64), 7.0, np.float32))).data
    assert np.all(constant == 0), "a constant vector normalizes to exactly 0"


def test_layer_norm_gradcheck_and_errors(rng):
    x = Tensor(rng.standard_normal((3, 4)), dtype=np.float64)
    w, b = Tensor(rng.standard_normal(4), dtype=np.float64), Tensor(rng.standard_normal(4), dtype=np.float64)
    assert gradcheck(lambda x, w, b: nn.functional.layer_norm(x, (4,), w, b), x, w, b)
    with pytest.raises(ValueError, match=r"\(4,\).*\(3, 5\)"):
        nn.LayerNorm(4)(Tensor(np.zeros((3, 5))))


# ----- TransformerBlock ----------------------------------------------------------------------

def test_block_state_dict_is_torchs(torch):
    tinytorch.manual_seed(0)
    ours = nn.TransformerBlock(32, 4, 64)
    theirs = torch.nn.TransformerEncoderLayer(32, 4, 64, 0.0, activation="gelu", batch_first=True, norm_first=True)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert nn.TransformerBlock(8, 2).dim_feedforward == 2048  # torch's default


def _parity(torch, rng, src_mask=None, key_padding=None, is_causal=False, torch_mask=None):
    tinytorch.manual_seed(1)
    ours = _float64(nn.TransformerBlock(16, 4, 40))
    for p in ours.parameters():  # away from the initial ones and zeros of the norms and biases
        p.data = p.data + 0.1 * rng.standard_normal(p.shape)
    theirs = _torch_block(torch, ours)
    x = rng.standard_normal((3, 6, 16))
    tx, px = Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = ours(tx, src_mask=src_mask, src_key_padding_mask=key_padding, is_causal=is_causal)
    mask = src_mask if torch_mask is None else torch_mask
    ref = theirs(px, src_mask=None if mask is None else torch.tensor(mask),
                 src_key_padding_mask=None if key_padding is None else torch.tensor(key_padding), is_causal=is_causal)
    keep = np.ones(x.shape[:2], bool) if key_padding is None else ~key_padding  # torch's fast path zeroes padded rows
    _close(out.data[keep], ref[torch.tensor(keep)], "TransformerBlock output")
    probe = rng.standard_normal(x.shape) * keep[..., None]
    out.backward(probe)
    ref.backward(torch.tensor(probe))
    _close(tx.grad, px.grad, "TransformerBlock input gradient")
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _close(p.grad, q.grad, f"TransformerBlock {name} gradient")


def test_block_matches_torch(torch, rng):
    _parity(torch, rng)


def test_block_matches_torch_causal(torch, rng):
    causal = np.triu(np.full((6, 6), -np.inf), k=1)
    _parity(torch, rng, src_mask=causal, is_causal=True)
    _parity(torch, rng, is_causal=True, torch_mask=causal)  # ours builds the mask from the hint alone


def test_block_matches_torch_with_padding(torch, rng):
    padding = np.zeros((3, 6), bool)
    padding[0, 4:] = padding[2, 1:] = True
    _parity(torch, rng, key_padding=padding)
    _parity(torch, rng, src_mask=np.triu(np.ones((6, 6), bool), k=1), key_padding=padding, is_causal=True)  # True: masked


def test_block_errors_name_the_shapes():
    block = nn.TransformerBlock(8, 2, 16)
    with pytest.raises(ValueError, match=r"\(batch, seq, 8\).*\(2, 5, 6\)"):
        block(Tensor(np.zeros((2, 5, 6))))


# ----- GPT ---------------------------------------------------------------------------------------

@pytest.fixture
def gpt():
    tinytorch.manual_seed(0)
    return GPT(vocab_size=13, context_length=8, d_model=16, nhead=2, num_layers=2, dim_feedforward=32)


def test_gpt_matches_torch_twin(torch, rng, gpt):
    theirs = load_into(torch, torch_gpt(torch, 13, 8, 16, 2, 2, 32), gpt.state_dict())
    assert list(gpt.state_dict()) == list(theirs.state_dict())
    ids = rng.integers(0, 13, (3, 8))
    _close(gpt(ids), theirs(torch.from_numpy(ids)), "GPT logits", rtol=1e-4, atol=1e-5)
    assert gpt(ids[:, :5]).shape == (3, 5, 13)
    with pytest.raises(ValueError, match=r"context_length 8.*\(3, 9\)"):
        gpt(rng.integers(0, 13, (3, 9)))


def test_generate_greedy_is_argmax_and_deterministic(gpt):
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    out = gpt.generate(Tensor(prompt, dtype=np.int64), 4, temperature=0)
    assert out.shape == (2, 7) and out.dtype == np.int64
    np.testing.assert_array_equal(out.data[:, :3], prompt)
    np.testing.assert_array_equal(out.data, gpt.generate(prompt, 4, temperature=0).data)
    ids = prompt
    for _ in range(4):  # the same loop by hand
        ids = np.concatenate([ids, gpt(ids).data[:, -1].argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out.data, ids)
    np.testing.assert_array_equal(gpt.generate(prompt, 4, top_k=1).data, out.data)  # top_k=1 is greedy
    assert gpt.training, "generate restores training mode"


def test_generate_crops_to_the_context(gpt, rng):
    long = rng.integers(0, 13, (2, 20))
    out = gpt.generate(long, 5, temperature=0).data
    assert out.shape == (2, 25)
    np.testing.assert_array_equal(out[:, :20], long)
    # the model only ever sees the last 8 tokens: a prompt of those alone continues the same way
    np.testing.assert_array_equal(gpt.generate(long[:, -8:], 5, temperature=0).data[:, 8:], out[:, 20:])


def test_generate_sampling_is_seeded_and_respects_top_k(gpt):
    prompt = np.zeros((200, 1), dtype=np.int64)
    tinytorch.manual_seed(5)
    first = gpt.generate(prompt, 1).data
    tinytorch.manual_seed(5)
    np.testing.assert_array_equal(gpt.generate(prompt, 1).data, first)
    assert len(np.unique(first[:, 1])) > 3, "sampling at temperature 1 draws varied tokens"
    top = np.argsort(gpt(prompt[:1]).data[0, -1])[-3:]
    sampled = gpt.generate(prompt, 1, top_k=3, temperature=2.0).data[:, 1]
    assert set(sampled) <= set(top) and len(set(sampled)) > 1
    with pytest.raises(ValueError, match="temperature"):
        gpt.generate(prompt, 1, temperature=-1)


# ----- Milestone 05's model trains like PyTorch's --------------------------------------------

STEPS, BATCH = 30, 8


def test_milestone_model_follows_pytorch_loss_curve(torch):
    from tinytorch.datasets import load_python_docs

    text = load_python_docs()
    chars = sorted(set(text))
    assert len(chars) == MILESTONE["vocab_size"]
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.array([lookup[c] for c in text[:100_000]], dtype=np.int64)
    tinytorch.manual_seed(0)
    ours = GPT(**MILESTONE)
    theirs = load_into(torch, torch_gpt(torch, **MILESTONE), ours.state_dict())
    params = list(ours.parameters())
    opt_ours = tinytorch.optim.AdamW(params, lr=3e-3, weight_decay=0.1)
    opt_theirs = torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=0.1)
    context, vocab = MILESTONE["context_length"], MILESTONE["vocab_size"]
    rng = np.random.default_rng(0)
    curves = ([], [])
    for step in range(STEPS):
        lr = 3e-3 * min(1.0, (step + 1) / 10) * 0.5 * (1 + math.cos(math.pi * step / STEPS))
        for group in opt_ours.param_groups:
            group["lr"] = lr
        for group in opt_theirs.param_groups:
            group["lr"] = lr
        windows = ids[rng.integers(0, len(ids) - context - 1, BATCH)[:, None] + np.arange(context + 1)]
        x, y = windows[:, :-1], windows[:, 1:].reshape(-1)

        loss = nn.functional.cross_entropy(ours(x).reshape(-1, vocab), y)
        opt_ours.zero_grad()
        loss.backward()
        norm = math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in params))
        for p in params:
            p.grad.data *= min(1.0, 1.0 / (norm + 1e-6))
        opt_ours.step()
        curves[0].append(loss.item())

        reference = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)).reshape(-1, vocab), torch.from_numpy(y))
        opt_theirs.zero_grad()
        reference.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        opt_theirs.step()
        curves[1].append(reference.item())
    ours_curve, theirs_curve = map(np.array, curves)
    difference = np.abs(ours_curve - theirs_curve)
    assert difference.max() < 2e-3, f"step {difference.argmax()}: tinytorch {ours_curve[difference.argmax()]}, PyTorch {theirs_curve[difference.argmax()]}"
    assert theirs_curve[-5:].mean() < theirs_curve[:5].mean() - 1.0, "the runs should actually train"
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        _close(p, q, f"{name} after {STEPS} steps", rtol=1e-2, atol=2e-3)
