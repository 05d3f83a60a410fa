"""A real ``gasguard serve`` and a real headless Chromium for the dashboard tests.

The service runs as a subprocess on a free port with its own data folder and a small test site: one
zone, two methane channels in ppm (no warm-up, no staleness during a test), one valve with a short
travel time. Users of every role are made with ``gasguard users create`` first. Gas is driven through
``POST /api/v1/ingest/readings`` with the admin's token, exactly as a device would send it.

Chromium is Debian's (``/usr/bin/chromium``); Playwright's own browser download is not used. Without it
(or without the ``playwright`` package) the tests skip with the reason, except under CI where that is a
failure. Screenshots of every step go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO_ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("GASGUARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
PASSWORD = "correct-horse-battery-staple"
SECRET_KEY = "browser-test-secret-key-0123456789abcdef"  # 40 characters
USERS = {"ada": "admin", "otto": "operator", "vera": "viewer"}
STARTUP_TIMEOUT_S = 90.0

SITE_YAML = """\
sites:
  - id: test
    name: Browser test site
    zones:
      - id: kitchen
        name: Kitchen
        voting: {k: 1}
        channels:
          - id: kitchen-ch1
            name: Above the range
            gas: methane
            unit: ppm
            warmup_s: 0
            stale_timeout_s: 3600
          - id: kitchen-ch2
            name: Near the floor
            gas: methane
            unit: ppm
            warmup_s: 0
            stale_timeout_s: 3600
        valves:
          - id: kitchen-valve
            name: Kitchen gas main
            travel_time_s: 1
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gasguard(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gasguard", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    """The running service: its base URL, and a client that sends readings as the admin would."""

    url: str
    admin_token: str
    log_path: Path
    process: subprocess.Popen[bytes]
    client: httpx.Client = field(repr=False)

    def send_ppm(self, channel: str, ppm: float) -> None:
        """Post one reading stamped now; the service must accept it (202)."""
        response = self.client.post(
            "/api/v1/ingest/readings",
            json={"channel": channel, "ts": time.time(), "value": ppm},
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        assert response.status_code == 202, response.text

    def log_tail(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[Server]:
    """``gasguard serve`` on a fresh database, with an admin, an operator and a viewer.

    One per test module: each module tells its own story from a cold start.
    """
    with serve_site(tmp_path_factory, SITE_YAML) as served:
        yield served


@contextmanager
def serve_site(tmp_path_factory: pytest.TempPathFactory, site_yaml: str) -> Iterator[Server]:
    """Run ``gasguard serve`` on ``site_yaml`` with the test users, until the ``with`` block ends
    (a module that needs another site, with outputs or notification routes, starts its own)."""
    root = tmp_path_factory.mktemp("served")
    site = root / "site.yaml"
    site.write_text(site_yaml, encoding="utf-8")
    env = {
        **os.environ,
        "GASGUARD_DATA_DIR": str(root / "data"),
        "GASGUARD_SECRET_KEY": SECRET_KEY,
    }
    for key in ("GASGUARD_DATABASE_URL", "GASGUARD_MQTT_URL", "GASGUARD_SITE_CONFIG"):
        env.pop(key, None)
    (root / "data").mkdir()
    done = _gasguard("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    for name, role in USERS.items():
        done = _gasguard(
            "users", "create", "--username", name, "--role", role, "--password-stdin", env=env, stdin=PASSWORD
        )
        assert done.returncode == 0, done.stderr

    port = _free_port()
    log_path = root / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gasguard",
                "serve",
                "--config",
                str(site),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=10.0)
    try:
        _wait_until_ready(client, process, log_path)
        login = client.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield Server(
            url=url, admin_token=login.json()["access_token"], log_path=log_path, process=process, client=client
        )
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def site_server() -> Callable[[pytest.TempPathFactory, str], Any]:
    """``serve_site``, for a module that serves a site of its own (outputs, notification routes):
    ``with site_server(tmp_path_factory, test_site_yaml + extra) as server: ...``."""
    return serve_site


@pytest.fixture(scope="session")
def test_site_yaml() -> str:
    """The test site's file (one kitchen, two methane channels, one valve), to extend."""
    return SITE_YAML


def _wait_until_ready(client: httpx.Client, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gasguard serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if client.get("/api/v1/health/live").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    pytest.fail(f"gasguard serve did not answer within {STARTUP_TIMEOUT_S} s:\n{log_path.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One browser per test module: Playwright's sync API keeps an event loop running in the main thread
    while it is open, so a session-wide browser would break every later test that calls ``asyncio.run``."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def pages_sized_for(browser: Browser) -> Iterator[Callable[[str], Callable[[dict[str, int]], Page]]]:
    """``pages_sized_for(base_url)(viewport)`` opens a page of that size on a server; every page closes at
    the end of the test, which fails if a script error happened in any of them."""
    contexts: list[Any] = []
    errors: list[str] = []

    def sized_for(base_url: str) -> Callable[[dict[str, int]], Page]:
        def make(viewport: dict[str, int]) -> Page:
            context = browser.new_context(viewport=viewport, base_url=base_url)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            return page

        return make

    yield sized_for
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots of the last run, one folder per test."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@dataclass
class Shots:
    """Numbered screenshots for one test, so the folder reads as the story it tells."""

    folder: Path
    count: int = 0

    def __call__(self, page: Page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(artifacts: Path, request: pytest.FixtureRequest) -> Shots:
    folder = artifacts / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return Shots(folder)


@pytest.fixture
def new_page(browser: Browser, server: Server) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts (own sessionStorage); page script errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture
def sign_in() -> Callable[[Page, str], None]:
    """Sign in through the form (by its labels, as a person would) and wait for the live feed."""
    from playwright.sync_api import expect

    def run(page: Page, username: str) -> None:
        page.goto("/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("conn-status")).to_have_text("Live")
        expect(page.get_by_test_id("whoami")).to_have_text(f"{username} ({USERS[username]})")

    return run
