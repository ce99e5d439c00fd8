"""Run every ``benchmarks/bench_*.py`` script (each in its own process) and collect their JSON into one table.

Each benchmark script writes ``benchmarks/out/<script name>.json``.  This runner executes the scripts one after the
other (they measure time and memory: never in parallel), then reads every ``benchmarks/out/bench_*.json``, writes
``benchmarks/out/summary.json`` and prints a markdown table of the headline figures.

Usage::

    python benchmarks/run_all.py                 # every bench_*.py
    python benchmarks/run_all.py sweep ff_ref    # only scripts whose name contains one of these words
    python benchmarks/run_all.py --collect-only  # no runs: just tabulate the JSON already in benchmarks/out/
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import write_json

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"

# headline keys looked for in a benchmark's JSON (first match wins), shown in the table
HEADLINE = ("ratios", "throughput_ratio", "speedup", "summary", "headline", "results")


def _scalars(obj, prefix="", depth=0, out=None, limit=12):
    """Flatten the numeric/string scalars of a (nested) JSON object, for the table (at most ``limit``)."""
    out = {} if out is None else out
    if len(out) >= limit or depth > 2:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("raw", "per_run", "epoch_times_s", "checkpoints"):
                continue
            _scalars(v, f"{prefix}{k}.", depth + 1, out, limit)
    elif isinstance(obj, (int, float, str, bool)) and obj is not None:
        key = prefix.rstrip(".")
        if isinstance(obj, float):
            obj = round(obj, 4)
        if not isinstance(obj, str) or len(obj) < 40:
            out[key] = obj
    return out


def _short(v, width=48):
    if isinstance(v, (list, tuple)):
        return f"[{len(v)} items]"
    text = str(v)
    return text if len(text) <= width else text[: width - 3] + "..."


def headline(data: dict) -> dict:
    """The headline figures of one benchmark JSON: its ``ratios``/``summary``/... entry, else its scalars."""
    for key in HEADLINE:
        if key in data:
            found = data[key]
            got = _scalars(found) if isinstance(found, dict) else {key: found}
            break
    else:
        got = _scalars(data)
    return {k: _short(v) for k, v in got.items()}


def run_scripts(patterns: list[str], timeout: float) -> list[dict]:
    runs = []
    for script in sorted(HERE.glob("bench_*.py")):
        if patterns and not any(p in script.stem for p in patterns):
            continue
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(script)], text=True, capture_output=True, timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        except subprocess.TimeoutExpired:
            status, tail = f"timeout after {timeout:.0f} s", []
        print("\n".join(tail), flush=True)
        runs.append({"script": script.name, "status": status, "wall_s": round(time.perf_counter() - t0, 1)})
    return runs


def collect(runs: list[dict]) -> dict:
    table = []
    status = {r["script"]: r for r in runs}
    for path in sorted(OUT.glob("bench_*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        script = path.stem + ".py"
        table.append({"benchmark": path.stem, "status": status.get(script, {}).get("status", "collected"),
                      "wall_s": status.get(script, {}).get("wall_s"), "headline": headline(data),
                      "file": str(path.relative_to(HERE.parent))})
    for r in runs:  # failed scripts that wrote no JSON
        if not any(t["benchmark"] + ".py" == r["script"] for t in table):
            table.append({"benchmark": Path(r["script"]).stem, "status": r["status"], "wall_s": r["wall_s"],
                          "headline": {}, "file": None})
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "benchmarks": table}


def markdown(summary: dict) -> str:
    lines = ["| benchmark | status | wall s | headline figures |", "|---|---|---|---|"]
    for row in summary["benchmarks"]:
        figs = "; ".join(f"{k} = {v}" for k, v in row["headline"].items()) or "-"
        lines.append(f"| {row['benchmark']} | {row['status']} | {row['wall_s'] or '-'} | {figs} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run all benchmarks and tabulate their JSON.")
    p.add_argument("patterns", nargs="*", help="run only scripts whose name contains one of these")
    p.add_argument("--collect-only", action="store_true")
    p.add_argument("--timeout", type=float, default=3600, help="per script, seconds")
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    runs = [] if args.collect_only else run_scripts(args.patterns, args.timeout)
    summary = collect(runs)
    write_json(OUT / "summary.json", summary)
    print(markdown(summary))
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
