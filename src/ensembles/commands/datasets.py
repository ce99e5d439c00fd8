"""``ensembles datasets``: list every known dataset, whether it is available here and where from.

List the six datasets (digits, mnist-5k, fashion-mnist, mnist, cifar10, svhn): sizes, image shape, and whether each
can be loaded here without a download (and from where) or why not. File-based datasets are looked for in --root,
$ENSEMBLES_DATA, the Debian package location, then the user cache; a missing one is downloaded on first load. Only
file presence is checked here; checksums are verified on load.
"""

from __future__ import annotations

import argparse
import json

from ensembles.commands._common import add_command, switches


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="list the datasets, whether each is available here and where from")
    switches(p, json="print a JSON list instead of a table")
    p.add_argument("--root", metavar="DIR", default=None, help="directory looked at first (as load_dataset's root=)")
    return p


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths[:-1], strict=True)) + "  " + r[-1])
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ensembles.data import list_datasets

    if args.root is not None and not Path(args.root).is_dir():
        what = "is not a directory" if Path(args.root).exists() else "does not exist"
        raise NotADirectoryError(f"--root {args.root!r} {what}; give the directory that holds the dataset files.")
    infos = list_datasets(root=args.root)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
        return 0
    rows = [["NAME", "AVAILABLE", "TRAIN", "TEST", "IMAGE", "CLASSES", "WHERE / WHY NOT"]]
    for i in infos:
        rows.append([
            i.name,
            "yes" if i.available else "no",
            f"{i.n_train:,}",
            f"{i.n_test:,}",
            "x".join(map(str, i.image_shape)),
            str(i.n_classes),
            i.location if i.available else f"{i.reason} from {i.download_urls[0] if i.download_urls else '?'}",
        ])
    print(_table(rows))
    n = sum(i.available for i in infos)
    print(f"\n{n} of {len(infos)} datasets available here. Load one with "
          "ensembles.data.load_dataset(name, split); see data/README.md for the file layout.")
    return 0
