"""The pre-registered verdict rules of protocol v2 (docs/reproduction-v2.md, section 7), as pure functions of tables.

Rows V1-V8 have the columns of :func:`ensembles.reproduction.verdicts.claims_table` (claim, statement, measured,
authors, verdict, stabilised, detail) and are reported beside v1's rows, never instead of them.

Inputs
------
``stats``: the statistics table of the reproduction (v1's per-run rows, with the v2 rows of
:func:`ensembles.reproduction.stats_v2.run_statistics_v2` appended; columns ``condition, model, seed, variant, lr,
layer, statistic, value``). v2 statistics (layer 1-3 unless said):

==================================  ======================================================================
``hoyer_responsive``                population Hoyer over the layer's responsive units (baseline)
``fraction_silent_units``           fraction of the layer's units silent on the selected presentations
``fraction_zero_presentations``     fraction of presentations with no active unit in the layer
``ensemble_jaccard_mean``           mean pairwise Jaccard of the category ensembles (specificity)
``ensemble_jaccard_null_p025``      its 2.5th percentile under shuffled labels (also ``_null_mean``)
``ensemble_size_null_mean``         median ensemble fraction under shuffled labels (also ``_low``/``_high``)
``silenced_by_inhibition``          share of silent pairs with E + I <= 0 (weight-sign split)
``ie_median``                       median I/E ratio
``zs_passes``, ``zs_accuracy``,     zero-shot test of a class (condition ``zero_shot``: the held-out class;
``zs_dprime``, ``zs_size``          ``reference``: the same class, trained); ``variant`` = ``c<k>`` (true label)
                                    or ``c<k>-nolabel`` (no label)
``zs_shuffled_passes``              the same test with shuffled labels (negative control)
``zs_size_ratio``, ``zs_jaccard``,  held-out vs reference ensemble of the class
``zs_chance_jaccard``
==================================  ======================================================================

v1's rows used: ``hoyer``, ``ensemble_median_fraction`` and their ``change_*`` (last two checkpoints).

``trajectories``: one row per reference run, checkpoint and statistic: ``model, seed, checkpoint, accuracy, layer,
statistic, value`` (statistic ``hoyer_responsive`` judged; ``hoyer``, ``ensemble_jaccard_mean`` reported).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ensembles.analysis import Result
from ensembles.analysis.matched import matched_accuracy
from ensembles.analysis.runs import difference_interval, seed_interval
from ensembles.analysis.stability import relative_stability
from ensembles.errors import ParameterError
from ensembles.reproduction.verdicts import check_stats_table

__all__ = ["V2_CLAIMS", "claims_table_v2", "ZERO_SHOT_THRESHOLDS"]

REPRODUCED, PARTLY, NOT, UNTESTABLE = "reproduced", "partly", "not reproduced", "untestable"
LAYERS = (1, 2, 3)
INHIBITION_MIN_DIFF = 0.10        # V7, as v1's C7
SIZE_RATIO = (0.5, 2.0)           # V6
DECODING_MARGIN = 0.10            # V6: held-out decoding >= reference - 0.10
DPRIME_FRACTION = 0.5             # V6: held-out median d' >= 0.5 x reference
EFFECT_FRACTION = 0.25            # V8
# zero_shot_test's thresholds (section 4), passed explicitly by stats_v2
ZERO_SHOT_THRESHOLDS = {"min_accuracy": 0.75, "min_dprime": 0.5}

V2_CLAIMS = {
    "V1": "FF is sparser than BP over responsive units (refines C1)",
    "V2": "FF's layer 1 is its sparsest layer, judged with intervals (refines C1)",
    "V3": "FF category ensembles exceed the shuffled-label null (refines C4, C5)",
    "V4": "FF is sparser than BP at matched accuracy (refines C9)",
    "V5": "a category ensemble forms for a class never seen in training, controlled (refines C6)",
    "V6": "the held-out ensemble is comparable to the same class trained on the same images (refines C6)",
    "V7": "FF and BP silence units through different mechanisms, E and I by the sign of the weight (refines C7)",
    "V8": "the statistics behind C1-C4 are stable relative to the spread across seeds (refines v1 section 3)",
}
NOT_BY_AUTHORS = "not tested by the authors"
COLUMNS = ["claim", "statement", "measured", "authors", "verdict", "stabilised", "detail"]


def _vals(s: pd.DataFrame, statistic: str, model: str, *, layer: int = 0, condition: str = "baseline",
          variant: str = "") -> pd.Series:
    sel = ((s["statistic"] == statistic) & (s["model"] == model) & (s["layer"] == layer)
           & (s["condition"] == condition) & (s["variant"] == variant))
    return s.loc[sel].drop_duplicates("seed", keep="last").set_index("seed")["value"].sort_index()


def _has(iv: Result) -> bool:
    return bool(np.isfinite(iv.low) and np.isfinite(iv.high))


def _fmt(iv: Result) -> str:
    if not np.isfinite(iv.estimate):
        return "n/a"
    if not np.isfinite(iv.low):
        return f"{iv.estimate:.3g} (n = {iv.n})"
    return f"{iv.estimate:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def _row(cid: str, measured: str, verdict: str, stabilised, detail: str, *, name: str | None = None,
         authors: str = NOT_BY_AUTHORS) -> dict:
    return {"claim": name or cid, "statement": V2_CLAIMS[cid], "measured": measured, "authors": authors,
            "verdict": verdict, "stabilised": stabilised, "detail": detail}


def _needed(n: int) -> int:
    """Seeds a pass must hold in: at least 2 and at least two thirds of them (2 of 3)."""
    return max(2, math.ceil(2 * n / 3))


# ---------------------------------------------------------------------------------------------------------------------
# stability (section 6), also the `stabilised` column of V1 and V2
# ---------------------------------------------------------------------------------------------------------------------
def _stability_items(s: pd.DataFrame) -> list[tuple[str, str, int, object]]:
    """(statistic, model, layer, relative_stability result) for every statistic V8 judges that has values."""
    out = []
    items = [("hoyer", m, layer) for m in ("ff", "bp_ff", "bp") for layer in LAYERS]
    items.append(("ensemble_median_fraction", "ff", 1))
    for stat, model, layer in items:
        last = _vals(s, stat, model, layer=layer)
        change = _vals(s, f"change_{stat}", model, layer=layer)
        both = pd.concat([last.rename("last"), change.rename("change")], axis=1, join="inner").dropna()
        if both.empty:
            continue
        effect = None
        if stat == "hoyer" and model in ("ff", "bp"):
            ff, bp = _vals(s, "hoyer", "ff", layer=layer), _vals(s, "hoyer", "bp", layer=layer)
            if len(ff) and len(bp):
                effect = float(ff.mean() - bp.mean())
        r = relative_stability((both["last"] - both["change"]).to_numpy(), both["last"].to_numpy(), effect=effect,
                               effect_fraction=EFFECT_FRACTION)
        out.append((stat, model, layer, r))
    return out


def _stabilised(items, keys: list[tuple[str, str, int]]) -> bool | None:
    got = [r.stable for stat, m, layer, r in items if (stat, m, layer) in keys and r.n >= 2]
    return None if not got else bool(all(got))


def _v8(items) -> dict:
    judged = [(stat, m, layer, r) for stat, m, layer, r in items if r.n >= 2]
    if not judged:
        return _row("V8", "no checkpoint changes recorded", UNTESTABLE, None,
                    "needs the per-seed change between the last two checkpoints (v1's stability statistics)")
    n_stable = sum(r.stable for *_, r in judged)
    verdict = REPRODUCED if n_stable == len(judged) else PARTLY if 2 * n_stable >= len(judged) else NOT
    unstable = [f"{m} L{layer} {stat} drift {r.drift:.3g} vs {r.scale:.3g}" for stat, m, layer, r in judged
                if not r.stable]
    detail = "not stable: " + "; ".join(unstable) if unstable else "every statistic stable"
    return _row("V8", f"{n_stable} of {len(judged)} statistics stable (drift ≤ max(SD over seeds, "
                      f"{EFFECT_FRACTION} × |effect|))", verdict, None, detail)


# ---------------------------------------------------------------------------------------------------------------------
# V1, V2, V3, V7: baseline runs
# ---------------------------------------------------------------------------------------------------------------------
def _v1(s, items) -> dict:
    diff = {la: difference_interval(_vals(s, "hoyer_responsive", "ff", layer=la),
                                    _vals(s, "hoyer_responsive", "bp", layer=la)) for la in LAYERS}
    above = [diff[la].above_zero for la in LAYERS]
    if not all(_has(d) for d in diff.values()):
        verdict = UNTESTABLE
    else:
        verdict = REPRODUCED if all(above) else PARTLY if any(above) else NOT
    ff = [seed_interval(_vals(s, "hoyer_responsive", "ff", layer=la)) for la in LAYERS]
    silent = {m: " / ".join(f"{100 * seed_interval(_vals(s, 'fraction_silent_units', m, layer=la)).estimate:.1f}"
                            for la in LAYERS) for m in ("ff", "bp")}
    zeros = {m: " / ".join(
        f"{100 * seed_interval(_vals(s, 'fraction_zero_presentations', m, layer=la)).estimate:.1f}"
        for la in LAYERS) for m in ("ff", "bp")}
    detail = ("; ".join(f"L{la} FF−BP {_fmt(diff[la])}" for la in LAYERS)
              + f"; silent units % FF {silent['ff']}, BP {silent['bp']}; all-zero presentations % FF {zeros['ff']}, "
                f"BP {zeros['bp']}")
    stab = _stabilised(items, [("hoyer", m, la) for m in ("ff", "bp") for la in LAYERS])
    return _row("V1", "FF responsive Hoyer " + " / ".join(_fmt(iv) for iv in ff), verdict, stab, detail,
                authors="not tested by the authors (their Hoyer counts silent units)")


def _v2(s, items) -> dict:
    h = {la: _vals(s, "hoyer", "ff", layer=la) for la in LAYERS}
    d = {}
    for la in (2, 3):
        both = pd.concat([h[1].rename("a"), h[la].rename("b")], axis=1, join="inner").dropna()
        d[la] = seed_interval((both["a"] - both["b"]).to_numpy())
    if not (_has(d[2]) and _has(d[3])):
        verdict = UNTESTABLE
    elif d[2].above_zero and d[3].above_zero:
        verdict = REPRODUCED
    elif (d[2].estimate > 0 and d[3].estimate > 0) or d[2].above_zero or d[3].above_zero:
        verdict = PARTLY
    else:
        verdict = NOT
    stab = _stabilised(items, [("hoyer", "ff", la) for la in LAYERS])
    return _row("V2", f"FF Hoyer L1−L2 {_fmt(d[2])}, L1−L3 {_fmt(d[3])}", verdict, stab,
                "paired by seed; 95 % t-intervals over seeds")


def _v3(s) -> dict:
    def seeds_pass(model, la):
        real = _vals(s, "ensemble_jaccard_mean", model, layer=la)
        null = _vals(s, "ensemble_jaccard_null_p025", model, layer=la)
        both = pd.concat([real.rename("r"), null.rename("n")], axis=1, join="inner")
        return (both["r"] < both["n"]).to_numpy(), both

    ok1, both1 = seeds_pass("ff", 1)
    if not ok1.size:
        return _row("V3", "no shuffled-label null computed", UNTESTABLE, None, "needs the v2 baseline statistics")
    every = {la: (lambda v: bool(v.size and v.all()))(seeds_pass("ff", la)[0]) for la in LAYERS}
    if every[1]:
        verdict = REPRODUCED
    elif ok1.any() or every[2] or every[3]:
        verdict = PARTLY
    else:
        verdict = NOT
    parts = []
    for model in ("ff", "bp_ff", "bp"):
        for la in LAYERS:
            size = seed_interval(_vals(s, "ensemble_median_fraction", model, layer=la)).estimate
            null = seed_interval(_vals(s, "ensemble_size_null_mean", model, layer=la)).estimate
            lo = seed_interval(_vals(s, "ensemble_size_null_low", model, layer=la)).estimate
            hi = seed_interval(_vals(s, "ensemble_size_null_high", model, layer=la)).estimate
            if np.isfinite(null):
                parts.append(f"{model} L{la} median ensemble {100 * size:.1f} % vs shuffled {100 * null:.1f} % "
                             f"[{100 * lo:.1f}, {100 * hi:.1f}]")
    measured = (f"FF L1 mean pairwise Jaccard below the null's 2.5th percentile in {int(ok1.sum())} of {ok1.size} "
                f"seeds (real {_fmt(seed_interval(both1['r'].to_numpy()))}, null 2.5th pct "
                f"{_fmt(seed_interval(both1['n'].to_numpy()))})")
    return _row("V3", measured, verdict, None, "; ".join(parts),
                authors="not tested by the authors (no null for ensemble sizes)")


def _v7(s) -> dict:
    diff = {la: difference_interval(_vals(s, "silenced_by_inhibition", "ff", layer=la),
                                    _vals(s, "silenced_by_inhibition", "bp", layer=la)) for la in LAYERS}

    def reliable(d):
        return d.above_zero or d.below_zero

    strong = [reliable(diff[la]) and abs(diff[la].estimate) >= INHIBITION_MIN_DIFF for la in LAYERS]
    rel = [reliable(diff[la]) for la in LAYERS]
    if not any(_has(d) for d in diff.values()):
        verdict = UNTESTABLE
    elif sum(strong) >= 2:
        verdict = REPRODUCED
    elif sum(strong) == 1 or sum(rel) >= 2:
        verdict = PARTLY
    else:
        verdict = NOT
    ie = {m: " / ".join(_fmt(seed_interval(_vals(s, "ie_median", m, layer=la))) for la in LAYERS)
          for m in ("ff", "bp")}
    share = {m: " / ".join(_fmt(seed_interval(_vals(s, "silenced_by_inhibition", m, layer=la))) for la in LAYERS)
             for m in ("ff", "bp")}
    detail = ("; ".join(f"L{la} FF−BP {_fmt(diff[la])}" for la in LAYERS)
              + f"; median I/E FF {ie['ff']}, BP {ie['bp']}")
    return _row("V7", f"share of silent pairs silenced by net inhibition: FF {share['ff']}; BP {share['bp']}",
                verdict, None, detail, authors="claimed in the text; no stored numbers")


# ---------------------------------------------------------------------------------------------------------------------
# V4: matched accuracy on the reference runs' trajectories
# ---------------------------------------------------------------------------------------------------------------------
def _v4(trajectories: pd.DataFrame | None) -> list[dict]:
    rows = []
    for other, name in (("bp", "V4"), ("bp_ff", "V4 bp_ff")):
        if trajectories is None or trajectories.empty or not {"ff", other} <= set(trajectories["model"]):
            rows.append(_row("V4", "no trajectories", UNTESTABLE, None,
                             "needs the reference runs (`--conditions ... reference`)", name=name))
            continue
        tr = trajectories[trajectories["model"].isin(["ff", other])]
        table = matched_accuracy(tr, reference="ff", order="checkpoint")
        judged = table[(table["statistic"] == "hoyer_responsive") & (table["model"] == other)].set_index("layer")
        layers = [la for la in LAYERS if la in judged.index]
        ok = [la for la in layers if judged.loc[la, "n_matched"] >= 2 and np.isfinite(judged.loc[la, "difference_low"])]
        if not layers or len(ok) < len(layers):
            verdict = UNTESTABLE
        else:
            above = [judged.loc[la, "difference_low"] > 0 for la in layers]
            verdict = REPRODUCED if all(above) else PARTLY if any(above) else NOT
        parts = []
        if layers:
            r0 = judged.loc[layers[0]]
            parts.append(f"target accuracy {r0['target']:.3f} (FF final accuracy {r0['reference_accuracy_low']:.3f}–"
                         f"{r0['reference_accuracy_high']:.3f}); {other} runs matched {int(r0['n_matched'])} of "
                         f"{int(r0['n_runs'])} (start above {int(r0['n_starts_above'])}, never reached "
                         f"{int(r0['n_never_reached'])}); widest accuracy step {r0['max_accuracy_step']:.3f}")
        for stat in ("hoyer", "ensemble_jaccard_mean"):
            rep = table[(table["statistic"] == stat) & (table["model"] == other)]
            for _, r in rep.iterrows():
                parts.append(f"{stat} L{int(r['layer'])} FF−{other} {r['difference']:.3f} "
                             f"[{r['difference_low']:.3f}, {r['difference_high']:.3f}]")
        measured = "; ".join(f"L{la} FF−{other} {judged.loc[la, 'difference']:.3f} "
                             f"[{judged.loc[la, 'difference_low']:.3f}, {judged.loc[la, 'difference_high']:.3f}]"
                             for la in layers) or "n/a"
        rows.append(_row("V4", "responsive Hoyer at matched accuracy: " + measured, verdict, None, "; ".join(parts),
                         name=name))
    return rows


# ---------------------------------------------------------------------------------------------------------------------
# V5, V6: the controlled zero-shot test
# ---------------------------------------------------------------------------------------------------------------------
def _classes(s: pd.DataFrame) -> list[int]:
    found = set()
    for v in s.loc[s["condition"] == "zero_shot", "variant"]:
        m = re.fullmatch(r"c(\d+)(-nolabel)?", str(v))
        if m:
            found.add(int(m.group(1)))
    return sorted(found)


def _zero_shot(s: pd.DataFrame) -> list[dict]:
    rows = []
    classes = _classes(s)
    for model, suffix in (("ff", ""), ("ff", "-nolabel"), ("bp_ff", ""), ("bp_ff", "-nolabel"), ("bp", "")):
        tag = f"{model}{' strict' if model != 'bp' else ''}{' no label' if suffix else ''}"
        counts5, counts6, testable, notes5, notes6 = 0, 0, 0, [], []
        has_ref = False
        for k in classes:
            var = f"c{k}{suffix}"
            held = _vals(s, "zs_passes", model, layer=1, condition="zero_shot", variant=var)
            if held.empty:
                continue
            pos = _vals(s, "zs_passes", model, layer=1, condition="reference", variant=var)
            neg = _vals(s, "zs_shuffled_passes", model, layer=1, condition="zero_shot", variant=var)
            has_ref |= not pos.empty
            n = len(held)
            ok_pos = int((pos > 0.5).sum()) >= _needed(max(len(pos), 1)) if len(pos) else False
            ok_neg = int((neg > 0.5).sum()) <= 1
            n_pass = int((held > 0.5).sum())
            if ok_pos and ok_neg:
                testable += 1
                counts5 += n_pass >= _needed(n)
                notes5.append(f"class {k}: passes in {n_pass} of {n} seeds (control: trained class "
                              f"{int((pos > 0.5).sum())} of {len(pos)}, shuffled {int((neg > 0.5).sum())} of "
                              f"{len(neg)})")
            else:
                notes5.append(f"class {k}: untestable (trained class passes in {int((pos > 0.5).sum())} of "
                              f"{len(pos)} seeds, shuffled labels in {int((neg > 0.5).sum())} of {len(neg)})")
            # V6: held-out vs reference, per seed
            comp = []
            acc_h = _vals(s, "zs_accuracy", model, layer=1, condition="zero_shot", variant=var)
            acc_r = _vals(s, "zs_accuracy", model, layer=1, condition="reference", variant=var)
            d_h = _vals(s, "zs_dprime", model, layer=1, condition="zero_shot", variant=var)
            d_r = _vals(s, "zs_dprime", model, layer=1, condition="reference", variant=var)
            ratio = _vals(s, "zs_size_ratio", model, layer=1, condition="zero_shot", variant=var)
            jac = _vals(s, "zs_jaccard", model, layer=1, condition="zero_shot", variant=var)
            chance = _vals(s, "zs_chance_jaccard", model, layer=1, condition="zero_shot", variant=var)
            for seed in ratio.index:
                if not np.isfinite(ratio[seed]):  # undefined: the reference run selected no presentation of k
                    continue
                try:
                    c = (SIZE_RATIO[0] <= ratio[seed] <= SIZE_RATIO[1]
                         and acc_h[seed] >= acc_r[seed] - DECODING_MARGIN
                         and d_h[seed] >= DPRIME_FRACTION * d_r[seed])
                except KeyError:
                    continue
                comp.append(bool(c))
            if comp:
                counts6 += sum(comp) >= _needed(len(comp))
                notes6.append(f"class {k}: comparable in {sum(comp)} of {len(comp)} seeds (size ratio "
                              f"{np.nanmin(ratio):.2f}–{np.nanmax(ratio):.2f}, Jaccard {np.nanmean(jac):.2f} vs "
                              f"chance {np.nanmean(chance):.2f})")
        n_cls = len([k for k in classes if not _vals(s, "zs_passes", model, layer=1, condition="zero_shot",
                                                     variant=f"c{k}{suffix}").empty])
        if not has_ref or testable == 0:
            v5 = UNTESTABLE
        else:
            v5 = REPRODUCED if counts5 == testable else PARTLY if counts5 else NOT
        rows.append(_row("V5", f"{counts5} of {testable} testable classes form an ensemble ({n_cls} held out)", v5,
                         None, "; ".join(notes5) or "no zero-shot runs (`--conditions ... zero_shot`)",
                         name=f"V5 {tag}", authors="claimed in the text; no stored numbers"))
        n6 = len(notes6)
        v6 = UNTESTABLE if n6 == 0 else REPRODUCED if counts6 == n6 else PARTLY if counts6 else NOT
        rows.append(_row("V6", f"{counts6} of {n6} classes comparable to the same class trained", v6, None,
                         "; ".join(notes6) or "needs zero-shot and reference runs", name=f"V6 {tag}",
                         authors=NOT_BY_AUTHORS))
    return rows


def claims_table_v2(stats: pd.DataFrame, *, dataset: str, trajectories: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """Apply every rule of docs/reproduction-v2.md section 7: rows V1-V8 (V4 twice, V5 and V6 per model and label).

    Same columns as v1's :func:`~ensembles.reproduction.verdicts.claims_table`. ``dataset`` is accepted for the
    symmetry with v1 (every v2 threshold is the same on both datasets).
    """
    if not isinstance(dataset, str) or not dataset:
        raise ParameterError(f"The 'dataset' parameter must be a dataset name. Got {dataset!r} instead.")
    s = check_stats_table(stats)
    if trajectories is not None:
        if not isinstance(trajectories, pd.DataFrame):
            raise ParameterError(f"The 'trajectories' parameter must be a pandas DataFrame or None. "
                                 f"Got {type(trajectories).__name__}.")
        need = {"model", "seed", "checkpoint", "accuracy", "layer", "statistic", "value"}
        if not need <= set(trajectories.columns):
            raise ParameterError(f"The 'trajectories' table must have the columns {sorted(need)}; missing "
                                 f"{sorted(need - set(trajectories.columns))}.")
    items = _stability_items(s)
    rows = [_v1(s, items), _v2(s, items), _v3(s), *_v4(trajectories), *_zero_shot(s), _v7(s), _v8(items)]
    return pd.DataFrame(rows, columns=COLUMNS)
