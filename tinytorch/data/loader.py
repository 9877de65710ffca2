# Generated from source/08_dataloader/08_dataloader.ipynb by `tinytorch export`.
# Do not edit: change the notebook and export again.
"""Datasets, batching and image transforms: the input pipeline of a training loop."""
import numpy as np

from tinytorch.random import default_generator
from tinytorch.tensor import Tensor


class Dataset:
    """A collection of samples: ``len(dataset)`` and ``dataset[i]``."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


def _as_array(data):
    """``data`` as an ndarray: a Tensor's own array, float input as float32, integers as they are."""
    if isinstance(data, Tensor):
        return data.data
    array = np.asarray(data)
    return array.astype(np.float32) if array.dtype.kind == "f" and array.dtype != np.float32 else array


class TensorDataset(Dataset):
    """Samples ``(t[i] for t in tensors)``; ``transform`` applies to the first tensor (the inputs)."""

    def __init__(self, *tensors, transform=None):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor, got none")
        self.arrays = tuple(_as_array(t) for t in tensors)
        if any(a.ndim == 0 for a in self.arrays):
            raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, got a 0-d tensor")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: all tensors must have the same length (first dimension), got lengths {lengths}")
        self.transform = transform

    def __len__(self):
        return len(self.arrays[0])

    def _sample(self, index):
        """Gather ``index`` (an int or an integer array) from every tensor, transforming the inputs."""
        out = [Tensor(a[index], dtype=a.dtype) for a in self.arrays]
        if self.transform is not None:
            out[0] = self.transform(out[0])
        return tuple(out)

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"TensorDataset: index {index} is out of range for a dataset of {n} samples")
        return self._sample(index)

    def __getitems__(self, indices):
        """The batch of samples ``indices``, gathered with one fancy-indexing step per tensor."""
        return self._sample(np.asarray(indices, dtype=np.int64))


def default_collate(samples):
    """Stack a list of samples (tensors, arrays, numbers, or tuples of them) into batch tensors."""
    if not samples:
        raise ValueError("default_collate: expected a non-empty list of samples, got an empty list")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: samples have different numbers of fields: {sorted({len(s) for s in samples})}")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    arrays = [_as_array(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}")
    batch = np.stack(arrays)
    return Tensor(batch, dtype=batch.dtype)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``, optionally shuffled each epoch."""

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, generator=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if len(dataset) == 0:
            raise ValueError(f"DataLoader: the dataset ({type(dataset).__name__}) is empty")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.collate_fn = collate_fn or default_collate
        self.generator = np.random.default_rng(generator) if isinstance(generator, (int, np.integer)) else generator

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = (self.generator or default_generator()).permutation(n)
        else:
            order = np.arange(n)
        gather = getattr(self.dataset, "__getitems__", None) if self.collate_fn is default_collate else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chunk = order[start:start + self.batch_size]
            if gather is not None:
                yield gather(chunk)
            else:
                yield self.collate_fn([self.dataset[int(i)] for i in chunk])


def _batched(x, name):
    """``x``'s array as a batch ``(N, C, H, W)``, and whether it was a single image."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim not in (3, 4):
        raise ValueError(f"{name}: expected an image (C, H, W) or a batch (N, C, H, W), got shape {a.shape}")
    return (a[None], True) if a.ndim == 3 else (a, False)


def _unbatched(batch, single):
    return Tensor(batch[0] if single else batch, dtype=batch.dtype)


class Normalize:
    """``(x - mean) / std`` per channel."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")

    def __call__(self, x):
        batch, single = _batched(x, "Normalize")
        if self.mean.shape[0] not in (1, batch.shape[1]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} channel means for images with {batch.shape[1]} channels")
        return _unbatched((batch - self.mean) / self.std, single)


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        self.p = p
        self.generator = generator

    def __call__(self, x):
        batch, single = _batched(x, "RandomHorizontalFlip")
        rng = self.generator or default_generator()
        flip = rng.random(len(batch)) < self.p
        return _unbatched(np.where(flip[:, None, None, None], batch[..., ::-1], batch), single)


class RandomCrop:
    """Pad by ``padding`` zeros, then cut a random ``size`` window (an int or ``(h, w)``) per image."""

    def __init__(self, size, padding=0, generator=None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding
        self.generator = generator

    def __call__(self, x):
        batch, single = _batched(x, "RandomCrop")
        rng = self.generator or default_generator()
        h, w = self.size
        p = self.padding
        padded = np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p))) if p else batch
        rows, cols = padded.shape[2] - h + 1, padded.shape[3] - w + 1
        if rows < 1 or cols < 1:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {padded.shape[2:]}")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (h, w), axis=(2, 3))
        n = len(batch)
        out = windows[np.arange(n), :, rng.integers(0, rows, n), rng.integers(0, cols, n)]
        return _unbatched(np.ascontiguousarray(out), single)


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x
