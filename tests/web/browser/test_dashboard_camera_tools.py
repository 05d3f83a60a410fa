"""The Cameras screen's commissioning, FAULT and evidence clips, against ``gasguard demo``, on a laptop and a phone.

The demo's kitchen thermal camera is simulated. One evidence clip is put in its clips folder before
the service starts (as the clip recorder leaves one: ``clip.json``, the video and ``snapshot.jpg``),
so the list and both downloads are checked against the real routes. The admin commissions the camera
through the reason dialog and watches the progress until it is commissioned. A camera FAULT is shown
from the camera listing (answered here with a fault added, as the simulated camera never has one).
Nothing is wider than the window, no Content-Security-Policy violation happens, and on the phone every
control is at least 44 px high.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import Browser, Page, Route, WebSocketRoute, expect
except ImportError:  # without the package: skip with the reason, but never under CI
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

CAMERA = "kitchen-thermal"
CLIP = "20261204T120000Z-001"
READY_TIMEOUT_S = 90.0
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}

SMALL_TARGETS = """
() => [...document.querySelectorAll("button, a[href], input, select, textarea, summary")]
  .filter((el) => el.checkVisibility())
  .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > 0 && r.left < innerWidth; })
  .filter((el) => el.getBoundingClientRect().height < 44)
  .map((el) => `${el.tagName.toLowerCase()} ${el.dataset.testid || el.id || el.textContent.trim().slice(0, 30)}`)
"""

INLINE_HANDLERS = """
() => [...document.querySelectorAll("*")]
  .flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName} ${a.name}`))
"""

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI || "inline"} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed_clip(data: Path) -> None:
    folder = data / "cameras" / CAMERA / "clips" / CLIP
    folder.mkdir(parents=True)
    video = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64  # the bytes are served as they are
    (folder / "clip.mp4").write_bytes(video)
    (folder / "snapshot.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 32 + b"\xff\xd9")
    now = time.time()
    meta = {
        "id": CLIP,
        "camera": CAMERA,
        "zone": "kitchen",
        "triggered_at": now - 60,
        "reasons": ["camera leak signal"],
        "start_ts": now - 70,
        "end_ts": now - 40,
        "duration_s": 30.0,
        "frames": 120,
        "fps": 4.0,
        "max_leak_score": 0.91,
        "snapshot_ts": now - 55,
        "video": "clip.mp4",
        "codec": "mp4v",
        "media_type": "video/mp4",
        "bytes": len(video),
    }
    (folder / "clip.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[dict[str, str]]:
    """The demo on a free port, with one evidence clip already kept; yields its URL and admin password."""
    root = tmp_path_factory.mktemp("demo-cameras")
    _seed_clip(root / "data")
    port = _free_port()
    log_path = root / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gasguard", "demo", "--port", str(port), "--data-dir", str(root / "data")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        password = None
        while time.monotonic() < deadline and password is None:
            text = log_path.read_text(encoding="utf-8", errors="replace")
            found = re.search(r"sign in as: admin / (\S+)", text)
            if found:
                password = found.group(1)
            elif process.poll() is not None:
                pytest.fail(f"gasguard demo exited with {process.returncode}:\n{text}")
            else:
                time.sleep(0.25)
        if password is None:
            pytest.fail(f"gasguard demo printed no password:\n{log_path.read_text()}")
        yield {"url": f"http://127.0.0.1:{port}", "password": password}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def check_layout(page: Page, phone: bool) -> None:
    page.wait_for_timeout(250)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{width[0]} px wide in a {width[1]} px window"
    if phone:
        assert page.evaluate(SMALL_TARGETS) == []
    assert page.evaluate(INLINE_HANDLERS) == []
    assert page.evaluate("window.__cspViolations") == []


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop-1366x768", "phone-390x844"])
def test_admin_commissions_a_camera_and_downloads_its_evidence_clip(
    viewport: dict[str, int], browser: Browser, demo: dict[str, str], shots: Any
) -> None:
    phone = viewport is PHONE
    context = browser.new_context(viewport=viewport, base_url=demo["url"], accept_downloads=True)
    errors: list[str] = []
    csp: list[str] = []
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
        blocked = {"on": False}

        def live_feed(ws: WebSocketRoute) -> None:
            """Pass the live feed through; once `blocked` is on, every camera frame says FAULT blocked."""
            server = ws.connect_to_server()
            ws.on_message(lambda message: server.send(message))

            def to_page(message: str | bytes) -> None:
                if blocked["on"] and isinstance(message, str) and '"camera"' in message:
                    body = json.loads(message)
                    if body.get("type") == "camera":
                        body["data"]["fault"] = "blocked"
                        message = json.dumps(body)
                ws.send(message)

            server.on_message(to_page)

        page.route_web_socket(re.compile(r".*/api/v1/ws.*"), live_feed)
        page.goto("/")
        page.get_by_label("Username").fill("admin")
        page.get_by_label("Password").fill(demo["password"])
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("conn-status")).to_have_text("Live")
        page.get_by_test_id("nav-cameras").click()
        expect(page.get_by_test_id(f"camera-frame-{CAMERA}")).to_be_visible()

        # The evidence clip: listed, its video and snapshot downloaded through the real routes.
        clip = page.get_by_test_id("camera-clip")
        expect(clip).to_have_count(1)
        expect(clip).to_contain_text("peak score 0.91")
        expect(clip).to_contain_text("camera leak signal")
        with page.expect_download() as video:
            page.get_by_test_id(f"clip-video-{CLIP}").click()
        assert video.value.suggested_filename == f"{CAMERA}-{CLIP}.mp4"
        with page.expect_download() as snap:
            page.get_by_test_id(f"clip-snapshot-{CLIP}").click()
        assert snap.value.suggested_filename.endswith(".jpg")
        with open(snap.value.path(), "rb") as handle:
            assert handle.read(2) == b"\xff\xd8"

        # Commissioning: through the reason dialog, then its progress until it is done.
        status = page.get_by_test_id(f"camera-commission-{CAMERA}")
        expect(status).to_be_visible()
        page.get_by_test_id(f"camera-commission-button-{CAMERA}").click()
        expect(page.get_by_test_id("dialog-title")).to_have_text(re.compile(r"^Commission "))
        page.get_by_test_id("dialog-seconds").fill("5")
        page.get_by_test_id("dialog-reason").fill("New camera, kitchen confirmed clear of gas")
        shots(page, "commission-dialog")
        page.get_by_test_id("dialog-confirm").click()
        expect(page.get_by_test_id("dialog-title")).to_be_hidden()
        expect(status).to_have_attribute("data-state", re.compile("commissioning|commissioned"))
        shots(page, "commissioning")
        expect(status).to_have_attribute("data-state", "commissioned", timeout=30_000)
        expect(status).to_contain_text("by admin")
        check_layout(page, phone)
        page.get_by_test_id(f"camera-commission-{CAMERA}").scroll_into_view_if_needed()
        shots(page, "commissioned-with-clip")

        # A FAULT (the live frames say its kind, the listing its detail) is shown on the camera, and
        # commissioning is not offered meanwhile.
        def with_fault(route: Route) -> None:
            response = route.fetch()
            cameras = response.json()
            for cam in cameras:
                cam["fault"] = {"kind": "blocked", "detail": "the lens is covered", "since": time.time() - 30}
            route.fulfill(response=response, json=cameras)

        page.route(re.compile(r".*/api/v1/cameras$"), with_fault)
        blocked["on"] = True
        fault = page.get_by_test_id(f"camera-fault-{CAMERA}")
        expect(fault).to_contain_text("Camera FAULT: Blocked", timeout=15_000)
        expect(fault).to_contain_text("the lens is covered")
        expect(page.get_by_test_id(f"camera-commission-button-{CAMERA}")).to_be_disabled()
        check_layout(page, phone)
        shots(page, "camera-fault")
    finally:
        context.close()
    assert not errors, f"script errors in the page: {errors}"
    assert not csp, f"CSP violations: {csp}"
