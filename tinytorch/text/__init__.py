"""Text: tokenizers that turn strings into ids and back (Module 10)."""
from tinytorch.text.tokenizers import GPT2_PATTERN, BPETokenizer, CharTokenizer

__all__ = ["CharTokenizer", "BPETokenizer", "GPT2_PATTERN"]
