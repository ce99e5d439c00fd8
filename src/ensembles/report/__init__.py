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
from ensembles.report.sweep import build_sweep_report, sweep_summary_text

__all__ = ["build_report", "build_sweep_report", "summary_text", "sweep_summary_text"]


def summary_text(results_dir: str | os.PathLike) -> str:
    """Short plain-text summary of the headline numbers per model (printed by the CLI)."""
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
        lines.append(f"{m}: accuracy {num(g['accuracy'].iloc[0], '.3f')}")
        for _, r in g.iterrows():
            lines.append(
                f"  layer {r['layer']}: Hoyer {num(r['hoyer'], '.3f')} {r['hoyer_ci']}, median ensemble "
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


def _render(results: ResultsLayout, man: dict, title: str | None) -> str:
    sources = [s for s in man.get("sources", []) if isinstance(s, dict)]
    datasets = sorted({str(s.get("dataset", "")) for s in sources if s.get("dataset")})
    title = title or f"Representations report: {', '.join(str(s.get('name')) for s in sources)}" + (
        f" on {', '.join(datasets)}" if datasets else "")
    parts = head(title)
    parts.append(f"<p class='used'>Generated by ensembles {esc(str(man.get('package_version', '')))} on "
                 f"{esc(str(man.get('created', '')))}. Self-contained: figures are embedded; the tables are also in "
                 f"<code>tables/*.csv</code> and the figures (PNG, SVG) in <code>figures/</code>.</p>")
    flist = _figure_list(man)
    nav = ["<a href='#headline'>Headline</a>", "<a href='#data'>Data</a>"]
    nav += [f"<a href='#fig-{esc(str(f['id']))}'>{esc(str(f.get('title', f['id'])))}</a>" for f in flist]
    nav += ["<a href='#tables'>Tables</a>", "<a href='#runs'>Runs</a>"]
    parts.append("<nav>" + " ".join(nav) + "</nav>")
    table_paths = man.get("tables", {}) if isinstance(man.get("tables"), dict) else {}

    # headline
    parts.append("<h2 id='headline'>Headline numbers</h2>")
    headline = pd.DataFrame(man.get("headline", []))
    parts.append(table_html(headline))
    parts.append("<pre>" + esc(summary_text(results.root)) + "</pre>")
    stab = read_table(results, table_paths.get("stability"))
    if stab is not None and len(stab):
        n_unstable = int((~stab["stable"].astype(bool)).sum())
        verdict = ("every statistic is stable" if n_unstable == 0 else
                   f"{n_unstable} of {len(stab)} statistics are still changing: training was shortened and these "
                   "numbers have not settled")
        parts.append("<h3>Has training settled? (change over the last two checkpoints of each layer vs the 95 % "
                     f"bootstrap half-width)</h3><p><b>{esc(verdict)}</b>.</p>" +
                     table_html(stab[["model", "layer", "statistic", "epoch_previous", "epoch_last", "previous", "last",
                                      "change", "half_width", "stable"]]))
    prm = man.get("parameters", {})
    parts.append("<p class='used'>Hoyer = population sparseness (Hoyer 2004; the paper's 'Yukun sparseness'), mean over "
                 "presentations with a 95% bootstrap CI. Ensemble = the authors' leave-one-out rule with "
                 f"τ = {esc(str(prm.get('tau')))} (docs/methods.md §A3.4); overlap = shared neuroids between two "
                 "classes' ensembles, significant when above the hypergeometric expectation (BH-FDR q &lt; "
                 f"{esc(str(prm.get('alpha')))}).</p>")

    # data used
    parts.append("<h2 id='data'>Data used by each statistic</h2><ul>")
    for s in sources:
        acc = s.get("accuracy")
        acc_s = f"; test accuracy {acc:.4f} (all presentations)" if isinstance(acc, int | float) else \
            "; no accuracy (the recording has no 'correct' coord)"
        parts.append(f"<li><b>{esc(str(s.get('name')))}</b> (model {esc(str(s.get('model')))}, dataset "
                     f"{esc(str(s.get('dataset')))}, seed {esc(str(s.get('seed')))}, layers "
                     f"{esc(str(s.get('layer_sizes')))}): statistics on {esc(str(s.get('data_used')))}{acc_s}; "
                     f"recording <code>{esc(str(s.get('path') or 'in memory'))}</code>"
                     + ("; negative values clipped to 0" if s.get("negative_policy") == "clip" else "")
                     + (f"; checkpoints at epochs {esc(str(s.get('epochs')))}, statistics use the last"
                        if s.get("epochs") else "") + "</li>")
    parts.append("</ul>")
    if man.get("notes"):
        parts.append("<details open><summary>Notes</summary><ul>" +
                     "".join(f"<li>{esc(str(n))}</li>" for n in man["notes"]) + "</ul></details>")

    # figures
    figs, skipped = man.get("figures", {}), man.get("skipped", {})
    for f in flist:
        fid, ftitle, caption = str(f["id"]), str(f.get("title", f["id"])), str(f.get("caption", ""))
        parts.append(f"<h2 id='fig-{esc(fid)}'>{esc(ftitle)}</h2>")
        if fid in figs:
            meta = figs[fid]
            files = [str(p) for p in meta.get("files", [])]
            parts.append(figure_html(results, files, ftitle,
                                     f"{esc(caption)}<br><span class='used'>Data: {esc(str(meta.get('data_used', '')))}"
                                     f" · files: {', '.join(esc(p) for p in files)}</span>"))
        else:
            why = skipped.get(fid, "not computed")
            parts.append(f"<p class='skip'>Not shown: {esc(why)}.</p>")
        if fid == "overlap":
            ov = read_table(results, table_paths.get("ensemble_overlap"))
            if ov is not None and len(ov):
                sig = ov[(ov["label_a"] < ov["label_b"]) & (ov["q"] < float(prm.get("alpha", 0.05)))
                         & (ov["overlap"] > 0)]
                parts.append("<p>Significant overlaps (upper triangle):</p>" +
                             table_html(sig[["model", "layer", "class_a", "class_b", "overlap", "expected", "p",
                                              "q", "jaccard"]]))
        if fid == "inhibition":
            for key in ("weights", "currents"):
                t = read_table(results, table_paths.get(key))
                if t is not None and len(t):
                    if key == "currents":
                        t = t.groupby(["model", "layer", "member"], as_index=False)[
                            ["excitatory", "inhibitory", "bias", "net", "fraction_active", "fraction_silenced",
                             "reconstruction_error"]].mean()
                    parts.append(f"<p>{'Weight/bias statistics' if key == 'weights' else 'Currents (mean over classes)'}:"
                                 "</p>" + table_html(t))
        if fid == "cortex":
            t = read_table(results, table_paths.get("cortex"))
            if t is not None:
                parts.append(table_html(t))

    # tables
    parts.append("<h2 id='tables'>Tables</h2>")
    for key in ("accuracy", "sparseness_by_layer", "ensemble_sizes", "sweep", "zero_shot", "summary"):
        t = read_table(results, table_paths.get(key))
        if t is not None and len(t):
            parts.append(f"<details{' open' if key in ('sparseness_by_layer',) else ''}><summary><b>{esc(key)}</b> "
                         f"({len(t)} rows, <code>{esc(str(table_paths[key]))}</code>)</summary>{table_html(t)}</details>")
    parts.append("<p class='used'>All tables: " + ", ".join(f"<code>{esc(str(v))}</code>" for v in
                                                            table_paths.values()) + "</p>")

    # runs: config and versions
    parts.append("<h2 id='runs'>Runs: configuration and versions</h2>")
    for s in sources:
        parts.append(f"<details><summary><b>{esc(str(s.get('name')))}</b> — package "
                     f"{esc(str(s.get('package_version')))}, recorded {esc(str(s.get('created')))}, site "
                     f"{esc(str(s.get('site')))}{', run ' + esc(str(s.get('run_dir'))) if s.get('run_dir') else ''}"
                     f"</summary><pre>{esc(json.dumps(s.get('config', {}), indent=1, sort_keys=True))}</pre></details>")
    parts.append("<details><summary><b>Analysis parameters and software versions</b></summary><pre>" +
                 esc(json.dumps({"parameters": prm, "versions": man.get("versions", {}),
                                 "timings_s": man.get("timings_s", {})}, indent=1)) + "</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)
