"""Compare the tables of two analyses of the same recordings, CSV by CSV (before/after a refactoring).

    python benchmarks/compare_analysis_tables.py BEFORE_DIR AFTER_DIR

Prints, for every CSV under ``tables/``: identical (bitwise, as text), identical on its earlier columns when the
table gained columns, the earlier rows found unchanged when a long (``statistic``) table gained rows, or the columns
that differ with the largest absolute and relative difference of numeric columns and the non-numeric cells that
differ.  Exit status 1 when any
table is missing on one side.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def compare(before: Path, after: Path) -> int:
    bt, at = sorted((before / "tables").glob("*.csv")), sorted((after / "tables").glob("*.csv"))
    names = sorted({p.name for p in bt} | {p.name for p in at})
    missing = 0
    for name in names:
        b, a = before / "tables" / name, after / "tables" / name
        if not b.exists() or not a.exists():
            print(f"{name}: only in {'after' if a.exists() else 'before'}")
            missing += 1
            continue
        if b.read_bytes() == a.read_bytes():
            print(f"{name}: identical ({len(pd.read_csv(b))} rows)")
            continue
        db, da = pd.read_csv(b), pd.read_csv(a)
        added = [c for c in da.columns if c not in db.columns]
        if added and len(db) == len(da) and all(c in da.columns for c in db.columns):
            same = all((db[c].astype(str) == da[c].astype(str)).all() for c in db.columns)
            if same:  # a table that gained columns: the earlier ones compared as text
                print(f"{name}: identical on its {len(db.columns)} earlier columns ({len(db)} rows); added {added}")
                continue
            da = da[list(db.columns)]
        elif len(da) > len(db) and list(db.columns) == list(da.columns) and "statistic" in db.columns:
            keys = [c for c in db.columns if c not in ("value", "n", "n_nan")]  # a long table that gained rows
            m = db.astype(str).merge(da.astype(str), on=keys, how="left", suffixes=("", "_after"), indicator=True)
            lost = int((m["_merge"] != "both").sum())
            differ = [c for c in db.columns if c not in keys
                      and not ((m[c] == m[c + "_after"]) | (m[c].isna() & m[c + "_after"].isna())).all()]
            print(f"{name}: {len(db)} earlier rows, {lost} not found, columns differing {differ or 'none'}; "
                  f"{len(da) - len(db)} rows added")
            missing += lost > 0
            continue
        if db.shape != da.shape or list(db.columns) != list(da.columns):
            print(f"{name}: shape/columns differ: {db.shape} {list(db.columns)} vs {da.shape} {list(da.columns)}")
            continue
        parts = []
        for col in db.columns:
            x, y = db[col], da[col]
            if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                xv, yv = x.to_numpy(float), y.to_numpy(float)
                same_nan = np.array_equal(np.isnan(xv), np.isnan(yv))
                d = np.abs(xv - yv)
                d = d[np.isfinite(d)]
                if d.size and d.max() > 0 or not same_nan:
                    rel = d / np.maximum(np.abs(xv[np.isfinite(xv - yv)]), 1e-300) if d.size else d
                    parts.append(f"{col}: max |diff| {d.max() if d.size else 0:.3g}, max rel "
                                 f"{rel.max() if rel.size else 0:.3g}, n differing {int((d > 0).sum())}"
                                 + ("" if same_nan else ", NaN pattern differs"))
            else:
                diff = (x.astype(str) != y.astype(str)).sum()
                if diff:
                    parts.append(f"{col}: {int(diff)} cells differ (e.g. {x[x.astype(str) != y.astype(str)].iloc[0]!r}"
                                 f" -> {y[x.astype(str) != y.astype(str)].iloc[0]!r})")
        print(f"{name}: same shape {db.shape}; " + ("; ".join(parts) if parts else "values equal (formatting only)"))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))
