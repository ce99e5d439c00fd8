"""``ensembles export-nwb REC.h5 --out FILE.nwb``: a recording as an NWB file for DANDI, pynapple and pynwb.

Write a recording (HDF5) as one NWB file: the neuroid table, the activity as a response series whose columns carry
the neuroid metadata (pynapple reads it as a TsdFrame with metadata), and a 'presentations' interval table. With
--dandi the subject fields DANDI requires (subject id, species, sex, age or date of birth) must be given, so that
'nwbinspector --config dandi' finds nothing CRITICAL. A recording imported from NWB keeps its session's and
subject's metadata (experimenter, institution, lab, subject id, species, ...); the options here replace them.
"""

from __future__ import annotations

import argparse

from ensembles.commands._common import add_command, output_file, reported_warnings
from ensembles.errors import ParameterError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, __name__,
                    help="write a recording as an NWB file (DANDI-ready with --dandi; pynapple reads it)")
    p.add_argument("path", metavar="REC.h5", help="recording file")
    p.add_argument("--out", required=True, metavar="FILE.nwb", help="NWB file to write")
    p.add_argument("--checkpoint", type=int, default=-1,
                   help="checkpoint index for a recording with several (default -1, the last)")
    p.add_argument("--presentation-duration", type=float, default=1.0, metavar="SECONDS",
                   help="period of the synthetic clock, one presentation per period (default 1)")
    p.add_argument("--samples-per-presentation", type=int, default=None, metavar="M",
                   help="identical samples per presentation (default: 1 unless the neuroids outnumber the "
                        "presentations, then the fewest that keep time the longest axis, as nwbinspector requires; "
                        "read the file with ensembles.io.to_pynapple for one sample per presentation)")
    p.add_argument("--dandi", action="store_true", help="require the subject fields DANDI needs")
    g = p.add_argument_group("subject (NWB Subject; DANDI needs id, species, sex and age or date of birth)")
    g.add_argument("--subject-id", default=None)
    g.add_argument("--species", default=None, help="Latin binomial (e.g. 'Mus musculus') or NCBI taxonomy URL")
    g.add_argument("--sex", default=None, choices=("M", "F", "U", "O"))
    g.add_argument("--age", default=None, help="ISO 8601 duration, e.g. P90D")
    g.add_argument("--date-of-birth", default=None, help="ISO 8601 date/time")
    g.add_argument("--strain", default=None)
    g.add_argument("--genotype", default=None)
    g.add_argument("--subject-description", default=None)
    s = p.add_argument_group("session")
    s.add_argument("--experimenter", action="append", default=None, help="'Last, First' (repeatable)")
    s.add_argument("--institution", default=None)
    s.add_argument("--lab", default=None)
    s.add_argument("--session-id", default=None)
    s.add_argument("--session-description", default=None)
    s.add_argument("--session-start-time", default=None, help="ISO 8601 date/time with time zone")
    s.add_argument("--keywords", default=None, help="comma-separated")
    s.add_argument("--related-publications", action="append", default=None, help="DOI or URL (repeatable)")
    p.add_argument("--force", action="store_true", help="overwrite the file --out if it exists")
    return p


def run(args: argparse.Namespace) -> int:
    from ensembles.io.nwb import export_nwb
    from ensembles.record import load_recording, select_presentations

    out = output_file(args.out, args.force, "rec.nwb")
    rec = load_recording(args.path)
    if "checkpoint" in rec.dims:
        n = rec.sizes["checkpoint"]
        if not -n <= args.checkpoint < n:
            raise ParameterError(f"--checkpoint {args.checkpoint} is out of range: the recording has {n} checkpoints.")
        rec = select_presentations(rec, correct_only=False, checkpoint=args.checkpoint)
        rec = rec.drop_vars([v for v in ("epoch", "checkpoint") if v in rec.coords], errors="ignore")
    subject = {
        "subject_id": args.subject_id, "species": args.species, "sex": args.sex, "age": args.age,
        "date_of_birth": args.date_of_birth, "strain": args.strain, "genotype": args.genotype,
        "description": args.subject_description,
    }  # fmt: skip
    session = {
        "experimenter": args.experimenter, "institution": args.institution, "lab": args.lab,
        "session_id": args.session_id, "session_description": args.session_description,
        "session_start_time": args.session_start_time, "keywords": args.keywords,
        "related_publications": args.related_publications,
    }  # fmt: skip
    with reported_warnings("export-nwb"):
        path = export_nwb(
            rec,
            out,
            presentation_duration=args.presentation_duration,
            samples_per_presentation=args.samples_per_presentation,
            subject={k: v for k, v in subject.items() if v is not None},
            session={k: v for k, v in session.items() if v is not None},
            dandi=args.dandi,
        )
    n_pres, n_neur = rec.sizes["presentation"], rec.sizes["neuroid"]
    print(f"wrote {path}: {n_pres} presentations x {n_neur} neuroids")
    m = args.samples_per_presentation or max(1, -(-n_neur // n_pres))
    if m > 1:
        print(f"note: each presentation is held for {m} identical samples (nwbinspector wants time to be the longest "
              "axis); nap.load_file counts each presentation that many times, ensembles.io.to_pynapple reads one "
              "sample per presentation")
    print(f"check: nwbinspector {path}" + (" --config dandi" if args.dandi else ""))
    return 0
