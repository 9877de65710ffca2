"""Text generation (Module 14): ``generate(model, idx, ...)`` with a preallocated key/value cache."""
from tinytorch.generation.kv_cache import KVCache, attention_step, cache_for, cached_attention, forward_cached, generate, sample

__all__ = ["generate", "KVCache", "cache_for", "forward_cached", "attention_step", "cached_attention", "sample"]
