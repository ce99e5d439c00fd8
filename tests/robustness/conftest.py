"""Fixtures of the robustness suite (helpers live in _helpers.py so that subprocesses can import them)."""

import pytest

from ._helpers import small_recording


@pytest.fixture
def make_rec():
    return small_recording
