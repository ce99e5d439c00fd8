"""One command-line vocabulary, and plans a user can schedule by.

* every command that shows progress takes ``--quiet`` (and none ``--no-progress``); ``--force`` is explained in one
  sentence by each command that has it;
* a mistake on the command line is one line naming the problem and the ``--help`` to read;
* ``datasets --root`` refuses a missing directory; ``sweep --dry-run`` refuses what the run would (an unknown
  dataset, an unknown scheduler) before anything starts;
* ``demo`` and ``reproduce`` print their plan and an estimated duration before they start; the estimate of the
  default runs on the reference machine is checked against their measured durations.
"""

from __future__ import annotations

import argparse

import pytest

from ensembles.cli import build_parser, main

PROGRESS_COMMANDS = ("train", "analyze", "report", "demo", "reproduce", "sweep")


def _options(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: a for a in sub._actions for opt in a.option_strings}


def _one_line(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_progress_flag_is_quiet_everywhere():
    subs = build_parser().subcommands
    for name in PROGRESS_COMMANDS:
        assert "--quiet" in _options(subs[name]), f"{name} has no --quiet"
    for name, sub in subs.items():
        assert "--no-progress" not in _options(sub), f"{name} still has --no-progress"


def test_force_is_one_sentence_per_command():
    subs = build_parser().subcommands
    helps = {name: _options(sub)["--force"].help for name, sub in subs.items() if "--force" in _options(sub)}
    assert set(helps) >= {"train", "analyze", "report", "demo", "reproduce", "sweep", "import-nwb", "export-nwb"}
    for name, text in helps.items():
        assert text and ". " not in text and ";" not in text, f"{name}: --force help {text!r}"


@pytest.mark.parametrize("argv, problem, command", [
    (["train"], "the following arguments are required: CONFIG.toml, --out", "ensembles train"),
    (["trian"], "invalid choice: 'trian'", "ensembles"),
    (["sweep", "s.toml", "--bogus"], "unrecognized arguments: --bogus", "ensembles sweep"),
    (["demo", "--seed", "one"], "argument --seed: invalid int value: 'one'", "ensembles demo"),
    (["export-nwb", "rec.h5", "--out", "x.nwb", "--sex", "X"], "argument --sex: invalid choice", "ensembles export-nwb"),
])
def test_argparse_mistake_is_one_line(capsys, argv, problem, command):
    line = _one_line(capsys, argv)
    assert line.startswith(f"{command}: error: ") and problem in line, line
    assert line.endswith(f"(see '{command} --help')"), line
    assert "usage:" not in line


def test_datasets_root_must_be_a_directory(capsys, tmp_path):
    assert main(["datasets", "--root", str(tmp_path / "nosuchdir")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--root" in err and "does not exist" in err, err
    (tmp_path / "file").write_text("x")
    assert main(["datasets", "--root", str(tmp_path / "file")]) == 2
    assert "is not a directory" in capsys.readouterr().err
    assert main(["datasets", "--root", str(tmp_path)]) == 0  # an existing directory is fine


def _sweep_file(tmp_path, dataset="digits"):
    path = tmp_path / "s.toml"
    path.write_text(f'[sweep]\nname = "s"\nscale = "quick"\n\n[base]\ndataset = "{dataset}"\n\n'
                    '[grid]\nmodel = ["ff", "bp"]\nseed = [0]\n')
    return path


def test_sweep_dry_run_refuses_what_the_run_would(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["sweep", str(_sweep_file(tmp_path, "mnist5k")), "--dry-run", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'data.dataset'" in err and "'mnist5k'" in err and "mnist-5k" in err, err
    assert main(["sweep", str(_sweep_file(tmp_path)), "--dry-run", "--out", str(out), "--scheduler", "slurmm"]) == 2
    assert "'scheduler'" in capsys.readouterr().err
    assert not out.exists(), "nothing is written"
    # the same file with a known dataset passes the dry run
    assert main(["sweep", str(_sweep_file(tmp_path)), "--dry-run", "--out", str(out)]) == 0
    assert "2 runs" in capsys.readouterr().err and not out.exists()


# ------------------------------------------------------------------------------------------------ time estimates
def test_estimates_of_the_default_runs_match_their_measured_durations():
    """On the reference machine (calibration factor 1) the estimates of the default commands are within 15 % of
    their measured wall times on the idle 2-core machine: ``ensembles reproduce`` 25 min 51 s (mnist-5k) and
    56 min 26 s (Fashion-MNIST; docs/results/<dataset>/default-job/time-v.txt), ``ensembles demo`` 5 min 33 s
    (mnist-5k, the measurement in the benchmarks table)."""
    from ensembles.reproduction.train import train_reproduction
    from ensembles.workflows.demo import demo_plan
    from ensembles.workflows.estimate import demo_seconds, reproduction_seconds

    for dataset, measured in (("mnist-5k", 25 * 60 + 51), ("fashion-mnist", 56 * 60 + 26)):
        sweeps = train_reproduction(dataset, "/nonexistent/out", dry_run=True, echo=lambda m: None)
        configs = [r.config for s in sweeps.values() for r in s.runs]
        assert len(configs) == 24
        est = reproduction_seconds(configs, dataset, workers=2)
        assert abs(est / measured - 1) < 0.15, (dataset, est, measured)
        # the learning-rate grid adds about half as much again (docs/reproduction.md)
        more = train_reproduction(dataset, "/nonexistent/out", conditions=("baseline", "held_out", "lr_grid"),
                                  dry_run=True, echo=lambda m: None)
        extra = reproduction_seconds([r.config for s in more.values() for r in s.runs], dataset, workers=2)
        assert 1.3 < extra / est < 1.8, (dataset, extra / est)
    plan = demo_plan("mnist-5k", "cpu", seed=0, held_out=(3,), sweep=True)
    est = demo_seconds(list(plan.values()), "mnist-5k", cores=2)
    assert abs(est / (5 * 60 + 33) - 1) < 0.15, est
    # a run with half the epochs costs about half as much
    from ensembles.train import make_config
    from ensembles.workflows.estimate import run_cpu_seconds

    full, half = make_config("bp", "mnist-5k"), make_config("bp", "mnist-5k", train__epochs=100)
    assert run_cpu_seconds(half) == pytest.approx(run_cpu_seconds(full) / 2)


def test_calibration_measures_this_machine():
    from ensembles.workflows.estimate import calibrate, format_duration

    cal = calibrate(min_seconds=0.1)
    assert cal.seconds >= 0.1 and 0.05 <= cal.factor < 100
    assert "calibration finds this machine" in cal.describe()
    assert [format_duration(s) for s in (42, 330, 3900)] == ["40 s", "6 min", "1 h 05 min"]


@pytest.fixture
def fixed_calibration(monkeypatch):
    from ensembles.workflows import estimate

    monkeypatch.setattr(estimate, "calibrate", lambda *a, **k: estimate.Calibration(factor=2.0, seconds=0.4))


class _Stop(Exception):
    pass


def test_demo_prints_its_plan_before_it_starts(capsys, monkeypatch, tmp_path, fixed_calibration):
    import ensembles.workflows.demo as demo

    seen = {}

    def fake_run_demo(*args, **kwargs):
        seen["stderr"] = capsys.readouterr().err
        raise _Stop

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    with pytest.raises(_Stop):
        main(["demo", "--out", str(tmp_path / "demo")])
    err = seen["stderr"]
    assert "plan: 4 training run(s) (ff, bp_ff, bp, ff_heldout), then the analysis" in err
    with pytest.raises(_Stop):
        main(["demo", "--out", str(tmp_path / "demo"), "--sweep"])
    assert "plan: 10 training run(s) (ff, bp_ff, bp, ff_heldout, sweep_" in seen["stderr"]
    assert "estimated duration on this machine: about" in err and "an estimate" in err
    assert "2.0x slower" in err
    with pytest.raises(_Stop):
        main(["demo", "--out", str(tmp_path / "demo"), "--quiet"])
    assert seen["stderr"] == ""


def test_reproduce_dry_run_prints_plan_and_estimate(capsys, tmp_path, fixed_calibration):
    assert main(["reproduce", "--dry-run", "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr()
    text = err.out + err.err
    assert "plan: 24 training run(s) on" in text and "estimated duration on this machine: about" in text
    assert not (tmp_path / "rep").exists()
