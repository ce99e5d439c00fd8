"""Shared by the before/after benchmarks: an older revision's ``src`` tree, extracted with ``git archive``."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def extract_src(rev: str, into: str | Path) -> str:
    """Extract ``src/`` of git revision ``rev`` of this repository into ``into``; return the path for PYTHONPATH."""
    arch = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=arch, check=True)
    return str(Path(into) / "src")


def short_rev(rev: str) -> str:
    """The abbreviated commit id of ``rev``."""
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True,
                          text=True).stdout.strip()
