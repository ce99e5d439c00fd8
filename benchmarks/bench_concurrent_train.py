"""Concurrent writers: two ``ensembles train`` processes started at the same moment on one run directory.

Each trial starts both processes, waits for them and classifies the outcome:

* ``one trained, one refused (in use)``: the loser exited 2 with "is in use by pid N";
* ``one trained, one refused (finished)``: the winner had already finished when the loser looked (exit 2, "holds a
  finished run");
* anything else (both 0, a traceback, a crash, a damaged or missing recording, a leftover ``recording.h5.partial``)
  is a failure.

Every trial also checks that the recording loads (all checksums verified) and that ``DONE`` exists.

Usage::

    python benchmarks/bench_concurrent_train.py              # 10 trials
    python benchmarks/bench_concurrent_train.py --trials 30

Prints the outcome counts and writes JSON to ``benchmarks/out/bench_concurrent_train.json``; exits 1 on any
failure.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
REPO = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(REPO / "tests"))  # the tiny config of the training tests (as bench_concurrent_outputs.py)
from robustness._train_helpers import tiny_toml  # noqa: E402

#: the tests' tiny FF run on `digits` (2 layers of 16 units), 10 epochs per layer
CONFIG = tiny_toml(epochs=10)


def trial(tmp: Path, k: int) -> tuple[str, dict]:
    from ensembles.record import load_recording

    cfg = tmp / "c.toml"
    cfg.write_text(CONFIG)
    out = tmp / f"run{k}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop("ENSEMBLES_DEBUG", None)
    cmd = [sys.executable, "-m", "ensembles", "train", str(cfg), "--out", str(out), "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
             for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    detail = {"codes": [r[0] for r in results], "stderr": [r[2][-300:] for r in results]}
    if codes != [0, 2] or any("Traceback" in r[2] for r in results):
        return "FAILURE: unexpected exit statuses or a traceback", detail
    loser = next(r for r in results if r[0] == 2)[2]
    try:
        load_recording(out / "recording.h5")
    except Exception as err:  # noqa: BLE001 - any failure to read back is a failure of the trial
        return f"FAILURE: recording unreadable ({type(err).__name__})", detail
    if not (out / "DONE").exists() or (out / "recording.h5.partial").exists():
        return "FAILURE: no DONE or a leftover partial recording", detail
    if "is in use by pid" in loser:
        return "one trained, one refused (in use)", detail
    if "holds a finished run" in loser:
        return "one trained, one refused (finished)", detail
    return "FAILURE: unexpected message from the refused process", detail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    counts: collections.Counter = collections.Counter()
    failures = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.trials):
            outcome, detail = trial(Path(tmp), k)
            counts[outcome] += 1
            if outcome.startswith("FAILURE"):
                failures.append({"trial": k, "outcome": outcome, **detail})
            print(f"trial {k + 1}/{args.trials}: {outcome}", flush=True)
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else None
    result = {"trials": args.trials, "outcomes": dict(counts), "failures": failures,
              "seconds": round(time.time() - t0, 1), "loadavg": load}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_concurrent_train.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
