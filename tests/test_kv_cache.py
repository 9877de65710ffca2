"""Module 14, the key/value cache: KVCache writes in place, cached attention and the cached GPT step
against PyTorch, and generate with the cache giving the tokens (and the logits, within 1e-5) of
generate without it, within the context and across the window's jumps past it."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor
from tinytorch.autograd import no_grad
from tinytorch.generation import KVCache, attention_step, cache_for, cached_attention, forward_cached, generate
from tinytorch.models import GPT
from tinytorch.nn import MultiheadAttention

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
from transformer import load_into, torch_gpt  # noqa: E402  (PyTorch's twin of tinytorch's GPT)

SMALL = dict(vocab_size=13, context_length=8, d_model=16, nhead=2, num_layers=2, dim_feedforward=32)


@pytest.fixture
def gpt():
    tinytorch.manual_seed(0)
    return GPT(**SMALL)


# ----- the cache --------------------------------------------------------------------------------

def test_update_writes_in_place_and_returns_views(rng):
    cache = KVCache(num_layers=3, batch_size=2, num_heads=2, max_length=6, head_dim=3)
    keys_array, values_array = cache.keys, cache.values
    written_k, written_v = [], []
    for t in (2, 1, 3):
        k, v = rng.standard_normal((2, 2, t, 3)), rng.standard_normal((2, 2, t, 3))
        keys, values = cache.update(1, k, v)
        written_k.append(k)
        written_v.append(v)
        np.testing.assert_allclose(keys, np.concatenate(written_k, axis=2), rtol=1e-6)
        np.testing.assert_allclose(values, np.concatenate(written_v, axis=2), rtol=1e-6)
        assert np.shares_memory(keys, keys_array) and np.shares_memory(values, values_array)
        cache.advance(t)
    assert cache.keys is keys_array and cache.values is values_array, "the arrays are allocated once"
    assert cache.length == 6 and not cache.keys[0].any() and not cache.keys[2].any()
    assert cache.nbytes == 2 * 3 * 2 * 2 * 6 * 3 * 4


def test_update_errors_name_the_shapes(rng):
    cache = KVCache(1, 2, 2, 4, 3)
    with pytest.raises(ValueError, match=r"\(2, 2, 1, 3\).*\(2, 3, 1, 3\)"):
        cache.update(0, np.zeros((2, 3, 1, 3)), np.zeros((2, 3, 1, 3)))
    cache.update(0, np.zeros((2, 2, 4, 3)), np.zeros((2, 2, 4, 3)))
    cache.advance(4)
    with pytest.raises(ValueError, match="max_length 4"):
        cache.update(0, np.zeros((2, 2, 1, 3)), np.zeros((2, 2, 1, 3)))
    cache.reset()
    assert cache.length == 0


def test_cache_memory_is_8_bytes_per_width_per_token_per_layer():
    tinytorch.manual_seed(0)
    model = GPT(vocab_size=103, context_length=64, d_model=64, nhead=4, num_layers=4, dim_feedforward=256)
    for batch in (1, 3):
        cache = cache_for(model, batch)
        assert cache.keys.shape == (4, batch, 4, 64, 16) and cache.keys.dtype == np.float32
        assert cache.nbytes == 8 * 64 * 4 * 64 * batch  # 8E bytes per token per layer


# ----- cached attention and the attention step against PyTorch ----------------------------------

@pytest.mark.parametrize("t", [1, 2, 5, 7])
def test_cached_attention_matches_torch(torch, rng, t):
    q = rng.standard_normal((2, 3, t, 4))
    k, v = rng.standard_normal((2, 3, 7, 4)), rng.standard_normal((2, 3, 7, 5))
    mask = torch.tensor(np.tri(t, 7, 7 - t, dtype=bool))
    ref = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=mask)
    np.testing.assert_allclose(cached_attention(q, k, v), ref.numpy(), rtol=1e-10, atol=1e-12)


def test_attention_step_matches_torch_multihead_attention(torch, rng):
    tinytorch.manual_seed(1)
    mha = MultiheadAttention(12, 3).eval()
    theirs = torch.nn.MultiheadAttention(12, 3, batch_first=True)
    theirs.load_state_dict({n: torch.from_numpy(v.copy()) for n, v in mha.state_dict().items()})
    x = rng.standard_normal((2, 6, 12)).astype(np.float32)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(6)
    ref = theirs(*(torch.from_numpy(x),) * 3, attn_mask=mask, need_weights=False)[0].detach().numpy()
    with no_grad():
        cache = KVCache(1, 2, 3, 6, 4)
        pieces = []
        for start, stop in [(0, 3), (3, 4), (4, 5), (5, 6)]:  # a prompt of 3, then one token at a time
            pieces.append(attention_step(mha, Tensor(x[:, start:stop]), cache, 0).data)
            cache.advance(stop - start)
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), ref, rtol=1e-5, atol=1e-6)


def test_forward_cached_matches_the_torch_twin_token_by_token(torch, rng, gpt):
    theirs = load_into(torch, torch_gpt(torch, *SMALL.values()), gpt.state_dict())
    ids = rng.integers(0, 13, (3, 8))
    ref = theirs(torch.from_numpy(ids)).detach().numpy()
    with no_grad():
        cache = cache_for(gpt, 3)
        logits = [forward_cached(gpt, ids[:, :2], cache).data]
        logits += [forward_cached(gpt, ids[:, i:i + 1], cache).data for i in range(2, 8)]
    np.testing.assert_allclose(np.concatenate(logits, axis=1), ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.concatenate(logits, axis=1), gpt(ids).data, rtol=0, atol=1e-5)


# ----- generate: cached and uncached agree --------------------------------------------------------

def _windows(prompt_length, new_tokens, context):
    """The (start, stop) of the window each step of ``generate`` reads: the specified rule."""
    start, length, out = max(0, prompt_length - context), prompt_length, []
    for _ in range(new_tokens):
        if length - start > context:
            start = length - context // 2
        out.append((start, length))
        length += 1
    return out


@pytest.mark.parametrize("prompt_length", [1, 5, 8, 20])
def test_cached_logits_equal_uncached_across_window_jumps(gpt, rng, prompt_length):
    ids = rng.integers(0, 13, (2, prompt_length + 30))
    gpt.eval()
    with no_grad():
        cache, previous = cache_for(gpt, 2), None
        for start, stop in _windows(prompt_length, 30, 8):
            if start != previous:
                cache.reset()
                previous = start
            cached = forward_cached(gpt, ids[:, start + cache.length:stop], cache).data[:, -1]
            np.testing.assert_allclose(cached, gpt(ids[:, start:stop]).data[:, -1], rtol=0, atol=1e-5,
                                       err_msg=f"logits of the window {start}..{stop}")
        assert cache.length == stop - start


@pytest.mark.parametrize("prompt_length", [1, 3, 8, 20])
def test_greedy_tokens_identical_with_and_without_cache(gpt, rng, prompt_length):
    prompt = rng.integers(0, 13, (3, prompt_length))
    cached = generate(gpt, prompt, 40, temperature=0, use_cache=True).data
    plain = generate(gpt, prompt, 40, temperature=0, use_cache=False).data
    assert cached.shape == (3, prompt_length + 40) and cached.dtype == np.int64
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_array_equal(cached[:, :prompt_length], prompt)


def test_generate_follows_the_window_rule(gpt, rng):
    prompt = rng.integers(0, 13, (2, 3))
    out = generate(gpt, prompt, 12, temperature=0, use_cache=False).data
    gpt.eval()
    with no_grad():
        for (start, stop), token in zip(_windows(3, 12, 8), out.T[3:]):
            np.testing.assert_array_equal(gpt(out[:, start:stop]).data[:, -1].argmax(-1), token)
    # after the jump at 8 tokens the model sees the last 4 only: a prompt of those continues the same way
    np.testing.assert_array_equal(generate(gpt, out[:, 5:9], 3, temperature=0).data[:, 4:], out[:, 9:12])


def test_sampling_draws_the_same_tokens_with_and_without_cache(gpt):
    prompt = np.zeros((16, 2), dtype=np.int64)
    runs = []
    for use_cache in (True, False):
        tinytorch.manual_seed(7)
        runs.append(generate(gpt, prompt, 20, temperature=1.5, top_k=5, use_cache=use_cache).data)
    np.testing.assert_array_equal(*runs)
    assert len(np.unique(runs[0][:, 2:])) > 3


def test_generate_checks_arguments_and_restores_the_mode(gpt):
    with pytest.raises(ValueError, match=r"\(batch, seq\).*\(3,\)"):
        generate(gpt, np.zeros(3, dtype=np.int64), 2)
    with pytest.raises(ValueError, match="temperature"):
        generate(gpt, np.zeros((1, 1), dtype=np.int64), 2, temperature=-1)
    gpt.train()
    generate(gpt, np.zeros((1, 1), dtype=np.int64), 2)
    assert gpt.training
    assert generate(gpt, np.zeros((1, 4), dtype=np.int64), 0).shape == (1, 4)


@pytest.mark.slow
def test_benchmark_prints_the_speed_up():
    out = subprocess.run([sys.executable, BENCH / "kv_cache.py", "--repeat", "1", "--tokens", "80"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("same tokens: True") == 2 and "speed-up of the cache" in out.stdout, out.stdout
