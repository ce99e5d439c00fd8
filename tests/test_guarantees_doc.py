"""docs/guarantees.md names, for every guarantee, tests that exist: each ``file.py::name`` it cites is a test
function (or a pattern matching one) of that file under tests/."""

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITE = re.compile(r"`((?:[\w]+/)*test_\w+\.py)?(?:::([\w*\[\]-]+))?`")


def cited_tests(text: str) -> list[tuple[str, str | None]]:
    """``(file, name or None)`` for every cited test; ``::name`` alone refers to the last file cited before it."""
    out, last = [], None
    for m in CITE.finditer(text):
        path, name = m.group(1), m.group(2)
        if path is None and name is None:
            continue
        last = path or last
        if last is not None:
            out.append((last, name))
    return out


def test_the_citation_reader_follows_the_text():
    text = "`robustness/test_lock.py`, `cli/test_cli_errors.py::test_a`, `::test_b_*` and `x.py`"
    assert cited_tests(text) == [("robustness/test_lock.py", None), ("cli/test_cli_errors.py", "test_a"),
                                 ("cli/test_cli_errors.py", "test_b_*")]


def test_every_cited_test_exists():
    cites = cited_tests((ROOT / "docs" / "guarantees.md").read_text(encoding="utf-8"))
    assert len(cites) > 50
    missing = []
    for path, name in cites:
        f = ROOT / "tests" / path
        if not f.is_file():
            missing.append(path)
            continue
        if name:
            defs = re.findall(r"^(?:async )?def (test_\w+)", f.read_text(encoding="utf-8"), re.M)
            if not fnmatch.filter(defs, name.split("[")[0]):
                missing.append(f"{path}::{name}")
    assert not missing, f"docs/guarantees.md cites tests that do not exist: {missing}"
