"""Per-run statistics of protocol v2 (docs/reproduction-v2.md): a composition of the public analysis API.

:func:`run_statistics_v2` returns, for one finished run, the rows that
:func:`ensembles.reproduction.verdicts_v2.claims_table_v2` judges (columns of v1's statistics table) and, for a
``reference`` run, its trajectory rows. Presentations are chosen by :func:`ensembles.select_presentations` and, for
FF-style recordings with several label conditions, by their ``embedded_label`` (true label >= 0, no label -1).

By condition:

* ``baseline``: per layer, Hoyer over responsive units, the fractions of silent units and all-zero presentations,
  ensemble specificity and its shuffled-label null, ensemble sizes under shuffled labels, and why silent units are
  silent (E/I by the sign of the weight, section 5; needs the model's weights);
* ``zero_shot``: the zero-shot test of the held-out class with real and with shuffled labels, and (given
  ``reference_dir``, the ten-class run of the same model and seed) its comparison with that run's ensemble of the
  class; with and without the label for FF-style models (variants ``c<k>`` and ``c<k>-nolabel``);
* ``reference``: the zero-shot test of every class of :data:`~ensembles.reproduction.plan.ZERO_SHOT_CLASSES` (the
  positive control), and the trajectory: accuracy and layer statistics at every recorded checkpoint, on a fixed
  test subsample of at most :data:`TRAJECTORY_SUBSAMPLE` presentations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ensembles.analysis.ensembles import category_ensembles, ensemble_specificity
from ensembles.analysis.inhibition import ei_currents, silence_causes
from ensembles.analysis.responsiveness import silent_units
from ensembles.analysis.sparsity import population_sparseness
from ensembles.analysis.zero_shot import compare_to_reference, zero_shot_test
from ensembles.errors import DataFileError, ParameterError
from ensembles.layout import RunLayout
from ensembles.record import load_recording, select_presentations
from ensembles.reproduction.plan import V2_CONDITIONS, ZERO_SHOT_CLASSES
from ensembles.reproduction.stats import _read_config as _config
from ensembles.reproduction.verdicts_v2 import ZERO_SHOT_THRESHOLDS

__all__ = ["run_statistics_v2", "find_reference", "TRAJECTORY_SUBSAMPLE", "N_NULL_SHUFFLES", "responsive_hoyer"]

TRAJECTORY_SUBSAMPLE = 2000
N_NULL_SHUFFLES = 100
TAU = 1.0


def _row(base: dict, layer: int, statistic: str, value: Any, variant: str | None = None) -> dict:
    out = {**base, "layer": int(layer), "statistic": statistic, "value": float(value)}
    if variant is not None:
        out["variant"] = variant
    return out


def _layers(sel) -> list[int]:
    return [int(v) for v in np.unique(np.asarray(sel["layer"].values))]


def _layer(sel, layer: int) -> np.ndarray:
    cols = np.flatnonzero(np.asarray(sel["layer"].values) == layer)
    return np.asarray(sel["activity"].values[:, cols], dtype=np.float64)


def _by_label_condition(sel, ff_style: bool) -> dict[str, Any]:
    """{"": true-label presentations, "-nolabel": no-label ones} (BP: its raw-image presentations as "")."""
    if not ff_style or "embedded_label" not in sel.coords:
        return {"": sel}
    emb = np.asarray(sel["embedded_label"].values)
    out = {"": sel.isel(presentation=np.flatnonzero(emb >= 0))}
    if (emb < 0).any():
        out["-nolabel"] = sel.isel(presentation=np.flatnonzero(emb < 0))
    return out


def responsive_hoyer(a: np.ndarray) -> tuple[float, float, float]:
    """(mean population Hoyer over the responsive units, fraction of silent units, fraction of all-zero
    presentations) of one layer's activity ``a`` (presentation, unit). Silent: zero on every presentation."""
    su = silent_units(a)
    silent, zero_rows = np.asarray(su["silent"], dtype=bool), np.asarray(su["all_zero"], dtype=bool)
    resp = a[:, ~silent]
    if resp.shape[1] < 2:
        return float("nan"), float(silent.mean()), float(zero_rows.mean())
    h = np.asarray(population_sparseness(resp, "hoyer"), dtype=float)
    h = h[np.isfinite(h)]  # all-zero presentations have no Hoyer value; counted in the third number
    return (float(h.mean()) if h.size else float("nan")), float(silent.mean()), float(zero_rows.mean())


def _members(a: np.ndarray, labels: np.ndarray) -> np.ndarray:
    m = category_ensembles(a, labels, rule="paper", tau=TAU, by_layer=False)
    return np.asarray(getattr(m, "values", m), dtype=bool)


def _ensemble_rows(a: np.ndarray, labels: np.ndarray, base: dict, layer: int, n_shuffles: int,
                   rng: np.random.Generator) -> list[dict]:
    real = ensemble_specificity(_members(a, labels))
    jac, size = np.empty(n_shuffles), np.empty(n_shuffles)
    for b in range(n_shuffles):
        m = _members(a, rng.permutation(labels))
        jac[b] = ensemble_specificity(m)
        size[b] = float(np.median(m.sum(axis=1) / m.shape[1]))
    fin = jac[np.isfinite(jac)]
    p025 = float(np.percentile(fin, 2.5)) if fin.size else float("nan")
    return [_row(base, layer, "ensemble_jaccard_mean", real),
            _row(base, layer, "ensemble_jaccard_null_p025", p025),
            _row(base, layer, "ensemble_jaccard_null_mean", float(fin.mean()) if fin.size else float("nan")),
            _row(base, layer, "ensemble_size_null_mean", float(size.mean())),
            _row(base, layer, "ensemble_size_null_low", float(np.percentile(size, 2.5))),
            _row(base, layer, "ensemble_size_null_high", float(np.percentile(size, 97.5)))]


def _input_floor(cfg) -> float:
    """The standardised value of a black pixel (the layer-1 input that means "nothing"), from the dataset itself."""
    from ensembles.data import load_dataset

    raw = np.asarray(load_dataset(cfg.data.dataset, "test", root=cfg.data.root, normalize="none",
                                  download=False).x)
    norm = np.asarray(load_dataset(cfg.data.dataset, "test", root=cfg.data.root, normalize=cfg.data.normalize,
                                   download=False).x)
    zero = raw == 0
    return float(np.median(norm[zero])) if zero.any() else float(norm.min())


def _inhibition_rows(run_dir: Path, sel, base: dict) -> list[dict]:
    """Why silent units are silent (docs/reproduction-v2.md section 5), per layer, on the selected presentations."""
    import torch

    from ensembles.data import load_dataset
    from ensembles.models.ff import FFNet
    from ensembles.train import layer_inputs, layer_parameters, load_model

    model, cfg = load_model(run_dir)
    params = layer_parameters(model)
    ds = load_dataset(cfg.data.dataset, "test", root=cfg.data.root, normalize=cfg.data.normalize, download=False)
    index = {sid: i for i, sid in enumerate(np.asarray(ds.stimulus_ids))}
    img = np.asarray(ds.x)[[index[s] for s in np.asarray(sel["stimulus_id"].values)]].reshape(sel.sizes["presentation"], -1)
    emb = np.asarray(sel["embedded_label"].values) if isinstance(model, FFNet) else None
    outs = layer_inputs(model, img, emb)
    if isinstance(model, FFNet):
        with torch.no_grad():
            first = model.embed(torch.as_tensor(img, dtype=torch.float32), torch.as_tensor(emb)).numpy()
    else:
        first = img.astype(np.float32)
    inputs = [first] + [o["activity"] for o in outs[:-1]]
    floors = [_input_floor(cfg)] + [0.0] * (len(outs) - 1)
    rows = []
    for k, (p, x, f, o) in enumerate(zip(params, inputs, floors, outs, strict=True)):
        kind = getattr(model.layers[k], "input_norm", "none") or "none"
        if kind not in ("l2", "none"):
            raise ParameterError(f"The E/I split by weight sign supports L2 or no input normalisation; layer {k + 1} "
                                 f"of {str(run_dir)!r} uses {kind!r}.")
        cur = ei_currents(np.asarray(x, dtype=np.float64), p["weight"], p["bias"], floor=f, normalize=kind)
        pre = cur["excitatory"] + cur["inhibitory"] + cur["bias"]
        if not np.allclose(pre, o["current"], rtol=1e-3, atol=1e-4):
            raise DataFileError(f"The E/I split of layer {k + 1} of {str(run_dir)!r} does not add up to the layer's "
                                f"pre-activation (largest difference {float(np.abs(pre - o['current']).max()):.3g}).")
        r = silence_causes(cur)
        rows += [_row(base, k + 1, "silenced_by_inhibition", r["by_inhibition"]),
                 _row(base, k + 1, "silenced_by_bias", r["by_bias"]),
                 _row(base, k + 1, "ie_median", r["ie_median"]),
                 _row(base, k + 1, "fraction_silent_pairs", r["fraction_silent"])]
    return rows


def _zero_shot_rows(sel, k: int, base: dict, variant: str, rng: np.random.Generator, *, shuffled: bool,
                    reference=None) -> list[dict]:
    labels = np.asarray(sel["label"].values)
    ref_labels = None if reference is None else np.asarray(reference["label"].values)
    rows = []
    nan = float("nan")
    for layer in _layers(sel):
        if k not in labels:  # no selected presentation of k (none classified correctly): no test (NaN, not a pass)
            rows += [_row(base, layer, st, nan, variant) for st in ("zs_passes", "zs_accuracy", "zs_dprime", "zs_size")]
            rows += [_row(base, layer, "zs_shuffled_passes", nan, variant)] if shuffled else []
            continue
        a = _layer(sel, layer)
        t = zero_shot_test(a, labels, k, tau=TAU, **ZERO_SHOT_THRESHOLDS)
        rows += [_row(base, layer, "zs_passes", t.passes, variant), _row(base, layer, "zs_accuracy", t.accuracy, variant),
                 _row(base, layer, "zs_dprime", t.median_dprime, variant), _row(base, layer, "zs_size", t.size, variant)]
        if shuffled:
            ts = zero_shot_test(a, rng.permutation(labels), k, tau=TAU, **ZERO_SHOT_THRESHOLDS)
            rows.append(_row(base, layer, "zs_shuffled_passes", ts.passes, variant))
        if reference is not None and k not in ref_labels:  # the comparison is undefined (NaN; not judged)
            rows += [_row(base, layer, st, nan, variant) for st in ("zs_size_ratio", "zs_jaccard", "zs_chance_jaccard")]
        elif reference is not None:
            held = category_ensembles(a, labels, rule="paper", tau=TAU, by_layer=False)
            ref = category_ensembles(_layer(reference, layer), np.asarray(reference["label"].values), rule="paper",
                                     tau=TAU, by_layer=False)
            c = compare_to_reference(_as_categories(held, labels), _as_categories(ref, reference["label"].values), k)
            rows += [_row(base, layer, "zs_size_ratio", c.size_ratio, variant),
                     _row(base, layer, "zs_jaccard", c.jaccard, variant),
                     _row(base, layer, "zs_chance_jaccard", c.chance_jaccard, variant)]
    return rows


def _as_categories(members, labels):
    """Membership rows labelled by their class (rows follow the sorted unique labels)."""
    import xarray as xr

    m = np.asarray(getattr(members, "values", members), dtype=bool)
    return xr.DataArray(m, dims=("category", "neuroid"), coords={"category": np.unique(np.asarray(labels))})


def _trajectory_rows(rec, base: dict, ff_style: bool, random_state: int) -> list[dict]:
    n_ckpt = rec.sizes.get("checkpoint", 1)
    ids = np.unique(np.asarray(rec["stimulus_id"].values))
    keep = set(np.random.default_rng(random_state).permutation(ids)[:TRAJECTORY_SUBSAMPLE].tolist())
    rows = []
    for c in range(n_ckpt):
        every = _by_label_condition(select_presentations(rec, checkpoint=c, correct_only=False), ff_style)[""]
        acc = float(np.mean(np.asarray(every["correct"].values)))
        sel = _by_label_condition(select_presentations(rec, checkpoint=c), ff_style)[""]
        sub = sel.isel(presentation=np.flatnonzero([s in keep for s in np.asarray(sel["stimulus_id"].values)]))
        sub = sub.load()
        epoch = int(np.asarray(sub["epoch"].values)) if "epoch" in sub.coords else c
        head = {**base, "checkpoint": c, "epoch": epoch, "accuracy": acc}
        labels = np.asarray(sub["label"].values)
        for layer in _layers(sub):
            a = _layer(sub, layer)
            h_resp = responsive_hoyer(a)[0]
            h = np.asarray(population_sparseness(a, "hoyer"), dtype=float)
            h = h[np.isfinite(h)]
            spec = ensemble_specificity(_members(a, labels)) if np.unique(labels).size >= 2 else float("nan")
            for stat, v in (("hoyer_responsive", h_resp), ("hoyer", h.mean() if h.size else float("nan")),
                            ("ensemble_jaccard_mean", spec)):
                rows.append({**head, "layer": layer, "statistic": stat, "value": float(v)})
    return rows


def run_statistics_v2(run_dir: str | Path, *, condition: str, reference_dir: str | Path | None = None,
                      classes: tuple[int, ...] | None = None, inhibition: bool = True,
                      n_shuffles: int = N_NULL_SHUFFLES, random_state: int = 0) -> tuple[list[dict], list[dict]]:
    """v2 rows (``condition, model, seed, variant, lr, layer, statistic, value``) and trajectory rows of one run.

    Parameters
    ----------
    run_dir : a finished run of the reproduction.
    condition : ``"baseline"``, or a v2 condition (``"zero_shot"``, ``"reference"``).
    reference_dir : for a ``zero_shot`` run, the ``reference`` run of the same model and seed (optional; without it
        the held-out vs reference rows are left out).
    classes : for a ``reference`` run, the classes whose zero-shot test is the positive control (default: the
        dataset's :data:`~ensembles.reproduction.plan.ZERO_SHOT_CLASSES`).
    inhibition : compute the silence-cause rows of a baseline run (loads the model; needs torch).
    n_shuffles : shuffled-label permutations of the ensemble null (baseline runs).
    random_state : seed of the permutations and of the trajectory subsample.

    Returns
    -------
    (rows, trajectory_rows); trajectory rows (``reference`` runs only) have ``checkpoint, epoch, accuracy`` beside
    the columns of ``rows``.
    """
    if condition not in ("baseline", *V2_CONDITIONS):
        raise ParameterError(f"The 'condition' parameter must be 'baseline' or one of {V2_CONDITIONS}. "
                             f"Got {condition!r}.")
    if isinstance(n_shuffles, bool) or not isinstance(n_shuffles, int) or n_shuffles < 1:
        raise ParameterError(f"The 'n_shuffles' parameter must be a positive integer. Got {n_shuffles!r} instead.")
    run_dir = Path(run_dir)
    cfg = _config(run_dir)
    model = cfg["model"]
    ff_style = model in ("ff", "bp_ff")
    base = {"condition": condition, "model": model, "seed": int(cfg["seed"]), "variant": "",
            "lr": float(cfg["train"]["lr"])}
    rng = np.random.default_rng(random_state)
    rec = load_recording(RunLayout(run_dir).recording)
    sel_all = select_presentations(rec, checkpoint=-1).load()
    by_cond = _by_label_condition(sel_all, ff_style)
    rows: list[dict] = []
    traj: list[dict] = []
    if condition == "baseline":
        sel = by_cond[""]
        labels = np.asarray(sel["label"].values)
        for layer in _layers(sel):
            a = _layer(sel, layer)
            h, silent, zero = responsive_hoyer(a)
            rows += [_row(base, layer, "hoyer_responsive", h), _row(base, layer, "fraction_silent_units", silent),
                     _row(base, layer, "fraction_zero_presentations", zero)]
            rows += _ensemble_rows(a, labels, base, layer, n_shuffles, rng)
        if inhibition:
            rows += _inhibition_rows(run_dir, sel, base)
    elif condition == "zero_shot":
        held = list(cfg["data"].get("held_out") or [])
        if len(held) != 1:
            raise DataFileError(f"A zero_shot run holds out exactly one class; {str(run_dir)!r} holds out {held}.")
        k = int(held[0])
        ref_by_cond = {}
        if reference_dir is not None:
            ref_cfg = _config(Path(reference_dir))
            if ref_cfg["model"] != model or int(ref_cfg["seed"]) != base["seed"] or ref_cfg["data"].get("held_out"):
                raise ParameterError(f"The 'reference_dir' parameter must be a ten-class run of model {model!r} and "
                                     f"seed {base['seed']}. Got {str(reference_dir)!r}.")
            ref_rec = load_recording(RunLayout(Path(reference_dir)).recording)
            ref_by_cond = _by_label_condition(select_presentations(ref_rec, checkpoint=-1).load(), ff_style)
        for suffix, sel in by_cond.items():
            rows += _zero_shot_rows(sel, k, base, f"c{k}{suffix}", rng, shuffled=True,
                                    reference=ref_by_cond.get(suffix))
    else:  # reference
        if classes is None:
            ds = cfg["data"]["dataset"]
            if ds not in ZERO_SHOT_CLASSES:
                raise ParameterError(f"The 'classes' parameter is needed for dataset {ds!r} (no held-out classes "
                                     "chosen in advance).")
            classes = ZERO_SHOT_CLASSES[ds]
        for suffix, sel in by_cond.items():
            for k in classes:
                rows += _zero_shot_rows(sel, int(k), base, f"c{int(k)}{suffix}", rng, shuffled=False)
        traj = _trajectory_rows(rec, base, ff_style, random_state)
    return rows, traj


def _same_training(a: dict, b: dict) -> bool:
    """Same model, seed, dataset, training images, learning rate and network: all but the held-out class."""
    keys = (("model",), ("seed",), ("data", "dataset"), ("data", "train_subsample"), ("train", "lr"),
            ("train", "epochs"), ("network", "hidden"))

    def get(d, path):
        for k in path:
            d = (d or {}).get(k)
        return d

    return all(get(a, k) == get(b, k) for k in keys)


def find_reference(run_dir: str | Path, candidates) -> Path | None:
    """The ``reference`` run (ten classes) trained like the ``zero_shot`` run ``run_dir`` apart from the held-out
    class: same model, seed, dataset, training images, learning rate, epochs and widths; None if there is none."""
    cfg = _config(Path(run_dir))
    hits = [Path(c) for c in candidates
            if not (_config(Path(c))["data"].get("held_out")) and _same_training(cfg, _config(Path(c)))]
    if len(hits) > 1:
        raise DataFileError(f"Several reference runs match {str(run_dir)!r}: {[str(h) for h in hits]}.")
    return hits[0] if hits else None
