"""TinyTorch: a small PyTorch-style deep-learning framework on numpy."""
from tinytorch.autograd import is_grad_enabled, no_grad
from tinytorch.random import manual_seed
from tinytorch.serialization import load, save
from tinytorch.tensor import Tensor, from_numpy, ones, randn, zeros
from tinytorch import nn, optim  # after Tensor: they build on it
from tinytorch import profiler  # after nn and optim, which it instruments while recording

__all__ = ["Tensor", "from_numpy", "zeros", "ones", "randn", "no_grad", "is_grad_enabled", "manual_seed", "save", "load", "nn", "optim", "profiler"]
