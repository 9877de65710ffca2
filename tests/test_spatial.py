"""Conv2d, pooling and Flatten against PyTorch (forward and gradients) and finite differences."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinytorch
from tinytorch import Tensor, nn
from tinytorch.autograd import gradcheck
from tinytorch.nn.spatial import avg_pool2d, conv2d, max_pool2d


def _leaves(torch, *arrays):
    ours = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def _match(torch, rng, ours, theirs, out, ref, rtol=1e-9, atol=1e-10):
    """Equal outputs, and equal gradients of one random projection of the output."""
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    probe = rng.standard_normal(ref.shape)
    (out * Tensor(probe, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(probe)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.data, t.grad.numpy(), rtol=rtol, atol=atol)


conv_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "c": st.integers(1, 3), "o": st.integers(1, 4),
    "h": st.integers(1, 9), "w": st.integers(1, 9),
    "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "sh": st.integers(1, 3), "sw": st.integers(1, 3),
    "ph": st.integers(0, 2), "pw": st.integers(0, 2),
    "bias": st.booleans(), "seed": st.integers(0, 2**16),
})


@settings(max_examples=60, deadline=None)
@given(case=conv_cases)
def test_conv2d_matches_torch_on_random_shapes(torch, case):
    c = case
    assume(c["kh"] <= c["h"] + 2 * c["ph"] and c["kw"] <= c["w"] + 2 * c["pw"])  # the kernel fits
    rng = np.random.default_rng(c["seed"])
    arrays = [rng.standard_normal((c["n"], c["c"], c["h"], c["w"])), rng.standard_normal((c["o"], c["c"], c["kh"], c["kw"]))]
    if c["bias"]:
        arrays.append(rng.standard_normal(c["o"]))
    ours, theirs = _leaves(torch, *arrays)
    stride, padding = (c["sh"], c["sw"]), (c["ph"], c["pw"])
    out = conv2d(*ours, stride=stride, padding=padding)
    ref = torch.nn.functional.conv2d(*theirs, stride=stride, padding=padding)
    _match(torch, rng, ours, theirs, out, ref)


pool_cases = st.fixed_dictionaries({
    "n": st.integers(1, 3), "c": st.integers(1, 3), "h": st.integers(2, 9), "w": st.integers(2, 9),
    "kh": st.integers(1, 4), "kw": st.integers(1, 4),
    "stride": st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))),
    "pad": st.booleans(), "seed": st.integers(0, 2**16),
})


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=40, deadline=None)
@given(case=pool_cases)
def test_pooling_matches_torch_on_random_shapes(torch, kind, case):
    c = case
    kernel = (c["kh"], c["kw"])
    padding = (c["kh"] // 2, c["kw"] // 2) if c["pad"] else (0, 0)
    assume(c["kh"] <= c["h"] + 2 * padding[0] and c["kw"] <= c["w"] + 2 * padding[1])  # the kernel fits
    rng = np.random.default_rng(c["seed"])
    ours, theirs = _leaves(torch, rng.standard_normal((c["n"], c["c"], c["h"], c["w"])))
    ours_fn, torch_fn = (max_pool2d, torch.nn.functional.max_pool2d) if kind == "max" else (avg_pool2d, torch.nn.functional.avg_pool2d)
    out = ours_fn(ours[0], kernel, c["stride"], padding)
    ref = torch_fn(theirs[0], kernel, c["stride"], padding)
    _match(torch, rng, ours, theirs, out, ref)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(torch):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 1.0  # two maxima in the first window
    ours, theirs = _leaves(torch, x)
    max_pool2d(ours[0], 2).sum().backward()
    torch.nn.functional.max_pool2d(theirs[0], 2).sum().backward()
    np.testing.assert_array_equal(ours[0].grad.data, theirs[0].grad.numpy())


@pytest.mark.parametrize("fn", [
    lambda x, w, b: conv2d(x, w, b, stride=2, padding=1),
    lambda x, w, b: conv2d(x, w, None, stride=(1, 2), padding=(2, 0)),
])
def test_conv2d_gradcheck(rng, fn):
    x = Tensor(rng.standard_normal((2, 2, 5, 6)), dtype=np.float64)
    w = Tensor(rng.standard_normal((3, 2, 3, 2)), dtype=np.float64)
    b = Tensor(rng.standard_normal(3), dtype=np.float64)
    assert gradcheck(fn, x, w, b)


@pytest.mark.parametrize("fn", [
    lambda x: max_pool2d(x, 2),
    lambda x: max_pool2d(x, 3, stride=1, padding=1),
    lambda x: avg_pool2d(x, (2, 3), stride=(2, 1), padding=(1, 1)),
])
def test_pooling_gradcheck(rng, fn):
    assert gradcheck(fn, Tensor(rng.standard_normal((2, 3, 5, 6)), dtype=np.float64))


def test_conv2d_layer_matches_torch_layer_and_default_init(torch):
    tinytorch.manual_seed(0)
    ours = nn.Conv2d(3, 8, 5, stride=2, padding=1)
    bound = 1 / np.sqrt(3 * 25)
    for p in (ours.weight, ours.bias):
        assert p.dtype == np.float32 and 0.9 * bound < np.abs(p.data).max() <= bound
        assert abs(p.data.mean()) < 0.3 * bound  # centered, uniform over the whole range
    assert ours.weight.shape == (8, 3, 5, 5) and ours.bias.shape == (8,)
    assert [name for name, _ in ours.named_parameters()] == ["weight", "bias"]
    theirs = torch.nn.Conv2d(3, 8, 5, stride=2, padding=1)
    assert abs(float(theirs.weight.detach().abs().max()) - bound) < 0.05 * bound  # the same default init
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    x = np.random.default_rng(1).standard_normal((4, 3, 11, 9)).astype(np.float32)
    out = ours(Tensor(x))
    ref = theirs(torch.tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert nn.Conv2d(2, 3, (3, 1), bias=False).bias is None
    assert len(list(nn.Conv2d(2, 3, 3, bias=False).parameters())) == 1


def test_cnn_gradients_reach_the_convolutions_through_flatten(torch, rng):
    """A whole small CNN, weights copied into PyTorch: every parameter gradient matches."""
    tinytorch.manual_seed(3)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 5))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(6 * 2 * 2, 5))
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.tensor(p.data))
    x = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
    ours(Tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.grad is not None and np.abs(p.grad.data).sum() > 0
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_flatten(rng):
    x = Tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    out = nn.Flatten()(x)
    assert out.shape == (2, 60) and np.array_equal(out.data, x.data.reshape(2, 60))
    out.sum().backward()
    assert x.grad.shape == x.shape and np.all(x.grad.data == 1)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    with pytest.raises(ValueError, match=r"Flatten: .*\(5,\)"):
        nn.Flatten()(Tensor(np.ones(5)))


def test_float32_stays_float32(rng):
    x = Tensor(rng.standard_normal((2, 3, 8, 8)), requires_grad=True)
    for layer in (nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.AvgPool2d(2, padding=1)):
        out = layer(x)
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32
        x.grad = None


def test_pooling_layers_and_repr():
    assert nn.MaxPool2d(2)(tinytorch.randn(1, 2, 5, 5)).shape == (1, 2, 2, 2)
    assert nn.MaxPool2d(3, stride=1, padding=1)(tinytorch.randn(1, 2, 5, 5)).shape == (1, 2, 5, 5)
    assert nn.AvgPool2d((2, 1))(tinytorch.randn(1, 2, 4, 5)).shape == (1, 2, 2, 5)
    assert repr(nn.Conv2d(1, 6, 5)) == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(0, 0), bias=True)"
    assert not isinstance(nn.AvgPool2d(2), nn.MaxPool2d)


@pytest.mark.parametrize("call, message", [
    (lambda: nn.Conv2d(3, 8, 3)(tinytorch.randn(2, 1, 8, 8)), r"Conv2d: expected input of shape \(N, 3, H, W\), got shape \(2, 1, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 3)(tinytorch.randn(3, 8, 8)), r"Conv2d: expected input of shape \(N, 3, H, W\), got shape \(3, 8, 8\)"),
    (lambda: nn.Conv2d(1, 8, 5)(tinytorch.randn(2, 1, 3, 3)), r"Conv2d: kernel \(5, 5\) is larger than the padded input \(3, 3\)"),
    (lambda: nn.Conv2d(1, 8, 0), r"Conv2d: kernel_size must be an int >= 1 or a pair of them, got 0"),
    (lambda: nn.Conv2d(1, 8, 3, stride=0), r"Conv2d: stride must be an int >= 1 .* got 0"),
    (lambda: nn.Conv2d(1, 8, 3, padding=-1), r"Conv2d: padding must be an int >= 0 .* got -1"),
    (lambda: nn.MaxPool2d(2)(tinytorch.randn(4, 4)), r"MaxPool2d: expected input of shape \(N, C, H, W\), got shape \(4, 4\)"),
    (lambda: nn.MaxPool2d(2, padding=2)(tinytorch.randn(1, 1, 4, 4)), r"MaxPool2d: padding \(2, 2\) must be at most half the kernel size \(2, 2\)"),
    (lambda: nn.AvgPool2d(5)(tinytorch.randn(1, 1, 4, 4)), r"AvgPool2d: kernel \(5, 5\) is larger than the padded input \(4, 4\)"),
])
def test_errors_name_what_was_given_and_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_images_entering_the_first_layer_get_no_gradient(rng):
    conv = nn.Conv2d(2, 3, 3)
    x = Tensor(rng.standard_normal((2, 2, 5, 5)))
    conv(x).sum().backward()
    assert x.grad is None and conv.weight.grad is not None and conv.bias.grad is not None
