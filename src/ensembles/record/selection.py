"""Selecting parts of a recording: :func:`select_layer` (neuroids of some layers) and :func:`select_presentations`
(one checkpoint, the correctly classified presentations, with or without held-out classes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.errors import InputTypeError, ParameterError

__all__ = ["select_layer", "select_presentations"]


def select_layer(rec: xr.Dataset | xr.DataArray, layer: int | Sequence[int]) -> xr.Dataset | xr.DataArray:
    """The neuroids of one layer (or several) of a recording.

    Parameters
    ----------
    rec : xarray.Dataset or xarray.DataArray
        A recording, or its ``activity`` (anything with a ``layer`` coord on ``neuroid``).  Dask-backed
        inputs stay lazy.
    layer : int or sequence of int
        1-based layer number(s), as in the ``layer`` coord.  Neuroids keep their order in the recording.

    Raises
    ------
    ValueError
        If a requested layer is absent (the message names the available layers) or ``rec`` has no ``layer``
        coord.
    """
    if not isinstance(rec, (xr.Dataset, xr.DataArray)):
        raise InputTypeError(f"The 'rec' parameter must be a recording (xarray.Dataset) or DataArray. Got {describe(rec)} instead.")
    if "layer" not in rec.coords or rec.coords["layer"].dims != (C.NEUROID,):
        raise ParameterError("The 'rec' parameter must have a 'layer' coord on the 'neuroid' dim; it has none.")
    layers_arr = np.asarray(rec.coords["layer"].values)
    available = sorted({int(v) for v in np.unique(layers_arr)})
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, (bool, np.bool_)):
        wanted = [int(layer)]
    elif isinstance(layer, Sequence) and not isinstance(layer, str) and len(layer) > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in layer
    ):
        wanted = [int(v) for v in layer]
    else:
        raise InputTypeError(
            f"The 'layer' parameter must be an int or a non-empty sequence of ints (1-based). Got {describe(layer)} instead."
        )
    absent = [w for w in wanted if w not in available]
    if absent:
        raise ParameterError(
            f"The 'layer' parameter asks for layer(s) {absent} which are not in the recording; available layers: "
            f"{available}."
        )
    mask = np.isin(layers_arr, wanted)
    return rec.isel({C.NEUROID: np.flatnonzero(mask)})


def select_presentations(
    rec: xr.Dataset | xr.DataArray,
    *,
    correct_only: bool = True,
    checkpoint: int | str | None = -1,
    keep_held_out: bool = True,
) -> xr.Dataset | xr.DataArray:
    """The presentations the paper's statistics use: one checkpoint, correctly classified presentations only.

    Tosato et al. compute sparseness and ensembles on the correctly classified test presentations of the trained
    network (docs/methods.md §A3.1); this replaces the pattern ``a = rec["activity"].isel(checkpoint=-1);
    a.isel(presentation=a["correct"].values)``.

    Parameters
    ----------
    rec : xarray.Dataset or xarray.DataArray
        A recording, or its ``activity`` (with its presentation coords).  Dask-backed inputs stay lazy.
    correct_only : bool
        Keep only presentations whose ``correct`` coord is true.  Ignored when there is no ``correct`` coord (e.g. a
        neural recording).  A per-checkpoint ``correct`` (dims ``(checkpoint, presentation)``) is taken at the
        selected checkpoint.
    checkpoint : int, None or "all"
        Position along the ``checkpoint`` dim (negative counts from the end; ``-1`` = last); the dim is dropped
        (``epoch`` stays as a scalar coord).  ``None`` or ``"all"`` keep every checkpoint, which needs either
        ``correct_only=False`` or a ``correct`` coord that does not vary by checkpoint.  For a recording without a
        ``checkpoint`` dim only ``-1``, ``0``, ``None`` and ``"all"`` are accepted (there is one state).
    keep_held_out : bool
        With ``correct_only``, also keep every presentation whose ``held_out`` coord is true: a class held out of
        training is never predicted correctly, and zero-shot analyses use all its presentations (docs/methods.md §A3.6
        step 5; the same selection as :func:`ensembles.workflows.analyze`).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        Same type as ``rec``; presentations keep their order.

    Raises
    ------
    ValueError
        A checkpoint out of range (the message gives the number of checkpoints and their epochs); ``checkpoint``
        other than -1/0/None/"all" without a ``checkpoint`` dim; ``correct_only`` with a per-checkpoint
        ``correct`` and ``checkpoint=None``; ``correct_only`` and no correctly classified presentation.
    TypeError
        ``rec`` is not an xarray object, or ``checkpoint`` is not an int, None or "all".
    """
    if not isinstance(rec, (xr.Dataset, xr.DataArray)):
        raise InputTypeError(f"The 'rec' parameter must be a recording (xarray.Dataset) or DataArray. Got {describe(rec)} instead.")
    if not isinstance(correct_only, (bool, np.bool_)):
        raise InputTypeError(f"The 'correct_only' parameter must be a bool. Got {describe(correct_only)} instead.")
    if C.PRESENTATION not in rec.dims:
        raise ParameterError(f"The 'rec' parameter must have a {C.PRESENTATION!r} dim. Got dims {tuple(rec.dims)} instead.")
    keep_all = checkpoint is None or (isinstance(checkpoint, str) and checkpoint == "all")
    if not keep_all and (not isinstance(checkpoint, (int, np.integer)) or isinstance(checkpoint, (bool, np.bool_))):
        raise InputTypeError(
            "The 'checkpoint' parameter must be an int (position along the checkpoint dim, -1 = last), None or "
            f"'all'. Got {describe(checkpoint)} instead."
        )
    out = rec
    if C.CHECKPOINT in rec.dims:
        n_ck = rec.sizes[C.CHECKPOINT]
        if not keep_all:
            k = int(checkpoint)
            if not -n_ck <= k < n_ck:
                epochs = rec.coords["epoch"].values.tolist() if "epoch" in rec.coords else list(range(n_ck))
                raise ParameterError(
                    f"The 'checkpoint' parameter is {k}, but the recording has {n_ck} checkpoint(s) (epochs {epochs}); "
                    f"expected a position in [{-n_ck}, {n_ck - 1}]."
                )
            out = rec.isel({C.CHECKPOINT: k})
    elif not keep_all and int(checkpoint) not in (-1, 0):
        raise ParameterError(
            f"The 'checkpoint' parameter is {int(checkpoint)}, but the recording has no {C.CHECKPOINT!r} dim (one "
            "state); use -1, 0 or None."
        )
    if not correct_only or "correct" not in out.coords:
        return out
    corr_da = out.coords["correct"]
    if corr_da.dims != (C.PRESENTATION,):
        raise ParameterError(
            f"With correct_only=True and checkpoint={checkpoint!r}, the 'correct' coord has dims {corr_da.dims}: "
            "which presentations are correct changes between checkpoints. Select one checkpoint (e.g. "
            "checkpoint=-1) or pass correct_only=False."
        )
    corr = np.asarray(corr_da.values).astype(bool)
    n = corr.size
    why = ""
    if keep_held_out and "held_out" in out.coords and out.coords["held_out"].dims == (C.PRESENTATION,):
        held = np.asarray(out.coords["held_out"].values).astype(bool)
        corr = corr | held
        why = " or of a held-out class"
    if not corr.any():
        where = "" if C.CHECKPOINT not in rec.dims or keep_all else f" at checkpoint {checkpoint}"
        raise ParameterError(
            f"The recording has no correctly classified presentation{why}{where} (0 of {n}) and correct_only=True: "
            "nothing to analyse. Pass correct_only=False to use all presentations, or choose another checkpoint."
        )
    return out.isel({C.PRESENTATION: np.flatnonzero(corr)})
