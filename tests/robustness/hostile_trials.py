"""Repeated hostile trials (a script, not part of the test suite; the suite tries each case once).

    python -m tests.robustness.hostile_trials ctrl-c 10     # Ctrl-C during `ensembles reproduce` on a tiny setting
    python -m tests.robustness.hostile_trials edits         # every edit of test_hostile_reproduce.EDITS, through
                                                            # `ensembles reproduce --analyze-only`

Run from the repository root.  Each mode prints one line per trial and a final count: for ctrl-c, the trials that
exited 130 with nothing on stderr but "ensembles: interrupted"; for edits, the trials that ended in one line (exit 2,
no traceback) naming the damaged run and not the intact one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOISE = ("Traceback", "Exception ignored", "distributed.", "CancelledError", "CommClosedError", "IOLoop is closed",
         "AssertionError")


def ctrl_c(n: int, work: Path) -> int:
    clean = 0
    for t in range(n):
        out = work / f"rep{t}"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env.pop("ENSEMBLES_DEBUG", None)
        cmd = [sys.executable, "-m", "ensembles", "reproduce", "--dataset", "digits", "--seeds", "0", "--conditions",
               "baseline", "held_out", "--out", str(out), "--set", "network.hidden=[16,16,16]", "--set",
               "train.epochs=100000", "--workers", "2"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # its own process group, as a terminal's foreground job
        runs = out / "sweeps" / "baseline" / "runs"
        t0 = time.time()
        while time.time() - t0 < 120 and proc.poll() is None:
            if runs.is_dir() and any((d / "config.toml").exists() for d in runs.iterdir()):
                break
            time.sleep(0.2)
        time.sleep(1 + t % 3)  # Ctrl-C at different moments of training
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
        noisy = [w for w in NOISE if w in err]
        ok = proc.returncode == 130 and not noisy and "ensembles: interrupted" in err
        clean += ok
        print(f"trial {t}: exit {proc.returncode}" + ("" if ok else f", noise {noisy}:\n{err}"), flush=True)
    print(f"clean interruptions: {clean} of {n}")
    return clean


def edits(work: Path) -> int:
    from ensembles._lock import claim_output_dir
    from ensembles.layout import SweepLayout
    from ensembles.train import train_run

    from ._train_helpers import tiny_config
    from .test_hostile_reproduce import EDITS

    finished = work / "finished"
    train_run(tiny_config(), finished, progress=False)
    named = 0
    for i, (name, edit) in enumerate(sorted(EDITS.items())):
        out = work / f"rep{i}"
        claim_output_dir(out, command="reproduce").release()
        lay = SweepLayout(out / "sweeps" / "baseline")
        runs = ["ff-digits-s0-00000000", "ff-digits-s1-00000001"]
        for r in runs:
            shutil.copytree(finished, lay.run(r).root)
        lay.manifest.write_text(json.dumps({"name": "baseline", "runs": [{"dir": f"runs/{r}"} for r in runs]}))
        edit(lay.run(runs[1]).root)
        proc = subprocess.run([sys.executable, "-m", "ensembles", "reproduce", "--dataset", "digits",
                               "--analyze-only", "--out", str(out)], capture_output=True, text=True, timeout=120)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        ok = (proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 1
              and f"baseline/{runs[1]}" in lines[0] and runs[0] not in lines[0])
        named += ok
        print(f"{name}: exit {proc.returncode}" + ("" if ok else f", not named:\n{proc.stderr}"), flush=True)
    print(f"edits detected and named: {named} of {len(EDITS)}")
    return named


def main(argv: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="ensembles-hostile-"))
    try:
        if argv[:1] == ["ctrl-c"]:
            n = int(argv[1]) if len(argv) > 1 else 10
            return 0 if ctrl_c(n, work) == n else 1
        if argv[:1] == ["edits"]:
            from .test_hostile_reproduce import EDITS

            return 0 if edits(work) == len(EDITS) else 1
        print(__doc__)
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
