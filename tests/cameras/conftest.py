"""Fixtures for the camera tests."""

from __future__ import annotations

import pytest

from cameras.fakes import FakeClock


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()
