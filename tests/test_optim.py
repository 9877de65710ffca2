"""tinytorch.optim against torch.optim: same parameters, same gradients, same updates."""
import numpy as np
import pytest

from tinytorch import Tensor
from tinytorch.optim import SGD, Adam, AdamW, Optimizer

STEPS = 100
SHAPES = [(5, 3), (3,), (2, 4, 2)]

SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, dampening=0.1, weight_decay=0.1),
    dict(lr=0.02, momentum=0.95, weight_decay=0.05, nesterov=True),
]
ADAM_OPTIONS = [
    dict(),
    dict(lr=0.01, betas=(0.8, 0.99)),
    dict(lr=0.01, eps=1e-4),
    dict(lr=0.005, weight_decay=0.1),
    dict(lr=0.02, betas=(0.0, 0.5), eps=1e-6, weight_decay=0.01),
]
ADAMW_OPTIONS = ADAM_OPTIONS + [dict(lr=0.01, weight_decay=0.0), dict(lr=0.05, weight_decay=0.5, betas=(0.5, 0.9))]

CASES = (
    [("SGD", SGD, o) for o in SGD_OPTIONS]
    + [("Adam", Adam, o) for o in ADAM_OPTIONS]
    + [("AdamW", AdamW, o) for o in ADAMW_OPTIONS]
)


def run_both(torch, name, ours_cls, options, dtype, skip_every=0, seed=0):
    """Run ``STEPS`` updates in both frameworks on the same random gradients; yield the parameters
    after each step. With ``skip_every=k``, parameter 0 gets no gradient every k-th step."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    ours = [Tensor(a.copy(), dtype=dtype, requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt_ours = ours_cls(ours, **options)
    opt_theirs = getattr(torch.optim, name)(theirs, **options)
    for step in range(STEPS):
        opt_ours.zero_grad()
        opt_theirs.zero_grad()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            g = rng.standard_normal(p.shape).astype(dtype)
            if skip_every and i == 0 and step % skip_every == 0:
                continue
            p.grad = Tensor(g, dtype=dtype)
            q.grad = torch.tensor(g)
        opt_ours.step()
        opt_theirs.step()
        yield ours, theirs


def ids(case):
    name, _, options = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in options.items()) or "defaults")


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_matches_torch_float64(torch, case):
    name, cls, options = case
    for ours, theirs in run_both(torch, name, cls, options, np.float64):
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_matches_torch_float32(torch, case):
    name, cls, options = case
    for ours, theirs in run_both(torch, name, cls, options, np.float32):
        for p, q in zip(ours, theirs):
            assert p.data.dtype == np.float32
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", [CASES[4], CASES[len(SGD_OPTIONS) + 3], CASES[-1]], ids=ids)
def test_parameters_without_grad_are_skipped_like_torch(torch, case):
    name, cls, options = case
    rng_start = np.random.default_rng(0).standard_normal(SHAPES[0])
    for ours, theirs in run_both(torch, name, cls, options, np.float64, skip_every=3):
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours[0].data, rng_start)  # it was updated on the other steps


def test_step_updates_in_place_and_keeps_grad():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    data = w.data
    grad = np.full((3, 2), 0.5, dtype=np.float32)
    for opt in (SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1), Adam([w], weight_decay=0.1), AdamW([w])):
        w.grad = Tensor(grad.copy())
        opt.step()
        assert w.data is data
        np.testing.assert_array_equal(w.grad.data, grad)


def test_state_is_numpy_and_adam_holds_two_copies():
    w = Tensor(np.ones((8, 4)), requires_grad=True)
    w.grad = Tensor(np.ones((8, 4)))
    adam, sgd = Adam([w]), SGD([w], lr=0.1, momentum=0.9)
    adam.step()
    sgd.step()
    assert adam.state[w]["step"] == 1
    assert all(isinstance(adam.state[w][k], np.ndarray) and adam.state[w][k].dtype == np.float32
               for k in ("exp_avg", "exp_avg_sq"))
    assert isinstance(sgd.state[w]["momentum_buffer"], np.ndarray)


def test_zero_grad_sets_none_and_params_may_be_a_generator():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0, 3.0], requires_grad=True)
    (a.sum() * b).sum().backward()
    opt = SGD((p for p in (a, b)), lr=0.1)
    assert opt.params == [a, b]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    opt.step()  # nothing to do
    np.testing.assert_array_equal(b.data, [2.0, 3.0])


def test_training_loop_lowers_the_loss():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((64, 3)))
    y = x @ Tensor([[1.0], [-2.0], [0.5]])
    for make in (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.05), lambda p: AdamW(p, lr=0.05)):
        w = Tensor(np.zeros((3, 1)), requires_grad=True)
        opt = make([w])
        for _ in range(200):
            opt.zero_grad()
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            opt.step()
        assert loss.item() < 1e-3, (make, loss.item())


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: SGD(p, lr=-0.1), ["lr", "-0.1"]),
        (lambda p: SGD(p, lr=0.1, momentum=-1), ["momentum", "-1"]),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1e-3), ["weight_decay"]),
        (lambda p: SGD(p, lr=0.1, nesterov=True), ["nesterov", "momentum"]),
        (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ["nesterov", "dampening"]),
        (lambda p: Adam(p, lr=-1e-3), ["lr"]),
        (lambda p: Adam(p, betas=(1.0, 0.999)), ["beta1", "1.0"]),
        (lambda p: Adam(p, betas=(0.9, -0.1)), ["beta2", "-0.1"]),
        (lambda p: Adam(p, betas=(0.9,)), ["betas"]),
        (lambda p: Adam(p, eps=-1e-8), ["eps"]),
        (lambda p: AdamW(p, weight_decay=-0.1), ["weight_decay"]),
        (lambda p: AdamW(p, betas=(0.9, 1.5)), ["beta2"]),
    ],
)
def test_bad_hyperparameters_raise_clear_errors(make, words):
    with pytest.raises(ValueError) as err:
        make([Tensor([1.0], requires_grad=True)])
    for word in words:
        assert word in str(err.value)


def test_bad_parameter_lists():
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="ndarray"):
        Adam([np.ones(3)])
    with pytest.raises(ValueError, match="leaf"):
        Adam([w * 2])
    with pytest.raises(NotImplementedError):
        Optimizer([w], dict(lr=0.1)).step()
