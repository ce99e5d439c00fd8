"""The data and the network of a run: :func:`prepare_data` (splits, held-out classes, subsample, label value M) and
:func:`build_model` (the FF, BP/FF or BP network of a config)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ensembles.errors import ParameterError
from ensembles.models import BPNet, FFNet
from ensembles.train.config import RunConfig

__all__ = ["prepare_data", "build_model"]


def prepare_data(cfg: RunConfig):
    """Load the train/test splits, remove held-out classes from training and compute the label value M.

    Returns ``(train_dataset, test_dataset, train_index, label_value)``; ``train_index`` selects the training
    images actually used (held-out classes removed, optional subsample of a fixed ``RandomState(0)`` permutation).
    M is the maximum of the whole training split (after normalisation), computed once (docs/methods.md §M1.6, §X6),
    unless ``ff.label_value`` is set.
    """
    from ensembles.data import load_dataset

    d = cfg.data
    train = load_dataset(d.dataset, "train", d.root, normalize=d.normalize)
    test = load_dataset(d.dataset, "test", d.root, normalize=d.normalize)
    n_classes = len(train.classes)
    bad = [c for c in d.held_out if c >= n_classes]
    if bad:
        raise ParameterError(f"The 'data.held_out' parameter must contain class indices below {n_classes}. Got {bad!r}.")
    keep = ~np.isin(train.y, np.asarray(d.held_out, dtype=np.int64))
    index = np.flatnonzero(keep)
    if d.train_subsample is not None and d.train_subsample < index.size:
        perm = np.random.RandomState(0).permutation(index.size)[: d.train_subsample]
        index = index[np.sort(perm)]
    n_left = len(np.unique(train.y[index]))
    if n_left < 2:
        why = []
        if d.held_out:
            why.append(f"removing the held-out classes {list(d.held_out)}")
        if d.train_subsample is not None and d.train_subsample < keep.sum():
            why.append(f"keeping data.train_subsample={d.train_subsample} image(s)")
        raise ParameterError(
            f"Training needs images of at least 2 classes, but {' and '.join(why) or 'the training split'} leaves "
            f"{n_left} class{'es' if n_left != 1 else ''}; " + ("raise 'data.train_subsample' or hold out fewer classes." if why else
                             f"dataset {d.dataset!r} has fewer than 2 classes."))
    label_value = cfg.ff.label_value if cfg.ff.label_value is not None else float(train.x.max())
    return train, test, index, label_value


def _check_network_memory(in_features: int, hidden: list[int], n_classes: int) -> None:
    """Refuse layer sizes whose weights, gradients and optimiser state (4 float32 copies of every parameter, a lower
    bound of what training holds) cannot fit in the memory available to this process."""
    import errno

    from ensembles.errors import ResourceError
    from ensembles.record.reading import available_memory

    sizes = [int(in_features) + int(n_classes), *(int(h) for h in hidden)]  # FF nets may embed the label in layer 1
    n_params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)) + (int(hidden[-1]) + 1) * n_classes
    need = 4 * 4 * n_params
    free = available_memory()
    if free is not None and need > free:
        raise ResourceError(
            errno.ENOMEM,
            f"The 'network.hidden' parameter {hidden} needs at least {need / 2**30:.1f} GiB for the weights, their "
            f"gradients and the optimiser's state, but only {free / 2**30:.1f} GiB of memory are available; choose "
            "smaller layers.")


def build_model(cfg: RunConfig, in_features: int, n_classes: int, image_shape: Sequence[int],
                label_value: float | None) -> torch.nn.Module:
    """The network of ``cfg`` (weights drawn from torch's global RNG); a network too large for the available memory
    is refused before anything is allocated."""
    net = cfg.network
    _check_network_memory(in_features, list(net.hidden), n_classes)
    if cfg.model == "bp":
        return BPNet(in_features, net.hidden, n_classes, activation=net.activation, input_norm=net.input_norm)
    return FFNet(in_features, net.hidden, n_classes=n_classes, image_shape=image_shape,
                 label_value=float(label_value), activation=net.activation, input_norm=net.input_norm,
                 goodness=cfg.ff.goodness,
                 threshold=None if isinstance(cfg.ff.threshold, str) else float(cfg.ff.threshold))
