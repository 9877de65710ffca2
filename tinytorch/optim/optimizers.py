# Generated from source/06_optimizers/06_optimizers.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Optimizers: update parameters from their gradients, following ``torch.optim``'s update rules."""
import math

import numpy as np

from tinytorch.tensor import Tensor


class Optimizer:
    """Holds the parameters to update and their per-parameter ``state``; subclasses define ``step``."""

    def __init__(self, params):
        self.params = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list, expected at least one tensor")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
            if p._backward is not None:
                raise ValueError(f"{name}: parameter {i} of shape {p.shape} is the result of an operation, expected a leaf tensor")
        self.state = [{} for _ in self.params]

    def _check(self, label, value, low, high=None):
        """Raise a ValueError unless ``low <= value`` (and ``value < high`` when given)."""
        if value < low or (high is not None and value >= high):
            expected = f"{low} <= {label}" + (f" < {high}" if high is not None else "")
            raise ValueError(f"{type(self).__name__}: invalid {label} {value}, expected {expected}")

    def zero_grad(self):
        """Forget the gradients of the last backward pass (set every ``p.grad`` to None)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight decay."""

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params)
        self._check("lr", lr, 0)
        self._check("momentum", momentum, 0)
        self._check("weight_decay", weight_decay, 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def step(self):
        """One update of every parameter that has a gradient."""
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.copy()
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam: per-parameter steps from bias-corrected running averages of the gradient and its square."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params)
        self._check("lr", lr, 0)
        self._check("eps", eps, 0)
        if len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        self._check("beta1", betas[0], 0, 1)
        self._check("beta2", betas[1], 0, 1)
        self._check("weight_decay", weight_decay, 0)
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def _decayed_grad(self, p, g):
        """L2 weight decay: the penalty's gradient is added to the loss's."""
        return g + self.weight_decay * p.data if self.weight_decay else g

    def step(self):
        """One update of every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = self._decayed_grad(p, p.grad.data)
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            m, v = state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            t = state["step"]
            m += (1 - beta1) * (g - m)
            g2 = g * g
            g2 *= 1 - beta2
            v *= beta2
            v += g2
            correction2 = math.sqrt(1 - beta2 ** t)
            denom = np.sqrt(v, out=g2)  # reuse g2's memory
            denom += self.eps * correction2
            update = np.divide(m, denom, out=denom)
            update *= self.lr * correction2 / (1 - beta1 ** t)
            p.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: weights shrink by ``lr * weight_decay`` before each Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _decayed_grad(self, p, g):
        """Decoupled weight decay: shrink the weights; the gradient stays the loss's."""
        if self.weight_decay:
            p.data *= 1 - self.lr * self.weight_decay
        return g
