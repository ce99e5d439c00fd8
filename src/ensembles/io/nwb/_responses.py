"""Responses of an NWB session per presentation, for :func:`~ensembles.io.nwb.import_nwb`: spike counts of a
``Units`` table and means of a response series in a window after each onset, and the checks of that window."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ensembles._validation import EnsemblesWarning
from ensembles.errors import DataFileError, ParameterError

from ._common import NWBFileError, NWBImportWarning


def _window_means(times: np.ndarray, data, onsets: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Mean of the samples of ``data`` (time x channels) with times in [onset + w0, onset + w1)."""
    lo = np.searchsorted(times, onsets + window[0], side="left")
    hi = np.searchsorted(times, onsets + window[1], side="left")
    arr = np.asarray(data[:])
    out = np.full((onsets.size, arr.shape[1]), np.nan, dtype=np.float64)
    for k in range(onsets.size):
        if hi[k] > lo[k]:
            out[k] = arr[lo[k] : hi[k]].mean(axis=0, dtype=np.float64)
    empty = int(np.sum(hi <= lo))
    if empty == onsets.size:
        raise ParameterError(
            f"No sample of the response series falls in window={tuple(window)} s after any presentation onset "
            f"(series spans {times[0]:.3f}-{times[-1]:.3f} s, onsets {onsets.min():.3f}-{onsets.max():.3f} s). "
            "The window is in seconds relative to each onset."
        )
    if empty:
        warnings.warn(
            f"{empty} of {onsets.size} presentations have no sample in the window; their activity is NaN.",
            EnsemblesWarning,
            stacklevel=3,
        )
    return out


def _shown(ids: list) -> str:
    return f"{ids[:10]}" + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")


def _spike_counts(
    units, onsets: np.ndarray, window: tuple[float, float], *, sort_spikes: bool, path: Path,
    drop_nonfinite: bool = False,
) -> np.ndarray:
    """Spike counts (presentations x units) in [onset + w0, onset + w1), vectorised with np.searchsorted.

    Unsorted spike trains (a CRITICAL problem for nwbinspector) raise a DataFileError naming the units unless
    ``sort_spikes``, which sorts them with an :class:`NWBImportWarning` naming them; units without any spike give an
    :class:`NWBImportWarning` (they become silent neuroids).  Spike times that are NaN or infinite cannot be counted:
    a DataFileError naming the units, unless ``drop_nonfinite``, which drops them with a warning counting them."""
    flat = np.asarray(units.spike_times.data[:], dtype=np.float64)
    ends = np.asarray(units.spike_times_index.data[:], dtype=np.int64)
    ids = np.asarray(units.id.data[:])
    if ends.size == 0:
        raise DataFileError(f"The Units table of {str(path)!r} has no units; there is nothing to import.")
    if ends.size and (np.any(np.diff(ends) < 0) or ends[0] < 0 or ends[-1] != flat.size):
        raise NWBFileError(path, f"The Units table of {str(path)!r} has a spike_times_index that does not index "
                                 f"its {flat.size} spike times; the file is damaged.")
    starts = np.concatenate([[0], ends[:-1]])
    finite = np.isfinite(flat)
    if not finite.all():
        owner = np.searchsorted(ends, np.flatnonzero(~finite), side="right")
        bad_units = [int(ids[u]) for u in np.unique(owner)]
        n_bad = int((~finite).sum())
        if not drop_nonfinite:
            raise NWBFileError(
                path, f"{n_bad} spike time(s) of {str(path)!r} are NaN or infinite (unit ids {_shown(bad_units)}); they "
                "cannot be counted in a window. Pass drop_nonfinite=True (command line: --drop-nonfinite) to drop "
                "them and import anyway.")
        warnings.warn(f"Dropped {n_bad} NaN or infinite spike time(s) of {len(bad_units)} unit(s) (unit ids "
                      f"{_shown(bad_units)}).", NWBImportWarning, stacklevel=4)
        kept_before = np.concatenate([[0], np.cumsum(finite)])
        flat = flat[finite]
        ends = kept_before[ends]
        starts = np.concatenate([[0], ends[:-1]])
    unsorted = [int(ids[u]) for u, (a, b) in enumerate(zip(starts, ends, strict=True))
                if b - a > 1 and np.any(np.diff(flat[a:b]) < 0)]  # fmt: skip
    if unsorted:
        shown = f"{unsorted[:10]}" + (f" and {len(unsorted) - 10} more" if len(unsorted) > 10 else "")
        if not sort_spikes:
            raise DataFileError(
                f"{len(unsorted)} unit(s) of {str(path)!r} have spike times that are not in ascending order "
                f"(unit ids {shown}); nwbinspector calls such a file CRITICAL. Pass sort_spikes=True "
                "(command line: --sort-spikes) to sort them and import anyway."
            )
        warnings.warn(
            f"Sorted the spike times of {len(unsorted)} unit(s) whose spikes were not in ascending order "
            f"(unit ids {shown}).",
            NWBImportWarning,
            stacklevel=4,
        )
    empty = [int(ids[u]) for u in np.flatnonzero(ends - starts == 0)]
    if empty:
        shown = f"{empty[:10]}" + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        warnings.warn(
            f"{len(empty)} of {ids.size} unit(s) have no spikes at all (unit ids {shown}); they are imported as "
            "silent neuroids (sparseness measures give NaN for them and count them as silent).",
            NWBImportWarning,
            stacklevel=4,
        )
    lo_t, hi_t = onsets + window[0], onsets + window[1]
    out = np.empty((onsets.size, ends.size), dtype=np.float64)
    for u, (a, b) in enumerate(zip(starts, ends, strict=True)):
        st = flat[a:b]
        if st.size > 1 and np.any(np.diff(st) < 0):
            st = np.sort(st)
        out[:, u] = np.searchsorted(st, hi_t, side="left") - np.searchsorted(st, lo_t, side="left")
    return out


def _check_window(onsets: np.ndarray, stops: np.ndarray, w0: float, w1: float, table_name: str) -> None:
    """A window after every presentation's end is an error; one reaching into the next onset is a warning."""
    durations = stops - onsets
    if onsets.size and np.all(w0 >= durations):
        raise ParameterError(
            f"The 'window' parameter ({w0:g}, {w1:g}) s starts after every presentation of {table_name!r} has ended "
            f"(presentations last {durations.min():.4g}-{durations.max():.4g} s); the window is in seconds "
            "relative to each onset, e.g. (0.05, 0.25)."
        )
    if onsets.size > 1:
        order = np.argsort(onsets, kind="stable")
        nxt = np.full(onsets.size, np.inf)
        nxt[order[:-1]] = onsets[order[1:]]
        over = int(np.sum(onsets + w1 > nxt + 1e-12))
        if over:
            warnings.warn(
                f"The response window ({w0:g}, {w1:g}) s reaches into the next presentation's onset for {over} of "
                f"{onsets.size} presentations of {table_name!r}; their responses mix two stimuli. Shorten the window.",
                NWBImportWarning,
                stacklevel=4,
            )
