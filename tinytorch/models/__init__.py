"""Complete models assembled from the layers of ``tinytorch.nn``."""
from tinytorch.models.gpt import GPT

__all__ = ["GPT"]
