"""Recording during training: the run's ``recording.h5`` streamed at the recorded epochs, and, on resume, replayed
for the epochs recorded before the interruption.

The recording is written by a :class:`~ensembles.record.RecordingWriter` under the temporary name
``recording.h5.partial`` (complete = 0) and renamed onto ``recording.h5`` only when every recorded epoch is in it;
an interrupted run leaves the partial file, which the next start (or ``--resume``) replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

from ensembles.layout import RunLayout
from ensembles.train.activations import model_attrs, presentation_coords
from ensembles.train.checkpoints import foreign_checkpoint, load_checkpoint
from ensembles.train.config import RunConfig

__all__ = ["CheckpointRecorder"]


class CheckpointRecorder:
    """The test-split recording of a run, one checkpoint per recorded epoch.

    Parameters
    ----------
    cfg : RunConfig
        The run (recorded epochs, held-out classes, attrs).
    layout : RunLayout
        The run directory; a stale ``recording.h5.partial`` there is removed first.
    test : ensembles.data.Dataset
        The test split.
    rows : list
        The presentations (:func:`~ensembles.train.activations.condition_rows`).
    layer_sizes : sequence of int
        The hidden layer widths of the model.
    """

    def __init__(self, cfg: RunConfig, layout: RunLayout, test, rows, layer_sizes: Sequence[int]):
        from ensembles.record import RecordingWriter

        partial = layout.recording_partial
        if partial.exists():
            partial.unlink()
        self.epochs = cfg.record_epochs()
        pres, self.pres_idx = presentation_coords(test, rows, cfg.data.held_out, cfg.model != "bp")
        self.labels = np.asarray(test.y, dtype=np.int64)
        self.bounds = np.cumsum([0, *layer_sizes])
        self.writer = RecordingWriter(layout.recording, presentation=pres, layer_sizes=layer_sizes,
                                      epochs=self.epochs, attrs=model_attrs(cfg))

    def record(self, epoch: int, blocks: Iterable[np.ndarray], pred: np.ndarray,
               nonfinite: Callable[[int, int], BaseException] | None = None) -> None:
        """Append the activation ``blocks`` of recorded epoch ``epoch`` and the predictions ``pred`` (per image).

        ``nonfinite(epoch, layer)``: the exception to raise for a block holding a non-finite value (layer 1-based);
        None records such blocks as they are.
        """
        k = self.epochs.index(epoch)
        for block in blocks:
            if nonfinite is not None and not np.isfinite(block).all():
                col = int(np.flatnonzero(~np.isfinite(block).all(axis=0))[0])
                raise nonfinite(epoch, int(np.searchsorted(self.bounds, col, side="right")))
            self.writer.append(block, checkpoint=k)
        self.writer.set_presentation_coord("predicted", pred[self.pres_idx], checkpoint=k)
        self.writer.set_presentation_coord("correct", pred[self.pres_idx] == self.labels[self.pres_idx], checkpoint=k)

    def replay(self, layout: RunLayout, upto: int, model: torch.nn.Module, record: Callable[[int], None],
               fix: str) -> None:
        """Record again the epochs up to ``upto`` from their saved models (``checkpoints/model_epochNNNN.pt``), then
        give ``model`` back its current weights; ``record(epoch)`` records the model as it is."""
        live = {k: v.clone() for k, v in model.state_dict().items()}
        for ep in [e for e in self.epochs if e <= upto]:
            path = layout.model_at(ep)
            blob = load_checkpoint(path, kind="model", fix=fix)
            try:
                model.load_state_dict(blob["state_dict"])
            except (RuntimeError, ValueError, TypeError, KeyError) as err:
                raise foreign_checkpoint(path, err) from None
            record(ep)
        model.load_state_dict(live)

    def close(self) -> None:
        """Finish the recording: ``recording.h5`` appears, complete."""
        self.writer.close()
        self.writer = None

    def abort(self) -> None:
        """Leave a partially written recording under its temporary name (never at the target path)."""
        writer, self.writer = self.writer, None
        if writer is None:
            return
        for name in ("abort", "__exit__"):
            fn = getattr(writer, name, None)
            if fn is None:
                continue
            try:
                fn() if name == "abort" else fn(RuntimeError, RuntimeError("interrupted"), None)
            except Exception:  # noqa: BLE001 - cleanup while the original exception propagates: never mask it
                pass
            return
