"""Datasets for the milestones, as plain numpy arrays.

``load_digits`` uses the 8x8 digits bundled with scikit-learn (offline). ``load_fashion_mnist``
and ``load_mnist`` read the standard IDX files, searched in this order:

1. ``$TINYTORCH_DATA/<name>``
2. the user data folder, ``user_data_dir(<name>)`` (``~/.cache/tinytorch/<name>`` on Linux)
3. the system folders ``/usr/share/datasets/<name>`` and ``/usr/local/share/datasets/<name>``
   (Debian's ``dataset-fashion-mnist`` package installs ``/usr/share/datasets/fashion-mnist``)

where ``<name>`` is ``fashion-mnist`` or ``mnist``. Each file may be gzipped (``.gz``) or not.
When none of these folders has the files, they are downloaded into the user data folder and
checked against SHA-256 checksums of their uncompressed contents.

``load_python_docs`` returns English text that ships with every CPython: the documentation topics
of ``pydoc_data.topics`` (offline).
"""
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from collections import namedtuple
from pathlib import Path

import numpy as np

Splits = namedtuple("Splits", ["x_train", "y_train", "x_test", "y_test"])
Splits.__doc__ = "Training and test arrays: images (float32 in [0, 1]) and labels (int64)."

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# SHA-256 of each file's uncompressed IDX contents (the same for every gzip of it).
# Fashion-MNIST: computed from Debian's dataset-fashion-mnist files, whose uncompressed MD5s
# equal the ones torchvision publishes. MNIST: the values published by several independent
# projects for the files of the CVDF mirror (same bytes as yann.lecun.com).
_SOURCES = {
    "fashion-mnist": {
        "mirrors": (
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # no HTTPS; checksummed
        ),
        "sha256": {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        "title": "Fashion-MNIST",
        "package": "dataset-fashion-mnist",
    },
    "mnist": {
        "mirrors": (
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ),
        "sha256": {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        "title": "MNIST",
        "package": None,
    },
}

SYSTEM_DIRS = (Path("/usr/share/datasets"), Path("/usr/local/share/datasets"))

# IDX element type codes (third byte of the magic number); all multi-byte values are big-endian.
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# ----- scikit-learn digits ------------------------------------------------------------------
def load_digits():
    """scikit-learn's 1,797 handwritten 8x8 digits, split into 1,438 training and 359 test images.

    The split is fixed (stratified by class, same for every call). Images have shape (N, 8, 8),
    float32 in [0, 1]; labels are int64 in 0..9.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits: pip install scikit-learn "
            "(or pip install 'tinytorch[course]')"
        ) from None
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)  # pixel values are 0..16
    labels = digits.target.astype(np.int64)
    test = _stratified_test_mask(labels, test_fraction=0.2, seed=0)
    return Splits(images[~test], labels[~test], images[test], labels[test])


def _stratified_test_mask(labels, test_fraction, seed):
    """A boolean mask choosing ``test_fraction`` of every class at random (reproducibly)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        mask[members[: round(test_fraction * len(members))]] = True
    return mask


# ----- IDX files ----------------------------------------------------------------------------
def read_idx(path):
    """The array stored in an IDX file (gzipped when the name ends in ``.gz``)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = _gunzip(raw)
        except (OSError, EOFError, zlib.error):
            raise ValueError(f"read_idx: {path} is not valid gzip data") from None
    return _parse_idx(raw, path)


def _gunzip(data):
    """Decompress gzip data; zlib directly is faster than ``gzip.decompress`` for one-member files."""
    inflater = zlib.decompressobj(wbits=31)  # 31: expect a gzip header
    out = inflater.decompress(data)
    return out if inflater.eof and not inflater.unused_data else gzip.decompress(data)


def _parse_idx(raw, path):
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (magic bytes {raw[:4].hex() or 'missing'})")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"read_idx: {path} has {len(raw)} bytes, expected {expected} for shape {shape} of {dtype}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def user_data_dir(name=""):
    """The per-user folder where downloaded datasets are kept."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "tinytorch"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "tinytorch"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tinytorch"
    return base / name


def search_dirs(name):
    """The folders searched for dataset ``name``, in order."""
    dirs = [Path(os.environ["TINYTORCH_DATA"]) / name] if os.environ.get("TINYTORCH_DATA") else []
    return dirs + [user_data_dir(name)] + [d / name for d in SYSTEM_DIRS]


def _find_file(folder, stem):
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def find_files(name):
    """Paths of the four IDX files of dataset ``name`` from the first folder that has them all, or None."""
    for folder in search_dirs(name):
        paths = [_find_file(folder, stem) for stem in _FILES]
        if all(paths):
            return paths
    return None


def download(name, timeout=30):
    """Download dataset ``name`` into the user data folder, checking each file's SHA-256."""
    source = _SOURCES[name]
    folder = user_data_dir(name)
    targets = [folder / f"{stem}.gz" for stem in _FILES]
    for stem, target in zip(_FILES, targets):
        if target.is_file():
            continue
        packed = _fetch(target.name, source["mirrors"], timeout)
        try:
            digest = hashlib.sha256(_gunzip(packed)).hexdigest()
        except (OSError, EOFError, zlib.error):
            raise OSError(f"download: {target.name} is not gzip data; the file was not saved") from None
        if digest != source["sha256"][stem]:
            raise OSError(f"download: {target.name} has SHA-256 {digest} (uncompressed), expected "
                          f"{source['sha256'][stem]}; the file was not saved")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
            tmp.write(packed)
        os.replace(tmp.name, target)
    return targets


def _fetch(filename, mirrors, timeout):
    errors = []
    for mirror in mirrors:
        try:
            with urllib.request.urlopen(mirror + filename, timeout=timeout) as response:
                return response.read()
        except (urllib.error.URLError, OSError) as error:
            errors.append(f"{mirror + filename}: {error}")
    raise ConnectionError("download failed:\n  " + "\n  ".join(errors))


def _missing_message(name, reason):
    folders = "\n".join(f"  {d}" for d in search_dirs(name))
    files = ", ".join(f"{stem}[.gz]" for stem in _FILES)
    package = _SOURCES[name]["package"]
    install = f"Install it with `apt-get install {package}` (Debian/Ubuntu), or put" if package else "Put"
    return (
        f"{_SOURCES[name]['title']} was not found and could not be downloaded ({reason}).\n"
        f"Searched:\n{folders}\n"
        f"{install} the four files {files} into {user_data_dir(name)}, "
        f"or into $TINYTORCH_DATA/{name} after setting TINYTORCH_DATA."
    )


def _load_idx_dataset(name, download_missing):
    paths = find_files(name)
    if paths is None:
        if not download_missing:
            raise FileNotFoundError(_missing_message(name, "download=False"))
        try:
            paths = download(name)
        except ConnectionError as error:
            raise FileNotFoundError(_missing_message(name, f"no network: {error}")) from None
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    for images, labels, path in ((x_train, y_train, paths[0]), (x_test, y_test, paths[2])):
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"{name}: {path} holds {images.shape} images for {labels.shape} labels")
    return Splits(_to_unit_float(x_train), y_train.astype(np.int64),
                  _to_unit_float(x_test), y_test.astype(np.int64))


def _to_unit_float(pixels):
    out = pixels.astype(np.float32)
    out *= np.float32(1 / 255)
    return out


def load_fashion_mnist(download=True):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test 28x28 images of 10 kinds of clothing.

    Images have shape (N, 28, 28), float32 in [0, 1]; labels are int64 in 0..9, named by
    ``FASHION_MNIST_CLASSES``. See the module docstring for where the files are looked for.
    """
    return _load_idx_dataset("fashion-mnist", download)


def load_mnist(download=True):
    """MNIST: 60,000 training and 10,000 test 28x28 images of handwritten digits.

    Images have shape (N, 28, 28), float32 in [0, 1]; labels are int64 in 0..9.
    """
    return _load_idx_dataset("mnist", download)


# ----- text ---------------------------------------------------------------------------------
def load_python_docs():
    """The Python documentation topics that ship with CPython (``pydoc_data.topics``) as one string.

    About 465,000 characters of English prose and code: the topics in alphabetical order of their
    names, separated by a blank line. The text depends on the Python version, never on the call.
    """
    from pydoc_data.topics import topics

    return "\n".join(topics[name] for name in sorted(topics))
