"""Exclusive output directories (ensembles._lock): one writer at a time, no writing over foreign files."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from ensembles._lock import LOCK_NAME, MARKER_NAME, claim_output_dir, dir_in_use
from ensembles.errors import OutputDirError

_HOLD = textwrap.dedent("""
    import sys, time
    from ensembles._lock import claim_output_dir
    claim = claim_output_dir(sys.argv[1], command="analyze")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    {finish}
""")


def _holder(path, seconds, finish="claim.release()"):
    proc = subprocess.Popen([sys.executable, "-c", _HOLD.format(finish=finish), str(path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    proc = _holder(out, 30)
    try:
        assert dir_in_use(out)
        with pytest.raises(OutputDirError, match=rf"in use by pid {proc.pid} on .*ensembles analyze"):
            claim_output_dir(out, command="analyze")
    finally:
        proc.kill()
        proc.wait()
    # the kernel released the flock of the killed holder: the directory is free, and the crash is reported
    assert not dir_in_use(out)
    with claim_output_dir(out, command="analyze") as claim:
        note = claim.note_stale()
    assert note is not None and f"pid {proc.pid}" in note and "stopped without finishing" in note


def test_clean_release_is_not_stale(tmp_path):
    out = tmp_path / "out"
    proc = _holder(out, 0)
    proc.wait()
    with claim_output_dir(out, command="analyze") as claim:
        assert claim.note_stale() is None
    assert json.loads((out / LOCK_NAME).read_text().splitlines()[-1])["released"]


def test_foreign_files_are_refused_unless_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "recording.h5").write_bytes(b"user data")
    with pytest.raises(OutputDirError, match=r"did not write \(e\.g\. 'recording\.h5'\).*--force"):
        claim_output_dir(out, command="train")
    assert not (out / LOCK_NAME).exists()  # the refusal wrote nothing
    claim_output_dir(out, command="train", force=True).release()
    assert json.loads((out / MARKER_NAME).read_text())["command"] == "train"


def test_own_directory_is_reused_and_other_commands_refused(tmp_path):
    out = tmp_path / "run"
    with claim_output_dir(out, command="train"):
        (out / "metrics.json").write_text("{}")
    claim_output_dir(out, command="train").release()  # resuming its own directory
    with pytest.raises(OutputDirError, match="written by 'ensembles train', not by 'ensembles analyze'"):
        claim_output_dir(out, command="analyze")
    claim_output_dir(out, command="analyze", family=("train",)).release()


def test_a_file_is_not_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputDirError, match="is not a directory"):
        claim_output_dir(f, command="analyze")


def test_many_concurrent_claims_exactly_one_wins(tmp_path):
    out = tmp_path / "race"
    code = textwrap.dedent("""
        import sys, time
        from ensembles._lock import claim_output_dir
        from ensembles.errors import OutputDirError
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
        try:
            c = claim_output_dir(sys.argv[1], command="analyze")
        except OutputDirError:
            print("refused"); sys.exit(0)
        print("won", flush=True); time.sleep(6); c.release()
    """)
    start = time.time() + 2.0  # all four importing first, then claiming at once
    procs = [subprocess.Popen([sys.executable, "-c", code, str(out), str(start)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(4)]
    outcomes = sorted(p.communicate()[0].strip() for p in procs)
    assert outcomes == ["refused", "refused", "refused", "won"]


def test_the_marker_being_written_by_a_concurrent_claimant_is_not_foreign(tmp_path):
    """While one process writes the ownership marker (under its temporary name), another one looking at the
    directory must see a directory in use, not 'files that ensembles did not write' (found by
    benchmarks/bench_concurrent_train.py: 1 of 10 trials gave that message)."""
    out = tmp_path / "run"
    out.mkdir()
    (out / f".{MARKER_NAME}.abc123.tmp").write_text("{}")
    claim_output_dir(out, command="train").release()
