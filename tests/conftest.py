"""Shared fixtures. The shared datasets are found through one fixture, ``shared_data``.

Where the data lives: ``GASGUARD_DATA`` if set, else the ``shared/data`` folder beside the checkout.
Under CI (``CI=true``) a missing dataset fails the run instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path:
    env = os.environ.get("GASGUARD_DATA")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "data"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared datasets (``multimodalgasdata/``, ``gas-sensor-array-drift/``)."""
    root = _data_root()
    if not root.is_dir():
        message = f"shared datasets not found at {root} (set GASGUARD_DATA)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return root
