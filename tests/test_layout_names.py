"""Every name of a file the toolkit writes is spelled in ``ensembles.layout`` (or, for the lock and ownership marker
it builds on, in ``ensembles._lock``): a string constant elsewhere that is a file name is a second spelling."""

import ast
import re
from pathlib import Path

import ensembles

ROOT = Path(ensembles.__file__).parent
NAMING_MODULES = {"layout.py", "_lock.py"}
# (module, literal): why the literal is not the name of a file the toolkit writes
NOT_WRITTEN = {
    ("analysis/cortex/reference.py", "cortex_reference.csv"): "package data, read with importlib.resources",
    ("commands/import_nwb.py", "rec.h5"): "an example name in the message for --out naming a directory",
    ("commands/export_nwb.py", "rec.nwb"): "an example name in the message for --out naming a directory",
}
_FILE = re.compile(r"^(?!ensembles\.)[\w/<>{}-]+(\.[\w]+)*\.(csv|json|md|html|h5|toml|npz|pt|png|svg|txt|nwb)$")


def file_name_literals(source: str) -> list[tuple[int, str]]:
    """String constants (docstrings excluded) that are file names; metavars such as ``REC.h5`` are not."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and _FILE.match(node.value) and not node.value.split(".")[0].isupper()]


def test_the_checker_finds_a_planted_file_name():
    src = '"""Writes tables/claims.csv."""\nX = "tables/claims.csv"\nY = "REC.h5"\nZ = f(a, "timing.json")\n'
    assert file_name_literals(src) == [(2, "tables/claims.csv"), (4, "timing.json")]


def test_no_file_name_is_spelled_outside_the_layout():
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        if rel in NAMING_MODULES:
            continue
        hits = [(line, lit) for line, lit in file_name_literals(path.read_text(encoding="utf-8"))
                if (rel, lit) not in NOT_WRITTEN]
        if hits:
            found[rel] = hits
    assert not found, f"name these files in ensembles.layout: {found}"
