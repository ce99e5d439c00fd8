"""Output directories of analyze / report / sweep (issue #11 items 1, 8, 10, 11): one writer at a time, complete or
absent, reports read only inside their directory, dry runs write nothing, files get the umask's permissions.

Each test here failed on the code before the workflows redesign (commit 759581e): a second `ensembles analyze`
into the same --out mixed results or crashed on a fixed temporary figure name; a crafted manifest made `ensembles
report` embed /etc/os-release; `sweep --dry-run` wrote sweep_manifest.json, sweep.toml and a lock; `analyze` created
--out before reading its inputs; an all-zero recording gave an internal error after writing the analysis; report.html,
manifest.json and tables/*.csv were written 0600.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from ._helpers import REPO, small_recording

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def _recordings(tmp_path):
    """Two small recordings with different accuracies (correct on 1/2 vs 3/4 of the presentations)."""
    from ensembles.record import save_recording

    rng = np.random.default_rng(0)
    paths = {}
    for name, every in (("a", 2), ("b", 4)):
        rec = small_recording(rng, n=40, layer_sizes=(6, 4))
        correct = np.arange(40) % every != 0
        rec = rec.assign_coords(correct=("presentation", correct), predicted=("presentation", rec["label"].values))
        paths[name] = tmp_path / f"{name}.h5"
        save_recording(rec, paths[name])
        paths[name + "_acc"] = float(correct.mean())
    return paths


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "ensembles", *map(str, args)], cwd=kw.pop("cwd", REPO), env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def concurrent_analyze_trial(tmp_path, trial: int, recs: dict) -> tuple[str, str]:
    """Two `ensembles analyze` of different recordings into one --out at the same moment.  Returns (outcome of the
    winner's output: "consistent" or a description of what is wrong, refusal message of the other or "")."""
    out = tmp_path / f"race{trial}"
    procs = [_cli("analyze", recs[k], "--out", out, "--quiet", "--no-report") for k in ("a", "b")]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    refusals = [r[1].strip() for r in results if r[2] != 0]
    if codes != [0, 2]:
        return f"exit codes {codes}: {[r[1][-300:] for r in results]}", ""
    man = json.loads((out / "manifest.json").read_text())
    (src,) = man["sources"]
    which = "a" if src["path"].endswith("a.h5") else "b"
    acc = pd.read_csv(out / "tables" / "accuracy.csv")
    got = float(acc.loc[acc["class"] == "all", "accuracy"].item())
    files = sorted(os.listdir(out / "figures"))
    if got != pytest.approx(recs[which + "_acc"]):
        return f"accuracy.csv holds {got}, the manifest names {which} ({recs[which + '_acc']})", refusals[0]
    if any(f.startswith(".") for f in files) or len(files) != 2 * len(man["figures"]):
        return f"figures directory not clean: {files}", refusals[0]
    return "consistent", refusals[0]


def test_two_concurrent_analyze_one_complete_one_refused(tmp_path):
    recs = _recordings(tmp_path)
    for trial in range(2):  # benchmarks/bench_concurrent_outputs.py runs >= 10 trials
        outcome, refusal = concurrent_analyze_trial(tmp_path, trial, recs)
        assert outcome == "consistent", outcome
        assert "is in use by pid" in refusal and "ensembles analyze" in refusal and refusal.count("\n") == 0


SWEEP = """
[sweep]
name = "race"
preset = "paper"
scale = "quick"
retries = 0
[base]
dataset = "digits"
hidden = [8, 8]
epochs = 1
[grid]
model = ["bp"]
seed = [0, 1]
[scheduler.local]
processes = false
n_workers = 1
"""


def concurrent_sweep_trial(tmp_path, trial: int) -> tuple[str, str]:
    """Two `ensembles sweep` on one directory at once: (outcome of the output, refusal message)."""
    spec = tmp_path / "race.toml"
    spec.write_text(SWEEP)
    out = tmp_path / f"sweep{trial}"
    procs = [_cli("sweep", spec, "--out", out, "--quiet") for _ in range(2)]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    if codes != [0, 2]:
        return f"exit codes {codes}: {[r[1][-400:] for r in results]}", ""
    refusal = next(r[1].strip().splitlines()[-1] for r in results if r[2] != 0)
    outcome = json.loads((out / "sweep.json").read_text())
    runs = pd.read_csv(out / "combined" / "runs.csv")
    if outcome["n_done"] != 2 or outcome["n_failed"] or len(runs) != 2:
        return f"incomplete sweep: {outcome}", refusal
    return "consistent", refusal


def test_two_concurrent_sweeps_one_complete_one_refused(tmp_path):
    outcome, refusal = concurrent_sweep_trial(tmp_path, 0)
    assert outcome == "consistent", outcome
    assert "is in use by pid" in refusal and "ensembles sweep" in refusal


def test_report_reads_only_inside_its_directory(tmp_path):
    from ensembles.errors import DataFileError
    from ensembles.report import build_report
    from ensembles.workflows import analyze

    rng = np.random.default_rng(1)
    out = tmp_path / "an"
    analyze([small_recording(rng, n=30)], out, n_bootstrap=20, n_shuffles=0, progress=False, figures=False)
    man = json.loads((out / "manifest.json").read_text())
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG secret")
    for files, tables in ((["/etc/os-release", "figures/x.svg"], {}),
                          ([str(outside)], {}),
                          (["../secret.png"], {}),
                          ([], {"accuracy": "../../../../etc/os-release"})):
        crafted = {**man, "figures": {"walls": {"title": "t", "caption": "c", "files": files}} if files else {},
                   "tables": {**man["tables"], **tables}}
        (out / "manifest.json").write_text(json.dumps(crafted))
        with pytest.raises(DataFileError, match="must be relative to that directory|leaves that directory"):
            build_report(out)
        assert not (out / "report.html").exists()
    os.symlink("/etc", out / "figures" / "etc")  # a link inside the directory that points out of it
    (out / "manifest.json").write_text(json.dumps({**man, "figures": {"walls": {"files": ["figures/etc/os-release"]}}}))
    with pytest.raises(DataFileError, match="leaves that directory"):
        build_report(out)


def test_sweep_dry_run_writes_nothing(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    out = tmp_path / "dry"
    p = _cli("sweep", spec, "--out", out, "--dry-run")
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "dry run: nothing written" in err and "new" in err
    assert not out.exists()


def test_failed_or_bad_analyze_leaves_nothing(tmp_path):
    from ensembles.record import save_recording

    rng = np.random.default_rng(2)
    zero = tmp_path / "zero.h5"
    save_recording(small_recording(rng, n=30, activity=np.zeros((30, 10), np.float32)), zero)
    cases = [([tmp_path / "missing.h5"], "recording not found"),
             ([zero], "every activity value is zero")]
    for k, (recs, match) in enumerate(cases):
        out = tmp_path / f"o{k}"
        p = _cli("analyze", *recs, "--out", out, "--quiet")
        _, err = p.communicate(timeout=120)
        assert p.returncode == 2 and match in err and "Traceback" not in err, err
        assert not (out / "manifest.json").exists() and not (out / "tables").exists()
    # an empty --out would mean the current directory: refused, nothing written there
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "mine.txt").write_text("user file")
    p = _cli("analyze", zero, "--out", "", cwd=cwd)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "'out_dir' parameter must name a directory" in err
    assert os.listdir(cwd) == ["mine.txt"]


def test_failed_analyze_with_force_keeps_the_previous_results(tmp_path):
    from ensembles.record import save_recording
    from ensembles.workflows import analyze

    rng = np.random.default_rng(3)
    out = tmp_path / "an"
    good = analyze([small_recording(rng, n=30)], out, n_bootstrap=20, n_shuffles=0, progress=False, figures=False)
    before = {p.name: p.read_bytes() for p in (out / "tables").iterdir()}
    zero = tmp_path / "zero.h5"
    save_recording(small_recording(rng, n=30, activity=np.zeros((30, 10), np.float32)), zero)
    with pytest.raises(ValueError, match="every activity value is zero"):
        analyze([zero], out, force=True, progress=False, figures=False)
    assert json.loads((out / "manifest.json").read_text())["created"] == good["created"]
    assert {p.name: p.read_bytes() for p in (out / "tables").iterdir()} == before
    assert not [p for p in os.listdir(out) if p.startswith(".staging")]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_files_get_the_umask_permissions(tmp_path, umask):
    code = textwrap.dedent(f"""
        import os, sys, numpy as np
        sys.path.insert(0, {str(REPO / "tests" / "robustness")!r})
        from _helpers import small_recording
        from ensembles.workflows import analyze
        from ensembles.report import build_report
        os.umask({umask})
        analyze([small_recording(np.random.default_rng(0), n=30)], {str(tmp_path / "an")!r}, n_bootstrap=20,
                n_shuffles=0, progress=False)
        build_report({str(tmp_path / "an")!r})
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, cwd=REPO, timeout=300)
    want = 0o666 & ~umask
    files = [tmp_path / "an" / "manifest.json", tmp_path / "an" / "report.html",
             *(tmp_path / "an" / "tables").iterdir(), *(tmp_path / "an" / "figures").iterdir()]
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(want)}, modes
    assert oct(stat.S_IMODE((tmp_path / "an" / "tables").stat().st_mode)) == oct(0o777 & ~umask)


def test_atomic_write_serves_every_writer(tmp_path):
    """One atomic_write for text, torch.save, to_netcdf, savefig and np.savez: unique temporary names, no leftovers
    on failure, the umask's mode."""
    import xarray as xr
    from matplotlib.figure import Figure

    from ensembles._io import atomic_write, file_mode

    fig = Figure()
    fig.subplots().plot([0, 1])
    writers = {"a.txt": lambda p: p.write_text("x"), "b.png": lambda p: fig.savefig(p, format="png"),
               "c.h5": lambda p: xr.Dataset({"v": ("x", [1.0])}).to_netcdf(p, engine="h5netcdf"),
               "d.npz": lambda p: np.savez(p, v=np.ones(2))}
    try:
        import torch

        writers["e.pt"] = lambda p: torch.save({"w": torch.ones(2)}, p)
    except ImportError:  # pragma: no cover
        pass
    for name, fn in writers.items():  # np.savez appends ".npz" to other names: the temporary name keeps the suffix
        atomic_write(tmp_path / name, fn, suffix=".npz" if name.endswith(".npz") else "")
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == file_mode()
    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(tmp_path / "a.txt", lambda p: (p.write_text("partial"), (_ for _ in ()).throw(RuntimeError("boom"))))
    assert (tmp_path / "a.txt").read_text() == "x"
    assert sorted(os.listdir(tmp_path)) == sorted(writers)
