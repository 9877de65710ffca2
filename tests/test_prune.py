"""Pruning against ``torch.nn.utils.prune`` (masks, the ``weight_orig``/``weight_mask``
reparametrization, ``remove``), masks held through optimizer steps, structured pruning that removes
units and keeps the kept units' outputs, and the distillation loss against PyTorch's KL divergence."""
import copy
import importlib

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn, optim
from tinytorch.nn.utils import prune
from tinytorch.nn.utils.distillation import distillation_loss

from test_book import executed_notebook, site  # noqa: F401  (fixtures: the book build's run of the lab)
from test_milestones import check_clean, result


@pytest.fixture
def tp(torch):
    """PyTorch's pruning module, the oracle (not imported by ``import torch``)."""
    return importlib.import_module("torch.nn.utils.prune")


def _pair(torch, make_ours, make_theirs):
    """A tinytorch layer and a PyTorch layer with the same weights."""
    ours, theirs = make_ours(), make_theirs()
    with torch.no_grad():
        for name, value in ours.state_dict().items():
            getattr(theirs, name).copy_(torch.tensor(value))
    return ours, theirs


def _mask(torch_module, name="weight"):
    return getattr(torch_module, name + "_mask").detach().numpy()


@pytest.mark.parametrize("amounts", [(0.3,), (0.5, 0.4), (7, 0.25, 3), (0.0, 1.0), (0.33, 0.33, 0.33)])
def test_l1_unstructured_masks_equal_torch(torch, tp, amounts):
    tinytorch.manual_seed(len(amounts))
    for make_ours, make_theirs in [(lambda: nn.Linear(13, 9), lambda: torch.nn.Linear(13, 9)),
                                   (lambda: nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3))]:
        ours, theirs = _pair(torch, make_ours, make_theirs)
        for amount in amounts:
            prune.l1_unstructured(ours, "weight", amount)
            tp.l1_unstructured(theirs, "weight", amount)
            np.testing.assert_array_equal(ours.weight_mask.data, _mask(theirs))
            np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
        assert list(ours.state_dict()) == list(theirs.state_dict())  # bias, weight_orig, weight_mask
        prune.l1_unstructured(ours, "bias", 2)
        tp.l1_unstructured(theirs, "bias", 2)
        np.testing.assert_array_equal(ours.bias_mask.data, _mask(theirs, "bias"))
        # the same keys; PyTorch lists its buffers (the masks) after all parameters
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


@pytest.mark.parametrize("amount", [0.2, 0.75, 100])
def test_global_unstructured_masks_equal_torch(torch, tp, amount):
    tinytorch.manual_seed(3)
    shapes = [(20, 10), (10, 5), (5, 3)]
    pairs = [_pair(torch, lambda s=s: nn.Linear(s[0], s[1]), lambda s=s: torch.nn.Linear(s[0], s[1])) for s in shapes]
    ours, theirs = [p[0] for p in pairs], [p[1] for p in pairs]
    ours[1].weight.data *= 0.1  # a layer of small weights loses more of them
    with torch.no_grad():
        theirs[1].weight.mul_(0.1)
    prune.l1_unstructured(ours[0], "weight", 0.3)  # an existing mask is respected
    tp.l1_unstructured(theirs[0], "weight", 0.3)
    prune.global_unstructured([(m, "weight") for m in ours], prune.L1Unstructured, amount)
    tp.global_unstructured([(m, "weight") for m in theirs], pruning_method=tp.L1Unstructured, amount=amount)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.weight_mask.data, _mask(b))
    assert 1 - ours[1].weight_mask.data.mean() > 1 - ours[2].weight_mask.data.mean()


def test_remove_matches_torch(torch, tp):
    tinytorch.manual_seed(4)
    ours, theirs = _pair(torch, lambda: nn.Linear(6, 4), lambda: torch.nn.Linear(6, 4))
    orig = ours.weight
    prune.l1_unstructured(ours, "weight", 0.5)
    tp.l1_unstructured(theirs, "weight", 0.5)
    assert ours.weight_orig is orig and not isinstance(ours.weight, nn.Parameter)
    prune.remove(ours, "weight")
    tp.remove(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    assert ours.weight is orig and isinstance(ours.weight, nn.Parameter) and not prune.is_pruned(ours)
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
    assert "forward" not in vars(ours)
    with pytest.raises(ValueError, match="'weight' of Linear has to be pruned first"):
        prune.remove(ours, "weight")


def test_gradients_flow_through_the_mask_like_torch(torch, tp):
    tinytorch.manual_seed(5)
    ours, theirs = _pair(torch, lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3))
    prune.l1_unstructured(ours, "weight", 0.6)
    tp.l1_unstructured(theirs, "weight", 0.6)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    (ours(Tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.data, theirs.weight_orig.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert np.all(ours.weight_orig.grad.data[ours.weight_mask.data == 0] == 0)


def test_masks_hold_after_every_optimizer_step():
    """Adam's momentum moves pruned entries of weight_orig, but the weight used by forward stays 0."""
    tinytorch.manual_seed(6)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = optim.Adam(model.parameters(), lr=0.05)
    x, y = Tensor(np.random.default_rng(1).standard_normal((32, 8))), Tensor(np.arange(32) % 4, dtype=np.int64)
    for _ in range(3):  # dense steps first: Adam's moments are nonzero everywhere
        loss = nn.CrossEntropyLoss()(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    prune.global_unstructured([(model[0], "weight"), (model[2], "weight")], prune.L1Unstructured, 0.7)
    masks = [model[i].weight_mask.data.copy() for i in (0, 2)]
    for _ in range(5):
        loss = nn.CrossEntropyLoss()(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model(x)  # the forward re-applies the masks
        for i, mask in zip((0, 2), masks):
            assert np.all(model[i].weight.data[mask == 0] == 0)
    assert prune.sparsity([model[0].weight, model[2].weight]) == pytest.approx(0.7, abs=0.01)
    copied = copy.deepcopy(model)  # a copy keeps its own masks and weights
    copied[0].weight_orig.data[...] = 1.0
    copied(x)
    assert np.all(copied[0].weight.data == masks[0]) and not np.all(model[0].weight.data == masks[0])


def test_amount_errors():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\]"):
        prune.l1_unstructured(layer, "weight", 1.5)
    with pytest.raises(ValueError, match="between 0 and the number of entries 6"):
        prune.l1_unstructured(layer, "weight", 7)
    with pytest.raises(TypeError, match="got str"):
        prune.l1_unstructured(layer, "weight", "half")
    with pytest.raises(AttributeError, match="Linear has no parameter 'kernel'"):
        prune.l1_unstructured(layer, "kernel", 0.5)
    assert not prune.is_pruned(layer)


def test_csr_nbytes_counts_values_indices_and_row_pointers():
    w = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, 3]], np.float32)
    assert prune.csr_nbytes(w) == 3 * 8 + 4 * 4
    assert prune.csr_nbytes(w, value_bytes=1, index_bytes=2) == 3 * 3 + 4 * 4
    assert prune.sparsity([w, np.ones(3)]) == pytest.approx(6 / 12)


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 12), nn.ReLU(), nn.Linear(12, 10),
    )


def test_units_to_keep_ranks_by_norm(torch, tp):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((10, 3, 2, 2))
    keep = prune.units_to_keep(w, 0.3, n=2)
    norms = np.linalg.norm(w.reshape(10, -1), axis=1)
    assert list(keep) == sorted(np.argsort(norms)[3:])
    # the same units PyTorch's ln_structured keeps (it only masks them)
    conv = torch.nn.Conv2d(3, 10, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(w))
    tp.ln_structured(conv, "weight", amount=0.3, n=2, dim=0)
    kept_by_torch = np.flatnonzero(conv.weight_mask.numpy().reshape(10, -1).any(axis=1))
    np.testing.assert_array_equal(keep, kept_by_torch)


def test_shrink_removes_units_and_keeps_their_outputs():
    tinytorch.manual_seed(8)
    model = _cnn()
    small = prune.shrink(model, 0.5)
    shapes = [tuple(m.weight.shape) for m in small if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert shapes == [(3, 1, 3, 3), (4, 3, 3, 3), (6, 16), (10, 6)]
    assert small[0].out_channels == 3 and small[3].in_channels == 3 and small[7].in_features == 16
    assert isinstance(model[0].weight, nn.Parameter) and model[0].weight.shape == (6, 1, 3, 3)  # untouched
    x = Tensor(np.random.default_rng(2).standard_normal((5, 1, 8, 8)))
    with tinytorch.no_grad():
        keep0 = prune.units_to_keep(model[0].weight, 0.5)
        np.testing.assert_allclose(small[0](x).data, model[0](x).data[:, keep0], rtol=1e-6)
        # the second convolution's kept channels equal the full network's with the removed inputs zeroed
        full = copy.deepcopy(model)
        dropped = np.setdiff1d(np.arange(6), keep0)
        full[3].weight.data[:, dropped] = 0
        keep3 = prune.units_to_keep(model[3].weight.data[:, keep0], 0.5)  # ranked as shrink ranks them
        np.testing.assert_allclose(small[:6](x).data, full[:6](x).data[:, keep3], rtol=1e-5, atol=1e-6)
    assert small(x).shape == (5, 10)


def test_shrink_mlp_and_errors():
    tinytorch.manual_seed(9)
    mlp = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    small = prune.shrink(mlp, 4)
    assert [tuple(m.weight.shape) for m in small if isinstance(m, nn.Linear)] == [(12, 20), (4, 12), (3, 4)]
    with pytest.raises(TypeError, match="expected a Sequential, got Linear"):
        prune.shrink(nn.Linear(3, 2), 0.5)
    prune.l1_unstructured(mlp[0], "weight", 0.5)
    with pytest.raises(ValueError, match="call prune.remove first"):
        prune.shrink(mlp, 0.5)


@pytest.mark.parametrize("temperature,alpha", [(1.0, 0.5), (4.0, 0.9), (2.5, 0.0), (3.0, 1.0)])
def test_distillation_loss_matches_torch(torch, temperature, alpha):
    F = torch.nn.functional
    rng = np.random.default_rng(10)
    s, t, y = rng.standard_normal((6, 5)) * 2, rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    ours = Tensor(s, dtype=np.float64, requires_grad=True)
    loss = distillation_loss(ours, t, Tensor(y, dtype=np.int64), temperature, alpha)
    theirs = torch.tensor(s, requires_grad=True)
    ref = alpha * temperature ** 2 * F.kl_div(F.log_softmax(theirs / temperature, 1),
                                              F.log_softmax(torch.tensor(t) / temperature, 1),
                                              log_target=True, reduction="batchmean") \
        + (1 - alpha) * F.cross_entropy(theirs, torch.tensor(y))
    loss.backward()
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match=r"got \(6, 5\) and \(6, 4\)"):
        distillation_loss(ours, t[:, :4], Tensor(y, dtype=np.int64))


@pytest.mark.slow
@pytest.mark.xdist_group("book")
def test_lab_meets_the_targets(executed_notebook):
    """The book build's run of the compression lab on Fashion-MNIST."""
    nb = executed_notebook("book/advanced/18_compression_lab.ipynb")
    check_clean(nb, ["dense MLP", "fine-tune at 80%", "dense CNN", "fine-tune half CNN", "student on labels",
                     "distilled student"], figures=2)
    out = result(nb, kind="lab")
    assert out["masks_held"]
    assert list(out["curve"]) == ["0.50", "0.80", "0.90", "0.95"]
    assert out["dense_mlp_accuracy"] - out["curve"]["0.80"]["fine_tuned"] <= 0.01
    assert out["cnn_accuracy"] - out["half_cnn_accuracy"] <= 0.015  # its speed: bench/compression.py
    assert out["distillation"]["distilled"] > out["distillation"]["labels_only"]
    assert {"dense float32", "dense INT8", "CSR float32, 80% pruned", "CSR INT8, 95% pruned"} <= set(out["sizes"])
    print(f"\ncompression lab: {out}")
