"""Module 07 against PyTorch: schedules, clipping, parameter groups and optimizer state; safe
checkpoints; exact resume across processes; the Trainer."""
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn, optim
from tinytorch.data import DataLoader, TensorDataset
from tinytorch.nn.utils import clip_grad_norm_, clip_grad_value_
from tinytorch.optim import lr_scheduler
from tinytorch.random import get_rng_state, set_rng_state
from tinytorch.training import EarlyStopping, Trainer, accuracy
from tinytorch_course import ROOT

STEPS = 200


# ----- learning-rate schedules ------------------------------------------------------------------

def _optimizers(torch, name="SGD", lrs=(0.1, 0.03), **options):
    """The same optimizer with one group per learning rate in both frameworks."""
    ours = getattr(optim, name)([{"params": [Tensor([0.0], requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0], **options)
    theirs = getattr(torch.optim, name)([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0], **options)
    return ours, theirs


SCHEDULES = {
    "StepLR(30, 0.1)": ("StepLR", dict(step_size=30, gamma=0.1), {}),
    "StepLR(7, 0.5)": ("StepLR", dict(step_size=7, gamma=0.5), {}),
    "Cosine(200)": ("CosineAnnealingLR", dict(T_max=200), {}),
    "Cosine(50, eta_min) restarts": ("CosineAnnealingLR", dict(T_max=50, eta_min=0.01), {}),
    "Cosine(37)": ("CosineAnnealingLR", dict(T_max=37, eta_min=1e-4), {}),
    "Lambda warm-up": ("LambdaLR", dict(lr_lambda=lambda t: min(1.0, (t + 1) / 20) * 0.99 ** t), {}),
    "Lambda per group": ("LambdaLR", dict(lr_lambda=[lambda t: 1 / (1 + t), lambda t: 0.5 + math.sin(t / 9)]), {}),
    "OneCycle cos": ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS), dict(momentum=0.9)),
    "OneCycle linear three-phase": ("OneCycleLR", dict(max_lr=[1.0, 0.2], total_steps=STEPS, anneal_strategy="linear",
                                                       three_phase=True, pct_start=0.35), {}),
    "OneCycle epochs, no momentum cycle": ("OneCycleLR", dict(max_lr=0.3, epochs=8, steps_per_epoch=25, pct_start=0.1,
                                                              cycle_momentum=False, div_factor=5.0, final_div_factor=50.0), {}),
    "OneCycle Adam betas": ("OneCycleLR", dict(max_lr=3e-3, total_steps=STEPS, base_momentum=0.8, max_momentum=0.9), "Adam"),
}


@pytest.mark.parametrize("case", SCHEDULES)
def test_schedule_equals_pytorch_over_200_steps(torch, case):
    name, options, extra = SCHEDULES[case]
    ours, theirs = _optimizers(torch, "Adam") if extra == "Adam" else _optimizers(torch, **extra)
    mine = getattr(lr_scheduler, name)(ours, **options)
    ref = getattr(torch.optim.lr_scheduler, name)(theirs, **options)
    momentum = "betas" if extra == "Adam" else "momentum"
    for step in range(STEPS):
        np.testing.assert_allclose(mine.get_last_lr(), ref.get_last_lr(), rtol=1e-12, atol=1e-15, err_msg=f"{case}: lr at step {step}")
        for g, h in zip(ours.param_groups, theirs.param_groups):
            assert g["lr"] == mine.get_last_lr()[ours.param_groups.index(g)]
            np.testing.assert_allclose(g[momentum], h[momentum], rtol=1e-12, err_msg=f"{case}: {momentum} at step {step}")
        ours.step()
        theirs.step()
        mine.step()
        ref.step()


def test_one_cycle_refuses_to_step_past_total_steps(torch):
    ours, theirs = _optimizers(torch)
    mine, ref = lr_scheduler.OneCycleLR(ours, max_lr=1.0, total_steps=5), torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=1.0, total_steps=5)
    for _ in range(5):
        theirs.step()
        mine.step()
        ref.step()
    theirs.step()
    with pytest.raises(ValueError):
        ref.step()
    with pytest.raises(ValueError, match="total_steps=5"):
        mine.step()


def test_schedule_state_dict_resumes_through_a_file(tmp_path):
    def make():
        opt = optim.SGD([Tensor([0.0], requires_grad=True)], lr=0.1, momentum=0.9)
        return opt, lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100, three_phase=True)

    opt, first = make()
    for _ in range(37):
        first.step()
    tinytorch.save({"optimizer": opt.state_dict(), "scheduler": first.state_dict()}, tmp_path / "s.npz")
    opt2, second = make()
    saved = tinytorch.load(tmp_path / "s.npz")
    opt2.load_state_dict(saved["optimizer"])
    second.load_state_dict(saved["scheduler"])
    for _ in range(50):
        first.step()
        second.step()
        assert second.get_last_lr() == first.get_last_lr()
        assert opt2.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"]


def test_lambda_state_dict_leaves_the_functions_out():
    opt = optim.SGD([Tensor([0.0], requires_grad=True)], lr=1.0)
    state = lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** t).state_dict()
    assert "lr_lambdas" not in state and "optimizer" not in state
    tinytorch.save(state, "/dev/null")  # everything in it can be saved


def test_loads_pytorch_scheduler_state(torch):
    ours, theirs = _optimizers(torch)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=40, eta_min=0.001)
    for _ in range(13):
        theirs.step()
        ref.step()
    mine = lr_scheduler.CosineAnnealingLR(ours, T_max=40, eta_min=0.001)
    mine.load_state_dict(ref.state_dict())
    for _ in range(60):
        ref.step()
        mine.step()
        np.testing.assert_allclose(mine.get_last_lr(), ref.get_last_lr(), rtol=1e-12, atol=1e-15)


def test_resuming_a_schedule_needs_initial_lr():
    opt = optim.SGD([Tensor([0.0], requires_grad=True)], lr=1.0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=3, last_epoch=5)


# ----- clipping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.05, 1.0, 1e6])
def test_clip_grad_norm_equals_pytorch(torch, dtype, norm_type, max_norm):
    rng = np.random.default_rng(int(norm_type * 10) if norm_type != math.inf else 7)
    grads = [rng.standard_normal(shape).astype(dtype) for shape in ((4, 3), (7,), (2, 1, 5))]
    ours = [Tensor(np.zeros_like(g), dtype=dtype, requires_grad=True) for g in grads] + [Tensor([1.0], dtype=dtype, requires_grad=True)]
    theirs = [torch.zeros(g.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = Tensor(g, dtype=dtype), torch.tensor(g)
    total = clip_grad_norm_((p for p in ours), max_norm, norm_type=norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-15)
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.data, ref.numpy(), **tol)
    for p, q in zip(ours, theirs):
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), **tol)
    assert ours[-1].grad is None


def test_clip_grad_value_equals_pytorch(torch):
    g = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32) * 3
    p, q = Tensor(np.zeros_like(g), requires_grad=True), torch.zeros(5, 4, requires_grad=True)
    p.grad, q.grad = Tensor(g), torch.tensor(g)
    array = p.grad.data
    clip_grad_value_(p, 1.5)
    torch.nn.utils.clip_grad_value_(q, 1.5)
    np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    assert p.grad.data is array


def test_clip_without_gradients_returns_zero():
    assert clip_grad_norm_([Tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


# ----- parameter groups and optimizer state -----------------------------------------------------

GROUP_CASES = {
    "SGD": ("SGD", dict(lr=0.1, momentum=0.9), [dict(lr=0.01, weight_decay=0.1), dict(momentum=0.5, nesterov=True)]),
    "Adam": ("Adam", dict(lr=1e-2), [dict(weight_decay=0.05), dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6)]),
    "AdamW": ("AdamW", dict(lr=1e-2, weight_decay=0.1), [dict(weight_decay=0.0), dict(lr=0.05)]),
}


def _twin_params(torch, seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape) for shape in ((4, 3), (3,), (2, 2), (5,))]
    return [Tensor(a, dtype=np.float64, requires_grad=True) for a in start], [torch.tensor(a, requires_grad=True) for a in start]


def _step_both(torch, rng, ours, theirs, opt_ours, opt_theirs):
    for p, q in zip(ours, theirs):
        g = rng.standard_normal(p.shape)
        p.grad, q.grad = Tensor(g, dtype=np.float64), torch.tensor(g)
    opt_ours.step()
    opt_theirs.step()


@pytest.mark.parametrize("case", GROUP_CASES)
def test_param_groups_equal_pytorch(torch, case):
    name, defaults, groups = GROUP_CASES[case]
    ours, theirs = _twin_params(torch)
    opt_ours = getattr(optim, name)([{"params": ours[:2], **groups[0]}], **defaults)
    opt_theirs = getattr(torch.optim, name)([{"params": theirs[:2], **groups[0]}], **defaults)
    rng = np.random.default_rng(1)
    for step in range(60):
        if step == 20:  # a group added during training, as for unfreezing layers
            opt_ours.add_param_group({"params": ours[2:], **groups[1]})
            opt_theirs.add_param_group({"params": theirs[2:], **groups[1]})
        if step == 40:  # options changed between steps, as a schedule does
            for g in opt_ours.param_groups + opt_theirs.param_groups:
                g["lr"] *= 0.5
        _step_both(torch, rng, ours, theirs, opt_ours, opt_theirs)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-12, err_msg=f"{case} step {step}")
    for g, h in zip(opt_ours.param_groups, opt_theirs.param_groups):
        assert set(g) <= set(h), set(g) - set(h)
        assert {k: v for k, v in g.items() if k != "params"} == {k: h[k] for k in g if k != "params"}


def test_param_group_errors():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([{"params": [a]}, {"params": [a, b]}], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, a], lr=0.1)
    with pytest.raises(TypeError, match="'params'"):
        optim.Adam([a]).add_param_group({"lr": 0.1})
    with pytest.raises(TypeError, match="list"):
        optim.Adam([a]).add_param_group({"params": [[1.0]]})


def _torch_state_to_numpy(state_dict):
    return {"state": {i: {k: v.numpy() if hasattr(v, "numpy") else v for k, v in s.items()} for i, s in state_dict["state"].items()},
            "param_groups": state_dict["param_groups"]}


@pytest.mark.parametrize("case", GROUP_CASES)
def test_optimizer_state_dict_has_pytorchs_layout_and_round_trips(torch, case, tmp_path):
    name, defaults, groups = GROUP_CASES[case]
    ours, theirs = _twin_params(torch)
    make_ours = lambda params: getattr(optim, name)([{"params": params[:1], **groups[0]}, {"params": params[1:], **groups[1]}], **defaults)  # noqa: E731
    opt_ours = make_ours(ours)
    opt_theirs = getattr(torch.optim, name)([{"params": theirs[:1], **groups[0]}, {"params": theirs[1:], **groups[1]}], **defaults)
    rng = np.random.default_rng(2)
    for _ in range(10):
        _step_both(torch, rng, ours, theirs, opt_ours, opt_theirs)
    mine, ref = opt_ours.state_dict(), _torch_state_to_numpy(opt_theirs.state_dict())
    assert [g["params"] for g in mine["param_groups"]] == [g["params"] for g in ref["param_groups"]] == [[0], [1, 2, 3]]
    assert list(mine["state"]) == list(ref["state"])
    for i in ref["state"]:
        assert set(mine["state"][i]) == set(ref["state"][i])
        for key, value in ref["state"][i].items():
            np.testing.assert_allclose(mine["state"][i][key], value, rtol=1e-12, err_msg=f"state[{i}][{key!r}]")

    # through a file, into a fresh optimizer over copies of the parameters: the runs continue identically
    tinytorch.save(mine, tmp_path / "opt.npz")
    copies = [Tensor(p.data.copy(), dtype=np.float64, requires_grad=True) for p in ours]
    resumed = make_ours(copies)
    resumed.load_state_dict(tinytorch.load(tmp_path / "opt.npz"))
    # and PyTorch's own state dict, loaded into a third optimizer
    from_torch = [Tensor(q.detach().numpy().copy(), dtype=np.float64, requires_grad=True) for q in theirs]
    loaded = make_ours(from_torch)
    loaded.load_state_dict(ref)
    for step in range(10):
        g = [rng.standard_normal(p.shape) for p in ours]
        for params, opt in ((ours, opt_ours), (copies, resumed), (from_torch, loaded)):
            for p, gi in zip(params, g):
                p.grad = Tensor(gi, dtype=np.float64)
            opt.step()
        for p, q in zip(theirs, g):
            p.grad = torch.tensor(q)
        opt_theirs.step()
        for p, c, f, q in zip(ours, copies, from_torch, theirs):
            np.testing.assert_array_equal(c.data, p.data)
            np.testing.assert_allclose(f.data, q.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_state_dict_is_a_snapshot_and_load_checks_shapes():
    w = Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w])
    w.grad = Tensor(np.ones(3))
    opt.step()
    saved = opt.state_dict()
    opt.step()
    assert saved["state"][0]["step"] == 1 and not np.array_equal(saved["state"][0]["exp_avg"], opt.state[w]["exp_avg"])
    other = optim.Adam([Tensor(np.ones(4), requires_grad=True)])
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        other.load_state_dict(saved)
    with pytest.raises(ValueError, match="groups"):
        optim.Adam([Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)]).load_state_dict(saved)


# ----- save / load ------------------------------------------------------------------------------

def test_save_load_round_trips_nested_state(tmp_path):
    obj = {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "0.bias": np.zeros(2, np.float64)},
        "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2, np.float32)}},
                      "param_groups": [{"params": [0], "lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "name": None}]},
        "tensor": Tensor([1.0, 2.0], requires_grad=True), "ids": Tensor(np.array([1, 2], dtype=np.int64), dtype=np.int64),
        "scalars": [np.float32(1.5), np.int64(7), math.inf, -0.0, "text", ""], (1, "a"): "tuple key",
        "rng": get_rng_state(), "big": 2 ** 100,
    }
    tinytorch.save(obj, tmp_path / "c.ckpt")
    back = tinytorch.load(tmp_path / "c.ckpt")
    assert not (tmp_path / "c.ckpt.npz").exists() and not (tmp_path / "c.ckpt.partial").exists()
    assert list(back) == list(obj)
    assert back["optimizer"]["param_groups"] == obj["optimizer"]["param_groups"]
    assert back["optimizer"]["state"][0]["step"] == 3
    for key in ("0.weight", "0.bias"):
        assert back["model"][key].dtype == obj["model"][key].dtype
        np.testing.assert_array_equal(back["model"][key], obj["model"][key])
    assert isinstance(back["tensor"], Tensor) and back["tensor"].requires_grad and back["tensor"].dtype == np.float32
    assert back["ids"].dtype == np.int64
    assert back["scalars"][:2] == [1.5, 7] and type(back["scalars"][0]) is np.float32
    assert back["scalars"][2:] == [math.inf, -0.0, "text", ""] and math.copysign(1, back["scalars"][3]) == -1
    assert back[(1, "a")] == "tuple key" and back["big"] == 2 ** 100
    np.testing.assert_array_equal(back["rng"].data, obj["rng"].data)


def test_save_refuses_what_it_cannot_store_safely(tmp_path):
    with pytest.raises(TypeError, match="function"):
        tinytorch.save({"f": lambda: 0}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="objects"):
        tinytorch.save(np.array([{}], dtype=object), tmp_path / "x.npz")


class _Payload:
    def __reduce__(self):
        return (open, (_Payload.target, "w"))


def test_load_never_unpickles(tmp_path):
    _Payload.target = str(tmp_path / "pwned")
    structure = np.frombuffer(json.dumps({"ndarray": 0, "scalar": False}).encode(), dtype=np.uint8)
    np.savez(tmp_path / "evil.npz", **{"0": np.array([_Payload()], dtype=object), "__structure__": structure})
    with pytest.raises(ValueError, match="pickle"):
        tinytorch.load(tmp_path / "evil.npz")
    assert not (tmp_path / "pwned").exists()
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="tinytorch.save"):
        tinytorch.load(tmp_path / "plain.npz")


# ----- random generator state -------------------------------------------------------------------

def test_rng_state_replays_the_global_and_a_loaders_generator(torch):
    assert get_rng_state().dtype == np.uint8 and get_rng_state().ndim == 1
    assert torch.get_rng_state().dtype == torch.uint8  # the same kind of object as PyTorch's
    tinytorch.manual_seed(3)
    state = get_rng_state()
    first = nn.Dropout(0.5)(Tensor(np.ones(100))).data.copy()
    set_rng_state(state)
    np.testing.assert_array_equal(nn.Dropout(0.5)(Tensor(np.ones(100))).data, first)

    loader = DataLoader(TensorDataset(np.arange(20.0)), batch_size=20, shuffle=True, generator=5)
    state = get_rng_state(loader.generator)
    order = next(iter(loader))[0].data.copy()
    assert not np.array_equal(next(iter(loader))[0].data, order)
    set_rng_state(state, loader.generator)
    np.testing.assert_array_equal(next(iter(loader))[0].data, order)
    with pytest.raises(TypeError, match="uint8"):
        set_rng_state(np.zeros(3))


# ----- exact resume across processes ------------------------------------------------------------

RESUME_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tinytorch
    from tinytorch import nn, optim
    from tinytorch.data import DataLoader, TensorDataset
    from tinytorch.optim.lr_scheduler import OneCycleLR
    from tinytorch.training import EarlyStopping, Trainer

    mode, epochs, folder, own_generator = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 6)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64)
    tinytorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    optimizer = optim.AdamW(model.parameters(), lr=1e-2)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=7 if own_generator else None)
    scheduler = OneCycleLR(optimizer, max_lr=0.05, total_steps=4 * len(loader))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=scheduler, grad_clip=0.5,
                      callbacks=[EarlyStopping(monitor="train_loss", patience=10)], progress=False)
    if mode == "second":
        trainer.load_checkpoint(folder + "/checkpoint.npz")
    trainer.fit(loader, epochs)
    if mode == "first":
        trainer.save_checkpoint(folder + "/checkpoint.npz", loader)
    tinytorch.save({"params": [p.data for p in model.parameters()], "history": trainer.history}, folder + f"/{mode}.npz")
""")


def _run(*args):
    out = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("own_generator", [True, False], ids=["loader-generator", "global-generator"])
def test_exact_resume_in_a_fresh_process(tmp_path, own_generator):
    """2 epochs straight == 1 epoch, checkpoint, a new process, 1 more epoch: bitwise."""
    flag = int(own_generator)
    _run("straight", 2, tmp_path, flag)
    _run("first", 1, tmp_path, flag)
    _run("second", 1, tmp_path, flag)
    straight, first, resumed = (tinytorch.load(tmp_path / f"{m}.npz") for m in ("straight", "first", "second"))
    assert resumed["history"] == straight["history"]
    for a, b, c in zip(straight["params"], resumed["params"], first["params"]):
        np.testing.assert_array_equal(b, a)
        assert not np.array_equal(c, a)  # the second half did train


# ----- the Trainer ------------------------------------------------------------------------------

def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x @ rng.standard_normal((5, 3)).astype(np.float32)).argmax(axis=1)


def _trainer(model_seed=0, lr=0.05, **options):
    tinytorch.manual_seed(model_seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    options.setdefault("progress", False)
    return Trainer(model, optim.SGD(model.parameters(), lr=lr, momentum=0.9), nn.CrossEntropyLoss(), **options)


def test_trainer_equals_a_manual_loop_and_keeps_a_history():
    x, y = _data()
    tinytorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=1)
    losses = []
    for _ in range(3):
        total = 0.0
        for inputs, targets in loader:
            loss = nn.CrossEntropyLoss()(model(inputs), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(inputs)
        losses.append(total / len(x))
    trainer = _trainer(metrics={"acc": accuracy})
    val = DataLoader(TensorDataset(x, y), batch_size=25)
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, generator=1), 3, val_loader=val)
    assert history["train_loss"] == losses
    assert set(history) == {"train_loss", "val_loss", "val_acc", "lr"} and all(len(v) == 3 for v in history.values())
    for p, q in zip(trainer.model.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    logits = model(Tensor(x)).data
    assert history["val_acc"][-1] == pytest.approx(np.mean(logits.argmax(1) == y))
    assert history["val_loss"][-1] == pytest.approx(nn.CrossEntropyLoss()(Tensor(logits), Tensor(y, dtype=np.int64)).item(), rel=1e-6)
    assert trainer.model.training and trainer.epoch == 3 and trainer.step == 12


@pytest.mark.parametrize("k", [2, 3, 6])
def test_accumulation_equals_a_large_batch(k):
    x, y = _data()
    big, small = _trainer(), _trainer(accumulation_steps=k)
    big.fit(DataLoader(TensorDataset(x, y), batch_size=60), 4)
    small.fit(DataLoader(TensorDataset(x, y), batch_size=60 // k), 4)
    assert small.step == big.step == 4
    for p, q in zip(small.model.parameters(), big.model.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)


def test_grad_clip_and_scheduler_in_the_loop():
    x, y = _data()
    trainer = _trainer(grad_clip=1e-4, lr=1.0)
    trainer.optimizer.param_groups[0]["momentum"] = 0.0
    trainer.scheduler = lr_scheduler.StepLR(trainer.optimizer, step_size=2, gamma=0.5)
    before = [p.data.copy() for p in trainer.model.parameters()]
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=60), 1)
    moved = math.sqrt(sum(((p.data - b) ** 2).sum() for p, b in zip(trainer.model.parameters(), before)))
    assert moved == pytest.approx(1e-4, rel=1e-3)
    trainer.fit(DataLoader(TensorDataset(x, y), batch_size=20), 1)
    assert trainer.step == 4 and trainer.scheduler.last_epoch == 4 and trainer.optimizer.param_groups[0]["lr"] == 0.25


def test_early_stopping_and_keep_best(tmp_path):
    x, y = _data()
    val = DataLoader(TensorDataset(*_data(seed=1)), batch_size=30)
    stopper = EarlyStopping(patience=2)
    trainer = _trainer(lr=0.5, callbacks=[stopper], checkpoint_dir=tmp_path, checkpoint_every=2)
    trainer.scheduler = lr_scheduler.LambdaLR(trainer.optimizer, lambda t: 1.0 if t < 20 else 0.0)
    history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=10), 50, val_loader=val)
    losses = history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) == best + 1 + 2 < 50, losses  # stopped two epochs after the best
    assert stopper.best == min(losses) and stopper.wait == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["best.npz"] + [f"epoch-{e}.npz" for e in range(2, len(losses) + 1, 2)])
    fresh = _trainer(model_seed=1, callbacks=[EarlyStopping(patience=2)])
    fresh.load_checkpoint(tmp_path / "best.npz")
    assert fresh.epoch == best + 1 and fresh.history["val_loss"] == losses[:best + 1]
    assert fresh.evaluate(val)["loss"] == pytest.approx(min(losses), rel=1e-6)


def test_trainer_progress_bar_and_errors():
    x, y = _data()
    bars = []

    class Bar:
        def __init__(self, total, desc):
            self.total, self.count, self.closed = total, 0, False
            bars.append(self)

        def update(self, n):
            self.count += n

        def set_postfix(self, **kwargs):
            self.postfix = kwargs

        def close(self):
            self.closed = True

    _trainer(progress=Bar).fit(DataLoader(TensorDataset(x, y), batch_size=16), 2)
    assert bars[0].total == bars[0].count == 8 and bars[0].closed and "loss" in bars[0].postfix
    with pytest.raises(ValueError, match="accumulation_steps"):
        _trainer(accumulation_steps=0)
    with pytest.raises(ValueError, match="checkpoint_dir"):
        _trainer(checkpoint_every=2)
    with pytest.raises(KeyError, match="val_loss"):
        _trainer(callbacks=[EarlyStopping()]).fit(DataLoader(TensorDataset(x, y), batch_size=16), 1)
