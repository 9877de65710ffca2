"""Whole training runs: a tinytorch MLP and the same PyTorch MLP, from identical initial weights and on
the same batches, follow the same loss curve."""
import numpy as np
import pytest

from conftest import require

from tinytorch import Tensor
from tinytorch import nn as tnn
from tinytorch import optim as toptim

STEPS, BATCH = 200, 32
SIZES = (64, 128, 64, 10)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def components():
    names = ("Linear", "ReLU", "Sequential", "CrossEntropyLoss")
    require(all(hasattr(tnn, name) for name in names), "tinytorch.nn " + ", ".join(names))


def batches(x, y, seed=0):
    """``STEPS`` batches drawn from a fixed sequence of shuffled epochs."""
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(STEPS * BATCH // len(x) + 1)])
    for step in range(STEPS):
        idx = order[step * BATCH:(step + 1) * BATCH]
        yield x[idx], y[idx]


def mlp(nn):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES, SIZES[1:])):
        layers += [nn.Linear(fan_in, fan_out)] + ([nn.ReLU()] if i < len(SIZES) - 2 else [])
    return nn.Sequential(*layers)


def loss_curves(torch, data, make_ours, make_theirs):
    ours = mlp(tnn)
    theirs = mlp(torch.nn)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            assert p.shape == tuple(q.shape)
            q.copy_(torch.from_numpy(p.data.copy()))
    opt_ours, opt_theirs = make_ours(list(ours.parameters())), make_theirs(theirs.parameters())
    loss_ours, loss_theirs = tnn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    curves = ([], [])
    for xb, yb in batches(*data):
        loss = loss_ours(ours(Tensor(xb)), Tensor(yb, dtype=np.int64))
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()
        curves[0].append(loss.item())

        reference = loss_theirs(theirs(torch.from_numpy(xb)), torch.from_numpy(yb))
        opt_theirs.zero_grad()
        reference.backward()
        opt_theirs.step()
        curves[1].append(reference.item())
    return np.array(curves[0]), np.array(curves[1])


@pytest.mark.parametrize(
    "name, options",
    [("Adam", dict(lr=1e-3)), ("AdamW", dict(lr=3e-3, weight_decay=0.05)), ("SGD", dict(lr=0.05, momentum=0.9))],
)
def test_mlp_follows_pytorch_loss_curve(torch, digits, name, options):
    components()
    ours, theirs = loss_curves(
        torch, digits,
        lambda params: getattr(toptim, name)(params, **options),
        lambda params: getattr(torch.optim, name)(params, **options),
    )
    relative = np.abs(ours - theirs) / np.abs(theirs)
    assert relative.max() < 1e-4, f"step {relative.argmax()}: tinytorch {ours[relative.argmax()]}, PyTorch {theirs[relative.argmax()]}"
    assert theirs[-20:].mean() < 0.5 * theirs[:20].mean(), "the runs should actually train"
