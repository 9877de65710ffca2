"""tinytorch.optim against torch.optim: same parameters, same gradients, same updates."""
import numpy as np
import pytest

from tinytorch import Tensor
from tinytorch.optim import SGD, Adam, AdamW, Optimizer
from tinytorch.testing import assert_same_steps

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


def ids(case):
    name, _, options = case
    return name + "-" + ("-".join(f"{k}={v}" for k, v in options.items()) or "defaults")


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_matches_torch_float64(torch, case):
    """Same parameters after each step; every fourth step a parameter without gradient is skipped."""
    _, cls, options = case
    assert_same_steps(torch, cls, SHAPES, ids(case), steps=STEPS, **options)


@pytest.mark.parametrize("case", CASES, ids=[ids(c) for c in CASES])
def test_matches_torch_float32(torch, case):
    _, cls, options = case
    assert_same_steps(torch, cls, SHAPES, ids(case), steps=STEPS, dtype=np.float32, rtol=1e-5, atol=1e-5, **options)


def test_a_wrong_update_is_reported(torch):
    class SGD(Optimizer):
        """Ascends instead of descending."""

        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def step(self):
            for p in self.params:
                if p.grad is not None:
                    p.data += self.param_groups[0]["lr"] * p.grad.data

    with pytest.raises(AssertionError, match=r"ascent: SGD\(lr=0.1\) on parameters of shape \(2,\): parameter 0 after step 1"):
        assert_same_steps(torch, SGD, [(2,)], "ascent", lr=0.1)


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
