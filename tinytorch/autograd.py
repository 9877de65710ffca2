# Generated from source/05_autograd/05_autograd.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Reverse-mode automatic differentiation over the graph that Tensor operations record."""
import contextlib

import numpy as np

_grad_enabled = True


def is_grad_enabled():
    """Whether operations on tensors currently record the graph."""
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) that stops recording the graph inside it."""

    def __init__(self):
        self._saved = []  # the mode at each entry that has not exited yet

    def __enter__(self):
        global _grad_enabled
        self._saved.append(_grad_enabled)
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._saved.pop()
        return False


def unbroadcast(grad, shape):
    """Sum ``grad`` over the dimensions that broadcasting added, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    try:
        fits = np.broadcast_shapes(grad.shape, shape) == grad.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"unbroadcast: a gradient of shape {grad.shape} cannot be reduced to the input's shape {shape}")
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, size in enumerate(shape) if size == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(axis=axes).reshape(shape)


def topological_order(root):
    """Every tensor ``root`` depends on that requires a gradient, each after its inputs."""
    order, seen = [], set()
    seen.add(id(root))
    stack = [(root, iter(root._inputs))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:  # resumes where this node's last visit stopped
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(parent._inputs)))
                break
        else:  # every input is in the order
            stack.pop()
            order.append(node)
    return order


def _released(grad):
    raise RuntimeError(
        "backward: this part of the graph was already used by an earlier backward() and has been freed; "
        "compute the forward pass again"
    )


def backward(root, grad=None):
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires a gradient."""
    if not root.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph to differentiate")
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward: grad can be omitted only for a one-element output, got shape {root.shape}")
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(getattr(grad, "data", grad), dtype=root.data.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"backward: grad has shape {grad.shape}, expected the output's shape {root.shape}")
    from tinytorch.tensor import Tensor

    grads = {id(root): grad}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        local_backward, inputs = node._backward, node._inputs
        if local_backward is None:  # a leaf
            total = g if node.grad is None else node.grad.data + g
            node.grad = Tensor(total, dtype=node.data.dtype)  # a copy: never aliases another gradient
            continue
        for parent, pg in zip(inputs, local_backward(g)):
            if pg is None or not parent.requires_grad:
                continue
            if pg.shape != parent.data.shape:
                pg = unbroadcast(pg, parent.data.shape)
            key = id(parent)
            previous = grads.get(key)
            grads[key] = pg if previous is None else previous + pg
        node._inputs, node._backward = (), _released  # release the graph as we go


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Compare the gradients of ``fn(*inputs)`` with central finite differences.

    ``inputs`` are float64 tensors; returns True or raises AssertionError naming the worst entry.
    """
    leaves = [type(t)(t.data, dtype=np.float64, requires_grad=True) for t in inputs]
    out = fn(*leaves)
    probe = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(probe)

    def scalar():
        """The projection ``(fn(*leaves) * probe).sum()`` at the leaves' current values."""
        return float((fn(*leaves).data * probe).sum())

    for k, leaf in enumerate(leaves):
        analytic = np.zeros_like(leaf.data) if leaf.grad is None else leaf.grad.data
        numeric = np.zeros_like(leaf.data)
        flat, numeric_flat = leaf.data.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            flat[i] = saved + eps
            up = scalar()
            flat[i] = saved - eps
            down = scalar()
            flat[i] = saved
            numeric_flat[i] = (up - down) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), numeric.shape)
            raise AssertionError(
                f"gradcheck: gradient of input {k} (shape {leaf.shape}) at index {tuple(int(i) for i in worst)}: "
                f"finite differences give {numeric[worst]:.6g}, autograd gives {analytic[worst]:.6g}"
            )
    return True
