"""The analysis pipeline behind ``ensembles analyze``, ``ensembles report`` and ``ensembles demo``.

:func:`analyze` takes recordings (files, training-run directories or in-memory ``xr.Dataset``), computes every
statistic of the paper (paper-spec.md §3) and writes tidy CSV tables under ``OUT/tables``, figures as PNG and SVG
under ``OUT/figures`` and ``OUT/manifest.json`` (what was computed, on which data, what was skipped and why).
:func:`ensembles.report.build_report` turns that directory into one self-contained HTML file.

Protocol (paper-spec.md §3.1): statistics use the last checkpoint and, when the recording has a ``correct`` coord
and ``correct_only`` is true, only the correctly classified presentations; accuracy uses all presentations.
Recordings without ``correct`` (imported neural data) use every presentation, and figures that need training
artefacts (history, checkpoints, weights) are skipped with the reason recorded.

Directory layout written by :func:`analyze`::

    OUT/manifest.json            written last: its presence marks finished results
    OUT/tables/*.csv             tidy tables (one row per model × layer × class × ...)
    OUT/figures/<id>.png|.svg    the figures listed in ``FIGURES``
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ensembles import conventions as C
from ensembles._io import atomic_write_text
from ensembles._validation import describe

__all__ = [
    "FIGURES",
    "Source",
    "analyze",
    "load_sources",
    "results_exist",
    "headline_table",
    "summary_text",
]

# id -> (title, what it shows); order = order in the report
FIGURES: dict[str, tuple[str, str]] = {
    "walls": ("1. Activation walls", "Presentations grouped by class (rows) × neuroids ordered by preferred class."),
    "sparseness_bars": ("2a. Sparseness per class", "Population Hoyer sparseness per class, layer and model, "
                        "mean with a 95% bootstrap CI over presentations."),
    "sparseness_violins": ("2b. Lifetime vs population sparseness", "Distributions of Hoyer sparseness per neuroid "
                           "(lifetime, across presentations) and per presentation (population, across neuroids)."),
    "ensemble_sizes": ("3a. Ensemble sizes", "Category-ensemble size per class (leave-one-out rule of the authors, "
                       "τ as stated), with the mean size under shuffled labels."),
    "overlap": ("3b. Ensemble overlap", "Shared neuroids between category ensembles; * = more than expected for "
                "random ensembles of the same sizes (hypergeometric test, Benjamini–Hochberg q < 0.05)."),
    "selectivity": ("4. Selectivity", "Class selectivity index (Morcos et al. 2018) and number of significantly "
                    "driven classes per neuroid."),
    "training": ("5. Training curves", "Positive vs negative goodness per layer; loss and accuracy."),
    "checkpoints": ("6. Emergence during training", "Sparseness and median ensemble size at every recorded checkpoint."),
    "sweep": ("7. Sparsity vs accuracy", "Layer sparseness vs test accuracy across a hyper-parameter sweep, "
              "L1 vs L2 goodness."),
    "zero_shot": ("8. Zero-shot ensembles", "Ensembles of classes held out of training vs the seen classes and vs the "
                  "same classes in a model trained on all classes."),
    "inhibition": ("9. Inhibition", "Weight and bias distributions; excitatory vs inhibitory input currents of "
                   "neuroids inside vs outside the class's ensemble; fraction silenced by inhibition."),
    "cortex": ("10. Comparison with cortex", "Model statistics next to published cortical reference values."),
}


# ------------------------------------------------------------------------------------------------ sources
@dataclass
class Source:
    """One recording to analyse, with the training run it came from (if any)."""

    name: str
    rec: xr.Dataset
    path: str | None = None
    run_dir: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.rec.attrs.get("model", "unknown"))

    @property
    def config(self) -> dict[str, Any]:
        try:
            cfg = json.loads(self.rec.attrs.get("config", "{}") or "{}")
        except (TypeError, ValueError):
            cfg = {}
        return cfg if isinstance(cfg, dict) else {}


def _load_recording_file(path: Path) -> xr.Dataset:
    from ensembles.record import load_recording

    if not path.exists():
        raise FileNotFoundError(f"recording not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"expected a recording file, got a directory without recording.h5: {path}")
    try:
        return load_recording(path)
    except (OSError, ValueError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path} is not a readable recording ({msg})") from err


def load_sources(inputs: Iterable[Any] | Any, *, names: Sequence[str] | None = None) -> list[Source]:
    """Resolve recordings: a path to a ``.h5`` recording, a training-run directory (``recording.h5`` inside),
    an ``xr.Dataset`` recording, or a :class:`Source`.  Names default to the model's display name (FF, BP/FF, BP),
    made unique with the seed or an index."""
    if isinstance(inputs, str | os.PathLike | xr.Dataset | Source):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("The 'recordings' parameter must name at least one recording. Got an empty list instead.")
    sources: list[Source] = []
    for item in inputs:
        if isinstance(item, Source):
            sources.append(item)
        elif isinstance(item, xr.Dataset):
            if C.ACTIVITY not in item:
                raise ValueError(f"The 'recordings' parameter must hold recordings with an 'activity' variable. "
                                 f"Got {describe(item)} instead.")
            sources.append(Source(name="", rec=item))
        elif isinstance(item, str | os.PathLike):
            p = Path(item)
            if p.is_dir() and (p / "recording.h5").exists():
                sources.append(Source(name="", rec=_load_recording_file(p / "recording.h5"),
                                      path=str(p / "recording.h5"), run_dir=str(p)))
            else:
                rec = _load_recording_file(p)
                run_dir = str(p.parent) if (p.parent / "config.toml").exists() else None
                sources.append(Source(name="", rec=rec, path=str(p), run_dir=run_dir))
        else:
            raise TypeError(f"The 'recordings' parameter must hold paths or xr.Dataset recordings. "
                            f"Got {describe(item)} instead.")
    if names is not None:
        if len(names) != len(sources):
            raise ValueError(f"The 'names' parameter must have one name per recording ({len(sources)}). "
                             f"Got {len(names)} instead.")
        for s, n in zip(sources, names, strict=True):
            s.name = str(n)
    for s in sources:
        if not s.name:
            s.name = C.MODEL_NAMES.get(s.model, s.model)
    groups: dict[str, list[Source]] = {}
    for s in sources:
        groups.setdefault(s.name, []).append(s)
    for base, group in groups.items():
        if len(group) < 2:
            continue
        seeds = [g.rec.attrs.get("seed", -1) for g in group]
        by_seed = len(set(seeds)) == len(seeds) and -1 not in seeds
        for k, g in enumerate(group, start=1):
            g.name = f"{base} (seed {seeds[k - 1]})" if by_seed else f"{base} #{k}"
    if len({s.name for s in sources}) != len(sources):
        raise ValueError("The 'names' parameter must give each recording a unique name.")
    return sources


# ------------------------------------------------------------------------------------------------ helpers
def _final(da: xr.DataArray, checkpoint: int = -1) -> xr.DataArray:
    return da.isel(checkpoint=checkpoint) if C.CHECKPOINT in da.dims else da


def _layers(rec: xr.Dataset) -> list[int]:
    return [int(v) for v in np.unique(rec["layer"].values)]


def _class_names(rec: xr.Dataset) -> dict[int, str]:
    labels = np.asarray(rec["label"].values)
    if "label_name" in rec.coords:
        names = np.asarray(rec["label_name"].values)
        return {int(c): str(names[labels == c][0]) for c in np.unique(labels)}
    return {int(c): str(c) for c in np.unique(labels)}


def _selection(rec: xr.Dataset, *, correct_only: bool, checkpoint: int = -1) -> tuple[np.ndarray, str]:
    """Indices of the presentations used for statistics and a description of them."""
    n = rec.sizes[C.PRESENTATION]
    split = ""
    if "split" in rec.coords:
        vals = np.unique(np.asarray(rec["split"].values))
        split = "/".join(str(v) for v in vals) + " "
    if correct_only and "correct" in rec.coords:
        corr = np.asarray(_final(rec["correct"], checkpoint).values, dtype=bool)
        if "held_out" in rec.coords:  # held-out classes cannot be correct (paper-spec §3.6 step 5): keep them all
            corr = corr | np.asarray(rec["held_out"].values, dtype=bool)
            return np.flatnonzero(corr), (f"correctly classified {split}presentations (all presentations of held-out "
                                          f"classes), n={int(corr.sum())} of {n}")
        return np.flatnonzero(corr), f"correctly classified {split}presentations, n={int(corr.sum())} of {n}"
    why = "" if correct_only else " (correct_only=False)"
    if correct_only and "correct" not in rec.coords:
        why = " (the recording has no 'correct' coord)"
    return np.arange(n), f"all {split}presentations{why}, n={n}"


def _layer_block(rec: xr.Dataset, layer: int, rows: np.ndarray, checkpoint: int = -1) -> np.ndarray:
    da = _final(rec[C.ACTIVITY], checkpoint).transpose(C.PRESENTATION, C.NEUROID)
    cols = np.flatnonzero(np.asarray(rec["layer"].values) == layer)
    x = np.asarray(da.isel({C.PRESENTATION: rows, C.NEUROID: cols}).values, dtype=np.float64)
    return x


def _nonneg(x: np.ndarray) -> tuple[np.ndarray, str]:
    """The analyses assume responses >= 0 (rates, post-ReLU activity). Negative values are clipped, and said so."""
    if np.nanmin(x) < 0:
        return np.clip(x, 0, None), "clip"
    return x, "none"


def bootstrap_mean_ci(values: np.ndarray, *, n_boot: int = 1000, ci: float = 95.0,
                      rng: np.random.Generator) -> tuple[float, float, float, int]:
    """Mean of the finite values and its percentile bootstrap CI (Efron & Tibshirani 1993), resampling values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan, np.nan, 0
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0]), 1
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    means = v[idx].mean(axis=1)
    lo, hi = np.percentile(means, [(100 - ci) / 2, 100 - (100 - ci) / 2])
    return float(v.mean()), float(lo), float(hi), int(v.size)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


def _clean_json(o: Any) -> Any:
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, dict):
        return {str(k): _clean_json(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_clean_json(v) for v in o]
    return o


def results_exist(out_dir: str | os.PathLike) -> bool:
    """True when ``out_dir`` holds finished results (its ``manifest.json``)."""
    return (Path(out_dir) / "manifest.json").exists()


def check_output_dir(out_dir: str | os.PathLike, *, force: bool) -> Path:
    """Create/verify an output directory; refuse finished results without ``force``; check it is writable."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path exists and is not a directory: {out}")
    if results_exist(out) and not force:
        raise FileExistsError(f"{out} already holds finished results (manifest.json); pass --force to overwrite")
    if results_exist(out):  # force: the old results stop counting as finished before anything is rewritten
        (out / "manifest.json").unlink()
        for sub in ("tables", "figures"):
            shutil.rmtree(out / sub, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (out / "report.html").unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise PermissionError(f"output directory {out} is not writable ({err.strerror or err})") from err
    return out


class _Log:
    def __init__(self, progress: bool):
        self.progress = progress
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, msg: str) -> None:
        if self.progress:
            print(f"[{time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, name: str):
        t = time.perf_counter()
        self(f"{name} ...")
        yield
        self.timings[name] = round(time.perf_counter() - t, 3)


# ------------------------------------------------------------------------------------------------ statistics
def _population_hoyer(x: np.ndarray) -> np.ndarray:
    from ensembles.analysis.sparsity import population_sparseness

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(population_sparseness(x, "hoyer"), dtype=float)


def _lifetime_hoyer(x: np.ndarray) -> np.ndarray:
    from ensembles.analysis.sparsity import lifetime_sparseness

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(lifetime_sparseness(x, "hoyer"), dtype=float)


def _membership(x: np.ndarray, y: np.ndarray, classes: np.ndarray, tau: float) -> np.ndarray:
    """Boolean (n_classes, n_neuroids) ensembles by the authors' leave-one-out rule (paper-spec.md §3.4)."""
    from ensembles.analysis.ensembles import category_ensembles

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = category_ensembles(x, y, rule="paper", tau=tau)
    if isinstance(m, xr.DataArray):
        cats = [c for c in m.dims if c != C.NEUROID]
        m = m.transpose(cats[0], C.NEUROID)
        coord = m[cats[0]].values
        idx = [int(np.flatnonzero(coord == c)[0]) for c in classes]
        return np.asarray(m.values, dtype=bool)[idx]
    return np.asarray(m, dtype=bool)


def _overlap_stats(membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Overlap counts, expected counts, hypergeometric p and BH q from ``ensemble_overlap`` (paper-spec §3.5)."""
    from ensembles.analysis.ensembles import ensemble_overlap

    res = ensemble_overlap(np.asarray(membership, dtype=bool), metric="count", by_layer=False)
    return tuple(np.asarray(res[v].values, float) for v in ("overlap", "expected", "p", "q"))  # type: ignore


def _selectivity(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """CSI (Morcos et al. 2018) and the number of significantly driven classes (Welch, BH-FDR at ``alpha``)."""
    from ensembles.analysis.selectivity import class_selectivity_index, n_driven_classes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        csi = class_selectivity_index(x, y, n_shuffles=0)["csi"]
        nd = n_driven_classes(x, y, alpha=alpha)["n_driven"]
    return np.asarray(csi, float).ravel(), np.asarray(nd, float).ravel()


@dataclass
class _Tables:
    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, name: str, rows: dict[str, Any] | list[dict[str, Any]]) -> None:
        self.frames.setdefault(name, []).extend(rows if isinstance(rows, list) else [rows])

    def df(self, name: str) -> pd.DataFrame:
        return pd.DataFrame(self.frames.get(name, []))


def _analyze_source(src: Source, tabs: _Tables, *, correct_only: bool, tau: float, alpha: float, n_boot: int,
                    n_shuffles: int, rng: np.random.Generator, log: _Log, notes: list[str]) -> dict[str, Any]:
    rec, name = src.rec, src.name
    rows, used = _selection(rec, correct_only=correct_only)
    names = _class_names(rec)
    y_all = np.asarray(rec["label"].values)
    y = y_all[rows]
    classes = np.unique(y)
    info: dict[str, Any] = {"name": name, "model": src.model, "dataset": rec.attrs.get("dataset", ""),
                            "seed": rec.attrs.get("seed", -1), "path": src.path, "run_dir": src.run_dir,
                            "n_presentations": int(rec.sizes[C.PRESENTATION]), "n_used": int(rows.size),
                            "data_used": used, "layers": _layers(rec),
                            "layer_sizes": [int((np.asarray(rec["layer"].values) == lay).sum()) for lay in _layers(rec)],
                            "package_version": rec.attrs.get("package_version", ""),
                            "created": rec.attrs.get("created", ""), "site": rec.attrs.get("site", ""),
                            "config": src.config, "negative_policy": "none"}
    if C.CHECKPOINT in rec[C.ACTIVITY].dims:
        info["epochs"] = [int(e) for e in np.asarray(rec["epoch"].values)]
    # accuracy (all presentations)
    if "correct" in rec.coords:
        corr = np.asarray(_final(rec["correct"]).values, dtype=bool)
        seen = ~np.asarray(rec["held_out"].values, dtype=bool) if "held_out" in rec.coords else np.ones_like(corr)
        info["accuracy"] = float(corr[seen].mean())
        tabs.add("accuracy", {"model": name, "class": "all", "label": -1, "accuracy": float(corr[seen].mean()),
                              "n": int(seen.sum())})
        for c in np.unique(y_all):
            sel = y_all == c
            tabs.add("accuracy", {"model": name, "class": names[int(c)], "label": int(c),
                                  "accuracy": float(corr[sel].mean()), "n": int(sel.sum())})
    if rows.size < 2 or classes.size < 2:
        raise ValueError(f"recording {name!r}: need at least 2 presentations of 2 classes for the analysis; "
                         f"{used}")
    held = set()
    if "held_out" in rec.coords:
        held = {int(c) for c in np.unique(y_all[np.asarray(rec["held_out"].values, dtype=bool)])}
    for layer in info["layers"]:
        x, pol = _nonneg(_layer_block(rec, layer, rows))
        if pol != "none":
            info["negative_policy"] = "clip"
        h = x.shape[1]
        pop = _population_hoyer(x)
        life = _lifetime_hoyer(x)
        # all presentations too (paper-spec §6 #13) and the share of all-zero rows
        x_all = np.clip(_layer_block(rec, layer, np.arange(rec.sizes[C.PRESENTATION])), 0, None)
        pop_all = _population_hoyer(x_all)
        mean, lo, hi, n = bootstrap_mean_ci(pop, n_boot=n_boot, rng=rng)
        tabs.add("sparseness_by_layer", {
            "model": name, "layer": layer, "measure": "hoyer", "mean": mean, "ci_low": lo, "ci_high": hi, "n": n,
            "fraction_silent_presentations": float(np.mean(~(x.sum(axis=1) > 0))),
            "fraction_silent_neuroids": float(np.mean(~(x.sum(axis=0) > 0))),
            "mean_all_presentations": float(np.nanmean(pop_all)) if np.isfinite(pop_all).any() else np.nan,
            "lifetime_mean": float(np.nanmean(life)) if np.isfinite(life).any() else np.nan,
            "fraction_active": float(np.mean(x > 0)), "max_activation": float(x.max()), "n_neuroids": h})
        for c in classes:
            mean, lo, hi, n = bootstrap_mean_ci(pop[y == c], n_boot=n_boot, rng=rng)
            tabs.add("sparseness_by_class", {"model": name, "layer": layer, "class": names[int(c)], "label": int(c),
                                             "measure": "hoyer", "mean": mean, "ci_low": lo, "ci_high": hi, "n": n})
        tabs.add("sparseness_values", [{"model": name, "layer": layer, "kind": "population", "value": v}
                                       for v in pop[np.isfinite(pop)]])
        tabs.add("sparseness_values", [{"model": name, "layer": layer, "kind": "lifetime", "value": v}
                                       for v in life[np.isfinite(life)]])
        # ensembles (paper rule), shuffled-label null, overlaps with hypergeometric p
        memb = _membership(x, y, classes, tau)
        null = np.zeros(len(classes))
        for _ in range(n_shuffles):
            null += _membership(x, rng.permutation(y), classes, tau).sum(axis=1)
        null /= max(n_shuffles, 1)
        for k, c in enumerate(classes):
            tabs.add("ensemble_sizes", {"model": name, "layer": layer, "class": names[int(c)], "label": int(c),
                                        "size": int(memb[k].sum()), "fraction": float(memb[k].mean()),
                                        "null_size": float(null[k]) if n_shuffles else np.nan,
                                        "null_fraction": float(null[k] / h) if n_shuffles else np.nan,
                                        "held_out": int(c) in held, "n_presentations": int((y == c).sum()),
                                        "n_neuroids": h, "tau": tau})
        ov, exp, p, q = _overlap_stats(memb)
        for a, ca in enumerate(classes):
            for b, cb in enumerate(classes):
                tabs.add("ensemble_overlap", {"model": name, "layer": layer, "class_a": names[int(ca)],
                                              "class_b": names[int(cb)], "label_a": int(ca), "label_b": int(cb),
                                              "overlap": float(ov[a, b]) if a != b else np.nan,
                                              "expected": float(exp[a, b]) if a != b else np.nan,
                                              "p": float(p[a, b]) if a != b else np.nan,
                                              "q": float(q[a, b]) if a != b else np.nan,
                                              "jaccard": float(ov[a, b] / max(memb[a].sum() + memb[b].sum() - ov[a, b], 1))
                                              if a != b else np.nan})
        # selectivity
        try:
            csi, nd = _selectivity(x, y, alpha)
            tabs.add("selectivity", [{"model": name, "layer": layer, "unit": int(i), "csi": float(csi[i]),
                                      "n_driven": float(nd[i])} for i in range(h)])
        except ValueError as err:  # e.g. a class with < 2 correct presentations
            notes.append(f"selectivity: {name} layer {layer} skipped ({_first_line(err)})")
    return info


def _checkpoint_table(src: Source, tabs: _Tables, *, correct_only: bool, tau: float) -> bool:
    rec = src.rec
    if C.CHECKPOINT not in rec[C.ACTIVITY].dims or rec.sizes[C.CHECKPOINT] < 2:
        return False
    epochs = np.asarray(rec["epoch"].values)
    y_all = np.asarray(rec["label"].values)
    for k, ep in enumerate(epochs):
        rows, _ = _selection(rec, correct_only=correct_only, checkpoint=k)
        y = y_all[rows]
        classes = np.unique(y)
        for layer in _layers(rec):
            x, _ = _nonneg(_layer_block(rec, layer, rows, checkpoint=k))
            if classes.size < 2 or not np.any(x > 0):
                hoy, med = np.nan, np.nan  # layer not trained yet at this checkpoint (greedy FF) or no correct rows
            else:
                pop = _population_hoyer(x)
                hoy = float(np.nanmean(pop)) if np.isfinite(pop).any() else np.nan
                med = float(np.median(_membership(x, y, classes, tau).sum(axis=1)))
            tabs.add("checkpoints", {"model": src.name, "epoch": int(ep), "layer": layer, "hoyer": hoy,
                                     "median_size": med, "n_used": int(rows.size)})
    return True


def _history_rows(src: Source, tabs: _Tables) -> bool:
    if not src.run_dir:
        return False
    p = Path(src.run_dir) / "history.json"
    if not p.exists():
        return False
    from ensembles.plot import history_frame

    try:
        hist = json.loads(p.read_text())
    except ValueError:
        return False
    if isinstance(hist, Mapping):
        hist = hist.get("history", hist.get("epochs", []))
    df = history_frame(hist, model=src.name)
    if not len(df):
        return False
    tabs.add("history", df.astype({"layer": object}).where(df.notna(), None).to_dict("records"))
    return True


def _inhibition_rows(src: Source, tabs: _Tables, *, correct_only: bool, tau: float, rng: np.random.Generator,
                     notes: list[str]) -> str | None:
    """Weights/biases and E/I input currents of a training run (paper-spec §3.7). Returns a reason when skipped.

    The model is rebuilt from the run directory; each layer's normalised input x̂ comes from re-running the
    trained model on the recorded test presentations (true label embedded for FF-style models, as recorded), and
    the split E/I is computed by :mod:`ensembles.analysis.inhibition`.  ``E + I + b`` is checked against the
    model's own pre-activation (``reconstruction_error`` in ``currents.csv``).
    """
    from ensembles.analysis.inhibition import currents_by_ensemble, input_currents, weight_statistics

    if not src.run_dir:
        return "no training run directory (weights) for this recording"
    try:
        from ensembles.train import layer_inputs, layer_parameters, load_model

        model, cfg = load_model(src.run_dir)
        params = layer_parameters(model)
    except Exception as err:  # noqa: BLE001 - any failure to load weights skips this figure, with the reason
        return f"could not load the model weights ({type(err).__name__}: {_first_line(err)})"
    rec = src.rec
    layers = _layers(rec)
    sizes = [int((np.asarray(rec["layer"].values) == lay).sum()) for lay in layers]
    if [p["weight"].shape[0] for p in params] != sizes:
        return f"weights (widths {[p['weight'].shape[0] for p in params]}) do not match the recording {sizes}"
    for layer, p in zip(layers, params, strict=True):
        w, b = p["weight"].astype(np.float64), p["bias"].astype(np.float64)
        tabs.add("weights", {"model": src.name, "layer": layer, **weight_statistics(w, b)})
        flat = w.ravel()
        sample = flat if flat.size <= 4000 else rng.choice(flat, 4000, replace=False)
        tabs.add("weights_sample", [{"model": src.name, "layer": layer, "kind": "weight", "value": float(v)}
                                    for v in sample])
        tabs.add("weights_sample", [{"model": src.name, "layer": layer, "kind": "bias", "value": float(v)}
                                    for v in b])
    # inputs: the recorded test presentations, re-run through the model
    try:
        from ensembles.data import load_dataset

        ds = load_dataset(cfg.data.dataset, "test", root=cfg.data.root, normalize=cfg.data.normalize, download=False)
    except Exception as err:  # noqa: BLE001
        notes.append(f"inhibition: {src.name}: input currents skipped, test images unavailable ({_first_line(err)})")
        return None
    rows, _ = _selection(rec, correct_only=correct_only)
    index = {sid: i for i, sid in enumerate(np.asarray(ds.stimulus_ids))}
    sids = np.asarray(rec["stimulus_id"].values)[rows]
    if not all(sid in index for sid in sids):
        notes.append(f"inhibition: {src.name}: input currents skipped (recorded stimulus ids not in the test set)")
        return None
    img = np.asarray(ds.x)[[index[s] for s in sids]]
    y = np.asarray(rec["label"].values)[rows]
    emb = None
    if "embedded_label" in rec.coords:
        emb = np.asarray(rec["embedded_label"].values)[rows]
        emb = None if np.all(emb < 0) else emb
    elif src.model in ("ff", "bp_ff"):
        emb = y
    if emb is not None and np.any(emb < 0):
        notes.append(f"inhibition: {src.name}: input currents skipped (mixed embedded labels)")
        return None
    outs = layer_inputs(model, img, emb)
    classes = np.unique(y)
    names = _class_names(rec)
    for layer, p, o in zip(layers, params, outs, strict=True):
        b = p["bias"].astype(np.float64)
        e, i = input_currents(p["weight"], o["normalized_input"], normalize="none")
        cur = np.asarray(o["current"], dtype=np.float64)
        err = float(np.max(np.abs(e + i + b - cur)) / max(float(np.max(np.abs(cur))), 1e-12))
        memb = _membership(np.clip(np.asarray(o["activity"], np.float64), 0, None), y, classes, tau)
        for r in currents_by_ensemble(e, i, b, y, memb, classes=classes):
            r["class"] = names[int(r["class"])]
            tabs.add("currents", {"model": src.name, "layer": layer, "reconstruction_error": err, **r})
    return None


def _first_line(err: BaseException) -> str:
    s = str(err)
    return s.splitlines()[0] if s else type(err).__name__


def _sweep_rows(sweep: Sequence[Any], tabs: _Tables, *, correct_only: bool) -> None:
    for item in sweep:
        (src,) = load_sources([item])
        cfg = src.config
        rows, _ = _selection(src.rec, correct_only=correct_only)
        acc = np.nan
        if "correct" in src.rec.coords:
            acc = float(np.asarray(_final(src.rec["correct"]).values, dtype=bool).mean())
        run = Path(src.run_dir).name if src.run_dir else (src.path or src.name)
        good = str((cfg.get("ff", {}) or {}).get("goodness", "?"))
        good = {"l2_norm": "l2", "l1_norm": "l1", "l1": "l1", "l2": "l2"}.get(good, good)
        for layer in _layers(src.rec):
            x, _ = _nonneg(_layer_block(src.rec, layer, rows))
            pop = _population_hoyer(x)
            tabs.add("sweep", {"run": run, "model": src.name, "layer": layer,
                               "hoyer": float(np.nanmean(pop)) if np.isfinite(pop).any() else np.nan,
                               "accuracy": acc, "goodness": good,
                               "lr": float((cfg.get("train", {}) or {}).get("lr", np.nan)),
                               "epochs": (cfg.get("train", {}) or {}).get("epochs")})


def _zero_shot_rows(pairs: Sequence[tuple[Any, Any]], tabs: _Tables, *, correct_only: bool, tau: float) -> list[str]:
    """``pairs`` = (held-out run/recording, all-classes run/recording). Returns descriptions of the data used."""
    used = []
    for held_item, ref_item in pairs:
        (held,) = load_sources([held_item])
        (ref,) = load_sources([ref_item])
        if "held_out" not in held.rec.coords:
            raise ValueError(f"zero-shot recording {held.path or held.name} has no 'held_out' coord")
        hmask = np.asarray(held.rec["held_out"].values, dtype=bool)
        y_all = np.asarray(held.rec["label"].values)
        held_classes = {int(c) for c in np.unique(y_all[hmask])}
        names = _class_names(held.rec)
        mode = (held.config.get("data", {}) or {}).get("held_out_mode", "?")
        model = C.MODEL_NAMES.get(held.model, held.model)
        for src, is_ref in ((held, False), (ref, True)):
            rows, desc = _selection(src.rec, correct_only=correct_only)
            if is_ref:  # like the held-out run: every presentation of the held-out classes, correct or not
                y_ref = np.asarray(src.rec["label"].values)
                extra = np.flatnonzero(np.isin(y_ref, sorted(held_classes)))
                rows = np.union1d(rows, extra)
                desc += f" plus all {extra.size} presentations of the held-out class(es)"
            y = np.asarray(src.rec["label"].values)[rows]
            classes = np.unique(y)
            ep = (src.config.get("train", {}) or {}).get("epochs", "?")
            used.append(f"{model} {'all-classes' if is_ref else f'held-out ({mode})'} run ({ep} epochs"
                        f"{' per layer' if src.model == 'ff' else ''}): {desc}")
            for layer in _layers(src.rec):
                x, _ = _nonneg(_layer_block(src.rec, layer, rows))
                memb = _membership(x, y, classes, tau)
                pop = _population_hoyer(x)
                for k, c in enumerate(classes):
                    c = int(c)
                    if is_ref and c not in held_classes:
                        continue
                    cond = "all-classes run" if is_ref else ("held out" if c in held_classes else "seen")
                    hv = pop[y == c]
                    tabs.add("zero_shot", {"model": model, "layer": layer, "class": names.get(c, str(c)), "label": c,
                                           "condition": cond, "size": int(memb[k].sum()),
                                           "fraction": float(memb[k].mean()),
                                           "hoyer": float(np.nanmean(hv)) if np.isfinite(hv).any() else np.nan,
                                           "n_presentations": int((y == c).sum()), "held_out_mode": mode})
    return used


def _save_figure(fig, base: Path) -> list[str]:
    files = []
    for ext in ("png", "svg"):
        target = base.with_suffix(f".{ext}")
        tmp = base.with_name(f".{base.name}.tmp.{ext}")
        fig.savefig(tmp, dpi=110 if ext == "png" else None, format=ext)
        os.replace(tmp, target)
        files.append(target.name)
    return files


# ------------------------------------------------------------------------------------------------ analyze
def analyze(
    recordings: Iterable[Any] | Any,
    out_dir: str | os.PathLike,
    *,
    correct_only: bool = True,
    force: bool = False,
    tau: float = 1.0,
    alpha: float = 0.05,
    n_boot: int = 1000,
    n_shuffles: int = 5,
    seed: int = 0,
    names: Sequence[str] | None = None,
    sweep: Sequence[Any] | None = None,
    zero_shot: Sequence[tuple[Any, Any]] | None = None,
    figures: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Compute every statistic and figure for ``recordings`` and write them under ``out_dir``.

    Parameters
    ----------
    recordings : path, run directory, xr.Dataset, or a sequence of them
        The recordings to compare (e.g. FF, BP/FF and BP runs). Run directories (with ``recording.h5``) also
        provide ``history.json`` (figure 5) and the weights (figure 9).
    out_dir : path
        Output directory; ``tables/``, ``figures/`` and ``manifest.json`` are written there.
    correct_only : bool
        Use only correctly classified presentations (the paper's protocol) where ``correct`` exists.
    force : bool
        Overwrite finished results (an existing ``manifest.json``); otherwise raise FileExistsError.
    tau : float
        τ of the authors' leave-one-out ensemble rule (paper-spec.md §3.4; 1 = the overlap figure).
    alpha : float
        Significance level for overlap marks (after Benjamini–Hochberg).
    n_boot : int
        Bootstrap resamples for the sparseness CIs.
    n_shuffles : int
        Label shuffles for the expected ensemble size under no category structure (0 = skip).
    sweep : sequence, optional
        Run directories / recordings of a hyper-parameter sweep (figure 7).
    zero_shot : sequence of (held-out, all-classes) pairs, optional
        Runs trained without some classes, each with a run of the same model trained on all classes (figure 8).
    figures : bool
        Also draw and save the figures.

    Returns
    -------
    dict
        The manifest (also written to ``out_dir/manifest.json``).
    """
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "cairo", "module://matplotlib_inline.backend_inline"):
        with contextlib.suppress(Exception):
            matplotlib.use("Agg")
    from ensembles import __version__
    from ensembles import plot as P

    for pname, v, lo in (("n_boot", n_boot, 1), ("n_shuffles", n_shuffles, 0)):
        if not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(f"The {pname!r} parameter must be an int >= {lo}. Got {describe(v)} instead.")
    if not (isinstance(tau, int | float) and tau >= 0):
        raise ValueError(f"The 'tau' parameter must be a number >= 0. Got {describe(tau)} instead.")
    out = check_output_dir(out_dir, force=force)
    log = _Log(progress)
    sources = load_sources(recordings, names=names)
    rng = np.random.default_rng(seed)
    tabs = _Tables()
    notes: list[str] = []
    skipped: dict[str, str] = {}
    infos = []
    for src in sources:
        with log.step(f"statistics: {src.name}"):
            infos.append(_analyze_source(src, tabs, correct_only=correct_only, tau=tau, alpha=alpha, n_boot=n_boot,
                                         n_shuffles=n_shuffles, rng=rng, log=log, notes=notes))
    has_ckpt = has_hist = False
    for src in sources:
        with log.step(f"checkpoints/history: {src.name}"):
            has_ckpt |= _checkpoint_table(src, tabs, correct_only=correct_only, tau=tau)
            has_hist |= _history_rows(src, tabs)
    inh_reasons = {}
    for src in sources:
        with log.step(f"inhibition: {src.name}"):
            r = _inhibition_rows(src, tabs, correct_only=correct_only, tau=tau, rng=rng, notes=notes)
            if r:
                inh_reasons[src.name] = r
    if sweep:
        with log.step(f"sweep ({len(sweep)} runs)"):
            _sweep_rows(sweep, tabs, correct_only=correct_only)
    zs_used: list[str] = []
    if zero_shot:
        with log.step(f"zero-shot ({len(zero_shot)} pairs)"):
            zs_used = _zero_shot_rows(zero_shot, tabs, correct_only=correct_only, tau=tau)
    summary_df = None
    with log.step("summary table and comparison with cortex"):
        summary_df = _summary(sources, correct_only, notes)
        if summary_df is not None:
            tabs.frames["summary"] = summary_df.to_dict("records")
        cortex_df, cortex_fig = _cortex(summary_df, notes)
        if cortex_df is not None:
            tabs.frames["cortex"] = cortex_df.to_dict("records")

    # ---- write tables
    tdir = out / "tables"
    tdir.mkdir(exist_ok=True)
    table_files = {}
    with log.step("writing tables"):
        for tname in tabs.frames:
            df = tabs.df(tname)
            if len(df):
                atomic_write_text(tdir / f"{tname}.csv", df.to_csv(index=False))
                table_files[tname] = f"tables/{tname}.csv"

    # ---- figures
    data_used = "; ".join(f"{i['name']}: {i['data_used']}" for i in infos)
    fig_plan: dict[str, tuple[Callable[[], Any] | None, str, str]] = {}

    def plan(fid: str, make: Callable[[], Any] | None, used: str, why: str = "") -> None:
        fig_plan[fid] = (make, used, why)

    recs = {s.name: s.rec for s in sources}
    plan("walls", lambda: P.activation_walls(recs, correct_only=correct_only, max_rows=600), data_used)
    plan("sparseness_bars", lambda: P.sparseness_bars(tabs.df("sparseness_by_class"), measure="hoyer"), data_used)
    plan("sparseness_violins", lambda: P.sparseness_violins(tabs.df("sparseness_values")), data_used)
    plan("ensemble_sizes", lambda: P.ensemble_sizes(tabs.df("ensemble_sizes")),
         f"{data_used}; τ={tau}; null = mean over {n_shuffles} label shuffles")
    plan("overlap", lambda: P.overlap_heatmaps(tabs.df("ensemble_overlap"), alpha=alpha),
         f"{data_used}; τ={tau}; hypergeometric p, BH-FDR per model × layer")
    plan("selectivity", (lambda: P.selectivity_distributions(tabs.df("selectivity"))) if "selectivity" in tabs.frames
         else None, data_used, "the selectivity module is not available")
    plan("training", (lambda: P.training_curves(tabs.df("history"))) if has_hist else None,
         "history.json of each training run", "no training history (recordings without a training run directory)")
    plan("checkpoints", (lambda: P.checkpoint_trajectories(tabs.df("checkpoints"))) if has_ckpt else None,
         "every recorded checkpoint, presentations correctly classified at that checkpoint",
         "no recording has more than one checkpoint")
    plan("sweep", (lambda: P.sweep_scatter(tabs.df("sweep"))) if "sweep" in tabs.frames else None,
         f"{len(sweep or [])} sweep runs; accuracy on all test presentations, Hoyer on the correct ones",
         "no hyper-parameter sweep was given")
    plan("zero_shot", (lambda: P.zero_shot(tabs.df("zero_shot"))) if "zero_shot" in tabs.frames else None,
         "; ".join(zs_used), "no held-out-class run was given")
    inh_ok = "weights" in tabs.frames
    plan("inhibition", (lambda: P.inhibition(tabs.df("weights_sample"),
                                             tabs.df("currents") if "currents" in tabs.frames else None))
         if inh_ok else None,
         f"trained weights of {', '.join(s.name for s in sources if s.name not in inh_reasons)}; input currents "
         f"on {data_used} (re-run through the trained model)", "; ".join(f"{k}: {v}" for k, v in inh_reasons.items()) or "no weights")
    plan("cortex", (lambda: cortex_fig) if cortex_fig is not None else None, "the summary table",
         "; ".join(n for n in notes if n.startswith("cortex")) or "comparison with cortex unavailable")
    fig_meta: dict[str, Any] = {}
    fdir = out / "figures"
    fdir.mkdir(exist_ok=True)
    if figures:
        for fid, (make, used, why) in fig_plan.items():
            title, caption = FIGURES[fid]
            if make is None:
                skipped[fid] = why
                continue
            with log.step(f"figure {fid}"):
                try:
                    fig = make()
                except ImportError as err:
                    skipped[fid] = f"missing module: {err}"
                    continue
                files = _save_figure(fig, fdir / fid)
            fig_meta[fid] = {"title": title, "caption": caption, "data_used": used,
                             "files": [f"figures/{f}" for f in files]}
        for name, r in inh_reasons.items():
            notes.append(f"inhibition: {name}: {r}")

    headline = headline_table(tabs.df("sparseness_by_layer"), tabs.df("ensemble_sizes"), tabs.df("ensemble_overlap"),
                              infos)
    manifest = {
        "tool": "ensembles analyze", "package_version": __version__, "created": _dt.datetime.now(_dt.timezone.utc)
        .isoformat(timespec="seconds"), "out_dir": str(out), "parameters": {
            "correct_only": correct_only, "tau": tau, "alpha": alpha, "n_boot": n_boot, "n_shuffles": n_shuffles,
            "seed": seed, "ensemble_rule": "paper (leave-one-out contrast, paper-spec §3.4)",
            "sparseness_measure": "hoyer (Hoyer 2004; population = per presentation across a layer's neuroids, "
                                  "lifetime = per neuroid across presentations)"},
        "sources": infos, "tables": table_files, "figures": fig_meta, "skipped": skipped, "notes": notes,
        "headline": headline.to_dict("records"), "timings_s": log.timings, "versions": _versions(),
    }
    atomic_write_text(out / "manifest.json", json.dumps(_clean_json(manifest), indent=1, default=_json_default))
    log(f"analysis written to {out}")
    return manifest


def _summary(sources: Sequence[Source], correct_only: bool, notes: list[str]) -> pd.DataFrame | None:
    try:
        from ensembles.analysis.summary import summarize
    except ImportError as err:
        notes.append(f"summary: ensembles.analysis.summary not available ({err})")
        return None
    frames = []
    for s in sources:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # 50 label shuffles for the bias-corrected MI of the summary (its default is 200): 2 cores
                df = summarize(_final_recording(s.rec), correct_only=correct_only, n_shuffles=50)
        except Exception as err:  # noqa: BLE001 - reported in the manifest, the rest of the analysis goes on
            notes.append(f"summary: {s.name}: {type(err).__name__}: {err}")
            continue
        df = df.copy()
        df.insert(0, "source", s.name)
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else None


def _final_recording(rec: xr.Dataset) -> xr.Dataset:
    if C.CHECKPOINT not in rec.dims:
        return rec
    out = rec.isel(checkpoint=-1)
    return out.drop_vars([v for v in ("epoch", "checkpoint") if v in out.coords or v in out.variables], errors="ignore")


def _cortex(summary: pd.DataFrame | None, notes: list[str]):
    if summary is None:
        notes.append("cortex: needs the summary table")
        return None, None
    try:
        from ensembles.analysis.cortex import compare_to_cortex, plot_cortex_comparison
    except ImportError as err:
        notes.append(f"cortex: ensembles.analysis.cortex not available ({err})")
        return None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = compare_to_cortex(summary)
            fig = plot_cortex_comparison(table)
        if hasattr(fig, "figure") and not hasattr(fig, "savefig"):
            fig = fig.figure
        return table, fig
    except Exception as err:  # noqa: BLE001 - reported, not fatal
        notes.append(f"cortex: comparison failed ({type(err).__name__}: {err})")
        return None, None


def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("ensembles-toolkit", "numpy", "scipy", "pandas", "xarray", "h5py", "h5netcdf", "matplotlib",
                "seaborn", "scikit-learn", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def headline_table(by_layer: pd.DataFrame, sizes: pd.DataFrame, overlap: pd.DataFrame,
                   infos: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model × layer: accuracy, mean Hoyer, median ensemble size (and % of layer), mean off-diagonal
    overlap, number of significant overlapping pairs."""
    acc = {i["name"]: i.get("accuracy", np.nan) for i in infos}
    rows = []
    if not len(by_layer):
        return pd.DataFrame()
    for _, r in by_layer.iterrows():
        m, layer = r["model"], r["layer"]
        s = sizes[(sizes["model"] == m) & (sizes["layer"] == layer)] if len(sizes) else sizes
        o = overlap[(overlap["model"] == m) & (overlap["layer"] == layer)] if len(overlap) else overlap
        upper = o[o["label_a"] < o["label_b"]] if len(o) else o
        sig = upper[(upper["q"] < 0.05) & (upper["overlap"] > 0)] if len(upper) else upper
        rows.append({
            "model": m, "layer": int(layer), "accuracy": acc.get(m, np.nan), "hoyer": r["mean"],
            "hoyer_ci": f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
            "median_ensemble_size": float(s["size"].median()) if len(s) else np.nan,
            "median_ensemble_pct": 100 * float(s["fraction"].median()) if len(s) else np.nan,
            "mean_overlap": float(upper["overlap"].mean()) if len(upper) else np.nan,
            "pairs_overlapping": int((upper["overlap"] > 0).sum()) if len(upper) else 0,
            "pairs_significant": int(len(sig)), "pairs_total": int(len(upper)),
            "significant_pairs": ", ".join(f"{a}–{b} ({int(v)})" for a, b, v in
                                           zip(sig["class_a"], sig["class_b"], sig["overlap"], strict=True))
            if len(sig) else "",
        })
    return pd.DataFrame(rows)


def summary_text(results_dir: str | os.PathLike) -> str:
    """Short plain-text summary of the headline numbers per model (printed by the CLI)."""
    man = json.loads((Path(results_dir) / "manifest.json").read_text())
    head = pd.DataFrame(man.get("headline", []))
    lines = []
    if not len(head):
        return "no results"
    for m, g in head.groupby("model", sort=False):
        acc = g["accuracy"].iloc[0]
        acc_s = f"accuracy {acc:.3f}" if acc is not None and np.isfinite(acc) else "accuracy n/a"
        lines.append(f"{m}: {acc_s}")
        for _, r in g.iterrows():
            lines.append(
                f"  layer {r['layer']}: Hoyer {r['hoyer']:.3f} {r['hoyer_ci']}, median ensemble "
                f"{r['median_ensemble_size']:.0f} units ({r['median_ensemble_pct']:.1f}%), mean overlap "
                f"{r['mean_overlap']:.2f}, significant pairs {r['pairs_significant']}/{r['pairs_total']}"
                + (f" [{r['significant_pairs']}]" if r["significant_pairs"] and r["pairs_significant"] <= 6 else ""))
    return "\n".join(lines)

