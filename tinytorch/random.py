"""The global random generator behind weight initialisation, dropout and ``randn``."""
import json

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed):
    """Reseed the global generator so that a run repeats exactly."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator():
    """The global ``numpy.random.Generator``."""
    return _generator


def get_rng_state(generator=None):
    """The state of ``generator`` (default: the global one) as a uint8 Tensor, like ``torch.get_rng_state()``.

    Give it back to ``set_rng_state`` to replay the same random numbers from that point on.
    """
    from tinytorch.tensor import Tensor  # tensor.py imports this module

    state = json.dumps((generator or _generator).bit_generator.state).encode()
    return Tensor(np.frombuffer(state, dtype=np.uint8), dtype=np.uint8)


def set_rng_state(new_state, generator=None):
    """Restore a state from ``get_rng_state`` into ``generator`` (default: the global one), in place."""
    array = np.asarray(getattr(new_state, "data", new_state))
    if array.dtype != np.uint8 or array.ndim != 1:
        raise TypeError(f"set_rng_state: expected the uint8 vector get_rng_state returns, got dtype {array.dtype} and shape {array.shape}")
    bit_generator = (generator or _generator).bit_generator
    state = json.loads(array.tobytes().decode())
    if state.get("bit_generator") != type(bit_generator).__name__:
        raise ValueError(f"set_rng_state: the state is of a {state.get('bit_generator')} generator, this one is a {type(bit_generator).__name__}")
    bit_generator.state = state
