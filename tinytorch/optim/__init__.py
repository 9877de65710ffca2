"""Optimizers (``tinytorch.optim``), named and behaving like ``torch.optim``'s."""
from tinytorch.optim import lr_scheduler
from tinytorch.optim.optimizers import SGD, Adam, AdamW, Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
