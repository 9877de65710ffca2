"""The profiler (tinytorch.profiler): FLOP counts against the formulas and PyTorch's flop counter,
complete recording of forward and backward, the table, Trace Event JSON, memory, and exact
restoration of the framework on exit."""
import json
import sys
import threading

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, autograd, nn
from tinytorch.nn import functional as F
from tinytorch.profiler import (
    flops_attention,
    flops_conv2d,
    flops_linear,
    flops_matmul,
    key_averages,
    profile,
    record_function,
)


def lenet(n):
    return n.Sequential(
        n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(6, 8, 3, stride=2, padding=1), n.ReLU(),
        n.Flatten(), n.Linear(8 * 4 * 4, 16), n.ReLU(), n.Linear(16, 10),
    )


def torch_flops(torch, fn):
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_flop_formulas():
    assert flops_matmul((4, 3), (3, 5)) == 2 * 4 * 3 * 5
    assert flops_matmul((3,), (3,)) == 6 and flops_matmul((3,), (3, 5)) == 30 and flops_matmul((4, 3), (3,)) == 24
    assert flops_matmul((2, 1, 4, 3), (5, 3, 6)) == 2 * 10 * 4 * 3 * 6
    assert flops_linear((8, 7, 32), (16, 32)) == 2 * 56 * 32 * 16
    assert flops_conv2d((2, 3, 9, 9), (4, 3, 3, 3), (2, 4, 5, 5)) == 2 * 2 * 4 * 25 * 27
    assert flops_attention((2, 4, 5, 8), (2, 4, 7, 8), (2, 4, 7, 6)) == 2 * 8 * 5 * 7 * (8 + 6)


@pytest.mark.parametrize("a, b", [((4, 3), (3, 5)), ((2, 4, 3), (2, 3, 5)), ((2, 1, 4, 3), (5, 3, 6)), ((3,), (3, 5))])
def test_matmul_flops_match_pytorch(torch, a, b):
    ta, tb = torch.ones(a), torch.ones(b)
    assert flops_matmul(a, b) == torch_flops(torch, lambda: ta @ tb)


def test_layer_flops_match_pytorch(torch):
    x = torch.ones(6, 7, 32)
    assert flops_linear(x.shape, (16, 32)) == torch_flops(torch, lambda: torch.nn.functional.linear(x, torch.ones(16, 32)))
    images, weight = torch.ones(2, 3, 11, 11), torch.ones(4, 3, 3, 3)
    out = torch.nn.functional.conv2d(images, weight, stride=2, padding=1)
    assert flops_conv2d(images.shape, weight.shape, out.shape) == torch_flops(
        torch, lambda: torch.nn.functional.conv2d(images, weight, stride=2, padding=1))
    q, k, v = torch.ones(2, 3, 5, 8), torch.ones(2, 3, 7, 8), torch.ones(2, 3, 7, 4)
    assert flops_attention(q.shape, k.shape, v.shape) == torch_flops(
        torch, lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))


def test_training_step_flops_match_pytorch(torch):
    """Forward and backward of a small CNN: the profiler's total equals PyTorch's flop counter."""
    tinytorch.manual_seed(0)
    ours, theirs = lenet(nn), lenet(torch.nn)
    x = np.random.default_rng(0).random((4, 1, 16, 16), dtype=np.float32)
    y = np.arange(4) % 10
    with profile() as prof:
        nn.CrossEntropyLoss()(ours(Tensor(x)), Tensor(y, dtype=np.int64)).backward()
    expected = torch_flops(torch, lambda: torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)),
                                                                      torch.from_numpy(y)).backward())
    assert prof.total_flops == expected
    forward = sum(e.flops for e in prof.events if e.phase == "forward")
    assert forward == torch_flops(torch, lambda: theirs(torch.from_numpy(x)))


def test_attention_and_matmul_backward_flops(torch):
    rng = np.random.default_rng(0)
    shapes = [(2, 5, 8), (2, 7, 8), (2, 7, 4)]
    arrays = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    with profile() as prof:
        F.scaled_dot_product_attention(*(Tensor(a, requires_grad=True) for a in arrays)).sum().backward()
    tq = [torch.tensor(a, requires_grad=True) for a in arrays]
    assert prof.total_flops == torch_flops(torch, lambda: torch.nn.functional.scaled_dot_product_attention(*tq).sum().backward())
    forward = flops_attention(*shapes)
    assert [(e.name, e.flops) for e in prof.events if e.flops] == [
        ("scaled_dot_product_attention", forward), ("scaled_dot_product_attention_backward", 2 * forward)]


def test_every_operation_of_forward_and_backward_is_recorded():
    tinytorch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = Tensor(np.ones((2, 4), dtype=np.float32))
    with profile() as prof:
        with record_function("step"):
            loss = (model(x) * 2.0 - 1.0).sum()
            loss.backward()
    names = [e.name for e in prof.events]
    assert names == ["step", "nn.Module: Sequential", "nn.Module: Linear", "linear", "nn.Module: ReLU", "relu",
                     "mul", "sub", "sum", "autograd::backward",
                     "sum_backward", "sub_backward", "mul_backward", "relu_backward", "linear_backward"]
    by_name = {e.name: e for e in prof.events}
    assert by_name["linear"].scope == "Sequential.0" and by_name["relu"].scope == "Sequential.1"
    assert by_name["linear_backward"].scope == "Sequential.0" and by_name["linear_backward"].phase == "backward"
    assert by_name["linear"].parent is by_name["nn.Module: Linear"]
    assert by_name["nn.Module: Linear"].parent is by_name["nn.Module: Sequential"]
    assert by_name["relu_backward"].parent is by_name["autograd::backward"]
    assert all(e.end >= e.start for e in prof.events)
    assert by_name["linear"].flops == 2 * 2 * 4 * 3 and by_name["linear_backward"].flops == 2 * 2 * 4 * 3
    assert model[0].weight.grad is not None


def test_optimizer_and_reflected_ops_are_recorded():
    w = nn.Parameter(np.ones(3, dtype=np.float32))
    opt = tinytorch.optim.Adam([w], lr=0.1)
    with profile() as prof:
        loss = (1.0 - w).sum() + (np.ones(3, dtype=np.float32) @ w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    names = [e.name for e in prof.events]
    assert "rsub" in names and "rmatmul" in names and "matmul" in names
    assert "Optimizer.zero_grad#Optimizer.zero_grad" in names and "Optimizer.step#Adam.step" in names
    assert {e.phase for e in prof.events if e.name.startswith("Optimizer.step")} == {"optimizer"}
    matmuls = [e for e in prof.events if e.flops]
    assert [(e.name, e.flops) for e in matmuls] == [("matmul", 6), ("matmul_backward", 12)]


def test_key_averages_self_and_total_times():
    x = Tensor(np.ones((3, 3), dtype=np.float32), requires_grad=True)
    with profile() as prof:
        for _ in range(3):
            (nn.Sequential(nn.Tanh())(x) * x).sum().backward()
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["mul"].count == 3 and rows["tanh_backward"].count == 3
    outer = rows["nn.Module: Sequential"]
    assert outer.cpu_time_total - outer.self_cpu_time_total == pytest.approx(rows["nn.Module: Tanh"].cpu_time_total)
    total_self = sum(r.self_cpu_time_total for r in rows.values())
    top = sum(e.duration_us for e in prof.events if e.parent is None)
    assert total_self == pytest.approx(top)
    assert rows["mul"].cpu_time == pytest.approx(rows["mul"].cpu_time_total / 3)


def test_table_like_torch_profiler():
    x = Tensor(np.ones((3, 3), dtype=np.float32), requires_grad=True)
    with profile() as prof:
        for _ in range(4):
            (x * x + x).sum().backward()
        x.exp()
    averages = prof.key_averages()
    table = averages.table(sort_by="count", row_limit=3)
    lines = table.splitlines()
    assert lines[1].split()[0] == "Name" and "Self CPU %" in lines[1] and "# of Calls" in lines[1]
    assert len(lines) == 8 and "Self CPU time total" in lines[-1]
    assert [line.split()[0] for line in lines[3:6]] == ["mul", "add", "sum"]
    assert "exp" not in table and "exp" in averages.table(row_limit=100)
    for key in ("self_cpu_time_total", "cpu_time_total", "cpu_time", "flops", "self_cpu_memory_usage"):
        averages.table(sort_by=key)
    with pytest.raises(ValueError, match="sort_by"):
        averages.table(sort_by="speed")


def test_chrome_trace_is_valid_trace_event_json(tmp_path):
    tinytorch.manual_seed(0)
    model = lenet(nn)
    with profile() as prof:
        nn.CrossEntropyLoss()(model(Tensor(np.ones((2, 1, 16, 16), dtype=np.float32))),
                              Tensor(np.array([1, 2]), dtype=np.int64)).backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(path)
    trace = json.loads(path.read_text())
    assert isinstance(trace["traceEvents"], list) and trace.get("displayTimeUnit") in ("ms", "ns")
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    counters = [e for e in trace["traceEvents"] if e["ph"] == "C"]
    assert len(spans) == len(prof.events) and len(counters) == len(prof.memory) > 0
    assert {e["ph"] for e in trace["traceEvents"]} == {"X", "C"}
    for e in spans:
        assert isinstance(e["name"], str) and e["name"]
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float)) and e["dur"] >= 0 and e["ts"] >= 0
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
    for c in counters:
        assert isinstance(c["ts"], (int, float)) and isinstance(c["pid"], int)
        assert all(isinstance(v, (int, float)) for v in c["args"].values())
    # complete events on one thread must nest: each one lies inside every one it overlaps, or outside
    ordered = sorted(spans, key=lambda e: (e["ts"], -e["dur"]))
    open_ends = []
    for e in ordered:
        while open_ends and open_ends[-1] <= e["ts"]:
            open_ends.pop()
        assert not open_ends or e["ts"] + e["dur"] <= open_ends[-1] + 1e-6, f"{e['name']} overlaps its parent"
        open_ends.append(e["ts"] + e["dur"])


def test_memory_of_live_tensors():
    x = Tensor(np.ones(1000, dtype=np.float32), requires_grad=True)
    c = Tensor(np.full(1000, 2.0, dtype=np.float32))
    with profile() as prof:
        y = x * c               # 4000 bytes
        z = y + c               # 4000 bytes
        v = z.reshape(10, 100)  # a view of z: no new memory
        del y                   # still alive: z's graph holds it
        w = v.reshape(1000) * c  # 4000 bytes
        del w                   # released
        u = (z * 1.0).sum()     # 4 bytes for the constant 1.0, 4000 for the product, 4 for the sum
    rows = {r.key: r for r in prof.key_averages()}
    assert rows["mul"].self_cpu_memory_usage == 4000 * 3 + 4 and rows["reshape"].self_cpu_memory_usage == 0
    assert rows["add"].self_cpu_memory_usage == 4000 and rows["sum"].self_cpu_memory_usage == 4
    # the live bytes after each allocation and release (the temporary z * 1.0 outlives the profile in u's graph)
    assert [b for _, b in prof.memory] == [4000, 8000, 12000, 8000, 8004, 12004, 12008]
    assert prof.peak_memory == 12008 and u.shape == ()


def test_exit_restores_the_framework_exactly_even_after_an_exception():
    import tinytorch.optim as optim

    modules = [m for name, m in sys.modules.items() if name.split(".")[0] == "tinytorch" and m is not None]
    owners = [Tensor, tinytorch.nn.Module, autograd, optim.Optimizer, optim.Adam, optim.SGD, *modules]
    before = [(owner, dict(vars(owner))) for owner in owners]

    def unchanged():
        return all(vars(owner).get(k) is v for owner, snapshot in before for k, v in snapshot.items())

    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    with profile():
        assert not unchanged(), "profiling instruments the framework"
        kept = (x * 2.0).sum()
    assert unchanged()
    with pytest.raises(ValueError, match="matmul"):
        with profile():
            x @ Tensor(np.ones((4, 4), dtype=np.float32))
    assert unchanged()
    # graphs built while profiling get their original backward closures back
    assert not hasattr(kept._backward, "__wrapped__") and "recorded" not in repr(kept._backward)
    kept.backward()
    assert np.allclose(x.grad.data, 2.0)


def test_nested_profile_is_refused_and_the_outer_one_keeps_recording():
    x = Tensor(np.ones(3, dtype=np.float32))
    with profile() as outer:
        with pytest.raises(RuntimeError, match="already recording"):
            with profile():
                pass
        x + x
    assert [e.name for e in outer.events] == ["add"]
    with profile() as again:  # and a new one can start afterwards
        x * x
    assert [e.name for e in again.events] == ["mul"]


def test_inactive_profiler_changes_nothing():
    add = Tensor.__dict__["__add__"]
    with record_function("nothing"):
        y = Tensor(np.ones(2, dtype=np.float32)) + 1.0
    assert Tensor.__dict__["__add__"] is add and np.allclose(y.data, 2.0)


def test_other_threads_are_not_recorded():
    x = Tensor(np.ones(3, dtype=np.float32))
    with profile() as prof:
        worker = threading.Thread(target=lambda: x * x)
        worker.start()
        worker.join()
        x + x
    assert [e.name for e in prof.events] == ["add"]


def test_key_averages_of_handmade_events():
    class E:
        def __init__(self, name, start, end, parent=None):
            self.name, self.start, self.end, self.parent, self.flops, self.bytes = name, start, end, parent, 0, 0

    root = E("root", 0, 10_000)
    rows = key_averages([root, E("a", 0, 4_000, root), E("a", 5_000, 6_000, root)])
    assert [(r.key, r.count, r.cpu_time_total, r.self_cpu_time_total) for r in rows] == [
        ("root", 1, 10.0, 5.0), ("a", 2, 5.0, 5.0)]
