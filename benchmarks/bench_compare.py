"""Benchmark of the comparison layer: NWB export/import, CKA, RDMs, decoding, KS similarity.

Run:  python benchmarks/bench_compare.py [--quick]
Prints a table and writes benchmarks/out/bench_compare.json.  Sizes mimic an MNIST test-set recording
(10,000 presentations x 2 layers of 1,000 units) and a Neuropixels-like session (500 units, 5,000 presentations).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
from _common import timed, write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    args = ap.parse_args()
    scale = 0.2 if args.quick else 1.0
    rng = np.random.default_rng(0)

    import pynwb

    from ensembles.analysis.distributions import distribution_similarity
    from ensembles.analysis.geometry import compare_rdms, decode, eigenspectrum_alpha, linear_cka, rdm
    from ensembles.io.nwb import export_nwb, import_nwb
    from ensembles.record import make_recording

    n, p = int(10000 * scale), int(2000 * scale)
    labels = np.arange(n) % 10
    x = np.maximum(rng.normal(size=(n, p)) - 1.0, 0).astype(np.float32)
    rec = make_recording(
        x,
        presentation={
            "stimulus_id": [f"mnist/test/{i:05d}" for i in range(n)],
            "label": labels,
            "label_name": [str(v) for v in labels],
            "split": ["test"] * n,
        },
        layer_sizes=[p // 2, p - p // 2],
        attrs={"model": "ff", "dataset": "mnist", "seed": 0, "config": {}, "site": "post-relu"},
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.nwb"
        t, _ = timed(lambda: export_nwb(rec, path))
        results.append(("export_nwb", f"{n} x {p}", t, f"{path.stat().st_size / 1e6:.1f} MB"))
        t, back = timed(lambda: import_nwb(path))
        ok = np.array_equal(back["activity"].values, rec["activity"].values)
        results.append(("import_nwb (round trip)", f"{n} x {p}", t, f"exact={ok}"))

        # Units table with spike times: 500 units, 5000 presentations, ~5 Hz
        n_units, n_pres = int(500 * scale), int(5000 * scale)
        onsets = np.arange(n_pres) * 0.5
        f = pynwb.NWBFile(session_description="bench", identifier="bench", session_start_time=rec_time())
        n_spk = 0
        for _ in range(n_units):
            st = np.sort(rng.uniform(0, onsets[-1] + 0.5, rng.poisson(5.0 * (onsets[-1] + 0.5))))
            n_spk += st.size
            f.add_unit(spike_times=st)
        f.add_trial_column(name="label", description="class")
        for k, t0 in enumerate(onsets):
            f.add_trial(start_time=t0, stop_time=t0 + 0.25, label=int(k % 10))
        upath = Path(tmp) / "units.nwb"
        with pynwb.NWBHDF5IO(str(upath), "w") as io:
            io.write(f)
        t, _ = timed(lambda: import_nwb(upath, source="units"))
        results.append(
            ("import_nwb (units -> counts)", f"{n_units} units, {n_pres} pres, {n_spk} spikes", t, "")
        )

    a = x[:, : p // 2].astype(np.float64)
    b = x[:, p // 2 :].astype(np.float64)
    t, v = timed(lambda: linear_cka(a, b))
    results.append(("linear_cka biased", f"{n} x {p // 2} vs {p - p // 2}", t, f"{v:.4f}"))
    t, v = timed(lambda: linear_cka(a, b, debiased=True))
    results.append(("linear_cka debiased", f"{n} x {p // 2} vs {p - p // 2}", t, f"{v:.4f}"))
    t, r1 = timed(lambda: rdm(rec, "label"))
    results.append(("rdm correlation (10 classes)", f"{n} x {p}", t, ""))
    t, _ = timed(lambda: rdm(rec, "label", metric="crossnobis", n_folds=2, random_state=0))
    results.append(("rdm crossnobis (2 folds)", f"{n} x {p}", t, ""))
    sub = rec.isel(presentation=slice(0, 100))
    ra, rb = rdm(sub), rdm(sub.assign(activity=sub["activity"] ** 2))
    t, res = timed(lambda: compare_rdms(ra, rb, method="spearman", n_bootstrap=1000, random_state=0))
    results.append(("compare_rdms spearman, 1000 boot", "100 conditions", t, f"{res.value:.3f}"))
    t, res = timed(lambda: compare_rdms(ra, rb, method="kendall_tau_a", n_bootstrap=1000, random_state=0))
    results.append(("compare_rdms tau-a, 1000 boot", "100 conditions", t, f"{res.value:.3f}"))
    nd = min(n, 2000)
    t, res = timed(lambda: decode(x[:nd, : p // 2], labels[:nd], cv=5))
    results.append(("decode (5-fold logistic)", f"{nd} x {p // 2}", t, f"acc={res.accuracy:.3f}"))
    t, res = timed(lambda: eigenspectrum_alpha(a))
    results.append(("eigenspectrum_alpha", f"{n} x {p // 2}", t, f"alpha={res.alpha:.3f}"))
    t, res = timed(lambda: distribution_similarity(rng.beta(2, 5, 3000), rng.beta(2, 5, 300), random_state=0))
    results.append(("distribution_similarity, 1000 boot", "3000 model, 300 data", t, f"{res.score:.3f}"))

    print(f"{'benchmark':40s} {'size':45s} {'seconds':>9s}  note")
    for name, size, secs, note in results:
        print(f"{name:40s} {size:45s} {secs:9.3f}  {note}")
    write_json(Path(__file__).parent / "out" / "bench_compare.json", {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "quick": args.quick,
        "results": [{"name": a, "size": b, "seconds": c, "note": d} for a, b, c, d in results],
    }, indent=2)


def rec_time():
    import datetime as dt

    return dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


if __name__ == "__main__":
    main()
