# Generated from source/06_optimizers/06_optimizers.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Optimizers: update parameters from their gradients, following ``torch.optim``'s update rules."""
import math
from collections import defaultdict

import numpy as np

from tinytorch.tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (parameters with their options) and a ``state`` dict per parameter;
    subclasses define ``step``."""

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = defaultdict(dict)  # parameter -> its state, created on first use
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list, expected at least one tensor")
        for group in groups if isinstance(groups[0], dict) else [{"params": groups}]:
            self.add_param_group(group)

    @property
    def params(self):
        """Every parameter of every group, in order."""
        return [p for group in self.param_groups for p in group["params"]]

    def add_param_group(self, param_group):
        """Add a dict with ``"params"`` and the options that differ from ``defaults``."""
        name = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' entry, got {param_group!r}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list, expected at least one tensor")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, expected a Tensor")
            if p._backward is not None:
                raise ValueError(f"{name}: parameter {i} of shape {p.shape} is the result of an operation, expected a leaf tensor")
        taken = {id(p) for p in self.params}
        if len({id(p) for p in params} | taken) != len(params) + len(taken):
            raise ValueError(f"{name}: a parameter appears twice (in one group or in two groups)")
        self.param_groups.append({**self.defaults, **param_group, "params": params})

    def state_dict(self):
        """``{"state": {index: ...}, "param_groups": [...]}`` with parameters as indices, as in PyTorch."""
        index = {id(p): i for i, p in enumerate(self.params)}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        state = {index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore options and state saved by ``state_dict`` (ours or PyTorch's, as numpy arrays)."""
        name, saved = type(self).__name__, state_dict["param_groups"]
        sizes, saved_sizes = [len(g["params"]) for g in self.param_groups], [len(g["params"]) for g in saved]
        if sizes != saved_sizes:
            raise ValueError(f"{name}.load_state_dict: the optimizer's groups have {sizes} parameters, the state dict's {saved_sizes}")
        params = {int(i): p for g, s in zip(self.param_groups, saved) for i, p in zip(s["params"], g["params"])}
        state = defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = params[int(i)]
            for key, value in values.items():
                value = np.asarray(getattr(value, "data", value))
                if value.ndim == 0:
                    state[p][key] = value.item()
                elif value.shape != p.shape:
                    raise ValueError(f"{name}.load_state_dict: state {key!r} of parameter {i} has shape {value.shape}, the parameter {p.shape}")
                else:
                    state[p][key] = value.astype(p.dtype, copy=True)
        self.param_groups = [{**s, "params": g["params"]} for g, s in zip(self.param_groups, saved)]
        self.state = state

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
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov))
        self._check("lr", lr, 0)
        self._check("momentum", momentum, 0)
        self._check("weight_decay", weight_decay, 0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )

    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
            weight_decay, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state, g = self.state[p], p.grad.data
                if weight_decay:
                    g = g + weight_decay * p.data
                if momentum:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = g.copy()
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                p.data -= lr * g


class Adam(Optimizer):
    """Adam: per-parameter steps from bias-corrected running averages of the gradient and its square."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self._check("lr", lr, 0)
        self._check("eps", eps, 0)
        if len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (beta1, beta2), got {betas!r}")
        self._check("beta1", betas[0], 0, 1)
        self._check("beta2", betas[1], 0, 1)
        self._check("weight_decay", weight_decay, 0)

    def _decayed_grad(self, p, g, group):
        """L2 weight decay: the penalty's gradient is added to the loss's."""
        return g + group["weight_decay"] * p.data if group["weight_decay"] else g

    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._decayed_grad(p, p.grad.data, group)
                state = self.state[p]
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
                denom += eps * correction2
                update = np.divide(m, denom, out=denom)
                update *= lr * correction2 / (1 - beta1 ** t)
                p.data -= update


class AdamW(Adam):
    """Adam with decoupled weight decay: weights shrink by ``lr * weight_decay`` before each Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _decayed_grad(self, p, g, group):
        """Decoupled weight decay: shrink the weights; the gradient stays the loss's."""
        if group["weight_decay"]:
            p.data *= 1 - group["lr"] * group["weight_decay"]
        return g
