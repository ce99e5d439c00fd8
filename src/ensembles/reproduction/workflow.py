"""``ensembles reproduce``: train the protocol's runs, compute their statistics, judge the claims, write a report.

Output directory ``OUT`` (default ``results/reproduce/<dataset>``)::

    OUT/sweeps/<sweep>/          the training runs (Dask sweep directories; resumable)
    OUT/stats/<sweep>/<run>.csv  per-run statistics (cached: a finished run is analysed once)
    OUT/tables/                  statistics.csv, seed_summary.csv, claims.csv, significant_pairs.csv,
                                 visual_similarity.csv, stability.csv
    OUT/figures/                 sparsity_vs_accuracy.png, overlap_ff_layer1.png
                                 training_cost.csv (wall and CPU seconds of every finished run)
    OUT/claims.md, OUT/comparison.md (the README section: claims, our numbers beside the authors', cost),
    OUT/report.html, OUT/manifest.json

Every statistic comes from the public analysis API (:mod:`ensembles.reproduction.stats`); the verdicts are the
rules of docs/reproduction.md (:mod:`ensembles.reproduction.verdicts`).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ensembles._io import atomic_write, atomic_write_text, read_json
from ensembles.analysis.pairs import class_mean_correlation, similar_pair_enrichment
from ensembles.analysis.runs import seed_summary
from ensembles.errors import ParameterError
from ensembles.integrity import stats_cache_valid, verified_sweep_runs, write_stats_cache
from ensembles.layout import RunLayout, SweepLayout
from ensembles.reproduction.compare import claims_markdown, results_markdown, timing_calls
from ensembles.reproduction.plan import CONDITIONS, DEFAULT_CONDITIONS, with_baseline_grid_points
from ensembles.reproduction.stats import run_statistics, statistics_frame
from ensembles.reproduction.verdicts import claims_table

__all__ = ["analyze_reproduction", "run_reproduction", "claims_markdown", "timing_calls"]

TOP_SIMILAR = 9
N_SHUFFLES = 10000


def _condition(sweep_name: str) -> str:
    for c in CONDITIONS:
        if sweep_name == c or sweep_name.startswith(c + "_"):
            return c
    raise ParameterError(f"Unknown sweep {sweep_name!r} in the reproduction directory.")


def _sweeps(out: Path) -> list[SweepLayout]:
    return [SweepLayout(p) for p in sorted((out / "sweeps").glob("*")) if SweepLayout(p).manifest.is_file()]


def _finished_runs(out: Path, echo: Callable[[str], None] = print) -> list[tuple[str, Path]]:
    return verified_sweep_runs(_sweeps(out), echo)  # damaged runs are refused, by name


def _training_cost(out: Path) -> pd.DataFrame:
    """One row per finished run: sweep, condition, model, seed, lr, wall and CPU seconds (its sweep status), the
    epoch it was resumed at (empty when trained from scratch), and its torch device and scale profile."""
    from ensembles.sweep.status import sweep_status

    frames = []
    for lay in _sweeps(out):
        st = sweep_status(lay.root)
        st = st[st["state"] == "complete"]
        if st.empty:
            continue
        resumed, device, scale = [], [], []
        for d in st["dir"]:  # a run resumed from a checkpoint: its seconds cover only the epochs it trained
            m = read_json(RunLayout(lay.resolve(d)).metrics, {}) or {}
            resumed.append(m.get("resumed_at_epoch"))
            device.append(str(m.get("device", "cpu")))
            scale.append(str(m.get("scale", "")))
        frames.append(pd.DataFrame({"sweep": lay.root.name, "condition": _condition(lay.root.name),
                                    "run": st["name"], "model": st.get("model", ""), "seed": st.get("seed", -1),
                                    "lr": st.get("train.lr", np.nan), "seconds": st["seconds"],
                                    "cpu_seconds": st["cpu_seconds"],
                                    "resumed_at_epoch": pd.array(resumed, dtype="Int64"), "device": device,
                                    "scale": scale}))
    cols = ["sweep", "condition", "run", "model", "seed", "lr", "seconds", "cpu_seconds", "resumed_at_epoch",
            "device", "scale"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _write_csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_text(path, df.to_csv(index=False))


def _cache_paths(out: Path, sweep: str, run_dir: Path) -> tuple[Path, Path]:
    cache = out / "stats" / sweep / f"{run_dir.name}.csv"
    return cache, cache.with_suffix(".json")


def _float(text: str) -> float:
    return float(text) if text.strip() else float("nan")


def _read_stats_cache(path: Path) -> list[dict]:
    """A run's cached statistics, the floats parsed by Python's ``float`` (correctly rounded: the cache holds
    ``repr`` digits, so values come back bit for bit; pandas' C parser was off by one ulp in some versions)."""
    df = pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN", ""],
                     converters={"lr": _float, "value": _float})
    return df.to_dict("records")


def _run_statistics_job(run_dir: str, cond: str) -> tuple[list[dict], dict]:
    """One run's statistics and the JSON-ready extras (a top-level function: it runs in a worker process)."""
    r, ex = run_statistics(run_dir, condition=cond, inhibition=(cond == "baseline"))
    extras = {k: (np.asarray(ex[k]).tolist() if k in ex else None) for k in ("significant_l1", "overlap_l1", "q_l1")}
    extras["pairs_l1"] = [list(p) for p in ex.get("significant_pairs_l1", ())]
    return r, extras


def _analyse_uncached(out: Path, runs: list[tuple[str, Path]], *, n_jobs: int,
                      echo: Callable[[str], None]) -> None:
    """Compute and cache the statistics of every run not analysed yet, ``n_jobs`` runs at a time.

    Each run's statistics depend only on that run (fixed random states), so the processes give the same numbers as
    one process; the caches are written by this process, each atomically, as its run finishes.
    """
    todo = [(sweep, run_dir) for sweep, run_dir in runs
            if not stats_cache_valid(*_cache_paths(out, sweep, run_dir), run_dir)]
    if not todo:
        return

    def store(sweep: str, run_dir: Path, result: tuple[list[dict], dict]) -> None:
        write_stats_cache(*_cache_paths(out, sweep, run_dir), statistics_frame(result[0]).to_csv(index=False),
                          result[1], run_dir)

    n_jobs = max(1, min(n_jobs, len(todo)))
    if n_jobs == 1:
        for sweep, run_dir in todo:
            echo(f"analysing {sweep}/{run_dir.name}")
            store(sweep, run_dir, _run_statistics_job(str(run_dir), _condition(sweep)))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    echo(f"analysing {len(todo)} runs, {n_jobs} at a time")
    # spawn: workers start clean (no inherited torch or BLAS thread pools); one BLAS thread each
    with _single_threaded_blas(), ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(_run_statistics_job, str(run_dir), _condition(sweep)): (sweep, run_dir)
                   for sweep, run_dir in todo}
        for fut in as_completed(futures):
            sweep, run_dir = futures[fut]
            store(sweep, run_dir, fut.result())
            echo(f"analysed {sweep}/{run_dir.name}")


@contextlib.contextmanager
def _single_threaded_blas():
    """Set the BLAS/OpenMP thread variables to 1 while worker processes are spawned (they read them at start)."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {v: os.environ.get(v) for v in names}
    os.environ.update({v: "1" for v in names})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _savefig(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format=path.suffix.lstrip(".")))
    finally:
        plt.close(fig)
    return str(path.relative_to(path.parent.parent))


def _report_html(dataset: str, claims: pd.DataFrame, pairs: pd.DataFrame, figures: list[str], meta: dict) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['claim'])}</td><td>{e(r['statement'])}</td><td>{e(r['measured'])}</td>"
        f"<td>{e(r['authors'])}</td><td class='v {e(r['verdict'].replace(' ', '-'))}'>{e(r['verdict'])}"
        f"{' (not stabilised)' if r['stabilised'] is False else ''}</td><td class='d'>{e(r['detail'])}</td></tr>"
        for _, r in claims.iterrows())
    prow = "".join(f"<tr><td>{e(str(r['seed']))}</td><td>{e(str(r['layer']))}</td><td>{e(str(r['pair']))}</td></tr>"
                   for _, r in pairs.iterrows())
    figs = "".join(f"<figure><img src='{e(f)}' style='max-width:100%'><figcaption>{e(f)}</figcaption></figure>"
                   for f in figures)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Reproduction of Tosato et al. 2023: {e(dataset)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px;font-size:13px;vertical-align:top}}.d{{font-size:11px;color:#444}}
.reproduced{{background:#d9f2d9}}.partly{{background:#fff3c4}}.not-reproduced{{background:#f8d0d0}}
.untestable{{background:#e6e6e6}}</style></head><body>
<h1>Reproduction of Tosato et al. (2023) on {e(dataset)}</h1>
<p>{e(meta.get('summary', ''))}</p>
<h2>Claims</h2><p>Rules fixed before the runs: docs/reproduction.md. Intervals: 95 % t over seeds.</p>
<table><tr><th>claim</th><th>statement</th><th>measured</th><th>the authors'</th><th>verdict</th><th>detail</th></tr>
{rows}</table>
<h2>Figures</h2>{figs}
<h2>Significant overlaps (BH q &lt; 0.05), per seed and layer, FF baseline</h2>
<table><tr><th>seed</th><th>layer</th><th>pair</th></tr>{prow}</table>
</body></html>"""


def analyze_reproduction(out: str | Path, dataset: str, *, echo: Callable[[str], None] = print,
                         n_shuffles: int = N_SHUFFLES, n_jobs: int = 1) -> dict[str, Any]:
    """Statistics of every finished run under ``out/sweeps``, the claims table, figures and report.

    ``n_jobs``: runs analysed at once (worker processes; the numbers do not depend on it)."""
    from ensembles.data import load_dataset

    out = Path(out)
    t0 = time.time()
    runs = _finished_runs(out, echo)
    if not runs:
        raise ParameterError(f"No finished runs under {str(out / 'sweeps')!r}; train them first.")
    rows: list[dict] = []
    sig_l1: list[np.ndarray] = []
    overlaps_l1: list[tuple[int, np.ndarray, np.ndarray]] = []
    pair_rows: list[dict] = []
    _analyse_uncached(out, runs, n_jobs=n_jobs, echo=echo)
    for sweep, run_dir in runs:
        cond = _condition(sweep)
        cache, extras_path = _cache_paths(out, sweep, run_dir)
        r = _read_stats_cache(cache)
        extras = json.loads(extras_path.read_text(encoding="utf-8"))
        rows += r
        model = next((x["model"] for x in r), "")
        seed = next((x["seed"] for x in r), -1)
        if cond == "baseline" and model == "ff" and extras.get("significant_l1") is not None:
            sig_l1.append(np.asarray(extras["significant_l1"], dtype=bool))
            overlaps_l1.append((seed, np.asarray(extras["overlap_l1"], float), np.asarray(extras["q_l1"], float)))
            pair_rows += [{"seed": seed, "layer": 1, "pair": f"{a}–{b}"} for a, b in extras["pairs_l1"]]
    stats = statistics_frame(rows)
    stats["variant"] = stats["variant"].fillna("").astype(str)
    train = load_dataset(dataset, "train", download=False)
    names = list(train.classes)
    sim = class_mean_correlation(train.x, train.y)
    pooled: dict[str, Any] = {"n_significant": int(sum(m[np.triu_indices(m.shape[0], 1)].sum() for m in sig_l1))}
    if sig_l1:
        enr = similar_pair_enrichment(sig_l1, sim, top=TOP_SIMILAR, n_shuffles=n_shuffles, random_state=0)
        pooled.update({"similar_pairs_p": enr.p if enr.n_significant else float("nan"),
                       "n_significant_similar": enr.n_in_top, "expected_similar": enr.expected})
        top = [f"{names[i]}–{names[j]}" for i, j in enr.top_pairs]
    else:
        top = []
    judged = with_baseline_grid_points(stats, dataset)  # a grid point that is the baseline run is not trained twice
    claims = claims_table(judged, dataset=dataset, pooled=pooled)
    summary = seed_summary(judged, ["condition", "model", "variant", "lr", "layer", "statistic"])
    tables = out / "tables"
    _write_csv(tables / "statistics.csv", stats)
    _write_csv(tables / "seed_summary.csv", summary)
    _write_csv(tables / "claims.csv", claims)
    pairs = pd.DataFrame(pair_rows, columns=["seed", "layer", "pair"])
    if not pairs.empty:
        pairs["pair"] = [
            "–".join(names[int(c)] if str(c).lstrip("-").isdigit() and int(c) < len(names) else str(c)
                     for c in p.split("–")) for p in pairs["pair"]]
    _write_csv(tables / "significant_pairs.csv", pairs)
    simdf = pd.DataFrame(np.asarray(sim), index=pd.Index(names, name="category"),
                         columns=names).reset_index()
    _write_csv(tables / "visual_similarity.csv", simdf)
    figures = []
    from ensembles.plot.reproduction import sparsity_vs_accuracy

    grid = summary[summary["condition"].isin(["lr_grid", "baseline"])]
    if not grid.empty:
        figures.append(_savefig(sparsity_vs_accuracy(grid, title=f"{dataset}: sparsity vs accuracy (mean ± 95 % "
                                                                  "interval over seeds)"),
                                out / "figures" / "sparsity_vs_accuracy.png"))
    if overlaps_l1:
        from ensembles.plot.reproduction import overlap_panels

        figures.append(_savefig(overlap_panels(sorted(overlaps_l1, key=lambda t: t[0]), names,
                                               title=f"{dataset}: FF layer-1 ensemble overlaps (units shared; * = BH "
                                                     "q < 0.05), one panel per seed"),
                                out / "figures" / "overlap_ff_layer1.png"))
    cost = _training_cost(out)
    _write_csv(tables / "training_cost.csv", cost)
    md = claims_markdown(claims)
    n_runs = len(runs)
    meta = {"dataset": dataset, "n_runs": n_runs, "seconds_analysis": round(time.time() - t0, 1),
            "scale": sorted(set(cost["scale"])), "device": sorted(set(cost["device"])),
            "similar_pairs_top9": top, "pooled": {k: (float(v) if isinstance(v, (int, float, np.floating))
                                                      else v) for k, v in pooled.items()},
            "summary": f"{n_runs} finished runs; the {TOP_SIMILAR} most visually similar class pairs (pixel "
                       f"correlation of class means): {', '.join(top)}."}
    atomic_write_text(out / "claims.md", md)
    atomic_write_text(out / "report.html", _report_html(dataset, claims, pairs, figures, meta))
    atomic_write_text(out / "manifest.json", json.dumps({**meta, "figures": figures,
                                                         "tables": sorted(p.name for p in tables.glob("*.csv"))},
                                                        indent=1, default=str))
    echo(f"claims table ({n_runs} runs, analysis {meta['seconds_analysis']} s):\n{md}")
    return {"claims": claims, "stats": stats, "summary": summary, "meta": meta}


def run_reproduction(dataset: str = "mnist-5k", out: str | Path | None = None, *, seeds: tuple[int, ...] = (0, 1, 2),
                     conditions: tuple[str, ...] = DEFAULT_CONDITIONS, scheduler: str = "local", force: bool = False,
                     train: bool = True, dry_run: bool = False, echo: Callable[[str], None] = print,
                     scale: str = "cpu", overrides: dict | None = None, n_shuffles: int = N_SHUFFLES,
                     device: str = "cpu", n_workers: int | None = None) -> dict:
    """Train (resuming; finished runs reused) and analyse the reproduction into ``out``."""
    from ensembles._lock import claim_output_dir
    from ensembles.reproduction.train import train_reproduction

    out = Path(out) if out is not None else Path("results") / "reproduce" / dataset
    if dry_run:
        return {"train": train_reproduction(dataset, out, seeds=seeds, conditions=conditions, echo=echo,
                                            dry_run=True, scale=scale, overrides=overrides, device=device)}
    t0 = time.time()
    with claim_output_dir(out, command="reproduce", force=force) as claim:
        note = claim.note_stale()
        if note:
            echo(note)
        if train:
            train_reproduction(dataset, out, seeds=seeds, conditions=conditions, scheduler=scheduler, echo=echo,
                               scale=scale, overrides=overrides, device=device, n_workers=n_workers)
        t_train = time.time() - t0
        from ensembles.train.device import usable_cpus

        res = analyze_reproduction(out, dataset, echo=echo, n_shuffles=n_shuffles,
                                   n_jobs=n_workers or usable_cpus())
        res["meta"]["seconds_total"] = round(time.time() - t0, 1)
        res["meta"]["seconds_training"] = round(t_train, 1)
        calls = timing_calls(out)
        calls.append({"trained": bool(train), "conditions": list(conditions) if train else [],
                      "seeds": list(seeds), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      **{k: res["meta"][k] for k in ("seconds_total", "seconds_training", "seconds_analysis")}})
        atomic_write_text(out / "timing.json", json.dumps({"calls": calls}, indent=1))
        atomic_write_text(out / "comparison.md", results_markdown(out, dataset))
    return res
