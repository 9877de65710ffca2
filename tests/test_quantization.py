"""INT8 quantization: the scale math against PyTorch's quantizers, int8 products bit-exact against an
integer reference, quantized layers against their float versions within the rounding bound,
``quantize`` copies, sizes, the digits MLP against ``torch.ao.quantization.quantize_dynamic``, and
the straight-through estimator."""
import copy
import io

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor, datasets, nn, optim
from tinytorch.quantization import (
    FakeQuantized, QuantizedConv2d, QuantizedLinear, dequantize, fake_quantize, int8_matmul, prepare_qat,
    quantize, quantize_array, quantize_per_channel, scale_for,
)

from test_book import executed_notebook, site  # noqa: F401  (fixtures: the book build's run of the lab)
from test_milestones import check_clean, result


def _no_tie(x, scale):
    """Where ``x / scale`` is not within float rounding of a half-integer (PyTorch multiplies by the
    reciprocal of the scale, which can round such ties the other way)."""
    r = np.asarray(x, np.float64) / scale
    return np.abs(np.abs(r - np.floor(r)) - 0.5) > 1e-4


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_per_channel_scales_and_values_match_torch(torch):
    rng = np.random.default_rng(0)
    for axis, shape in [(0, (32, 200)), (0, (8, 3, 5, 5)), (1, (4, 6, 3))]:
        w = (rng.standard_normal(shape) * rng.uniform(0.01, 3, shape[axis]).reshape(
            [-1 if a == axis else 1 for a in range(len(shape))])).astype(np.float32)
        q, scale = quantize_per_channel(w, axis=axis)
        others = tuple(a for a in range(w.ndim) if a != axis)
        np.testing.assert_allclose(scale, np.abs(w).max(axis=others) / 127, rtol=1e-7)
        assert q.dtype == np.int8 and np.abs(q).max() == 127
        ref = torch.quantize_per_channel(torch.tensor(w), torch.tensor(scale.astype(np.float64)),
                                         torch.zeros(len(scale), dtype=torch.long), axis, torch.qint8).int_repr().numpy()
        bshape = [-1 if a == axis else 1 for a in range(w.ndim)]
        clean = _no_tie(w, scale.reshape(bshape).astype(np.float64))
        np.testing.assert_array_equal(q[clean], ref[clean])
        assert np.abs(q.astype(int) - ref).max() <= 1
        err = np.abs(dequantize(q, scale, axis=axis) - w)
        assert np.all(err <= scale.reshape(bshape) / 2 * (1 + 1e-5))


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_per_tensor_values_match_torch_and_clip(torch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 50)).astype(np.float32) * 3
    scale = 0.02  # many values clip
    q = quantize_array(x, scale)
    ref = torch.quantize_per_tensor(torch.tensor(x), scale, 0, torch.qint8).int_repr().numpy().clip(-127, 127)
    clean = _no_tie(x, scale)
    np.testing.assert_array_equal(q[clean], ref[clean])
    assert q.min() == -127 and q.max() == 127
    assert quantize_array(np.float32(0.0), 0.5) == 0
    assert scale_for(0.0) == 1 and scale_for(127.0) == 1
    assert dequantize(q, scale).dtype == np.float32


@pytest.mark.parametrize("k", [1, 13, 784, 1040, 1041, 4000])
def test_int8_matmul_is_bit_exact(k):
    rng = np.random.default_rng(k)
    a = rng.integers(-127, 128, (17, k), dtype=np.int8)
    b = rng.integers(-127, 128, (k, 9), dtype=np.int8)
    a[0], b[:, 0] = 127, 127  # the largest accumulator, k * 127**2
    a[1], b[:, 1] = -127, 127  # and the smallest
    out = int8_matmul(a, b)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))


def test_int8_matmul_errors():
    a = np.zeros((2, 3), np.int8)
    with pytest.raises(ValueError, match=r"int8 matrices \(M, K\) and \(K, N\), got int8 \(2, 3\) and int8 \(4, 2\)"):
        int8_matmul(a, np.zeros((4, 2), np.int8))
    with pytest.raises(ValueError, match="got float32"):
        int8_matmul(a.astype(np.float32), np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="overflow"):
        int8_matmul(np.zeros((1, 140_000), np.int8), np.zeros((140_000, 1), np.int8))


def _rounding_bound(x, w, qlayer):
    """|x w^T - dequantized product| <= sum_k |x| |w - w_hat| + |x - x_hat| |w_hat|, elementwise."""
    s_x, s_w = float(qlayer.input_scale.data[0]), qlayer.weight_scale.data
    w_hat = dequantize(qlayer.weight.data.reshape(len(s_w), -1), s_w, axis=0)
    x_err = np.abs(x - dequantize(quantize_array(x, s_x), s_x))
    w_err = np.abs(w - w_hat)
    return np.abs(x) @ w_err.T + x_err @ np.abs(w_hat).T


def test_quantized_linear_is_the_integer_reference_and_close_to_float():
    tinytorch.manual_seed(0)
    layer = nn.Linear(70, 20)
    x = np.random.default_rng(2).standard_normal((4, 3, 70)).astype(np.float32)
    s_x = scale_for(np.abs(x).max())
    q = QuantizedLinear.from_float(layer, s_x)
    out = q(Tensor(x))
    assert out.shape == (4, 3, 20) and out.dtype == np.float32 and not out.requires_grad
    acc = quantize_array(x, s_x).reshape(-1, 70).astype(np.int64) @ q.weight.data.T.astype(np.int64)
    expected = acc.astype(np.float32) * (np.float32(s_x) * q.weight_scale.data) + layer.bias.data
    np.testing.assert_array_equal(out.data.reshape(-1, 20), expected)
    with tinytorch.no_grad():
        exact = layer(Tensor(x)).data.reshape(-1, 20)
    bound = _rounding_bound(x.reshape(-1, 70), layer.weight.data, q)
    assert np.all(np.abs(out.data.reshape(-1, 20) - exact) <= bound * 1.001 + 1e-5)
    with pytest.raises(ValueError, match=r"last dimension 70, got shape \(2, 7\)"):
        q(Tensor(np.zeros((2, 7))))


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 2), (2, 1)])
def test_quantized_conv2d_is_the_integer_reference_and_close_to_float(stride, padding):
    tinytorch.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=padding)
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 8)).astype(np.float32)
    s_x = scale_for(np.abs(x).max())
    q = QuantizedConv2d.from_float(conv, s_x)
    out = q(Tensor(x)).data
    with tinytorch.no_grad():
        exact = conv(Tensor(x)).data
    assert out.shape == exact.shape and out.dtype == np.float32
    xq = np.pad(quantize_array(x, s_x), ((0, 0), (0, 0), (padding, padding), (padding, padding))).astype(np.int64)
    oh, ow = exact.shape[2:]
    acc = np.zeros((2, 5, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            window = xq[:, :, i * stride:i * stride + 3, j * stride:j * stride + 3]
            acc[:, :, i, j] = np.einsum("ncuv,ocuv->no", window, q.weight.data.astype(np.int64))
    expected = (acc.astype(np.float32) * (np.float32(s_x) * q.weight_scale.data)[None, :, None, None]
                + conv.bias.data[None, :, None, None])
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert np.abs(out - exact).max() < 0.02 * np.abs(exact).max()
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got shape \(2, 4, 9, 8\)"):
        q(Tensor(np.zeros((2, 4, 9, 8))))


def mlp(inputs, hidden):
    layers = [nn.Flatten()]
    for a, b in zip((inputs,) + hidden, hidden):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(hidden[-1], 10))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def saved_bytes(state):
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    return buffer.getbuffer().nbytes


@pytest.mark.parametrize("name,make,shape", [
    ("digits MLP", lambda: mlp(64, (512, 256)), (1, 8, 8)),
    ("Fashion-MNIST MLP", lambda: mlp(784, (256, 128)), (1, 28, 28)),
    ("LeNet CNN", lenet, (1, 28, 28)),
])
def test_quantize_copies_and_shrinks(name, make, shape):
    tinytorch.manual_seed(3)
    model = make()
    before = copy.deepcopy(model.state_dict())
    calibration = [np.random.default_rng(i).random((16, *shape), dtype=np.float32) for i in range(3)]
    q = quantize(model, calibration)
    # the original is untouched: same layers, same values
    assert [type(m) for m in model] == [type(m) for m in make()]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    state = q.state_dict()
    floats = [k for k in before if k.endswith("weight")]
    for key in floats:
        assert state[key].dtype == np.int8 and state[key].shape == before[key].shape
        assert before[key].nbytes == 4 * state[key].nbytes  # exactly 4x smaller weights
        assert state[key.replace("weight", "weight_scale")].shape == (before[key].shape[0],)
    ratio = saved_bytes(before) / saved_bytes(state)
    assert ratio >= 3.7, f"{name}: saved model only {ratio:.2f}x smaller"
    # what a state_dict holds loads back into a converted model
    other = quantize(make(), calibration)
    other.load_state_dict(state)
    x = Tensor(calibration[0])
    np.testing.assert_array_equal(other(x).data, q(x).data)


def test_save_keeps_int8_weights_and_scales(tmp_path):
    tinytorch.manual_seed(4)
    model = lenet()
    q = quantize(model, [np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32)])
    tinytorch.save(q.state_dict(), tmp_path / "int8.npz")
    tinytorch.save(model.state_dict(), tmp_path / "float.npz")
    loaded = tinytorch.load(tmp_path / "int8.npz")
    for key, value in q.state_dict().items():
        assert loaded[key].dtype == value.dtype and np.array_equal(loaded[key], value), key
    assert loaded["0.weight"].dtype == np.int8 and loaded["0.weight_scale"].dtype == np.float32
    ratio = (tmp_path / "float.npz").stat().st_size / (tmp_path / "int8.npz").stat().st_size
    assert ratio >= 3.7, f"tinytorch.save: the INT8 LeNet is only {ratio:.2f}x smaller"


def test_quantize_errors():
    with pytest.raises(ValueError, match="contains no Linear or Conv2d"):
        quantize(nn.Sequential(nn.ReLU()), [np.ones((2, 3))])
    with pytest.raises(ValueError, match="gave no batch"):
        quantize(nn.Linear(3, 2), [])


def test_quantize_accepts_a_bare_layer_and_target_pairs():
    layer = nn.Linear(4, 2)
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    q = quantize(layer, [(x, np.zeros(8))])
    assert isinstance(q, QuantizedLinear) and np.isclose(q.input_scale.data[0], np.abs(x).max() / 127)


def _train_digits_mlp():
    """Milestone 03's digits MLP (64-512-256-10, AdamW), trained from a fixed seed."""
    tinytorch.manual_seed(1986)
    digits = datasets.load_digits()
    x_train = digits.x_train.reshape(len(digits.x_train), -1)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 0.1
    x_train, x_test = (x_train - mean) / std, (digits.x_test.reshape(len(digits.x_test), -1) - mean) / std
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer, loss_fn = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1), nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(20):
        order = rng.permutation(len(x_train))
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            loss = loss_fn(model(Tensor(x_train[batch])), Tensor(digits.y_train[batch], dtype=np.int64))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), x_train.astype(np.float32), x_test.astype(np.float32), digits.y_test


@pytest.mark.filterwarnings("ignore:torch.ao.quantization is deprecated:DeprecationWarning")
def test_digits_mlp_int8_against_torch_quantize_dynamic(torch):
    model, x_train, x_test, y_test = _train_digits_mlp()
    with tinytorch.no_grad():
        float_acc = (model(Tensor(x_test)).data.argmax(1) == y_test).mean()
    ours = quantize(model, [x_train[i:i + 128] for i in range(0, 512, 128)])
    int8_acc = (ours(Tensor(x_test)).data.argmax(1) == y_test).mean()

    reference = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10))
    reference.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    torch_int8 = torch.ao.quantization.quantize_dynamic(reference.eval(), {torch.nn.Linear}, dtype=torch.qint8)
    with torch.no_grad():
        torch_acc = (torch_int8(torch.tensor(x_test)).argmax(1).numpy() == y_test).mean()
    print(f"\ndigits MLP: float {float_acc:.2%}, ours int8 {int8_acc:.2%}, torch int8 {torch_acc:.2%}")
    assert float_acc >= 0.96
    assert float_acc - int8_acc <= 0.01  # at most 1 point (one test image is 0.28)
    assert abs(int8_acc - torch_acc) <= 0.003 + 1e-9  # within 0.3 points of PyTorch's INT8 result


def test_fake_quantize_straight_through():
    rng = np.random.default_rng(4)
    w = Tensor(rng.standard_normal((6, 5)) * 2, dtype=np.float64, requires_grad=True)
    scale = np.array([0.01, 0.02, 0.005, 0.1, 1.0, 0.001], np.float32)
    out = fake_quantize(w, scale, axis=0)
    np.testing.assert_array_equal(out.data, dequantize(quantize_array(w.data, scale, 0), scale, 0))
    g = rng.standard_normal((6, 5))
    out.backward(g)
    inside = np.abs(w.data) <= scale[:, None] * 127
    assert 0 < inside.sum() < inside.size
    np.testing.assert_array_equal(w.grad.data, g * inside)


def test_prepare_qat_trains_a_copy_that_quantizes():
    tinytorch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    before = copy.deepcopy(model.state_dict())
    qat = prepare_qat(model)
    assert all(isinstance(qat[i], FakeQuantized) for i in (0, 3))
    x, y = np.random.default_rng(6).standard_normal((8, 1, 8, 8)).astype(np.float32), np.arange(8) % 3
    opt = optim.SGD(qat.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()(qat(Tensor(x)), Tensor(y, dtype=np.int64))
    loss.backward()
    opt.step()
    assert qat[0].layer.weight.grad is not None and qat[3].amax > 0
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    converted = quantize(qat, [x])
    assert isinstance(converted[0], QuantizedConv2d) and isinstance(converted[3], QuantizedLinear)
    with pytest.raises(TypeError, match="expected a Linear or Conv2d, got ReLU"):
        FakeQuantized(nn.ReLU())


@pytest.mark.slow
@pytest.mark.xdist_group("book")
def test_lab_meets_the_targets(executed_notebook):
    """The book build's run of the quantization lab: the milestone networks and a GPT in INT8."""
    nb = executed_notebook("book/advanced/17_quantization_lab.ipynb")
    check_clean(nb, ["digits MLP", "digits CNN", "fashion MLP", "fashion CNN", "GPT"], figures=1)
    out = result(nb, kind="lab")
    assert set(out["models"]) == {"digits MLP", "digits CNN", "Fashion-MNIST MLP", "Fashion-MNIST CNN"}
    for name, row in out["models"].items():
        assert row["weight_ratio"] == 4.0 and row["saved_ratio"] >= 3.7, name
        assert row["drop_points"] <= (0.5 if name.startswith("Fashion") else 1.0), name
    assert abs(out["models"]["Fashion-MNIST MLP"]["int8_accuracy"] - out["torch_int8_accuracy"]) <= 0.003
    assert out["gpt"]["rise_percent"] <= 2.0
    print(f"\nquantization lab: {out}")
