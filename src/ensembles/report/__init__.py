"""The HTML and text reports: one self-contained, offline file built from a results directory.

:func:`build_report` reads ``manifest.json``, the tables and the figures that :func:`ensembles.workflows.analyze`
wrote, and writes ``report.html`` with every figure embedded (base64 PNG), the headline and detail tables, the
data each statistic used, the skipped figures with the reason, and the configuration and package versions of
every run.  No external resources (scripts, fonts, images) are referenced, so it opens offline.  A report reads only
inside its directory: a path in the manifest that is absolute or leaves the directory is refused.
:func:`summary_text` is the plain-text headline the command line prints.  The across-seed report of a sweep is in
:mod:`ensembles.report.sweep`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ensembles.layout import ResultsLayout
from ensembles.report._html import (
    esc,
    figure_html,
    head,
    read_manifest,
    read_table,
    table_html,
    write_report,
)
from ensembles.report.findings import failures, findings, is_model_source, layer_name
from ensembles.report.sweep import build_sweep_report, sweep_summary_text

__all__ = ["build_report", "build_sweep_report", "findings", "read_manifest", "summary_text", "sweep_summary_text"]


def summary_text(results_dir: str | os.PathLike) -> str:
    """Short plain-text summary of the headline numbers per model or recording (printed by the CLI); for a
    reproduction, each claim's verdict."""
    man = read_manifest(ResultsLayout(results_dir))
    if man.get("kind") == "reproduction":
        from ensembles.report.claims import claims_summary_text

        return claims_summary_text(ResultsLayout(results_dir), man)
    head_df = pd.DataFrame(man.get("headline", []))
    if not len(head_df):
        return "no results"
    lines = []

    def num(v, fmt: str) -> str:
        return format(v, fmt) if v is not None and np.isfinite(v) else "n/a"

    for m, g in head_df.groupby("model", sort=False):
        acc = g["accuracy"].iloc[0] if "accuracy" in g else None
        lines.append(f"{m}: accuracy {num(acc, '.3f')}" if acc is not None and np.isfinite(acc) else f"{m}:")
        for _, r in g.iterrows():
            lines.append(
                f"  {layer_name(man, m, r['layer'])}: Hoyer {num(r['hoyer'], '.3f')} {r['hoyer_ci']}, median ensemble "
                f"{num(r['median_ensemble_size'], '.0f')} units ({num(r['median_ensemble_pct'], '.1f')}%), mean "
                f"overlap {num(r['mean_overlap'], '.2f')}, significant pairs {r['pairs_significant']}/{r['pairs_total']}"
                + (f" [{r['significant_pairs']}]" if r["significant_pairs"] and r["pairs_significant"] <= 6 else ""))
    return "\n".join(lines)


def _figure_list(man: dict) -> list[dict]:
    """The report's figures in order: from the manifest (older manifests: the figures written, then skipped)."""
    listed = man.get("figure_list")
    if isinstance(listed, list) and all(isinstance(f, dict) and "id" in f for f in listed):
        return listed
    figs = man.get("figures", {})
    ids = list(figs) + [k for k in man.get("skipped", {}) if k not in figs]
    return [{"id": k, "title": figs.get(k, {}).get("title", k), "caption": figs.get(k, {}).get("caption", "")}
            for k in ids]


def build_report(results_dir: str | os.PathLike, *, out: str | os.PathLike | None = None, title: str | None = None,
                 force: bool = False, claim=None) -> Path:
    """Write ``report.html`` (one self-contained file) for a results directory.

    Parameters
    ----------
    results_dir : path
        A directory written by :func:`ensembles.workflows.analyze` (holds ``manifest.json``), or the across-seed
        analysis of a sweep written by :func:`ensembles.workflows.analyze_sweep` (holds ``sweep_report.json``;
        the report is then :func:`ensembles.report.sweep.build_sweep_report`).
    out : path, optional
        Output file (default ``results_dir/report.html``, written while holding the directory's claim);
        written atomically.
    title : str, optional
    force : bool
        Claim a directory that holds files ensembles did not write.
    claim : OutputDirClaim, optional
        A claim on ``results_dir`` the caller already holds.

    Returns
    -------
    pathlib.Path
        The report file.
    """
    results = ResultsLayout(results_dir)
    if not results.is_finished() and results.is_sweep_analysis():
        return build_sweep_report(results.root, out=out, title=title, force=force, claim=claim)
    man = read_manifest(results)
    if man.get("kind") == "reproduction":  # ensembles reproduce: the claims first (ensembles.report.claims)
        from ensembles.report.claims import render_reproduction

        text = render_reproduction(results, man, title)
    else:
        text = _render(results, man, title)
    return write_report(results, out, text, force=force, claim=claim)


# human labels of the headline and detail tables' columns
HEADLINE_LABELS = {
    "model": "model", "layer": "layer", "accuracy": "test accuracy", "hoyer": "Hoyer sparseness",
    "hoyer_ci": "95 % CI", "median_ensemble_size": "median ensemble (units)",
    "median_ensemble_pct": "median ensemble (% of units)", "mean_overlap": "mean overlap (units)",
    "pairs_overlapping": "class pairs sharing units", "pairs_significant": "significant pairs",
    "pairs_total": "class pairs", "significant_pairs": "significant pairs (classes)",
}
TABLE_TITLES = {
    "accuracy": "Accuracy per class", "sparseness_by_layer": "Sparseness per layer",
    "ensemble_sizes": "Ensemble size per class", "units": "Units: silent and responsive",
    "ensemble_null": "Ensemble size against the shuffled-label null", "sweep": "Sweep runs",
    "zero_shot": "Held-out classes", "summary": "Every statistic (tidy)",
}
DETAIL_LABELS = {
    "model": "model", "layer": "layer", "class": "class", "label": "label", "accuracy": "accuracy", "n": "n",
    "mean": "mean", "ci_low": "CI low", "ci_high": "CI high", "measure": "measure", "size": "size (units)",
    "fraction": "fraction of units", "null_size": "null size (units)", "null_fraction": "null fraction",
    "held_out": "held out", "n_presentations": "presentations", "n_neuroids": "units", "tau": "τ",
    "fraction_silent_presentations": "silent presentations (fraction)",
    "fraction_silent_neuroids": "silent units (fraction)", "mean_all_presentations": "mean (all presentations)",
    "lifetime_mean": "lifetime Hoyer (mean)", "fraction_active": "fraction active",
    "max_activation": "max activation", "class_a": "class A", "class_b": "class B", "overlap": "shared units",
    "expected": "expected", "p": "p", "q": "q (BH)", "jaccard": "Jaccard", "n_silent": "silent units",
    "frac_silent": "silent (fraction)", "n_all_zero_presentations": "presentations with no response",
    "epoch_previous": "epoch (previous)", "epoch_last": "epoch (last)", "previous": "previous", "last": "last",
    "change": "change", "half_width": "bootstrap half-width", "stable": "stable", "statistic": "statistic",
}
WEIGHT_COLUMNS = {"model": "model", "layer": "layer", "n_out": "units", "n_in": "inputs",
                  "fraction_negative": "negative weights (fraction)", "mean_positive": "mean +weight",
                  "mean_negative": "mean −weight", "mean_bias": "mean bias",
                  "fraction_bias_negative": "negative biases (fraction)"}
CURRENT_COLUMNS = {"model": "model", "layer": "layer", "member": "in ensemble", "excitatory": "excitatory",
                   "inhibitory": "inhibitory", "bias": "bias", "net": "net", "fraction_silenced":
                   "silenced by inhibition (fraction)"}
# figures that describe a trained network; they do not apply to recordings of neural data
MODEL_FIGURES = ("training", "checkpoints", "sweep", "zero_shot", "inhibition")


def _labelled(df: pd.DataFrame, man: dict, labels: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """``df`` with group names in its ``layer`` column (grouped recordings) and the column labels to show."""
    groups = man.get("unit_groups") or {}
    if groups and "layer" in df.columns and "model" in df.columns:
        df = df.assign(layer=[layer_name(man, m, v) for m, v in zip(df["model"], df["layer"], strict=True)])
    lab = dict(labels)
    if groups:
        bys = {g.get("by", "group") for g in groups.values()}
        lab["layer"] = (next(iter(bys)) if len(bys) == 1 else "group").replace("_", " ")
    if not any(is_model_source(s) for s in man.get("sources", []) if isinstance(s, dict)):
        lab["model"] = "recording"
    return df, lab


def _render(results: ResultsLayout, man: dict, title: str | None) -> str:
    sources = [s for s in man.get("sources", []) if isinstance(s, dict)]
    models_here = any(is_model_source(s) for s in sources)
    datasets = sorted({str(s.get("dataset", "")) for s in sources if s.get("dataset")})
    if title is None:
        names = ", ".join(str(s.get("name")) for s in sources)
        title = (f"Representations report: {names}" + (f" on {', '.join(datasets)}" if datasets else "")
                 if models_here else f"Recording report: {names}"
                 + (f" (session {', '.join(datasets)})" if datasets else ""))
    parts = head(title)
    parts.append(f"<p class='used'>Generated by ensembles {esc(str(man.get('package_version', '')))} on "
                 f"{esc(str(man.get('created', '')))}. Self-contained: figures are embedded; the tables are also in "
                 f"<code>tables/*.csv</code> and the figures (PNG, SVG) in <code>figures/</code>.</p>")
    flist = _figure_list(man)
    figs, skipped = man.get("figures", {}), man.get("skipped", {})
    shown = [f for f in flist if str(f["id"]) in figs]
    nav = ["<a href='#findings'>Findings</a>", "<a href='#headline'>Headline</a>", "<a href='#data'>Data</a>"]
    nav += [f"<a href='#fig-{esc(str(f['id']))}'>{esc(str(f.get('title', f['id'])))}</a>" for f in shown]
    nav += ["<a href='#tables'>Tables</a>", f"<a href='#runs'>{'Runs' if models_here else 'Recordings'}</a>"]
    parts.append("<nav>" + " ".join(nav) + "</nav>")
    table_paths = man.get("tables", {}) if isinstance(man.get("tables"), dict) else {}
    prm = man.get("parameters", {})

    # what was found, in words
    parts.append("<h2 id='findings'>Findings</h2>")
    sentences = findings(results, man)
    parts.append("<p class='findings'>" + esc(" ".join(sentences) if sentences else "No headline statistics.")
                 + "</p>")
    failed = failures(man)
    if failed:  # the command printed these as warnings too
        titles = {str(skipped.get(str(f["id"]))): str(f.get("title", f["id"])) for f in flist
                  if str(f["id"]) not in figs and str(f["id"]) in skipped}
        parts.append("<div class='problems'><p><b>Parts of the analysis that could not be computed</b> (the command "
                     "warned about each):</p><ul>" + "".join(
                         f"<li>{esc(titles[n] + ': ') if n in titles else ''}{esc(n)}</li>" for n in failed)
                     + "</ul></div>")

    # headline
    parts.append("<h2 id='headline'>Headline numbers</h2>")
    headline = pd.DataFrame(man.get("headline", []))
    if len(headline):
        if "accuracy" in headline and headline["accuracy"].isna().all():
            headline = headline.drop(columns="accuracy")
        if "significant_pairs" in headline:
            headline = headline.drop(columns="significant_pairs")
        headline, lab = _labelled(headline, man, HEADLINE_LABELS)
        parts.append(table_html(headline, labels=lab))
        if "ensemble_overlap" in table_paths:
            parts.append("<p class='used'>The significant class pairs are listed under "
                         "<a href='#significant-pairs'>3b. Ensemble overlap</a>.</p>")
    stab = read_table(results, table_paths.get("stability"))
    if stab is not None and len(stab):
        n_unstable = int((~stab["stable"].astype(bool)).sum())
        verdict = ("every statistic is stable" if n_unstable == 0 else
                   f"{n_unstable} of {len(stab)} statistics are still changing: training was shortened and these "
                   "numbers have not settled")
        cols = [c for c in ("model", "layer", "statistic", "epoch_previous", "epoch_last", "previous", "last",
                            "change", "half_width", "stable") if c in stab]
        st, lab = _labelled(stab[cols], man, DETAIL_LABELS)
        parts.append("<details><summary><b>Has training settled?</b> (change over the last two checkpoints of each "
                     f"layer vs the 95 % bootstrap half-width): {esc(verdict)}.</summary>" + table_html(st, labels=lab)
                     + "</details>")
    unit_word = "group" if man.get("unit_groups") else "layer"
    parts.append(f"<p class='used'>Hoyer = population sparseness (Hoyer 2004; the paper's 'Yukun sparseness'), mean "
                 f"over presentations with a 95% bootstrap CI. Ensemble = the units of a {unit_word} that prefer a "
                 f"class (the authors' leave-one-out rule with τ = {esc(str(prm.get('tau')))}, docs/methods.md "
                 "§A3.4); overlap = shared units between two classes' ensembles, significant when above the "
                 f"hypergeometric expectation (BH-FDR q &lt; {esc(str(prm.get('alpha')))}).</p>")

    # data used
    parts.append("<h2 id='data'>Data used by each statistic</h2><ul>")
    for s in sources:
        name = str(s.get("name"))
        used = f"statistics on {esc(str(s.get('data_used')))}"
        where = f"recording <code>{esc(str(s.get('path') or 'in memory'))}</code>"
        if is_model_source(s):
            acc = s.get("accuracy")
            acc_s = (f"; test accuracy {acc:.4f} (all presentations)" if isinstance(acc, int | float) else
                     "; no accuracy (the recording has no 'correct' coord)")
            parts.append(f"<li><b>{esc(name)}</b> (model {esc(str(s.get('model')))}, dataset "
                         f"{esc(str(s.get('dataset')))}, seed {esc(str(s.get('seed')))}, layers "
                         f"{esc(str(s.get('layer_sizes')))}): {used}{acc_s}; {where}"
                         + ("; negative values clipped to 0" if s.get("negative_policy") == "clip" else "")
                         + (f"; checkpoints at epochs {esc(str(s.get('epochs')))}, statistics use the last"
                            if s.get("epochs") else "") + "</li>")
        else:
            grouping = (man.get("unit_groups") or {}).get(name)
            sizes = s.get("layer_sizes") or []
            n_units = sum(int(k) for k in sizes)
            if grouping:
                by = str(grouping.get("by", "group")).replace("_", " ")
                units = (f"{n_units} units grouped by {esc(by)}: " +
                         ", ".join(f"{esc(layer_name(man, name, lay))} {k}"
                                   for lay, k in zip(s.get("layers") or [], sizes, strict=False)))
            else:
                units = f"{n_units} units"
            session = f", session {esc(str(s.get('dataset')))}" if s.get("dataset") else ""
            cfg = s.get("config") if isinstance(s.get("config"), dict) else {}
            resp = (f"; responses: {esc(str(cfg.get('response')))} in the window {esc(str(cfg.get('window')))} s "
                    f"after each onset of <code>{esc(str(cfg.get('intervals')))}</code>" if cfg.get("window") else "")
            parts.append(f"<li><b>{esc(name)}</b> ({units}{session}; {esc(str(s.get('n_presentations')))} "
                         f"presentations): {used}{resp}; {where}</li>")
    parts.append("</ul>")
    if man.get("notes"):
        neural = {str(s.get("name")) for s in sources if not is_model_source(s)}
        # notes about the model-only parts (weights, training) do not concern recordings of neural data
        notes = [n for n in man["notes"] if str(n) not in failed and not any(
            str(n).startswith((f"inhibition: {k}:", f"training: {k}:")) for k in neural)]
        if notes:
            parts.append("<details><summary>Notes</summary><ul>" +
                         "".join(f"<li>{esc(str(n))}</li>" for n in notes) + "</ul></details>")

    # figures: those drawn, in order; the others are listed at the end with the reason
    for f in shown:
        fid, ftitle, caption = str(f["id"]), str(f.get("title", f["id"])), str(f.get("caption", ""))
        parts.append(f"<h2 id='fig-{esc(fid)}'>{esc(ftitle)}</h2>")
        meta = figs[fid]
        files = [str(p) for p in meta.get("files", [])]
        parts.append(figure_html(results, files, ftitle,
                                 f"{esc(caption)}<br><span class='used'>Data: {esc(str(meta.get('data_used', '')))}"
                                 f" · files: {', '.join(esc(p) for p in files)}</span>"))
        if fid == "overlap":
            ov = read_table(results, table_paths.get("ensemble_overlap"))
            if ov is not None and len(ov):
                sig = ov[(ov["label_a"] < ov["label_b"]) & (ov["q"] < float(prm.get("alpha", 0.05)))
                         & (ov["overlap"] > 0)]
                sig, lab = _labelled(sig[["model", "layer", "class_a", "class_b", "overlap", "expected", "p", "q",
                                          "jaccard"]], man, DETAIL_LABELS)
                parts.append(f"<details id='significant-pairs'><summary>Significant overlaps ({len(sig)} class pairs, "
                             "upper triangle)</summary>" + table_html(sig, max_rows=200, labels=lab) + "</details>")
        if fid == "inhibition":
            for key, cols in (("weights", WEIGHT_COLUMNS), ("currents_summary", CURRENT_COLUMNS)):
                t = read_table(results, table_paths.get(key))
                if t is None or not len(t):
                    continue
                t = t[[c for c in cols if c in t.columns]]
                parts.append(f"<p>{'Weights and biases' if key == 'weights' else 'Input currents (mean over classes)'}"
                             ":</p>" + table_html(t, labels=cols))
        if fid == "cortex":
            t = read_table(results, table_paths.get("cortex"))
            if t is not None:
                parts.append(table_html(t))
    not_drawn = [(f, skipped.get(str(f["id"]), "not computed")) for f in flist
                 if str(f["id"]) not in figs and not any(str(skipped.get(str(f["id"]), "")) == n for n in failed)]
    if not models_here:
        not_drawn = [(f, why) for f, why in not_drawn if str(f["id"]) not in MODEL_FIGURES]

    # tables
    parts.append("<h2 id='tables'>Tables</h2>")
    for key in ("accuracy", "sparseness_by_layer", "units", "ensemble_sizes", "ensemble_null", "sweep", "zero_shot",
                "summary"):
        t = read_table(results, table_paths.get(key))
        if t is not None and len(t):
            if key == "accuracy" and not models_here:
                continue
            t, lab = _labelled(t, man, DETAIL_LABELS)
            parts.append(f"<details><summary><b>{esc(TABLE_TITLES.get(key, key))}</b> ({len(t)} rows, "
                         f"<code>{esc(str(table_paths[key]))}</code>)</summary>{table_html(t, labels=lab)}</details>")
    parts.append("<p class='used'>All tables: " + ", ".join(f"<code>{esc(str(v))}</code>" for v in
                                                            table_paths.values()) + "</p>")

    # runs: config and versions
    parts.append(f"<h2 id='runs'>{'Runs: configuration and versions' if models_here else 'Recordings: import settings and versions'}</h2>")
    for s in sources:
        what = "run " + esc(str(s.get("run_dir"))) if s.get("run_dir") else ""
        parts.append(f"<details><summary><b>{esc(str(s.get('name')))}</b> — package "
                     f"{esc(str(s.get('package_version')))}, recorded {esc(str(s.get('created')))}, site "
                     f"{esc(str(s.get('site')))}{', ' + what if what else ''}"
                     f"</summary><pre>{esc(json.dumps(s.get('config', {}), indent=1, sort_keys=True))}</pre></details>")
    params = {"parameters": prm, "versions": man.get("versions", {}), "timings_s": man.get("timings_s", {})}
    if not_drawn:
        params["figures not drawn for these recordings"] = {str(f.get("title", f["id"])): str(why)
                                                            for f, why in not_drawn}
    parts.append("<details><summary><b>Analysis parameters and software versions</b></summary><pre>" +
                 esc(json.dumps(params, indent=1, ensure_ascii=False)) + "</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
