# Generated from source/01_tensor/01_tensor.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Tensor: an n-dimensional float32 array that records the operations made with it."""
import numpy as np

from tinytorch import autograd
from tinytorch.random import default_generator

Number = (int, float, np.number)


class Tensor:
    """An n-dimensional array (float32 by default) that records the operations made with it.

    Every operation returns its result through ``Tensor.from_op``, naming its inputs and a
    ``backward`` function that maps the output's gradient to one gradient per input; the
    autograd engine (``tinytorch.autograd``) walks these records in reverse.
    """

    __slots__ = ("data", "requires_grad", "grad", "_inputs", "_backward", "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        array = np.asarray(data, dtype=np.float32 if dtype is None else dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(f"Tensor: only floating-point tensors can require gradients, got dtype {array.dtype}")
        self.data = array
        self.requires_grad = requires_grad
        self.grad = None
        self._inputs = ()
        self._backward = None

    @staticmethod
    def from_op(data, inputs, backward):
        """The result of an operation on ``inputs``; ``backward(grad)`` returns one gradient per input."""
        # this runs for every operation: plain statements, no generator, no extra calls
        out = Tensor.__new__(Tensor)
        out.data = data if type(data) is np.ndarray else np.asarray(data)
        out.grad = None
        if autograd.is_grad_enabled():
            for t in inputs:
                if t.requires_grad:
                    out.requires_grad = True
                    out._inputs = inputs
                    out._backward = backward
                    return out
        out.requires_grad = False
        out._inputs = ()
        out._backward = None
        return out

    # ----- properties and conversions -------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def numel(self):
        """Number of elements."""
        return self.data.size

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.data.dtype != np.float32:
            extra = f", dtype={self.data.dtype}" + extra
        return f"Tensor({body}{extra})"

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python number, got shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The underlying numpy array (shared, not copied)."""
        return self.data

    def detach(self):
        """A tensor sharing this data, cut from the graph."""
        return Tensor(self.data, dtype=self.data.dtype)

    def backward(self, grad=None):
        """Compute gradients of this tensor with respect to every leaf that requires them."""
        autograd.backward(self, grad)

    # ----- elementwise arithmetic -----------------------------------------------------------
    def _operand(self, other, op):
        """``other`` as a Tensor, checked to broadcast against this one."""
        if not isinstance(other, Tensor):
            if isinstance(other, Number):  # a constant in this tensor's dtype, outside the graph
                other = Tensor.from_op(np.asarray(other, dtype=self.data.dtype), (), None)
            else:
                other = Tensor(other)
        if other.data.shape != self.data.shape and other.data.ndim and self.data.ndim:  # 0-d always broadcasts
            try:
                np.broadcast_shapes(self.data.shape, other.data.shape)
            except ValueError:
                raise ValueError(f"{op}: shapes {self.shape} and {other.shape} cannot be broadcast together") from None
        return other

    def __add__(self, other):
        other = self._operand(other, "add")
        out = self.data + other.data
        return Tensor.from_op(out, (self, other), lambda g: (g, g))

    def __sub__(self, other):
        other = self._operand(other, "sub")
        out = self.data - other.data
        return Tensor.from_op(out, (self, other), lambda g: (g, -g))

    def __mul__(self, other):
        other = self._operand(other, "mul")
        a, b = self.data, other.data
        out = a * b
        return Tensor.from_op(out, (self, other), lambda g: (g * b, g * a))

    def __truediv__(self, other):
        other = self._operand(other, "div")
        a, b = self.data, other.data
        out = a / b
        return Tensor.from_op(out, (self, other), lambda g: (g / b, -g * out / b))

    def __neg__(self):
        out = -self.data
        return Tensor.from_op(out, (self,), lambda g: (-g,))

    def __pow__(self, exponent):
        if not isinstance(exponent, Number):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        a = self.data
        out = a ** exponent
        return Tensor.from_op(out, (self,), lambda g: (g * exponent * a ** (exponent - 1),))

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return self._operand(other, "sub") - self

    def __rtruediv__(self, other):
        return self._operand(other, "div") / self

    # ----- matrix multiplication ------------------------------------------------------------
    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            other = Tensor(other)
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes {self.shape} and {other.shape}")
        inner_a, inner_b = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
        if inner_a != inner_b:
            raise ValueError(f"matmul: shapes {self.shape} and {other.shape} are not aligned: {inner_a} != {inner_b}")
        try:
            out = a @ b
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of shapes {self.shape} and {other.shape} cannot be broadcast together") from None
        return Tensor.from_op(out, (self, other), lambda g: _matmul_backward(g, a, b))

    def __rmatmul__(self, other):
        return Tensor(other) @ self

    matmul = __matmul__

    # ----- reductions -----------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        shape = self.shape
        out = self.data.sum(axis=axis, keepdims=keepdims)
        return Tensor.from_op(out, (self,), lambda g: (np.broadcast_to(_unreduce(g, axis, keepdims), shape),))

    def mean(self, axis=None, keepdims=False):
        shape = self.shape
        out = self.data.mean(axis=axis, keepdims=keepdims)
        count = self.data.size // max(np.size(out), 1)
        return Tensor.from_op(out, (self,), lambda g: (np.broadcast_to(_unreduce(g, axis, keepdims) / count, shape),))

    def max(self, axis=None, keepdims=False):
        a = self.data
        out = a.max(axis=axis, keepdims=keepdims)

        def backward(g):
            # the gradient goes to the maximum; ties share it equally, as in torch.amax
            hit = a == _unreduce(out, axis, keepdims)
            return (hit * (_unreduce(g, axis, keepdims) / hit.sum(axis=axis, keepdims=True)),)

        return Tensor.from_op(out, (self,), backward)

    def argmax(self, axis=None):
        """Indices of the maximum values (an int64 tensor, outside the graph)."""
        return Tensor(self.data.argmax(axis=axis), dtype=np.int64)

    # ----- shape --------------------------------------------------------------------------
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old = self.shape
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {old} ({self.data.size} elements) into {shape}") from None
        return Tensor.from_op(out, (self,), lambda g: (g.reshape(old),))

    view = reshape

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dimensions (by default the last two)."""
        out = np.swapaxes(self.data, dim0, dim1)
        return Tensor.from_op(out, (self,), lambda g: (np.swapaxes(g, dim0, dim1),))

    def permute(self, *dims):
        """Reorder all dimensions: ``out.shape[i] == self.shape[dims[i]]``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        out = np.transpose(self.data, dims)
        inverse = np.argsort(dims)
        return Tensor.from_op(out, (self,), lambda g: (np.transpose(g, inverse),))

    @property
    def T(self):
        """All dimensions reversed (for a matrix, its transpose)."""
        return self.permute(tuple(reversed(range(self.ndim))))

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        a = self.data
        out = a[index]

        def backward(g):
            full = np.zeros_like(a)
            np.add.at(full, index, g)  # repeated indices accumulate
            return (full,)

        return Tensor.from_op(out, (self,), backward)

    # ----- elementwise functions ----------------------------------------------------------
    def exp(self):
        out = np.exp(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * out,))

    def log(self):
        a = self.data
        out = np.log(a)
        return Tensor.from_op(out, (self,), lambda g: (g / a,))

    def sqrt(self):
        out = np.sqrt(self.data)
        return Tensor.from_op(out, (self,), lambda g: (g * 0.5 / out,))


def _unreduce(g, axis, keepdims):
    """Put back the dimensions a reduction over ``axis`` removed, so ``g`` broadcasts to the input."""
    if axis is None or keepdims:
        return g
    return np.expand_dims(g, axis)


def _matmul_backward(g, a, b):
    """Gradients of ``a @ b`` for 1-D, 2-D and batched operands."""
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.expand_dims(g, -2) if a.ndim == 1 else g
    g2 = np.expand_dims(g2, -1) if b.ndim == 1 else g2
    grad_a = g2 @ np.swapaxes(b2, -1, -2)
    grad_b = np.swapaxes(a2, -1, -2) @ g2
    if a.ndim == 1:
        grad_a = grad_a.squeeze(-2)
    if b.ndim == 1:
        grad_b = grad_b.squeeze(-1)
    return grad_a, grad_b


def zeros(*shape, requires_grad=False):
    return Tensor(np.zeros(shape, dtype=np.float32), requires_grad=requires_grad)


def ones(*shape, requires_grad=False):
    return Tensor(np.ones(shape, dtype=np.float32), requires_grad=requires_grad)


def randn(*shape, requires_grad=False):
    """Standard normal samples from the global generator (see ``tinytorch.manual_seed``)."""
    return Tensor(default_generator().standard_normal(shape, dtype=np.float32), requires_grad=requires_grad)
