"""What `ensembles reproduce` reads back is what was written: every edited, truncated or incomplete run is named
(never used or dropped silently); a damaged statistics cache is recomputed from its run."""

from __future__ import annotations

import json
import shutil

import pytest

from ensembles.errors import DataFileError
from ensembles.integrity import run_state, stats_cache_valid, write_stats_cache
from ensembles.layout import ReproductionLayout, SweepLayout

pytest.importorskip("torch")


def _reproduction(tmp_path, finished, n=2):
    """OUT/sweeps/baseline with ``n`` copies of a finished tiny run, listed in its sweep manifest."""
    out = tmp_path / "repro"
    lay = SweepLayout(out / "sweeps" / "baseline")
    names = [f"ff-digits-s{i}-0000000{i}" for i in range(n)]
    for name in names:
        shutil.copytree(finished, lay.run(name).root)
    lay.manifest.write_text(json.dumps({"name": "baseline", "runs": [{"dir": f"runs/{n}"} for n in names]}))
    return out, lay, names


def _finished_runs(out, notes=None):
    from ensembles.layout import ReproductionLayout
    from ensembles.reproduction.workflow import _finished_runs

    return _finished_runs(ReproductionLayout(out), echo=(notes.append if notes is not None else lambda m: None))


def _set_json(path, key, value):
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data, indent=1))


def _replace_in(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _flip_byte(path, at=-10):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


# each edit: what a user, a tool or a failing disk may do to a finished run; all must be named
EDITS = {
    "metrics_accuracy_edited": lambda r: _set_json(r / "metrics.json", "test_accuracy", 0.99),
    "metrics_key_added": lambda r: _set_json(r / "metrics.json", "note", "x"),
    "metrics_whitespace_appended": lambda r: r.joinpath("metrics.json").write_text(
        r.joinpath("metrics.json").read_text() + " "),
    "metrics_truncated": lambda r: r.joinpath("metrics.json").write_bytes(r.joinpath("metrics.json").read_bytes()[:20]),
    "metrics_emptied": lambda r: r.joinpath("metrics.json").write_bytes(b""),
    "metrics_deleted": lambda r: r.joinpath("metrics.json").unlink(),
    "metrics_garbage": lambda r: r.joinpath("metrics.json").write_bytes(b"\x00\xff garbage"),
    "config_seed_edited": lambda r: _replace_in(r / "config.toml", "seed = 2", "seed = 3"),
    "config_deleted": lambda r: r.joinpath("config.toml").unlink(),
    "config_comment_added": lambda r: r.joinpath("config.toml").write_text(
        r.joinpath("config.toml").read_text() + "# note\n"),
    "history_byte_flipped": lambda r: _flip_byte(r / "history.json", at=40),
    "history_deleted": lambda r: r.joinpath("history.json").unlink(),
    "weights_byte_flipped": lambda r: _flip_byte(r / "weights.npz"),
    "weights_truncated": lambda r: r.joinpath("weights.npz").write_bytes(r.joinpath("weights.npz").read_bytes()[:100]),
    "weights_deleted": lambda r: r.joinpath("weights.npz").unlink(),
    "done_deleted": lambda r: r.joinpath("DONE").unlink(),
    "done_emptied": lambda r: r.joinpath("DONE").write_text(""),
    "done_garbage": lambda r: r.joinpath("DONE").write_text("{not json"),
    "done_checksum_edited": lambda r: _replace_in(r / "DONE", '"metrics.json": "', '"metrics.json": "0'),
    "done_time_edited": lambda r: _replace_in(r / "DONE", '"finished": "', '"finished": "1'),
    "done_a_list": lambda r: r.joinpath("DONE").write_text("[1, 2]"),
    "metrics_and_done_resealed_by_hand": lambda r: (
        _set_json(r / "metrics.json", "test_accuracy", 0.99),
        _replace_in(r / "DONE", '"files"', '"filez"')),
}


def test_an_untouched_reproduction_is_verified_and_used(tmp_path, finished):
    out, lay, names = _reproduction(tmp_path, finished)
    assert run_state(lay.run(names[0]).root) == ("ok", "verified")
    assert [d.name for _, d in _finished_runs(out)] == names


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edited_run_is_named_by_analyze_only(tmp_path, finished, edit):
    out, lay, names = _reproduction(tmp_path, finished)
    EDITS[edit](lay.run(names[1]).root)
    with pytest.raises(DataFileError, match=rf"damaged: baseline/{names[1]} \(") as err:
        _finished_runs(out)
    assert names[0] not in str(err.value) and "\n" not in str(err.value)


def test_a_run_still_training_is_named_and_left_out(tmp_path, finished):
    out, lay, names = _reproduction(tmp_path, finished)
    run = lay.run(names[1]).root
    for name in ("DONE", "metrics.json", "recording.h5", "weights.npz", "history.json"):
        (run / name).unlink()
    notes: list[str] = []
    assert [d.name for _, d in _finished_runs(out, notes)] == [names[0]]
    assert len(notes) == 1 and names[1] in notes[0] and "not finished" in notes[0]


def test_a_run_of_an_earlier_version_is_used_with_a_note(tmp_path, finished):
    out, lay, names = _reproduction(tmp_path, finished)
    (lay.run(names[0]).root / "DONE").write_text("2025-01-01T00:00:00Z\n")
    notes: list[str] = []
    assert len(_finished_runs(out, notes)) == 2
    assert len(notes) == 1 and "earlier version" in notes[0]


@pytest.mark.parametrize("manifest", ["{not json", "[1, 2]", '{"runs": 3}', '{"runs": [{"dir": 5}]}',
                                      '{"runs": [{"dir": ["runs/x"]}]}', '{"runs": [{"dir": "runs/a\\u0000b"}]}',
                                      '{"runs": [{"dir": "../../x"}]}', '{"runs": [{"nodir": 1}]}'])
def test_an_invalid_sweep_manifest_is_one_line(tmp_path, finished, manifest):
    out, lay, _ = _reproduction(tmp_path, finished, n=1)
    lay.manifest.write_text(manifest)
    with pytest.raises(DataFileError, match="sweep manifest") as err:
        _finished_runs(out)
    assert "\n" not in str(err.value)


def test_a_damaged_statistics_cache_is_recomputed_from_its_run(tmp_path, finished, monkeypatch):
    import ensembles.reproduction.workflow as wf

    out, lay, names = _reproduction(tmp_path, finished, n=3)
    calls: list[str] = []

    def job(run_dir, cond):  # stands in for the statistics of a run (what matters: which runs are recomputed)
        calls.append(run_dir)
        return [{"model": "ff", "seed": 2, "layer": 1, "statistic": "s", "value": 0.25}], {"significant_l1": None}

    def job_v2(run_dir, cond, reference):  # the protocol-v2 statistics of the same runs, cached beside
        return [{"model": "ff", "seed": 2, "layer": 1, "statistic": "v2", "value": 0.5}], {"reference": None}

    monkeypatch.setattr(wf, "_run_statistics_job", job)
    monkeypatch.setattr(wf, "_run_statistics_v2_job", job_v2)
    rl = ReproductionLayout(out)
    runs = _finished_runs(out)
    wf._analyze_uncached(rl, runs, n_jobs=1, echo=lambda m: None)
    assert len(calls) == 3
    wf._analyze_uncached(rl, runs, n_jobs=1, echo=lambda m: None)
    assert len(calls) == 3  # valid caches are reused
    caches = [rl.stats_cache("baseline", d.name) for _, d in runs]
    assert all(stats_cache_valid(c, e, d) for (c, e), (_, d) in zip(caches, runs, strict=True))
    _replace_in(caches[0][0], "0.25", "0.35")            # an edited value
    caches[1][1].write_text("garbage")                   # garbage extras
    calls.clear()
    wf._analyze_uncached(rl, runs, n_jobs=1, echo=lambda m: None)
    assert sorted(calls) == sorted(str(d) for _, d in runs[:2])
    assert "0.25" in caches[0][0].read_text()


def test_a_cache_written_for_another_state_of_its_run_is_not_valid(tmp_path, finished):
    out, lay, names = _reproduction(tmp_path, finished, n=1)
    run = lay.run(names[0]).root
    cache, extras = tmp_path / "c.csv", tmp_path / "c.json"
    write_stats_cache(cache, extras, "a,b\n1,2\n", {"x": [1.5, float("nan")]}, run)
    assert stats_cache_valid(cache, extras, run)
    (run / "DONE").write_text((run / "DONE").read_text() + " ")
    assert not stats_cache_valid(cache, extras, run)


def test_resuming_a_finished_run_verifies_it(tmp_path, finished):
    from ensembles.train import train_run

    from ._train_helpers import tiny_config

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    _set_json(run / "metrics.json", "test_accuracy", 0.99)
    with pytest.raises(DataFileError, match="is damaged: metrics.json changed"):
        train_run(tiny_config(), run, progress=False, resume=True)
