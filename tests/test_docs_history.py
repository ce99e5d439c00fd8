"""The shipped documentation speaks of the toolkit, not of its making.

README.md, docs/**/*.md, the notebooks (notebooks/*.py, notebooks/*.md) and the package's source (comments and
docstrings of src/ensembles) must not mention development sessions,
issue numbers ("#15", "issue 14") or commit hashes as history ("at commit 3100a60"), nor phrases that only make sense
to someone who followed the development ("before this change", "since fixed"). History belongs in CHANGELOG.md.

The data files of the committed results directories (docs/results/<name>/runs, logs, tables, manifests) are not
documentation and are not read. "Session" in its neuroscience sense (an NWB session, a recording session) is allowed;
hexadecimal numbers that are not commit hashes of this repository (a PLoS article number such as e1003553, a colour)
are allowed.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

_PATTERNS = {
    "a development session": re.compile(
        r"\bsessions? \d+\b|\b(?:this|that|previous|earlier|later|next|one) session\b(?! (?:of|from|in|with) )"
        r"|\blent to (?:one|a|this) session\b", re.I),
    "an issue number": re.compile(r"(?<![\w&/#])#\d{1,4}\b|\b(?:issue|issues|PR|pull request)\s+#?\d+\b", re.I),
    "a history phrase": re.compile(r"\bbefore this change\b|\bsince fixed\b|\b(?:it|they|we|which) used to\b", re.I),
}
# a hexadecimal word of 7-40 characters with at least one digit and one letter, not part of a path, URL or DOI
_HEX = re.compile(r"(?<![\w./:-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![\w/-])")
_COMMIT_CONTEXT = re.compile(r"\b(?:commit|commits|revision|rev|at|since|from|to)\s*`?\(?$", re.I)


@cache
def _is_commit(token: str) -> bool:
    """True when ``token`` names a commit of this repository (False without git or outside a checkout)."""
    try:
        r = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{token}^{{commit}}"], capture_output=True,
                           timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def history_mentions(text: str) -> list[str]:
    """Every mention of development history in ``text``: ``"line N: what: the matched text"``."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        for what, pat in _PATTERNS.items():
            found += [f"line {n}: {what}: {m.group(0)!r}" for m in pat.finditer(line)]
        for m in _HEX.finditer(line):
            tok = m.group(0)
            if _is_commit(tok) or _COMMIT_CONTEXT.search(line[:m.start()]):
                found.append(f"line {n}: a commit hash: {tok!r}")
    return found


def _documents() -> list[Path]:
    docs = [ROOT / "README.md", *sorted((ROOT / "notebooks").glob("*.py")), *sorted((ROOT / "notebooks").glob("*.md"))]
    for p in sorted((ROOT / "docs").rglob("*.md")):
        rel = p.relative_to(ROOT / "docs").parts
        if rel[0] == "results" and len(rel) > 2 and rel[2] in ("runs", "logs", "tables", "figures"):
            continue  # data files of a committed results directory
        docs.append(p)
    return [p for p in docs if p.is_file()]


def test_the_documents_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in _documents()}
    assert {"README.md", "docs/methods.md", "docs/reproduction.md", "docs/results/mnist-5k.md"} <= names
    assert any(n.startswith("notebooks/") and n.endswith(".py") for n in names)


@pytest.mark.parametrize("sentence, what", [
    ("Measured in session 5 on the idle machine.", "a development session"),
    ("The demo took 5 min 33 s (measured this session).", "a development session"),
    ("Run once on an H200 lent to one session.", "a development session"),
    ("The FF fast path of issue #15 is faster.", "an issue number"),
    ("See #14 for the targets.", "an issue number"),
    ("The targets of issue 14 are met.", "an issue number"),
    ("It segfaulted before this change.", "a history phrase"),
    ("A misleading message, since fixed.", "a history phrase"),
    ("Statistics it used to compute itself.", "a history phrase"),
    ("5 min 27 s at commit 3b9e23d, same numbers.", "a commit hash"),
    ("committed at `aed6282f`, 13:33", "a commit hash"),
])
def test_the_checker_finds_planted_history(sentence, what):
    got = history_mentions(f"Some text.\n{sentence}\n")
    assert got and all(g.startswith("line 2: ") for g in got) and any(f": {what}: " in g for g in got), got


@pytest.mark.parametrize("sentence", [
    "Import an NWB session: ensembles import-nwb session.nwb --out session.h5.",
    "Spike counts of one session of the Allen Brain Observatory; recording sessions of 30 minutes.",
    "See [Reproducing the paper](#reproducing-the-paper) and section 5.",
    "Nili, H. et al. (2014). PLoS Comput Biol 10:e1003553.",
    "Colours #1f77b4 and #ff7f0e; figure 3a; checksum deadbeef (not a word with digits).",
    "A network is used to compute the features; the data used to fit it.",
    "https://doi.org/10.1371/journal.pcbi.1003553 and data/abc1234def/file",
])
def test_the_checker_leaves_ordinary_text_alone(sentence):
    assert history_mentions(sentence) == []


def test_a_real_commit_hash_is_found_without_context():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip()
    if not re.fullmatch(r"[0-9a-f]{7}", head) or head.isdigit() or not re.search(r"[0-9]", head):
        pytest.skip("no git checkout (or a HEAD hash without both digits and letters)")
    assert history_mentions(f"The numbers equal those of {head}.") == [f"line 1: a commit hash: {head!r}"]


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shipped_documents_have_no_development_history(path):
    found = history_mentions(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} mentions development history (move it to CHANGELOG.md): {found}"


_CODE_PATTERNS = {k: _PATTERNS[k] for k in ("a development session", "a history phrase")} | {
    "an issue number": re.compile(r"\b(?:issue|issues|PR|pull request)\s+#?\d+\b", re.I)}  # "#222" is a colour


def code_history_mentions(text: str) -> list[str]:
    """:func:`history_mentions` for source code: a ``#`` followed by digits is a colour or a comment there."""
    return [f"line {n}: {what}: {m.group(0)!r}" for n, line in enumerate(text.splitlines(), 1)
            for what, pat in _CODE_PATTERNS.items() for m in pat.finditer(line)]


def test_the_code_checker_finds_planted_history_and_leaves_colours_alone():
    assert code_history_mentions("x = 1\n# measured in session 5 (issue #8)\n") == [
        "line 2: a development session: 'session 5'", "line 2: an issue number: 'issue #8'"]
    assert code_history_mentions("CSS = 'color:#222;background:#444'  # an NWB session\n") == []


@pytest.mark.parametrize("path", sorted((ROOT / "src" / "ensembles").rglob("*.py")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_package_source_has_no_development_history(path):
    found = code_history_mentions(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} mentions development history (move it to CHANGELOG.md): {found}"
