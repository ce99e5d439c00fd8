"""The training history schema (``history.json`` of a run directory) and its one reader.

Schema (written by :func:`ensembles.train.train_run`; every trainer follows it)::

    [                                   # a JSON list, one object per training epoch, in training order
      {"epoch": 1,                      # int, 1-based, counted over the whole run (greedy FF: layer after layer)
       "layer": 1,                      # optional int: the layer trained in this epoch (greedy FF only)
       "loss": 0.73,                    # scalar metrics; a name ending in "_l<k>" belongs to layer k:
       "loss_l1": 0.73, "g_pos_l1": 2.98, "g_neg_l1": 2.98,   # FF / BP-FF: mean goodness of positive and
       "ce": 1.26, "train_accuracy_running": 0.6,              #   negative data per layer; BP: cross-entropy
       "test_accuracy": 0.85,           # on evaluation epochs only
       "epoch_time_s": 0.12, "record_time_s": 0.01},
      ...
    ]

A metric without a layer suffix belongs to the epoch's ``layer`` when there is one (greedy FF trains one layer per
epoch), else to the whole network.  Values that are not numbers (or are booleans) are not metrics.
:func:`history_frame` turns the list into the tidy table ``model, step, epoch, layer, metric, value`` that the
training-curves figure draws (``step`` = position in the list); :func:`read_history` reads a run directory's file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembles.errors import DataFileError
from ensembles.layout import RunLayout

__all__ = ["COLUMNS", "history_frame", "read_history"]

COLUMNS = ["model", "step", "epoch", "layer", "metric", "value"]
_LAYER_SUFFIX = re.compile(r"^(.+)_l(\d+)$")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def history_frame(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]], *,
                  model: str | None = None) -> pd.DataFrame:
    """Tidy table ``model, step, epoch, layer, metric, value`` of a history (module docstring for the schema).

    ``history`` is the list of per-epoch records, or a mapping ``model -> list`` (one table for several runs).
    ``layer`` is a nullable integer column (missing for network-wide metrics).
    """
    if isinstance(history, Mapping):
        frames = [history_frame(h, model=m) for m, h in history.items()]
        return pd.concat(frames, ignore_index=True) if frames else _frame([])
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise DataFileError(f"A training history must be a list of per-epoch records. Got {type(history).__name__}.")
    rows = []
    for step, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            raise DataFileError(f"Record {step} of the training history is a {type(entry).__name__}, not an object.")
        epoch = entry.get("epoch", step)
        trained = entry.get("layer") if _number(entry.get("layer")) else None
        for key, val in entry.items():
            if key in ("epoch", "layer") or not _number(val):
                continue
            m = _LAYER_SUFFIX.match(str(key))
            metric, layer = (m.group(1), int(m.group(2))) if m else (str(key), trained)
            rows.append((model, step, epoch, layer, metric, float(val)))
    return _frame(rows)


def _frame(rows: list) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["layer"] = df["layer"].astype("Int64")
    return df


def read_history(run_dir: str | os.PathLike, *, model: str | None = None) -> pd.DataFrame:
    """The tidy history (:func:`history_frame`) of a run directory's ``history.json``.

    Raises FileNotFoundError when the run has no history, :class:`~ensembles.errors.DataFileError` when the file
    is not a history.
    """
    path = RunLayout(run_dir).history if Path(run_dir).is_dir() else Path(run_dir)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise DataFileError(f"{str(path)!r} is not valid JSON ({err}).") from None
    return history_frame(records, model=model)
