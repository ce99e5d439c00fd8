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
# # 1. Training and recording: FF, BP/FF and BP
#
# Tosato et al., *Emergent representations in networks trained with the Forward-Forward algorithm*
# (arXiv 2305.18353), the models (docs/methods.md §M1) and the representation extraction (§A3.1).
#
# * **FF** (Forward-Forward, greedy layer-wise): every layer computes h = ReLU(W·x̂ + b) with x̂ = x / ‖x‖₂
#   (the raw image included) and is trained on its own to make the goodness G(h) = ‖h‖₂ exceed θ = 3 for
#   *positive* data (the image with its true label embedded in the first 10 pixels) and stay below θ for
#   *negative* data (a wrong label): loss = softplus(θ − G(h⁺)) + softplus(G(h⁻) − θ).
# * **BP/FF**: the same network and objective, trained end-to-end by backprop on the summed goodness Σ_l
#   G(h_l).
# * **BP**: a plain MLP (same widths) with a linear read-out and cross-entropy; no label embedding, no
#   normalisation.
#
# A *recording* stores the post-ReLU activity of every hidden layer on the test split "as if from neurons":
# `presentation × neuroid` (Brain-Score names), with the label, prediction and correctness of every
# presentation and the layer of every neuroid, at several training checkpoints.

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ensembles import MODEL_NAMES, demo_runs, notebook_setting, select_layer

# ENSEMBLES_QUICK=1 is the test setting (8x8 digits, tiny layers, seconds); otherwise the demo's setting.
# Runs are cached in ENSEMBLES_NOTEBOOK_CACHE (default results/notebooks) and reused; delete it to retrain.
setting = notebook_setting()
print(setting)

# %%
# The demo's three runs (`ensembles demo` trains the same configs)
plan = setting.demo_plan()

# %% [markdown]
# ## The data
#
# `load_dataset` returns images flattened channel-major and normalised with the paper's constants
# (docs/methods.md §M2.2).

# %%
from ensembles import list_datasets, load_dataset

datasets = pd.DataFrame([vars(d) for d in list_datasets()])
datasets[["name", "title", "available", "n_train", "n_test", "n_classes"]]

# %%
train, test = load_dataset(setting.dataset, "train"), load_dataset(setting.dataset, "test")
print(train.name, "train", train.x.shape, "test", test.x.shape, "normalisation", train.normalization)
fig, axes = plt.subplots(1, len(train.classes), figsize=(12, 1.6))
for k, ax in enumerate(axes):
    ax.imshow(train.x[np.flatnonzero(train.y == k)[0]].reshape(train.image_shape), cmap="gray")
    ax.set_title(train.classes[k], fontsize=8)
    ax.axis("off")

# %% [markdown]
# ## The three configurations
#
# A config is a preset (the formulation, `paper` = the authors' code with its bugs fixed, docs/methods.md §X)
# plus a scale profile (`quick` for tests, `cpu` for the demo, `full` for the authors' epochs, docs/methods.md
# §M1.9).

# %%
pd.DataFrame({MODEL_NAMES[m]: {"hidden": cfg.network.hidden, "input norm": cfg.network.input_norm,
                               "schedule": cfg.schedule,
                               "goodness": cfg.ff.goodness if m != "bp" else "(cross-entropy)",
                               "lr": cfg.train.lr, "epochs": cfg.train.epochs, "batch": cfg.train.batch_size,
                               "recorded at epochs": cfg.record_epochs()}
              for m, cfg in plan.items()})

# %%
print(plan["ff"].to_toml())

# %% [markdown]
# ## Training (or reusing finished runs)

# %%
# The demo's three runs (`ensembles demo` trains the same configs); a finished run in the cache is reused
runs, recs = demo_runs(setting)

# %% [markdown]
# ## Accuracy
#
# Test accuracy on the whole test split. The authors' MNIST numbers (docs/methods.md §A3.9, single runs on the
# full 60k/10k MNIST with far more epochs) are shown for orientation only: the ordering **BP > BP/FF > FF** is
# what to compare.

# %%
from ensembles import read_history, read_metrics

metrics = {MODEL_NAMES[m]: read_metrics(runs[m]) for m in MODEL_NAMES}
acc = pd.DataFrame(metrics).T[["dataset", "test_accuracy", "n_train", "n_test", "epochs", "wall_time_s"]]
acc["paper, MNIST (methods §A3.9)"] = ["0.930–0.959", "0.970–0.973", "0.977–0.986"]
acc

# %%
pd.DataFrame({name: m["per_class_accuracy"] for name, m in metrics.items()}).T.round(3)

# %% [markdown]
# ## Training curves
#
# Mean goodness of positive and negative data per layer (FF, BP/FF), loss and accuracy.

# %%
from ensembles.plot import training_curves

history = pd.concat([read_history(runs[m], model=MODEL_NAMES[m]) for m in MODEL_NAMES], ignore_index=True)
training_curves(history)

# %% [markdown]
# ## Inspecting a recording

# %%
rec = recs["FF"]
rec

# %%
from ensembles import recording_info

recording_info(runs["ff"] / "recording.h5")

# %%
# accuracy at every recorded checkpoint (FF records at the end of each layer's training)
pd.DataFrame({name: pd.Series(r["correct"].mean("presentation").values, index=r["epoch"].values)
              for name, r in recs.items()}).rename_axis("epoch").round(3)

# %% [markdown]
# ## Recording again, under other input conditions
#
# `load_model` rebuilds a trained network; `record_model` records it on any split. For FF-style models the
# condition says which label is embedded: `"true"` (the paper's condition), `"none"` (label pixels zeroed) or
# `"all"` (every label).

# %%
from ensembles import load_model, record_model
from ensembles.analysis import fraction_active

model, cfg = load_model(runs["ff"])
rec2 = record_model(model, test, condition=["true", "none"], config=cfg)
condition = np.where(rec2["embedded_label"].values >= 0, "true label", "no label")
pd.DataFrame({f"layer {layer}": pd.Series(np.asarray(fraction_active(select_layer(rec2["activity"], layer))),
                                          index=condition).groupby(level=0).mean()
              for layer in (1, 2, 3)}).rename_axis("fraction of active neuroids")

# %% [markdown]
# ## Activation walls (docs/methods.md §A3.3)
#
# Correct test presentations grouped by class (rows) × neuroids (columns), neuroids ordered by their preferred
# class: FF shows class-specific blocks, BP a dense code.

# %%
from ensembles.plot import activation_walls

activation_walls(recs)
