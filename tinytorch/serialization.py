"""``tinytorch.save`` / ``tinytorch.load``: nested state dicts in a file that loading cannot execute.

The file is a numpy ``.npz`` archive: every array (or Tensor) is one entry, and the structure
around them (dicts, lists, tuples, numbers, strings) is a JSON document stored as one more entry.
Loading uses ``np.load(..., allow_pickle=False)``, so a file from an untrusted source can give
wrong numbers but never run code, unlike a pickle.
"""
import json
import os

import numpy as np

from tinytorch.tensor import Tensor

_STRUCTURE = "__structure__"


def _encode(obj, arrays):
    """``obj`` as JSON-ready data; arrays and tensors are appended to ``arrays`` and referenced by index."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)) and not isinstance(obj, (np.integer, np.floating)):
        return obj
    if isinstance(obj, Tensor):
        arrays.append(obj.data)
        return {"tensor": len(arrays) - 1, "requires_grad": obj.requires_grad}
    if isinstance(obj, (np.ndarray, np.generic)):
        if np.asarray(obj).dtype.hasobject:
            raise TypeError("save: arrays of Python objects cannot be saved safely; convert them to numbers or strings")
        arrays.append(np.asarray(obj))
        return {"ndarray": len(arrays) - 1, "scalar": isinstance(obj, np.generic)}
    if isinstance(obj, dict):
        return {"dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    raise TypeError(
        f"save: cannot save an object of type {type(obj).__name__}; expected Tensors, numpy arrays, "
        "numbers, strings, None, and dicts, lists or tuples of them"
    )


def _decode(data, arrays):
    if isinstance(data, list):
        return [_decode(v, arrays) for v in data]
    if not isinstance(data, dict):
        return data
    (tag, value), *_ = data.items()
    if tag == "tensor":
        array = arrays[f"{value}"]
        return Tensor(array, dtype=array.dtype, requires_grad=data["requires_grad"])
    if tag == "ndarray":
        array = arrays[f"{value}"]
        return array[()] if data["scalar"] else array
    if tag == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value}
    if tag == "tuple":
        return tuple(_decode(v, arrays) for v in value)
    raise ValueError(f"load: unknown entry {tag!r} in the file's structure")


def save(obj, path):
    """Write ``obj`` (Tensors, arrays, numbers, strings, None, nested in dicts, lists, tuples) to ``path``.

    The file is replaced atomically: a crash while saving leaves the previous file intact.
    """
    arrays = []
    structure = json.dumps(_encode(obj, arrays))
    entries = {f"{i}": a for i, a in enumerate(arrays)}
    entries[_STRUCTURE] = np.frombuffer(structure.encode(), dtype=np.uint8)
    path = os.fspath(path)
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        np.savez(f, **entries)
    os.replace(partial, path)


def load(path):
    """Read what ``save`` wrote; Tensors come back as Tensors, arrays as arrays."""
    with np.load(os.fspath(path), allow_pickle=False) as archive:
        if _STRUCTURE not in archive.files:
            raise ValueError(f"load: {os.fspath(path)} was not written by tinytorch.save (no {_STRUCTURE} entry)")
        structure = json.loads(archive[_STRUCTURE].tobytes().decode())
        arrays = {name: archive[name] for name in archive.files if name != _STRUCTURE}
    return _decode(structure, arrays)
