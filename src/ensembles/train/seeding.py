"""Seeding for bitwise-reproducible CPU runs."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, ``numpy`` and torch's global RNG with ``seed`` and return a dedicated
    :class:`torch.Generator` (seeded with ``seed``) for shuffles and negative labels.

    The training loops draw *all* their randomness after initialisation from the returned generator, whose state is
    saved in every checkpoint, so a resumed run continues the exact random stream of an uninterrupted one (no
    DataLoader workers are used).  Weight initialisation uses torch's global RNG, seeded here.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(seed + 1_000_003)  # a stream distinct from the global one used for the weights
    return gen
