"""Utilities on parameters and their gradients, as ``torch.nn.utils``."""
from tinytorch.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
