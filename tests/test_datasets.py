"""Dataset loaders: IDX parsing, where files are looked for, downloads, errors, speed."""
import gzip
import hashlib
import io
import urllib.error

import numpy as np
import pytest

from conftest import require, require_module
from tinytorch import datasets

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B,
             np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array):
    """The IDX encoding of ``array`` (written here independently of the loader)."""
    array = np.asarray(array)
    array = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.tobytes()


def write_idx(path, array, gz):
    data = idx_bytes(array)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def fake_dataset(rng, n_train=12, n_test=5):
    """Four small arrays shaped like (Fashion-)MNIST: uint8 images and labels."""
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8))


def write_dataset(folder, arrays, gz=(True, False, False, True)):
    folder.mkdir(parents=True, exist_ok=True)
    return [write_idx(folder / stem, a, z) for stem, a, z in zip(STEMS, arrays, gz)]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Isolated search folders: $TINYTORCH_DATA, the user folder and one system folder, all empty."""
    roots = {key: tmp_path / key for key in ("env", "user", "system")}
    monkeypatch.setenv("TINYTORCH_DATA", str(roots["env"]))
    monkeypatch.setattr(datasets, "user_data_dir", lambda name="": roots["user"] / name)
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", (roots["system"],))
    return {key: root / "fashion-mnist" for key, root in roots.items()}


def no_network(url, timeout=None):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


# ----- IDX parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype, shape", [(np.uint8, (7, 28, 28)), (np.uint8, (9,)), (np.int8, (3, 4)),
                                          (np.int16, (2, 3)), (np.int32, (5,)), (np.float32, (2, 2, 3)),
                                          (np.float64, (4, 1))])
def test_read_idx_roundtrip(tmp_path, rng, gz, dtype, shape):
    array = (rng.standard_normal(shape) * 20).astype(dtype)
    path = write_idx(tmp_path / "data-idx", array, gz)
    out = datasets.read_idx(path)
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)


def test_read_idx_header_is_big_endian(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 1, 0x2C]) + bytes(range(200)) * 1 + bytes(100))  # 300 items
    assert datasets.read_idx(path).shape == (300,)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="not-idx is not an IDX file"):
        datasets.read_idx(path)


def test_read_idx_rejects_broken_gzip(tmp_path):
    path = tmp_path / "broken-idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(50, np.uint8)))[:-12])
    with pytest.raises(ValueError, match="broken-idx.gz is not valid gzip data"):
        datasets.read_idx(path)


def test_read_idx_rejects_truncated_file(tmp_path):
    path = tmp_path / "short-idx"
    path.write_bytes(idx_bytes(np.zeros((4, 5), np.uint8))[:-3])
    with pytest.raises(ValueError, match=r"short-idx has 29 bytes, expected 32 for shape \(4, 5\)"):
        datasets.read_idx(path)


# ----- loading and search order --------------------------------------------------------------
def test_load_scales_pixels_and_types_labels(places, rng):
    arrays = fake_dataset(rng)
    write_dataset(places["env"], arrays)
    x_train, y_train, x_test, y_test = datasets.load_fashion_mnist(download=False)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert x_train.shape == (12, 28, 28) and x_test.shape == (5, 28, 28)
    np.testing.assert_allclose(x_train, arrays[0] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(x_test, arrays[2] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_train, arrays[1])
    np.testing.assert_array_equal(y_test, arrays[3])


def test_search_order(places, rng):
    """$TINYTORCH_DATA first, then the user folder, then the system folders."""
    marks = {}
    for n, key in enumerate(("system", "user", "env")):
        arrays = fake_dataset(rng, n_train=3 + n)
        write_dataset(places[key], arrays)
        marks[key] = arrays[0].shape[0]
    for key in ("env", "user", "system"):
        assert datasets.load_fashion_mnist(download=False).x_train.shape[0] == marks[key]
        found = datasets.find_files("fashion-mnist")
        assert all(p.parent == places[key] for p in found)
        for p in found:
            p.unlink()


def test_incomplete_folder_is_skipped(places, rng):
    write_dataset(places["system"], fake_dataset(rng))
    write_dataset(places["user"], fake_dataset(rng))
    (places["user"] / "t10k-labels-idx1-ubyte.gz").unlink()
    assert all(p.parent == places["system"] for p in datasets.find_files("fashion-mnist"))


def test_mismatched_images_and_labels(places, rng):
    x, y, xt, yt = fake_dataset(rng)
    write_dataset(places["env"], (x, y[:-1], xt, yt))
    with pytest.raises(ValueError, match=r"\(12, 28, 28\) images for \(11,\) labels"):
        datasets.load_fashion_mnist(download=False)


def test_missing_says_what_to_install(places):
    with pytest.raises(FileNotFoundError) as error:
        datasets.load_fashion_mnist(download=False)
    message = str(error.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert str(places["user"]) in message and str(places["env"]) in message
    assert "train-images-idx3-ubyte" in message


def test_missing_and_offline(places, monkeypatch):
    monkeypatch.setattr(datasets.urllib.request, "urlopen", no_network)
    with pytest.raises(FileNotFoundError, match="no network") as error:
        datasets.load_mnist()
    assert "$TINYTORCH_DATA/mnist" in str(error.value)
    assert not (places["user"].parent / "mnist").exists()  # nothing half-created


# ----- downloads -----------------------------------------------------------------------------
def serve(files, requested):
    """A stand-in for urlopen that serves ``files`` (name -> bytes) and records the URLs asked for."""
    def urlopen(url, timeout=None):
        requested.append(url)
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
        return io.BytesIO(files[name])
    return urlopen


def test_download_verifies_and_saves(places, rng, monkeypatch):
    arrays = fake_dataset(rng)
    raw = {stem: idx_bytes(a) for stem, a in zip(STEMS, arrays)}
    source = dict(datasets._SOURCES["fashion-mnist"], sha256={s: hashlib.sha256(b).hexdigest() for s, b in raw.items()})
    monkeypatch.setitem(datasets._SOURCES, "fashion-mnist", source)
    requested = []
    files = {f"{stem}.gz": gzip.compress(b) for stem, b in raw.items()}
    monkeypatch.setattr(datasets.urllib.request, "urlopen", serve(files, requested))
    out = datasets.load_fashion_mnist()
    np.testing.assert_array_equal(out.y_train, arrays[1])
    assert sorted(p.name for p in places["user"].iterdir()) == sorted(files)
    assert len(requested) == 4 and all(u.startswith(source["mirrors"][0]) for u in requested)
    datasets.load_fashion_mnist()
    assert len(requested) == 4  # found on disk the second time


def test_download_tries_the_next_mirror(places, rng, monkeypatch):
    arrays = fake_dataset(rng)
    raw = {stem: idx_bytes(a) for stem, a in zip(STEMS, arrays)}
    source = dict(datasets._SOURCES["mnist"], mirrors=("https://a.invalid/", "https://b.invalid/"),
                  sha256={s: hashlib.sha256(b).hexdigest() for s, b in raw.items()})
    monkeypatch.setitem(datasets._SOURCES, "mnist", source)
    files = {f"{stem}.gz": gzip.compress(b) for stem, b in raw.items()}
    requested = []
    fetch = serve(files, requested)
    monkeypatch.setattr(datasets.urllib.request, "urlopen",
                        lambda url, timeout=None: no_network(url) if "a.invalid" in url else fetch(url))
    np.testing.assert_array_equal(datasets.load_mnist().y_test, arrays[3])


def test_download_rejects_wrong_checksum(places, rng, monkeypatch):
    arrays = fake_dataset(rng)
    files = {f"{stem}.gz": gzip.compress(idx_bytes(a)) for stem, a in zip(STEMS, arrays)}
    monkeypatch.setattr(datasets.urllib.request, "urlopen", serve(files, []))
    with pytest.raises(OSError, match="SHA-256 .* expected c59f468a"):
        datasets.load_fashion_mnist()
    assert not places["user"].exists() or not any(places["user"].iterdir())


def test_download_rejects_non_gzip(places, monkeypatch):
    page = b"<html>captive portal</html>"
    monkeypatch.setattr(datasets.urllib.request, "urlopen", serve({f"{s}.gz": page for s in STEMS}, []))
    with pytest.raises(OSError, match="train-images-idx3-ubyte.gz is not gzip data"):
        datasets.load_fashion_mnist()


# ----- the real data -------------------------------------------------------------------------
def test_fashion_mnist_loads_from_disk():
    """Its loading speed is measured by bench/datasets.py, never asserted here."""
    paths = datasets.find_files("fashion-mnist")
    require(paths is not None, "Fashion-MNIST files (apt-get install dataset-fashion-mnist)")
    x_train, y_train, x_test, y_test = datasets.load_fashion_mnist(download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.min() == 0.0 and x_train.max() == 1.0


def test_fashion_mnist_files_match_checksums():
    paths = datasets.find_files("fashion-mnist")
    require(paths is not None, "Fashion-MNIST files (apt-get install dataset-fashion-mnist)")
    for stem, path in zip(STEMS, paths):
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        assert hashlib.sha256(raw).hexdigest() == datasets._SOURCES["fashion-mnist"]["sha256"][stem]


def test_load_digits():
    require_module("sklearn")
    x_train, y_train, x_test, y_test = datasets.load_digits()
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 == x_train.min() and x_train.max() == 1.0
    counts = np.bincount(y_test)
    assert counts.min() >= 35 and counts.max() <= 37  # every class about 20% held out
    again = datasets.load_digits()
    np.testing.assert_array_equal(again.x_test, x_test)
    np.testing.assert_array_equal(again.y_train, y_train)


def test_python_docs_is_the_pydoc_topics_in_a_fixed_order():
    from pydoc_data.topics import topics

    text = datasets.load_python_docs()
    assert text == datasets.load_python_docs()
    assert len(text) == sum(map(len, topics.values())) + len(topics) - 1
    assert text.startswith(topics[min(topics)]) and text.endswith(topics[max(topics)])
