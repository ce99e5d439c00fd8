"""Sweeps: grid expansion, stable ids, SLURM job script, status, orchestration with retries and restart.

The orchestration tests inject a stand-in resolver and trainer (``fake_make_config``/``fake_train``) so they test
the sweep machinery itself in a few seconds; tests/robustness/test_kill_sweep.py runs the real trainer.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from ensembles._lock import claim_output_dir
from ensembles.errors import OutputDirError
from ensembles.sweep import (
    config_hash,
    expand_sweep,
    format_status,
    load_sweep,
    local_cluster_kwargs,
    parse_sweep,
    run_sweep,
    slurm_cluster_kwargs,
    sweep_status,
)
from ensembles.sweep.runner import execute_run, write_manifest

# Sweeps run on dask.distributed (a dependency of the package); without it these tests skip, with the reason.
needs_distributed = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="needs dask.distributed (pip install 'dask[distributed]')",
)

REPO = Path(__file__).resolve().parents[2]


def fake_make_config(*, model, dataset, preset, scale, seed=0, **overrides):
    """Stand-in for ensembles.train.make_config: a plain dict with the arguments."""
    if model not in ("ff", "bp_ff", "bp"):
        raise ValueError(f"unknown model {model!r}")
    return {"model": model, "dataset": dataset, "preset": preset, "scale": scale, "seed": seed,
            "train": {"epochs": 3, **overrides}}


def fake_train(config, out_dir, *, resume, device, progress):
    """Stand-in trainer with the contract of train_run: checkpoints per epoch, metrics, DONE last.

    ``train.fail_times = k`` fails the first k attempts (counted in out_dir/calls.txt), ``train.fail_if_exists``
    fails while that file exists;
    ``train.sleep`` sleeps per epoch.  Every call is appended to out_dir/calls.txt ("resume"/"fresh").
    """
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    with open(out / "calls.txt", "a") as fh:
        fh.write(("resume" if resume else "fresh") + "\n")
    n_attempts = len((out / "calls.txt").read_text().split())
    print(f"training {config['model']} seed {config['seed']}")
    if n_attempts <= config["train"].get("fail_times", 0):
        raise RuntimeError(f"planned failure {n_attempts}")
    flag = config["train"].get("fail_if_exists")
    if flag and Path(flag).exists():
        raise RuntimeError(f"planned failure {n_attempts} ({Path(flag).name} exists)")
    done = sorted(int(p.stem.split("_")[1]) for p in (out / "checkpoints").glob("epoch_*.json")) if resume else []
    start = done[-1] + 1 if done else 0
    for epoch in range(start, config["train"]["epochs"]):
        time.sleep(config["train"].get("sleep", 0.0))
        (out / "checkpoints" / f"epoch_{epoch}.json").write_text(json.dumps({"epoch": epoch}))
    acc = 0.5 + 0.1 * config["seed"] + (0.2 if config["model"] == "bp" else 0.0)
    (out / "metrics.json").write_text(json.dumps({"accuracy": acc}))
    (out / "DONE").write_text("")
    return {"accuracy": acc}


SWEEP = {
    "sweep": {"name": "t", "scale": "quick", "retries": 1},
    "base": {"dataset": "digits"},
    "grid": {"model": ["ff", "bp_ff", "bp"], "seed": [0, 1]},
    "scheduler": {"local": {"processes": False, "n_workers": 2}},
}


def test_expand_grid_order_names_and_stable_ids():
    spec = parse_sweep(SWEEP)
    runs = expand_sweep(spec, make_config=fake_make_config)
    assert [r.name for r in runs] == ["ff-digits-s0", "ff-digits-s1", "bp_ff-digits-s0", "bp_ff-digits-s1",
                                      "bp-digits-s0", "bp-digits-s1"]
    # id = sha256 of the canonical JSON of the resolved config (sorted keys): independent of key order
    cfg = fake_make_config(model="ff", dataset="digits", preset="paper", scale="quick", seed=0)
    reordered = json.loads(json.dumps(cfg, sort_keys=True))
    assert runs[0].run_id == config_hash(reordered)[:12] == config_hash(cfg)[:12]
    # the same config in a different sweep (other grid order, extra values) gets the same id and directory
    other = parse_sweep({**SWEEP, "grid": {"seed": [1, 0, 2], "rule": ["bp", "ff"]}})
    ids = {r.name: r.dirname for r in expand_sweep(other, make_config=fake_make_config)}
    assert ids["ff-digits-s0"] == runs[0].dirname
    assert len({r.run_id for r in runs}) == 6


def test_hyperparameter_keys_and_held_out_in_names():
    # TOML `train.lr = [...]` arrives as a nested table; `held_out` is an alias of data.held_out
    spec = parse_sweep({"base": {"model": "ff", "dataset": "digits"},
                        "grid": {"train": {"lr": [0.01, 0.001]}, "held_out": [[], [3, 5]], "seed": [0]}})
    assert list(spec.grid) == ["train.lr", "data.held_out", "seed"]
    runs = expand_sweep(spec, make_config=fake_make_config)
    assert [r.name for r in runs] == ["ff-digits-s0-lr0.01-held_outnone", "ff-digits-s0-lr0.01-held_out3_5",
                                      "ff-digits-s0-lr0.001-held_outnone", "ff-digits-s0-lr0.001-held_out3_5"]
    assert runs[1].config_dict["train"]["data.held_out"] == [3, 5]


@pytest.mark.parametrize(
    "data, match",
    [
        ({"grid": {"model": ["ff"]}, "base": {"dataset": "d"}, "sweeps": {}}, r"Unknown section \[sweeps\].*\[sweep\]"),
        ({"grid": {"model": "ff"}, "base": {"dataset": "d"}}, r"\[grid\] model must be a non-empty list"),
        ({"grid": {"model": []}, "base": {"dataset": "d"}}, r"\[grid\] model must be a non-empty list"),
        ({"grid": {"seed": [0]}, "base": {"dataset": "d"}}, r"must give the model"),
        ({"grid": {"model": ["ff"]}}, r"must give the dataset"),
        ({"sweep": {"scale": "huge"}, "grid": {"model": ["ff"]}, "base": {"dataset": "d"}}, r"scale must be one of"),
        ({"sweep": {"retries": -1}, "grid": {"model": ["ff"]}, "base": {"dataset": "d"}}, r"retries must be a non"),
        ({"sweep": {"retry": 1}, "grid": {"model": ["ff"]}, "base": {"dataset": "d"}}, r"Did you mean 'retries'"),
        ({"grid": {"model": ["ff"], "dataset": ["d"]}, "base": {"dataset": "d"}}, r"both \[base\] and \[grid\]"),
        ({"grid": {"model": ["ff"], "rule": ["bp"]}, "base": {"dataset": "d"}}, r"gives 'model' twice"),
        ({"grid": {"model": ["ff"]}, "base": {"dataset": "d"}, "scheduler": {"pbs": {}}}, r"scheduler.pbs"),
    ],
)
def test_bad_sweep_files_name_the_problem(data, match):
    with pytest.raises(ValueError, match=match):
        parse_sweep(data)


def test_duplicate_configs_and_bad_grid_points_are_reported():
    spec = parse_sweep({"base": {"dataset": "d"}, "grid": {"model": ["ff", "ff"]}})
    with pytest.raises(ValueError, match="resolve to the same training config"):
        expand_sweep(spec, make_config=fake_make_config)
    spec = parse_sweep({"base": {"dataset": "d"}, "grid": {"model": ["ff", "rnn"]}})
    with pytest.raises(ValueError, match=r"Grid point \(dataset='d', model='rnn'\).*unknown model"):
        expand_sweep(spec, make_config=fake_make_config)


def test_shipped_sweep_files_parse():
    for name, n in (("demo_sweep.toml", 6), ("quick_sweep.toml", 6)):
        spec = load_sweep(REPO / "configs" / "sweeps" / name)
        assert len(expand_sweep(spec, make_config=fake_make_config)) == n
    assert load_sweep(REPO / "configs" / "sweeps" / "demo_sweep.toml").base["dataset"] == "mnist-5k"


def test_local_cluster_sizing():
    kwargs, torch_threads = local_cluster_kwargs(None, n_runs=12, cores=2)
    assert (kwargs["n_workers"], kwargs["threads_per_worker"], torch_threads) == (2, 1, 1)
    kwargs, torch_threads = local_cluster_kwargs(None, n_runs=1, cores=8)  # one run: one worker with all cores
    assert (kwargs["n_workers"], torch_threads) == (1, 8)
    with pytest.raises(ValueError, match="n_workers must be a positive integer"):
        local_cluster_kwargs({"n_workers": 0})
    with pytest.raises(ValueError, match="Did you mean 'n_workers'"):
        local_cluster_kwargs({"n_worker": 2})


SLURM = {"queue": "gpu", "account": "lab42", "walltime": "04:00:00", "cores": 8, "memory": "32GB", "gpus": 1,
         "job_extra_directives": ["--constraint=a100"], "job_script_prologue": ["module load cuda/12.1"],
         "max_jobs": 6}


@needs_distributed
def test_slurm_parameters():
    kwargs, scale = slurm_cluster_kwargs(SLURM)
    assert kwargs["queue"] == "gpu" and kwargs["account"] == "lab42" and kwargs["cores"] == 8
    assert kwargs["job_extra_directives"] == ["--constraint=a100", "--gres=gpu:1"]
    assert scale == {"minimum_jobs": 0, "maximum_jobs": 6, "torch_threads": 8}
    for bad, match in (({"walltime": "4h"}, "walltime must be"), ({"memory": "lots"}, "memory must be"),
                       ({"gpus": -1}, "gpus must be"), ({"queu": "x"}, "Did you mean 'queue'")):
        with pytest.raises(ValueError, match=match):
            slurm_cluster_kwargs(bad)


def worker_line(lines: list[str]) -> str:
    (line,) = [ln for ln in lines if "distributed.cli.dask_worker" in ln or "dask-worker" in ln or "dask worker" in ln]
    return line


@needs_distributed
def test_slurm_job_script_without_a_cluster():
    """The SLURMCluster is built (no job is submitted, no SLURM needed) and its job script checked line by line."""
    pytest.importorskip("dask_jobqueue")
    from ensembles.sweep import make_slurm_cluster

    cluster, _ = make_slurm_cluster(SLURM)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    assert lines[0].startswith("#!/")
    for directive in ("#SBATCH -p gpu", "#SBATCH -A lab42", "#SBATCH -t 04:00:00", "#SBATCH -n 1",
                      "#SBATCH --cpus-per-task=8", "#SBATCH --mem=30G", "#SBATCH --constraint=a100",
                      "#SBATCH --gres=gpu:1", "#SBATCH -J ensembles-sweep"):
        assert directive in lines, (directive, script)
    assert "module load cuda/12.1" in lines
    # issue #8: the workers' nanny must not set MALLOC_TRIM_THRESHOLD_; the exported Dask setting, parsed as Dask
    # parses it, removes it from the pre-spawn environment and keeps the single-thread settings
    import subprocess
    import sys

    from ensembles.sweep.cluster import SLURM_MALLOC_PROLOGUE

    assert SLURM_MALLOC_PROLOGUE in lines and lines.index(SLURM_MALLOC_PROLOGUE) < lines.index(worker_line(lines))
    probe = ("import dask, distributed, json; from distributed.nanny import _get_env_variables as g; "
             "print(json.dumps(g('distributed.nanny.pre-spawn-environ')))")
    shell = f"{SLURM_MALLOC_PROLOGUE}; unset MALLOC_TRIM_THRESHOLD_; {sys.executable} -c \"{probe}\""
    env = json.loads(subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout)
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["OMP_NUM_THREADS"] == "1", env
    worker = [worker_line(lines)]
    assert len(worker) == 1 and "--nthreads 8" in worker[0] and "--memory-limit 29.80GiB" in worker[0]  # 32e9 B / 2**30


@needs_distributed
def test_sweep_runs_retries_skips_and_reports(tmp_path):
    """6 runs on a threaded local cluster: bp_ff fails once then succeeds, bp always fails (retries=1)."""
    flag = tmp_path / "broken"
    flag.write_text("")

    def make(**kw):
        cfg = fake_make_config(**kw)
        if kw["model"] == "bp_ff":
            cfg["train"]["fail_times"] = 1
        if kw["model"] == "bp":
            cfg["train"]["fail_if_exists"] = str(flag)
        return cfg

    out = tmp_path / "sweep"
    res = run_sweep(SWEEP, out, make_config=make, train_fn=fake_train, progress=False, echo=lambda m: None)
    assert sorted(res.done) == ["bp_ff-digits-s0", "bp_ff-digits-s1", "ff-digits-s0", "ff-digits-s1"]
    assert sorted(res.failed) == ["bp-digits-s0", "bp-digits-s1"]
    assert "RuntimeError: planned failure 2 (broken exists)" in res.failed["bp-digits-s0"]
    run_dirs = {r.name: out / "runs" / r.dirname for r in res.runs}
    log_dirs = {r.name: out / "logs" / r.dirname for r in res.runs}
    # failure reported in the run dir; a retried success clears its error files; logs captured per run
    err = json.loads((log_dirs["bp-digits-s0"] / "error.json").read_text())
    assert err["type"] == "RuntimeError" and err["attempt"] == 2 and "Traceback" in err["traceback"]
    assert not (log_dirs["bp_ff-digits-s0"] / "error.json").exists()
    # the run directory holds only what the trainer wrote
    assert sorted(os.listdir(run_dirs["ff-digits-s0"])) == ["DONE", "calls.txt", "checkpoints", "metrics.json"]
    log = (log_dirs["bp_ff-digits-s0"] / "log.txt").read_text()
    assert "attempt 1" in log and "attempt 2" in log and "planned failure 1" in log and "training bp_ff seed 0" in log
    assert "training ff seed 1" not in log
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["n_done"] == 4 and summary["n_failed"] == 2
    status = sweep_status(out).set_index("name")
    assert list(status.loc[["ff-digits-s0", "bp-digits-s1"], "state"]) == ["complete", "failed"]
    assert "planned failure" in status.loc["bp-digits-s1", "error"]
    assert "4 complete, 2 failed" in format_status(sweep_status(out))
    runs_csv = pd.read_csv(out / "combined" / "runs.csv")
    assert sorted(runs_csv["name"]) == sorted(res.done) and {"run", "model", "seed", "accuracy"} <= set(runs_csv)

    # re-submission once the cause is fixed: finished runs are not redone, the failed ones run again
    flag.unlink()
    res2 = run_sweep(SWEEP, out, make_config=make, train_fn=fake_train, progress=False, echo=lambda m: None)
    assert sorted(res2.skipped) == sorted(res.done) and sorted(res2.done) == ["bp-digits-s0", "bp-digits-s1"]
    assert (run_dirs["ff-digits-s0"] / "calls.txt").read_text().split() == ["fresh"]
    assert set(sweep_status(out)["state"]) == {"complete"}
    assert len(pd.read_csv(out / "combined" / "runs.csv")) == 6



def test_execute_run_reports_wall_and_cpu_seconds(tmp_path):
    """status.json of a finished run has its wall time and the CPU time spent meanwhile (issue #8's diagnostic):
    a trainer that sleeps 0.3 s costs ~0 CPU s, one that spins for 0.3 CPU-seconds costs that much."""

    def trainer(spin):
        def train(config, out_dir, *, resume, device, progress):
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            if spin:  # spin until 0.3 s of CPU time are spent, however loaded the machine (wall >= CPU)
                cpu_end = time.process_time() + 0.3
                while time.process_time() < cpu_end:
                    pass
            else:
                time.sleep(0.3)
            (Path(out_dir) / "DONE").write_text("")
            return {}
        return train

    for spin in (False, True):
        run, logs = tmp_path / f"run{spin}", tmp_path / f"log{spin}"
        res = execute_run(str(run), {}, log_dir=str(logs), train_fn=trainer(spin))
        status = json.loads((logs / "status.json").read_text())
        assert res["state"] == status["state"] == "done" and res["cpu_seconds"] == status["cpu_seconds"]
        assert status["seconds"] >= 0.3
        if spin:
            assert 0.29 <= status["cpu_seconds"] <= status["seconds"] + 0.1, status
        else:
            assert status["cpu_seconds"] < 0.1, status

def test_interrupted_run_is_resumed_not_restarted(tmp_path):
    run_dir = tmp_path / "r"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "epoch_0.json").write_text("{}")
    cfg = fake_make_config(model="ff", dataset="d", preset="paper", scale="quick")
    res = execute_run(str(run_dir), cfg, log_dir=str(tmp_path / "log"), train_fn=fake_train)
    assert json.loads((tmp_path / "log" / "status.json").read_text())["state"] == "done"
    assert res["state"] == "done"
    assert (run_dir / "calls.txt").read_text().split() == ["resume"]
    # a complete run is never trained again
    assert execute_run(str(run_dir), cfg, train_fn=fake_train)["skipped"] is True
    assert (run_dir / "calls.txt").read_text().split() == ["resume"]


def test_trainer_without_done_marker_is_a_failure(tmp_path):
    def no_done(config, out_dir, **kw):
        Path(out_dir).mkdir()
        (Path(out_dir) / "metrics.json").write_text("{}")

    res = execute_run(str(tmp_path / "r"), {}, train_fn=no_done)
    assert res["state"] == "failed" and "without writing the DONE marker" in res["error"]


@needs_distributed
def test_status_states_and_lock(tmp_path):
    res = run_sweep(SWEEP, tmp_path, make_config=fake_make_config, train_fn=fake_train, progress=False,
                    dry_run=True, echo=lambda m: None)
    assert os.listdir(tmp_path) == []  # a dry run writes nothing
    spec = parse_sweep(SWEEP)
    write_manifest(tmp_path, spec, res.runs)
    df = sweep_status(tmp_path)
    assert set(df["state"]) == {"pending"} and len(df) == 6
    manifest = json.loads((tmp_path / "sweep_manifest.json").read_text())
    d0 = tmp_path / manifest["runs"][0]["dir"]
    d0.mkdir(parents=True)
    (tmp_path / manifest["runs"][0]["log_dir"]).mkdir(parents=True)
    (tmp_path / manifest["runs"][0]["log_dir"] / "status.json").write_text(json.dumps({"state": "running", "attempt": 1}))
    assert sweep_status(tmp_path).loc[0, "state"] == "interrupted"  # no live sweep holds the lock
    with claim_output_dir(tmp_path, command="sweep", force=True):
        assert sweep_status(tmp_path).loc[0, "state"] == "running"
        with pytest.raises(OutputDirError, match=r"in use by pid \d+ .*ensembles sweep"):
            run_sweep(SWEEP, tmp_path, make_config=fake_make_config, train_fn=fake_train, progress=False,
                      echo=lambda m: None)
    (d0 / "DONE").write_text("")
    assert sweep_status(tmp_path).loc[0, "state"] == "complete"
    with pytest.raises(ValueError, match="not a sweep directory"):
        sweep_status(d0)


@pytest.mark.slow
@needs_distributed
def test_process_cluster_runs_tasks(tmp_path):
    """The default process-based LocalCluster (2 single-threaded workers) runs the task function."""
    sweep = {**SWEEP, "grid": {"model": ["ff", "bp"], "seed": [0]}, "scheduler": {"local": {"n_workers": 2}}}
    res = run_sweep(sweep, tmp_path, make_config=fake_make_config, train_fn=fake_train, progress=False,
                    echo=lambda m: None)
    assert sorted(res.done) == ["bp-digits-s0", "ff-digits-s0"] and res.ok
    pids = {json.loads((tmp_path / "logs" / r.dirname / "status.json").read_text())["pid"] for r in res.runs}
    assert os.getpid() not in pids



def _minor_faults_of_buffer_churn(n: int = 100, nbytes: int = 4 << 20) -> dict:
    """In the calling process: allocate, touch and free an ``nbytes`` buffer ``n`` times (what a training step does
    with its activations); report the minor page faults this caused and the process's MALLOC_TRIM_THRESHOLD_."""
    import resource

    import numpy as np

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones(nbytes // 8)
        del a
    return {"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before,
            "env": os.environ.get("MALLOC_TRIM_THRESHOLD_")}


@pytest.mark.slow
@needs_distributed
def test_local_workers_keep_glibc_malloc_defaults(monkeypatch):
    """Issue #8: Dask's nanny puts MALLOC_TRIM_THRESHOLD_=65536 in each worker's environment, which turns off glibc's
    dynamic mmap threshold, so every large buffer is mmap-ed, page-faulted in and unmapped again; training runs then
    cost ~2x the CPU of a plain process (2.66 M vs 0.11 M page faults for a quick mnist-5k run).  The sweep's local
    workers must not get it.  Reference values (measured on this 2-core Linux box): 100 fresh 4 MiB mmaps cost
    51 400 minor faults (about 514 per buffer), while glibc's default (the mmap threshold rises past 4 MiB after the
    first free, so the heap is reused) costs < 1 000; the bounds 10 k / 25 k sit well between the two."""
    from ensembles.sweep.cluster import connect

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # a value set by the caller would be honoured
    handle = connect("local", {"local": {"n_workers": 1}}, n_runs=1)
    try:
        (worker,) = handle.client.run(_minor_faults_of_buffer_churn).values()
    finally:
        handle.close()
    assert worker["env"] is None
    assert worker["faults"] < 10_000, worker
    # the measurement can tell the two apart: with the variable set, the same churn faults on every page
    import subprocess
    import sys

    code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "from test_sweep import _minor_faults_of_buffer_churn as f; print(json.dumps(f()))")
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    trimmed = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                        check=True).stdout.strip().splitlines()[-1])
    assert trimmed["env"] == "65536" and trimmed["faults"] > 25_000, trimmed

@needs_distributed
def test_cli_sweep_status_and_errors(tmp_path, capsys):
    from ensembles.cli import main

    assert main(["sweep-status", str(tmp_path / "nope")]) == 2
    assert "Sweep directory not found" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\nmodel = "ff"\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "[grid] model must be a non-empty list" in capsys.readouterr().err
    assert main(["sweep", str(bad), "--scheduler", "local", "--retries", "-1"]) == 2
    good = tmp_path / "good.toml"
    good.write_text('[base]\ndataset = "digits"\n[grid]\nmodel = ["ff"]\n')
    assert main(["sweep", str(good), "--out", str(tmp_path / "o2"), "--scheduler", "sge"]) == 2
    assert "'scheduler' parameter must be 'local', 'slurm' or a scheduler address" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()  # refused before anything is written


def recording_train(config, out_dir, *, resume, device, progress):
    """Stand-in trainer that writes a real (small) recording with two checkpoints, as train_run does."""
    import numpy as np

    from ensembles.record import make_recording, save_recording

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(config["seed"])
    n = 30
    labels = np.arange(n) % 3
    act = np.maximum(rng.normal(size=(2, n, 8)), 0).astype(np.float32)
    pres = {"stimulus_id": [f"syn/test/{i:03d}" for i in range(n)], "label": labels,
            "label_name": [f"c{lab}" for lab in labels], "split": ["test"] * n,
            "correct": np.ones((2, n), dtype=bool)}
    rec = make_recording(act, presentation=pres, layer_sizes=[4, 4], epochs=[1, 2],
                         attrs={"model": config["model"], "dataset": config["dataset"], "seed": config["seed"],
                                "config": config, "site": "post-relu"})
    save_recording(rec, out / "recording.h5")
    (out / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5 + config["seed"] / 10}))
    (out / "DONE").write_text("")
    return {"test_accuracy": 0.5}


@needs_distributed
def test_combined_summary_and_recording(tmp_path):
    """combined/summary.csv: tidy, a `run` column and the sweep parameters as columns, one block per run;
    combined/recording.h5: the runs' last checkpoints stacked along `run` with the parameters as coords."""
    import xarray as xr

    sweep = {**SWEEP, "grid": {"model": ["ff"], "seed": [0, 1]}}
    res = run_sweep(sweep, tmp_path, make_config=fake_make_config, train_fn=recording_train, progress=False,
                    echo=lambda m: None)
    assert res.ok and sorted(res.combined) == ["recording", "runs", "summary"]
    summary = pd.read_csv(tmp_path / "combined" / "summary.csv")
    assert {"run", "name", "model", "seed", "dataset", "layer", "statistic", "value"} <= set(summary.columns)
    assert sorted(summary["seed"].unique()) == [0, 1] and summary["run"].nunique() == 2
    hoyer = summary[(summary["statistic"].str.contains("hoyer")) & (summary["layer"] == 1)]
    assert len(hoyer) > 0 and hoyer["value"].between(0, 1).all()
    with xr.open_dataset(tmp_path / "combined" / "recording.h5", engine="h5netcdf") as ds:
        assert ds["activity"].dims == ("run", "presentation", "neuroid") and ds.sizes["run"] == 2
        assert sorted(ds["seed"].values.tolist()) == [0, 1] and len(set(ds["run_id"].values.tolist())) == 2
        # the last checkpoint of each run (epoch 2), its epoch kept per run
        assert ds["final_epoch"].values.tolist() == [2, 2] and "checkpoint" not in ds["activity"].dims
    runs = pd.read_csv(tmp_path / "combined" / "runs.csv")
    assert sorted(runs["test_accuracy"]) == [0.5, 0.6]


@needs_distributed
def test_existing_scheduler_address(tmp_path):
    """--scheduler tcp://...: the sweep connects to a running scheduler and leaves it running afterwards."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        addr = cluster.scheduler_address
        assert addr.startswith("tcp://") or addr.startswith("inproc://")
        res = run_sweep(SWEEP, tmp_path, scheduler=addr, make_config=fake_make_config, train_fn=fake_train,
                        progress=False, echo=lambda m: None)
        assert res.ok and len(res.done) == 6
        assert cluster.status.name == "running"  # not closed by the sweep
