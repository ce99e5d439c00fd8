"""Checkpoints are verified whenever they are read: a damaged, truncated, foreign or malformed checkpoint is a
clear error naming the file, never a silent load (issue #11, items 3, 7, 9)."""

from __future__ import annotations

import re
import shutil
import zipfile

import numpy as np
import pytest

from ensembles.errors import DataFileError

from ._train_helpers import (
    interrupted_run,
    main_in_process,
    one_line_error,
    tiny_config,
    write_tiny_toml,
)

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        # bitwise equality (NaN payloads and signed zeros included)
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.shape == b.shape and a.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
                == b.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and (a == b or (a != a and b != b))


def test_100_random_bit_flips_never_load_silently(finished, tmp_path, rng):
    """100 random single-bit flips (50 in resume.pt, 50 in a per-epoch model file): every load either raises
    DataFileError naming the file or returns exactly the original contents.  Without verification (torch.load
    alone) 14 of 14 flips in resume.pt loaded with changed tensors (issue #11)."""
    from ensembles.train.checkpoints import load_checkpoint

    counts = {"error": 0, "identical": 0, "changed": 0}
    changed = []
    for name, kind in (("resume.pt", "resume"), ("model_epoch0002.pt", "model")):
        src = finished / "checkpoints" / name
        original = load_checkpoint(src, kind=kind)
        data = src.read_bytes()
        for i in range(50):
            pos = int(rng.integers(len(data)))
            bit = int(rng.integers(8))
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            path = tmp_path / f"{i}_{name}"
            path.write_bytes(bytes(bad))
            try:
                got = load_checkpoint(path, kind=kind)
            except DataFileError as err:
                assert str(path) in str(err)
                counts["error"] += 1
                continue
            if _same(got, original):
                counts["identical"] += 1
            else:
                counts["changed"] += 1
                changed.append((name, pos, bit))
    print("bit flips in checkpoints:", counts)
    assert counts["changed"] == 0, changed
    assert counts["error"] >= 90, counts  # measured: nearly all flips hit data or metadata that is checked


def _interrupted_run(tmp_path, monkeypatch):
    """A run interrupted after epoch 2 (resume.pt at epoch 2, model_epoch0002.pt recorded)."""
    return interrupted_run(tmp_path / "run", monkeypatch, after_epoch=2)


def test_a_changed_weight_in_a_replayed_model_file_is_refused(tmp_path, monkeypatch):
    """One float changed in model_epoch0002.pt (with the zip CRCs rewritten to match, so only the content checksum
    can tell): the resume that replays it into the recording stops naming the file; nothing is marked complete.
    Before, the replayed checkpoint's accuracy silently fell from 0.687 to 0.099 (issue #11)."""
    from ensembles.train import train_run
    from ensembles.train.checkpoints import INTEGRITY_KEY

    out = _interrupted_run(tmp_path, monkeypatch)
    path = out / "checkpoints" / "model_epoch0002.pt"
    blob = torch.load(path, weights_only=True)
    assert INTEGRITY_KEY in blob
    w = blob["state_dict"]["layers.0.linear.weight"]
    w[3, 5] = w[3, 5] * -1000.0
    torch.save(blob, path)  # a valid zip with its stale checksum entry
    with pytest.raises(DataFileError, match=r"model_epoch0002\.pt.*SHA-256 of its contents"):
        train_run(tiny_config(), out, progress=False, resume=True)
    assert not (out / "DONE").exists() and not (out / "recording.h5").exists()
    assert (out / "checkpoints" / "resume.pt").exists()  # the run is still there to be repaired


def test_a_flipped_byte_in_resume_pt_is_refused_by_the_command_line(tmp_path, monkeypatch, capsys):
    out = _interrupted_run(tmp_path, monkeypatch)
    path = out / "checkpoints" / "resume.pt"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:  # a byte inside the largest tensor (a weight matrix)
        info = max(zf.infolist(), key=lambda i: i.file_size)
    h = info.header_offset  # local file header: name and extra-field lengths at bytes 26..29
    start = h + 30 + int.from_bytes(data[h + 26:h + 28], "little") + int.from_bytes(data[h + 28:h + 30], "little")
    data[start + info.file_size // 2] ^= 0x10
    path.write_bytes(bytes(data))
    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(out), "--resume", "--quiet"))
    assert "resume.pt" in msg and "CRC-32" in msg and "--force" in msg
    assert not (out / "DONE").exists()


@pytest.mark.parametrize("content, match", [
    ({}, r"not an ensembles resume checkpoint: it lacks 'epoch'"),
    ([1, 2, 3], r"holds a list, not a dict"),
    ("truncate", r"not a readable checkpoint \(truncated or corrupt"),
    ("empty", r"is empty"),
    ("foreign", r"does not belong to the run of .*config\.toml.*size mismatch for layers\.0\."),
])
def test_malformed_resume_checkpoints_give_one_clear_line(tmp_path, monkeypatch, capsys, content, match):
    """`{}` used to give "error: model", a list "list indices must be integers...", a truncated file "[Errno 22]
    Invalid argument" and another architecture's checkpoint a size-mismatch traceback (issue #11)."""
    out = _interrupted_run(tmp_path, monkeypatch)
    path = out / "checkpoints" / "resume.pt"
    if content == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "empty":
        path.write_bytes(b"")
    elif content == "foreign":  # the resume.pt of a run with another architecture
        other = interrupted_run(tmp_path / "other", monkeypatch, after_epoch=1,
                                config=tiny_config(**{"network.hidden": [8, 8]}))
        shutil.copy(other / "checkpoints" / "resume.pt", path)
    else:
        torch.save(content, path)
    cfg = write_tiny_toml(tmp_path / "c.toml")
    msg = one_line_error(main_in_process(capsys, "train", str(cfg), "--out", str(out), "--resume", "--quiet"))
    assert "resume.pt" in msg
    assert re.search(match, msg), msg


def test_load_model_verifies_the_final_model(finished, tmp_path):
    from ensembles.train import load_model

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    model, _ = load_model(run)
    path = run / "checkpoints" / "model.pt"
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["layers.1.linear.bias"][0] += 1.0
    torch.save(blob, path)
    with pytest.raises(DataFileError, match=r"model\.pt.*SHA-256"):
        load_model(run)


def test_checkpoints_of_earlier_versions_still_load(finished, tmp_path):
    """Checkpoints written before checksums existed (plain torch.save, no `_integrity` entry) load after their zip
    CRCs are checked, so runs in progress can be resumed and finished runs analysed."""
    from ensembles.train import load_model
    from ensembles.train.checkpoints import INTEGRITY_KEY, load_checkpoint

    run = tmp_path / "run"
    shutil.copytree(finished, run)
    path = run / "checkpoints" / "model.pt"
    blob = torch.load(path, weights_only=True)
    blob.pop(INTEGRITY_KEY)
    torch.save(blob, path)
    got = load_checkpoint(path, kind="model")
    assert _same(got, blob)
    model, _ = load_model(run)
    ref, _ = load_model(finished)
    for a, b in zip(model.state_dict().values(), ref.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_full_disk_while_saving_a_checkpoint_is_one_line(tmp_path):
    """A write limit (RLIMIT_FSIZE, like a full disk) hit by torch.save: one line naming the checkpoint (torch's
    RuntimeError used to escape as a traceback), and the fresh run leaves nothing behind."""
    import subprocess
    import sys
    import textwrap

    cfg = write_tiny_toml(tmp_path / "c.toml")
    out = tmp_path / "run"
    code = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from ensembles.cli import main
        import torch  # imported before the limit (its own files are read, not written)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30000, 30000))
        sys.exit(main(["train", {str(cfg)!r}, "--out", {str(out)!r}, "--quiet",
                       "--set", "record.enabled=false"]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    msg = one_line_error(proc)
    assert "Cannot write the checkpoint" in msg and "resume.pt" in msg and "disk space" in msg
    assert not out.exists()
    assert np.isfinite(1.0)
