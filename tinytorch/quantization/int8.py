# Generated from source/17_quantization/17_quantization.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Post-training INT8 quantization: symmetric per-channel weights, calibrated activation scales,
integer Linear and Conv2d layers, ``quantize(model, calibration_loader)``, and fake quantization
with a straight-through estimator for quantization-aware training."""
import copy

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn.layers import Linear, Module, Parameter, linear
from tinytorch.nn.spatial import Conv2d, _check_images, conv2d, sliding_windows
from tinytorch.tensor import Tensor

QMAX = 127  # symmetric INT8 range [-127, 127]: -128 is never used, so -q is always representable
_EXACT_FLOAT32 = 2**24  # every integer of magnitude up to 2**24 is a float32


def scale_for(amax):
    """The symmetric scale mapping ``[-amax, amax]`` onto ``[-127, 127]`` (1 where ``amax`` is 0)."""
    amax = np.asarray(amax, dtype=np.float32)
    return np.where(amax > 0, amax / np.float32(QMAX), np.float32(1)).astype(np.float32)


def _along(scale, ndim, axis):
    """``scale`` as float32, shaped to broadcast along ``axis`` of an ``ndim``-dimensional array."""
    scale = np.asarray(scale, dtype=np.float32)
    if axis is None:
        return scale
    shape = [1] * ndim
    shape[axis] = -1
    return scale.reshape(shape)


def quantize_array(x, scale, axis=None):
    """``x`` as int8: ``clip(round(x / scale), -127, 127)``; ``scale`` is one number, or one per
    index of ``axis`` (per-channel)."""
    x = np.asarray(x, dtype=np.float32)
    return np.clip(np.rint(x / _along(scale, x.ndim, axis)), -QMAX, QMAX).astype(np.int8)


def dequantize(q, scale, axis=None):
    """The float32 values that int8 ``q`` stands for: ``q * scale``."""
    return q.astype(np.float32) * _along(scale, q.ndim, axis)


def quantize_per_channel(w, axis=0):
    """Symmetric per-channel quantization of a weight: ``(q int8, scale float32 per channel)``,
    each channel's scale set by its largest magnitude."""
    w = np.asarray(w, dtype=np.float32)
    others = tuple(a for a in range(w.ndim) if a != axis % w.ndim)
    scale = scale_for(np.abs(w).max(axis=others))
    return quantize_array(w, scale, axis), scale


def int8_matmul(a, b):
    """``a @ b`` of int8 matrices ``(M, K) @ (K, N)`` with int32 accumulation, exactly."""
    if a.dtype != np.int8 or b.dtype != np.int8 or a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"int8_matmul: expected int8 matrices (M, K) and (K, N), got {a.dtype} {a.shape} "
                         f"and {b.dtype} {b.shape}")
    k = a.shape[1]
    if k * QMAX * QMAX >= 2**31:
        raise ValueError(f"int8_matmul: K = {k} could overflow the int32 accumulator (K * 127**2 >= 2**31)")
    dtype = np.float32 if k * QMAX * QMAX < _EXACT_FLOAT32 else np.float64
    return (a.astype(dtype) @ b.astype(dtype)).astype(np.int32)


class _Quantized(Module):
    """Shared parts of the integer layers: frozen int8 ``weight``, float32 ``weight_scale`` (one per
    output channel), ``input_scale`` (calibrated) and float32 ``bias``, all in ``state_dict()``."""

    def __init__(self, layer, input_scale):
        super().__init__()
        weight, weight_scale = quantize_per_channel(layer.weight.data, axis=0)
        self.weight = Parameter(weight, dtype=np.int8, requires_grad=False)
        self.weight_scale = Parameter(weight_scale, dtype=np.float32, requires_grad=False)
        self.input_scale = Parameter(np.reshape(input_scale, (1,)), dtype=np.float32, requires_grad=False)
        self.bias = None if layer.bias is None else Parameter(layer.bias.data, dtype=np.float32, requires_grad=False)

    @classmethod
    def from_float(cls, layer, input_scale):
        """The integer version of the float ``layer``, for inputs of calibrated scale ``input_scale``."""
        return cls(layer, input_scale)

    def _rescale(self, acc):
        """int32 accumulators ``(rows, out_channels)`` -> float32 outputs, with the bias added."""
        out = acc.astype(np.float32) * (self.input_scale.data * self.weight_scale.data)
        return out if self.bias is None else out + self.bias.data


class QuantizedLinear(_Quantized):
    """``Linear`` computing int8 x int8 products with int32 accumulation; float32 in, float32 out."""

    def __init__(self, layer, input_scale):
        super().__init__(layer, input_scale)
        self.in_features, self.out_features = layer.in_features, layer.out_features

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"QuantizedLinear: expected input with last dimension {self.in_features}, got shape {x.shape}")
        xq = quantize_array(x.data.reshape(-1, self.in_features), self.input_scale.data)
        acc = int8_matmul(xq, self.weight.data.T)
        return Tensor(self._rescale(acc).reshape(*x.shape[:-1], self.out_features))

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class QuantizedConv2d(_Quantized):
    """``Conv2d`` computing int8 x int8 products with int32 accumulation (im2col on int8 windows)."""

    def __init__(self, layer, input_scale):
        super().__init__(layer, input_scale)
        self.in_channels, self.out_channels = layer.in_channels, layer.out_channels
        self.kernel_size, self.stride, self.padding = layer.kernel_size, layer.stride, layer.padding

    def forward(self, x):
        x = _check_images(x, "QuantizedConv2d", self.in_channels)
        xq = quantize_array(x.data, self.input_scale.data)  # 0.0 -> 0, so zero padding stays exact
        windows = sliding_windows(xq, self.kernel_size, self.stride, self.padding, layer="QuantizedConv2d")
        n, c, oh, ow, kh, kw = windows.shape
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
        acc = int8_matmul(cols, self.weight.data.reshape(self.out_channels, -1).T)
        out = self._rescale(acc).reshape(n, oh, ow, self.out_channels).transpose(0, 3, 1, 2)
        return Tensor(np.ascontiguousarray(out))

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


QUANTIZED = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d}


class _Wrapper(Module):
    """A module around one float ``layer`` that tracks ``amax``, the largest input magnitude seen."""

    def __init__(self, layer):
        super().__init__()
        self.layer, self.amax = layer, 0.0


class _Observer(_Wrapper):
    """Wraps a layer during calibration and records the largest magnitude of its inputs."""

    def forward(self, x):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        self.amax = max(self.amax, float(np.abs(data).max()))
        return self.layer(x)


def _float_layer(module):
    """The float ``Linear``/``Conv2d`` that ``module`` is or wraps, else None."""
    if isinstance(module, _Wrapper):
        return module.layer
    return module if type(module) in QUANTIZED else None


def _swap(model, pick, make):
    """Replace each sub-module ``m`` of ``model`` for which ``pick(m)`` is true by ``make(m)``;
    return the model (or the replacement, when ``model`` itself is picked)."""
    if pick(model):
        return make(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if pick(child):
                setattr(module, name, make(child))
    return model


def quantize(model, calibration_loader, num_batches=None):
    """A converted copy of ``model``: every ``Linear`` and ``Conv2d`` becomes its integer version,
    with input scales calibrated on the batches of ``calibration_loader`` (input tensors, or
    ``(inputs, targets)`` pairs; only the first ``num_batches`` if given). ``model`` is untouched."""
    observed = _swap(copy.deepcopy(model).eval(), _float_layer, lambda m: _Observer(_float_layer(m)))
    observers = [m for m in observed.modules() if isinstance(m, _Observer)]
    if not observers:
        raise ValueError(f"quantize: {type(model).__name__} contains no Linear or Conv2d layer")
    with no_grad():
        for i, batch in enumerate(calibration_loader):
            if num_batches is not None and i >= num_batches:
                break
            observed(batch[0] if isinstance(batch, (tuple, list)) else batch)
    if all(o.amax == 0 for o in observers):
        raise ValueError("quantize: the calibration loader gave no batch (or only zeros)")
    return _swap(observed, lambda m: isinstance(m, _Observer),
                 lambda o: QUANTIZED[type(o.layer)].from_float(o.layer, scale_for(o.amax)))


def fake_quantize(x, scale, axis=None):
    """Quantize and dequantize ``x`` in the forward pass; in the backward pass let the gradient
    through unchanged where ``x`` was inside the representable range (straight-through estimator)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    out = dequantize(quantize_array(x.data, scale, axis), scale, axis).astype(x.dtype)
    inside = np.abs(x.data) <= _along(scale, x.ndim, axis) * QMAX

    def backward(g):
        return (g * inside,)

    return Tensor.from_op(out, (x,), backward)


class FakeQuantized(_Wrapper):
    """A ``Linear`` or ``Conv2d`` trained with fake-quantized weights (per channel) and inputs (with
    the running largest magnitude seen in training): what ``quantize`` will compute, made learnable."""

    def __init__(self, layer):
        if type(layer) not in QUANTIZED:
            raise TypeError(f"FakeQuantized: expected a Linear or Conv2d, got {type(layer).__name__}")
        super().__init__(layer)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.training:
            self.amax = max(self.amax, float(np.abs(x.data).max()))
        x = fake_quantize(x, scale_for(self.amax))
        layer = self.layer
        weight = fake_quantize(layer.weight, quantize_per_channel(layer.weight.data)[1], axis=0)
        if isinstance(layer, Linear):
            return linear(x, weight, layer.bias)
        return conv2d(x, weight, layer.bias, layer.stride, layer.padding)


def prepare_qat(model):
    """A copy of ``model`` whose ``Linear`` and ``Conv2d`` layers train through fake quantization;
    train it, then ``quantize`` it."""
    return _swap(copy.deepcopy(model), lambda m: type(m) in QUANTIZED, FakeQuantized)
