"""The import graph of ``ensembles``: no import circles, and each part imports only the parts below it.

The graph is read from the source (every ``import`` statement, at module level or inside a function), so a circle
hidden by a deferred or bottom-of-file import is found too.  The layers (docs/architecture.md)::

    commands, cli                                    (top: the command line)
    workflows                                        compositions: sources -> tables -> figures -> results
    report | sweep | plot | train | io               rendering, sweeps, figures, training, interop
    analysis                                         statistics (numpy/xarray; never torch)
    record | data | models                           recordings, datasets, networks
    layout, history, layerweights, _io, _lock, errors, conventions, _validation   (bottom)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ensembles"

# modules allowed to re-export an API from above their own layer (none)
SHIMS: set[str] = set()

# part -> parts it must not import
FORBIDDEN = {
    "bottom": {"record", "data", "models", "analysis", "plot", "report", "sweep", "train", "io", "workflows",
               "commands", "cli"},
    "analysis": {"plot", "report", "sweep", "train", "workflows", "commands", "cli", "models"},
    "record": {"analysis", "plot", "report", "sweep", "train", "workflows", "commands", "cli"},
    "plot": {"report", "sweep", "train", "workflows", "commands", "cli"},
    "report": {"workflows", "sweep", "train", "commands", "cli", "analysis", "plot"},
    "sweep": {"workflows", "report", "commands", "cli", "plot"},
    "workflows": {"commands", "cli"},
}
BOTTOM = {"layout", "history", "layerweights", "_io", "_lock", "errors", "conventions", "_validation"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ensembles.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("ensembles"):
                continue
            for a in node.names:  # "from ensembles.x import y": y may be a submodule
                sub = f"{mod}.{a.name}"
                out.add(sub if (SRC.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (SRC.parent / sub.replace(".", "/")).is_dir() else mod)
    out.discard("ensembles")  # ``from ensembles import __version__``
    return {m for m in out if m != name}


def graph() -> dict[str, set[str]]:
    mods = {_module_name(p): p for p in SRC.rglob("*.py")}
    return {m: {i for i in _imports(p, m) if i in mods} for m, p in mods.items()}


def _part(mod: str) -> str:
    parts = mod.split(".")
    if len(parts) < 2:
        return "root"
    return "bottom" if parts[1] in BOTTOM else parts[1]


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read():
    g = graph()
    assert "ensembles.workflows.analyze" in g and "ensembles.analysis.tables" in g["ensembles.workflows.compute"]
    # a deferred import inside a function counts: the sweep runner combines at the end of a sweep
    assert "ensembles.sweep.combine" in g["ensembles.sweep.runner"]


def test_no_import_circles():
    g = {m: deps - SHIMS for m, deps in graph().items() if m not in SHIMS}
    # package __init__ modules re-export their submodules; a submodule importing its own package's __init__ would
    # close a circle through it, so those edges are kept
    assert _cycles(g) == []


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layers(part):
    bad = [(m, d) for m, deps in graph().items() if _part(m) == part and m not in SHIMS
           for d in deps if _part(d) in FORBIDDEN[part]]
    assert bad == []
