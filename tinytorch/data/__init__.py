"""Datasets, batching and image transforms (Module 08)."""
from tinytorch.data.loader import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    default_collate,
)

__all__ = [
    "Dataset",
    "TensorDataset",
    "DataLoader",
    "default_collate",
    "Normalize",
    "RandomHorizontalFlip",
    "RandomCrop",
    "Compose",
]
