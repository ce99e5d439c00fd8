"""scripts/install.sh refuses a ``.venv`` left unusable by a failed creation and names the fix (run on a copy of
the script; nothing is installed: the script stops before pip runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _base_python() -> str:
    """An interpreter that is not a virtual environment (the script would link an active one instead)."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter")
    return str(base)


def _install(tmp_path: Path, python: str) -> subprocess.CompletedProcess:
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(ROOT / "scripts" / "install.sh", tmp_path / "scripts" / "install.sh")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    return subprocess.run(["bash", "scripts/install.sh"], cwd=tmp_path, env={**env, "PYTHON": python},
                          capture_output=True, text=True, timeout=120)


def test_venv_without_pip_is_detected(tmp_path):
    venv.create(tmp_path / ".venv", with_pip=False, symlinks=True)  # what a missing python3-venv leaves behind
    proc = _install(tmp_path, _base_python())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ".venv is unusable: its Python has no pip" in proc.stderr
    assert "Fix: rm -rf .venv" in proc.stderr and "python3-venv" in proc.stderr
    assert "No module named pip" not in proc.stdout + proc.stderr


def test_venv_without_python_is_detected(tmp_path):
    (tmp_path / ".venv").mkdir()
    proc = _install(tmp_path, _base_python())
    assert proc.returncode == 2 and "it has no .venv/bin/python" in proc.stderr and "rm -rf .venv" in proc.stderr


def test_failed_creation_leaves_no_venv_and_names_the_fix(tmp_path):
    fake = tmp_path / "python-without-venv"
    fake.write_text(f"""#!/bin/bash
if [[ "$1" == "-m" && "$2" == "venv" ]]; then
  mkdir -p "$3/bin"; ln -sf {_base_python()} "$3/bin/python"
  echo "The virtual environment was not created successfully because ensurepip is not available." >&2; exit 1
fi
exec {_base_python()} "$@"
""")
    fake.chmod(0o755)
    proc = _install(tmp_path, str(fake))
    assert proc.returncode == 2
    assert "[1/4] Python environment: creating .venv" in proc.stdout
    assert "sudo apt install python3-venv" in proc.stderr
    assert not (tmp_path / ".venv").exists(), "the partial .venv is removed"
