"""The login limit on a real ``gasguard serve``: the client address must not be the caller's to choose.

uvicorn trusts ``X-Forwarded-For`` from 127.0.0.1 by default (``forwarded_allow_ips``), and GasGuard
keys its login limit on the address uvicorn reports. So a caller on the same host (or a local proxy
that passes the header through unchecked) picks a new address per attempt and is never limited.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gasguard.auth import Role
from gasguard.benchmarks.live import bench_site_data
from gasguard.benchmarks.service import ServiceProcess, prepare_database
from gasguard.storage.migrate import upgrade_to_head

pytestmark = pytest.mark.slow  # about 5 s: a real service start-up

ATTEMPTS = 10  # the service's defaults: 5 failures per username and client, 20 (5 x 4) per username


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One service for the module: each test signs in from its own (real or claimed) addresses."""
    tmp_path: Path = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{tmp_path / 'gasguard.db'}"
    upgrade_to_head(url)
    prepare_database(url, {"ada": ("the-admin-password-1", Role.ADMIN)})
    process = ServiceProcess(tmp_path, bench_site_data(zones=1, channels_per_zone=1), url)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _wrong_logins(service: ServiceProcess, username: str, headers: list[dict[str, str]]) -> list[int]:
    body = {"username": username, "password": "not the password"}
    return [httpx.post(f"{service.url}/api/v1/auth/login", json=body, headers=h).status_code for h in headers]


def test_the_served_login_limit_holds(service: ServiceProcess) -> None:
    assert _wrong_logins(service, "ada", [{}] * 6) == [401] * 5 + [429]


def test_a_forged_forwarded_for_does_not_reset_the_limit(service: ServiceProcess) -> None:
    """Each attempt claims a new address. Were the header believed, every attempt would count for another
    client and all ten would be 401 (ten stays under the per-username limit of 20); it is not, so the
    sixth is refused as the sixth failure of this username from this one client."""
    statuses = _wrong_logins(service, "mallory", [{"X-Forwarded-For": f"10.0.0.{i}"} for i in range(ATTEMPTS)])
    assert statuses == [401] * 5 + [429] * 5
