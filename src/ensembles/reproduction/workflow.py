"""``ensembles reproduce``: train the protocol's runs, compute their statistics, judge the claims, write a report.

Output directory ``OUT`` (default ``results/reproduce/<dataset>``): :class:`ensembles.layout.ReproductionLayout`,
a results directory written by the same machinery as ``ensembles analyze`` (tables, figures, ``manifest.json``
last, then ``report.html``), with the training sweeps, the per-run statistics caches, ``claims.md``,
``comparison.md`` (the results section: claims, our numbers beside the authors', cost) and ``timing.json`` beside
it.  Tables: statistics, seed_summary, claims, significant_pairs, visual_similarity, training_cost (wall and CPU
seconds of every finished run).  Figures: sparsity_vs_accuracy, overlap_ff_layer1.

Every statistic comes from the public analysis API (:mod:`ensembles.reproduction.stats`); the verdicts are the
rules of docs/reproduction.md (:mod:`ensembles.reproduction.verdicts`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ensembles._io import atomic_write_text, read_json
from ensembles._lock import OutputDirClaim
from ensembles.analysis.pairs import class_mean_correlation, similar_pair_enrichment
from ensembles.analysis.runs import seed_summary
from ensembles.errors import ParameterError
from ensembles.integrity import stats_cache_valid, verified_sweep_runs, write_stats_cache
from ensembles.layout import ReproductionLayout, ResultsLayout, RunLayout
from ensembles.reproduction.compare import claims_markdown, results_markdown, timing_calls
from ensembles.reproduction.plan import (
    CONDITIONS,
    DEFAULT_CONDITIONS,
    V1_CONDITIONS,
    V2_CONDITIONS,
    with_baseline_grid_points,
)
from ensembles.reproduction.stats import run_statistics, statistics_frame
from ensembles.reproduction.stats_v2 import find_reference, run_statistics_v2
from ensembles.reproduction.verdicts import claims_table
from ensembles.reproduction.verdicts_v2 import claims_table_v2
from ensembles.workflows.figures import save_figure
from ensembles.workflows.results import ResultsDir, now, versions

__all__ = ["analyze_reproduction", "run_reproduction", "claims_markdown", "timing_calls"]

# the manifest's "kind": the report then opens with the claims (ensembles.report.claims)
REPORT_KIND = "reproduction"
# the report's figures: id -> (title, caption)
FIGURES = {
    "sparsity_vs_accuracy": ("Sparsity against accuracy", "Layer Hoyer sparseness against test accuracy for every "
                             "model and learning rate (mean ± 95 % interval over seeds)."),
    "accuracy_trajectories": ("Sparsity against accuracy along training", "Hoyer sparseness over responsive "
                              "units against test accuracy at every recorded checkpoint of the reference runs, one "
                              "curve per run; the matched-accuracy comparison (docs/reproduction-v2.md section 3) "
                              "reads each curve at FF's final accuracy (dashed). Intermediate checkpoints use a "
                              "fixed test subsample of at most 2,000 presentations."),
    "overlap_ff_layer1": ("FF layer-1 ensemble overlaps", "Units shared by the category ensembles of each class "
                          "pair, one panel per seed; * marks pairs above the hypergeometric expectation (BH q < "
                          "0.05)."),
}
TOP_SIMILAR = 9
N_SHUFFLES = 10000


def _condition(sweep_name: str) -> str:
    for c in CONDITIONS:
        if sweep_name == c or sweep_name.startswith(c + "_"):
            return c
    raise ParameterError(f"Unknown sweep {sweep_name!r} in the reproduction directory.")


def _finished_runs(out: ReproductionLayout, echo: Callable[[str], None] = print) -> list[tuple[str, Path]]:
    return verified_sweep_runs(out.sweep_layouts(), echo)  # damaged runs are refused, by name


def _training_cost(out: ReproductionLayout) -> pd.DataFrame:
    """One row per finished run: sweep, condition, model, seed, lr, wall and CPU seconds (its sweep status), the
    epoch it was resumed at (empty when trained from scratch), and its torch device and scale profile."""
    from ensembles.sweep.status import sweep_status

    frames = []
    for lay in out.sweep_layouts():
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


def _run_statistics_v2_job(run_dir: str, cond: str, reference: str | None) -> tuple[list[dict], dict]:
    """One run's protocol-v2 rows, and its trajectory and reference run as JSON-ready extras (worker process)."""
    rows, traj = run_statistics_v2(run_dir, condition=cond, reference_dir=reference)
    return rows, {"reference": Path(reference).name if reference else None, "trajectory": traj}


class _Job(NamedTuple):
    protocol: str  # "v1" or "v2"
    sweep: str
    run_dir: Path
    reference: Path | None = None  # v2 zero-shot runs: the reference run compared with

    def call(self) -> tuple[Callable, tuple]:
        cond = _condition(self.sweep)
        if self.protocol == "v1":
            return _run_statistics_job, (str(self.run_dir), cond)
        return _run_statistics_v2_job, (str(self.run_dir), cond, str(self.reference) if self.reference else None)


def _jobs(out: ReproductionLayout, runs: list[tuple[str, Path]]) -> list[_Job]:
    """The statistics each finished run needs (v1: the conditions of docs/reproduction.md; v2: the baseline and
    the conditions of docs/reproduction-v2.md) and has not cached yet; a zero-shot run is analysed again when its
    reference run appears."""
    references = [run_dir for sweep, run_dir in runs if _condition(sweep) == "reference"]
    jobs = []
    for sweep, run_dir in runs:
        cond = _condition(sweep)
        if cond in V1_CONDITIONS and not stats_cache_valid(*out.stats_cache(sweep, run_dir.name), run_dir):
            jobs.append(_Job("v1", sweep, run_dir))
        if cond == "baseline" or cond in V2_CONDITIONS:
            ref = find_reference(run_dir, references) if cond == "zero_shot" else None
            rows_path, extras_path = out.stats_cache_v2(sweep, run_dir.name)
            valid = stats_cache_valid(rows_path, extras_path, run_dir)
            cached = read_json(extras_path, None) if valid else None
            if not isinstance(cached, dict) or cached.get("reference") != (ref.name if ref else None):
                jobs.append(_Job("v2", sweep, run_dir, ref))
    return jobs


def _analyze_uncached(out: ReproductionLayout, runs: list[tuple[str, Path]], *, n_jobs: int,
                      echo: Callable[[str], None]) -> None:
    """Compute and cache the statistics of every run not analysed yet, ``n_jobs`` runs at a time.

    Each run's statistics depend only on that run (fixed random states), so the processes give the same numbers as
    one process; the caches are written by this process, each atomically, as its run finishes.
    """
    todo = _jobs(out, runs)
    if not todo:
        return

    def store(job: _Job, result: tuple[list[dict], dict]) -> None:
        cache = out.stats_cache if job.protocol == "v1" else out.stats_cache_v2
        write_stats_cache(*cache(job.sweep, job.run_dir.name), statistics_frame(result[0]).to_csv(index=False),
                          result[1], job.run_dir)

    n_jobs = max(1, min(n_jobs, len(todo)))
    if n_jobs == 1:
        for job in todo:
            echo(f"analysing {job.sweep}/{job.run_dir.name} ({job.protocol})")
            fn, args = job.call()
            store(job, fn(*args))
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    echo(f"analysing {len(todo)} runs, {n_jobs} at a time")
    # spawn: workers start clean (no inherited torch or BLAS thread pools); one BLAS thread each
    with _single_threaded_blas(), ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(fn, *args): job for job in todo for fn, args in [job.call()]}
        for fut in as_completed(futures):
            job = futures[fut]
            store(job, fut.result())
            echo(f"analysed {job.sweep}/{job.run_dir.name} ({job.protocol})")


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


def _figure(res: ResultsDir, fid: str, fig) -> dict:
    """Save one figure through the results machinery (PNG and SVG) and return its manifest entry."""
    import matplotlib.pyplot as plt

    try:
        files = save_figure(fig, res.figures_dir / fid)
    finally:
        plt.close(fig)
    title, caption = FIGURES[fid]
    return {"title": title, "caption": caption, "data_used": "the finished runs' statistics (tables/statistics.csv)",
            "files": [ResultsLayout.figure_rel(fid, Path(f).suffix.lstrip(".")) for f in files]}


def analyze_reproduction(out: str | Path, dataset: str, *, echo: Callable[[str], None] = print,
                         n_shuffles: int = N_SHUFFLES, n_jobs: int = 1, claim: OutputDirClaim | None = None,
                         force: bool = False) -> dict[str, Any]:
    """Statistics of every finished run under ``out/sweeps``, the claims table, figures and report.

    The tables and figures are written through :class:`ensembles.workflows.results.ResultsDir` (the same
    machinery as ``ensembles analyze``) and the report by :func:`ensembles.report.build_report`.

    ``n_jobs``: runs analysed at once (worker processes; the numbers do not depend on it).  ``claim``: the claim on
    ``out`` the caller holds (otherwise the directory is claimed here, for ``ensembles reproduce``; ``force`` as
    in :func:`ensembles._lock.claim_output_dir`).
    """
    from ensembles._lock import claim_output_dir

    lay = ReproductionLayout(out)
    if claim is None:
        with claim_output_dir(lay.root, command="reproduce", force=force) as own:
            return analyze_reproduction(out, dataset, echo=echo, n_shuffles=n_shuffles, n_jobs=n_jobs, claim=own)
    from ensembles.data import load_dataset
    from ensembles.report import build_report

    t0 = time.time()
    runs = _finished_runs(lay, echo)
    if not runs:
        raise ParameterError(f"No finished runs under {str(lay.sweeps)!r}; train them first.")
    rows: list[dict] = []
    sig_l1: list[np.ndarray] = []
    overlaps_l1: list[tuple[int, np.ndarray, np.ndarray]] = []
    pair_rows: list[dict] = []
    _analyze_uncached(lay, runs, n_jobs=n_jobs, echo=echo)
    rows_v2: list[dict] = []
    trajectories: list[dict] = []
    for sweep, run_dir in runs:
        cond = _condition(sweep)
        if cond == "baseline" or cond in V2_CONDITIONS:
            rows_path, extras_path = lay.stats_cache_v2(sweep, run_dir.name)
            rows_v2 += _read_stats_cache(rows_path)
            trajectories += (read_json(extras_path, {}) or {}).get("trajectory") or []
        if cond not in V1_CONDITIONS:
            continue
        cache, extras_path = lay.stats_cache(sweep, run_dir.name)
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
    stats_v2 = statistics_frame(rows_v2)
    stats_v2["variant"] = [("" if pd.isna(v) else str(v)) for v in stats_v2["variant"]]  # all empty: read as NaN
    traj = pd.DataFrame(trajectories)
    claims_v2 = claims_table_v2(pd.concat([judged, stats_v2], ignore_index=True), dataset=dataset,
                                trajectories=traj if len(traj) else None)
    summary = seed_summary(judged, ["condition", "model", "variant", "lr", "layer", "statistic"])
    pairs = pd.DataFrame(pair_rows, columns=["seed", "layer", "pair"])
    if not pairs.empty:
        pairs["pair"] = [
            "–".join(names[int(c)] if str(c).lstrip("-").isdigit() and int(c) < len(names) else str(c)
                     for c in p.split("–")) for p in pairs["pair"]]
    simdf = pd.DataFrame(np.asarray(sim), index=pd.Index(names, name="category"),
                         columns=names).reset_index()
    cost = _training_cost(lay)
    L = ReproductionLayout
    with ResultsDir(lay.root, command="reproduce", force=True, claim=claim) as res:
        tables = res.write_tables({L.STATISTICS: stats, L.SEED_SUMMARY: summary, L.CLAIMS: claims,
                                   L.SIGNIFICANT_PAIRS: pairs, L.VISUAL_SIMILARITY: simdf,
                                   L.TRAINING_COST: cost, L.STATISTICS_V2: stats_v2, L.CLAIMS_V2: claims_v2,
                                   L.TRAJECTORIES: traj})
        figures: dict[str, dict] = {}
        from ensembles.plot.reproduction import overlap_panels, sparsity_vs_accuracy

        grid = summary[summary["condition"].isin(["lr_grid", "baseline"])]
        if not grid.empty:
            figures["sparsity_vs_accuracy"] = _figure(
                res, "sparsity_vs_accuracy",
                sparsity_vs_accuracy(grid, title=f"{dataset}: sparsity vs accuracy (mean ± 95 % interval over seeds)"))
        if overlaps_l1:
            figures["overlap_ff_layer1"] = _figure(
                res, "overlap_ff_layer1",
                overlap_panels(sorted(overlaps_l1, key=lambda t: t[0]), names,
                               title=f"{dataset}: FF layer-1 ensemble overlaps (units shared; * = BH q < 0.05), "
                                     "one panel per seed"))
        if len(traj):
            from ensembles.plot.reproduction import accuracy_trajectories

            ff_final = traj[(traj["model"] == "ff")].sort_values("checkpoint").groupby("seed")["accuracy"].last()
            figures["accuracy_trajectories"] = _figure(
                res, "accuracy_trajectories",
                accuracy_trajectories(traj, target=float(ff_final.mean()) if len(ff_final) else None,
                                      title=f"{dataset}: Hoyer over responsive units against accuracy along "
                                            "training (reference runs; dashed: FF's final accuracy)"))
        n_runs = len(runs)
        meta = {"dataset": dataset, "n_runs": n_runs, "seconds_analysis": round(time.time() - t0, 1),
                "scale": sorted(set(cost["scale"])), "device": sorted(set(cost["device"])),
                "similar_pairs_top9": top, "pooled": {k: (float(v) if isinstance(v, (int, float, np.floating))
                                                          else v) for k, v in pooled.items()},
                "summary": f"{n_runs} finished runs; the {TOP_SIMILAR} most visually similar class pairs (pixel "
                           f"correlation of class means): {', '.join(top)}."}
        from ensembles import __version__

        res.publish({"tool": "ensembles reproduce", "kind": REPORT_KIND, "package_version": __version__,
                     "created": now(), **meta, "tables": tables, "figures": figures,
                     "figure_list": [{"id": k, "title": v["title"], "caption": v["caption"]}
                                     for k, v in figures.items()],
                     "versions": versions()})
    md = claims_markdown(claims) + "\n" + claims_markdown(claims_v2)
    atomic_write_text(lay.claims_md, md)
    build_report(lay.root, claim=claim)
    echo(f"claims table ({n_runs} runs, analysis {meta['seconds_analysis']} s):\n{md}")
    return {"claims": claims, "claims_v2": claims_v2, "stats": stats, "stats_v2": stats_v2, "trajectories": traj,
            "summary": summary, "meta": meta}


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
                                   n_jobs=n_workers or usable_cpus(), claim=claim)
        res["meta"]["seconds_total"] = round(time.time() - t0, 1)
        res["meta"]["seconds_training"] = round(t_train, 1)
        calls = timing_calls(out)
        calls.append({"trained": bool(train), "conditions": list(conditions) if train else [],
                      "seeds": list(seeds), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      **{k: res["meta"][k] for k in ("seconds_total", "seconds_training", "seconds_analysis")}})
        lay = ReproductionLayout(out)
        atomic_write_text(lay.timing, json.dumps({"calls": calls}, indent=1))
        atomic_write_text(lay.comparison_md, results_markdown(out, dataset))
    return res
