"""The compute resources of a run: the torch device and the thread count, checked against this machine."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from ensembles.errors import InputTypeError, ParameterError, ResourceError

__all__ = ["resolve_device", "usable_cpus", "check_threads"]


def resolve_device(device: Any) -> str:
    """Check a torch device name (``"cpu"``, ``"cuda"``, ``"cuda:N"``) against this machine; return it normalised.

    Raises :class:`~ensembles.errors.ParameterError` for a name that is not a device ensembles trains on and
    :class:`~ensembles.errors.ResourceError` for a device this machine does not have.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InputTypeError(f"The 'device' parameter must be a string such as 'cpu' or 'cuda'. Got {device!r} "
                             "instead.")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise ParameterError(f"The 'device' parameter must be 'cpu', 'cuda' or 'cuda:N'. Got {device!r} instead.")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ResourceError(f"The 'device' parameter is {device!r} but CUDA is not available on this machine; "
                                "use --device cpu.")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ResourceError(f"The 'device' parameter is {device!r} but this machine has {n} CUDA device(s) "
                                f"(cuda:0..cuda:{n - 1}).")
    return str(dev)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_threads(n: Any, name: str = "--threads") -> int:
    """A torch thread count between 1 and the usable CPUs (torch crashes on absurd counts: 100000 segfaults)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputTypeError(f"The {name!r} parameter must be an integer. Got {n!r} instead.")
    limit = usable_cpus()
    if not 1 <= int(n) <= limit:
        raise ParameterError(f"The {name!r} parameter must be between 1 and {limit} (the CPUs available to this "
                             f"process). Got {int(n)} instead.")
    return int(n)
