"""Benchmark of ensemble detection.

1. Category ensembles, 10 classes x 3 layers x 1000 units (10,000 presentations): target < 1 s.
2. ``EnsembleDetector(method="ica")`` on 1,000 neuroids x 10,000 presentations: target < 10 s on 2 cores.
3. The authors' pairwise-KS procedure (docs/methods.md §A3.4 ``ensembles_fast``: unit i is a member if the mean
   p-value of two-sample KS tests against every unit j > i is < 0.05) against our LOO rule on the same data.  The KS baseline is
   timed on a subset of units of one class and layer and extrapolated by the number of tests (O(units^2)); the
   extrapolation is labelled as such.
4. Recovery table per method on planted data (Mölter-style medium difficulty).

Run: ``python benchmarks/bench_ensembles.py [--ks-units 150]``; writes ``benchmarks/out/bench_ensembles.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import xarray as xr
from _common import timed, write_json
from scipy import stats

from ensembles.analysis.ensembles import EnsembleDetector, category_ensembles, match_ensembles
from ensembles.data.synthetic import category_population, planted_ensembles


def authors_ks_ensemble(R: np.ndarray) -> np.ndarray:
    """Literal re-implementation of the authors' ``ensembles_fast`` for one class and layer (R: n_c x H)."""
    H = R.shape[1]
    member = np.zeros(H, dtype=bool)
    for i in range(H - 1):  # the last unit has no partner j > i (NaN in their code, excluded)
        ps = [stats.ks_2samp(R[:, i], R[:, j]).pvalue for j in range(i + 1, H)]
        member[i] = np.mean(ps) < 0.05
    return member


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks-units", type=int, default=150, help="units of the KS subset (timed, then extrapolated)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "bench_ensembles.json"))
    args = ap.parse_args(argv)
    res: dict = {"machine": f"{platform.node()} {os.cpu_count()} cpus", "python": platform.python_version()}

    # 1. category ensembles: 10 classes x 3 layers x 1000 units
    layers = []
    for layer in range(3):
        X, truth = category_population(10, 1000, 1000, ensemble_size=60, strength=3.0, sparsity=0.7,
                                       random_state=layer)
        layers.append(X.astype(np.float32))
    labels = truth.labels
    Xall = np.hstack(layers)
    da = xr.DataArray(
        Xall, dims=("presentation", "neuroid"),
        coords={"label": ("presentation", labels), "layer": ("neuroid", np.repeat([1, 2, 3], 1000)),
                "unit": ("neuroid", np.tile(np.arange(1000), 3))},
    )
    cat = {}
    for rule in ("paper", "fraction", "test"):
        t, m = timed(lambda rule=rule: category_ensembles(da, rule=rule, threshold=1.0), repeat=3)
        cat[rule] = {"seconds": t, "mean_size": float(m.sum("neuroid").mean()) / 3}
    res["category_ensembles_10x3x1000_10k_presentations"] = cat

    # 2. ICA on 1000 neuroids x 10000 presentations
    Xi, ti = planted_ensembles(1000, 10000, 10, size=(20, 40), overlap=0.1, random_state=0)
    t, det = timed(lambda: EnsembleDetector(random_state=0).fit(Xi), repeat=2)
    t_tr, _ = timed(lambda: det.transform(Xi), repeat=2)
    res["ica_1000x10000"] = {
        "fit_seconds": t, "transform_seconds": t_tr, "n_ensembles": det.n_ensembles_,
        "mean_jaccard": match_ensembles(det.members_, ti.members).attrs["mean_jaccard"],
    }

    # 3. authors' KS procedure vs ours on the same data (class 0, layer 1)
    R = layers[0][labels == 0].astype(np.float64)
    H = R.shape[1]
    sub = R[:, : args.ks_units]
    t_ks, ks_members = timed(lambda: authors_ks_ensemble(sub), repeat=1)
    n_tests_sub = args.ks_units * (args.ks_units - 1) / 2
    n_tests_full = H * (H - 1) / 2
    t_ks_layer = t_ks * n_tests_full / n_tests_sub
    t_ks_all = t_ks_layer * 10 * 3
    t_ours_layer, _ = timed(lambda: category_ensembles(R, np.zeros(R.shape[0], int)), repeat=5)
    res["ks_vs_loo"] = {
        "ks_subset_units": args.ks_units, "ks_subset_seconds_measured": t_ks,
        "ks_one_class_layer_1000_units_seconds_EXTRAPOLATED": t_ks_layer,
        "ks_10_classes_3_layers_seconds_EXTRAPOLATED": t_ks_all,
        "ours_loo_one_class_layer_seconds": t_ours_layer,
        "ours_loo_10x3_seconds": cat["paper"]["seconds"],
        "speedup_one_class_layer": t_ks_layer / t_ours_layer,
        "speedup_10x3": t_ks_all / cat["paper"]["seconds"],
        "ks_subset_members": int(ks_members.sum()),
    }

    # 4. recovery table, medium difficulty (500 x 5000, 8 assemblies of 20-40, 10% overlap), seeds 0-2
    rec = {}
    for method in ("ica", "pca", "svd", "graph", "nmf"):
        js, ts, ks = [], [], []
        for seed in range(3):
            X, truth = planted_ensembles(random_state=seed)
            t0 = time.perf_counter()
            d = EnsembleDetector(method=method, random_state=0).fit(X)
            ts.append(time.perf_counter() - t0)
            js.append(match_ensembles(d.members_, truth.members).attrs["mean_jaccard"])
            ks.append(d.n_ensembles_)
        rec[method] = {"mean_jaccard": js, "n_found": ks, "seconds": ts}
    res["recovery_medium"] = rec

    # print
    print(f"machine: {res['machine']}")
    print("category ensembles 10 classes x 3 layers x 1000 units, 10,000 presentations (target < 1 s)")
    for rule, v in cat.items():
        print(f"  rule={rule:9s} {v['seconds']:.3f} s   mean |E_c| per layer {v['mean_size']:.1f}")
    r = res["ica_1000x10000"]
    print(f"ica 1000 x 10000 (target < 10 s): fit {r['fit_seconds']:.2f} s, transform {r['transform_seconds']:.2f} s,"
          f" {r['n_ensembles']} ensembles, mean Jaccard {r['mean_jaccard']:.3f}")
    k = res["ks_vs_loo"]
    print(f"authors' pairwise KS, {args.ks_units} units measured: {k['ks_subset_seconds_measured']:.2f} s;"
          f" 1000 units EXTRAPOLATED: {k['ks_one_class_layer_1000_units_seconds_EXTRAPOLATED']:.1f} s per class+layer,"
          f" {k['ks_10_classes_3_layers_seconds_EXTRAPOLATED']:.0f} s for 10 x 3")
    print(f"ours (LOO): {k['ours_loo_one_class_layer_seconds'] * 1e3:.2f} ms per class+layer;"
          f" speed-up {k['speedup_one_class_layer']:.3g}x per class+layer, {k['speedup_10x3']:.3g}x for 10 x 3")
    print("recovery, medium difficulty (mean best-match Jaccard, seeds 0-2; n found; seconds)")
    for m, v in rec.items():
        print(f"  {m:6s} J={' '.join(f'{j:.3f}' for j in v['mean_jaccard'])}  n={v['n_found']}"
              f"  t={' '.join(f'{s:.2f}' for s in v['seconds'])}")
    write_json(args.out, res, indent=2, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
