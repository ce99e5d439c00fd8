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
# # 3. Category ensembles and their overlap
#
# docs/methods.md §A3.4–A3.5 (the authors' Fashion-MNIST overlaps, §A3.9).
#
# * **Category ensemble** (the authors' leave-one-out rule): for class c and a layer, with μ_i the mean
#   response of neuroid i to the correctly classified class-c presentations and m₋ᵢ = mean_{j≠i} μ_j, neuroid
#   i ∈ E_c iff (μ_i − m₋ᵢ)/m₋ᵢ > τ. τ = 1 (μ_i > 2 m₋ᵢ) is the overlap figure's setting, τ = 2 the robustness
#   check. A shuffled-label null gives the size expected without category structure.
# * **Overlap** O[c, c′] = |E_c ∩ E_c′|. Under random membership of the same sizes it is hypergeometric(n,
#   |E_c|, |E_c′|): p = P(K ≥ O), Benjamini–Hochberg q over the pairs of a layer. The paper's claim (mixed
#   selectivity): ensembles are nearly disjoint except between visually similar classes.
# * **Unsupervised ensembles** (cell-assembly detection as in cortex, no labels): ICA on the z-scored activity
#   with the Marchenko–Pastur bound (Lopes-dos-Santos et al. 2013), then matched to the category ensembles
#   (Jaccard).

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ensembles import demo_activity, select_layer

# Ensembles are computed on `final`: the activity of the demo's three runs (trained once at the notebooks' setting,
# notebooks/README.md) under the paper's protocol (docs/methods.md §A3.1)
demo = demo_activity()
print(demo)
setting, final = demo.setting, demo.final

# %% [markdown]
# ## Ensembles with τ = 1 and τ = 2

# %%
from ensembles.analysis import category_ensembles, ensemble_sizes

N_SHUFFLES = 10 if setting.quick else 50
members = {name: category_ensembles(act, rule="paper", tau=1.0) for name, act in final.items()}
members_tau2 = {name: category_ensembles(act, rule="paper", tau=2.0) for name, act in final.items()}
members["FF"]

# %%
sizes = pd.concat([ensemble_sizes(m).to_dataframe().reset_index().assign(model=name)
                   for name, m in members.items()])
sizes_tau2 = pd.concat([ensemble_sizes(m).to_dataframe().reset_index().assign(model=name)
                        for name, m in members_tau2.items()])
sizes["size (tau=2)"] = sizes_tau2["size"].values
sizes = sizes.rename(columns={"class_name": "class"})
sizes.groupby(["model", "layer"])[["size", "fraction", "size (tau=2)"]].median()

# %%
from ensembles.plot import ensemble_sizes as plot_ensemble_sizes

# the black ticks: mean size under shuffled labels (no category structure), layer by layer
null = pd.DataFrame([{"model": name, "layer": layer, "category": c, "null_size": v}
                     for name, act in final.items() for layer in (1, 2, 3)
                     for c, v in category_ensembles(select_layer(act, layer), tau=1.0, n_shuffles=N_SHUFFLES,
                                                    random_state=0)["expected_size"].to_series().items()])
sizes = sizes.merge(null, on=["model", "layer", "category"])
plot_ensemble_sizes(sizes)

# %% [markdown]
# The authors' FF Fashion-MNIST layer-1 ensembles hold 22–91 of 1000 units (≈ 2–9 %, docs/methods.md §A3.9);
# ours as a fraction of the layer:

# %%
sizes.pivot_table(index="class", columns=["model", "layer"], values="fraction").round(3)

# %% [markdown]
# ## Overlap between ensembles

# %%
from ensembles.analysis import ensemble_overlap

overlap = {name: ensemble_overlap(m) for name, m in members.items()}
ff1 = overlap["FF"].sel(layer=1)
names = [str(v) for v in members["FF"]["class_name"].values]
pd.DataFrame(ff1["overlap"].values, index=names, columns=names)

# %%
from ensembles.plot import overlap_axes

fig, ax = plt.subplots(figsize=(5.5, 4.5))
overlap_axes(ax, np.where(np.eye(len(names), dtype=bool), 0, ff1["overlap"].values), class_names=names,
             qvalues=ff1["q"].values, title="FF, layer 1: shared neuroids (* q < 0.05)")

# %%
# every model and layer: the pairs that share more neuroids than chance (hypergeometric, BH-FDR q < 0.05)
long = pd.concat([ov.to_dataframe().reset_index().assign(model=name) for name, ov in overlap.items()])
pairs = long[long["category"] < long["other_category"]]
significant = pairs[pairs["q"] < 0.05]
significant[["model", "layer", "category", "other_category", "overlap", "expected", "q"]].round(4)

# %%
from ensembles.plot import overlap_heatmaps

heat = long.rename(columns={"class_name": "class_a", "other_class_name": "class_b"})
heat = heat.assign(label_a=long["category"])
heat.loc[heat["category"] == heat["other_category"], "overlap"] = 0
overlap_heatmaps(heat)

# %% [markdown]
# ### Does overlap follow visual similarity?
#
# Spearman correlation between the overlap of two classes' ensembles and the cosine similarity of their
# class-mean images, with a Mantel permutation p-value (ours, docs/methods.md §A3.5).

# %%
from ensembles import load_dataset
from ensembles.analysis import class_mean_similarity, overlap_vs_similarity

test = load_dataset(setting.dataset, "test")
# plain arrays in: a plain (class x class) array, labels 0..k-1
similarity = class_mean_similarity(test.x, test.y)
pd.DataFrame([{"model": name, "layer": layer,
               **overlap_vs_similarity(ov.sel(layer=layer)["overlap"].values,  # the classes with an ensemble
                                       similarity[np.ix_(ov["category"].values, ov["other_category"].values)],
                                       n_shuffles=200, random_state=0)}
              for name, ov in overlap.items() for layer in (1, 2, 3)]).round(3)

# %% [markdown]
# ## Unsupervised ensembles vs category ensembles
#
# The detector sees only the activity of FF layer 1 (no labels); `match_ensembles` finds, for every category
# ensemble, the detected ensemble with the largest Jaccard index.

# %%
from ensembles.analysis import EnsembleDetector, detect_ensembles, match_ensembles

detected = detect_ensembles(select_layer(final["FF"], 1), EnsembleDetector(method="ica", random_state=0))
print(detected.sizes["ensemble"], "ensembles detected;", int(detected["is_global"].sum()), "population-wide")
match = match_ensembles(detected, select_layer(members["FF"], 1))
print("mean Jaccard over category ensembles:", round(match.attrs["mean_jaccard"], 3))
match[["match", "jaccard", "precision", "recall"]].to_dataframe().round(3)
