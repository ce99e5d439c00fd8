"""Shared pieces of the HTML reports: the style sheet, tables, embedded images, and reading only inside a directory."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pandas as pd

from ensembles.errors import DataFileError
from ensembles.layout import ResultsLayout

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;
color:#222;line-height:1.4}
h1{font-size:1.6em;border-bottom:2px solid #1f77b4}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}th,td{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f2f5fa}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0;padding:.5em;border:1px solid #eee}figure img{max-width:100%;height:auto}
figcaption{font-size:13px;color:#444}.used{font-size:12px;color:#666}.skip{color:#a33}
pre{background:#f7f7f7;padding:.5em;font-size:11px;overflow-x:auto;max-height:28em}
nav a{margin-right:.8em;font-size:13px}details{margin:.3em 0}
.tablewrap{max-width:100%;overflow-x:auto}.findings{font-size:15px;background:#f6f9fc;border-left:4px solid #1f77b4;
padding:.6em 1em}.problems{border-left:4px solid #a33;padding:.3em 1em;background:#fdf3f3}
"""

esc = html.escape


def head(title: str) -> list[str]:
    return [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]


def formatted(df: pd.DataFrame, *, digits: int = 3) -> pd.DataFrame:
    """``df`` as strings for display: a numeric column whose values are all whole numbers prints as integers
    (``30``, not ``30.000``), other numbers with ``digits`` decimals (very small or large ones in exponent form),
    missing values as "–"."""
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            out[c] = ["–" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for v in col]
            continue
        v = col.to_numpy(dtype=float)
        fin = v[pd.notna(v)]
        whole = fin.size > 0 and bool((fin == fin.round()).all()) and bool((abs(fin) < 1e15).all())

        def one(x: float, whole: bool = whole) -> str:
            if pd.isna(x):
                return "–"
            if whole:
                return f"{int(x):,}" if abs(x) >= 10000 else f"{int(x)}"
            if x != 0 and (abs(x) < 10 ** -digits or abs(x) >= 1e6):
                return f"{x:.2e}"
            return f"{x:.{digits}f}"
        out[c] = [one(x) for x in v]
    return out


def table_html(df: pd.DataFrame | None, *, max_rows: int = 60, labels: dict[str, str] | None = None,
               table_id: str | None = None, digits: int = 3, floatfmt: str | None = None) -> str:
    """A table for the report: numbers formatted by :func:`formatted`, columns renamed by ``labels``, scrolling
    sideways inside the page when wider than it.  ``floatfmt`` (``"{:.4f}"``) is another way to give ``digits``."""
    if floatfmt is not None:
        m = re.fullmatch(r"\{:\.(\d+)[fg]\}", floatfmt)
        digits = int(m.group(1)) if m else digits
    if df is None or not len(df):
        return "<p><em>empty</em></p>"
    shown = formatted(df.head(max_rows), digits=digits).rename(columns=labels or {})
    out = shown.to_html(index=False, border=0, escape=True, table_id=table_id)
    out = f"<div class='tablewrap'>{out}</div>"
    if len(df) > max_rows:
        out += f"<p class='used'>first {max_rows} of {len(df)} rows; the full table is in the CSV.</p>"
    return out


def img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def read_json_file(path: Path) -> dict:
    """A manifest (JSON object); DataFileError when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFileError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise DataFileError(f"{path} is not a manifest (expected a JSON object)")
    return data


def read_manifest(results: ResultsLayout, *, sweep: bool = False) -> dict:
    """The manifest of a finished analysis (``manifest.json``) or, with ``sweep``, of a finished across-seed sweep
    analysis (``sweep_report.json``); FileNotFoundError saying which command writes it when it is absent."""
    if sweep:
        present, path, hint = results.is_sweep_analysis(), results.sweep_marker, "ensembles report SWEEP_DIR"
        what = f"finished sweep analysis (no {results.SWEEP_MARKER})"
    else:
        present, path, hint = results.is_finished(), results.manifest, "ensembles analyze"
        what = f"finished analysis (no {results.MANIFEST})"
    if not present:
        raise FileNotFoundError(f"{results.root} holds no {what}; run '{hint}' first")
    return read_json_file(results.resolve(path.name))  # a manifest linked to a file elsewhere is refused


def read_table(results: ResultsLayout, rel: str | None) -> pd.DataFrame | None:
    """A table named in a manifest, read only inside the results directory (None when absent)."""
    if not rel:
        return None
    path = results.resolve(rel)
    return pd.read_csv(path) if path.is_file() else None


def figure_html(results: ResultsLayout, files: list, title: str, caption_html: str) -> str:
    """The embedded PNG of a figure named in a manifest (read only inside the results directory)."""
    paths = {f: results.resolve(f) for f in files}  # every path the manifest names must stay inside
    png = next((f for f in paths if f.endswith(".png")), None)
    path = paths.get(png)
    if path is None or not path.is_file():
        return f"<p class='skip'>figure file {esc(str(png))} is missing.</p>"
    return f"<figure>{img_tag(path, title)}<figcaption>{caption_html}</figcaption></figure>"


def write_report(results: ResultsLayout, out, text: str, *, force: bool = False, claim=None) -> Path:
    """Write a report: into its results directory while holding the directory's claim (or the caller's ``claim``),
    or to ``out`` when that names a file elsewhere."""
    from ensembles._io import atomic_write_text
    from ensembles.layout import claim_results_dir

    if out is not None and Path(out).resolve().parent != results.root.resolve():
        return atomic_write_text(out, text)
    target = Path(out) if out is not None else results.report
    if claim is not None:
        return atomic_write_text(target, text)
    with claim_results_dir(results.root, command="report", force=force):
        return atomic_write_text(target, text)
