"""benchmarks/_common.py, the helpers every benchmark shares: atomic JSON results, worker children, timing."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("bench_common", BENCH / "_common.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_write_json_is_atomic(common, tmp_path, capsys):
    dest = tmp_path / "sub" / "r.json"
    assert common.write_json(dest, {"a": [1, 2]}) == dest
    assert json.loads(dest.read_text()) == {"a": [1, 2]} and f"wrote {dest}" in capsys.readouterr().out
    with pytest.raises(TypeError):  # not JSON-serialisable: the old result stays whole, no temporary file is left
        common.write_json(dest, {"a": object()})
    assert json.loads(dest.read_text()) == {"a": [1, 2]}
    assert sorted(p.name for p in dest.parent.iterdir()) == ["r.json"]


def test_worker_round_trip_and_failure(common, tmp_path):
    child = tmp_path / "child.py"
    child.write_text(
        "import argparse, sys\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "from _common import serve_worker\n"
        "p = argparse.ArgumentParser(); p.add_argument('--worker'); p.add_argument('--n', type=int)\n"
        "args = p.parse_args()\n"
        "print('noise before the result')\n"
        "if not serve_worker(args, {'sq': lambda a: {'sq': a.n * a.n}, 'boom': lambda a: 1 / 0}):\n"
        "    print('parent')\n"
    )
    assert common.run_worker([sys.executable, str(child), "--worker", "sq", "--n", "7"], "sq") == {"sq": 49}
    with pytest.raises(SystemExit, match=r"(?s)boom failed \(exit status 1\):.*ZeroDivisionError"):
        common.run_worker([sys.executable, str(child), "--worker", "boom", "--n", "1"], "boom")
    env = common.thread_env(3, "/x", EXTRA="1")
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"], env["PYTHONPATH"], env["EXTRA"]) == ("3", "3", "/x", "1")


def test_timed_returns_best_time_and_result(common):
    calls = []

    def f():
        calls.append(1)
        time.sleep(0.02 if len(calls) == 1 else 0.001)
        return len(calls)

    best, out = common.timed(f, repeat=3)
    assert out == 3 and len(calls) == 3 and best < 0.015  # the fastest call, not the first (20 ms) one
