"""The global random generator behind weight initialisation, dropout and ``randn``."""
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
