# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Sparseness
#
# docs/methods.md §A3.2 (the authors' "Yukun sparseness"), their numbers in §A3.9.
#
# * **Population sparseness (Hoyer 2004)** of one activity vector x ∈ ℝⁿ (one presentation, the n neuroids of
#   a layer): S(x) = (√n − ‖x‖₁/‖x‖₂) / (√n − 1) ∈ [0, 1]; 1 = one active neuroid, 0 = all equal. All-zero
#   rows give 0/0 = NaN and are skipped (the authors' `nanmean`); we report their fraction.
# * **Lifetime sparseness (Vinje & Gallant 2000)** of one neuroid over m presentations:
#   S = (1 − (Σr/m)² / (Σr²/m)) / (1 − 1/m) — how rarely a neuroid fires (the authors do not compute it).
# * Sparseness depends on n: **matched-n** estimates draw the same number of neuroids from every layer (e.g.
#   the size of a two-photon imaging plane) before computing it.
#
# The paper's claim: FF and BP/FF hidden layers are much sparser than BP.

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import numpy as np
import pandas as pd

from ensembles import demo_activity, select_layer

# The demo's three runs, trained once at the notebooks' setting (notebooks/README.md), and `final`, their activity
# under the paper's protocol (docs/methods.md §A3.1): last checkpoint, correctly classified test presentations
demo = demo_activity()
print(demo)
setting, recs, final = demo.setting, demo.recs, demo.final

# %% [markdown]
# ## Population and lifetime sparseness per layer

# %%
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
by_layer.round(3)

# %% [markdown]
# ### Against the authors' numbers (docs/methods.md §A3.9, MNIST, single runs)
#
# FF `relu_l2_200_1024_0.001` (acc .9521), BP/FF notebook row 29 (acc .9715), BP notebook row 29 (acc .9851).
# Ours are shorter runs on a smaller training set, so compare the ordering and the layer profile, not the
# digits.

# %%
paper = pd.DataFrame({"FF": [0.768, 0.581, 0.608], "BP/FF": [0.937, 0.793, 0.255],
                      "BP": [0.495, 0.365, 0.340]},
                     index=pd.Index([1, 2, 3], name="layer"))
ours = by_layer.pivot(index="layer", columns="model", values="population Hoyer")[list(paper.columns)]
pd.concat({"ours": ours, "paper (MNIST)": paper}, axis=1).round(3)

# %% [markdown]
# ## Per class (docs/methods.md §A3.2)
#
# Mean population Hoyer of each class's presentations with a 95 % bootstrap CI over presentations.

# %%
from ensembles.analysis import bootstrap_mean_ci
from ensembles.plot import sparseness_bars

rng = np.random.default_rng(0)
bars = []
for (name, layer), values in pop.items():
    for label, v in values.groupby("label"):
        ci = bootstrap_mean_ci(v.values, n_bootstrap=500, random_state=rng)
        mean, lo, hi, n = ci.mean, ci.ci_low, ci.ci_high, ci.n
        bars.append({"model": name, "layer": layer, "label": int(label),
                     "class": str(v["label_name"].values[0]),
                     "mean": mean, "ci_low": lo, "ci_high": hi, "n": n})
bars = pd.DataFrame(bars)
sparseness_bars(bars)

# %%
# range over classes, next to the authors' MNIST ranges (docs/methods.md §A3.9)
paper_ranges = {("FF", 1): "0.79–0.88", ("FF", 2): "0.31–0.83", ("FF", 3): "0.65–0.86",
                ("BP/FF", 1): "0.92–0.95", ("BP/FF", 2): "0.67–0.87", ("BP/FF", 3): "0.22–0.28",
                ("BP", 1): "0.47–0.53", ("BP", 2): "0.33–0.41", ("BP", 3): "0.31–0.38"}
ranges = bars.groupby(["model", "layer"])["mean"].agg(["min", "max"]).round(3)
ranges["paper, MNIST"] = [paper_ranges[i] for i in ranges.index]
ranges

# %% [markdown]
# ## Lifetime vs population distributions

# %%
from ensembles.plot import sparseness_violins

values = pd.concat([pd.DataFrame({"model": name, "layer": layer, "kind": kind, "value": np.asarray(v)})
                    for kind, table in (("population", pop), ("lifetime", life))
                    for (name, layer), v in table.items()]).dropna()
sparseness_violins(values)

# %% [markdown]
# ## Matched n
#
# Hoyer over `N_MATCH` randomly drawn neuroids per layer (bootstrap over draws): the number comparable to a
# recorded population of that size.

# %%
from ensembles.analysis import subsample_sparseness

N_MATCH = 16 if setting.quick else 300
matched = []
for name, act in final.items():
    for layer in (1, 2, 3):
        est = subsample_sparseness(select_layer(act, layer), N_MATCH, "hoyer", n_bootstrap=100,
                                   random_state=0)
        matched.append({"model": name, "layer": layer, f"Hoyer at n={N_MATCH}": float(est["estimate"]),
                        "ci_low": float(est["ci_low"]), "ci_high": float(est["ci_high"])})
pd.DataFrame(matched).merge(by_layer[["model", "layer", "population Hoyer"]]).round(3)

# %% [markdown]
# ## The same numbers from the tidy summary table
#
# `summarize` computes every sparseness and selectivity statistic per model × checkpoint × layer × class in
# one long table (the analysis pipeline and the report use it).

# %%
from ensembles.analysis import summarize

summary = pd.concat([summarize(rec, measures=["population", "lifetime", "fraction_active"])
                     for rec in recs.values()])
summary.query("`class` == 'all' and aggregate == 'mean'").pivot_table(
    index=["model", "layer"], columns="statistic", values="value").round(3)
