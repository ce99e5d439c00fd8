"""The pre-registered verdict rules of docs/reproduction.md (section 4), as pure functions of a statistics table.

Input: a tidy table of per-run statistics with columns ``condition`` (``"baseline"``, ``"held_out"``,
``"lr_grid"``), ``model`` (``"ff"``, ``"bp_ff"``, ``"bp"``), ``seed``, ``variant`` (``"strict"``/``"loose"`` for
held-out runs, else ``""``), ``lr``, ``layer`` (1-based; 0 for run-level statistics), ``statistic`` and ``value``.
Statistics used (all computed by the public analysis API in the reproduction workflow):

==============================  =====================================================================
``accuracy``                    test accuracy (layer 0)
``hoyer``                       population Hoyer sparseness, mean over correct presentations
``ensemble_median_fraction``    median over categories of the LOO (tau = 1) ensemble size / layer units
``ensemble_min_size``           smallest category ensemble (units)
``n_significant_pairs``         category pairs with BH q < 0.05 (hypergeometric overlap test)
``silenced_share``              share of silent (presentation, unit) pairs silenced by inhibitory input
``zero_shot_forms``             1 if the held-out class's ensemble forms (section 4, C6), else 0
``stable_hoyer``, ``stable_ensemble``  1 if the statistic is stable over the last two checkpoints (section 3)
==============================  =====================================================================

Pooled inputs that are not per run (``pooled``): ``similar_pairs_p`` (C5 b permutation p-value), and
``n_significant_similar`` / ``n_significant`` (counts behind it).

A rule is applied exactly as written in docs/reproduction.md; the reasons for each threshold are given there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ensembles.analysis import Result
from ensembles.analysis.runs import difference_interval, seed_interval
from ensembles.errors import ParameterError

__all__ = ["VERDICTS", "CLAIMS", "AUTHORS", "claims_table", "check_stats_table"]

REPRODUCED, PARTLY, NOT, UNTESTABLE = "reproduced", "partly", "not reproduced", "untestable"
VERDICTS = (REPRODUCED, PARTLY, NOT, UNTESTABLE)
COLUMNS = ("condition", "model", "seed", "variant", "lr", "layer", "statistic", "value")
LAYERS = (1, 2, 3)
DENSE_MAX = 0.60            # C2: upper end of the authors' BP Hoyer range (MNIST L1)
COLLAPSE_MAX = 0.32         # C3: upper end of the authors' BP/FF layer-3 Hoyer range
FEW_PERCENT = 0.10          # C4: the authors' largest FF layer-1 ensemble (9.1 %) rounded up
FEW_PERCENT_PARTLY = 0.20
SMALL_OVERLAP_MAX = 9       # C5: 20 % of 45 pairs
ALPHA = 0.05
INHIBITION_MIN_DIFF = 0.10  # C7
MATCHED_ACCURACY = 0.02     # C9

CLAIMS = {
    "C1": "FF is sparse in every layer, most of all in layer 1",
    "C2": "BP is dense",
    "C3": "BP/FF is sparse in its early layers while its last layer collapses",
    "C4": "FF category ensembles hold a few percent of a layer's units",
    "C5": "FF ensembles overlap little, and only between visually similar classes",
    "C6": "category ensembles form for classes never seen in training",
    "C7": "FF and BP silence units through different inhibitory mechanisms",
    "C8": "accuracy orders BP > BP/FF > FF",
    "C9": "FF is sparser than BP at matched accuracy",
}

# the authors' numbers (their repository's stored notebook outputs, one run per configuration)
AUTHORS = {
    "fashion-mnist": {
        "C1": "FF Hoyer .829 / .580 / .767 (best run; another .725 / .512 / .479)",
        "C2": "BP Hoyer .347 / .238 / .246",
        "C3": "BP/FF Hoyer .66–.94 / .81–.85 / .016–.17",
        "C4": "22–91 of 1000 units (median 6.1 %)",
        "C5": "4 of 45 pairs (T-shirt–Shirt, Pullover–Coat, Pullover–Shirt, Coat–Shirt)",
        "C6": "claimed in the text; no stored numbers",
        "C7": "claimed in the text; no stored numbers",
        "C8": "BP .881–.896 > BP/FF .870–.878 > FF .810–.850",
        "C9": "not tested by the authors (BP at high lr noted as sparse)",
    },
    "mnist": {
        "C1": "FF Hoyer L1 .768–.856, L2 .576–.688, L3 .457–.756",
        "C2": "BP Hoyer .30–.60 / .19–.46 / .21–.40",
        "C3": "BP/FF Hoyer .91–.96 / .67–.83 / .03–.32",
        "C4": "F-MNIST only: 22–91 of 1000 units (median 6.1 %)",
        "C5": "F-MNIST only: 4 of 45 pairs, all upper-body garments",
        "C6": "claimed in the text; no stored numbers",
        "C7": "claimed in the text; no stored numbers",
        "C8": "BP .977–.986 > BP/FF .970–.973 > FF .930–.959",
        "C9": "BP lr 1e-2 run: Hoyer .97 / .86 / .78 at accuracy .944",
    },
}


def check_stats_table(stats: pd.DataFrame) -> pd.DataFrame:
    """Validate the statistics table (columns, value types); returns it with ``layer``/``seed`` as int."""
    if not isinstance(stats, pd.DataFrame):
        raise ParameterError(f"The 'stats' parameter must be a pandas DataFrame. Got {type(stats).__name__} instead.")
    missing = [c for c in COLUMNS if c not in stats.columns]
    if missing:
        raise ParameterError(f"The 'stats' table must have the columns {list(COLUMNS)}; missing {missing}.")
    out = stats.copy()
    out["layer"] = out["layer"].astype(int)
    out["seed"] = out["seed"].astype(int)
    out["variant"] = out["variant"].fillna("").astype(str)
    out["value"] = pd.to_numeric(out["value"], errors="raise").astype(float)
    return out


def _vals(stats: pd.DataFrame, statistic: str, model: str, *, layer: int = 0, condition: str = "baseline",
          variant: str = "", lr: float | None = None) -> np.ndarray:
    sel = ((stats["statistic"] == statistic) & (stats["model"] == model) & (stats["layer"] == layer)
           & (stats["condition"] == condition) & (stats["variant"] == variant))
    if lr is not None:
        sel &= np.isclose(stats["lr"].astype(float), lr)
    return stats.loc[sel].sort_values("seed")["value"].to_numpy(float)


def _has_interval(iv: Result) -> bool:
    """An interval exists only with at least 2 seeds: otherwise a rule that needs it is untestable."""
    return bool(np.isfinite(iv.low) and np.isfinite(iv.high))


def _fmt(iv: Result, pct: bool = False) -> str:
    k, suffix = (100.0, " %") if pct else (1.0, "")
    if not np.isfinite(iv.estimate):
        return "n/a"
    if not np.isfinite(iv.low):
        return f"{iv.estimate * k:.3g}{suffix} (n = {iv.n})"
    return f"{iv.estimate * k:.3f} [{iv.low * k:.3f}, {iv.high * k:.3f}]{suffix}"


def _stabilised(stats: pd.DataFrame, keys: list[tuple[str, str, int]], condition: str = "baseline") -> bool | None:
    """True when every (statistic, model, layer) is stable in at least 2/3 of its seeds; None if not recorded."""
    seen = False
    for stat, model, layer in keys:
        v = _vals(stats, stat, model, layer=layer, condition=condition)
        if v.size == 0:
            continue
        seen = True
        if np.mean(v) < 2 / 3 - 1e-9:
            return False
    return True if seen else None


def _row(cid: str, measured: str, verdict: str, dataset: str, stabilised: bool | None, detail: str) -> dict:
    fam = "fashion-mnist" if dataset.startswith("fashion") else "mnist"
    return {"claim": cid, "statement": CLAIMS[cid], "measured": measured, "authors": AUTHORS[fam][cid],
            "verdict": verdict, "stabilised": stabilised, "detail": detail}


def _c1(s, ds):
    ff = {layer: seed_interval(_vals(s, "hoyer", "ff", layer=layer)) for layer in LAYERS}
    diff = {layer: difference_interval(_vals(s, "hoyer", "ff", layer=layer), _vals(s, "hoyer", "bp", layer=layer))
            for layer in LAYERS}
    above = {layer: diff[layer].above_zero for layer in LAYERS}
    l1_max = ff[1].estimate > ff[2].estimate and ff[1].estimate > ff[3].estimate
    if not all(_has_interval(d) for d in diff.values()):
        verdict = UNTESTABLE
    elif all(above.values()) and l1_max:
        verdict = REPRODUCED
    elif above[1] or all(above.values()):
        verdict = PARTLY
    else:
        verdict = NOT
    measured = "FF Hoyer " + " / ".join(_fmt(ff[layer]) for layer in LAYERS)
    detail = "; ".join(f"L{layer} FF−BP {_fmt(diff[layer])}" for layer in LAYERS) + \
        f"; layer 1 sparsest: {'yes' if l1_max else 'no'}"
    stab = _stabilised(s, [("stable_hoyer", m, layer) for m in ("ff", "bp") for layer in LAYERS])
    return _row("C1", measured, verdict, ds, stab, detail)


def _c2(s, ds):
    bp = {layer: seed_interval(_vals(s, "hoyer", "bp", layer=layer)) for layer in LAYERS}
    bound_ok = [np.isfinite(bp[layer].high) and bp[layer].high <= DENSE_MAX for layer in LAYERS]
    mean_ok = [np.isfinite(bp[layer].estimate) and bp[layer].estimate <= DENSE_MAX for layer in LAYERS]
    if not all(_has_interval(bp[layer]) for layer in LAYERS):
        verdict = UNTESTABLE
    elif all(bound_ok):
        verdict = REPRODUCED
    elif all(mean_ok) or any(bound_ok):
        verdict = PARTLY
    else:
        verdict = NOT
    measured = "BP Hoyer " + " / ".join(_fmt(bp[layer]) for layer in LAYERS)
    detail = f"dense = upper 95 % bound ≤ {DENSE_MAX}"
    return _row("C2", measured, verdict, ds, _stabilised(s, [("stable_hoyer", "bp", layer) for layer in LAYERS]),
                detail)


def _c3(s, ds):
    bf = {layer: seed_interval(_vals(s, "hoyer", "bp_ff", layer=layer)) for layer in LAYERS}
    diff = {layer: difference_interval(_vals(s, "hoyer", "bp_ff", layer=layer), _vals(s, "hoyer", "bp", layer=layer))
            for layer in (1, 2)}
    early = diff[1].above_zero and diff[2].above_zero
    collapse = bool(np.isfinite(bf[3].estimate) and bf[3].estimate <= COLLAPSE_MAX)
    if not (_has_interval(diff[1]) and _has_interval(diff[2])):
        verdict = UNTESTABLE
    else:
        verdict = REPRODUCED if (early and collapse) else PARTLY if (early or collapse) else NOT
    measured = "BP/FF Hoyer " + " / ".join(_fmt(bf[layer]) for layer in LAYERS)
    detail = (f"early sparse (BP/FF−BP > 0 in L1, L2): {'yes' if early else 'no'} "
              f"(L1 {_fmt(diff[1])}, L2 {_fmt(diff[2])}); L3 collapsed (≤ {COLLAPSE_MAX}): {'yes' if collapse else 'no'}")
    stab = _stabilised(s, [("stable_hoyer", "bp_ff", layer) for layer in LAYERS])
    return _row("C3", measured, verdict, ds, stab, detail)


def _c4(s, ds):
    med = seed_interval(_vals(s, "ensemble_median_fraction", "ff", layer=1))
    mins = _vals(s, "ensemble_min_size", "ff", layer=1)
    nonempty = bool(mins.size and np.all(mins > 0))
    if not _has_interval(med):
        verdict = UNTESTABLE
    elif np.isfinite(med.high) and med.high <= FEW_PERCENT and nonempty:
        verdict = REPRODUCED
    elif med.estimate <= FEW_PERCENT_PARTLY:
        verdict = PARTLY
    else:
        verdict = NOT
    detail = f"every category non-empty in every seed: {'yes' if nonempty else 'no'}"
    return _row("C4", "FF L1 median ensemble " + _fmt(med, pct=True), verdict, ds,
                _stabilised(s, [("stable_ensemble", "ff", 1)]), detail)


def _c5(s, ds, pooled):
    n_sig = seed_interval(_vals(s, "n_significant_pairs", "ff", layer=1))
    p = float(pooled.get("similar_pairs_p", np.nan))
    n_all = pooled.get("n_significant", np.nan)
    small = bool(np.isfinite(n_sig.estimate) and n_sig.estimate <= SMALL_OVERLAP_MAX)
    similar = bool(np.isfinite(p) and p < ALPHA)
    if not np.isfinite(n_sig.estimate) or n_sig.n < 2:
        verdict = UNTESTABLE
    elif small and similar:
        verdict = REPRODUCED
    elif small or similar:
        verdict = PARTLY
    else:
        verdict = NOT
    if np.isfinite(n_sig.estimate) and (n_all == 0 or not np.isfinite(p)):
        detail = "no significant pair in any seed: similarity test untestable"
    else:
        detail = (f"{pooled.get('n_significant_similar', 'n/a')} of {n_all} significant pairs (all seeds) are among "
                  f"the 9 most similar pairs; permutation p = {p:.4g}")
    return _row("C5", f"FF L1 significant pairs {_fmt(n_sig)} of 45", verdict, ds,
                _stabilised(s, [("stable_ensemble", "ff", 1)]), detail)


def _c6(s, ds):
    rows = []
    for model, variant in (("ff", "strict"), ("ff", "loose"), ("bp_ff", "strict"), ("bp_ff", "loose"), ("bp", "")):
        v = _vals(s, "zero_shot_forms", model, layer=1, condition="held_out", variant=variant)
        if v.size == 0:
            verdict = UNTESTABLE
        elif np.all(v > 0.5):
            verdict = REPRODUCED
        elif np.any(v > 0.5):
            verdict = PARTLY
        else:
            verdict = NOT
        frac = seed_interval(_vals(s, "zero_shot_fraction", model, layer=1, condition="held_out", variant=variant))
        jac = _vals(s, "zero_shot_max_jaccard", model, layer=1, condition="held_out", variant=variant)
        if not v.size:
            detail = "no held-out runs (condition held_out not trained)"
        elif np.isfinite(jac).any():  # the rule's second condition, shown so that a reader sees why an ensemble
            # did not count (NaN where a seed formed no held-out ensemble at all)
            detail = (f"largest Jaccard with a seen class's ensemble {np.nanmin(jac):.2f}–{np.nanmax(jac):.2f} "
                      f"over seeds (rule: < 0.5)")
        elif jac.size:
            detail = "no held-out ensemble formed in any seed"
        else:
            detail = ""
        row = _row("C6", f"{int(np.sum(v > 0.5))} of {v.size} seeds; held-out ensemble {_fmt(frac, pct=True)}",
                   verdict, ds, None, detail)
        row["claim"] = f"C6 {model}{' ' + variant if variant else ''}"
        rows.append(row)
    return rows


def _c7(s, ds):
    diff = {layer: difference_interval(_vals(s, "silenced_share", "ff", layer=layer),
                                       _vals(s, "silenced_share", "bp", layer=layer)) for layer in LAYERS}

    def strong(d: Result) -> bool:
        return (d.above_zero or d.below_zero) and abs(d.estimate) >= INHIBITION_MIN_DIFF

    def reliable(d: Result) -> bool:
        return d.above_zero or d.below_zero

    if not _has_interval(diff[1]):
        verdict = UNTESTABLE
    elif strong(diff[1]):
        verdict = REPRODUCED
    elif reliable(diff[1]) or strong(diff[2]) or strong(diff[3]):
        verdict = PARTLY
    else:
        verdict = NOT
    ff = seed_interval(_vals(s, "silenced_share", "ff", layer=1))
    bp = seed_interval(_vals(s, "silenced_share", "bp", layer=1))
    detail = "; ".join(f"L{layer} FF−BP {_fmt(diff[layer])}" for layer in LAYERS)
    return _row("C7", f"L1 share silenced by inhibition: FF {_fmt(ff)}, BP {_fmt(bp)}", verdict, ds, None, detail)


def _c8(s, ds):
    acc = {m: _vals(s, "accuracy", m) for m in ("ff", "bp_ff", "bp")}
    d1 = difference_interval(acc["bp"], acc["bp_ff"])
    d2 = difference_interval(acc["bp_ff"], acc["ff"])
    if not (_has_interval(d1) and _has_interval(d2)):
        verdict = UNTESTABLE
    elif d1.above_zero and d2.above_zero:
        verdict = REPRODUCED
    elif (d1.estimate > 0 and d2.estimate > 0) or d1.above_zero or d2.above_zero:
        verdict = PARTLY
    else:
        verdict = NOT
    measured = " / ".join(f"{name} {_fmt(seed_interval(acc[m]))}" for m, name in
                          (("bp", "BP"), ("bp_ff", "BP/FF"), ("ff", "FF")))
    return _row("C8", measured, verdict, ds, None, f"BP−BP/FF {_fmt(d1)}; BP/FF−FF {_fmt(d2)}")


def _c9(s, ds):
    grid = s[(s["condition"] == "lr_grid") & (s["statistic"] == "accuracy")]
    lrs = {m: sorted(set(grid.loc[grid["model"] == m, "lr"].astype(float))) for m in ("ff", "bp")}
    pairs, holds = [], []
    for lf in lrs["ff"]:
        af = seed_interval(_vals(s, "accuracy", "ff", condition="lr_grid", lr=lf)).estimate
        for lb in lrs["bp"]:
            ab = seed_interval(_vals(s, "accuracy", "bp", condition="lr_grid", lr=lb)).estimate
            if np.isfinite(af) and np.isfinite(ab) and abs(af - ab) <= MATCHED_ACCURACY:
                d = difference_interval(_vals(s, "hoyer", "ff", layer=1, condition="lr_grid", lr=lf),
                                        _vals(s, "hoyer", "bp", layer=1, condition="lr_grid", lr=lb))
                if not _has_interval(d):
                    continue
                pairs.append(f"FF lr {lf:g} ({af:.3f}) vs BP lr {lb:g} ({ab:.3f}): L1 FF−BP {_fmt(d)}")
                holds.append(d.above_zero)
    if not pairs:
        verdict = UNTESTABLE
    elif all(holds):
        verdict = REPRODUCED
    elif any(holds):
        verdict = PARTLY
    else:
        verdict = NOT
    measured = f"{sum(holds)} of {len(pairs)} matched pairs (|Δ accuracy| ≤ {MATCHED_ACCURACY})"
    if pairs:
        detail = "; ".join(pairs)
    elif not (lrs["ff"] and lrs["bp"]):
        detail = ("no learning-rate grid runs of both FF and BP (condition lr_grid not trained; "
                  "`ensembles reproduce --conditions baseline held_out lr_grid` trains it)")
    else:
        # shown, not judged: the nearest pair, so that a reader sees what the rule's accuracy match excluded
        best = None
        for lf in lrs["ff"]:
            af = seed_interval(_vals(s, "accuracy", "ff", condition="lr_grid", lr=lf)).estimate
            for lb in lrs["bp"]:
                ab = seed_interval(_vals(s, "accuracy", "bp", condition="lr_grid", lr=lb)).estimate
                if np.isfinite(af) and np.isfinite(ab) and (best is None or abs(af - ab) < best[0]):
                    best = (abs(af - ab), lf, af, lb, ab)
        detail = f"no FF and BP grid conditions within {MATCHED_ACCURACY} accuracy of each other"
        if best is not None:
            _, lf, af, lb, ab = best
            d = difference_interval(_vals(s, "hoyer", "ff", layer=1, condition="lr_grid", lr=lf),
                                    _vals(s, "hoyer", "bp", layer=1, condition="lr_grid", lr=lb))
            detail += (f"; nearest (not judged): FF lr {lf:g} ({af:.3f}) vs BP lr {lb:g} ({ab:.3f}), "
                       f"L1 FF−BP {_fmt(d)}")
    return _row("C9", measured, verdict, ds, None, detail)


def claims_table(stats: pd.DataFrame, *, dataset: str, pooled: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Apply every rule of docs/reproduction.md section 4; one row per claim (C6: one per model and variant).

    Columns: ``claim``, ``statement``, ``measured`` (mean and 95 % interval over seeds), ``authors``, ``verdict``
    (one of :data:`VERDICTS`), ``stabilised`` (True/False, or None where not applicable), ``detail``.
    """
    s = check_stats_table(stats)
    pooled = dict(pooled or {})
    rows = [_c1(s, dataset), _c2(s, dataset), _c3(s, dataset), _c4(s, dataset), _c5(s, dataset, pooled),
            *_c6(s, dataset), _c7(s, dataset), _c8(s, dataset), _c9(s, dataset)]
    return pd.DataFrame(rows, columns=["claim", "statement", "measured", "authors", "verdict", "stabilised", "detail"])
