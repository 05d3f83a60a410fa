"""Fault injection: a GasGuard with something broken under it (database, broker, valve, clock, process).

In-process tests run the real runtime (``gasguard.benchmarks.live.serving``: what the web app's
lifespan runs) on a throw-away SQLite file, with instant simulated valves and, where time matters, a
clock the test moves. Tests that need Mosquitto use the ``broker`` fixture of ``tests/conftest.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gasguard.storage.migrate import upgrade_to_head


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    """A fresh, migrated SQLite database for this test."""
    path = tmp_path / "gasguard.db"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"
