"""Tables combined from other tables: the headline row per model × layer, and any statistic aggregated across seeds
(Student-t interval; Cumming, Fidler & Vaux 2007)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ensembles.errors import ParameterError

__all__ = ["headline_table", "across_seeds"]


def headline_table(by_layer: pd.DataFrame, sizes: pd.DataFrame, overlap: pd.DataFrame,
                   accuracy: Mapping[str, float | None], *, alpha: float = 0.05) -> pd.DataFrame:
    """One row per model × layer: accuracy, mean Hoyer with its CI, beside it the % of silent neuroids and the mean
    Hoyer over the responsive neuroids and lifetime Hoyer (over all and responsive neuroids; NaN for tables without
    these columns), median ensemble size (and % of the layer) and median size under shuffled labels, mean
    off-diagonal overlap, number of overlapping and significantly overlapping class pairs (q < ``alpha``)."""
    rows = []
    if not len(by_layer):
        return pd.DataFrame()
    for _, r in by_layer.iterrows():
        m, layer = r["model"], r["layer"]
        s = sizes[(sizes["model"] == m) & (sizes["layer"] == layer)] if len(sizes) else sizes
        o = overlap[(overlap["model"] == m) & (overlap["layer"] == layer)] if len(overlap) else overlap
        upper = o[o["label_a"] < o["label_b"]] if len(o) else o
        sig = upper[(upper["q"] < alpha) & (upper["overlap"] > 0)] if len(upper) else upper
        acc = accuracy.get(m)
        rows.append({
            "model": m, "layer": int(layer), "accuracy": np.nan if acc is None else acc, "hoyer": r["mean"],
            "hoyer_ci": f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]",
            "pct_silent": 100 * float(r.get("fraction_silent_neuroids", np.nan)),
            "hoyer_responsive": float(r.get("mean_responsive", np.nan)),
            "lifetime_hoyer": float(r.get("lifetime_mean", np.nan)),
            "lifetime_hoyer_responsive": float(r.get("lifetime_mean_responsive", np.nan)),
            "median_ensemble_size": float(s["size"].median()) if len(s) else np.nan,
            "median_ensemble_pct": 100 * float(s["fraction"].median()) if len(s) else np.nan,
            "median_null_size": float(s["null_size"].median()) if len(s) and "null_size" in s else np.nan,
            "mean_overlap": float(upper["overlap"].mean()) if len(upper) else np.nan,
            "pairs_overlapping": int((upper["overlap"] > 0).sum()) if len(upper) else 0,
            "pairs_significant": int(len(sig)), "pairs_total": int(len(upper)),
            "significant_pairs": ", ".join(f"{a}–{b} ({int(v)})" for a, b, v in
                                           zip(sig["class_a"], sig["class_b"], sig["overlap"], strict=True))
            if len(sig) else "",
        })
    return pd.DataFrame(rows)


def across_seeds(df: pd.DataFrame, by: list[str], *, value: str = "value", seed: str = "seed",
                 confidence: float = 0.95) -> pd.DataFrame:
    """Aggregate ``df[value]`` across seeds within each group of ``by``.

    Returns the ``by`` columns, then ``n_seeds`` (finite values in the group; one per run), ``seeds``
    (";"-separated), ``mean``, ``sd`` (sample SD, ddof = 1), ``sem`` (SD/√n), ``ci_low``, ``ci_high`` (mean ∓
    t_{(1+confidence)/2, n−1} · SEM; Cumming, Fidler & Vaux 2007, J Cell Biol 177:7), ``min``, ``max`` and
    ``epochs`` (the final epochs of the runs, when ``df`` has an ``epoch`` column).  SD, SEM and the CI are NaN when
    n_seeds < 2: with the 2-10 seeds of a typical sweep a t-interval is used rather than a bootstrap.
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ParameterError(f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead.")
    missing = [c for c in [*by, value] if c not in df.columns]
    if missing:
        raise ParameterError(f"The 'df' parameter must have columns {[*by, value]}; missing {missing}")
    rows = []
    for key, g in df.groupby(by, sort=False, dropna=False) if by else [((), df)]:
        key = key if isinstance(key, tuple) else (key,)
        v = pd.to_numeric(g[value], errors="coerce").to_numpy(float)
        fin = np.isfinite(v)
        ok = v[fin]
        n = int(ok.size)
        mean = float(ok.mean()) if n else np.nan
        sd = float(ok.std(ddof=1)) if n > 1 else np.nan
        sem = sd / np.sqrt(n) if n > 1 else np.nan
        half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sem if n > 1 else np.nan
        row = dict(zip(by, key, strict=True))
        seeds = g[seed][fin].tolist() if seed in g.columns else []
        row.update({"n_seeds": n, "seeds": ";".join(_fmt(s) for s in seeds), "mean": mean, "sd": sd, "sem": sem,
                    "ci_low": mean - half, "ci_high": mean + half,
                    "min": float(ok.min()) if n else np.nan, "max": float(ok.max()) if n else np.nan})
        if "epoch" in g.columns:
            row["epochs"] = ";".join(_fmt(e) for e in dict.fromkeys(g["epoch"].tolist()))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
