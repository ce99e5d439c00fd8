"""``ensembles import-nwb FILE.nwb --out REC.h5``: a recording (presentation × neuroid) from an NWB session.

Read an NWB file and write a recording (HDF5) that 'ensembles analyze' takes: spike counts (or rates) of every unit
of the Units table in a window after each presentation onset, or the mean of a 2-D response series (e.g. a
RoiResponseSeries of dF/F) in that window. Presentations come from an interval table (trials, or e.g.
natural_scenes_presentations). Files written by 'ensembles export-nwb' are read back exactly. Problems that change
the numbers without stopping the import (units without spikes, a window reaching into the next presentation) are
printed as warnings.
"""

from __future__ import annotations

import argparse

from ensembles.commands._common import add_command, output_file, reported_warnings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__, help="build a recording from an NWB file (spike counts/rates or a response "
                    "series per presentation)")
    p.add_argument("path", metavar="FILE.nwb", help="the NWB file")
    p.add_argument("--out", required=True, metavar="REC.h5", help="recording file to write")
    p.add_argument("--intervals", default="auto", metavar="TABLE",
                   help="presentation table: 'trials' or an intervals table name (default: auto)")
    p.add_argument("--window", nargs=2, type=float, default=(0.0, 0.25), metavar=("START", "STOP"),
                   help="response window in seconds after each onset, [START, STOP) (default 0 0.25)")
    p.add_argument("--label-column", default="label", help="column of the table with the stimulus class")
    p.add_argument("--stimulus-column", default=None,
                   help="column identifying the stimulus (repeats share it; default: first of stimulus_id, "
                        "image_name, image_id, stimulus_name, frame)")
    p.add_argument("--source", choices=("auto", "units", "series"), default="auto",
                   help="units (spike trains) or series (a 2-D response series); default auto")
    p.add_argument("--response", choices=("count", "rate"), default="count",
                   help="for units: spike count or rate in spikes/s (default count)")
    p.add_argument("--series", default=None, help="the response series (name or container/name) if several")
    p.add_argument("--drop-unlabeled", action="store_true", help="leave out presentations without a label")
    p.add_argument("--sort-spikes", action="store_true",
                   help="sort spike trains that are not in ascending order instead of refusing the file")
    p.add_argument("--drop-nonfinite", action="store_true",
                   help="drop NaN or infinite spike times and presentations with NaN or infinite bounds (counted in "
                        "a warning) instead of refusing the file")
    p.add_argument("--dataset", default=None, help="value of the recording's 'dataset' attr")
    p.add_argument("--force", action="store_true", help="overwrite the file --out if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    from ensembles.io.nwb import import_nwb
    from ensembles.record import save_recording

    out = output_file(args.out, args.force, "rec.h5")
    with reported_warnings("import-nwb"):
        rec = import_nwb(
            args.path,
            label_column=args.label_column,
            window=tuple(args.window),
            source=args.source,
            intervals=args.intervals,
            response=args.response,
            series=args.series,
            stimulus_column=args.stimulus_column,
            drop_unlabeled=args.drop_unlabeled,
            dataset=args.dataset,
            sort_spikes=args.sort_spikes,
            drop_nonfinite=args.drop_nonfinite,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    save_recording(rec, out)
    n_p, n_n = rec.sizes["presentation"], rec.sizes["neuroid"]
    print(f"wrote {out}: {n_p} presentations x {n_n} neuroids ({rec.attrs.get('site', '')}; "
          f"{rec.attrs.get('response_variable', 'activity')})")  # fmt: skip
    print(f"next: ensembles analyze {out} --out RESULTS_DIR")
    return 0
