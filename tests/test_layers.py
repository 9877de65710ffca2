"""Module, Parameter, Linear, Sequential and Dropout: PyTorch parity, finite differences, bookkeeping."""
import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F


def _torch_linear(torch, layer):
    ref = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data))
        if layer.bias is not None:
            ref.bias.copy_(torch.tensor(layer.bias.data))
    return ref


@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 5), (2, 1, 4, 5), (0, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(torch, shape, bias):
    tinytorch.manual_seed(0)
    layer = nn.Linear(5, 4, bias=bias)
    ref = _torch_linear(torch, layer)
    data = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    x, t = Tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = layer(x), ref(t)
    assert out.dtype == np.float32 and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    probe = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    out.backward(probe)
    expected.backward(torch.tensor(probe))
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.data, ref.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_linear_is_one_fused_node():
    layer = nn.Linear(3, 2)
    out = layer(Tensor(np.ones((4, 3)), requires_grad=True))
    assert len(out._inputs) == 3 and all(i._backward is None for i in out._inputs)


def test_linear_skips_the_input_gradient_it_does_not_need():
    layer = nn.Linear(3, 2)
    out = layer(Tensor(np.ones((4, 3))))
    assert out._backward(np.ones((4, 2), dtype=np.float32))[0] is None


@pytest.mark.parametrize("shape", [(4,), (2, 4), (2, 3, 4)])
def test_linear_gradcheck(shape):
    rng = np.random.default_rng(3)
    x, w, b = (Tensor(rng.standard_normal(s), dtype=np.float64) for s in (shape, (3, 4), (3,)))
    assert gradcheck(F.linear, x, w, b)
    assert gradcheck(lambda x, w: F.linear(x, w), x, w)


def _ks_statistic(a, b):
    """Largest gap between the empirical CDFs of two samples (two-sample Kolmogorov-Smirnov)."""
    a, b = np.sort(a.ravel()), np.sort(b.ravel())
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, side="right") / a.size - np.searchsorted(b, grid, side="right") / b.size).max()


@pytest.mark.parametrize("in_features,out_features", [(1, 3000), (784, 128), (300, 50)])
def test_linear_init_matches_torch_distribution(torch, in_features, out_features):
    tinytorch.manual_seed(0)
    torch.manual_seed(0)
    ours, ref = nn.Linear(in_features, out_features), torch.nn.Linear(in_features, out_features)
    bound = 1 / np.sqrt(in_features)
    for mine, theirs in [(ours.weight.data, ref.weight.detach().numpy()), (ours.bias.data, ref.bias.detach().numpy())]:
        assert mine.dtype == np.float32 and mine.shape == theirs.shape
        assert np.abs(mine).max() <= bound and np.abs(theirs).max() <= bound
        # both uniform on [-bound, bound]: the KS statistic of two samples of this size stays small
        assert _ks_statistic(mine, theirs) < 1.95 * np.sqrt(2 / mine.size) + 0.02
        assert _ks_statistic(mine, np.linspace(-bound, bound, 10001)) < 1.95 * np.sqrt(1 / mine.size) + 0.02


def test_linear_init_repeats_under_manual_seed():
    tinytorch.manual_seed(7)
    a = nn.Linear(6, 5)
    tinytorch.manual_seed(7)
    b = nn.Linear(6, 5)
    assert np.array_equal(a.weight.data, b.weight.data) and np.array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Linear(6, 5).weight.data)


def test_linear_wrong_last_dimension_names_both_shapes():
    layer = nn.Linear(784, 128)
    with pytest.raises(ValueError, match=r"Linear: expected input with last dimension 784, got shape \(32, 100\)") as err:
        layer(Tensor(np.zeros((32, 100))))
    assert "(128, 784)" in str(err.value)
    with pytest.raises(ValueError, match=r"\(\)"):
        layer(Tensor(3.0))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.blocks = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 3, bias=False))
        self.scale = nn.Parameter(np.ones(3))
        self.note = "not registered"

    def forward(self, x):
        return self.blocks(self.act(self.fc1(x))) * self.scale


class TorchNet:
    @staticmethod
    def build(torch):
        class Ref(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = torch.nn.Linear(4, 8)
                self.act = torch.nn.ReLU()
                self.blocks = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3, bias=False))
                self.scale = torch.nn.Parameter(torch.ones(3))

            def forward(self, x):
                return self.blocks(self.act(self.fc1(x))) * self.scale

        return Ref()


def test_named_parameters_match_torch_order_and_names(torch):
    ours, ref = Net(), TorchNet.build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert [p.shape for p in ours.parameters()] == [tuple(p.shape) for p in ref.parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in ours.parameters())
    assert [n for n, _ in ours.named_children()] == [n for n, _ in ref.named_children()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert list(ours.state_dict()) == list(ref.state_dict())


def test_load_torch_state_dict_gives_torch_outputs(torch):
    ours, ref = Net(), TorchNet.build(torch)
    ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    ours.eval(), ref.eval()
    data = np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(data)).data, ref(torch.tensor(data)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_registration_follows_reassignment_and_deletion():
    net = Net()
    net.scale = None
    assert "scale" not in dict(net.named_parameters())
    net.act = nn.Parameter(np.zeros(2))
    assert "act" in net._parameters and "act" not in net._modules
    del net.fc1
    assert not any(n.startswith("fc1.") for n, _ in net.named_parameters())
    assert not hasattr(net, "fc1")


def test_shared_parameters_and_modules_are_listed_once():
    layer = nn.Linear(3, 3)
    seq = nn.Sequential(layer, nn.ReLU(), layer)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(seq.modules())) == 3
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight  # weight tying, as between embedding and output layers
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_assigning_before_super_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"Forgot: call super\(\).__init__\(\)"):
        Forgot()


def test_forward_must_be_defined():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty"):
        Empty()(Tensor([1.0]))


def test_train_eval_recursive():
    net = Net()
    assert net.eval() is net and not any(m.training for m in net.modules())
    assert net.train() is net and all(m.training for m in net.modules())
    net.blocks.eval()
    assert net.training and net.fc1.training and not net.blocks[1].training


def test_zero_grad_clears_every_gradient():
    net = Net()
    net(Tensor(np.ones((2, 4)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_copies_and_loads_in_place():
    tinytorch.manual_seed(0)
    a, b = Net(), Net()
    saved = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in saved.values())
    a.fc1.weight.data += 1  # the snapshot does not follow later changes
    assert not np.array_equal(saved["fc1.weight"], a.fc1.weight.data)
    weight, storage = b.fc1.weight, b.fc1.weight.data
    b.load_state_dict(saved)
    assert b.fc1.weight is weight and b.fc1.weight.data is storage  # in place: optimizers keep working
    for name, value in b.state_dict().items():
        np.testing.assert_array_equal(value, saved[name])
    saved["fc1.bias"] += 1  # ... and copied: the model does not alias the dict
    assert not np.array_equal(saved["fc1.bias"], b.fc1.bias.data)
    b.load_state_dict({k: Tensor(v) for k, v in saved.items()})  # Tensors are accepted too
    np.testing.assert_array_equal(b.fc1.bias.data, saved["fc1.bias"])


def test_load_state_dict_errors_name_keys_and_shapes():
    net = Net()
    good = net.state_dict()
    before = net.fc1.weight.data.copy()
    missing = {k: v for k, v in good.items() if k != "fc1.bias"}
    with pytest.raises(RuntimeError, match=r"missing keys \['fc1.bias'\]"):
        net.load_state_dict(missing)
    with pytest.raises(RuntimeError, match=r"unexpected keys \['extra'\]"):
        net.load_state_dict({**good, "extra": np.zeros(1)})
    wrong = {**good, "fc1.weight": np.zeros((4, 8))}
    with pytest.raises(RuntimeError, match=r"'fc1.weight'.*\(4, 8\).*\(8, 4\)"):
        net.load_state_dict(wrong)
    np.testing.assert_array_equal(net.fc1.weight.data, before)  # nothing loaded on error


def test_deepcopy_gives_an_independent_model():
    import copy

    net = Net()
    twin = copy.deepcopy(net)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]
    twin.fc1.weight.data += 1
    assert not np.array_equal(twin.fc1.weight.data, net.fc1.weight.data)
    twin.extra = nn.Linear(2, 2)
    assert "extra.weight" in dict(twin.named_parameters()) and "extra.weight" not in dict(net.named_parameters())


def test_repr_matches_torch(torch):
    ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 2, bias=False), nn.Softmax(dim=-1)))
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                              torch.nn.Sequential(torch.nn.Linear(4, 2, bias=False), torch.nn.Softmax(dim=-1)))
    assert repr(ours) == repr(ref)
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2)"
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\nTensor(")


def test_sequential_container_behaviour():
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers and seq[0] is layers[0] and seq[-1] is layers[2]
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == layers[1:]
    x = Tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    with pytest.raises(TypeError, match="argument 1 must be a Module, got function"):
        nn.Sequential(nn.ReLU(), F.relu)


def test_dropout_training_statistics_and_gradient():
    tinytorch.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = Tensor(np.ones((400, 250)), requires_grad=True)
    y = drop(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.data.mean() - 1) < 0.01 and y.dtype == np.float32
    y.backward(np.full(y.shape, 2.0, dtype=np.float32))
    np.testing.assert_allclose(x.grad.data, 2 * y.data, rtol=1e-6)


def test_dropout_eval_and_p_zero_are_identity():
    x = Tensor(np.random.default_rng(5).standard_normal((3, 4)))
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x


def test_dropout_repeats_under_manual_seed_and_gradchecks():
    x = Tensor(np.random.default_rng(6).standard_normal((4, 5)), dtype=np.float64)

    def fn(t):
        tinytorch.manual_seed(3)  # the same mask on every call
        return F.dropout(t, 0.4)

    np.testing.assert_array_equal(fn(x).data, fn(x).data)
    assert gradcheck(fn, x)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_rejects_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=rf"Dropout: p must be in \[0, 1\), got {p}"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="Dropout"):
        F.dropout(Tensor([1.0]), p)


def test_mlp_trains_like_torch(torch):
    """Ten plain gradient steps from the same weights follow PyTorch's losses."""
    tinytorch.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    ref.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((32, 4)).astype(np.float32), rng.integers(0, 3, 32)
    for _ in range(10):
        loss = F.cross_entropy(ours(Tensor(x)), y)
        loss_ref = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(loss.item(), loss_ref.item(), rtol=1e-5)
        ours.zero_grad(), ref.zero_grad()
        loss.backward(), loss_ref.backward()
        with tinytorch.no_grad(), torch.no_grad():
            for p, q in zip(ours.parameters(), ref.parameters()):
                p.data -= 0.5 * p.grad.data
                q -= 0.5 * q.grad
