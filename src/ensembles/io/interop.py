"""Hand recordings to the tools users already have: rsatoolbox, pynapple, Brain-Score/BrainIO, AllenSDK-style tables.

None of these packages is a dependency: :func:`to_rsatoolbox` imports rsatoolbox when called (install it with
``pip install rsatoolbox``), :func:`to_pynapple` imports pynapple (the ``pynapple`` extra);
:func:`to_brainscore_assembly` returns a plain ``xr.DataArray`` in BrainIO's
NeuroidAssembly layout (wrap it with ``NeuroidAssembly(...)`` if brainio is installed); :func:`to_allen_tables`
returns pandas DataFrames.  Conventions: docs/methods.md §D.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles._validation import param_error
from ensembles.errors import InputTypeError, ParameterError

__all__ = ["to_rsatoolbox", "to_pynapple", "to_brainscore_assembly", "to_allen_tables"]


def _activity(rec: Any, name: str = "rec") -> xr.DataArray:
    if isinstance(rec, xr.Dataset):
        if "activity" not in rec.data_vars:
            raise param_error(name, "a recording (xr.Dataset with an 'activity' variable)", rec)
        da = rec["activity"]
    elif isinstance(rec, xr.DataArray):
        da = rec
    else:
        raise param_error(name, "a recording (xr.Dataset) or its activity DataArray", rec, exc=InputTypeError)
    if "checkpoint" in da.dims:
        raise ParameterError(
            f"The {name!r} parameter has a 'checkpoint' dim ({da.sizes['checkpoint']} checkpoints); select one "
            "first, e.g. rec.isel(checkpoint=-1)."
        )
    if set(da.dims) != {"presentation", "neuroid"}:
        raise ParameterError(
            f"The {name!r} parameter must have dims ('presentation', 'neuroid'). Got {tuple(da.dims)} instead."
        )
    return da.transpose("presentation", "neuroid")


def _coords_along(da: xr.DataArray, dim: str) -> dict[str, np.ndarray]:
    return {name: np.asarray(c.values) for name, c in da.coords.items() if c.dims == (dim,)}


def _attrs(rec: Any) -> dict:
    return dict(rec.attrs) if hasattr(rec, "attrs") else {}


def to_rsatoolbox(rec: Any):
    """An ``rsatoolbox.data.Dataset`` of a recording (docs/methods.md §D3).

    ``measurements`` = activity (presentation × neuroid); ``obs_descriptors`` = every presentation coord, with
    ``stimulus`` = ``stimulus_id`` (rsatoolbox's conventional name); ``channel_descriptors`` = every neuroid coord
    with ``name`` = ``neuroid_id``; ``descriptors`` = the recording's scalar attrs (model, dataset, seed, site, ...).
    Conditions for an RDM are then chosen with rsatoolbox, e.g. ``calc_rdm(ds, descriptor="label")``.
    """
    try:
        from rsatoolbox.data import Dataset
    except ImportError as err:
        raise ImportError(
            "to_rsatoolbox needs rsatoolbox, which is not installed: pip install rsatoolbox"
        ) from err
    da = _activity(rec)
    obs = _coords_along(da, "presentation")
    if "stimulus_id" in obs:
        obs = {"stimulus": obs["stimulus_id"], **obs}
    chn = _coords_along(da, "neuroid")
    if "neuroid_id" in chn:
        chn = {"name": chn["neuroid_id"], **chn}
    desc = {k: v for k, v in _attrs(rec).items() if isinstance(v, (str, int, float, np.number))}
    return Dataset(
        measurements=np.asarray(da.values, dtype=np.float64),
        descriptors=desc,
        obs_descriptors=obs,
        channel_descriptors=chn,
    )


def _pynapple():
    try:
        import pynapple as nap
    except ImportError as err:
        raise ImportError(
            "to_pynapple needs pynapple, which is not installed. Install the 'pynapple' extra: "
            "pip install 'ensembles-toolkit[pynapple]'"
        ) from err
    return nap


def _metadata_frame(coords: dict[str, np.ndarray], table: str) -> pd.DataFrame:
    from ensembles.io.nwb._common import _column_name

    return pd.DataFrame({_column_name(name, table): v for name, v in coords.items()})


def to_pynapple(source: Any, *, presentation_duration: float = 1.0) -> dict[str, Any]:
    """pynapple objects with **one sample per presentation**: ``{"activity": TsdFrame, "presentations": IntervalSet}``.

    Statistics computed with pynapple on these objects (means, standard errors, counts per interval, ...) are over
    the presentations, as the toolkit's are.

    Parameters
    ----------
    source : xr.Dataset or str or path-like
        A recording (one checkpoint), or an NWB file written by :func:`ensembles.io.export_nwb`.  Such a file holds
        each presentation's response as ``m`` identical samples whenever the neuroids outnumber the presentations
        (nwbinspector requires time to be the longest axis of a series); ``nap.load_file`` then gives ``m`` rows
        per presentation, which counts each presentation ``m`` times in any statistic over samples.  Read here, the
        file gives the sample at each presentation's onset: one row per presentation, values unchanged.
    presentation_duration : float
        Period of the synthetic clock for a recording (presentation k at k·d seconds, as :func:`export_nwb`
        writes it); a file keeps its own clock.

    Returns
    -------
    dict
        ``"activity"``: ``TsdFrame`` (presentations × neuroids) at the presentation onsets, the neuroid coords as
        column metadata; ``"presentations"``: ``IntervalSet`` of the presentations with the presentation coords as
        metadata.  A coord named like a pynapple attribute (``split``) is renamed ``presentation_split`` /
        ``neuroid_<name>``, as in the NWB export.
    """
    nap = _pynapple()
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"The 'source' NWB file {str(path)!r} does not exist.")
        data = nap.load_file(str(path))
        from ensembles.io.nwb._common import _PRESENTATIONS, _SERIES

        if _SERIES not in data.keys() or _PRESENTATIONS not in data.keys():
            raise ParameterError(
                f"The 'source' file {str(path)!r} is not an ensembles NWB export: it has no {_SERIES!r} series and "
                f"{_PRESENTATIONS!r} intervals (for other NWB files use nap.load_file, or import_nwb first)."
            )
        act, iset = data[_SERIES], data[_PRESENTATIONS]
        first = np.searchsorted(act.t, iset.start)
        if first.size and (first[-1] >= len(act) or not np.allclose(act.t[first], iset.start)):
            raise ParameterError(f"The 'source' file {str(path)!r} has presentations without a sample at their onset.")
        one = nap.TsdFrame(t=iset.start, d=act.values[first], columns=act.columns, metadata=act.metadata)
        return {"activity": one, "presentations": iset}
    da = _activity(source, "source")
    if not (isinstance(presentation_duration, (int, float)) and not isinstance(presentation_duration, bool)
            and np.isfinite(presentation_duration) and presentation_duration > 0):
        raise param_error("presentation_duration", "a positive number of seconds", presentation_duration)
    d = float(presentation_duration)
    starts = np.arange(da.sizes["presentation"], dtype=np.float64) * d
    activity = nap.TsdFrame(t=starts, d=np.asarray(da.values), columns=np.arange(da.sizes["neuroid"]),
                            metadata=_metadata_frame(_coords_along(da, "neuroid"), "neuroid"))
    # each interval ends half a period before the next onset, as in the NWB export with one sample per presentation
    presentations = nap.IntervalSet(start=starts, end=starts + d / 2,
                                    metadata=_metadata_frame(_coords_along(da, "presentation"), "presentation"))
    return {"activity": activity, "presentations": presentations}


def to_brainscore_assembly(rec: Any, *, model: str | None = None) -> xr.DataArray:
    """The recording as a DataArray in BrainIO's NeuroidAssembly layout (docs/methods.md §D2).

    dims ``("presentation", "neuroid")``; presentation coords as in the recording (``stimulus_id`` first);
    neuroid coords of a model assembly: ``model``, ``layer`` (layer name, e.g. ``"layer2"``), ``neuroid_num``
    (index within the layer), ``channel`` (= ``neuroid_num``), ``channel_x``/``channel_y`` (NaN: MLP units have no
    spatial position), ``neuroid_id = "model.layer.neuroid_num"`` (e.g. ``"ff.layer2.137"``), plus the recording's
    own id as ``ensembles_neuroid_id`` and ``layer_index`` (1-based int).  No MultiIndex is built (BrainIO's
    ``NeuroidAssembly(...)`` builds one when it wraps this array).  attrs keep the recording's attrs.

    Parameters
    ----------
    rec : xr.Dataset or xr.DataArray
        A recording, or its activity.
    model : str, optional
        Model identifier for the ``model`` coord (default: the recording's ``model`` attr).
    """
    da = _activity(rec)
    attrs = _attrs(rec) or dict(da.attrs)
    model = str(model if model is not None else attrs.get("model", "model"))
    nco = _coords_along(da, "neuroid")
    n = da.sizes["neuroid"]
    layer_idx = np.asarray(nco.get("layer", np.ones(n, dtype=np.int64)))
    unit = np.asarray(nco.get("unit", np.arange(n)))
    layer_name = np.array([f"layer{int(v)}" for v in layer_idx])
    coords: dict[str, Any] = {
        name: ("presentation", v) for name, v in _coords_along(da, "presentation").items()
    }
    if "stimulus_id" not in coords:
        raise ParameterError(
            "The recording has no 'stimulus_id' presentation coord, which Brain-Score metrics align on."
        )
    coords.update(
        {
            "neuroid_id": (
                "neuroid",
                np.array([f"{model}.{ln}.{int(u)}" for ln, u in zip(layer_name, unit, strict=True)]),
            ),
            "model": ("neuroid", np.full(n, model)),
            "layer": ("neuroid", layer_name),
            "layer_index": ("neuroid", layer_idx.astype(np.int64)),
            "neuroid_num": ("neuroid", unit.astype(np.int64)),
            "channel": ("neuroid", unit.astype(np.int64)),
            "channel_x": ("neuroid", np.full(n, np.nan)),
            "channel_y": ("neuroid", np.full(n, np.nan)),
        }
    )
    if "neuroid_id" in nco:
        coords["ensembles_neuroid_id"] = ("neuroid", nco["neuroid_id"])
    for name, v in nco.items():
        if name not in ("neuroid_id", "layer", "unit") and name not in coords:
            coords[name] = ("neuroid", v)
    out = xr.DataArray(
        np.asarray(da.values), dims=("presentation", "neuroid"), coords=coords, name="activity"
    )
    out.attrs = {k: v for k, v in attrs.items()}
    return out


def to_allen_tables(rec: Any, *, condition: str = "label") -> dict[str, pd.DataFrame]:
    """AllenSDK-style tidy tables (``conditionwise_statistics`` and friends, docs/methods.md §D3).

    Parameters
    ----------
    rec : xr.Dataset or xr.DataArray
        A recording (model or neural).
    condition : str
        Presentation coord defining a stimulus condition (Allen distinguishes a *presentation* from a
        *condition*): ``"label"`` (class), ``"stimulus_id"`` (image), or any other presentation coord.

    Returns
    -------
    dict of DataFrame
        ``"conditionwise_statistics"``: one row per unit × condition with ``unit_id`` (= ``neuroid_id``),
        ``layer``, ``stimulus_condition_id`` (0-based code of the sorted conditions), the condition value (column
        named after ``condition``) and ``label_name`` when available, ``spike_count`` (sum of responses),
        ``stimulus_presentation_count`` (= ``n``), ``spike_mean``, ``spike_std`` (ddof = 1, as pandas/AllenSDK),
        ``spike_sem`` (= std/√n); the names follow AllenSDK's ecephys ``conditionwise_statistics`` even for
        graded (non-spike) responses: ``attrs["response_variable"]`` says what was averaged.
        ``"stimulus_conditions"``: ``stimulus_condition_id`` → condition value (and ``label_name``).
        ``"stimulus_presentations"``: ``stimulus_presentation_id`` (0-based row) with ``stimulus_condition_id`` and
        every presentation coord.  ``"units"``: ``unit_id`` with every neuroid coord.
    """
    da = _activity(rec)
    attrs = _attrs(rec)
    pco = _coords_along(da, "presentation")
    nco = _coords_along(da, "neuroid")
    if condition not in pco:
        raise ParameterError(
            f"The 'condition' parameter names the presentation coord {condition!r}, which the recording lacks. "
            f"Available presentation coords: {sorted(pco)}."
        )
    x = np.asarray(da.values, dtype=np.float64)
    n_pres, n_units = x.shape
    conds, codes = np.unique(pco[condition], return_inverse=True)
    k = conds.size
    count = np.bincount(codes, minlength=k).astype(np.float64)
    sums = np.zeros((k, n_units))
    np.add.at(sums, codes, x)
    means = sums / count[:, None]
    dev = x - means[codes]
    ss = np.zeros((k, n_units))
    np.add.at(ss, codes, dev * dev)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.sqrt(ss / (count[:, None] - 1.0))
        std[count <= 1] = np.nan
        sem = std / np.sqrt(count[:, None])

    unit_ids = nco.get("neuroid_id", np.arange(n_units).astype(str))
    label_name = None
    if "label_name" in pco and condition in ("label", "label_name"):
        first = np.zeros(k, dtype=np.int64)
        first[codes[::-1]] = np.arange(n_pres)[::-1]
        label_name = pco["label_name"][first]
    stats = pd.DataFrame(
        {
            "unit_id": np.repeat(unit_ids, k),
            "layer": np.repeat(nco["layer"], k) if "layer" in nco else 1,
            "stimulus_condition_id": np.tile(np.arange(k), n_units),
            condition: np.tile(conds, n_units),
            "spike_count": sums.T.ravel(),
            "stimulus_presentation_count": np.tile(count.astype(np.int64), n_units),
            "spike_mean": means.T.ravel(),
            "spike_std": std.T.ravel(),
            "spike_sem": sem.T.ravel(),
            "n": np.tile(count.astype(np.int64), n_units),
        }
    )
    if label_name is not None and condition != "label_name":
        stats.insert(4, "label_name", np.tile(label_name, n_units))
    response = attrs.get("response_variable") or (
        "activation" if not str(attrs.get("model", "")).startswith("neural:") else "response"
    )
    stats.attrs = {
        "response_variable": str(response),
        "condition": condition,
        "model": str(attrs.get("model", "")),
    }
    conditions = pd.DataFrame({"stimulus_condition_id": np.arange(k), condition: conds})
    if label_name is not None and condition != "label_name":
        conditions["label_name"] = label_name
    presentations = pd.DataFrame(
        {"stimulus_presentation_id": np.arange(n_pres), "stimulus_condition_id": codes}
    )
    for name, v in pco.items():
        presentations[name] = v
    units = pd.DataFrame({"unit_id": unit_ids})
    for name, v in nco.items():
        if name != "neuroid_id":
            units[name] = v
    return {
        "conditionwise_statistics": stats,
        "stimulus_conditions": conditions,
        "stimulus_presentations": presentations,
        "units": units,
    }
