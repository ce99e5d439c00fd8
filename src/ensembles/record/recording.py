"""Building recordings in memory: :func:`make_recording`, :func:`combine_recordings`, :func:`example_recording`;
:func:`select_layer` and :func:`select_presentations` are :mod:`ensembles.record.selection` (re-exported here)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.errors import InputTypeError, ParameterError

from .schema import SCHEMA_VERSION, validate_recording
from .selection import select_layer, select_presentations

__all__ = [
    "make_recording",
    "combine_recordings",
    "select_layer",
    "select_presentations",
    "neuroid_coords",
    "now_iso",
    "example_recording",
]


def now_iso() -> str:
    """Current UTC time as ISO-8601 with a ``Z`` suffix, e.g. ``"2024-05-01T12:00:00.123456Z"``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _package_version() -> str:
    from ensembles import __version__

    return str(__version__)


def _as_coord_array(name: str, values: Any) -> np.ndarray:
    """Coerce coord values to a numpy array with a schema-friendly dtype.

    Strings (lists of ``str``, ``object`` arrays of ``str``, bytes) become unicode ``'U'`` arrays; unsigned
    integers become int64 (the schema wants signed ints so that ``-1`` can mean "not applicable").  Other
    dtypes are kept; :func:`validate_recording` then checks them against the conventions.
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # a torch tensor
        values = values.detach().cpu().numpy()
    if hasattr(values, "dims") and hasattr(values, "values"):
        values = values.values
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        flat = arr.ravel()
        if flat.size and all(isinstance(v, str) for v in flat):
            arr = arr.astype(str)
        elif flat.size and all(isinstance(v, (bool, np.bool_)) for v in flat):
            arr = arr.astype(bool)
    elif arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    elif arr.dtype.kind == "u":
        arr = arr.astype(np.int64)
    return arr


def neuroid_coords(layer_sizes: Sequence[int]) -> dict[str, np.ndarray]:
    """The neuroid coords for layers of the given widths side by side.

    ``neuroid_coords([3, 2])`` gives ``neuroid_id = ["layer1.0000", "layer1.0001", "layer1.0002",
    "layer2.0000", "layer2.0001"]``, ``layer = [1, 1, 1, 2, 2]`` and ``unit = [0, 1, 2, 0, 1]``.
    """
    sizes = [int(s) for s in layer_sizes]
    if not sizes or any(s < 1 for s in sizes):
        raise ParameterError(
            f"The 'layer_sizes' parameter must be a non-empty sequence of positive ints. Got {list(layer_sizes)!r} instead."
        )
    layer = np.concatenate([np.full(s, i + 1, dtype=np.int64) for i, s in enumerate(sizes)])
    unit = np.concatenate([np.arange(s, dtype=np.int64) for s in sizes])
    ids = np.array([C.neuroid_id(la, u) for la, u in zip(layer, unit, strict=True)])
    return {"neuroid_id": ids, "layer": layer, "unit": unit}


def _activity_array(activity: Any):
    """numpy or dask array of float32, without computing a dask input."""
    if isinstance(activity, xr.DataArray):
        activity = activity.data
    if hasattr(activity, "detach") and hasattr(activity, "cpu"):
        activity = activity.detach().cpu().numpy()
    if hasattr(activity, "dask") or type(activity).__module__.startswith("dask"):
        arr = activity
    else:
        arr = np.asarray(activity)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputTypeError(f"The 'activity' parameter must be a numeric array. Got {describe(arr)} instead.")
    check_float32_exact(arr, "activity")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return arr


#: the largest magnitude up to which float32 holds every integer exactly (24-bit significand)
FLOAT32_EXACT_INT = 2**24


def check_float32_exact(arr: Any, name: str) -> None:
    """Refuse integers that float32 (the activity's dtype) cannot hold exactly: counts above 2**24 would be rounded
    silently.  Checked for integer numpy arrays (a lazy dask array is not computed for it)."""
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iu" or arr.size == 0:
        return
    big = max(abs(int(arr.min())), abs(int(arr.max())))
    if big > FLOAT32_EXACT_INT:
        raise ParameterError(
            f"The {name!r} parameter holds integers up to {big}; activity is stored as float32, which holds integers "
            f"exactly only up to 2**24 = {FLOAT32_EXACT_INT}, so they would be rounded. Scale them (e.g. to rates), "
            "or convert them to float yourself to accept the rounding.")


def _build_coords(
    shape: tuple[int, ...],
    presentation: Mapping[str, Any],
    neuroid: Mapping[str, Any] | None,
    layer_sizes: Sequence[int] | None,
    epochs: Sequence[int] | None,
) -> tuple[tuple[str, ...], dict[str, tuple[tuple[str, ...], np.ndarray]]]:
    """Dims of activity and the coords dict (shared by make_recording and RecordingWriter)."""
    if len(shape) == 2:
        dims: tuple[str, ...] = (C.PRESENTATION, C.NEUROID)
        if epochs is not None:
            raise ParameterError(
                "The 'epochs' parameter is only for activity with a leading checkpoint dim "
                f"(3-D, (checkpoint, presentation, neuroid)). Got 2-D activity of shape {shape} and epochs={list(epochs)!r}."
            )
    elif len(shape) == 3:
        dims = (C.CHECKPOINT, C.PRESENTATION, C.NEUROID)
        if epochs is None:
            raise ParameterError(
                "The 'epochs' parameter is required for 3-D activity (checkpoint, presentation, neuroid): "
                f"one epoch per checkpoint ({shape[0]}). Got None."
            )
    else:
        raise ParameterError(
            "The 'activity' parameter must be 2-D (presentation, neuroid) or 3-D (checkpoint, presentation, "
            f"neuroid). Got an array of shape {shape} instead."
        )
    n_pres, n_neur = shape[-2], shape[-1]
    coords: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}

    if not isinstance(presentation, Mapping):
        raise InputTypeError(
            f"The 'presentation' parameter must be a dict of coord name -> values. Got {describe(presentation)} instead."
        )
    for name, values in presentation.items():
        arr = _as_coord_array(name, values)
        if arr.ndim == 1 and arr.shape[0] == n_pres:
            coords[name] = ((C.PRESENTATION,), arr)
        elif arr.ndim == 2 and len(shape) == 3 and arr.shape == (shape[0], n_pres):
            coords[name] = ((C.CHECKPOINT, C.PRESENTATION), arr)
        else:
            expected = f"({n_pres},)" + (f" or ({shape[0]}, {n_pres}) (per checkpoint)" if len(shape) == 3 else "")
            raise ParameterError(
                f"The presentation coord {name!r} must have shape {expected}, one value per presentation. "
                f"Got {describe(arr)} instead."
            )

    if neuroid is None and layer_sizes is None:
        raise ParameterError(
            "Give the neuroid coords: either 'layer_sizes' (widths of the recorded layers, in order) or 'neuroid' "
            "(a dict with 'neuroid_id', 'layer' and 'unit'). Got neither."
        )
    if layer_sizes is not None:
        built = neuroid_coords(layer_sizes)
        if built["layer"].size != n_neur:
            raise ParameterError(
                f"The 'layer_sizes' parameter must sum to the number of neuroids ({n_neur}, the last dim of "
                f"activity). Got {list(layer_sizes)!r} (sum {built['layer'].size}) instead."
            )
        for name, arr in built.items():
            coords[name] = ((C.NEUROID,), arr)
    if neuroid is not None:
        if not isinstance(neuroid, Mapping):
            raise InputTypeError(f"The 'neuroid' parameter must be a dict of coord name -> values. Got {describe(neuroid)} instead.")
        for name, values in neuroid.items():
            if layer_sizes is not None and name in C.NEUROID_COORDS_REQUIRED:
                raise ParameterError(
                    f"The neuroid coord {name!r} is built from 'layer_sizes'; give it in 'neuroid' or give "
                    "'layer_sizes', not both."
                )
            arr = _as_coord_array(name, values)
            if arr.shape != (n_neur,):
                raise ParameterError(
                    f"The neuroid coord {name!r} must have shape ({n_neur},), one value per neuroid. "
                    f"Got {describe(arr)} instead."
                )
            coords[name] = ((C.NEUROID,), arr)

    if epochs is not None:
        ep = _as_coord_array("epoch", list(epochs) if not isinstance(epochs, np.ndarray) else epochs)
        if ep.shape != (shape[0],):
            raise ParameterError(
                f"The 'epochs' parameter must have one entry per checkpoint ({shape[0]}). Got {describe(ep)} instead."
            )
        if ep.dtype.kind == "f" and np.all(np.isfinite(ep)) and np.all(ep == np.round(ep)):
            ep = ep.astype(np.int64)
        coords["epoch"] = ((C.CHECKPOINT,), ep)
    return dims, coords


def _complete_attrs(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    if attrs is None:
        attrs = {}
    if not isinstance(attrs, Mapping):
        raise InputTypeError(f"The 'attrs' parameter must be a dict. Got {describe(attrs)} instead.")
    out = dict(attrs)
    if "schema_version" in out and out["schema_version"] != SCHEMA_VERSION:
        raise ParameterError(
            f"The 'attrs' parameter sets schema_version={out['schema_version']!r}, but this version of ensembles "
            f"writes schema {SCHEMA_VERSION!r}; leave schema_version out (it is filled in)."
        )
    out["schema_version"] = SCHEMA_VERSION
    out.setdefault("package_version", _package_version())
    out.setdefault("created", now_iso())
    if isinstance(out.get("config"), Mapping):
        try:
            out["config"] = json.dumps(out["config"], sort_keys=True, default=_json_default)
        except TypeError as err:
            raise ParameterError(f"The 'config' attr must be JSON-serialisable: {err}") from err
    if isinstance(out.get("seed"), (np.integer,)):
        out["seed"] = int(out["seed"])
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__fspath__"):
        return str(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def make_recording(
    activity: Any,
    *,
    presentation: Mapping[str, Any],
    neuroid: Mapping[str, Any] | None = None,
    layer_sizes: Sequence[int] | None = None,
    epochs: Sequence[int] | None = None,
    attrs: Mapping[str, Any],
) -> xr.Dataset:
    """Build a validated recording from an activity array and its coords.

    Parameters
    ----------
    activity : array-like or dask array
        ``(n_presentations, n_neuroids)``, or ``(n_checkpoints, n_presentations, n_neuroids)`` with ``epochs``.
        Converted to float32 (a dask array stays lazy; a CPU torch tensor is accepted).
    presentation : dict
        Presentation coords, name -> values of length ``n_presentations``: at least ``stimulus_id``,
        ``label``, ``label_name`` and ``split`` (see :mod:`ensembles.conventions`).  With a checkpoint dim,
        a 2-D value of shape ``(n_checkpoints, n_presentations)`` makes a per-checkpoint coord (e.g.
        ``predicted``, ``correct``).  Lists of strings become unicode arrays, unsigned ints become int64.
    neuroid : dict, optional
        Neuroid coords (``neuroid_id``, ``layer``, ``unit`` plus any extra coord).  With ``layer_sizes``,
        only *extra* neuroid coords may be given here.
    layer_sizes : sequence of int, optional
        Widths of the recorded layers in order; builds ``neuroid_id`` (``"layer2.0137"``), ``layer``
        (1-based) and ``unit``.  Layers of different widths sit side by side on ``neuroid``.
    epochs : sequence of int, optional
        The training epoch of each checkpoint (required for 3-D activity).
    attrs : dict
        ``model``, ``dataset``, ``seed``, ``config`` (a dict is converted to a JSON string with sorted keys),
        ``site`` and any extra string/number attrs.  ``schema_version``, ``package_version`` and ``created``
        (ISO-8601 UTC) are filled in when absent.

    Returns
    -------
    xarray.Dataset
        The recording, validated with :func:`validate_recording`.

    Examples
    --------
    >>> import numpy as np
    >>> rec = make_recording(
    ...     np.zeros((2, 3)),
    ...     presentation={"stimulus_id": ["a", "b"], "label": [0, 1], "label_name": ["zero", "one"],
    ...                   "split": ["test", "test"]},
    ...     layer_sizes=[2, 1],
    ...     attrs={"model": "ff", "dataset": "digits", "seed": 0, "config": {}, "site": "post-relu"},
    ... )
    >>> rec["activity"].dims, [str(v) for v in rec["neuroid_id"].values]
    (('presentation', 'neuroid'), ['layer1.0000', 'layer1.0001', 'layer2.0000'])
    """
    arr = _activity_array(activity)
    dims, coords = _build_coords(tuple(arr.shape), presentation, neuroid, layer_sizes, epochs)
    rec = xr.Dataset({C.ACTIVITY: (dims, arr)}, coords=coords, attrs=_complete_attrs(attrs))
    return validate_recording(rec)


def _identical_values(a: xr.Variable, b: xr.Variable) -> bool:
    return a.dims == b.dims and a.shape == b.shape and bool(np.array_equal(np.asarray(a.values), np.asarray(b.values)))


def combine_recordings(
    recs: Sequence[xr.Dataset],
    dim: str = "run",
    coords: Mapping[str, Sequence[Any]] | None = None,
) -> xr.Dataset:
    """Stack several recordings (models, seeds) along a new leading dim.

    Requirements: every recording is valid, has the same dims and sizes, the same ``stimulus_id`` order (the
    same presentations), the same ``neuroid_id`` order (the same architecture; to compare models of different
    widths, combine per-layer summaries instead) and, with a checkpoint dim, the same ``epoch`` values.

    Result: ``activity`` gets dims ``(dim, ...)``.  Coords equal in every recording stay as they are; coords
    that differ (typically ``predicted`` and ``correct``) get ``dim`` as a leading dim.  Attributes equal in
    every recording stay attrs; attributes that differ (``model``, ``seed``, ``config``, ``created``...)
    become coords along ``dim`` and are removed from the attrs.  ``coords`` adds further per-run coords
    (one value per recording).  The result is an in-memory analysis container with an extra dim, **not** a
    schema-valid recording: save each run separately (``combined.isel(run=i)`` gives the pieces back, with
    the per-run attrs as scalar coords).

    Parameters
    ----------
    recs : sequence of xarray.Dataset
        At least one recording.
    dim : str
        Name of the new dim (default ``"run"``); must not already be a dim.
    coords : dict, optional
        Extra coords along ``dim``, name -> one value per recording (e.g. ``{"label": ["a", "b"]}``).
    """
    recs = list(recs)
    if not recs:
        raise ParameterError("The 'recs' parameter must hold at least one recording. Got an empty sequence.")
    for i, r in enumerate(recs):
        try:
            validate_recording(r)
        except (TypeError, ValueError) as err:
            raise ParameterError(f"recs[{i}] is not a valid recording: {err}") from err
    if not isinstance(dim, str) or dim in recs[0].dims or dim in recs[0].variables:
        raise ParameterError(
            f"The 'dim' parameter must be a new dim name. Got {dim!r}, which is already used in the recordings."
        )
    ref = recs[0]
    for i, r in enumerate(recs[1:], start=1):
        if dict(r.sizes) != dict(ref.sizes):
            raise ParameterError(
                f"recs[{i}] has dims {dict(r.sizes)}, but recs[0] has {dict(ref.sizes)}: combine recordings of "
                "the same presentations and neuroids"
            )
        for name, what in (("stimulus_id", "presentations"), ("neuroid_id", "neuroids"), ("epoch", "checkpoints")):
            if name in ref.coords and not _identical_values(r.coords[name].variable, ref.coords[name].variable):
                raise ParameterError(
                    f"recs[{i}] and recs[0] have different {what} ({name!r} differs): combine_recordings needs "
                    f"identical {what} in the same order"
                    + (" (models of different architectures cannot share a neuroid dim)" if name == "neuroid_id" else "")
                )
    n = len(recs)
    attr_keys = list(dict.fromkeys(k for r in recs for k in r.attrs))
    shared_attrs: dict[str, Any] = {}
    run_attrs: dict[str, list[Any]] = {}
    for k in attr_keys:
        vals = [r.attrs.get(k) for r in recs]
        if all(k in r.attrs for r in recs) and all(_attr_equal(v, vals[0]) for v in vals):
            shared_attrs[k] = vals[0]
        else:
            if any(v is None for v in vals):
                raise ParameterError(f"attribute {k!r} is present in some recordings but not in others")
            run_attrs[k] = vals

    # coords that differ between runs get the new dim
    differing = []
    for name in ref.coords:
        if name in ("stimulus_id", "neuroid_id", "epoch"):
            continue
        if any(not _identical_values(r.coords[name].variable, ref.coords[name].variable) for r in recs[1:]):
            differing.append(name)
    stripped = []
    for r in recs:
        r2 = r.copy()
        r2.attrs = {}
        stripped.append(r2)
    out = xr.concat(
        stripped, dim=dim, data_vars="all", coords=differing if differing else "minimal", compat="equals",
        join="exact", combine_attrs="drop",
    )
    # xarray broadcasts only the listed coords; make sure the differing ones got the new dim
    new_coords: dict[str, Any] = {}
    for k, vals in run_attrs.items():
        if k in out.coords:
            raise ParameterError(f"attribute {k!r} differs between recordings and clashes with the coord of the same name")
        new_coords[k] = (dim, np.asarray(vals))
    if coords is not None:
        if not isinstance(coords, Mapping):
            raise InputTypeError(f"The 'coords' parameter must be a dict name -> one value per recording. Got {describe(coords)} instead.")
        for k, vals in coords.items():
            arr = _as_coord_array(k, vals)
            if arr.shape != (n,):
                raise ParameterError(
                    f"The coord {k!r} in 'coords' must have one value per recording ({n}). Got {describe(arr)} instead."
                )
            new_coords[k] = (dim, arr)
    out = out.assign_coords(new_coords)
    out.attrs = shared_attrs
    return out


def _attr_equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    try:
        return bool(a == b)
    except (ValueError, TypeError):  # arrays of other shapes ("truth value ... is ambiguous"), unorderable types
        return False


def example_recording(
    *,
    n_presentations: int = 60,
    layer_sizes: Sequence[int] = (12, 8),
    epochs: Sequence[int] | None = None,
    n_classes: int = 3,
    seed: int = 0,
    model: str = "ff",
    dataset: str = "synthetic",
) -> xr.Dataset:
    """A small, valid, *synthetic* recording for tests, examples and docs (the numbers mean nothing).

    Presentations cycle through ``n_classes`` labels (``label = i % n_classes``, ``label_name = "class<k>"``,
    ``split = "test"``, ``embedded_label = -1``); activity is rectified Gaussian noise (float32, about half
    zeros) from ``numpy.random.default_rng(seed)``; ``predicted`` is the true label for about 80% of the
    presentations and ``correct`` says which.  With ``epochs``, activity has a leading checkpoint dim and
    ``predicted``/``correct`` are per checkpoint.
    """
    rng = np.random.default_rng(seed)
    n = int(n_presentations)
    sizes = [int(s) for s in layer_sizes]
    label = np.arange(n, dtype=np.int64) % int(n_classes)
    n_ck = None if epochs is None else len(list(epochs))
    shape = (n, sum(sizes)) if n_ck is None else (n_ck, n, sum(sizes))
    activity = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)
    lead = () if n_ck is None else (n_ck,)
    wrong = rng.random(lead + (n,)) < 0.2
    predicted = np.where(wrong, (label + 1) % int(n_classes), label).astype(np.int64)
    presentation = {
        "stimulus_id": np.array([f"{dataset}/test/{i:05d}" for i in range(n)]),
        "label": label,
        "label_name": np.array([f"class{k}" for k in label]),
        "split": np.full(n, "test"),
        "embedded_label": np.full(n, -1, dtype=np.int64),
        "predicted": predicted,
        "correct": predicted == label,
    }
    attrs = {
        "model": model,
        "dataset": dataset,
        "seed": int(seed),
        "config": {"note": "synthetic example recording", "layer_sizes": sizes},
        "site": "post-relu",
    }
    return make_recording(activity, presentation=presentation, layer_sizes=sizes, epochs=epochs, attrs=attrs)
