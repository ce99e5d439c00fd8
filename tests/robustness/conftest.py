"""Fixtures of the robustness suite (helpers live in _helpers.py so that subprocesses can import them)."""

import pytest

from ._helpers import small_recording
from ._train_helpers import finished_tiny_run


@pytest.fixture
def make_rec():
    return small_recording


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished tiny training run (copy it before changing anything in it)."""
    return finished_tiny_run(tmp_path_factory)
