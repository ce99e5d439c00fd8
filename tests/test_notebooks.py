"""The paper notebooks: sources ``notebooks/NN_*.py`` (jupytext percent format, linted by ruff) paired with
``notebooks/NN_*.ipynb`` (generated from them, committed without outputs).

Checked here: every ``.ipynb`` has the cells of its ``.py`` (so the two cannot drift), carries no outputs, imports
only from the public modules, cites only documents inside the repository (``docs/methods.md`` sections that exist),
and executes top to bottom on the quick setting (``ENSEMBLES_QUICK=1``: ``digits``, scale ``quick``); plus the
notebooks' shared set-up (:mod:`ensembles.workflows.notebook`).

The trained quick runs are shared between the notebooks through ``ENSEMBLES_NOTEBOOK_CACHE`` (one temporary
directory per test session), so each model is trained once; every notebook still trains what it needs when run
alone.  Each notebook runs in its own kernel with ``MPLBACKEND=Agg`` in a temporary working directory.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
SOURCES = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
# notebooks (and README examples) import only from these modules of the package
PUBLIC_MODULES = {"ensembles", "ensembles.analysis", "ensembles.plot", "ensembles.io"}

# A string that must appear in the text outputs of each notebook (a result the notebook exists to show), and
# how many figures it must show as images.  Provenance: the tables/figures each notebook's markdown promises (the
# figures: every cell that draws one).
EXPECTED = {
    "01_training_and_recording.ipynb": (["test_accuracy", "fraction of active neuroids", "epoch"], 3),
    "02_sparseness.ipynb": (["population Hoyer", "paper (MNIST)", "Hoyer at n="], 2),
    "03_ensembles_and_overlap.ipynb": (["size (tau=2)", "mean Jaccard over category ensembles", "rho"], 3),
    "04_selectivity.ipynb": (["median_csi", "n_driven"], 1),
    "05_zero_shot.ipynb": (["held out", "all-classes run"], 1),
    "06_inhibition.ipynb": (["fraction_negative", "fraction_silenced", "FF, no input norm"], 1),
    "07_comparison_with_cortex.ipynb": (["linear CKA", "round trip", "reference_value", "verification"], 2),
}


def _kernel_name() -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:  # pragma: no cover - ipykernel always provides the native python3 kernel
        pytest.skip("no 'python3' Jupyter kernel (pip install ipykernel)")
    return "python3"


def _text_outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _n_figures(nb) -> int:
    """Figures a reader sees: image outputs (a figure shown only as its ``<Figure size ...>`` text is not one)."""
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def _unshown_figures(nb) -> list[int]:
    """Indices of the cells that display a figure as text only (``<Figure size ...>`` with no image)."""
    return [k for k, cell in enumerate(nb.cells) for out in cell.get("outputs", [])
            if "<Figure size" in out.get("data", {}).get("text/plain", "") and "image/png" not in out["data"]]


def _execute(nb, path: Path) -> None:
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=_kernel_name(),
                                     resources={"metadata": {"path": str(path)}})
    client.execute()


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert len(names) >= 6, names
    assert set(names) <= set(EXPECTED), f"add the new notebook to EXPECTED: {set(names) - set(EXPECTED)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {k} has outputs; commit notebooks without outputs"
            assert cell.execution_count is None, f"{path.name} cell {k} has an execution count"


def test_every_notebook_has_its_source():
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS], (
        "every notebooks/NN_*.ipynb is generated from notebooks/NN_*.py (and vice versa)")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_notebook_in_sync_with_source(source):
    """The committed .ipynb holds exactly the cells of its .py source (type and text, in order)."""
    jupytext = pytest.importorskip("jupytext")
    expected = jupytext.read(source, fmt="py:percent")
    committed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    want = [(c.cell_type, c.source) for c in expected.cells]
    got = [(c.cell_type, c.source) for c in committed.cells]
    assert got == want, (f"{source.with_suffix('.ipynb').name} differs from {source.name}; regenerate it with "
                         f"'jupytext --update --to ipynb notebooks/{source.name}'")
    assert committed.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


def test_sync_check_detects_drift(tmp_path):
    """The comparison above fails on an edited cell (a check that cannot pass vacuously)."""
    jupytext = pytest.importorskip("jupytext")
    source = SOURCES[0]
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.source += "\nprint('edited in Jupyter only')"
    expected = jupytext.read(source, fmt="py:percent")
    assert [c.source for c in nb.cells] != [c.source for c in expected.cells]


@pytest.mark.skipif(shutil.which("ruff") is None and importlib.util.find_spec("ruff") is None,
                    reason="ruff not installed")
def test_sources_pass_ruff():
    """The sources are lintable: ``ruff check`` with the repository's configuration (pyproject.toml)."""
    cmd = [shutil.which("ruff")] if shutil.which("ruff") else [sys.executable, "-m", "ruff"]
    res = subprocess.run([*cmd, "check", "--no-cache", *map(str, SOURCES)], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_imports_only_public_modules(source):
    """``ensembles``, ``ensembles.analysis``, ``ensembles.plot`` and ``ensembles.io`` only."""
    private = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                   else [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        private += [m for m in modules if m.split(".")[0] == "ensembles" and m not in PUBLIC_MODULES]
    assert not private, f"{source.name} imports from {sorted(set(private))}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_cites_only_documents_in_the_repository(source):
    """No outside design documents; every cited section of docs/methods.md exists."""
    text = source.read_text(encoding="utf-8")
    for outside in ("paper-spec", "neuro-methods", "style.md", "../shared", "shared/reference"):
        assert outside.lower() not in text.lower(), f"{source.name} cites {outside!r}, a document outside the repo"
    sections = set(re.findall(r"^#+ §(\S+)", (ROOT / "docs" / "methods.md").read_text(encoding="utf-8"), re.M))
    cited = re.findall(r"§([A-Z][0-9A-Za-z]*(?:\.[0-9]+)*)", text)
    assert cited, f"{source.name} cites no section of docs/methods.md"
    missing = sorted(set(cited) - sections)
    assert not missing, f"{source.name} cites docs/methods.md sections that do not exist: {missing}"


# ------------------------------------------------------------------------------------- the shared set-up (no training)
def test_notebook_setting_from_environment(monkeypatch, tmp_path):
    from ensembles import notebook_setting

    monkeypatch.setenv("ENSEMBLES_QUICK", "1")
    monkeypatch.setenv("ENSEMBLES_NOTEBOOK_CACHE", str(tmp_path))
    s = notebook_setting()
    assert (s.quick, s.dataset, s.scale, s.cache) == (True, "digits", "quick", tmp_path / "digits-quick")
    assert s.run_dir("ff") == tmp_path / "digits-quick" / "runs" / "ff"
    for off in ("0", ""):
        monkeypatch.setenv("ENSEMBLES_QUICK", off)
        assert (notebook_setting().dataset, notebook_setting().scale) == ("mnist-5k", "cpu")
    monkeypatch.delenv("ENSEMBLES_QUICK")
    monkeypatch.delenv("ENSEMBLES_NOTEBOOK_CACHE")
    s = notebook_setting()
    assert not s.quick and s.cache == Path("results/notebooks") / "mnist-5k-cpu"
    assert str(s) == "dataset mnist-5k, scale cpu, runs cached in " + str(Path("results/notebooks/mnist-5k-cpu"))


def test_notebook_setting_plan_is_the_demo_plan(tmp_path):
    from ensembles import notebook_setting
    from ensembles.workflows import demo_plan

    plan = notebook_setting(quick=True, cache=tmp_path).demo_plan()
    assert list(plan) == ["ff", "bp_ff", "bp"]
    demo = demo_plan("digits", "quick", seed=0, held_out=(), sweep=False)
    assert {k: c.to_dict() for k, c in plan.items()} == {k: c.to_dict() for k, c in demo.items()}


def test_notebook_setting_bad_input(tmp_path):
    from ensembles import notebook_setting
    from ensembles.errors import InputTypeError, ParameterError

    with pytest.raises(InputTypeError, match="'quick'.*bool.*int"):
        notebook_setting(quick=1)
    with pytest.raises(InputTypeError, match="'cache'.*path.*int"):
        notebook_setting(cache=3)
    s = notebook_setting(quick=True, cache=tmp_path)
    for bad in ("", "a/b", "..", 3):
        with pytest.raises(ParameterError, match="'name'"):
            s.run_dir(bad)
    with pytest.raises(ParameterError, match="'names'.*'ff'"):
        s.train({"ff": None}, names={})
    with pytest.raises(InputTypeError, match="'configs'.*mapping.*list"):
        s.train([])
    assert not (tmp_path / "digits-quick").exists(), "nothing is trained or created on bad input"


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """Quick setting, Agg backend, one thread, and a run cache shared by every notebook of this session."""
    cache = tmp_path_factory.mktemp("notebook_cache")
    env = {"ENSEMBLES_QUICK": "1", "ENSEMBLES_NOTEBOOK_CACHE": str(cache),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    saved = {k: os.environ.get(k) for k in (*env, "MPLBACKEND")}
    os.environ.update(env)  # the kernel inherits the environment of this process
    os.environ.pop("MPLBACKEND", None)  # a fresh kernel as Jupyter starts it (its own default backend), not Agg
    times: dict[str, float] = {}
    yield times
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if times:
        print("\nnotebook execution times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items())
              + f"; total {sum(times.values()):.1f}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, notebook_env, tmp_path):
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        _execute(nb, tmp_path)
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{path.name}: a cell raised {err.ename}: {err.evalue}")
    notebook_env[path.name] = time.perf_counter() - start
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.get("output_type") == "error"]
            assert not errors, f"{path.name} cell {k}: {errors[0]['ename']}"
    text = _text_outputs(nb)
    needles, n_fig = EXPECTED[path.name]
    for needle in needles:
        assert needle in text, f"{path.name}: expected {needle!r} in the outputs"
    assert not _unshown_figures(nb), (f"{path.name}: cells {_unshown_figures(nb)} show a figure as text, not as an "
                                      "image (the notebook needs '%matplotlib inline' in its first code cell)")
    assert _n_figures(nb) >= n_fig, f"{path.name}: expected at least {n_fig} figure images, got {_n_figures(nb)}"
    assert not list(tmp_path.glob("results")), "the notebooks must cache runs in ENSEMBLES_NOTEBOOK_CACHE"


def test_figure_check_detects_a_figure_shown_as_text(notebook_env, tmp_path):
    """The checks above fail for the right reason: a figure built without pyplot (as ``ensembles.plot`` builds
    them) displays as ``<Figure size ...>`` text in a fresh kernel, and as an image once the cell enables the
    inline backend."""
    draw = "from matplotlib.figure import Figure\nfig = Figure()\nfig.add_subplot().plot([0, 1])\nfig"
    bare = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(draw)])
    inline = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\n" + draw)])
    _execute(bare, tmp_path)
    _execute(inline, tmp_path)
    assert (_unshown_figures(bare), _n_figures(bare)) == ([0], 0)
    assert (_unshown_figures(inline), _n_figures(inline)) == ([], 1)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_notebook_enables_inline_figures(source):
    """Every notebook's first code cell enables the inline backend, so its figures show in any fresh kernel."""
    jupytext = pytest.importorskip("jupytext")
    first = next(c for c in jupytext.read(source, fmt="py:percent").cells if c.cell_type == "code")
    assert "%matplotlib inline" in first.source.splitlines(), f"{source.name}: no '%matplotlib inline' first"


def test_demo_activity_is_the_papers_selection(notebook_env):
    """demo_activity: per model, the last checkpoint's rows of the test presentations whose prediction there equals
    the label (the paper's protocol, docs/methods.md §A3.1), recomputed here from ``predicted`` and ``label``."""
    import numpy as np

    from ensembles import DemoActivity, demo_activity, notebook_setting

    demo = demo_activity()  # the quick setting of notebook_env; reuses the notebooks' cached runs
    assert isinstance(demo, DemoActivity) and demo.setting == notebook_setting()
    assert list(demo.final) == list(demo.recs) == ["FF", "BP/FF", "BP"]
    for name, rec in demo.recs.items():
        last = rec.isel(checkpoint=-1)
        keep = np.flatnonzero(last["predicted"].values == last["label"].values)
        assert 0 < keep.size <= last.sizes["presentation"]
        np.testing.assert_array_equal(demo.final[name].values, last["activity"].values[keep])
        np.testing.assert_array_equal(demo.final[name]["stimulus_id"].values, last["stimulus_id"].values[keep])
        assert f"{name} {keep.size}" in str(demo)
    assert any(demo.final[n].sizes["presentation"] < r.sizes["presentation"] for n, r in demo.recs.items())
