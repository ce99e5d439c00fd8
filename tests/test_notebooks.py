"""The paper notebooks (``notebooks/NN_*.ipynb``): committed without outputs, equal to their generator, and every
one executes top to bottom on the quick setting (``ENSEMBLES_QUICK=1``: ``digits``, scale ``quick``).

The trained quick runs are shared between the notebooks through ``ENSEMBLES_NOTEBOOK_CACHE`` (one temporary
directory per test session), so each model is trained once; every notebook still trains what it needs when run
alone.  Each notebook runs in its own kernel with ``MPLBACKEND=Agg`` in a temporary working directory.
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))

# A string that must appear in the text outputs of each notebook (a result the notebook exists to show), and
# how many figures it must draw.  Provenance: the tables/figures each notebook's markdown promises.
EXPECTED = {
    "01_training_and_recording.ipynb": (["test_accuracy", "fraction of active neuroids", "epoch"], 2),
    "02_sparseness.ipynb": (["population Hoyer", "paper (MNIST)", "Hoyer at n="], 2),
    "03_ensembles_and_overlap.ipynb": (["size (tau=2)", "mean Jaccard over category ensembles", "rho"], 2),
    "04_selectivity.ipynb": (["median_csi", "n_driven"], 1),
    "05_zero_shot.ipynb": (["held out", "all-classes run"], 1),
    "06_inhibition.ipynb": (["fraction_negative", "fraction_silenced", "FF, no input norm"], 1),
    "07_comparison_with_cortex.ipynb": (["linear CKA", "round trip"], 1),
}


def _load_builder():
    spec = importlib.util.spec_from_file_location("notebooks_build", NB_DIR / "_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    return sum("<Figure size" in out.get("data", {}).get("text/plain", "") or "image/png" in out.get("data", {})
               for cell in nb.cells for out in cell.get("outputs", []))


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


def test_notebooks_match_generator():
    build = _load_builder()
    built = build.build()
    assert sorted(built) == [p.name for p in NOTEBOOKS]
    for name, nb in built.items():
        assert (NB_DIR / name).read_text() == build.render(nb), (
            f"{name} differs from notebooks/_build.py; run 'python notebooks/_build.py'")


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    """Quick setting, Agg backend, one thread, and a run cache shared by every notebook of this session."""
    cache = tmp_path_factory.mktemp("notebook_cache")
    env = {"ENSEMBLES_QUICK": "1", "MPLBACKEND": "Agg", "ENSEMBLES_NOTEBOOK_CACHE": str(cache),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
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
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=_kernel_name(),
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    try:
        client.execute()
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
    assert _n_figures(nb) >= n_fig, f"{path.name}: expected at least {n_fig} figures"
    assert not list(tmp_path.glob("results")), "the notebooks must cache runs in ENSEMBLES_NOTEBOOK_CACHE"
