"""Neural-network building blocks, as in ``torch.nn``."""
from tinytorch.nn import functional, utils
from tinytorch.nn.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.nn.layers import Dropout, Linear, Module, Parameter, Sequential
from tinytorch.nn.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinytorch.nn.spatial import AvgPool2d, Conv2d, Flatten, MaxPool2d
from tinytorch.nn.embeddings import Embedding
from tinytorch.nn.attention import MultiheadAttention
from tinytorch.nn.transformer import LayerNorm, TransformerBlock

__all__ = [
    "functional", "utils",
    "Module", "Parameter", "Linear", "Sequential", "Dropout",
    "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
    "Embedding", "MultiheadAttention",
    "LayerNorm", "TransformerBlock",
]
