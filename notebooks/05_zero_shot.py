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
# # 5. Zero-shot: ensembles of a class never seen in training
#
# docs/methods.md §A3.6 (the paper's claim 4; the protocol is ours because the authors' code lacks it).
#
# 1. Hold out class k: remove its training images. **strict** (variant A): label k is never used, not even as
#    a wrong label for negative data; **loose** (variant B): it may still be a negative label.
# 2. Train the models on the other classes exactly as before.
# 3. Record the test set with the true label embedded (for class k that label's input weights are untrained in
#    the strict variant, so we also record with no label).
# 4. Compute the ensemble E_k (leave-one-out rule, τ = 1) and the population Hoyer of class k, using **all**
#    class-k test presentations (they cannot be correctly classified) and the correctly classified
#    presentations of the seen classes; compare with the seen classes and with class k in the model trained on
#    all classes.

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import pandas as pd

from ensembles import demo_runs, notebook_setting, select_layer, select_presentations

# ENSEMBLES_QUICK=1 is the test setting (8x8 digits, tiny layers, seconds); otherwise the demo's setting.
# Runs are cached in ENSEMBLES_NOTEBOOK_CACHE (default results/notebooks) and reused; delete it to retrain.
setting = notebook_setting()
print(setting)

# %%
# The demo's three runs (`ensembles demo` trains the same configs); a finished run in the cache is reused
runs, recs = demo_runs(setting)

# %%
from ensembles import make_config

HELD = 3  # the held-out class
zs_plan = {("FF", "strict"): make_config("ff", setting.dataset, scale=setting.scale, data__held_out=[HELD]),
           ("FF", "loose"): make_config("ff", setting.dataset, scale=setting.scale, data__held_out=[HELD],
                                        data__held_out_mode="loose"),
           ("BP/FF", "strict"): make_config("bp_ff", setting.dataset, scale=setting.scale,
                                            data__held_out=[HELD]),
           ("BP", "strict"): make_config("bp", setting.dataset, scale=setting.scale, data__held_out=[HELD])}
# trained once into the notebook cache (a finished run is reused), e.g. runs/ff_heldout3_strict
zs_runs = setting.train(zs_plan, names={key: f"{key[0].lower().replace('/', '_')}_heldout{HELD}_{key[1]}"
                                        for key in zs_plan})
zs_recs = setting.recordings(zs_runs)

# %%
# the held-out class is never predicted correctly, the seen classes are
pd.DataFrame({f"{m} ({mode})": rec["correct"].isel(checkpoint=-1).groupby("label").mean().to_series()
              for (m, mode), rec in zs_recs.items()}).round(3)

# %% [markdown]
# ## Ensembles and sparseness of the held-out class

# %%
from ensembles.analysis import category_ensembles, population_sparseness


def held_out_table(act, model, condition_of):
    """One row per layer x class: the class's ensemble size and mean population Hoyer."""
    rows = []
    for layer in (1, 2, 3):
        x = select_layer(act, layer)
        size = category_ensembles(x, rule="paper", tau=1.0).sum("neuroid")
        hoyer = population_sparseness(x, "hoyer").groupby("label").mean()
        for label in size["category"].values:
            rows.append({"model": model, "layer": layer, "label": int(label), "class": str(label),
                         "condition": condition_of(int(label)), "size": int(size.sel(category=label)),
                         "hoyer": float(hoyer.sel(label=label))})
    return rows


# %%
rows = []
for (m, mode), rec in zs_recs.items():
    # correct presentations, and every held-out one (keep_held_out)
    act = select_presentations(rec["activity"])
    name = f"{m} ({mode})"
    rows += held_out_table(act, name, lambda c: "held out" if c == HELD else "seen")
    full = select_presentations(recs[m]["activity"])
    rows += [r for r in held_out_table(full, name, lambda c: "all-classes run") if r["label"] == HELD]
zero_shot = pd.DataFrame(rows)
zero_shot.groupby(["model", "layer", "condition"])[["size", "hoyer"]].mean().unstack("condition").round(3)

# %%
from ensembles.plot import zero_shot as plot_zero_shot

plot_zero_shot(zero_shot)

# %% [markdown]
# ## Is the unseen class's ensemble its own?
#
# Within the held-out FF run (strict): overlap of E_k with the seen classes' ensembles against the
# hypergeometric null. A zero-shot ensemble is a distinct, small set of neuroids, not the union of the others.

# %%
from ensembles.analysis import ensemble_overlap

act = select_presentations(zs_recs["FF", "strict"]["activity"])  # held-out presentations are kept
ov = ensemble_overlap(category_ensembles(act, rule="paper", tau=1.0))
ov = ov.sel(category=HELD).drop_sel(other_category=HELD)
ov[["overlap", "expected", "q"]].to_dataframe()[["overlap", "expected", "q"]].round(3)

# %% [markdown]
# ## No label embedded
#
# In the strict variant the label-k pixel never carried a trained label. Recording with the label pixels
# zeroed removes that confound: does class k still recruit an ensemble?

# %%
from ensembles import load_dataset, load_model, record_model

model, cfg = load_model(zs_runs["FF", "strict"])
nolabel = record_model(model, load_dataset(setting.dataset, "test"), condition="none", config=cfg,
                       held_out=[HELD])
pd.DataFrame(held_out_table(nolabel["activity"], "FF (strict), no label",
                            lambda c: "held out" if c == HELD else "seen")).groupby(
    ["layer", "condition"])[["size", "hoyer"]].mean().round(3)
