"""Analyse recordings into tables: the composition of :mod:`ensembles.analysis.tables` behind every workflow.

:func:`analyze_sources` turns a list of :class:`~ensembles.workflows.sources.Source` into an :class:`Analysis` (a dict
of tidy tables plus what was used and what was skipped); :func:`analyze_runs` does it for a set of runs (models ×
seeds) and adds across-seed intervals.  Nothing here computes a statistic: every number comes from
``ensembles.analysis``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ensembles import conventions as C
from ensembles._validation import describe
from ensembles.analysis import tables as T
from ensembles.errors import DataFileError, InputTypeError, ParameterError
from ensembles.history import read_history
from ensembles.record import select_presentations
from ensembles.workflows.inputs import Unavailable, layer_weights, recorded_layer_inputs
from ensembles.workflows.sources import Source, load_source, load_sources

__all__ = ["AnalysisParams", "Analysis", "Progress", "analyze_sources", "analyze_runs"]


@dataclass(frozen=True)
class AnalysisParams:
    """The parameters of an analysis (recorded in its manifest).

    correct_only, keep_held_out : the presentations used (:func:`ensembles.record.select_presentations`).
    tau, alpha : the ensemble rule's contrast (docs/methods.md §A3.4) and the significance level of overlaps and tests.
    n_bootstrap : bootstrap resamples of the sparseness CIs.  n_shuffles : label shuffles of the ensemble-size null.
    summary_shuffles : label shuffles of the summary table's bias-corrected statistics.  seed : the random generator.
    """

    correct_only: bool = True
    keep_held_out: bool = True
    tau: float = 1.0
    alpha: float = 0.05
    n_bootstrap: int = 1000
    n_shuffles: int = 5
    summary_shuffles: int = 50
    seed: int = 0

    def __post_init__(self):
        for name in ("correct_only", "keep_held_out"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise InputTypeError(f"The {name!r} parameter must be a bool. Got {describe(getattr(self, name))}.")
        for name, lo in (("n_bootstrap", 1), ("n_shuffles", 0), ("summary_shuffles", 0), ("seed", 0)):
            v = getattr(self, name)
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < lo:
                raise ParameterError(f"The {name!r} parameter must be an int >= {lo}. Got {describe(v)} instead.")
        if not (isinstance(self.tau, int | float) and self.tau >= 0):
            raise ParameterError(f"The 'tau' parameter must be a number >= 0. Got {describe(self.tau)} instead.")
        if not (isinstance(self.alpha, int | float) and 0 < self.alpha < 1):
            raise ParameterError(f"The 'alpha' parameter must be a number in (0, 1). Got {describe(self.alpha)}.")

    def manifest(self) -> dict[str, Any]:
        return {**asdict(self), "ensemble_rule": "paper (leave-one-out contrast; docs/methods.md §A3.4)",
                "sparseness_measure": "hoyer (Hoyer 2004; population = per presentation across a layer's neuroids, "
                                      "lifetime = per neuroid across presentations)"}


class Progress:
    """Timed progress lines on stderr (silent unless ``enabled``); ``timings`` records each step's seconds."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, msg: str) -> None:
        if self.enabled:
            print(f"[{time.perf_counter() - self.t0:7.1f}s] {msg}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, name: str):
        t = time.perf_counter()
        self(f"{name} ...")
        yield
        self.timings[name] = round(time.perf_counter() - t, 3)


@dataclass
class Analysis:
    """Tables of an analysis and what they were computed from."""

    sources: list[Source]
    params: AnalysisParams
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    infos: list[dict] = field(default_factory=list)       # one per source: data used, accuracy, ...
    notes: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # figure id -> why its inputs are missing
    used: dict[str, str] = field(default_factory=dict)         # figure id -> extra description of the data used
    timings: dict[str, float] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())

    def add(self, name: str, rows: Sequence[Mapping[str, Any]] | pd.DataFrame) -> None:
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if len(df):
            self.tables[name] = pd.concat([self.tables[name], df], ignore_index=True) if name in self.tables else df

    @property
    def data_used(self) -> str:
        return "; ".join(f"{i['name']}: {i['data_used']}" for i in self.infos)

    def headline(self) -> pd.DataFrame:
        return T.headline_table(self.table("sparseness_by_layer"), self.table("ensemble_sizes"),
                                self.table("ensemble_overlap"), {i["name"]: i.get("accuracy") for i in self.infos},
                                alpha=self.params.alpha)


def analyze_sources(sources: Sequence[Source], params: AnalysisParams | None = None, *,
                    sweep: Sequence[Any] | None = None, zero_shot: Sequence[tuple[Any, Any]] | None = None,
                    progress: Progress | None = None) -> Analysis:
    """Every table of figures 1-10 for ``sources`` (plus a sweep and held-out-class pairs, if given)."""
    params = params or AnalysisParams()
    log = progress or Progress(False)
    rng = np.random.default_rng(params.seed)
    an = Analysis(list(sources), params)
    sel_kw = {"correct_only": params.correct_only, "keep_held_out": params.keep_held_out}
    for src in an.sources:  # the random generator is consumed in this order: sources, then weight samples
        with log.step(f"statistics: {src.name}"):
            rows, acc = T.accuracy_rows(src.rec, src.name)
            an.add("accuracy", rows)
            tabs, info, notes = T.recording_tables(src.rec, src.name, rng=rng, tau=params.tau, alpha=params.alpha,
                                                   n_bootstrap=params.n_bootstrap, n_shuffles=params.n_shuffles,
                                                   **sel_kw)
            for name, rows in tabs.items():
                an.add(name, rows)
            an.infos.append({**src.describe(), **info, **({"accuracy": acc} if acc is not None else {})})
            an.notes += notes
    for src in an.sources:
        with log.step(f"checkpoints/history: {src.name}"):
            an.add("checkpoints", T.checkpoint_rows(src.rec, src.name, tau=params.tau, **sel_kw))
            # training is shortened on CPUs: is each statistic stable over the last two checkpoints of its layer?
            an.add("stability", T.stability_rows(src.rec, src.name, src.config, n_bootstrap=params.n_bootstrap,
                                                 **sel_kw))
            if src.run and src.run.history.exists():
                try:
                    hist = read_history(src.run_dir, model=src.name)
                except DataFileError as err:
                    an.notes.append(f"training: {src.name}: history not readable ({err})")
                else:
                    an.add("history", hist.astype({"layer": "float64"}))
    if "checkpoints" not in an.tables:
        an.unavailable["checkpoints"] = "no recording has more than one checkpoint"
    if "stability" not in an.tables:
        an.unavailable["stability"] = "no recording has two checkpoints to compare"
    if "history" not in an.tables:
        an.unavailable["training"] = "no training history (recordings without a training run directory)"
    _controls(an, log)
    _inhibition(an, rng, log)
    if sweep:
        with log.step(f"sweep ({len(sweep)} runs)"):
            for item in sweep:
                s = load_source(item)
                s.name = s.name or C.MODEL_NAMES.get(s.model, s.model)
                run = s.run.root.name if s.run else (s.path or s.name)
                an.add("sweep", T.sweep_rows(s.rec, run, s.name, s.config, **sel_kw))
        an.used["sweep"] = (f"{len(sweep)} sweep runs; accuracy on all test presentations, Hoyer on the correct "
                            "ones")
    else:
        an.unavailable["sweep"] = "no hyper-parameter sweep was given"
    if zero_shot:
        with log.step(f"zero-shot ({len(zero_shot)} pairs)"):
            _zero_shot(an, zero_shot)
    else:
        an.unavailable["zero_shot"] = "no held-out-class run was given"
    with log.step("summary table and comparison with cortex"):
        _summary_and_cortex(an)
    an.timings = log.timings
    return an


def _controls(an: Analysis, log: Progress) -> None:
    """Silent and responsive neuroids per layer (``units``) and ensembles against their shuffled-label null over τ
    (``ensemble_null``, ``ensemble_null_classes``).  Their label permutations come from a generator of their own
    (a child of the analysis seed), so the other tables keep their numbers."""
    rng = np.random.default_rng(np.random.SeedSequence(an.params.seed).spawn(1)[0])
    taus = tuple(sorted({*T.ENSEMBLE_TAUS, float(an.params.tau)}))
    sel_kw = {"correct_only": an.params.correct_only, "keep_held_out": an.params.keep_held_out}
    for src in an.sources:
        with log.step(f"controls: {src.name}"):
            an.add("units", T.unit_rows(src.rec, src.name, **sel_kw))
            rows, class_rows = T.ensemble_null_rows(src.rec, src.name, rng=rng, taus=taus, **sel_kw)
            an.add("ensemble_null", rows)
            an.add("ensemble_null_classes", class_rows)
    if "ensemble_null" in an.tables:
        n = int(an.tables["ensemble_null"]["n_shuffles"].iloc[0])
        an.used["ensemble_null"] = (f"{an.data_used}; τ = {', '.join(f'{t:g}' for t in taus)}; null = {n} label "
                                    "shuffles per model and layer (mean and 95% interval)")


def _inhibition(an: Analysis, rng: np.random.Generator, log: Progress) -> None:
    reasons = {}
    for src in an.sources:
        with log.step(f"inhibition: {src.name}"):
            try:
                weights = layer_weights(src)
            except Unavailable as why:
                reasons[src.name] = str(why)
                continue
            layers = sorted(set(src.rec["layer"].values.tolist()))
            stats, values = T.weight_rows([weights.layer(k) for k in range(len(layers))], src.name, layers, rng=rng)
            an.add("weights", stats)
            an.add("weights_sample", values)
            sel = select_presentations(src.rec, correct_only=an.params.correct_only,
                                       keep_held_out=an.params.keep_held_out)
            try:
                if any(n not in ("l2", "none") for n in weights.input_norms):
                    raise Unavailable(f"input normalisation {weights.input_norms} has no E/I split")
                inputs = recorded_layer_inputs(src, sel, weights)
            except Unavailable as why:
                an.notes.append(f"inhibition: {src.name}: input currents skipped, {why}")
                continue
            an.add("currents", T.current_rows(sel, [weights.layer(k) for k in range(len(layers))], inputs, src.name,
                                              tau=an.params.tau))
    an.notes += [f"inhibition: {k}: {v}" for k, v in reasons.items()]
    if "currents" in an.tables:
        from ensembles.analysis.inhibition import currents_summary

        an.add("currents_summary", currents_summary(an.tables["currents"]))
    if "weights" not in an.tables:
        an.unavailable["inhibition"] = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or "no weights"
    else:
        with_w = [s.name for s in an.sources if s.name not in reasons]
        an.used["inhibition"] = (f"trained weights of {', '.join(with_w)}; input currents on {an.data_used} (layer "
                                 "inputs: the embedded test image, then the recorded activity of the layer below)")


def _zero_shot(an: Analysis, pairs: Sequence[tuple[Any, Any]]) -> None:
    used = []
    for held_item, ref_item in pairs:
        held, ref = load_source(held_item), load_source(ref_item)
        mode = (held.config.get("data", {}) or {}).get("held_out_mode", "?")
        model = C.MODEL_NAMES.get(held.model, held.model)
        rows, desc = T.zero_shot_rows(held.rec, ref.rec, model, correct_only=an.params.correct_only,
                                      tau=an.params.tau, held_out_mode=mode)
        an.add("zero_shot", rows)
        for s, kind, d in ((held, f"held-out ({mode})", desc[0]), (ref, "all-classes", desc[1])):
            ep = (s.config.get("train", {}) or {}).get("epochs", "?")
            used.append(f"{model} {kind} run ({ep} epochs{' per layer' if s.model == 'ff' else ''}): {d}")
    an.used["zero_shot"] = "; ".join(used)


def _summary_and_cortex(an: Analysis) -> None:
    from ensembles.analysis.summary import summarize

    frames = []
    for s in an.sources:
        try:
            df = summarize(s.rec, correct_only=an.params.correct_only, keep_held_out=an.params.keep_held_out,
                           n_shuffles=an.params.summary_shuffles)
        except ValueError as err:
            an.notes.append(f"summary: {s.name}: {err}")
            continue
        frames.append(df.assign(source=s.name)[["source", *df.columns]])
    if frames:
        an.add("summary", pd.concat(frames, ignore_index=True))
    _cortex(an)


def _cortex(an: Analysis) -> None:
    """The default comparison with cortex (each reference row's recipe at the source's sample sizes, on the
    presentations the other tables use): table ``cortex`` holds what a reader needs, ``cortex_recipes`` every
    column of :func:`ensembles.analysis.cortex.compare_to_cortex`."""
    from ensembles.analysis.cortex import READER_COLUMNS, compare_to_cortex

    rng = np.random.default_rng(an.params.seed)  # its own generator: the other tables' draws are unchanged
    frames, skipped = [], []
    for s in an.sources:
        try:
            t = compare_to_cortex({s.name: s.rec}, correct_only=an.params.correct_only,
                                  keep_held_out=an.params.keep_held_out, random_state=rng, include_unmatched=True)
        except ParameterError as err:  # a recording the selection or the recipes cannot use (e.g. nothing correct)
            an.notes.append(f"cortex: {s.name}: {err}")
            continue
        done = t["status"] == "compared"
        skipped += [f"{s.name} layer {r.layer}: {r.study}: {r.status}" for r in t[~done].itertuples()]
        frames.append(t[done])
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if skipped:
        an.notes.append("cortex: not compared: " + "; ".join(dict.fromkeys(skipped)))
    if not len(table):
        an.unavailable["cortex"] = "no default reference value could be computed on these recordings (see the notes)"
        return
    an.add("cortex", table[list(READER_COLUMNS)])
    an.add("cortex_recipes", table)


def analyze_runs(runs: Mapping[str, Sequence[Any]], params: AnalysisParams | None = None, *,
                 statistics: Sequence[str] | None = None, confidence: float = 0.95,
                 progress: Progress | None = None) -> dict[str, pd.DataFrame]:
    """Tables of a set of runs (conditions × seeds) with across-seed intervals.

    Parameters
    ----------
    runs : mapping condition -> sequence of run directories / recordings (one per seed)
    statistics : names of :func:`ensembles.analysis.summary.summarize` statistics to keep (default: all)
    confidence : level of the Student-t interval across seeds (:func:`ensembles.analysis.tables.across_seeds`)

    Returns
    -------
    ``{"per_run": summarize() rows of every run with columns condition and seed, "accuracy": per run,
    "across_seeds": per condition × layer × class × statistic × aggregate, "accuracy_across_seeds"}``
    """
    from ensembles.analysis.summary import summarize

    params = params or AnalysisParams()
    log = progress or Progress(False)
    frames, acc_rows = [], []
    for condition, items in runs.items():
        for src in load_sources(list(items)):
            with log.step(f"summary: {condition} {src.name}"):
                df = summarize(src.rec, correct_only=params.correct_only, keep_held_out=params.keep_held_out,
                               n_shuffles=params.summary_shuffles)
                if statistics is not None:
                    df = df[df["statistic"].isin(list(statistics))]
                frames.append(df.assign(condition=condition, source=src.path or src.name))
                _, acc = T.accuracy_rows(src.rec, src.name)
                acc_rows.append({"condition": condition, "seed": src.rec.attrs.get("seed", -1),
                                 "source": src.path or src.name, "value": np.nan if acc is None else acc})
    per_run = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    acc = pd.DataFrame(acc_rows)
    keys = [c for c in ("condition", "layer", "subset", "class", "statistic", "aggregate") if c in per_run.columns]
    return {"per_run": per_run, "accuracy": acc,
            "across_seeds": T.across_seeds(per_run, keys, confidence=confidence) if len(per_run) else pd.DataFrame(),
            "accuracy_across_seeds": T.across_seeds(acc, ["condition"], confidence=confidence) if len(acc)
            else pd.DataFrame()}

