"""Generate the paper notebooks (``notebooks/NN_*.ipynb``) from the cell sources below.

The committed notebooks are exactly this script's output (no outputs, no execution counts);
``tests/test_notebooks.py`` checks that they do not drift from it and executes every notebook on the quick setting.

Usage::

    python notebooks/_build.py            # (re)write the notebooks next to this file
    python notebooks/_build.py --check    # exit 1 if a committed notebook differs from the generated one

Every notebook runs standalone: its first code cells resolve the setting (``ENSEMBLES_QUICK=1``: the ``digits``
dataset and the ``quick`` scale; otherwise ``mnist-5k`` at the ``cpu`` scale, the demo's setting) and train, or
reuse from ``ENSEMBLES_NOTEBOOK_CACHE`` (default ``results/notebooks``), the runs they need.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# ----------------------------------------------------------------------------------------------------- shared cells
def setup(*, plt: bool = True, np: bool = True, select_layer: bool = True, select: bool = False) -> str:
    """The first code cell: imports (only those the notebook uses, so ruff stays clean) and the setting.
    ``select``: the notebook uses ``select_presentations`` (the FINAL cell, or its own selections)."""
    third = (["import matplotlib.pyplot as plt"] if plt else []) + (["import numpy as np"] if np else []) + [
        "import pandas as pd"]
    record = [n for n, used in (("select_layer", select_layer), ("select_presentations", select)) if used]
    first = ["from ensembles import load_recording"] + (
        [f"from ensembles.record import {', '.join(record)}"] if record else []) + [
        "from ensembles.report.demo import demo_plan", "from ensembles.train import train_run"]
    return "\n".join(["import os", "from pathlib import Path", "", *third, "", *first, "", SETTING])


SETTING = '''\
# ENSEMBLES_QUICK=1 is the test setting (8x8 digits, tiny layers, seconds); otherwise the demo's setting
QUICK = os.environ.get("ENSEMBLES_QUICK", "0") not in ("", "0")
DATASET, SCALE = ("digits", "quick") if QUICK else ("mnist-5k", "cpu")
CACHE = Path(os.environ.get("ENSEMBLES_NOTEBOOK_CACHE", "results/notebooks")) / f"{DATASET}-{SCALE}"
MODELS = {"ff": "FF", "bp_ff": "BP/FF", "bp": "BP"}
print(f"dataset {DATASET}, scale {SCALE}, runs cached in {CACHE}")'''

PLAN = '''\
# The demo's three runs (`ensembles demo` trains the same configs)
plan = demo_plan(DATASET, SCALE, seed=0, held_out=(), sweep=False)
runs = {m: CACHE / "runs" / m for m in MODELS}'''

FIT = '''\
# resume=True reuses a finished run, so re-running the notebook does not retrain; delete CACHE to start over
for m in MODELS:
    train_run(plan[m], runs[m], resume=True, progress=not QUICK)
recs = {MODELS[m]: load_recording(runs[m] / "recording.h5") for m in MODELS}'''

TRAIN = PLAN + "\n" + FIT

FINAL = '''\
# The paper's protocol (docs/methods.md §A3.1): last checkpoint, correctly classified test presentations only
final = {name: select_presentations(rec["activity"], correct_only=True, checkpoint=-1) for name, rec in recs.items()}
{name: act.sizes["presentation"] for name, act in final.items()}'''


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


# ----------------------------------------------------------------------------------------------------- notebooks
NB01 = [
    md('''
# 1. Training and recording: FF, BP/FF and BP

Tosato et al., *Emergent representations in networks trained with the Forward-Forward algorithm*
(arXiv 2305.18353), the models (docs/methods.md §M1) and the representation extraction (§A3.1).

* **FF** (Forward-Forward, greedy layer-wise): every layer computes h = ReLU(W·x̂ + b) with x̂ = x / ‖x‖₂ (the raw
  image included) and is trained on its own to make the goodness G(h) = ‖h‖₂ exceed θ = 3 for *positive* data
  (the image with its true label embedded in the first 10 pixels) and stay below θ for *negative* data (a wrong
  label): loss = softplus(θ − G(h⁺)) + softplus(G(h⁻) − θ).
* **BP/FF**: the same network and objective, trained end-to-end by backprop on the summed goodness Σ_l G(h_l).
* **BP**: a plain MLP (same widths) with a linear read-out and cross-entropy; no label embedding, no normalisation.

A *recording* stores the post-ReLU activity of every hidden layer on the test split "as if from neurons":
`presentation × neuroid` (Brain-Score names), with the label, prediction and correctness of every presentation and
the layer of every neuroid, at several training checkpoints.
'''),
    code(setup()),
    code(PLAN),
    md('''
## The data

`load_dataset` returns images flattened channel-major and normalised with the paper's constants (docs/methods.md §M2.2).'''),
    code('''
from ensembles.data import list_datasets, load_dataset

pd.DataFrame([vars(d) for d in list_datasets()])[["name", "title", "available", "n_train", "n_test", "n_classes"]]'''),
    code('''
train, test = load_dataset(DATASET, "train"), load_dataset(DATASET, "test")
print(train.name, "train", train.x.shape, "test", test.x.shape, "normalisation", train.normalization)
fig, axes = plt.subplots(1, len(train.classes), figsize=(12, 1.6))
for k, ax in enumerate(axes):
    ax.imshow(train.x[np.flatnonzero(train.y == k)[0]].reshape(train.image_shape), cmap="gray")
    ax.set_title(train.classes[k], fontsize=8)
    ax.axis("off")'''),
    md('''
## The three configurations

A config is a preset (the formulation, `paper` = the authors' code with its bugs fixed, docs/methods.md §X) plus a
scale profile (`quick` for tests, `cpu` for the demo, `full` for the authors' epochs, docs/methods.md §M1.9).'''),
    code('''
pd.DataFrame({MODELS[m]: {"hidden": cfg.network.hidden, "input norm": cfg.network.input_norm,
                          "schedule": cfg.schedule, "goodness": cfg.ff.goodness if m != "bp" else "(cross-entropy)",
                          "lr": cfg.train.lr, "epochs": cfg.train.epochs, "batch": cfg.train.batch_size,
                          "recorded at epochs": cfg.record_epochs()}
              for m, cfg in plan.items()})'''),
    code('print(plan["ff"].to_toml())'),
    md('## Training (or reusing finished runs)'),
    code(FIT),
    md('''
## Accuracy

Test accuracy on the whole test split. The authors' MNIST numbers (docs/methods.md §A3.9, single runs on the full
60k/10k MNIST with far more epochs) are shown for orientation only: the ordering **BP > BP/FF > FF** is what to
compare.'''),
    code('''
from ensembles.train import read_history, read_metrics

metrics = {MODELS[m]: read_metrics(runs[m]) for m in MODELS}
acc = pd.DataFrame(metrics).T[["dataset", "test_accuracy", "n_train", "n_test", "epochs", "wall_time_s"]]
acc["paper, MNIST (methods §A3.9)"] = ["0.930–0.959", "0.970–0.973", "0.977–0.986"]
acc'''),
    code('pd.DataFrame({name: m["per_class_accuracy"] for name, m in metrics.items()}).T.round(3)'),
    md('''
## Training curves

Mean goodness of positive and negative data per layer (FF, BP/FF), loss and accuracy.'''),
    code('''
from ensembles.plot import history_frame, training_curves

history = history_frame({MODELS[m]: read_history(runs[m]) for m in MODELS})
training_curves(history)'''),
    md('## Inspecting a recording'),
    code('''
rec = recs["FF"]
rec'''),
    code('''
from ensembles.record import recording_info

recording_info(runs["ff"] / "recording.h5")'''),
    code('''
# accuracy at every recorded checkpoint (FF records at the end of each layer's training)
pd.DataFrame({name: pd.Series(r["correct"].mean("presentation").values, index=r["epoch"].values)
              for name, r in recs.items()}).rename_axis("epoch").round(3)'''),
    md('''
## Recording again, under other input conditions

`load_model` rebuilds a trained network; `record_model` records it on any split. For FF-style models the
condition says which label is embedded: `"true"` (the paper's condition), `"none"` (label pixels zeroed) or
`"all"` (every label).'''),
    code('''
from ensembles.analysis import fraction_active
from ensembles.train import load_model, record_model

model, cfg = load_model(runs["ff"])
rec2 = record_model(model, test, condition=["true", "none"], config=cfg)
condition = np.where(rec2["embedded_label"].values >= 0, "true label", "no label")
pd.DataFrame({f"layer {layer}": pd.Series(np.asarray(fraction_active(select_layer(rec2["activity"], layer))),
                                          index=condition).groupby(level=0).mean()
              for layer in (1, 2, 3)}).rename_axis("fraction of active neuroids")'''),
    md('''
## Activation walls (docs/methods.md §A3.3)

Correct test presentations grouped by class (rows) × neuroids (columns), neuroids ordered by their preferred
class: FF shows class-specific blocks, BP a dense code.'''),
    code('''
from ensembles.plot import activation_walls

activation_walls(recs)'''),
]

NB02 = [
    md('''
# 2. Sparseness

docs/methods.md §A3.2 (the authors' "Yukun sparseness"), their numbers in §A3.9.

* **Population sparseness (Hoyer 2004)** of one activity vector x ∈ ℝⁿ (one presentation, the n neuroids of a
  layer): S(x) = (√n − ‖x‖₁/‖x‖₂) / (√n − 1) ∈ [0, 1]; 1 = one active neuroid, 0 = all equal. All-zero rows give
  0/0 = NaN and are skipped (the authors' `nanmean`); we report their fraction.
* **Lifetime sparseness (Vinje & Gallant 2000)** of one neuroid over m presentations:
  S = (1 − (Σr/m)² / (Σr²/m)) / (1 − 1/m) — how rarely a neuroid fires (the authors do not compute it).
* Sparseness depends on n: **matched-n** estimates draw the same number of neuroids from every layer (e.g. the
  size of a two-photon imaging plane) before computing it.

The paper's claim: FF and BP/FF hidden layers are much sparser than BP.
'''),
    code(setup(plt=False, select=True)),
    code(TRAIN),
    code(FINAL),
    md('## Population and lifetime sparseness per layer'),
    code('''
from ensembles.analysis import lifetime_sparseness, population_sparseness

pop, life, rows = {}, {}, []
for name, act in final.items():
    for layer in (1, 2, 3):
        x = select_layer(act, layer)
        pop[name, layer] = population_sparseness(x, "hoyer")        # one value per presentation
        life[name, layer] = lifetime_sparseness(x, "vinje-gallant")  # one value per neuroid (NaN if silent)
        rows.append({"model": name, "layer": layer, "population Hoyer": float(pop[name, layer].mean()),
                     "lifetime VG": float(life[name, layer].mean()),
                     "all-zero presentations": float(np.isnan(pop[name, layer]).mean()),
                     "silent neuroids": float(np.isnan(life[name, layer]).mean())})
by_layer = pd.DataFrame(rows)
by_layer.round(3)'''),
    md('''
### Against the authors' numbers (docs/methods.md §A3.9, MNIST, single runs)

FF `relu_l2_200_1024_0.001` (acc .9521), BP/FF notebook row 29 (acc .9715), BP notebook row 29 (acc .9851).
Ours are shorter runs on a smaller training set, so compare the ordering and the layer profile, not the digits.'''),
    code('''
paper = pd.DataFrame({"FF": [0.768, 0.581, 0.608], "BP/FF": [0.937, 0.793, 0.255], "BP": [0.495, 0.365, 0.340]},
                     index=pd.Index([1, 2, 3], name="layer"))
ours = by_layer.pivot(index="layer", columns="model", values="population Hoyer")[list(paper.columns)]
pd.concat({"ours": ours, "paper (MNIST)": paper}, axis=1).round(3)'''),
    md('''
## Per class (docs/methods.md §A3.2)

Mean population Hoyer of each class's presentations with a 95 % bootstrap CI over presentations.'''),
    code('''
from ensembles.analysis import bootstrap_mean_ci
from ensembles.plot import sparseness_bars

rng = np.random.default_rng(0)
bars = []
for (name, layer), values in pop.items():
    for label, v in values.groupby("label"):
        mean, lo, hi, n = bootstrap_mean_ci(v.values, n_bootstrap=500, random_state=rng)
        bars.append({"model": name, "layer": layer, "label": int(label), "class": str(v["label_name"].values[0]),
                     "mean": mean, "ci_low": lo, "ci_high": hi, "n": n})
bars = pd.DataFrame(bars)
sparseness_bars(bars)'''),
    code('''
# range over classes, next to the authors' MNIST ranges (docs/methods.md §A3.9)
paper_ranges = {("FF", 1): "0.79–0.88", ("FF", 2): "0.31–0.83", ("FF", 3): "0.65–0.86",
                ("BP/FF", 1): "0.92–0.95", ("BP/FF", 2): "0.67–0.87", ("BP/FF", 3): "0.22–0.28",
                ("BP", 1): "0.47–0.53", ("BP", 2): "0.33–0.41", ("BP", 3): "0.31–0.38"}
ranges = bars.groupby(["model", "layer"])["mean"].agg(["min", "max"]).round(3)
ranges["paper, MNIST"] = [paper_ranges[i] for i in ranges.index]
ranges'''),
    md('## Lifetime vs population distributions'),
    code('''
from ensembles.plot import sparseness_violins

values = pd.concat([pd.DataFrame({"model": name, "layer": layer, "kind": kind, "value": np.asarray(v)})
                    for kind, table in (("population", pop), ("lifetime", life))
                    for (name, layer), v in table.items()]).dropna()
sparseness_violins(values)'''),
    md('''
## Matched n

Hoyer over `N_MATCH` randomly drawn neuroids per layer (bootstrap over draws): the number comparable to a
recorded population of that size.'''),
    code('''
from ensembles.analysis import subsample_sparseness

N_MATCH = 16 if QUICK else 300
matched = []
for name, act in final.items():
    for layer in (1, 2, 3):
        est = subsample_sparseness(select_layer(act, layer), N_MATCH, "hoyer", n_bootstrap=100, random_state=0)
        matched.append({"model": name, "layer": layer, f"Hoyer at n={N_MATCH}": float(est["estimate"]),
                        "ci_low": float(est["ci_low"]), "ci_high": float(est["ci_high"])})
pd.DataFrame(matched).merge(by_layer[["model", "layer", "population Hoyer"]]).round(3)'''),
    md('''
## The same numbers from the tidy summary table

`summarize` computes every sparseness and selectivity statistic per model × checkpoint × layer × class in one
long table (the analysis pipeline and the report use it).'''),
    code('''
from ensembles.analysis import summarize

summary = pd.concat([summarize(rec, measures=["population", "lifetime", "fraction_active"]) for rec in recs.values()])
summary.query("`class` == 'all' and aggregate == 'mean'").pivot_table(
    index=["model", "layer"], columns="statistic", values="value").round(3)'''),
]

NB03 = [
    md('''
# 3. Category ensembles and their overlap

docs/methods.md §A3.4–A3.5 (the authors' Fashion-MNIST overlaps, §A3.9).

* **Category ensemble** (the authors' leave-one-out rule): for class c and a layer, with μ_i the mean response of
  neuroid i to the correctly classified class-c presentations and m₋ᵢ = mean_{j≠i} μ_j, neuroid i ∈ E_c iff
  (μ_i − m₋ᵢ)/m₋ᵢ > τ. τ = 1 (μ_i > 2 m₋ᵢ) is the overlap figure's setting, τ = 2 the robustness check. A
  shuffled-label null gives the size expected without category structure.
* **Overlap** O[c, c′] = |E_c ∩ E_c′|. Under random membership of the same sizes it is hypergeometric(n, |E_c|,
  |E_c′|): p = P(K ≥ O), Benjamini–Hochberg q over the pairs of a layer. The paper's claim (mixed selectivity):
  ensembles are nearly disjoint except between visually similar classes.
* **Unsupervised ensembles** (cell-assembly detection as in cortex, no labels): ICA on the z-scored activity with
  the Marchenko–Pastur bound (Lopes-dos-Santos et al. 2013), then matched to the category ensembles (Jaccard).
'''),
    code(setup(select=True)),
    code(TRAIN),
    code(FINAL),
    md('## Ensembles with τ = 1 and τ = 2'),
    code('''
from ensembles.analysis import category_ensembles, ensemble_sizes

N_SHUFFLES = 10 if QUICK else 50
members = {name: category_ensembles(act, rule="paper", tau=1.0) for name, act in final.items()}
members_tau2 = {name: category_ensembles(act, rule="paper", tau=2.0) for name, act in final.items()}
members["FF"]'''),
    code('''
sizes = pd.concat([ensemble_sizes(m).to_dataframe().reset_index().assign(model=name)
                   for name, m in members.items()])
sizes_tau2 = pd.concat([ensemble_sizes(m).to_dataframe().reset_index().assign(model=name)
                        for name, m in members_tau2.items()])
sizes["size (tau=2)"] = sizes_tau2["size"].values
sizes = sizes.rename(columns={"class_name": "class"})
sizes.groupby(["model", "layer"])[["size", "fraction", "size (tau=2)"]].median()'''),
    code('''
from ensembles.plot import ensemble_sizes as plot_ensemble_sizes

# the black ticks: mean size under shuffled labels (no category structure), layer by layer
null = pd.DataFrame([{"model": name, "layer": layer, "category": c, "null_size": v}
                     for name, act in final.items() for layer in (1, 2, 3)
                     for c, v in category_ensembles(select_layer(act, layer), tau=1.0, n_shuffles=N_SHUFFLES,
                                                    random_state=0)["expected_size"].to_series().items()])
sizes = sizes.merge(null, on=["model", "layer", "category"])
plot_ensemble_sizes(sizes)'''),
    md('''
The authors' FF Fashion-MNIST layer-1 ensembles hold 22–91 of 1000 units (≈ 2–9 %, docs/methods.md §A3.9); ours as a fraction of
the layer:'''),
    code('sizes.pivot_table(index="class", columns=["model", "layer"], values="fraction").round(3)'),
    md('## Overlap between ensembles'),
    code('''
from ensembles.analysis import ensemble_overlap

overlap = {name: ensemble_overlap(m) for name, m in members.items()}
ff1 = overlap["FF"].sel(layer=1)
names = [str(v) for v in members["FF"]["class_name"].values]
pd.DataFrame(ff1["overlap"].values, index=names, columns=names)'''),
    code('''
from ensembles.plot import overlap_axes

fig, ax = plt.subplots(figsize=(5.5, 4.5))
overlap_axes(ax, np.where(np.eye(len(names), dtype=bool), 0, ff1["overlap"].values), class_names=names,
             qvalues=ff1["q"].values, title="FF, layer 1: shared neuroids (* q < 0.05)")'''),
    code('''
# every model and layer: the pairs that share more neuroids than chance (hypergeometric, BH-FDR q < 0.05)
long = pd.concat([ov.to_dataframe().reset_index().assign(model=name) for name, ov in overlap.items()])
pairs = long[long["category"] < long["other_category"]]
pairs[pairs["q"] < 0.05][["model", "layer", "category", "other_category", "overlap", "expected", "q"]].round(4)'''),
    code('''
from ensembles.plot import overlap_heatmaps

heat = long.rename(columns={"class_name": "class_a", "other_class_name": "class_b"}).assign(label_a=long["category"])
heat.loc[heat["category"] == heat["other_category"], "overlap"] = 0
overlap_heatmaps(heat)'''),
    md('''
### Does overlap follow visual similarity?

Spearman correlation between the overlap of two classes' ensembles and the cosine similarity of their class-mean
images, with a Mantel permutation p-value (ours, docs/methods.md §A3.5).'''),
    code('''
from ensembles.analysis import class_mean_similarity, overlap_vs_similarity
from ensembles.data import load_dataset

test = load_dataset(DATASET, "test")
similarity = class_mean_similarity(test.x, test.y)  # plain arrays in: a plain (class x class) array, labels 0..k-1
pd.DataFrame([{"model": name, "layer": layer,
               **overlap_vs_similarity(ov.sel(layer=layer)["overlap"].values,  # the classes with an ensemble
                                       similarity[np.ix_(ov["category"].values, ov["other_category"].values)],
                                       n_shuffles=200, random_state=0)}
              for name, ov in overlap.items() for layer in (1, 2, 3)]).round(3)'''),
    md('''
## Unsupervised ensembles vs category ensembles

The detector sees only the activity of FF layer 1 (no labels); `match_ensembles` finds, for every category
ensemble, the detected ensemble with the largest Jaccard index.'''),
    code('''
from ensembles.analysis import EnsembleDetector, detect_ensembles, match_ensembles

detected = detect_ensembles(select_layer(final["FF"], 1), EnsembleDetector(method="ica", random_state=0))
print(detected.sizes["ensemble"], "ensembles detected;", int(detected["is_global"].sum()), "population-wide")
match = match_ensembles(detected, select_layer(members["FF"], 1))
print("mean Jaccard over category ensembles:", round(match.attrs["mean_jaccard"], 3))
match[["match", "jaccard", "precision", "recall"]].to_dataframe().round(3)'''),
]

NB04 = [
    md('''
# 4. Selectivity and mixed selectivity

Single-neuroid tuning to categories, the statistics of systems neuroscience (docs/methods.md §A3.5 for the mixed
selectivity claim; definitions in docs/methods.md §A2):

* **CSI** (Morcos et al. 2018): (μ_max − μ_−max)/(μ_max + μ_−max), μ_max the largest class-conditional mean and
  μ_−max the mean of the others; 1 = responds to one class only; p from label shuffles, BH-FDR q.
* **One-way ANOVA** across classes per neuroid: F, p, and the effect size ω² (Hays 1963).
* **Mutual information** I(class; response) in bits, equal-population bins, shuffle bias-corrected.
* **Number of driven classes**: one-sided Welch tests "class c > the rest" per neuroid × class, BH-FDR over all
  tests; a neuroid driven by ≥ 2 classes shows *mixed selectivity*.

All on the correctly classified test presentations at the last checkpoint.
'''),
    code(setup(plt=False, select_layer=False, select=True)),
    code(TRAIN),
    code(FINAL),
    code('''
from ensembles.analysis import (
    anova,
    class_selectivity_index,
    mutual_information,
    n_driven_classes,
)

N_SHUFFLES = 20 if QUICK else 200
tables = []
for name, act in final.items():
    csi = class_selectivity_index(act, n_shuffles=N_SHUFFLES, random_state=0)
    aov = anova(act)
    mi = mutual_information(act, n_bins=8, n_shuffles=N_SHUFFLES, random_state=0)
    driven = n_driven_classes(act, alpha=0.05)
    tables.append(pd.DataFrame({"model": name, "layer": act["layer"].values, "csi": csi["csi"].values,
                                "csi_q": csi["q"].values, "preferred": csi["preferred"].values,
                                "omega2": aov["omega2"].values, "anova_q": aov["q"].values, "mi": mi["mi"].values,
                                "n_driven": driven["n_driven"].values}))
selectivity = pd.concat(tables, ignore_index=True)
selectivity.head()'''),
    md('## Summary per model and layer'),
    code('''
selectivity.assign(csi_significant=selectivity["csi_q"] < 0.05, anova_significant=selectivity["anova_q"] < 0.05,
                   mixed=selectivity["n_driven"] >= 2, silent=selectivity["csi"].isna()).groupby(
    ["model", "layer"]).agg(median_csi=("csi", "median"), csi_significant=("csi_significant", "mean"),
                            median_omega2=("omega2", "median"), anova_significant=("anova_significant", "mean"),
                            median_mi_bits=("mi", "median"), mean_n_driven=("n_driven", "mean"),
                            mixed=("mixed", "mean"), silent=("silent", "mean")).round(3)'''),
    code('''
from ensembles.plot import selectivity_distributions

selectivity_distributions(selectivity)'''),
    md('''
## Mixed selectivity: how many classes drive a neuroid

Share of each layer's neuroids driven by exactly k classes (0 = none, 1 = single-class, ≥ 2 = mixed).'''),
    code('''
pd.crosstab([selectivity["model"], selectivity["layer"]], selectivity["n_driven"].clip(upper=5),
            normalize="index").rename(columns={5: "5+"}).round(3)'''),
    md('''
## Selectivity of ensemble members

Category-ensemble members (τ = 1, notebook 3) should be the selective neuroids: CSI inside vs outside the
ensembles.'''),
    code('''
from ensembles.analysis import category_ensembles

selectivity["member"] = np.concatenate([category_ensembles(act, rule="paper", tau=1.0).any("category").values
                                        for act in final.values()])
selectivity.groupby(["model", "layer", "member"])["csi"].median().unstack("member").round(3)'''),
]

NB05 = [
    md('''
# 5. Zero-shot: ensembles of a class never seen in training

docs/methods.md §A3.6 (the paper's claim 4; the protocol is ours because the authors' code lacks it).

1. Hold out class k: remove its training images. **strict** (variant A): label k is never used, not even as a
   wrong label for negative data; **loose** (variant B): it may still be a negative label.
2. Train the models on the other classes exactly as before.
3. Record the test set with the true label embedded (for class k that label's input weights are untrained in the
   strict variant, so we also record with no label).
4. Compute the ensemble E_k (leave-one-out rule, τ = 1) and the population Hoyer of class k, using **all** class-k
   test presentations (they cannot be correctly classified) and the correctly classified presentations of the
   seen classes; compare with the seen classes and with class k in the model trained on all classes.
'''),
    code(setup(plt=False, np=False, select=True)),
    code(TRAIN),
    code('''
from ensembles.train import make_config

HELD = 3  # the held-out class
zs_plan = {("FF", "strict"): make_config("ff", DATASET, scale=SCALE, data__held_out=[HELD]),
           ("FF", "loose"): make_config("ff", DATASET, scale=SCALE, data__held_out=[HELD],
                                        data__held_out_mode="loose"),
           ("BP/FF", "strict"): make_config("bp_ff", DATASET, scale=SCALE, data__held_out=[HELD]),
           ("BP", "strict"): make_config("bp", DATASET, scale=SCALE, data__held_out=[HELD])}
zs_runs = {key: CACHE / "runs" / f"{key[0].lower().replace('/', '_')}_heldout{HELD}_{key[1]}" for key in zs_plan}
for key, cfg in zs_plan.items():
    train_run(cfg, zs_runs[key], resume=True, progress=not QUICK)
zs_recs = {key: load_recording(run / "recording.h5") for key, run in zs_runs.items()}'''),
    code('''
# the held-out class is never predicted correctly, the seen classes are
pd.DataFrame({f"{m} ({mode})": rec["correct"].isel(checkpoint=-1).groupby("label").mean().to_series()
              for (m, mode), rec in zs_recs.items()}).round(3)'''),
    md('## Ensembles and sparseness of the held-out class'),
    code('''
from ensembles.analysis import category_ensembles, population_sparseness


def held_out_table(act, model, condition_of):  # noqa: D103 - one row per layer x class, see the markdown above
    rows = []
    for layer in (1, 2, 3):
        x = select_layer(act, layer)
        size = category_ensembles(x, rule="paper", tau=1.0).sum("neuroid")
        hoyer = population_sparseness(x, "hoyer").groupby("label").mean()
        for label in size["category"].values:
            rows.append({"model": model, "layer": layer, "label": int(label), "class": str(label),
                         "condition": condition_of(int(label)), "size": int(size.sel(category=label)),
                         "hoyer": float(hoyer.sel(label=label))})
    return rows'''),
    code('''
rows = []
for (m, mode), rec in zs_recs.items():
    act = select_presentations(rec["activity"])  # correct presentations, and every held-out one (keep_held_out)
    name = f"{m} ({mode})"
    rows += held_out_table(act, name, lambda c: "held out" if c == HELD else "seen")
    full = select_presentations(recs[m]["activity"])
    rows += [r for r in held_out_table(full, name, lambda c: "all-classes run") if r["label"] == HELD]
zero_shot = pd.DataFrame(rows)
zero_shot.groupby(["model", "layer", "condition"])[["size", "hoyer"]].mean().unstack("condition").round(3)'''),
    code('''
from ensembles.plot import zero_shot as plot_zero_shot

plot_zero_shot(zero_shot)'''),
    md('''
## Is the unseen class's ensemble its own?

Within the held-out FF run (strict): overlap of E_k with the seen classes' ensembles against the hypergeometric
null. A zero-shot ensemble is a distinct, small set of neuroids, not the union of the others.'''),
    code('''
from ensembles.analysis import ensemble_overlap

act = select_presentations(zs_recs["FF", "strict"]["activity"])  # held-out presentations are kept
ov = ensemble_overlap(category_ensembles(act, rule="paper", tau=1.0)).sel(category=HELD).drop_sel(other_category=HELD)
ov[["overlap", "expected", "q"]].to_dataframe()[["overlap", "expected", "q"]].round(3)'''),
    md('''
## No label embedded

In the strict variant the label-k pixel never carried a trained label. Recording with the label pixels zeroed
removes that confound: does class k still recruit an ensemble?'''),
    code('''
from ensembles.data import load_dataset
from ensembles.train import load_model, record_model

model, cfg = load_model(zs_runs["FF", "strict"])
nolabel = record_model(model, load_dataset(DATASET, "test"), condition="none", config=cfg, held_out=[HELD])
pd.DataFrame(held_out_table(nolabel["activity"], "FF (strict), no label",
                            lambda c: "held out" if c == HELD else "seen")).groupby(
    ["layer", "condition"])[["size", "hoyer"]].mean().round(3)'''),
]

NB06 = [
    md('''
# 6. Inhibition: how FF and BP reach sparseness

docs/methods.md §A3.7 (the paper's claim 5, "different inhibition mechanisms"; the protocol is ours).

* (a) **Weights**: fraction negative, mean and SD of the positive and negative parts; (b) **biases**: a large
  negative bias is a global threshold.
* (c) **Input currents** of unit i on one presentation, with x̂ the (non-negative) input the layer's weights see
  (L2-normalised for FF and BP/FF): excitatory E = Σ_j max(W_ij x̂_j, 0), inhibitory I = Σ_j min(W_ij x̂_j, 0);
  net = E + I + b. A unit is **silenced by inhibition** when E + b > 0 ≥ E + I + b. Compared for units inside vs
  outside the ensemble of the presented class.
* (d) FF and BP/FF divide every layer input by its L2 norm (divisive normalisation, a shared inhibition); BP has
  none. The ablation trains FF without it and BP with it.
'''),
    code(setup(plt=False, select=True)),
    code(TRAIN),
    code('''
from ensembles.analysis import category_ensembles, currents_by_ensemble, input_currents, weight_statistics
from ensembles.data import load_dataset
from ensembles.train import layer_inputs, layer_parameters, load_model

test = load_dataset(DATASET, "test")
rng = np.random.default_rng(0)
weights, samples, currents = [], [], []
for m, name in MODELS.items():
    model, cfg = load_model(runs[m])
    ok = recs[name]["correct"].isel(checkpoint=-1).values     # recordings keep the test order
    x, y = test.x[ok], test.y[ok]
    inputs = layer_inputs(model, x, y if m != "bp" else None)  # x̂, W x̂ + b and the activity, per layer
    for layer, (par, inp) in enumerate(zip(layer_parameters(model), inputs, strict=True), start=1):
        weights.append({"model": name, "layer": layer, **weight_statistics(par["weight"], par["bias"])})
        samples += [pd.DataFrame({"model": name, "layer": layer, "kind": "weight",
                                  "value": rng.choice(par["weight"].ravel(), min(2000, par["weight"].size), replace=False)}),
                    pd.DataFrame({"model": name, "layer": layer, "kind": "bias", "value": par["bias"]})]
        exc, inh = input_currents(par["weight"], inp["normalized_input"], normalize="none")
        assert np.allclose(exc + inh + par["bias"], inp["current"], atol=1e-3)  # E + I + b is the layer's input
        membership = category_ensembles(inp["activity"], y, rule="paper", tau=1.0)
        currents.append(pd.DataFrame(currents_by_ensemble(exc, inh, par["bias"], y, membership))
                        .assign(model=name, layer=layer))
weights, samples, currents = pd.DataFrame(weights), pd.concat(samples), pd.concat(currents, ignore_index=True)'''),
    md('## Weights and biases'),
    code('weights.set_index(["model", "layer"]).round(4)'),
    md('## Currents inside vs outside the ensembles (mean over classes)'),
    code('''
currents.groupby(["model", "layer", "member"])[
    ["excitatory", "inhibitory", "bias", "net", "fraction_active", "fraction_silenced"]].mean().round(4)'''),
    code('''
from ensembles.plot import inhibition

inhibition(samples, currents)'''),
    md('''
## Ablation: input normalisation (docs/methods.md §A3.7 d)

FF trained without the L2 normalisation of its layer inputs, BP trained with it. If the divisive normalisation is
FF's inhibition, removing it should change FF's sparseness and adding it should sparsify BP.'''),
    code('''
from ensembles.analysis import population_sparseness
from ensembles.train import make_config, read_metrics

ablation = {"FF, no input norm": make_config("ff", DATASET, scale=SCALE, network__input_norm="none"),
            "BP, L2 input norm": make_config("bp", DATASET, scale=SCALE, network__input_norm="l2")}
ablation_runs = {k: CACHE / "runs" / ("ff_nonorm" if k.startswith("FF") else "bp_l2norm") for k in ablation}
for k, cfg in ablation.items():
    train_run(cfg, ablation_runs[k], resume=True, progress=not QUICK)
rows = []
for name, run in [*((MODELS[m], runs[m]) for m in ("ff", "bp")), *ablation_runs.items()]:
    act = select_presentations(load_recording(run / "recording.h5")["activity"])
    rows.append({"run": name, "accuracy": read_metrics(run)["test_accuracy"],
                 **{f"Hoyer L{layer}": float(population_sparseness(select_layer(act, layer), "hoyer").mean())
                    for layer in (1, 2, 3)}})
pd.DataFrame(rows).set_index("run").round(3)'''),
]

NB07 = [
    md('''
# 7. Comparison with cortex

The paper's first claim is that FF ensembles are "reminiscent of neuronal ensembles in cortical sensory areas".
This notebook puts model recordings and neural data through the same pipeline:

* **NWB**: a recording exported to Neurodata Without Borders and imported back is the same recording, so
  any NWB session (Units with spike times, or ΔF/F series, plus a stimulus table) enters the same analyses.
* **A synthetic cortex** with known ground truth: a labelled Poisson population in which each class drives a
  planted ensemble (`category_population`), and an unlabelled one with planted co-active assemblies
  (`planted_ensembles`): the category rule and the unsupervised detector must recover them.
* **Representational geometry** (Kriegeskorte et al. 2008; Kornblith et al. 2019): linear CKA between every pair
  of layers of the three models, class RDMs (1 − Pearson r between class-mean patterns) compared with Spearman ρ,
  and cross-validated linear decoding.
* **Published cortical values** (docs/methods.md §A5.7): the models' sparseness and dimensionality next to the
  cortical numbers, with the caveats (matched n, rates vs activations, lifetime vs population).
'''),
    code(setup()),
    code(TRAIN),
    md('''
## NWB round trip

`export_nwb` needs one checkpoint; the file passes `nwbinspector`. `import_nwb` gives the recording back.'''),
    code('''
from ensembles.io.nwb import export_nwb, import_nwb

ff_final = recs["FF"].isel(checkpoint=-1)
path = export_nwb(ff_final, CACHE / "ff_final.nwb")
back = import_nwb(path)
print("round trip exact:", np.array_equal(back["activity"].values, ff_final["activity"].values),
      "| same labels:", np.array_equal(back["label"].values, ff_final["label"].values), "|", dict(back.sizes))'''),
    md('''
## A synthetic cortex with planted category ensembles

10 classes × `N_PER_CLASS` presentations, Poisson spike counts, each class driving its own ensemble of 10
neuroids (10 % of them shared with earlier classes) on top of heterogeneous background rates. Stored as a
recording, sent through NWB, then analysed exactly as the networks.'''),
    code('''
from ensembles.data.synthetic import category_population
from ensembles.record import make_recording

N_PER_CLASS = 30 if QUICK else 100
X, truth = category_population(10, 200, N_PER_CLASS, ensemble_size=10, overlap=0.1, strength=4.0,
                               kind="poisson", random_state=0)
cortex = make_recording(
    X.astype(np.float32),
    presentation={"stimulus_id": [f"synthetic/{i:05d}" for i in range(len(X))], "label": truth.labels,
                  "label_name": [f"class{c}" for c in truth.labels], "split": ["test"] * len(X)},
    layer_sizes=[X.shape[1]],
    attrs={"model": "neural:synthetic", "dataset": "synthetic-cortex", "seed": 0, "site": "synthetic area",
           "config": {"generator": "category_population", "ensemble_size": 10, "overlap": 0.1}})
cortex = import_nwb(export_nwb(cortex, CACHE / "synthetic_cortex.nwb"))
cortex'''),
    code('''
from ensembles.analysis import category_ensembles, ensemble_overlap, match_ensembles

found = category_ensembles(cortex["activity"], rule="paper", tau=1.0)
recovery = match_ensembles(found, truth.members)
print("planted ensembles recovered by the paper's rule, mean Jaccard:", round(recovery.attrs["mean_jaccard"], 3))
overlap = ensemble_overlap(found).squeeze(drop=True)
print("pairs sharing more neuroids than chance (q < 0.05):",
      int(((overlap["q"] < 0.05) & (overlap["category"] < overlap["other_category"])).sum()))'''),
    code('''
from ensembles.analysis import EnsembleDetector, detect_ensembles
from ensembles.data.synthetic import planted_ensembles

Y, assemblies = planted_ensembles(n_neuroids=200, n_presentations=2000 if QUICK else 5000, n_ensembles=6,
                                  random_state=0)
detected = detect_ensembles(Y, EnsembleDetector(method="ica", random_state=0))
print(f"{len(detected['members'])} assemblies detected (6 planted); mean Jaccard with the planted ones:",
      round(match_ensembles(detected, assemblies.members).attrs["mean_jaccard"], 3))'''),
    md('''
## Representational similarity between models: linear CKA

On every test presentation (same images in the same order for all models), last checkpoint; "pixels" is the
input image.'''),
    code('''
from ensembles.analysis import linear_cka
from ensembles.data import load_dataset

test = load_dataset(DATASET, "test")
blocks = {"pixels": test.x}
for name, rec in recs.items():
    for layer in (1, 2, 3):
        blocks[f"{name} L{layer}"] = select_layer(rec["activity"].isel(checkpoint=-1), layer).values
cka = pd.DataFrame([[linear_cka(blocks[a], blocks[b]) for b in blocks] for a in blocks], index=list(blocks),
                   columns=list(blocks)).rename_axis("linear CKA")
cka.round(2)'''),
    code('''
fig, ax = plt.subplots(figsize=(6.5, 5.5))
im = ax.imshow(cka.values, vmin=0, vmax=1, cmap="viridis")
ax.set_xticks(range(len(cka)), cka.columns, rotation=90)
ax.set_yticks(range(len(cka)), cka.index)
fig.colorbar(im, ax=ax, label="linear CKA")
ax.set_title("linear CKA between layers (all test presentations)");'''),
    md('''
## Class RDMs and decoding

Per layer: the class RDM's Spearman ρ with the pixel RDM (with a stimulus-bootstrap 95 % CI), and the
5-fold cross-validated accuracy of a linear decoder of the class (the slowest cell at full scale: about 25 s per
layer on 2 cores).'''),
    code('''
from ensembles.analysis import compare_rdms, decode, rdm

pixel_rdm = rdm(test.x, test.y)
rows = []
for key, x in blocks.items():
    if key == "pixels":
        continue
    r = compare_rdms(rdm(x, test.y), pixel_rdm, method="spearman", n_bootstrap=100, random_state=0)
    rows.append({"layer": key, "rho with pixel RDM": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                 "decoding accuracy": decode(x, test.y, cv=5).accuracy})
pd.DataFrame(rows).set_index("layer").round(3)'''),
    md('''
## Next to the published cortical values

`summarize` (sparseness, selectivity) and `summarize_geometry` (participation ratio, eigenspectrum decay α)
give tidy rows; `compare_to_cortex` pairs each with the matching published value (docs/methods.md §A5.7) and
states the caveats. The synthetic cortex goes through the same call.'''),
    code('''
from ensembles.analysis import compare_to_cortex, plot_cortex_comparison, summarize, summarize_geometry

N_SHUFFLES = 20 if QUICK else 200
summary = pd.concat([summarize(r, n_shuffles=N_SHUFFLES) for r in [*recs.values(), cortex]]
                    + [summarize_geometry(r) for r in [*recs.values(), cortex]], ignore_index=True)
table = compare_to_cortex(summary)
table[["model", "layer", "statistic", "model_value", "reference_value", "area", "species", "tag", "caveats"]].round(3)'''),
    code('plot_cortex_comparison(table)'),
]


NOTEBOOKS = {
    "01_training_and_recording.ipynb": NB01,
    "02_sparseness.ipynb": NB02,
    "03_ensembles_and_overlap.ipynb": NB03,
    "04_selectivity.ipynb": NB04,
    "05_zero_shot.ipynb": NB05,
    "06_inhibition.ipynb": NB06,
    "07_comparison_with_cortex.ipynb": NB07,
}


def build() -> dict[str, nbformat.NotebookNode]:
    """The notebooks, output-free, keyed by file name."""
    out = {}
    for fname, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}})
        for k, cell in enumerate(nb.cells):  # stable ids, so regenerating gives identical files
            cell["id"] = f"{fname[:2]}-{k:02d}"
        out[fname] = nb
    return out


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for fname, nb in build().items():
        path = HERE / fname
        text = render(nb)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(fname)
        else:
            tmp = path.with_suffix(".ipynb.tmp")
            tmp.write_text(text)
            tmp.replace(path)
    if stale:
        print("out of date (run python notebooks/_build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
