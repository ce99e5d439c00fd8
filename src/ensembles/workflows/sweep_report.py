"""Across-seed analysis of a sweep directory (``ensembles report SWEEP_DIR``); the HTML is :mod:`ensembles.report.sweep`.

Input: the directory written by ``ensembles sweep SWEEP.toml --out DIR`` (see :mod:`ensembles.sweep.runner`):
``sweep_manifest.json`` and the combined tables of :mod:`ensembles.sweep.combine`: ``combined/runs.csv`` (one row
per finished run: sweep parameters and the scalar metrics) and ``combined/summary.csv`` (one row per run and
statistic of :func:`ensembles.analysis.summary.summarize`).

Output (``DIR/analysis/``, a results directory written like every other: claimed, staged, marker last)::

    tables/accuracy_across_seeds.csv     test accuracy per condition: mean, SD, SEM, 95% CI, n_seeds
    tables/key_across_seeds.csv          key statistics (class "all", aggregate "mean") per condition and layer
    tables/summary_across_seeds.csv      every row of combined/summary.csv aggregated across seeds
    tables/runs.csv                      the per-run values used (copy of the relevant columns of runs.csv)
    figures/<id>.png|.svg                accuracy, population Hoyer per layer, key statistics, ensemble sizes
    sweep_report.json                    what was computed from which inputs, and the sweep file (written last:
                                         marks a finished analysis)
    report.html                          self-contained report (ensembles.report.sweep)

A **condition** is one combination of the sweep parameters other than ``seed`` (e.g. model × dataset × learning
rate); the runs of a condition are its seeds.  For each condition and statistic, with values :math:`v_1..v_n`
(one per seed): mean, sample SD (``ddof = 1``), SEM = SD/√n and the **95% Student-t confidence interval of the
mean**, mean ± t_{0.975, n−1} · SD/√n (:func:`ensembles.analysis.tables.across_seeds`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ensembles._io import read_json
from ensembles.analysis.tables import across_seeds
from ensembles.conventions import MODEL_NAMES
from ensembles.errors import DataFileError, OutputDirError
from ensembles.layout import ResultsLayout, RunLayout, SweepLayout, check_out
from ensembles.workflows.figures import save_figure
from ensembles.workflows.results import ResultsDir, now

__all__ = ["KEY_STATISTICS", "analyze_sweep", "is_sweep_dir", "sweep_conditions"]

# statistics of summarize() shown in the key table and figure (class "all", aggregate "mean")
KEY_STATISTICS = ("population_hoyer", "fraction_active", "lifetime_treves-rolls", "lifetime_vinje-gallant", "csi",
                  "ensemble_size")
STAT_LABELS = {"population_hoyer": "population Hoyer", "fraction_active": "fraction active",
               "lifetime_treves-rolls": "lifetime (Treves-Rolls)", "lifetime_vinje-gallant": "lifetime (Vinje-Gallant)",
               "csi": "class selectivity index", "ensemble_size": "ensemble size"}
# columns of summarize() that identify a statistic rather than a run
STAT_KEYS = ("site", "layer", "subset", "class", "statistic", "aggregate")
_NOT_PARAMS = {"run", "name", "dir", "seed", "site", "checkpoint", "epoch", "layer", "subset", "class", "statistic",
               "aggregate", "value", "n", "n_nan"}
ACCURACY_COLUMNS = ("test_accuracy", "accuracy", "accuracy.overall", "test_accuracy.overall")


def is_sweep_dir(path: str | os.PathLike) -> bool:
    """True when ``path`` is the output directory of ``ensembles sweep``."""
    return SweepLayout(path).is_sweep()


def _read_sweep_manifest(sweep_dir: Path) -> dict | None:
    path = SweepLayout(sweep_dir).manifest
    if not path.exists():
        return None
    man = read_json(path, ValueError)
    if man is ValueError:
        raise DataFileError(f"{path} is not valid JSON; is the sweep directory damaged?")
    if not isinstance(man, dict) or not isinstance(man.get("runs", []), list):
        raise DataFileError(f"{path} is not a sweep manifest (expected an object with a 'runs' list)")
    return man


def _complete_count(sweep_dir: Path, man: dict | None) -> tuple[int, int]:
    if man is None:
        return 0, 0
    runs = [r for r in man.get("runs", []) if isinstance(r, dict)]
    lay = SweepLayout(sweep_dir)
    return sum(1 for r in runs if RunLayout(lay.resolve(str(r.get("dir", "")))).is_done()), len(runs)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (ValueError, OSError) as err:  # EmptyDataError and ParserError are ValueErrors
        raise DataFileError(f"{path} is not a readable CSV table ({str(err).splitlines()[0] if str(err) else err})") from err


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


def _load_inputs(sweep_dir: Path) -> tuple[dict | None, pd.DataFrame, pd.DataFrame]:
    man = _read_sweep_manifest(sweep_dir)
    summary_p, runs_p = SweepLayout(sweep_dir).combined_summary, SweepLayout(sweep_dir).combined_runs
    if not summary_p.exists() or not runs_p.exists():
        done, total = _complete_count(sweep_dir, man)
        what = str((summary_p if not summary_p.exists() else runs_p).relative_to(sweep_dir))
        if man is not None and done == 0:
            raise DataFileError(f"sweep {sweep_dir} has no finished runs yet (0 of {total} complete, no {what}); "
                             f"see 'ensembles sweep-status {sweep_dir}'")
        raise DataFileError(f"sweep {sweep_dir} has no {what} ({done} of {total} runs complete); finish or resume it "
                         f"with 'ensembles sweep {SweepLayout(sweep_dir).spec_copy} --out {sweep_dir}' (it writes combined/ at "
                         f"the end) and see 'ensembles sweep-status {sweep_dir}'")
    summary, runs = _read_csv(summary_p), _read_csv(runs_p)
    for name, df, need in ((str(summary_p.relative_to(sweep_dir)), summary, ("run", "statistic", "value")),
                           (str(runs_p.relative_to(sweep_dir)), runs, ("run",))):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise DataFileError(f"{sweep_dir / name} lacks the columns {miss} of the sweep's combined format "
                             f"(it has {list(df.columns)[:12]})")
    if not len(runs):
        done, total = _complete_count(sweep_dir, man)
        raise DataFileError(f"sweep {sweep_dir}: combined/runs.csv lists no runs ({done} of {total} runs complete); "
                         f"see 'ensembles sweep-status {sweep_dir}'")
    return man, summary, runs


def analyze_sweep(sweep_dir: str | os.PathLike, out: str | os.PathLike | None = None, *, force: bool = False,
                  confidence: float = 0.95) -> Path:
    """Across-seed tables and figures of a sweep directory; returns the analysis directory (``DIR/analysis``).

    An analysis of the same combined tables is kept as it is; one of different tables is replaced only with
    ``force``.  The analysis directory is claimed (:mod:`ensembles._lock`) and written like every results
    directory (staged, ``sweep_report.json`` last).  See the module docstring for the files and the statistics.
    """
    from ensembles import __version__
    from ensembles.plot.sweep import sweep_error_bars

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise NotADirectoryError(f"expected a sweep directory, got {sweep_dir}")
    man, summary, runs = _load_inputs(sweep_dir)
    lay = ResultsLayout(check_out(out) if out is not None else SweepLayout(sweep_dir).analysis.root)
    sweep = SweepLayout(sweep_dir)
    inputs = {str(p.relative_to(sweep_dir)): _sha256(p) for p in (sweep.combined_summary, sweep.combined_runs)}
    with ResultsDir(lay.root, command="report", force=True) as res:
        old = read_json(lay.sweep_marker, None) if lay.is_sweep_analysis() else None
        if isinstance(old, dict):
            if old.get("inputs") == inputs and old.get("confidence") == confidence and not force:
                return lay.root
            if not force:
                raise OutputDirError(f"{lay.root} holds an across-seed analysis of older combined tables "
                                     f"({old.get('n_runs', '?')} runs; now {len(runs)}); pass --force to redo it")
        if lay.is_finished():
            raise OutputDirError(f"{lay.root} holds a per-run analysis (manifest.json), not a sweep analysis; "
                                 "choose another --out")
        meta = _tables_and_figures(res, sweep_dir, man, summary, runs, confidence, sweep_error_bars)
        spec = SweepLayout(sweep_dir).spec_copy
        meta.update({"kind": "sweep", "sweep": (man or {}).get("name"), "sweep_dir": os.path.relpath(sweep_dir,
                                                                                                      lay.root),
                     "sweep_toml": spec.read_text(encoding="utf-8") if spec.is_file() else None,
                     "created": now(), "package_version": __version__, "confidence": confidence,
                     "ci_method": f"Student-t: mean ± t_(1+{confidence})/2,n-1 · SD/sqrt(n), SD with ddof=1, n = seeds",
                     "inputs": inputs})
        res.publish(meta, marker=lay.sweep_marker)
    return lay.root


def _tables_and_figures(res: ResultsDir, sweep_dir: Path, man, summary: pd.DataFrame, runs: pd.DataFrame,
                        confidence: float, sweep_error_bars) -> dict:
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
    tables_df: dict[str, pd.DataFrame] = {}
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
        tables["accuracy"] = ResultsLayout.table_rel("accuracy_across_seeds")
        tables_df["accuracy_across_seeds"] = acc
    else:
        notes.append(f"combined/runs.csv has no accuracy column (looked for {list(ACCURACY_COLUMNS)}); "
                     "no accuracy table")
    tables["runs"] = ResultsLayout.table_rel("runs")
    tables_df["runs"] = runs_used.drop(columns=["value"], errors="ignore")

    # ---- summary statistics (summary.csv)
    stat_keys = [c for c in STAT_KEYS if c in summary.columns]
    summ = summary.copy()
    if params:
        summ["condition"] = _condition_labels(summ, params)
    else:
        summ["condition"] = "all runs"
    full = across_seeds(summ, [*params, "condition", *stat_keys], confidence=confidence)
    tables["summary"] = ResultsLayout.table_rel("summary_across_seeds")
    tables_df["summary_across_seeds"] = full
    sel = summ["statistic"].isin(KEY_STATISTICS) | summ["statistic"].astype(str).str.startswith("ensemble")
    if "class" in summ.columns:
        sel &= summ["class"].astype(str) == "all"
    if "aggregate" in summ.columns:
        sel &= summ["aggregate"] == "mean"
    key_rows = summ[sel]
    key = across_seeds(key_rows, [*params, "condition", *stat_keys], confidence=confidence) if len(key_rows) else None
    if key is not None:
        tables["key"] = ResultsLayout.table_rel("key_across_seeds")
        tables_df["key_across_seeds"] = key
    else:
        notes.append("combined/summary.csv has none of the key statistics " + ", ".join(KEY_STATISTICS))

    # ---- figures
    multi_panel = None
    if acc is not None:
        fig = sweep_error_bars(acc, x="condition", values=runs_used, ylabel="test accuracy",
                               title="Test accuracy per condition")
        figures["accuracy"] = {"title": "Test accuracy across seeds", "files": _files(fig, res, "accuracy"),
                               "caption": "Bars: mean test accuracy of the seeds of each condition; error bars: "
                                          f"{confidence:.0%} Student-t interval of the mean; dots: the runs."}
    if key is not None and "layer" in key.columns:
        hoyer_name = "population_hoyer"
        hk = key[key["statistic"] == hoyer_name]
        if len(hk):
            fig = sweep_error_bars(hk, x="layer", hue="condition", values=key_rows[key_rows["statistic"] == hoyer_name],
                                   ylabel="population Hoyer sparseness", title="Population sparseness per layer")
            figures["hoyer"] = {"title": "Population Hoyer sparseness per layer across seeds",
                                "files": _files(fig, res, "hoyer_by_layer"),
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
                                        "files": _files(fig, res, "ensemble_size"),
                                        "caption": f"{stat}: mean across seeds with {confidence:.0%} t-intervals."}
        else:
            notes.append("no ensemble-size statistic in combined/summary.csv")
        others = [s for s in KEY_STATISTICS if s != hoyer_name and (key["statistic"] == s).any()]
        if others:
            multi_panel = key[key["statistic"].isin(others)]
            fig = sweep_error_bars(multi_panel, x="layer", hue="condition", panel="statistic", ylabel="value",
                                   panel_titles=STAT_LABELS, title="Key statistics per layer")
            figures["key"] = {"title": "Other key statistics across seeds",
                              "files": _files(fig, res, "key_statistics"),
                              "caption": "Per layer and condition, mean across seeds of each run's mean over "
                                         "neuroids (lifetime, CSI) or presentations (fraction active), with "
                                         f"{confidence:.0%} t-intervals. Definitions: ensembles.analysis.summary."}
    elif key is None or "layer" not in (key.columns if key is not None else []):
        notes.append("combined/summary.csv has no per-layer key statistics; no sparseness figure")

    res.write_tables(tables_df)
    done, total = _complete_count(sweep_dir, man)
    return {"parameters": params, "condition_columns": [*params], "statistic_columns": stat_keys,
            "accuracy_column": acc_col, "n_runs": int(len(runs)), "n_complete": done, "n_manifest": total,
            "tables": tables, "figures": figures, "notes": notes}


def _files(fig, res: ResultsDir, name: str) -> list[str]:
    return [f"{ResultsLayout.FIGURES}/{f}" for f in save_figure(fig, res.figures_dir / name)]
