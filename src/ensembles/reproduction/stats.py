"""Per-run statistics of the reproduction: a composition of the public analysis API (nothing is computed here).

For each finished run directory, :func:`run_statistics` returns the rows of the statistics table that
:func:`ensembles.reproduction.verdicts.claims_table` judges (docs/reproduction.md, section 2), plus what the pooled
test of claim C5 needs (FF layer 1's significant-pair matrix). Presentations are chosen only by
:func:`ensembles.select_presentations`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembles.analysis.ensembles import category_ensembles, ensemble_overlap
from ensembles.analysis.inhibition import input_currents, silenced_share
from ensembles.analysis.pairs import significant_pairs
from ensembles.analysis.stability import checkpoint_stability, stability_checkpoints
from ensembles.analysis.summary import summarize
from ensembles.analysis.zero_shot import held_out_ensemble
from ensembles.errors import DataFileError
from ensembles.layout import RunLayout
from ensembles.record import load_recording, select_layer, select_presentations
from ensembles.reproduction.plan import HELD_OUT_CLASS

__all__ = ["run_statistics"]

ALPHA = 0.05


def _read_config(run_dir: Path) -> dict:
    from ensembles.train import load_config

    path = RunLayout(run_dir).config
    if not path.is_file():
        raise DataFileError(f"The run directory {str(run_dir)!r} has no {path.name}; is it a finished run?")
    return load_config(path).to_dict()


def _row(base: dict, layer: int, statistic: str, value: Any) -> dict:
    return {**base, "layer": int(layer), "statistic": statistic, "value": float(value)}


def _inhibition_rows(run_dir: Path, sel, base: dict) -> list[dict]:
    """Share of silent unit-presentations silenced by inhibition, per layer (weights and inputs from the run)."""
    from ensembles.data import load_dataset
    from ensembles.train import layer_inputs, layer_parameters, load_model

    model, cfg = load_model(run_dir)
    params = layer_parameters(model)
    ds = load_dataset(cfg.data.dataset, "test", root=cfg.data.root, normalize=cfg.data.normalize, download=False)
    index = {sid: i for i, sid in enumerate(np.asarray(ds.stimulus_ids))}
    sids = np.asarray(sel["stimulus_id"].values)
    img = np.asarray(ds.x)[[index[s] for s in sids]]
    emb = np.asarray(sel["embedded_label"].values) if cfg.model in ("ff", "bp_ff") else None
    rows = []
    for k, (p, o) in enumerate(zip(params, layer_inputs(model, img, emb), strict=True)):
        cur = input_currents(p["weight"], o["normalized_input"], normalize="none")
        e, i = cur.excitatory, cur.inhibitory
        rows.append(_row(base, k + 1, "silenced_share", silenced_share(e, i, p["bias"])))
    return rows


def run_statistics(run_dir: str | Path, *, condition: str, inhibition: bool = False, stability: bool = True,
                   random_state: int = 0) -> tuple[list[dict], dict]:
    """Rows ``condition, model, seed, variant, lr, layer, statistic, value`` for one finished run, and extras.

    ``extras["significant_l1"]``: FF layer 1's boolean significant-overlap matrix (baseline runs).
    """
    run_dir = Path(run_dir)
    cfg = _read_config(run_dir)
    model = cfg["model"]
    held = list(cfg["data"].get("held_out") or [])
    variant = (cfg["data"].get("held_out_mode", "") if held and model != "bp" else "")
    base = {"condition": condition, "model": model, "seed": int(cfg["seed"]), "variant": variant,
            "lr": float(cfg["train"]["lr"])}
    metrics = json.loads(RunLayout(run_dir).metrics.read_text(encoding="utf-8"))
    rows = [_row(base, 0, "accuracy", metrics["test_accuracy"])]
    extras: dict = {}
    rec = load_recording(RunLayout(run_dir).recording)
    sel = select_presentations(rec, checkpoint=-1).load()
    layers = [int(v) for v in np.unique(np.asarray(rec["layer"].values))]
    if held:
        members = category_ensembles(sel["activity"], rule="paper", tau=1.0)
        for layer in layers:
            m = members.isel(neuroid=np.flatnonzero(np.asarray(members["layer"].values) == layer))
            r = held_out_ensemble(m, HELD_OUT_CLASS)
            rows += [_row(base, layer, "zero_shot_forms", r.forms), _row(base, layer, "zero_shot_fraction", r.fraction),
                     _row(base, layer, "zero_shot_max_jaccard", r.max_jaccard)]
        return rows, extras
    table = summarize(sel, measures=("population", "ensembles"), checkpoint=-1)
    for layer in layers:
        t = table[table["layer"] == layer]

        def pick(stat, agg, cls="all", t=t):
            v = t[(t["statistic"] == stat) & (t["aggregate"] == agg) & (t["class"] == cls)]["value"]
            return float(v.iloc[0]) if len(v) else float("nan")

        rows.append(_row(base, layer, "hoyer", pick("population_hoyer", "mean")))
        rows.append(_row(base, layer, "ensemble_median_fraction", pick("ensemble_fraction", "median")))
        sizes = t[(t["statistic"] == "ensemble_size") & (t["aggregate"] == "count")]["value"]
        rows.append(_row(base, layer, "ensemble_min_size", sizes.min() if len(sizes) else float("nan")))
        ov = ensemble_overlap(category_ensembles(select_layer(sel, layer)["activity"], rule="paper", tau=1.0))
        sig = significant_pairs(ov, alpha=ALPHA)
        rows.append(_row(base, layer, "n_significant_pairs", sig.count))
        if layer == 1:  # aligned to every class of the test set (a class with no correct presentation: empty)
            classes = np.unique(np.asarray(rec["label"].values)).tolist()
            pos = {c: k for k, c in enumerate(classes)}
            ov1 = ov.isel(layer=0) if "layer" in ov.dims else ov
            cats = [pos[c] for c in np.asarray(ov1[ov1["overlap"].dims[0]].values).tolist()]
            full = {name: np.full((len(classes), len(classes)), np.nan) for name in ("overlap", "q")}
            for name in full:
                full[name][np.ix_(cats, cats)] = np.asarray(ov1[name].values, dtype=float)
            matrix = np.zeros((len(classes), len(classes)), bool)
            matrix[np.ix_(cats, cats)] = sig.matrix
            extras.update(significant_l1=matrix, significant_pairs_l1=sig.pairs, overlap_l1=full["overlap"],
                          q_l1=full["q"])
    if stability and "checkpoint" in rec.dims and rec.sizes["checkpoint"] >= 2:
        epochs = [int(e) for e in np.asarray(rec["epoch"].values)]
        for layer in layers:
            k_prev, k_last = stability_checkpoints(epochs, cfg, layer)
            prev = select_layer(select_presentations(rec, checkpoint=k_prev), layer).load()
            last = select_layer(select_presentations(rec, checkpoint=k_last), layer).load()
            st = checkpoint_stability(prev, last, random_state=random_state)
            for _, r in st.iterrows():
                name = "stable_hoyer" if r["statistic"] == "hoyer" else "stable_ensemble"
                rows.append(_row(base, layer, name, r["stable"]))
                rows.append(_row(base, layer, f"change_{r['statistic']}", r["change"]))
                rows.append(_row(base, layer, f"halfwidth_{r['statistic']}", r["half_width"]))
    if inhibition:
        rows += _inhibition_rows(run_dir, sel, base)
    return rows, extras


def statistics_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["condition", "model", "seed", "variant", "lr", "layer", "statistic", "value"])
