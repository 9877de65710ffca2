# Generated from source/07_training/07_training.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Gradient clipping: bound the size of a step, as ``torch.nn.utils`` does."""
import numpy as np

from tinytorch.tensor import Tensor


def _grads(parameters):
    """The gradient arrays of ``parameters`` (a Tensor or an iterable of them) that have one."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.data for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0):
    """Scale all gradients together so that their total ``norm_type``-norm is at most ``max_norm``.

    Returns the total norm before clipping, as a 0-d Tensor.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    norm_type = float(norm_type)
    norms = np.array([np.linalg.norm(g.ravel(), norm_type) for g in grads])
    total = np.linalg.norm(norms, norm_type).astype(grads[0].dtype)
    scale = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= scale
    return Tensor(total, dtype=total.dtype)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into ``[-clip_value, clip_value]``, in place."""
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
