"""Shared by the NWB tests (tests/nwb/test_nwb.py, tests/nwb/test_nwb_ecosystem.py): a small model recording to export."""

import numpy as np

from ensembles.record import make_recording


def model_recording(rng, n=20, layers=(30, 20), *, predicted=True):
    """A model recording of ``n`` presentations x ``sum(layers)`` neuroids (uniform activity from ``rng``), four
    classes, a boolean ``correct`` and, with ``predicted``, an integer ``predicted`` presentation coord."""
    presentation = {
        "stimulus_id": [f"mnist/test/{i:05d}" for i in range(n)],
        "label": np.arange(n) % 4,
        "label_name": [f"digit{i % 4}" for i in range(n)],
        "split": ["test"] * n,
        "correct": np.arange(n) % 3 != 0,
    }
    if predicted:
        presentation["predicted"] = (np.arange(n) + 1) % 4
    return make_recording(
        rng.random((n, sum(layers))).astype(np.float32),
        presentation=presentation,
        layer_sizes=list(layers),
        attrs={"model": "ff", "dataset": "mnist", "seed": 3, "config": {"lr": 0.01}, "site": "post-relu"},
    )


def allen_style_session(path, rng, *, areas=("VISp",) * 8 + ("VISl",) * 6, n_images=6, reps=5,
                        session_id="715093703"):
    """An Allen-style NWB session written with pynwb (needs the 'nwb' extra): a Units table whose ``location``
    column holds each unit's brain area (``areas``, one per unit), and a 'natural_scenes_presentations' table with
    string image names, 250-ms presentations back to back as in the Brain Observatory.  Returns the path."""
    import datetime as dt

    import pynwb
    from pynwb.epoch import TimeIntervals

    names = [f"natural_scene_{k:03d}" for k in rng.permutation(np.repeat(np.arange(n_images), reps))]
    onsets = 10.0 + 0.25 * np.arange(len(names))
    f = pynwb.NWBFile(session_description="Allen-style natural scenes", identifier=f"allen-like-{session_id}",
                      session_start_time=dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc),
                      session_id=session_id)
    f.add_unit_column(name="location", description="brain area")
    for area in areas:
        f.add_unit(spike_times=np.sort(rng.uniform(9.0, onsets[-1] + 1.0, rng.integers(20, 200))), location=area)
    table = TimeIntervals(name="natural_scenes_presentations", description="natural scenes")
    table.add_column(name="image_name", description="image")
    for t, name in zip(onsets, names, strict=True):
        table.add_row(start_time=t, stop_time=t + 0.25, image_name=name)
    f.add_time_intervals(table)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(f)
    return path
