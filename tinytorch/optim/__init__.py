"""Optimizers (``tinytorch.optim``), named and behaving like ``torch.optim``'s."""
from tinytorch.optim.optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]
