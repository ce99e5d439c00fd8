import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def rng():
    """Seeded generator; ENSEMBLES_TEST_SEED overrides the default 42 (tests must pass for any seed)."""
    return np.random.default_rng(int(os.environ.get("ENSEMBLES_TEST_SEED", "42")))
