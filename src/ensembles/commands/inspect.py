"""``ensembles inspect REC.h5``: a readable summary of a recording file (``--json`` for machines).

Print a summary of a recording (HDF5) without loading its activity: model, dataset, seed, dims, layers and widths,
checkpoints, label counts, accuracy (when a 'correct' coord exists), file size, schema version and whether the file
is complete.  Exit status 1 when the file is readable but incomplete or not schema-valid; 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import json

from ensembles.commands._common import add_command, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="summarise a recording file")
    p.add_argument("path", metavar="REC.h5", help="recording file")
    switches(p, json="print the summary as JSON")
    return p


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def format_info(info: dict) -> str:
    """Human-readable text of :func:`ensembles.record.recording_info`."""
    a = info["attrs"]
    lines = [f"recording   {info['path']}"]
    lines.append(f"file        {_size(info['file_size_bytes'])} ({info['file_size_bytes']} bytes)")
    state = "yes" if info["complete"] else "NO (its writer never finished; load_recording refuses it)"
    lines.append(f"complete    {state}")
    lines.append(f"schema      {info['schema_version']} (written by ensembles {a.get('package_version', '?')})")
    for key in ("model", "dataset", "seed", "site", "created"):
        if key in a:
            lines.append(f"{key:<11} {a[key]}")
    lines.append("dims        " + ", ".join(f"{k}={v}" for k, v in info["dims"].items()))
    if "layers" in info:
        widths = ", ".join(f"{la}: {w}" for la, w in info["layers"].items())
        lines.append(f"layers      {len(info['layers'])} ({widths} neuroids)")
    if "epochs" in info:
        lines.append(f"checkpoints {len(info['epochs'])} (epochs {info['epochs']})")
    if "split_counts" in info:
        lines.append("split       " + ", ".join(f"{k}: {v}" for k, v in info["split_counts"].items()))
    if "label_counts" in info:
        lines.append("labels      " + ", ".join(f"{k}: {v}" for k, v in info["label_counts"].items()))
    if "accuracy" in info:
        acc = info["accuracy"]
        if isinstance(acc, list):
            pairs = zip(info.get("epochs", range(len(acc))), acc, strict=False)
            lines.append("accuracy    " + ", ".join(f"epoch {e}: {v:.4f}" for e, v in pairs))
        else:
            lines.append(f"accuracy    {acc:.4f}")
    extra = sorted(k for k in a if k not in {"model", "dataset", "seed", "site", "created", "schema_version",
                                             "package_version", "config"})
    for key in extra:
        lines.append(f"{key:<11} {a[key]}")
    if "config" in a:
        cfg = str(a["config"])
        lines.append(f"config      {cfg if len(cfg) <= 200 else cfg[:197] + '...'}")
    if info["problems"]:
        lines.append(f"INVALID     {len(info['problems'])} schema problem(s):")
        lines.extend(f"  - {p}" for p in info["problems"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ensembles.record import recording_info

    info = recording_info(args.path)
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True, default=str))
    else:
        print(format_info(info))
    return 0 if info["complete"] and not info["problems"] else 1
