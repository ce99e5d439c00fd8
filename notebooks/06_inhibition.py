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
# # 6. Inhibition: how FF and BP reach sparseness
#
# docs/methods.md §A3.7 (the paper's claim 5, "different inhibition mechanisms"; the protocol is ours).
#
# * (a) **Weights**: fraction negative, mean and SD of the positive and negative parts; (b) **biases**: a
#   large negative bias is a global threshold.
# * (c) **Input currents** of unit i on one presentation, with x̂ the (non-negative) input the layer's weights
#   see (L2-normalised for FF and BP/FF): excitatory E = Σ_j max(W_ij x̂_j, 0), inhibitory I = Σ_j min(W_ij
#   x̂_j, 0); net = E + I + b. A unit is **silenced by inhibition** when E + b > 0 ≥ E + I + b. Compared for
#   units inside vs outside the ensemble of the presented class.
# * (d) FF and BP/FF divide every layer input by its L2 norm (divisive normalisation, a shared inhibition); BP
#   has none. The ablation trains FF without it and BP with it.

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import numpy as np
import pandas as pd

from ensembles import (
    MODEL_NAMES,
    demo_runs,
    load_recording,
    notebook_setting,
    select_layer,
    select_presentations,
)

# ENSEMBLES_QUICK=1 is the test setting (8x8 digits, tiny layers, seconds); otherwise the demo's setting.
# Runs are cached in ENSEMBLES_NOTEBOOK_CACHE (default results/notebooks) and reused; delete it to retrain.
setting = notebook_setting()
print(setting)

# %%
# The demo's three runs (`ensembles demo` trains the same configs); a finished run in the cache is reused
runs, recs = demo_runs(setting)

# %%
from ensembles import layer_inputs, layer_parameters, load_dataset, load_model
from ensembles.analysis import category_ensembles, currents_by_ensemble, input_currents, weight_statistics

test = load_dataset(setting.dataset, "test")
rng = np.random.default_rng(0)
weights, samples, currents = [], [], []
for m, name in MODEL_NAMES.items():
    model, cfg = load_model(runs[m])
    ok = recs[name]["correct"].isel(checkpoint=-1).values     # recordings keep the test order
    x, y = test.x[ok], test.y[ok]
    inputs = layer_inputs(model, x, y if m != "bp" else None)  # x̂, W x̂ + b and the activity, per layer
    for layer, (par, inp) in enumerate(zip(layer_parameters(model), inputs, strict=True), start=1):
        weights.append({"model": name, "layer": layer, **weight_statistics(par["weight"], par["bias"])})
        samples += [pd.DataFrame({"model": name, "layer": layer, "kind": "weight",
                                  "value": rng.choice(par["weight"].ravel(), min(2000, par["weight"].size),
                                                      replace=False)}),
                    pd.DataFrame({"model": name, "layer": layer, "kind": "bias", "value": par["bias"]})]
        cur = input_currents(par["weight"], inp["normalized_input"], normalize="none")
        exc, inh = cur.excitatory, cur.inhibitory
        # E + I + b is the layer's input
        assert np.allclose(exc + inh + par["bias"], inp["current"], atol=1e-3)
        membership = category_ensembles(inp["activity"], y, rule="paper", tau=1.0)
        currents.append(pd.DataFrame(currents_by_ensemble(exc, inh, par["bias"], y, membership))
                        .assign(model=name, layer=layer))
weights, samples, currents = pd.DataFrame(weights), pd.concat(samples), pd.concat(currents, ignore_index=True)

# %% [markdown]
# ## Weights and biases

# %%
weights.set_index(["model", "layer"]).round(4)

# %% [markdown]
# ## Currents inside vs outside the ensembles (mean over classes)

# %%
from ensembles.analysis import currents_summary

summary = currents_summary(currents)
summary.round(4)

# %%
from ensembles.plot import inhibition

inhibition(samples, weights, summary)

# %% [markdown]
# ## Ablation: input normalisation (docs/methods.md §A3.7 d)
#
# FF trained without the L2 normalisation of its layer inputs, BP trained with it. If the divisive
# normalisation is FF's inhibition, removing it should change FF's sparseness and adding it should sparsify
# BP.

# %%
from ensembles import make_config, read_metrics
from ensembles.analysis import population_sparseness

ablation = {"FF, no input norm": make_config("ff", setting.dataset, scale=setting.scale,
                                             network__input_norm="none"),
            "BP, L2 input norm": make_config("bp", setting.dataset, scale=setting.scale,
                                             network__input_norm="l2")}
ablation_runs = setting.train(ablation, names={"FF, no input norm": "ff_nonorm",
                                               "BP, L2 input norm": "bp_l2norm"})
rows = []
for name, run in [*((MODEL_NAMES[m], runs[m]) for m in ("ff", "bp")), *ablation_runs.items()]:
    act = select_presentations(load_recording(run / "recording.h5")["activity"])
    rows.append({"run": name, "accuracy": read_metrics(run)["test_accuracy"],
                 **{f"Hoyer L{layer}": float(population_sparseness(select_layer(act, layer), "hoyer").mean())
                    for layer in (1, 2, 3)}})
pd.DataFrame(rows).set_index("run").round(3)
