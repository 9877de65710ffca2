# Generated from source/03_layers/03_layers.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Module, Parameter and the basic layers: Linear, Sequential, Dropout."""
import math

import numpy as np

from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


class Parameter(Tensor):
    """A tensor that is a learnable weight of a Module: it requires a gradient by default."""

    __slots__ = ()

    def __init__(self, data, dtype=None, requires_grad=True):
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model.

    Parameters and sub-modules assigned as attributes are registered in assignment order; the
    methods below walk that tree. Subclasses call ``super().__init__()`` and define ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            if isinstance(value, (Parameter, Module)):
                raise AttributeError(
                    f"{type(self).__name__}: call super().__init__() before assigning parameters or modules (got {name!r})"
                )
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----- walking the tree -----------------------------------------------------------------
    def named_parameters(self, prefix=""):
        """Yield ``(dotted_name, parameter)`` for this module and all sub-modules, each parameter once."""
        seen = set()
        for module_prefix, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self):
        """Yield every parameter (see ``named_parameters``)."""
        for _, param in self.named_parameters():
            yield param

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules."""
        yield from self._modules.items()

    def children(self):
        """Yield the direct sub-modules."""
        yield from self._modules.values()

    def named_modules(self, prefix=""):
        """Yield ``(dotted_name, module)`` for this module (name ``prefix``) and every descendant, once each."""
        seen, stack = set(), [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child) for child_name, child in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every descendant."""
        for _, module in self.named_modules():
            yield module

    # ----- modes and gradients ----------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on this module and all descendants."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self):
        """Forget the gradients of every parameter (set ``.grad`` to None)."""
        for param in self.parameters():
            param.grad = None

    # ----- saving and loading -------------------------------------------------------------------
    def state_dict(self):
        """A dict mapping each dotted parameter name to a copy of its values (numpy arrays)."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state_dict):
        """Copy values from ``state_dict`` into the parameters, in place, after checking names and shapes."""
        params = dict(self.named_parameters())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        problems = []
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        values = {}
        for name, param in params.items():
            if name in state_dict:
                value = state_dict[name]
                values[name] = np.asarray(value.data if isinstance(value, Tensor) else value)
                if values[name].shape != param.shape:
                    problems.append(
                        f"shape mismatch for {name!r}: the state_dict has shape {values[name].shape}, "
                        f"the parameter has shape {param.shape}"
                    )
        if problems:
            raise RuntimeError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for name, param in params.items():
            param.data[...] = values[name]

    # ----- printing ---------------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr (layers override it)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        lines = ([extra] if extra else []) + [
            f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()
        ]
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _as_tensor(x):
    """``x`` itself if it is a Tensor, else a new float32 Tensor of it (layers accept arrays too)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` as one operation; ``input`` may have any number of leading dimensions."""
    input = _as_tensor(input)
    out_features, in_features = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_features:
        raise ValueError(
            f"Linear: expected input with last dimension {in_features}, got shape {input.shape} "
            f"(weight shape {weight.shape})"
        )
    x, w = input.data, weight.data
    out = x @ w.T
    if bias is not None:
        out = out + bias.data

    def backward(g):
        g2, x2 = g.reshape(-1, out_features), x.reshape(-1, in_features)
        grad_input = g @ w if input.requires_grad else None
        grad_bias = None if bias is None else g2.sum(axis=0)
        return grad_input, g2.T @ x2, grad_bias

    inputs = (input, weight) if bias is None else (input, weight, bias)
    return Tensor.from_op(out, inputs, backward)


class Linear(Module):
    """Affine map of the last dimension: ``y = x @ weight.T + bias``, weight shape ``(out, in)``."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng = default_generator()
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)))
        self.bias = Parameter(rng.uniform(-bound, bound, out_features)) if bias else None

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """Modules applied one after the other; registered as ``"0"``, ``"1"``, ..."""

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(module).__name__}")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``; identity unless training."""
    if not 0 <= p < 1:
        raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
    input = _as_tensor(input)
    if not training or p == 0:
        return input
    keep = default_generator().random(input.shape, dtype=np.float32) >= p
    mask = keep.astype(input.dtype) / input.dtype.type(1 - p)
    out = input.data * mask

    def backward(g):
        return (g * mask,)

    return Tensor.from_op(out, (input,), backward)


class Dropout(Module):
    """Inverted dropout: active in training mode, the identity after ``eval()``."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
