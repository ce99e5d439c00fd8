"""``ensembles demo``: train FF, BP/FF and BP, record, analyse and report in one reproducible run.

Layout of the output directory (a results directory, :class:`ensembles.layout.ResultsLayout`, plus the runs)::

    OUT/runs/ff, OUT/runs/bp_ff, OUT/runs/bp     the three main runs (ensembles.layout.RunLayout)
    OUT/runs/ff_heldout                          FF trained without the held-out class(es), strict (figure 8)
    OUT/runs/sweep_<goodness>_lr<lr>             the small FF sweep of figure 7 (only with ``sweep=True``)
    OUT/tables, OUT/figures, OUT/manifest.json   the analysis (ensembles.workflows.analyze)
    OUT/report.html                              the report (ensembles.report.build_report)

A second call reuses finished runs (their ``DONE`` marker) and a finished analysis unless ``force``.  The directory is
claimed for the whole run (:mod:`ensembles._lock`).  Usable from Python (notebooks) as :func:`run_demo`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ensembles._validation import check_choice, closest
from ensembles.errors import OutputDirError, ParameterError
from ensembles.layout import ResultsLayout, RunLayout, check_out, claim_results_dir
from ensembles.workflows.analyze import analyze

__all__ = ["SCALES", "demo_plan", "run_demo"]

SCALES = ("quick", "cpu", "full")

# the figure-7 sweep: small FF runs (goodness × lr); widths/epochs per scale keep the demo inside its budget
_SWEEP = {
    "quick": {"network__hidden": [16, 16, 16], "train__epochs": 3, "train__batch_size": 128, "lrs": (0.02, 0.005)},
    "cpu": {"network__hidden": [1000, 1000, 1000], "train__epochs": 10, "lrs": (0.01, 0.003, 0.001)},
    "full": {"network__hidden": [1000, 1000, 1000], "train__epochs": 50, "train__batch_size": 1024,
             "lrs": (0.01, 0.001)},
}
_SWEEP_GOODNESS = ("l2_norm", "l1")
# the demo's `quick` scale is a smoke test (seconds): narrower and shorter than the trainers' quick profile
_MAIN_OVERRIDES = {
    # FF and BP/FF keep the trainers' quick profile (64 units x 3, 20 epochs): narrower or shorter runs are degenerate
    # (some classes never predicted), which would make the smoke test's numbers meaningless
    "quick": {"bp": {"network__hidden": [32, 32, 32], "train__epochs": 10}},
}


MODELS = ("ff", "bp_ff", "bp")


def _check_models(models) -> tuple[str, ...]:
    models = tuple(models)
    if not models:
        raise ParameterError("The 'models' parameter must name at least one of 'ff', 'bp_ff', 'bp'. Got none.")
    for m in models:
        check_choice("models", m, MODELS)
    return models


def demo_plan(dataset: str = "mnist-5k", scale: str = "cpu", *, seed: int = 0, held_out: tuple[int, ...] = (3,),
              sweep: bool = False, models: tuple[str, ...] = MODELS) -> dict[str, Any]:
    """The run configs of the demo: ``{run_name: RunConfig}`` (insertion order = training order).

    The held-out (zero-shot) run and the sweep are FF runs and are planned only when ``"ff"`` is in ``models``.
    The sweep (``sweep=True``: six short FF runs, goodness × lr, for figure 7) is off by default: at the demo's
    budget its runs stay near chance accuracy, so its figure shows no usable sparsity-accuracy relation; the
    reproduction's lr grid (``ensembles reproduce --conditions baseline held_out lr_grid``) is the real one.
    """
    from ensembles.train import make_config

    check_choice("scale", scale, SCALES)
    models = _check_models(models)
    plan: dict[str, Any] = {}
    main = _MAIN_OVERRIDES.get(scale, {})
    for model in models:
        # default record epochs: two checkpoints per trained stage (the stability check of the report)
        plan[model] = make_config(model, dataset, scale=scale, seed=seed, **main.get(model, {}))
    if held_out and "ff" in models:
        zs = dict(main.get("ff", {}))  # same epochs as the main FF run, so the comparison of figure 8 is fair
        plan["ff_heldout"] = make_config("ff", dataset, scale=scale, seed=seed, data__held_out=list(held_out),
                                         data__held_out_mode="strict", **zs)
    if sweep and "ff" in models:
        sw = dict(_SWEEP[scale])
        lrs = sw.pop("lrs")
        for g in _SWEEP_GOODNESS:
            for lr in lrs:
                plan[f"sweep_{g}_lr{lr:g}"] = make_config("ff", dataset, scale=scale, seed=seed, ff__goodness=g,
                                                          train__lr=lr, **sw)
    return plan


def _differs(stored_toml: Path, cfg) -> list[str]:
    """Config keys that differ between a finished run and the planned config (label_value is derived)."""
    from ensembles.train import load_config

    old = load_config(stored_toml).to_dict()
    new = cfg.to_dict()
    diffs = []
    for sect in sorted(set(old) | set(new)):
        a, b = old.get(sect), new.get(sect)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if k != "label_value" and a.get(k) != b.get(k):
                    diffs.append(f"{sect}.{k}: {a.get(k)!r} -> {b.get(k)!r}")
        elif a != b:
            diffs.append(f"{sect}: {a!r} -> {b!r}")
    return diffs


def _check_dataset(dataset: str) -> None:
    from ensembles.data import list_datasets

    infos = {d.name: d for d in list_datasets()}
    if dataset not in infos:
        hint = closest(dataset, infos)
        raise ParameterError(f"unknown dataset {dataset!r}; available: {', '.join(infos)}"
                         + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    if not infos[dataset].available:
        raise FileNotFoundError(f"dataset {dataset!r} is not available here: {infos[dataset].reason}")


def run_demo(dataset: str = "mnist-5k", scale: str = "cpu", out: str | Path = "results/demo", *, force: bool = False,
             seed: int = 0, held_out: tuple[int, ...] = (3,), sweep: bool = False, progress: bool = True,
             device: str = "cpu", models: tuple[str, ...] = MODELS) -> dict[str, Any]:
    """Train, record, analyse and report; returns ``{"report": path, "timings_s": {...}, "manifest": {...}}``."""
    from ensembles._io import atomic_write_json
    from ensembles.report import build_report, read_manifest, summary_text
    from ensembles.train import train_run

    check_choice("scale", scale, SCALES)
    models = _check_models(models)
    _check_dataset(dataset)
    out = check_out(out)
    results = ResultsLayout(out)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def say(msg: str) -> None:
        if progress:
            print(f"[demo {time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)

    plan = demo_plan(dataset, scale, seed=seed, held_out=held_out, sweep=sweep, models=models)
    runs = {n: RunLayout(out / "runs" / n) for n in plan}
    claim = claim_results_dir(out, command="demo", force=force)
    try:
        finished = {n: r.is_done() for n, r in runs.items()}
        if results.is_finished() and not force:
            if not all(finished.values()):
                raise OutputDirError(f"{out} holds a finished report but some runs are missing or unfinished; "
                                     "pass --force to redo the demo")
            say(f"reusing the finished demo in {out} (pass --force to redo it)")
            report = results.report if results.report.exists() else build_report(out, claim=claim)
            return {"report": str(report), "timings_s": {}, "reused": True,
                    "manifest": read_manifest(ResultsLayout(out))}
        for name, cfg in plan.items():
            rdir = runs[name].root
            if finished[name] and not force:
                diffs = _differs(runs[name].config, cfg)
                if diffs:
                    raise OutputDirError(f"run {rdir} was finished with a different config ({'; '.join(diffs[:3])}); "
                                         "pass --force to retrain")
                say(f"{name}: finished run reused")
                continue
            say(f"training {name} ({cfg.model}, {dataset}, scale {scale}, hidden {cfg.network.hidden}, "
                f"{cfg.train.epochs} epochs{' per layer' if cfg.model == 'ff' else ''}, lr {cfg.train.lr:g})")
            t = time.perf_counter()
            metrics = train_run(cfg, rdir, resume=not force, force=force, device=device, progress=progress)
            timings[f"train {name}"] = round(time.perf_counter() - t, 2)
            acc = metrics.get("accuracy", metrics.get("test_accuracy"))
            say(f"{name}: done in {timings[f'train {name}']:.1f}s" + (f", test accuracy {acc:.4f}" if isinstance(
                acc, float) else ""))
        t = time.perf_counter()
        zs = [(runs["ff_heldout"].root, runs["ff"].root)] if "ff_heldout" in plan else None
        sw = [runs[n].root for n in plan if n.startswith("sweep_")] or None
        say("analysis")
        manifest = analyze([runs[m].root for m in models], out, force=True, sweep=sw, zero_shot=zs,
                           progress=progress, n_bootstrap=200 if scale == "quick" else 1000, command="demo",
                           claim=claim)
        timings["analysis"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        report = build_report(out, claim=claim)
        timings["report"] = round(time.perf_counter() - t, 2)
        timings["total"] = round(time.perf_counter() - t0, 2)
        manifest["demo"] = {"dataset": dataset, "scale": scale, "seed": seed, "held_out": list(held_out),
                            "models": list(models), "runs": list(plan), "timings_s": timings}
        atomic_write_json(results.manifest, manifest)
    finally:
        claim.release()
    say(f"report: {report}")
    return {"report": str(report), "timings_s": timings, "reused": False, "manifest": manifest,
            "summary": summary_text(out)}
