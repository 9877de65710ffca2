"""Dataset, TensorDataset, DataLoader and the image transforms; batching compared with PyTorch."""

import numpy as np
import pytest

import tinytorch
from tinytorch import Tensor
from tinytorch.data import (
    Compose,
    DataLoader,
    Dataset,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    default_collate,
)


class Squares(Dataset):
    """A map-style dataset without ``__getitems__``: one sample at a time."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


def labels_of(loader):
    return [batch[1].data.tolist() for batch in loader]


@pytest.mark.parametrize("n", [1, 7, 10, 12])
@pytest.mark.parametrize("batch_size", [1, 3, 4, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_match_torch(torch, n, batch_size, drop_last):
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    y = np.arange(n) % 3
    ours = DataLoader(TensorDataset(x, y), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    batches = list(ours)
    assert len(batches) == len(theirs)
    for (xb, yb), (xt, yt) in zip(batches, theirs):
        assert isinstance(xb, Tensor) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.data, xt.numpy())
        np.testing.assert_array_equal(yb.data, yt.numpy())


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_per_sample_collate_matches_torch(torch, batch_size):
    ours = list(DataLoader(Squares(5), batch_size=batch_size))
    theirs = list(torch.utils.data.DataLoader(Squares(5), batch_size=batch_size))
    assert len(ours) == len(theirs)
    for (xb, yb), (xt, yt) in zip(ours, theirs):
        np.testing.assert_array_equal(xb.data, xt.numpy())
        np.testing.assert_array_equal(yb.data, yt.numpy())
        assert yb.dtype == np.int64 and str(yt.dtype) == "torch.int64"


def test_collate_fn_is_used_even_when_the_dataset_gathers_batches(torch):
    """A given collate_fn receives the list of samples, as in PyTorch, also for a TensorDataset."""
    data = (np.arange(10.0), np.arange(10))

    def lengths(samples):
        return len(samples), type(samples).__name__

    ours = list(DataLoader(TensorDataset(*data), batch_size=4, collate_fn=lengths))
    theirs = list(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*map(torch.tensor, data)), batch_size=4,
                                              collate_fn=lengths))
    assert ours == theirs == [(4, "list"), (4, "list"), (2, "list")]


def test_shuffle_is_a_permutation_each_epoch_and_repeats_with_the_seed():
    ds = TensorDataset(np.zeros((50, 1)), np.arange(50))
    tinytorch.manual_seed(7)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    epoch1, epoch2 = labels_of(loader), labels_of(loader)
    for epoch in (epoch1, epoch2):
        assert sorted(sum(epoch, [])) == list(range(50)) and [len(b) for b in epoch] == [8] * 6 + [2]
    assert epoch1 != epoch2, "every epoch draws a new order"
    assert sum(epoch1, []) != list(range(50))
    tinytorch.manual_seed(7)
    assert labels_of(DataLoader(ds, batch_size=8, shuffle=True)) == epoch1
    # a loader's own generator: independent of the global one
    own = [labels_of(DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(1))) for _ in range(2)]
    assert own[0] == own[1]
    assert labels_of(DataLoader(ds, batch_size=8, shuffle=True, generator=1)) == own[0]


def test_drop_last_shuffled_batches_are_full_and_distinct():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    batches = labels_of(DataLoader(ds, batch_size=3, shuffle=True, drop_last=True))
    assert [len(b) for b in batches] == [3, 3, 3] and len(set(sum(batches, []))) == 9


def test_batches_are_gathered_by_fancy_indexing_not_per_sample():
    class Counting(TensorDataset):
        calls = 0

        def __getitem__(self, index):
            Counting.calls += 1
            return super().__getitem__(index)

    ds = Counting(np.zeros((100, 3)), np.arange(100))
    batches = list(DataLoader(ds, batch_size=10, shuffle=True))
    assert len(batches) == 10 and Counting.calls == 0


def test_a_shuffled_epoch_covers_every_sample_once():
    """Speed of an epoch is measured in bench/ (never asserted here: machines are shared)."""
    ds = TensorDataset(np.zeros((60_000, 1, 28, 28), np.float32), np.arange(60_000))
    seen = np.concatenate([yb.numpy() for _, yb in DataLoader(ds, batch_size=64, shuffle=True)])
    assert len(seen) == 60_000 and np.array_equal(np.sort(seen), np.arange(60_000))


def test_tensor_dataset_samples_and_dtypes():
    ds = TensorDataset(np.arange(6.0).reshape(3, 2), [1, 0, 2], Tensor(np.ones((3, 4)), dtype=np.float64))
    x, y, z = ds[-1]
    assert x.dtype == np.float32 and np.array_equal(x.data, [4.0, 5.0])
    assert y.dtype == np.int64 and y.item() == 2
    assert z.dtype == np.float64 and z.shape == (4,)
    assert len(ds) == 3
    xb, yb, _ = ds.__getitems__([2, 2, 0])
    assert xb.shape == (3, 2) and yb.data.tolist() == [2, 2, 1]
    with pytest.raises(IndexError, match="index 3 is out of range for a dataset of 3 samples"):
        ds[3]


def test_tensor_dataset_transform_applies_to_inputs_only():
    ds = TensorDataset(np.ones((4, 1, 2, 2)), np.arange(4), transform=lambda t: t * 2)
    x, y = ds[1]
    assert np.all(x.data == 2) and y.item() == 1
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert np.all(xb.data == 2) and yb.data.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("call, error, message", [
    (lambda: TensorDataset(np.zeros((3, 2)), np.zeros(4)), ValueError,
     r"TensorDataset: all tensors must have the same length \(first dimension\), got lengths \[3, 4\]"),
    (lambda: TensorDataset(), ValueError, "TensorDataset: expected at least one tensor, got none"),
    (lambda: TensorDataset(np.float32(3.0)), ValueError, "TensorDataset: every tensor needs a first"),
    (lambda: DataLoader(TensorDataset(np.zeros((0, 2))), batch_size=4), ValueError,
     r"DataLoader: the dataset \(TensorDataset\) is empty"),
    (lambda: DataLoader(TensorDataset(np.zeros(3)), batch_size=0), ValueError,
     "DataLoader: batch_size must be a positive integer, got 0"),
    (lambda: DataLoader(TensorDataset(np.zeros(3)), batch_size=-1), ValueError,
     "DataLoader: batch_size must be a positive integer, got -1"),
    (lambda: DataLoader(TensorDataset(np.zeros(3)), batch_size=2.5), ValueError,
     "DataLoader: batch_size must be a positive integer, got 2.5"),
    (lambda: default_collate([]), ValueError, "default_collate: expected a non-empty list"),
    (lambda: default_collate([np.ones(2), np.ones(3)]), ValueError, r"cannot stack samples of different shapes \[\(2,\), \(3,\)\]"),
    (lambda: Normalize([0.5], [0.0]), ValueError, "Normalize: std must be positive"),
    (lambda: Normalize([0.5, 0.5], [1, 1])(Tensor(np.ones((3, 4, 4)))), ValueError, "Normalize: 2 channel means for images with 3 channels"),
    (lambda: RandomCrop(5)(Tensor(np.ones((1, 4, 4)))), ValueError, r"RandomCrop: crop size \(5, 5\) is larger than the padded image \(4, 4\)"),
    (lambda: RandomHorizontalFlip()(Tensor(np.ones((4, 4)))), ValueError, r"RandomHorizontalFlip: expected an image \(C, H, W\) or a batch \(N, C, H, W\), got shape \(4, 4\)"),
])
def test_errors_name_what_was_given_and_expected(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_base_dataset_must_be_subclassed():
    with pytest.raises(NotImplementedError):
        len(Dataset())


def test_default_collate():
    xb, yb = default_collate([(Tensor([1.0, 2.0]), 3), (Tensor([3.0, 4.0]), 5)])
    assert xb.shape == (2, 2) and xb.dtype == np.float32 and yb.data.tolist() == [3, 5] and yb.dtype == np.int64
    assert default_collate([0.5, 1.5]).dtype == np.float32
    assert default_collate([np.zeros((2, 3), np.float64)] * 4).dtype == np.float32


def test_normalize_matches_torchvision_formula(rng):
    x = rng.random((5, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = Normalize(mean, std)(Tensor(x))
    expected = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert out.dtype == np.float32
    single = Normalize(mean, std)(Tensor(x[0]))
    np.testing.assert_allclose(single.data, expected[0], rtol=1e-6)


def test_horizontal_flip_draws_per_image(rng):
    x = rng.random((200, 2, 3, 4)).astype(np.float32)
    out = RandomHorizontalFlip(generator=np.random.default_rng(0))(Tensor(x)).data
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped ^ kept) and 70 < flipped.sum() < 130
    assert np.array_equal(RandomHorizontalFlip(p=1.0)(Tensor(x[0])).data, x[0, :, :, ::-1])


def test_random_crop_is_a_shifted_window_per_image(rng):
    x = rng.random((300, 2, 6, 6)).astype(np.float32) + 1.0  # strictly positive, so padding shows as 0
    out = RandomCrop(6, padding=2, generator=np.random.default_rng(0))(Tensor(x)).data
    assert out.shape == x.shape and out.dtype == np.float32
    shifts = set()
    for k in range(len(x)):
        padded = np.pad(x[k], ((0, 0), (2, 2), (2, 2)))
        hits = [(r, c) for r in range(5) for c in range(5) if np.array_equal(padded[:, r:r + 6, c:c + 6], out[k])]
        assert len(hits) == 1
        shifts.add(hits[0])
    assert len(shifts) == 25, "all 25 offsets occur"
    assert RandomCrop((3, 2))(Tensor(x[0])).shape == (2, 3, 2)


def test_transforms_repeat_with_the_global_seed(rng):
    x = Tensor(rng.random((16, 1, 8, 8)).astype(np.float32))
    augment = Compose([RandomCrop(8, padding=1), RandomHorizontalFlip()])
    tinytorch.manual_seed(4)
    a = augment(x).data
    tinytorch.manual_seed(4)
    b = augment(x).data
    assert np.array_equal(a, b) and not np.array_equal(a, x.data)


def test_augmented_loader_end_to_end():
    x = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    ds = TensorDataset(x, np.arange(20), transform=Compose([RandomCrop(8, padding=1), Normalize([0.5], [0.5])]))
    batches = list(DataLoader(ds, batch_size=6, shuffle=True))
    assert [len(yb) for _, yb in batches] == [6, 6, 6, 2]
    assert all(xb.shape[1:] == (1, 8, 8) and xb.dtype == np.float32 for xb, _ in batches)
