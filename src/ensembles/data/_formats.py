"""Parsers for the standard on-disk formats of the image datasets, and file verification.

Everything here reads local files only and returns plain numpy arrays; nothing is half-returned: a file is
parsed completely and checked for consistency (header against payload size, image count against label count)
before any array leaves this module.

Formats
-------
* **IDX** (MNIST, Fashion-MNIST): LeCun's format, http://yann.lecun.com/exdb/mnist/ ("FILE FORMATS FOR THE
  MNIST DATABASE"): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, ``ndim`` big-endian uint32 sizes, then
  the data in C order.  Read raw or gzip-compressed (detected from the gzip magic bytes, not the file name).
* **CIFAR-10 "python version"** (https://www.cs.toronto.edu/~kriz/cifar.html): pickled dicts (Python 2
  pickles) with ``data`` (uint8, ``(10000, 3072)``, each row R, G, B planes of 32x32 = channel-major) and
  ``labels``; ``batches.meta`` holds ``label_names``.  Read from the ``cifar-10-python.tar.gz`` archive or
  the extracted ``cifar-10-batches-py/`` directory.  Unpickling is *restricted* (:class:`_CifarUnpickler`):
  only the few globals numpy needs to rebuild an array are allowed, so a tampered batch file cannot run
  code; loads use ``encoding="bytes"`` as the Python 2 format requires.
* **SVHN cropped digits** (http://ufldl.stanford.edu/housenumbers/, "Format 2"): MATLAB v5 ``.mat`` files with
  ``X`` (uint8, ``(32, 32, 3, N)``) and ``y`` (``(N, 1)``, digit 0 stored as label 10), read with
  :func:`scipy.io.loadmat`; labels 10 are mapped to 0.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ensembles.errors import DataFileError


class CorruptDatasetError(DataFileError):
    """A dataset file exists but is damaged: truncated, inconsistent or not in the expected format."""


class ChecksumError(CorruptDatasetError):
    """A dataset file's checksum differs from every published/recorded checksum for that file."""


# --------------------------------------------------------------------------------------------------------------
# checksums


@dataclass(frozen=True)
class Digest:
    """One accepted checksum of a file.

    ``algorithm`` is ``"md5"`` or ``"sha256"``; ``of`` is ``"file"`` (the bytes on disk) or ``"content"`` (the
    bytes after gzip decompression, so that a re-compressed copy of the same data is still recognised);
    ``provenance`` says where the value comes from.
    """

    algorithm: str
    hexdigest: str
    of: str = "file"
    provenance: str = ""


def _hash_stream(chunks: Iterable[bytes]) -> dict[str, str]:
    md5 = hashlib.md5(usedforsecurity=False)
    sha = hashlib.sha256()
    for chunk in chunks:
        md5.update(chunk)
        sha.update(chunk)
    return {"md5": md5.hexdigest(), "sha256": sha.hexdigest()}


def _file_chunks(path: str, size: int = 1 << 20):
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(size)
            if not chunk:
                return
            yield chunk


def file_digests(path: str) -> dict[str, str]:
    """MD5 and SHA-256 of the bytes of ``path``."""
    return _hash_stream(_file_chunks(path))


def is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _gunzip(path: str) -> bytes:
    """Whole decompressed content of a gzip file; a truncated or damaged stream raises CorruptDatasetError."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (EOFError, OSError, zlib.error) as err:
        raise CorruptDatasetError(
            f"Dataset file {path!r} is truncated or not a valid gzip file ({err}). Delete it and provide it again."
        ) from err


def verify_file(path: str, digests: Iterable[Digest], *, content: bytes | None = None) -> str:
    """Check ``path`` against the accepted ``digests``; return a description of the digest that matched.

    ``content`` may pass the already-decompressed bytes of a gzip file (to avoid decompressing twice).
    Raises :class:`ChecksumError` naming the file, the accepted values and the values found.
    """
    digests = tuple(digests)
    if not digests:
        raise ChecksumError(
            f"No published or recorded checksum is known for dataset file {path!r}, so it cannot be verified. "
            "Use the compressed file as distributed, or pass verify=False if you trust this file."
        )
    found = file_digests(path)
    for d in digests:
        if d.of == "file" and found[d.algorithm] == d.hexdigest:
            return f"{d.algorithm} {d.hexdigest} ({d.provenance})" if d.provenance else d.hexdigest
    content_digests: dict[str, str] = {}
    if any(d.of == "content" for d in digests):
        # the content of a raw file is the file itself; of a gzip file, its decompressed bytes
        if is_gzip(path):
            content_digests = _hash_stream([content if content is not None else _gunzip(path)])
        else:
            content_digests = found
        for d in digests:
            if d.of == "content" and content_digests[d.algorithm] == d.hexdigest:
                return f"{d.algorithm} of content {d.hexdigest} ({d.provenance})"
    expected = ", ".join(f"{d.algorithm}({d.of})={d.hexdigest}" for d in digests)
    got = f"md5={found['md5']}, sha256={found['sha256']}"
    if content_digests and content_digests is not found:
        got += f", sha256(content)={content_digests['sha256']}"
    raise ChecksumError(
        f"Checksum mismatch for dataset file {path!r} (size {os.path.getsize(path)} bytes): expected one of "
        f"{expected}; got {got}. The file is corrupted, truncated or a different version: delete it and "
        "provide it again (or pass verify=False to skip the check)."
    )


# --------------------------------------------------------------------------------------------------------------
# IDX

_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx_bytes(data: bytes, *, path: str = "<bytes>") -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file into an array of shape ``dims``.

    Checks the magic number, the element type, and that the payload holds exactly ``prod(dims)`` elements
    (fewer = truncated, more = trailing garbage); errors name ``path``.
    """
    if len(data) < 4:
        raise CorruptDatasetError(f"IDX file {path!r} is truncated: {len(data)} bytes, too short for a header.")
    if data[0] != 0 or data[1] != 0:
        raise CorruptDatasetError(
            f"File {path!r} is not an IDX file: magic number starts with {data[:2].hex()} instead of 0000."
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_TYPES:
        raise CorruptDatasetError(f"IDX file {path!r} has unknown element type code 0x{type_code:02x}.")
    if ndim == 0:
        raise CorruptDatasetError(f"IDX file {path!r} declares 0 dimensions.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptDatasetError(
            f"IDX file {path!r} is truncated: {len(data)} bytes, the header alone needs {header}."
        )
    dims = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise CorruptDatasetError(
            f"IDX file {path!r} is {what}: header declares dims {dims} of {dtype.name} ({expected} bytes in all), "
            f"the file holds {len(data)} bytes."
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed (detected from its first bytes)."""
    if is_gzip(path):
        data = _gunzip(path)
    else:
        with open(path, "rb") as fh:
            data = fh.read()
    return read_idx_bytes(data, path=path)


def read_idx_pair(images_path: str, labels_path: str, *, image_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Read an IDX image file and its label file; check dtypes, the image size and matching counts."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 1 + len(image_shape) or images.shape[1:] != tuple(image_shape):
        raise CorruptDatasetError(
            f"IDX image file {images_path!r} holds {images.dtype} data of shape {images.shape}; expected uint8 "
            f"images of shape (N, {', '.join(map(str, image_shape))})."
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise CorruptDatasetError(
            f"IDX label file {labels_path!r} holds {labels.dtype} data of shape {labels.shape}; expected uint8 (N,)."
        )
    if labels.shape[0] != images.shape[0]:
        raise CorruptDatasetError(
            f"IDX files disagree: {images_path!r} holds {images.shape[0]} images but {labels_path!r} holds "
            f"{labels.shape[0]} labels."
        )
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)


# --------------------------------------------------------------------------------------------------------------
# CIFAR-10

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCHES = ("test_batch",)
CIFAR_META = "batches.meta"

# (module, name) pairs that a numpy array / Python 2 str needs to be unpickled.  Nothing else is allowed.
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals needed for numpy arrays (no arbitrary code execution)."""

    def __init__(self, fh, *, path: str):
        super().__init__(fh, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise CorruptDatasetError(
            f"CIFAR batch file {self._path!r} asks to load the Python object {module}.{name}, which a CIFAR-10 "
            "batch never contains; refusing to unpickle it (the file is corrupted or not a CIFAR-10 batch)."
        )


def _unpickle_batch(data: bytes, *, path: str) -> Mapping:
    try:
        obj = _CifarUnpickler(io.BytesIO(data), path=path).load()
    except CorruptDatasetError:
        raise
    except Exception as err:  # truncated pickles raise EOFError, UnpicklingError, ValueError, ...
        raise CorruptDatasetError(
            f"CIFAR batch file {path!r} is truncated or not a valid CIFAR-10 pickle ({type(err).__name__}: {err})."
        ) from err
    if not isinstance(obj, dict):
        raise CorruptDatasetError(f"CIFAR batch file {path!r} holds a {type(obj).__name__}, expected a dict.")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _parse_cifar_batch(data: bytes, *, path: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle_batch(data, path=path)
    if "data" not in d or "labels" not in d:
        raise CorruptDatasetError(f"CIFAR batch file {path!r} lacks the 'data' or 'labels' entry.")
    x, labels = d["data"], d["labels"]
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        raise CorruptDatasetError(
            f"CIFAR batch file {path!r}: 'data' must be a uint8 array of shape (N, 3072); got "
            f"{getattr(x, 'dtype', type(x).__name__)} of shape {getattr(x, 'shape', '?')}."
        )
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise CorruptDatasetError(f"CIFAR batch file {path!r}: 'labels' is not a list of integers.") from err
    if y.shape != (x.shape[0],):
        raise CorruptDatasetError(
            f"CIFAR batch file {path!r} holds {x.shape[0]} images but {y.size} labels."
        )
    if y.size and (y.min() < 0 or y.max() > 9):
        raise CorruptDatasetError(f"CIFAR batch file {path!r} has labels outside 0..9.")
    return np.array(x, copy=True), y


def _parse_cifar_meta(data: bytes, *, path: str) -> tuple[str, ...]:
    d = _unpickle_batch(data, path=path)
    names = d.get("label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise CorruptDatasetError(f"CIFAR meta file {path!r} lacks a list of 10 'label_names'.")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


def read_cifar10_members(path: str, members: Iterable[str]) -> dict[str, bytes]:
    """Bytes of the named batch files, from the tar.gz archive or an extracted ``cifar-10-batches-py`` dir."""
    members = tuple(members)
    out: dict[str, bytes] = {}
    if os.path.isdir(path):
        for m in members:
            p = os.path.join(path, m)
            if not os.path.isfile(p):
                raise FileNotFoundError(f"CIFAR-10 directory {path!r} lacks the batch file {m!r}.")
            with open(p, "rb") as fh:
                out[m] = fh.read()
        return out
    try:
        with tarfile.open(path, "r:*") as tar:
            for info in tar:
                base = info.name.rsplit("/", 1)[-1]
                if info.isfile() and base in members and base not in out:
                    fh = tar.extractfile(info)
                    out[base] = fh.read() if fh is not None else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise CorruptDatasetError(f"CIFAR-10 archive {path!r} is truncated or damaged ({err}).") from err
    missing = [m for m in members if m not in out]
    if missing:
        raise CorruptDatasetError(f"CIFAR-10 archive {path!r} lacks the batch file(s) {missing}.")
    return out


def read_cifar10(path: str, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images (uint8 ``(N, 3072)``, channel-major), labels and class names of one CIFAR-10 split.

    ``path`` is the ``cifar-10-python.tar.gz`` archive or the extracted ``cifar-10-batches-py`` directory
    (the paths named in errors are ``<path>/<batch>`` in either case).
    """
    batches = CIFAR_TRAIN_BATCHES if split == "train" else CIFAR_TEST_BATCHES
    raw = read_cifar10_members(path, (*batches, CIFAR_META))
    classes = _parse_cifar_meta(raw[CIFAR_META], path=os.path.join(path, CIFAR_META))
    xs, ys = [], []
    for b in batches:
        x, y = _parse_cifar_batch(raw[b], path=os.path.join(path, b))
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys), classes


# --------------------------------------------------------------------------------------------------------------
# SVHN


def read_svhn_mat(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8 ``(N, 3072)``, channel-major C, H, W) and labels (0-9; the file's 10 means 0) of an SVHN file."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path)
    except Exception as err:  # scipy raises ValueError/TypeError/OSError/... on damaged files
        raise CorruptDatasetError(
            f"SVHN file {path!r} is truncated or not a valid MATLAB file ({type(err).__name__}: {err})."
        ) from err
    if "X" not in mat or "y" not in mat:
        raise CorruptDatasetError(f"SVHN file {path!r} lacks the 'X' or 'y' variable.")
    X, y = mat["X"], np.asarray(mat["y"])
    if X.dtype != np.uint8 or X.ndim != 4 or X.shape[:3] != (32, 32, 3):
        raise CorruptDatasetError(
            f"SVHN file {path!r}: 'X' must be uint8 of shape (32, 32, 3, N); got {X.dtype} of shape {X.shape}."
        )
    y = y.reshape(-1).astype(np.int64)
    if y.shape[0] != X.shape[3]:
        raise CorruptDatasetError(f"SVHN file {path!r} holds {X.shape[3]} images but {y.shape[0]} labels.")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise CorruptDatasetError(f"SVHN file {path!r} has labels outside 1..10.")
    y[y == 10] = 0
    # (H, W, C, N) -> (N, C, H, W), flattened channel-major
    x = np.ascontiguousarray(X.transpose(3, 2, 0, 1)).reshape(X.shape[3], -1)
    return x, y
