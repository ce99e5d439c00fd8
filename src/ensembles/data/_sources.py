"""Where the file-based datasets are found: ``root=``, ``$ENSEMBLES_DATA``, system packages, the user cache, and
the download into that cache (streamed to a temporary file, verified, atomically renamed).

The order is described in :mod:`ensembles.data.datasets`; the registries read here (mirrors, system directories,
checksums) live in :mod:`ensembles.data.registry` and are looked up at call time so tests can patch them there.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.request

from ensembles.data import _formats, registry
from ensembles.data._formats import ChecksumError, Digest

__all__ = ["cache_dir", "resolve", "download", "how_to_provide"]


def cache_dir() -> str:
    """The user cache directory: ``$XDG_CACHE_HOME/ensembles`` or ``~/.cache/ensembles``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "ensembles")


def find_in_dir(name: str, split: str, d: str) -> dict[str, str] | None:
    """Paths of the files providing ``split`` of ``name`` in directory ``d``, or None if any is missing."""
    kind = registry.SPECS[name].kind
    if not os.path.isdir(d):
        return None
    out: dict[str, str] = {}
    if kind == "idx":
        for base in registry.IDX_FILES[split]:
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


def places(name: str, root) -> list[tuple[str, list[str]]]:
    """(label, directories) in resolution order."""
    subdirs = registry.SUBDIRS[name]

    def expand(base: str) -> list[str]:
        base = os.path.expanduser(os.fspath(base))
        return [os.path.join(base, s) if s else base for s in subdirs]

    places: list[tuple[str, list[str]]] = []
    if root is not None:
        places.append(("root= argument", expand(root)))
    env = os.environ.get(registry.ENV_VAR)
    if env:
        dirs = [d for part in env.split(os.pathsep) if part for d in expand(part)]
        places.append((f"${registry.ENV_VAR}", dirs))
    else:
        places.append((f"${registry.ENV_VAR}", []))
    places.append((f"Debian/Ubuntu package {registry.APT_PACKAGES[name]}" if name in registry.APT_PACKAGES
                   else "system data directory", list(registry.SYSTEM_DIRS.get(name, ()))))
    places.append(("user cache", [os.path.join(cache_dir(), name)]))
    return places


def resolve(name: str, split: str, root) -> tuple[tuple[str, str, dict[str, str]] | None, list[str]]:
    """First location holding ``split`` of ``name``: ((label, dir, files) or None, lines describing every look)."""
    looked: list[str] = []
    for label, dirs in places(name, root):
        if not dirs:
            if label == f"${registry.ENV_VAR}":
                looked.append(f"${registry.ENV_VAR}: not set")
            else:
                looked.append(f"{label}: none (no Debian/Ubuntu package provides {registry.SPECS[name].title}; "
                              "the only dataset package is dataset-fashion-mnist)")
            continue
        for d in dirs:
            files = find_in_dir(name, split, d)
            if files is not None:
                return (label, d, files), looked
            looked.append(f"{label}: {d}" + ("" if os.path.isdir(d) else " (no such directory)"))
    return None, looked


# --------------------------------------------------------------------------------------------------------------
# download


def _fetch(url: str, dest: str, digests: tuple[Digest, ...] | None, timeout: float) -> None:
    """Stream ``url`` to a temporary file next to ``dest``, verify it, then atomically rename it to ``dest``
    (:func:`ensembles._io.atomic_write`: a failed or unverified download leaves nothing at ``dest``)."""
    from ensembles._io import atomic_write

    def write(tmp) -> None:
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
        if digests is not None:
            try:
                _formats.verify_file(str(tmp), digests)
            except ChecksumError as err:
                raise ChecksumError(f"downloaded from {url}: {err}") from None

    atomic_write(dest, write, suffix=".part")


def download(name: str, split: str, *, verify: bool, timeout: float) -> tuple[dict[str, str] | None, list[str]]:
    """Download the files of ``split`` into the cache; (files or None, error lines)."""
    target = os.path.join(cache_dir(), name)
    errors: list[str] = []
    for fname in registry.download_files(name, split):
        dest = os.path.join(target, fname)
        if os.path.isfile(dest):
            continue
        digests = registry.digests_for(name, fname) if verify else None
        for base in registry.MIRRORS[name]:
            url = base + fname
            try:
                _fetch(url, dest, digests, timeout)
                break
            except (OSError, ValueError, http.client.HTTPException) as err:  # network, HTTP, checksum errors
                errors.append(f"{url}: {type(err).__name__}: {err}")
        else:
            return None, errors
    return find_in_dir(name, split, target), errors


def how_to_provide(name: str) -> list[str]:
    """Commands, one a line, any one of which would provide dataset ``name``."""
    train = registry.download_files(name, "train")
    fnames = train + tuple(f for f in registry.download_files(name, "test") if f not in train)
    cache = os.path.join(cache_dir(), name)
    lines = []
    if name in registry.APT_PACKAGES:
        lines.append(f"sudo apt-get install {registry.APT_PACKAGES[name]}")
    lines.append(f"python -c \"from ensembles.data import load_dataset; load_dataset({name!r}, download=True)\"")
    lines.append(f"mkdir -p {cache} && cd {cache} && "
                 + " && ".join(f"curl -fLO {registry.MIRRORS[name][0]}{f}" for f in fnames))
    lines.append(f"export {registry.ENV_VAR}=/path/to/dir   # a directory holding {name}/{{{', '.join(fnames)}}}")
    return lines
