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
# # 4. Selectivity and mixed selectivity
#
# Single-neuroid tuning to categories, the statistics of systems neuroscience (docs/methods.md §A3.5 for the
# mixed selectivity claim; definitions in docs/methods.md §A2):
#
# * **CSI** (Morcos et al. 2018): (μ_max − μ_−max)/(μ_max + μ_−max), μ_max the largest class-conditional mean
#   and μ_−max the mean of the others; 1 = responds to one class only; p from label shuffles, BH-FDR q.
# * **One-way ANOVA** across classes per neuroid: F, p, and the effect size ω² (Hays 1963).
# * **Mutual information** I(class; response) in bits, equal-population bins, shuffle bias-corrected.
# * **Number of driven classes**: one-sided Welch tests "class c > the rest" per neuroid × class, BH-FDR over
#   all tests; a neuroid driven by ≥ 2 classes shows *mixed selectivity*.
#
# All on the correctly classified test presentations at the last checkpoint.

# %%
# ruff: noqa: E402, B018 - notebook cells import what they use and display their last expression
# %matplotlib inline
import numpy as np
import pandas as pd

from ensembles import demo_activity

# Selectivity of the demo's three runs (trained once at the notebooks' setting, notebooks/README.md), measured on
# `final`, their activity under the paper's protocol (docs/methods.md §A3.1)
demo = demo_activity()
print(demo)
final = demo.final

# %%
from ensembles.analysis import (
    anova,
    class_selectivity_index,
    mutual_information,
    n_driven_classes,
)

N_SHUFFLES = 20 if demo.setting.quick else 200
tables = []
for name, act in final.items():
    csi = class_selectivity_index(act, n_shuffles=N_SHUFFLES, random_state=0)
    aov = anova(act)
    mi = mutual_information(act, n_bins=8, n_shuffles=N_SHUFFLES, random_state=0)
    driven = n_driven_classes(act, alpha=0.05)
    tables.append(pd.DataFrame({"model": name, "layer": act["layer"].values, "csi": csi["csi"].values,
                                "csi_q": csi["q"].values, "preferred": csi["preferred"].values,
                                "omega2": aov["omega2"].values, "anova_q": aov["q"].values,
                                "mi": mi["mi"].values,
                                "n_driven": driven["n_driven"].values}))
selectivity = pd.concat(tables, ignore_index=True)
selectivity.head()

# %% [markdown]
# ## Summary per model and layer

# %%
selectivity.assign(csi_significant=selectivity["csi_q"] < 0.05,
                   anova_significant=selectivity["anova_q"] < 0.05,
                   mixed=selectivity["n_driven"] >= 2, silent=selectivity["csi"].isna()).groupby(
    ["model", "layer"]).agg(median_csi=("csi", "median"), csi_significant=("csi_significant", "mean"),
                            median_omega2=("omega2", "median"),
                            anova_significant=("anova_significant", "mean"),
                            median_mi_bits=("mi", "median"), mean_n_driven=("n_driven", "mean"),
                            mixed=("mixed", "mean"), silent=("silent", "mean")).round(3)

# %%
from ensembles.plot import selectivity_distributions

selectivity_distributions(selectivity)

# %% [markdown]
# ## Mixed selectivity: how many classes drive a neuroid
#
# Share of each layer's neuroids driven by exactly k classes (0 = none, 1 = single-class, ≥ 2 = mixed).

# %%
pd.crosstab([selectivity["model"], selectivity["layer"]], selectivity["n_driven"].clip(upper=5),
            normalize="index").rename(columns={5: "5+"}).round(3)

# %% [markdown]
# ## Selectivity of ensemble members
#
# Category-ensemble members (τ = 1, notebook 3) should be the selective neuroids: CSI inside vs outside the
# ensembles.

# %%
from ensembles.analysis import category_ensembles

selectivity["member"] = np.concatenate([category_ensembles(act, rule="paper", tau=1.0).any("category").values
                                        for act in final.values()])
selectivity.groupby(["model", "layer", "member"])["csi"].median().unstack("member").round(3)
