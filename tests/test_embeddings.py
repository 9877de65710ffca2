"""Embedding against PyTorch (values and gradients, repeated ids, padding_idx), errors, positions."""
import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn.embeddings import scatter_add_rows, sinusoidal_positions


@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_embedding_matches_torch_with_repeated_ids(torch, rng, shape, padding_idx):
    table = rng.standard_normal((6, 5))
    ids = rng.integers(0, 6, shape)
    ids.flat[:3] = 3  # a repeated id, which is also a padding row in one case
    ours = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=padding_idx)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, padding_idx=padding_idx)
    out, ref = ours(Tensor(ids, dtype=np.int64)), theirs(torch.tensor(ids))
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    probe = rng.standard_normal(ref.shape)
    (out * Tensor(probe, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(probe)).sum().backward()
    assert ours.weight.grad.dtype == np.float64
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_functional_embedding_matches_torch(torch, rng):
    table = rng.standard_normal((9, 4))
    ids = rng.integers(0, 9, (4, 6))
    weight, ref_weight = Tensor(table, dtype=np.float64, requires_grad=True), torch.tensor(table, requires_grad=True)
    out = nn.functional.embedding(ids, weight, padding_idx=2)
    ref = torch.nn.functional.embedding(torch.tensor(ids), ref_weight, padding_idx=2)
    np.testing.assert_array_equal(out.data, ref.detach().numpy())
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(weight.grad.data, ref_weight.grad.numpy(), rtol=1e-12)


def test_embedding_gradcheck(rng):
    ids = rng.integers(0, 5, (3, 4))
    assert gradcheck(lambda w: nn.functional.embedding(ids, w), Tensor(rng.standard_normal((5, 3)), dtype=np.float64))


def test_layer_initialisation_like_torch(torch):
    tinytorch.manual_seed(0)
    ours = nn.Embedding(20_000, 16, padding_idx=5)
    theirs = torch.nn.Embedding(20_000, 16, padding_idx=5)
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.weight.dtype == np.float32
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert np.all(ours.weight.data[5] == 0)
    rows = np.delete(ours.weight.data, 5, axis=0)
    assert abs(rows.mean()) < 0.01 and abs(rows.std() - 1) < 0.01  # N(0, 1), as torch
    assert repr(ours) == repr(theirs) == "Embedding(20000, 16, padding_idx=5)"
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ids = np.array([[1, 5, 19_999]])
    np.testing.assert_array_equal(ours(ids).data, theirs(torch.tensor(ids)).detach().numpy())


def test_scatter_add_rows_matches_add_at(rng):
    index = rng.integers(0, 13, 1_000)
    values = rng.standard_normal((1_000, 7)).astype(np.float32)
    expected = np.zeros((15, 7), np.float32)
    np.add.at(expected, index, values)
    out = scatter_add_rows(index, values, 15)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert not out[13:].any()


def test_empty_ids_give_empty_output_and_zero_gradient():
    emb = nn.Embedding(4, 3)
    out = emb(np.zeros((2, 0), dtype=np.int64))
    assert out.shape == (2, 0, 3)
    out.sum().backward()
    assert not emb.weight.grad.data.any()


def test_frozen_pretrained_table_gets_no_gradient():
    emb = nn.Embedding.from_pretrained(sinusoidal_positions(10, 4))
    assert not emb.weight.requires_grad and not emb(np.arange(3)).requires_grad


@pytest.mark.parametrize("bad", [6, -1, 100])
def test_out_of_range_id_names_the_id_and_the_table_size(bad):
    emb = nn.Embedding(6, 2)
    with pytest.raises(IndexError, match=rf"index {bad} .*table of 6 rows"):
        emb(np.array([[0, bad, 1]]))


def test_float_ids_are_rejected_with_a_hint():
    with pytest.raises(TypeError, match="integer ids, got dtype float32"):
        nn.Embedding(6, 2)(Tensor([1.0, 2.0]))


@pytest.mark.parametrize("padding_idx", [4, -5])
def test_padding_idx_out_of_range(padding_idx):
    with pytest.raises(ValueError, match=f"padding_idx {padding_idx} must be within num_embeddings \\(4\\)"):
        nn.Embedding(4, 2, padding_idx=padding_idx)


def test_wrong_weight_shapes_are_named():
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4\)"):
        nn.functional.embedding(np.array([0]), Tensor(np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match=r"_weight has shape \(3, 2\), expected \(3, 4\)"):
        nn.Embedding(3, 4, _weight=np.zeros((3, 2)))


def test_sinusoidal_positions_formula():
    length, dim = 40, 10
    pe = sinusoidal_positions(length, dim)
    assert pe.shape == (length, dim) and pe.dtype == np.float32 and not pe.requires_grad
    p = np.arange(length)[:, None]
    i = np.arange(dim // 2)[None, :]
    angle = p / 10000 ** (2 * i / dim)
    np.testing.assert_allclose(pe.data[:, 0::2], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(pe.data[:, 1::2], np.cos(angle), atol=1e-6)
    odd = sinusoidal_positions(5, 5).data
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(5) / 10000 ** (4 / 5)), atol=1e-6)


def test_token_plus_learned_positions_train_both_tables():
    tok, pos = nn.Embedding(11, 4), nn.Embedding(8, 4)
    ids = np.array([[1, 2, 3], [3, 3, 1]])
    x = tok(ids) + pos(np.arange(3))
    x.sum().backward()
    np.testing.assert_array_equal(pos.weight.grad.data[:, 0], [2, 2, 2, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(tok.weight.grad.data[:, 0], [0, 2, 1, 3, 0, 0, 0, 0, 0, 0, 0])
