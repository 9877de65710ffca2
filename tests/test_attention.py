"""scaled_dot_product_attention and MultiheadAttention against PyTorch (float64 values and gradients)
and finite differences: masks, causal, padding, cross-attention, both layouts, errors."""
import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn.attention import masked_softmax

F = nn.functional


def _leaves(torch, *arrays):
    return ([Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _backward_both(torch, rng, out, ref):
    probe = rng.standard_normal(ref.shape)
    (out * Tensor(probe, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(probe)).sum().backward()


def _close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=what)


def _masks(torch, rng, kind, batch_shape, length, source):
    """(ours, torch's) attn_mask of the given kind for scaled_dot_product_attention."""
    if kind == "bool":
        mask = rng.random((length, source)) > 0.4
        mask[:, 0] = True
        mask[1] = False  # a query that sees nothing: zeros, as torch
        return mask, torch.tensor(mask)
    if kind == "bool-batched":
        mask = rng.random((*batch_shape, length, source)) > 0.3
        mask[..., 0] = True
        return mask, torch.tensor(mask)
    if kind == "float":
        mask = rng.standard_normal((length, source))
        mask[0, 1:] = -np.inf
        return mask, torch.tensor(mask)
    return None, None


@pytest.mark.parametrize("kind", [None, "bool", "bool-batched", "float", "causal"])
@pytest.mark.parametrize("shapes", [((4, 5), (6, 5), (6, 3)), ((2, 3, 4, 8), (2, 3, 7, 8), (2, 3, 7, 8)),
                                    ((2, 5, 4), (2, 5, 4), (2, 5, 6))])
def test_sdpa_matches_torch(torch, rng, kind, shapes):
    ours, theirs = _leaves(torch, *(rng.standard_normal(s) for s in shapes))
    length, source = shapes[0][-2], shapes[1][-2]
    mask, ref_mask = _masks(torch, rng, kind, shapes[0][:-2], length, source)
    causal = kind == "causal"
    out = F.scaled_dot_product_attention(*ours, attn_mask=mask, is_causal=causal)
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=ref_mask, is_causal=causal)
    _close(out.data, ref, "output")
    _backward_both(torch, rng, out, ref)
    for name, o, t in zip("qkv", ours, theirs):
        _close(o.grad.data, t.grad, f"gradient of {name}")


def test_sdpa_float_mask_tensor_gets_torchs_gradient_and_scale(torch, rng):
    arrays = [rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2)),
              rng.standard_normal((4, 5))]
    ours, theirs = _leaves(torch, *arrays)
    out = F.scaled_dot_product_attention(*ours[:3], attn_mask=ours[3], scale=0.7)
    ref = torch.nn.functional.scaled_dot_product_attention(*theirs[:3], attn_mask=theirs[3], scale=0.7)
    _close(out.data, ref, "output")
    _backward_both(torch, rng, out, ref)
    for o, t in zip(ours, theirs):
        _close(o.grad.data, t.grad, "gradient")


def test_sdpa_gradcheck_with_masks(rng):
    q, k, v = (Tensor(rng.standard_normal(s), dtype=np.float64) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    keep = rng.random((3, 5)) > 0.5
    keep[:, 2] = True
    bias = Tensor(rng.standard_normal((2, 3, 5)), dtype=np.float64)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep), q, k, v)
    assert gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b), q, k, v, bias)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)


def test_sdpa_dropout_keeps_expected_value_and_gradients_agree(rng):
    q, k, v = (Tensor(rng.standard_normal((1, 6, 4)), dtype=np.float64) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).data
    tinytorch.manual_seed(0)
    mean = np.mean([F.scaled_dot_product_attention(q, k, v, dropout_p=0.3).data for _ in range(3000)], axis=0)
    np.testing.assert_allclose(mean, plain, atol=0.06)

    def same_draw(q, k, v):
        tinytorch.manual_seed(7)  # the same dropout mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)

    assert gradcheck(same_draw, q, k, v)


def test_masked_softmax_has_no_warnings_and_zero_rows(recwarn):
    out = masked_softmax(np.array([[-np.inf, -np.inf], [3.0, -np.inf]], dtype=np.float32))
    np.testing.assert_array_equal(out, [[0, 0], [1, 0]])
    assert out.dtype == np.float32 and not recwarn.list


def _pair(torch, embed_dim, num_heads, bias=True, batch_first=True):
    """A torch MultiheadAttention (float64, random biases) and ours holding its state_dict."""
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=batch_first).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=batch_first)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for p in ours.parameters():
        p.data = p.data.astype(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})  # exact float64 values
    return ours, theirs


CASES = {
    "self": {},
    "self-causal": {"causal": True},
    "self-bool-attn-mask": {"attn_mask": "bool"},
    "self-float-attn-mask": {"attn_mask": "float"},
    "self-per-head-mask": {"attn_mask": "per-head"},
    "self-padding": {"padding": "bool"},
    "self-float-padding": {"padding": "float"},
    "self-causal-padding": {"causal": True, "padding": "bool"},
    "cross": {"cross": True},
    "cross-padding-mask": {"cross": True, "padding": "bool", "attn_mask": "bool"},
    "self-no-weights": {"need_weights": False},
    "self-per-head-weights": {"average": False},
    "no-bias": {"bias": False},
    "sequence-first": {"batch_first": False, "padding": "bool"},
    "cross-sequence-first": {"batch_first": False, "cross": True},
}


@pytest.mark.parametrize("case", CASES)
def test_multihead_attention_matches_torch(torch, rng, case):
    c = CASES[case]
    batch, length, source, embed_dim, heads = 3, 5, (4 if c.get("cross") else 5), 8, 2
    batch_first = c.get("batch_first", True)
    ours, theirs = _pair(torch, embed_dim, heads, bias=c.get("bias", True), batch_first=batch_first)
    layout = (lambda n, t: (n, t, embed_dim)) if batch_first else (lambda n, t: (t, n, embed_dim))
    arrays = [rng.standard_normal(layout(batch, length))]
    if c.get("cross"):
        arrays += [rng.standard_normal(layout(batch, source))]
    x, tx = _leaves(torch, *arrays)
    q, kv = x[0], x[-1]
    tq, tkv = tx[0], tx[-1]
    kwargs, ref_kwargs = {}, {}
    if c.get("attn_mask"):
        shape = (batch * heads, length, source) if c["attn_mask"] == "per-head" else (length, source)
        mask = rng.standard_normal(shape) if c["attn_mask"] == "float" else rng.random(shape) < 0.3
        if mask.dtype == bool:
            mask[..., 0] = False
        kwargs["attn_mask"], ref_kwargs["attn_mask"] = mask, torch.tensor(mask)
    if c.get("padding"):
        padding = rng.random((batch, source)) < 0.4
        padding[:, :2] = False  # every query (causal ones too) keeps a key
        if c["padding"] == "float":
            padding = np.where(padding, -3.0, 0.5)
        kwargs["key_padding_mask"], ref_kwargs["key_padding_mask"] = padding, torch.tensor(padding)
    if c.get("causal"):
        kwargs["is_causal"] = ref_kwargs["is_causal"] = True
        ref_kwargs["attn_mask"] = torch.ones(length, length, dtype=torch.bool).triu(1)  # torch needs the mask too
    for key in ("need_weights",):
        if key in c:
            kwargs[key] = ref_kwargs[key] = c[key]
    if "average" in c:
        kwargs["average_attn_weights"] = ref_kwargs["average_attn_weights"] = c["average"]
    out, weights = ours(q, kv, kv, **kwargs)
    ref, ref_weights = theirs(tq, tkv, tkv, **ref_kwargs)
    _close(out.data, ref, "output")
    if ref_weights is None:
        assert weights is None
    else:
        _close(weights.data, ref_weights, "attention weights")
    _backward_both(torch, rng, out, ref)
    for o, t in zip(x, tx):
        _close(o.grad.data, t.grad, "input gradient")
    ours_grads = {name: p.grad.data for name, p in ours.named_parameters()}
    assert list(ours_grads) == [name for name, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        _close(ours_grads[name], p.grad, f"gradient of {name}")


def test_initialisation_and_state_dict_like_torch(torch):
    tinytorch.manual_seed(0)
    ours, theirs = nn.MultiheadAttention(64, 4), torch.nn.MultiheadAttention(64, 4, batch_first=True)
    ref = theirs.state_dict()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in ref.items()}
    assert list(ours.state_dict()) == list(ref)
    for name in ("in_proj_weight", "out_proj.weight"):
        a, b = ours.state_dict()[name], ref[name].numpy()
        assert a.dtype == np.float32
        assert abs(np.abs(a).max() - np.abs(b).max()) < 0.05 * np.abs(b).max()  # same uniform bound
        assert abs(a.std() - b.std()) < 0.1 * b.std()
    assert not ours.in_proj_bias.data.any() and not ours.out_proj.bias.data.any()


def test_finite_differences_through_the_layer(rng):
    tinytorch.manual_seed(3)
    mha = nn.MultiheadAttention(6, 2)
    for p in mha.parameters():
        p.data = p.data.astype(np.float64) + 0.1
    x = Tensor(rng.standard_normal((2, 3, 6)), dtype=np.float64)
    memory = Tensor(rng.standard_normal((2, 4, 6)), dtype=np.float64)
    assert gradcheck(lambda t: mha(t, t, t, is_causal=True)[0], x)
    assert gradcheck(lambda a, m: mha(a, m, m)[0], x, memory)


def test_dropout_only_in_training(rng):
    tinytorch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = Tensor(rng.standard_normal((2, 4, 8)))
    assert not np.allclose(mha(x, x, x)[0].data, mha(x, x, x)[0].data)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].data, mha(x, x, x)[0].data)


def test_fully_padded_sequence_gives_finite_output(rng):
    mha = nn.MultiheadAttention(4, 2)
    x = Tensor(rng.standard_normal((2, 3, 4)))
    padding = np.array([[True] * 3, [False] * 3])
    out, weights = mha(x, x, x, key_padding_mask=padding)
    assert np.isfinite(out.data).all() and not weights.data[0].any()


def test_errors_name_the_shapes():
    with pytest.raises(ValueError, match="embed_dim 10 is not divisible by num_heads 4"):
        nn.MultiheadAttention(10, 4)
    mha = nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"embed_dim = 8.*query \(2, 3, 6\)"):
        mha(np.zeros((2, 3, 6)), np.zeros((2, 3, 6)), np.zeros((2, 3, 6)))
    with pytest.raises(ValueError, match=r"key \(2, 4, 8\), value \(2, 5, 8\)"):
        mha(np.zeros((2, 3, 8)), np.zeros((2, 4, 8)), np.zeros((2, 5, 8)))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 3\), got \(3, 2\)"):
        x = Tensor(np.zeros((2, 3, 8)))
        mha(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(3, 3\) or \(4, 3, 3\), got \(2, 3\)"):
        mha(x, x, x, attn_mask=np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"query \(4, 3\), key \(5, 2\), value \(5, 3\)"):
        F.scaled_dot_product_attention(np.zeros((4, 3)), np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\) does not broadcast to the scores' shape \(4, 5\)"):
        F.scaled_dot_product_attention(np.zeros((4, 3)), np.zeros((5, 3)), np.zeros((5, 3)), attn_mask=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(np.zeros((4, 3)), np.zeros((4, 3)), np.zeros((4, 3)),
                                       attn_mask=np.ones((4, 4), dtype=bool), is_causal=True)
