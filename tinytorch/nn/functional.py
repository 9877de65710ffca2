"""The functions behind the layers and losses, as in ``torch.nn.functional`` (``import tinytorch.nn.functional as F``)."""
from tinytorch.nn.activations import gelu, log_softmax, relu, sigmoid, softmax, tanh
from tinytorch.nn.layers import dropout, linear
from tinytorch.nn.losses import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss
from tinytorch.nn.spatial import avg_pool2d, conv2d, max_pool2d
from tinytorch.nn.embeddings import embedding
from tinytorch.nn.attention import scaled_dot_product_attention
from tinytorch.nn.transformer import layer_norm

__all__ = [
    "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "linear", "dropout",
    "mse_loss", "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "conv2d", "max_pool2d", "avg_pool2d",
    "embedding", "scaled_dot_product_attention",
    "layer_norm",
]
