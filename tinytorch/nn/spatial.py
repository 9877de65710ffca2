# Generated from source/09_spatial/09_spatial.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Spatial layers for images: Conv2d, MaxPool2d, AvgPool2d and Flatten."""
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.nn.layers import Module, Parameter
from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


def _pair(value, name, layer, minimum):
    """``value`` (an int or a pair of ints) as a pair, each at least ``minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(not isinstance(v, (int, np.integer)) or v < minimum for v in pair):
        raise ValueError(f"{layer}: {name} must be an int >= {minimum} or a pair of them, got {value!r}")
    return tuple(int(v) for v in pair)


def _check_images(x, layer, channels=None):
    """``x`` as a Tensor of images (N, C, H, W), with ``channels`` channels if given."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        expected = f"(N, {channels}, H, W)" if channels is not None else "(N, C, H, W)"
        raise ValueError(f"{layer}: expected input of shape {expected}, got shape {x.shape}")
    return x


def sliding_windows(x, kernel, stride, padding, fill=0.0, layer="sliding_windows"):
    """All ``kernel`` windows of ``x`` (N, C, H, W), padded with ``fill``: a view (N, C, OH, OW, kh, kw)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(f"{layer}: kernel {kernel} is larger than the padded input {(h + 2 * ph, w + 2 * pw)}")
    if ph or pw:
        padded = np.full((n, c, h + 2 * ph, w + 2 * pw), fill, dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = x
    else:
        padded = x
    return sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _fold(patch, kernel, input_shape, stride, padding):
    """Sum window gradients back onto the input (col2im): ``patch(u, v)`` is the (N, C, OH, OW)
    gradient of window element ``(u, v)``, for every window; it is called once per ``(u, v)``,
    in row-major order. Only the last two axes are spatial: (C, N, ...) layouts work too."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = input_shape
    grad = None
    for u in range(kh):
        for v in range(kw):
            g = patch(u, v)
            if grad is None:
                grad = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
            oh, ow = g.shape[2:]
            grad[:, :, u:u + sh * (oh - 1) + 1:sh, v:v + sw * (ow - 1) + 1:sw] += g
    return grad[:, :, ph:ph + h, pw:pw + w]


def conv2d(input, weight, bias=None, stride=1, padding=0):
    """2-D convolution of ``input`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus ``bias`` (O,)."""
    out_channels, in_channels, kh, kw = weight.shape
    input = _check_images(input, "Conv2d", in_channels)
    stride = _pair(stride, "stride", "Conv2d", 1)
    padding = _pair(padding, "padding", "Conv2d", 0)
    x, w = input.data, weight.data
    n = x.shape[0]
    w_mat = w.reshape(out_channels, -1)
    windows = sliding_windows(x, (kh, kw), stride, padding, layer="Conv2d")
    oh, ow = windows.shape[2:4]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(in_channels * kh * kw, n * oh * ow)
    out = w_mat @ cols
    if bias is not None:
        out += bias.data[:, None]
    out = out.reshape(out_channels, n, oh, ow).transpose(1, 0, 2, 3)

    def backward(g):
        g = g.transpose(1, 0, 2, 3).reshape(out_channels, -1)
        grad_x = None
        if input.requires_grad:  # not for the images entering the first layer
            patches = (w_mat.T @ g).reshape(in_channels, kh, kw, n, oh, ow)
            # fold in the (C, N, H, W) layout of `patches`, where each patches[:, u, v] is contiguous
            grad_x = _fold(lambda u, v: patches[:, u, v], (kh, kw), (in_channels, n, *x.shape[2:]), stride, padding)
            grad_x = grad_x.transpose(1, 0, 2, 3)
        return grad_x, (g @ cols.T).reshape(w.shape), g.sum(axis=1)

    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(out, inputs, backward)


def _pool_args(input, kernel_size, stride, padding, layer):
    input = _check_images(input, layer)
    kernel = _pair(kernel_size, "kernel_size", layer, 1)
    stride = kernel if stride is None else _pair(stride, "stride", layer, 1)
    padding = _pair(padding, "padding", layer, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{layer}: padding {padding} must be at most half the kernel size {kernel}")
    return input, kernel, stride, padding


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Maximum over each ``kernel_size`` window of every channel; ``stride`` defaults to the kernel size."""
    input, (kh, kw), stride, padding = _pool_args(input, kernel_size, stride, padding, "MaxPool2d")
    x = input.data
    windows = sliding_windows(x, (kh, kw), stride, padding, fill=-np.inf, layer="MaxPool2d")
    out = windows[..., 0, 0]
    for u in range(kh):
        for v in range(kw):
            if u or v:
                out = np.maximum(out, windows[..., u, v])

    def backward(g):
        taken = np.zeros(out.shape, dtype=bool)

        def patch(u, v):  # called once per window position, in row-major order
            winner = (windows[..., u, v] == out) & ~taken  # the first maximum of a window wins ties
            taken[...] |= winner
            return g * winner

        return (_fold(patch, (kh, kw), x.shape, stride, padding),)

    return Tensor.from_op(out, (input,), backward)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over each ``kernel_size`` window of every channel (padded zeros count)."""
    input, (kh, kw), stride, padding = _pool_args(input, kernel_size, stride, padding, "AvgPool2d")
    x = input.data
    windows = sliding_windows(x, (kh, kw), stride, padding, layer="AvgPool2d")
    out = windows.mean(axis=(4, 5))

    def backward(g):
        share = g / (kh * kw)
        return (_fold(lambda u, v: share, (kh, kw), x.shape, stride, padding),)

    return Tensor.from_op(out, (input,), backward)


class Conv2d(Module):
    """2-D convolution layer: weight ``(out_channels, in_channels, kh, kw)``, bias ``(out_channels,)``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.padding = _pair(padding, "padding", "Conv2d", 0)
        rng = default_generator()
        bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        self.weight = Parameter(rng.uniform(-bound, bound, (out_channels, in_channels, *self.kernel_size)))
        self.bias = Parameter(rng.uniform(-bound, bound, out_channels)) if bias else None

    def forward(self, x):
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    """Settings shared by the pooling layers; ``stride`` defaults to the kernel size."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over ``kernel_size`` windows; ``stride`` defaults to the kernel size."""

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling over ``kernel_size`` windows; ``stride`` defaults to the kernel size."""

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge dimensions ``start_dim`` to the last into one, keeping the graph."""

    def __init__(self, start_dim=1):
        super().__init__()
        self.start_dim = start_dim

    def forward(self, x):
        if x.ndim <= self.start_dim:
            raise ValueError(f"Flatten: expected an input with more than {self.start_dim} dimensions, got shape {x.shape}")
        return x.reshape(*x.shape[:self.start_dim], -1)

    def extra_repr(self):
        return f"start_dim={self.start_dim}"
