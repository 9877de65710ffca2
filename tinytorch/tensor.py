# Generated from source/01_tensor/01_tensor.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Tensor: an n-dimensional float32 array that records the operations made with it."""
import numpy as np

from tinytorch import autograd
from tinytorch.random import default_generator

Number = (int, float, np.number)
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating point


class Tensor:
    """An n-dimensional array (float32 by default) that records the operations made with it.

    Every operation returns its result through ``Tensor.from_op``, naming its inputs and a
    ``backward`` function that maps the output's gradient to one gradient per input; the
    autograd engine (``tinytorch.autograd``) walks these records in reverse.
    """

    __slots__ = ("data", "requires_grad", "grad", "_inputs", "_backward", "__weakref__")
    __array_priority__ = 1000  # numpy defers `ndarray + Tensor` to Tensor.__radd__
    __hash__ = object.__hash__  # hashed by identity, although == compares elementwise

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data, dtype=np.float32 if dtype is None else dtype)
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

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor of shape {self.shape} is ambiguous, expected one element")
        return bool(self.data)

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
        return Tensor.from_op(self.data, (), None)

    def backward(self, grad=None):
        """Compute gradients of this tensor with respect to every leaf that requires them."""
        autograd.backward(self, grad)

    # ----- elementwise arithmetic -----------------------------------------------------------
    def _wrap(self, other):
        """``other`` as a Tensor; a Python number takes the dtype PyTorch gives it next to this tensor."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, Number):  # a constant outside the graph
            return Tensor.from_op(np.asarray(other, dtype=_scalar_dtype(self.data.dtype, other)), (), None)
        return Tensor(other)

    def _operands(self, other, op):
        """``other`` as a Tensor, and both operands' data in their common dtype, checked to broadcast."""
        other = self._wrap(other)
        a, b = self.data, other.data
        if a.shape != b.shape and a.ndim and b.ndim:  # 0-d always broadcasts
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise ValueError(f"{op}: shapes {self.shape} and {other.shape} cannot be broadcast together") from None
        if a.dtype != b.dtype:
            dtype = _result_dtype(a, b)
            a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
        return other, a, b

    def __add__(self, other):
        other, a, b = self._operands(other, "add")
        out = a + b

        def backward(g):
            return g, g

        return Tensor.from_op(out, (self, other), backward)

    def __sub__(self, other):
        other, a, b = self._operands(other, "sub")
        out = a - b

        def backward(g):
            return g, -g

        return Tensor.from_op(out, (self, other), backward)

    def __mul__(self, other):
        other, a, b = self._operands(other, "mul")
        out = a * b

        def backward(g):
            return g * b, g * a

        return Tensor.from_op(out, (self, other), backward)

    def __truediv__(self, other):
        other, a, b = self._operands(other, "div")
        if a.dtype.kind != "f":  # true division of integers gives floats, as in PyTorch
            a, b = a.astype(np.float32), b.astype(np.float32)
        out = a / b

        def backward(g):
            return g / b, -g * out / b

        return Tensor.from_op(out, (self, other), backward)

    def __neg__(self):
        out = -self.data

        def backward(g):
            return (-g,)

        return Tensor.from_op(out, (self,), backward)

    def __pow__(self, exponent):
        if not isinstance(exponent, Number):
            raise TypeError(f"pow: the exponent must be a number, got {type(exponent).__name__}")
        a = self.data.astype(_scalar_dtype(self.data.dtype, exponent), copy=False)
        out = a ** exponent

        def backward(g):
            if exponent == 0:
                return (np.zeros_like(g),)
            return (g * exponent * a ** (exponent - 1),)

        return Tensor.from_op(out, (self,), backward)

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return self._wrap(other) - self

    def __rtruediv__(self, other):
        return self._wrap(other) / self

    # ----- comparisons: elementwise, a bool tensor outside the graph --------------------------
    def _compare(self, other, op):
        if not isinstance(other, (Tensor, np.ndarray, list, tuple) + Number):
            return NotImplemented
        other, a, b = self._operands(other, op.__name__)
        return Tensor.from_op(op(a, b), (), None)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

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

        def backward(g):
            return (np.broadcast_to(_unreduce(g, axis, keepdims), shape),)

        return Tensor.from_op(out, (self,), backward)

    def mean(self, axis=None, keepdims=False):
        shape = self.shape
        out = self.data.mean(axis=axis, keepdims=keepdims)

        def backward(g):
            count = self.data.size // max(np.size(out), 1)
            return (np.broadcast_to(_unreduce(g, axis, keepdims) / count, shape),)

        return Tensor.from_op(out, (self,), backward)

    def max(self, axis=None, keepdims=False):
        a = self.data
        out = a.max(axis=axis, keepdims=keepdims)

        def backward(g):
            hit = a == _unreduce(out, axis, keepdims)
            return (hit * (_unreduce(g, axis, keepdims) / hit.sum(axis=axis, keepdims=True)),)

        return Tensor.from_op(out, (self,), backward)

    def argmax(self, axis=None):
        """Indices of the maximum values (an int64 tensor, outside the graph)."""
        return Tensor.from_op(self.data.argmax(axis=axis), (), None)

    # ----- shape --------------------------------------------------------------------------
    def reshape(self, *shape):
        shape = _shape_argument(shape)
        old = self.shape
        try:
            out = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape shape {old} ({self.data.size} elements) into {shape}") from None

        def backward(g):
            return (g.reshape(old),)

        return Tensor.from_op(out, (self,), backward)

    view = reshape

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dimensions (by default the last two)."""
        out = np.swapaxes(self.data, dim0, dim1)

        def backward(g):
            return (np.swapaxes(g, dim0, dim1),)

        return Tensor.from_op(out, (self,), backward)

    def permute(self, *dims):
        """Reorder all dimensions: ``out.shape[i] == self.shape[dims[i]]``."""
        dims = _shape_argument(dims)
        n = self.ndim
        if sorted(d % n for d in dims if -n <= d < n) != list(range(n)):  # each dim once, in range
            raise ValueError(f"permute: dims {dims} are not a permutation of the {n} dimensions of shape {self.shape}")
        dims = tuple(d % n for d in dims)  # every dim as a non-negative index
        out = np.transpose(self.data, dims)

        def backward(g):
            return (np.transpose(g, np.argsort(dims)),)

        return Tensor.from_op(out, (self,), backward)

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
            np.add.at(full, index, g)
            return (full,)

        return Tensor.from_op(out, (self,), backward)

    # ----- elementwise functions ----------------------------------------------------------
    def exp(self):
        out = np.exp(self.data)

        def backward(g):
            return (g * out,)

        return Tensor.from_op(out, (self,), backward)

    def log(self):
        a = self.data
        out = np.log(a)

        def backward(g):
            return (g / a,)

        return Tensor.from_op(out, (self,), backward)

    def sqrt(self):
        out = np.sqrt(self.data)

        def backward(g):
            return (g * 0.5 / out,)

        return Tensor.from_op(out, (self,), backward)


def _scalar_dtype(dtype, number):
    """The dtype of a Python number next to a tensor of ``dtype``, as in PyTorch: ``int_tensor * 0.5`` is float32."""
    if isinstance(number, (float, np.floating)) and dtype.kind != "f":
        return np.dtype(np.float32)
    if dtype.kind == "b" and not isinstance(number, (bool, np.bool_)):
        return np.dtype(np.int64)
    return dtype


def _result_dtype(a, b):
    """The dtype of a binary operation on arrays ``a`` and ``b``, by PyTorch's promotion rules.

    The higher category (bool < integer < floating point) wins with its own dtype; within a
    category a tensor with dimensions wins over a 0-d one; otherwise the wider dtype.
    """
    rank_a, rank_b = _KIND_RANK.get(a.dtype.kind, 3), _KIND_RANK.get(b.dtype.kind, 3)
    if rank_a != rank_b:
        return a.dtype if rank_a > rank_b else b.dtype
    if bool(a.ndim) != bool(b.ndim):
        return a.dtype if a.ndim else b.dtype
    return np.promote_types(a.dtype, b.dtype)


def _shape_argument(args):
    """``f(2, 3)`` and ``f((2, 3))`` both as the tuple ``(2, 3)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _unreduce(g, axis, keepdims):
    """Put back the dimensions a reduction over ``axis`` removed, so ``g`` broadcasts to the input."""
    if axis is None or keepdims:
        return g
    return np.expand_dims(g, axis)


def _matmul_backward(g, a, b):
    """Gradients of ``a @ b`` for 1-D, 2-D and batched operands."""
    # a vector operand acts as a one-row (a) or one-column (b) matrix; g gets the matching axis
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    shape = g.shape
    if a.ndim == 1:
        shape = shape[:-1] + (1,) + shape[-1:]
    if b.ndim == 1:
        shape = shape + (1,)
    g2 = g.reshape(shape)
    grad_a = g2 @ np.swapaxes(b2, -1, -2)
    grad_b = np.swapaxes(a2, -1, -2) @ g2
    if a.ndim == 1:
        grad_a = grad_a.squeeze(-2)
    if b.ndim == 1:
        grad_b = grad_b.squeeze(-1)
    return grad_a, grad_b


def from_numpy(array):
    """A tensor that shares ``array``'s memory and keeps its dtype (``Tensor(array)`` copies)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {type(array).__name__}")
    return Tensor.from_op(array, (), None)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.zeros(_shape_argument(shape), dtype=dtype), dtype=dtype, requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.ones(_shape_argument(shape), dtype=dtype), dtype=dtype, requires_grad=requires_grad)


def randn(*shape, requires_grad=False):
    """Standard normal samples from the global generator (see ``tinytorch.manual_seed``)."""
    data = default_generator().standard_normal(_shape_argument(shape), dtype=np.float32)
    return Tensor(data, requires_grad=requires_grad)
