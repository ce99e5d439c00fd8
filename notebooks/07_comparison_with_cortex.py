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
# # 7. Comparison with cortex
#
# The paper's first claim is that FF ensembles are "reminiscent of neuronal ensembles in cortical sensory
# areas". This notebook puts model recordings and neural data through the same pipeline:
#
# * **NWB**: a recording exported to Neurodata Without Borders and imported back is the same recording, so
#   any NWB session (Units with spike times, or ΔF/F series, plus a stimulus table) enters the same analyses.
# * **A synthetic cortex** with known ground truth: a labelled Poisson population in which each class drives a
#   planted ensemble (`category_population`), and an unlabelled one with planted co-active assemblies
#   (`planted_ensembles`): the category rule and the unsupervised detector must recover them.
# * **Representational geometry** (Kriegeskorte et al. 2008; Kornblith et al. 2019): linear CKA between every
#   pair of layers of the three models, class RDMs (1 − Pearson r between class-mean patterns) compared with
#   Spearman ρ, and cross-validated linear decoding.
# * **Published cortical values** (docs/methods.md §A5.7): the models' sparseness and dimensionality next to
#   the cortical numbers, with the caveats (matched n, rates vs activations, lifetime vs population).

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ensembles import demo_runs, notebook_setting, select_layer

# ENSEMBLES_QUICK=1 is the test setting (8x8 digits, tiny layers, seconds); otherwise the demo's setting.
# Runs are cached in ENSEMBLES_NOTEBOOK_CACHE (default results/notebooks) and reused; delete it to retrain.
setting = notebook_setting()
print(setting)

# %%
# The demo's three runs (`ensembles demo` trains the same configs); a finished run in the cache is reused
runs, recs = demo_runs(setting)

# %% [markdown]
# ## NWB round trip
#
# `export_nwb` needs one checkpoint; the file passes `nwbinspector`. `import_nwb` gives the recording back.

# %%
from ensembles.io import export_nwb, import_nwb

ff_final = recs["FF"].isel(checkpoint=-1)
path = export_nwb(ff_final, setting.cache / "ff_final.nwb")
back = import_nwb(path)
print("round trip exact:", np.array_equal(back["activity"].values, ff_final["activity"].values),
      "| same labels:", np.array_equal(back["label"].values, ff_final["label"].values), "|", dict(back.sizes))

# %% [markdown]
# ## A synthetic cortex with planted category ensembles
#
# 10 classes × `N_PER_CLASS` presentations, Poisson spike counts, each class driving its own ensemble of 10
# neuroids (10 % of them shared with earlier classes) on top of heterogeneous background rates. Stored as a
# recording, sent through NWB, then analysed exactly as the networks.

# %%
from ensembles import category_population, make_recording

N_PER_CLASS = 30 if setting.quick else 100
X, truth = category_population(10, 200, N_PER_CLASS, ensemble_size=10, overlap=0.1, strength=4.0,
                               kind="poisson", random_state=0)
cortex = make_recording(
    X.astype(np.float32),
    presentation={"stimulus_id": [f"synthetic/{i:05d}" for i in range(len(X))], "label": truth.labels,
                  "label_name": [f"class{c}" for c in truth.labels], "split": ["test"] * len(X)},
    layer_sizes=[X.shape[1]],
    attrs={"model": "neural:synthetic", "dataset": "synthetic-cortex", "seed": 0, "site": "synthetic area",
           "response_variable": "spike count",
           "config": {"generator": "category_population", "ensemble_size": 10, "overlap": 0.1}})
cortex = import_nwb(export_nwb(cortex, setting.cache / "synthetic_cortex.nwb"))
cortex

# %%
from ensembles.analysis import category_ensembles, ensemble_overlap, match_ensembles

found = category_ensembles(cortex["activity"], rule="paper", tau=1.0)
recovery = match_ensembles(found, truth.members)
print("planted ensembles recovered by the paper's rule, mean Jaccard:",
      round(recovery.attrs["mean_jaccard"], 3))
overlap = ensemble_overlap(found).squeeze(drop=True)
print("pairs sharing more neuroids than chance (q < 0.05):",
      int(((overlap["q"] < 0.05) & (overlap["category"] < overlap["other_category"])).sum()))

# %%
from ensembles import planted_ensembles
from ensembles.analysis import EnsembleDetector, detect_ensembles

Y, assemblies = planted_ensembles(n_neuroids=200, n_presentations=2000 if setting.quick else 5000,
                                  n_ensembles=6, random_state=0)
detected = detect_ensembles(Y, EnsembleDetector(method="ica", random_state=0))
print(f"{len(detected['members'])} assemblies detected (6 planted); mean Jaccard with the planted ones:",
      round(match_ensembles(detected, assemblies.members).attrs["mean_jaccard"], 3))

# %% [markdown]
# ## Representational similarity between models: linear CKA
#
# On every test presentation (same images in the same order for all models), last checkpoint; "pixels" is the
# input image.

# %%
from ensembles import load_dataset
from ensembles.analysis import linear_cka

test = load_dataset(setting.dataset, "test")
blocks = {"pixels": test.x}
for name, rec in recs.items():
    for layer in (1, 2, 3):
        blocks[f"{name} L{layer}"] = select_layer(rec["activity"].isel(checkpoint=-1), layer).values
cka = pd.DataFrame([[linear_cka(blocks[a], blocks[b]) for b in blocks] for a in blocks], index=list(blocks),
                   columns=list(blocks)).rename_axis("linear CKA")
cka.round(2)

# %%
fig, ax = plt.subplots(figsize=(6.5, 5.5))
im = ax.imshow(cka.values, vmin=0, vmax=1, cmap="viridis")
ax.set_xticks(range(len(cka)), cka.columns, rotation=90)
ax.set_yticks(range(len(cka)), cka.index)
fig.colorbar(im, ax=ax, label="linear CKA")
ax.set_title("linear CKA between layers (all test presentations)")

# %% [markdown]
# ## Class RDMs and decoding
#
# Per layer: the class RDM's Spearman ρ with the pixel RDM (with a stimulus-bootstrap 95 % CI), and the 5-fold
# cross-validated accuracy of a linear decoder of the class (the slowest cell at full scale: about 25 s per
# layer on 2 cores).

# %%
from ensembles.analysis import compare_rdms, decode, rdm

pixel_rdm = rdm(test.x, test.y)
rows = []
for key, x in blocks.items():
    if key == "pixels":
        continue
    r = compare_rdms(rdm(x, test.y), pixel_rdm, method="spearman", n_bootstrap=100, random_state=0)
    rows.append({"layer": key, "rho with pixel RDM": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
                 "decoding accuracy": decode(x, test.y, cv=5).accuracy})
pd.DataFrame(rows).set_index("layer").round(3)

# %% [markdown]
# ## Next to the published cortical values
#
# Each published value (docs/methods.md §A5.7; the table ships with the package) carries its recipe: the
# toolkit function and parameters that compute the matching statistic, which units it runs on and how the
# source aggregates. `compare_to_cortex` runs every recipe on each layer of each recording, on stimulus
# means, with the source's number of stimuli (lifetime measures) or neurons (population measures) matched by
# random subsampling, and returns one row per recording × layer × reference with the recipe written out, the
# verification of the published value and the caveats that remain (rates vs activations, stimulus set,
# sample size). The synthetic cortex goes through the same call.

# %%
from ensembles.analysis import compare_to_cortex

table = compare_to_cortex({**recs, "synthetic cortex": cortex})
columns = ["model", "layer", "reference_id", "recipe", "model_value", "reference_value", "verification",
           "caveats"]
table[columns].round(3)

# %%
from ensembles.plot import plot_cortex_comparison

plot_cortex_comparison(table)
