"""Across-seed analysis and report of a sweep directory (``ensembles report SWEEP_DIR``).

Input: the directory written by ``ensembles sweep SWEEP.toml --out DIR`` (see :mod:`ensembles.sweep.runner`):
``sweep_manifest.json`` and the combined tables of :mod:`ensembles.sweep.combine`: ``combined/runs.csv`` (one row
per finished run: sweep parameters and the scalar metrics) and ``combined/summary.csv`` (one row per run and
statistic of :func:`ensembles.analysis.summary.summarize`).

Output (``DIR/analysis/``, like the analysis of a training-run directory; every file written atomically)::

    tables/accuracy_across_seeds.csv     test accuracy per condition: mean, SD, SEM, 95% CI, n_seeds
    tables/key_across_seeds.csv          key statistics (class "all", aggregate "mean") per condition and layer
    tables/summary_across_seeds.csv      every row of combined/summary.csv aggregated across seeds
    tables/runs.csv                      the per-run values used (copy of the relevant columns of runs.csv)
    figures/<id>.png|.svg                accuracy, population Hoyer per layer, key statistics, ensemble sizes
    sweep_report.json                    what was computed from which inputs (written last: marks a finished analysis)
    report.html                          self-contained report

A **condition** is one combination of the sweep parameters other than ``seed`` (e.g. model × dataset × learning
rate); the runs of a condition are its seeds.  For each condition and statistic, with values :math:`v_1..v_n`
(one per seed): mean, sample SD (``ddof = 1``), SEM = SD/√n and the **95% Student-t confidence interval of the
mean**, mean ± t_{0.975, n−1} · SD/√n (e.g. Cumming, Fidler & Vaux 2007, "Error bars in experimental biology",
J Cell Biol 177:7).  With the few seeds of a typical sweep (2–10) the t-interval is used rather than a bootstrap,
which cannot produce a sensible interval from 2–3 values.  With one seed, SD and the CI are NaN.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembles.conventions import MODEL_NAMES

__all__ = ["KEY_STATISTICS", "across_seeds", "analyze_sweep", "build_sweep_report", "is_sweep_dir",
           "sweep_conditions", "sweep_summary_text"]

MARKER = "sweep_report.json"
# statistics of summarize() shown in the key table and figure (class "all", aggregate "mean"); "hoyer" and
# "zero_fraction" are the names in the numpy fallback of ensembles.sweep.combine
KEY_STATISTICS = ("population_hoyer", "hoyer", "fraction_active", "zero_fraction", "lifetime_treves-rolls",
                  "lifetime_vinje-gallant", "csi", "ensemble_size")
STAT_LABELS = {"population_hoyer": "population Hoyer", "hoyer": "population Hoyer",
               "fraction_active": "fraction active", "zero_fraction": "fraction all-zero",
               "lifetime_treves-rolls": "lifetime (Treves-Rolls)", "lifetime_vinje-gallant": "lifetime (Vinje-Gallant)",
               "csi": "class selectivity index", "ensemble_size": "ensemble size"}
# columns of summarize() (and of the fallback) that identify a statistic rather than a run
STAT_KEYS = ("site", "layer", "subset", "class", "statistic", "aggregate")
_NOT_PARAMS = {"run", "name", "dir", "seed", "site", "checkpoint", "epoch", "layer", "subset", "class", "statistic",
               "aggregate", "value", "n", "n_nan"}
ACCURACY_COLUMNS = ("test_accuracy", "accuracy", "accuracy.overall", "test_accuracy.overall")


def is_sweep_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is the output directory of ``ensembles sweep`` (``sweep_manifest.json`` or
    ``combined/summary.csv``)."""
    p = Path(path)
    return (p / "sweep_manifest.json").is_file() or (p / "combined" / "summary.csv").is_file()


def _read_manifest(sweep_dir: Path) -> dict | None:
    path = sweep_dir / "sweep_manifest.json"
    if not path.exists():
        return None
    try:
        man = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); is the sweep directory damaged?") from err
    if not isinstance(man, dict) or not isinstance(man.get("runs", []), list):
        raise ValueError(f"{path} is not a sweep manifest (expected an object with a 'runs' list)")
    return man


def _complete_count(sweep_dir: Path, man: dict | None) -> tuple[int, int]:
    if man is None:
        return 0, 0
    runs = man.get("runs", [])
    done = sum(1 for r in runs if isinstance(r, dict) and (sweep_dir / str(r.get("dir", "")) / "DONE").exists())
    return done, len(runs)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as err:  # EmptyDataError and ParserError are ValueErrors
        raise ValueError(f"{path} is not a readable CSV table ({str(err).splitlines()[0] if str(err) else err})") from err


def sweep_conditions(summary: pd.DataFrame, runs: pd.DataFrame | None = None,
                     manifest: dict | None = None) -> list[str]:
    """The sweep-parameter columns that define a condition (every parameter except ``seed``).

    Taken from the manifest's per-run ``params`` when available, else from the columns of ``summary.csv`` between
    ``name`` and the first statistic column (the layout of :func:`ensembles.sweep.combine.combine_sweep`).
    """
    names: list[str] = []
    if manifest is not None:
        for r in manifest.get("runs", []):
            for k in (r.get("params") or {}) if isinstance(r, dict) else ():
                if k not in names:
                    names.append(k)
    if not names:
        names = [c for c in summary.columns if c not in _NOT_PARAMS]
    present = set(summary.columns) & (set(runs.columns) if runs is not None else set(summary.columns))
    return [c for c in names if c in present and c not in _NOT_PARAMS]


def across_seeds(df: pd.DataFrame, by: list[str], *, value: str = "value", seed: str = "seed",
                 confidence: float = 0.95) -> pd.DataFrame:
    """Aggregate ``df[value]`` across seeds within each group of ``by``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run (and statistic): the ``by`` columns, ``value``, optionally ``seed``, ``run`` and ``epoch``.
    by : list of str
        Grouping columns (the condition's parameters plus the statistic's identifying columns).
    confidence : float
        Level of the Student-t interval (default 0.95).

    Returns
    -------
    pandas.DataFrame
        ``by`` columns, then ``n_seeds`` (finite values in the group; one per run), ``seeds`` (the seeds,
        ";"-separated), ``mean``, ``sd`` (sample SD, ddof = 1), ``sem`` (SD/√n), ``ci_low``, ``ci_high`` (mean ∓
        t_{(1+confidence)/2, n−1} · SEM; Cumming et al. 2007), ``min``, ``max`` and ``epochs`` (the final epochs of
        the runs, when ``df`` has an ``epoch`` column).  SD, SEM and the CI are NaN when n_seeds < 2.
    """
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"The 'confidence' parameter must be in (0, 1). Got {confidence!r} instead.")
    missing = [c for c in [*by, value] if c not in df.columns]
    if missing:
        raise ValueError(f"The 'df' parameter must have columns {[*by, value]}; missing {missing}")
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


def _condition_labels(frame: pd.DataFrame, params: list[str]) -> pd.Series:
    """Readable condition name: the model's display name, then ``key=value`` of every other varying parameter."""
    varying = [p for p in params if frame[p].nunique(dropna=False) > 1]
    if "model" in params and "model" not in varying:
        varying = ["model", *varying]

    def label(row) -> str:
        parts = []
        for p in varying:
            v = row[p]
            parts.append(MODEL_NAMES.get(str(v), str(v)) if p == "model" else f"{p}={_fmt(v)}")
        return ", ".join(parts) or "all runs"

    return frame.apply(label, axis=1) if len(frame) else pd.Series([], dtype=object)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_figure(fig, base: Path) -> list[str]:
    files = []
    for ext in ("png", "svg"):
        target = base.with_suffix(f".{ext}")
        tmp = base.with_name(f".{base.name}.tmp.{ext}")
        try:
            fig.savefig(tmp, dpi=110 if ext == "png" else None, format=ext)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        files.append(f"figures/{target.name}")
    return files


def _load_inputs(sweep_dir: Path) -> tuple[dict | None, pd.DataFrame, pd.DataFrame]:
    man = _read_manifest(sweep_dir)
    summary_p, runs_p = sweep_dir / "combined" / "summary.csv", sweep_dir / "combined" / "runs.csv"
    if not summary_p.exists() or not runs_p.exists():
        done, total = _complete_count(sweep_dir, man)
        what = "combined/summary.csv" if not summary_p.exists() else "combined/runs.csv"
        if man is not None and done == 0:
            raise ValueError(f"sweep {sweep_dir} has no finished runs yet (0 of {total} complete, no {what}); "
                             f"see 'ensembles sweep-status {sweep_dir}'")
        raise ValueError(f"sweep {sweep_dir} has no {what} ({done} of {total} runs complete); finish or resume it "
                         f"with 'ensembles sweep {sweep_dir / 'sweep.toml'} --out {sweep_dir}' (it writes combined/ at "
                         f"the end) and see 'ensembles sweep-status {sweep_dir}'")
    summary, runs = _read_csv(summary_p), _read_csv(runs_p)
    for name, df, need in (("combined/summary.csv", summary, ("run", "statistic", "value")),
                           ("combined/runs.csv", runs, ("run",))):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise ValueError(f"{sweep_dir / name} lacks the columns {miss} of the sweep's combined format "
                             f"(it has {list(df.columns)[:12]})")
    if not len(runs):
        done, total = _complete_count(sweep_dir, man)
        raise ValueError(f"sweep {sweep_dir}: combined/runs.csv lists no runs ({done} of {total} runs complete); "
                         f"see 'ensembles sweep-status {sweep_dir}'")
    return man, summary, runs


def analyze_sweep(sweep_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False,
                  confidence: float = 0.95) -> Path:
    """Across-seed tables and figures of a sweep directory; returns the analysis directory (``DIR/analysis``).

    Refuses to overwrite a finished analysis (``sweep_report.json``) computed from different combined tables
    unless ``force``; an analysis of the same inputs is kept as it is.  See the module docstring for the files and
    the statistics.
    """
    from ensembles import __version__
    from ensembles.plot.sweep import sweep_error_bars

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise NotADirectoryError(f"expected a sweep directory, got {sweep_dir}")
    man, summary, runs = _load_inputs(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / "analysis"
    inputs = {rel: _sha256(sweep_dir / rel) for rel in ("combined/summary.csv", "combined/runs.csv")}
    marker = out / MARKER
    if marker.exists():
        try:
            old = json.loads(marker.read_text())
        except ValueError:
            old = {}
        if old.get("inputs") == inputs and old.get("confidence") == confidence and not force:
            return out
        if not force:
            raise FileExistsError(f"{out} holds an across-seed analysis of older combined tables "
                                  f"({old.get('n_runs', '?')} runs; now {len(runs)}); pass --force to redo it")
        marker.unlink()
    if (out / "manifest.json").exists():
        raise FileExistsError(f"{out} holds a per-run analysis (manifest.json), not a sweep analysis; "
                              "choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    notes: list[str] = []

    params = sweep_conditions(summary, runs, man)
    if "seed" not in summary.columns:
        notes.append("the sweep has no 'seed' parameter: every condition has one run, so there are no error bars")
    done, total = _complete_count(sweep_dir, man)
    if man is not None and len(runs) < done:
        notes.append(f"combined/ covers {len(runs)} runs but {done} runs are complete; re-run 'ensembles sweep' on "
                     "this directory to update combined/ (finished runs are skipped)")
    if man is not None and done < total:
        notes.append(f"{done} of {total} runs of the sweep are complete; see 'ensembles sweep-status {sweep_dir}'")

    # ---- accuracy (runs.csv)
    acc_col = next((c for c in ACCURACY_COLUMNS if c in runs.columns), None)
    tables: dict[str, str] = {}
    figures: dict[str, dict] = {}
    runs_used = runs[[c for c in ("run", "name", *params, "seed") if c in runs.columns]
                     + ([acc_col] if acc_col else [])].copy()
    if params:
        runs_used["condition"] = _condition_labels(runs_used, params)
    else:
        runs_used["condition"] = "all runs"
    acc = None
    if acc_col is not None:
        runs_used["value"] = pd.to_numeric(runs_used[acc_col], errors="coerce")
        acc = across_seeds(runs_used, [*params, "condition"], confidence=confidence)
        acc.insert(len(params) + 1, "statistic", "test_accuracy")
        tables["accuracy"] = "tables/accuracy_across_seeds.csv"
        _write_csv(out / tables["accuracy"], acc)
    else:
        notes.append(f"combined/runs.csv has no accuracy column (looked for {list(ACCURACY_COLUMNS)}); "
                     "no accuracy table")
    tables["runs"] = "tables/runs.csv"
    _write_csv(out / tables["runs"], runs_used.drop(columns=["value"], errors="ignore"))

    # ---- summary statistics (summary.csv)
    stat_keys = [c for c in STAT_KEYS if c in summary.columns]
    summ = summary.copy()
    if params:
        summ["condition"] = _condition_labels(summ, params)
    else:
        summ["condition"] = "all runs"
    full = across_seeds(summ, [*params, "condition", *stat_keys], confidence=confidence)
    tables["summary"] = "tables/summary_across_seeds.csv"
    _write_csv(out / tables["summary"], full)
    sel = summ["statistic"].isin(KEY_STATISTICS) | summ["statistic"].astype(str).str.startswith("ensemble")
    if "class" in summ.columns:
        sel &= summ["class"].astype(str) == "all"
    if "aggregate" in summ.columns:
        sel &= summ["aggregate"] == "mean"
    key_rows = summ[sel]
    key = across_seeds(key_rows, [*params, "condition", *stat_keys], confidence=confidence) if len(key_rows) else None
    if key is not None:
        tables["key"] = "tables/key_across_seeds.csv"
        _write_csv(out / tables["key"], key)
    else:
        notes.append("combined/summary.csv has none of the key statistics " + ", ".join(KEY_STATISTICS))

    # ---- figures
    multi_panel = None
    if acc is not None:
        fig = sweep_error_bars(acc, x="condition", values=runs_used, ylabel="test accuracy",
                               title="Test accuracy per condition")
        figures["accuracy"] = {"title": "Test accuracy across seeds", "files": _save_figure(fig, out / "figures" /
                                                                                            "accuracy"),
                               "caption": "Bars: mean test accuracy of the seeds of each condition; error bars: "
                                          f"{confidence:.0%} Student-t interval of the mean; dots: the runs."}
    if key is not None and "layer" in key.columns:
        hoyer_name = "population_hoyer" if (key["statistic"] == "population_hoyer").any() else "hoyer"
        hk = key[key["statistic"] == hoyer_name]
        if len(hk):
            fig = sweep_error_bars(hk, x="layer", hue="condition", values=key_rows[key_rows["statistic"] == hoyer_name],
                                   ylabel="population Hoyer sparseness", title="Population sparseness per layer")
            figures["hoyer"] = {"title": "Population Hoyer sparseness per layer across seeds",
                                "files": _save_figure(fig, out / "figures" / "hoyer_by_layer"),
                                "caption": "Mean over (correctly classified) presentations of the Hoyer (2004) "
                                           "sparseness of each presentation's population vector, per run; bars: mean "
                                           f"across seeds, error bars: {confidence:.0%} t-interval, dots: runs."}
        ens = key[key["statistic"].astype(str).str.startswith("ensemble")]
        if len(ens):
            stat = ens["statistic"].iloc[0]
            fig = sweep_error_bars(ens[ens["statistic"] == stat], x="layer", hue="condition",
                                   values=key_rows[key_rows["statistic"] == stat], ylabel=stat,
                                   title="Ensemble size per layer")
            figures["ensemble_size"] = {"title": "Ensemble size across seeds",
                                        "files": _save_figure(fig, out / "figures" / "ensemble_size"),
                                        "caption": f"{stat}: mean across seeds with {confidence:.0%} t-intervals."}
        else:
            notes.append("no ensemble-size statistic in combined/summary.csv (summarize() does not compute "
                         "ensembles); run 'ensembles report' on a run directory under runs/ for the ensembles of "
                         "one seed")
        others = [s for s in KEY_STATISTICS if s != hoyer_name and (key["statistic"] == s).any()]
        if others:
            multi_panel = key[key["statistic"].isin(others)]
            fig = sweep_error_bars(multi_panel, x="layer", hue="condition", panel="statistic", ylabel="value",
                                   panel_titles=STAT_LABELS, title="Key statistics per layer")
            figures["key"] = {"title": "Other key statistics across seeds",
                              "files": _save_figure(fig, out / "figures" / "key_statistics"),
                              "caption": "Per layer and condition, mean across seeds of each run's mean over "
                                         "neuroids (lifetime, CSI) or presentations (fraction active), with "
                                         f"{confidence:.0%} t-intervals. Definitions: ensembles.analysis.summary."}
    elif key is None or "layer" not in (key.columns if key is not None else []):
        notes.append("combined/summary.csv has no per-layer key statistics; no sparseness figure")

    meta = {
        "kind": "sweep", "sweep": (man or {}).get("name"), "sweep_dir": os.path.relpath(sweep_dir, out),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "package_version": __version__,
        "confidence": confidence,
        "ci_method": f"Student-t: mean ± t_(1+{confidence})/2,n-1 · SD/sqrt(n), SD with ddof=1, n = seeds",
        "parameters": params, "condition_columns": [*params], "statistic_columns": stat_keys,
        "accuracy_column": acc_col, "n_runs": int(len(runs)), "n_complete": done, "n_manifest": total,
        "inputs": inputs, "tables": tables, "figures": figures, "notes": notes,
    }
    _write_text(marker, json.dumps(meta, indent=1, default=str))
    return out


def _write_text(path: Path, text: str) -> None:
    from ensembles._io import atomic_write_text

    atomic_write_text(path, text)


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    _write_text(path, df.to_csv(index=False))


def _load_meta(results: Path) -> dict:
    path = results / MARKER
    if not path.exists():
        raise FileNotFoundError(f"{results} holds no finished sweep analysis (no {MARKER}); run "
                                "'ensembles report SWEEP_DIR' first")
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from err


def _pm(row) -> str:
    if not np.isfinite(row["sd"]):
        return f"{row['mean']:.4f} (n={int(row['n_seeds'])})"
    return (f"{row['mean']:.4f} ± {row['sd']:.4f} SD, 95% CI [{row['ci_low']:.4f}, {row['ci_high']:.4f}] "
            f"(n={int(row['n_seeds'])})")


def sweep_summary_text(results_dir: str | os.PathLike) -> str:
    """Plain-text headline of a sweep analysis: accuracy and population Hoyer per layer, mean ± SD across seeds."""
    results = Path(results_dir)
    meta = _load_meta(results)
    lines = [f"sweep {meta.get('sweep')!r}: {meta.get('n_runs')} runs combined "
             f"({meta.get('n_complete')} of {meta.get('n_manifest')} complete); error: SD and "
             f"{meta.get('confidence', 0.95):.0%} t-interval across seeds"]
    t = meta.get("tables", {})
    if "accuracy" in t:
        acc = pd.read_csv(results / t["accuracy"])
        for _, r in acc.iterrows():
            lines.append(f"  accuracy   {r['condition']:<24} {_pm(r)}")
    if "key" in t:
        key = pd.read_csv(results / t["key"])
        hk = key[key["statistic"].isin(["population_hoyer", "hoyer"])]
        for _, r in hk.iterrows():
            lines.append(f"  hoyer L{_fmt(r.get('layer', ''))}   {r['condition']:<24} {_pm(r)}")
    lines += [f"  note: {n}" for n in meta.get("notes", [])]
    return "\n".join(lines)


def build_sweep_report(results_dir: str | os.PathLike, *, out: str | os.PathLike | None = None,
                       title: str | None = None) -> Path:
    """Write the self-contained HTML report of a sweep analysis (:func:`analyze_sweep`); returns its path."""
    from ensembles.report import _CSS, _img_tag, _table_html

    results = Path(results_dir)
    meta = _load_meta(results)
    target = Path(out) if out is not None else results / "report.html"
    esc = html.escape
    title = title or f"Sweep report: {meta.get('sweep') or Path(meta.get('sweep_dir', '')).name}"
    t = meta.get("tables", {})
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
             f"<style>{_CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    parts.append(f"<p class='used'>Generated by ensembles {esc(str(meta.get('package_version')))} on "
                 f"{esc(str(meta.get('created')))} from <code>combined/summary.csv</code> and "
                 f"<code>combined/runs.csv</code> of the sweep ({meta.get('n_runs')} runs; "
                 f"{meta.get('n_complete')} of {meta.get('n_manifest')} complete). Tables: <code>tables/*.csv</code>; "
                 "figures (PNG, SVG): <code>figures/</code>.</p>")
    nav = ["<a href='#across-seeds'>Across seeds</a>"] + [
        f"<a href='#fig-{fid}'>{esc(f['title'])}</a>" for fid, f in meta.get("figures", {}).items()]
    nav += ["<a href='#tables'>Tables</a>", "<a href='#runs'>Runs</a>"]
    parts.append("<nav>" + " ".join(nav) + "</nav>")
    parts.append("<h2 id='across-seeds'>Across-seed summary</h2>")
    parts.append(f"<p>Conditions: every combination of <b>{esc(', '.join(meta.get('parameters', [])) or '(none)')}"
                 "</b> other than <code>seed</code>; the runs of a condition are its seeds. Values: mean across seeds,"
                 f" sample SD (ddof = 1), SEM = SD/√n and the {meta.get('confidence', 0.95):.0%} Student-t confidence "
                 "interval of the mean, mean ± t<sub>0.975, n−1</sub>·SD/√n (Cumming, Fidler &amp; Vaux 2007); no "
                 "interval with one seed.</p>")
    parts.append("<pre>" + esc(sweep_summary_text(results)) + "</pre>")
    show = ["condition", "statistic", "layer", "n_seeds", "seeds", "mean", "sd", "sem", "ci_low", "ci_high", "epochs"]
    if "accuracy" in t:
        acc = pd.read_csv(results / t["accuracy"])
        parts.append("<h3>Test accuracy</h3>" + _table_html(acc[[c for c in show if c in acc.columns]],
                                                             floatfmt="{:.4f}"))
    if "key" in t:
        key = pd.read_csv(results / t["key"])
        parts.append("<h3>Key statistics (class all, mean per run)</h3>" +
                     _table_html(key[[c for c in show if c in key.columns]], max_rows=200, floatfmt="{:.4f}"))
    for n in meta.get("notes", []):
        parts.append(f"<p class='skip'>Note: {esc(n)}</p>")
    for fid, f in meta.get("figures", {}).items():
        parts.append(f"<h2 id='fig-{esc(fid)}'>{esc(f['title'])}</h2>")
        png = next((p for p in f["files"] if p.endswith(".png")), None)
        if png and (results / png).exists():
            parts.append("<figure>" + _img_tag(results / png, f["title"]) +
                         f"<figcaption>{esc(f['caption'])}<br><span class='used'>files: "
                         f"{', '.join(esc(p) for p in f['files'])}</span></figcaption></figure>")
        else:
            parts.append(f"<p class='skip'>figure file {esc(str(png))} is missing.</p>")
    parts.append("<h2 id='tables'>Tables</h2>")
    if "summary" in t:
        full = pd.read_csv(results / t["summary"])
        parts.append(f"<details><summary><b>every statistic across seeds</b> ({len(full)} rows, "
                     f"<code>{esc(t['summary'])}</code>)</summary>{_table_html(full, floatfmt='{:.4f}')}</details>")
    parts.append("<h2 id='runs'>Runs</h2>")
    if "runs" in t:
        parts.append(_table_html(pd.read_csv(results / t["runs"]), max_rows=500, floatfmt="{:.4f}"))
    sweep_toml = (results / meta.get("sweep_dir", "..") / "sweep.toml")
    if sweep_toml.exists():
        parts.append("<details><summary><b>sweep.toml</b></summary><pre>" + esc(sweep_toml.read_text()) +
                     "</pre></details>")
    parts.append("<details><summary><b>Analysis metadata</b></summary><pre>" +
                 esc(json.dumps({k: v for k, v in meta.items() if k not in ("figures",)}, indent=1)) +
                 "</pre></details>")
    parts.append("</body></html>")
    _write_text(target, "\n".join(parts))
    return target
