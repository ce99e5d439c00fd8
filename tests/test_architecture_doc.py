"""docs/architecture.md describes the package as it is: its package map names every module, and every package it
names exists."""

import re
from pathlib import Path

import ensembles

ROOT = Path(__file__).resolve().parents[1]
PKG = Path(ensembles.__file__).parent


def _package_map() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index("## Package map"):]
    return section[section.index("```") + 3:section.index("```", section.index("```") + 3)]


def _entries(block: str) -> dict[str, set[str]]:
    """``{package path ("" for the top level): words of its lines}`` from the map's left column."""
    out: dict[str, set[str]] = {}
    current = None
    for line in block.splitlines():
        head = line[:26].strip()
        if head:
            current = "" if head == "(top level)" else head.split("/__init__.py")[0].rstrip("/")
        if current is not None:
            out.setdefault(current, set()).update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", line[26:]))
    return out


def test_every_module_is_in_the_package_map():
    entries = _entries(_package_map())
    missing = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        pkg, stem = "/".join(rel.parts[:-1]), path.stem
        if stem == "__init__" and pkg:
            if pkg not in entries:
                missing.append(f"{pkg}/")
            continue
        if stem not in entries.get(pkg, set()):
            missing.append(str(rel))
    assert not missing, f"docs/architecture.md's package map does not name: {missing}"


def test_every_package_in_the_map_exists():
    for pkg in _entries(_package_map()):
        assert (PKG / pkg).is_dir(), f"docs/architecture.md names {pkg}/, which does not exist"


def test_no_module_is_over_500_lines():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, f"split these modules along a real seam (docs/architecture.md promises <= 500 lines): {long}"
