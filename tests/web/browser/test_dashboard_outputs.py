"""Outputs, channel tests and notification incidents in the dashboard, against a real ``gasguard serve``.

The site has the kitchen of the other browser tests plus a kitchen sounder (pulsed until silenced,
then steady until the zone is reset), the system-failure relay, and one notification route that posts
JSON to a small web server inside the test. After the cold start's trip is reset, a leak at the range
trips the kitchen: the sounder sounds and a trip incident is told to the route.

- An operator reads what drives each output and its state in words, silences the sounder (the page
  follows the live "output" message), and acknowledges the incident from its timeline.
- An admin on a 390 px phone tests the fault relay through the reason dialog (11 minutes is refused
  in the dialog, 2 are accepted: "Dropped: ..." with "Test until HH:MM") and sends a test notification.
- An operator on a phone puts a detector in TEST (refused for the one reading gas), sees the "In TEST
  until HH:MM" badge, its test alarm tagged TEST in Alarms and Events, and ends the test.
- A viewer sees all of it and none of the controls.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # without the package: skip with the reason, but never under CI
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

PASSWORD = "correct-horse-battery-staple"  # conftest's, for every test user
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
A2_CH1 = "kitchen/kitchen-ch1/A2"
A2_CH2 = "kitchen/kitchen-ch2/A2"
TRIP_INCIDENT = "[data-testid^='incident-'][data-kind='trip']"
HHMM = r"\d\d:\d\d"

OUTPUTS_YAML = """\
    outputs:
      - id: kitchen-sounder
        name: Kitchen sounder
        kind: sounder
        zones: [kitchen]
        levels: [A2, A3]
        latching: true
        pulse_until_silenced: true
        when_silenced: steady
      - id: fault-relay
        name: Fault relay
        kind: fault_relay
        normally_energised: true
notifications:
  routes:
    - name: on-call
      urls: ["json://127.0.0.1:{port}/hook"]
"""

# Same probes as test_dashboard_screens: buttons and fields under 44 px, and what sticks out on the right.
SMALL_TARGETS = """
() => [...document.querySelectorAll("button, a[href], input, select, textarea, summary")]
  .filter((el) => el.checkVisibility())
  .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > 0 && r.left < innerWidth; })
  .filter((el) => el.getBoundingClientRect().height < 44)
  .map((el) => `${el.tagName.toLowerCase()} ${el.dataset.testid || el.id || el.textContent.trim().slice(0, 30)}`)
"""


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    port: ClassVar[int] = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            _Sink.received.append(json.loads(body or b"{}"))
        except ValueError:
            _Sink.received.append({"raw": body.decode(errors="replace")})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[list[dict[str, Any]]]:
    """A local JSON webhook: what the notification route posts lands in the returned list."""
    _Sink.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    _Sink.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Sink.received
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    chromium_path: str,
    webhook: Any,
    site_server: Callable[..., Any],
    test_site_yaml: str,
) -> Iterator[Any]:
    """This module's own service: the test site with outputs and a notification route."""
    del chromium_path, webhook  # wanted first: Chromium checked, the webhook listening
    with site_server(tmp_path_factory, test_site_yaml + OUTPUTS_YAML.format(port=_Sink.port)) as served:
        yield served


@pytest.fixture(scope="module")
def leak(server: Any) -> Any:
    """Reset the cold start's trip, then a leak at the range trips the kitchen and sounds the sounder."""
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    server.send_ppm("kitchen-ch1", 0)
    server.send_ppm("kitchen-ch2", 0)
    reset = server.client.post("/api/v1/zones/kitchen/reset", json={"reason": "cold start checked"}, headers=headers)
    assert reset.status_code == 200, reset.text
    server.send_ppm("kitchen-ch1", 15000)  # 30 %LEL: A2, the trip
    return server


@pytest.fixture
def sized_page(
    pages_sized_for: Callable[[str], Callable[[dict[str, int]], Page]], leak: Any
) -> Callable[[dict[str, int]], Page]:
    return pages_sized_for(leak.url)


def _sign_in(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")


def _visit(page: Page, screen: str) -> None:
    page.get_by_test_id(f"nav-{screen}").click()
    expect(page.locator("main")).to_have_attribute("data-view", screen)


def _assert_fits(page: Page, where: str, phone: bool) -> None:
    page.wait_for_timeout(250)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{where}: {width[0]} px wide in a {width[1]} px window"
    if phone:
        assert page.evaluate(SMALL_TARGETS) == [], where


def test_operator_silences_the_sounder_and_acknowledges_the_incident(
    sized_page: Callable[[dict[str, int]], Page], shots: Any
) -> None:
    page = sized_page(LAPTOP)
    _sign_in(page, "otto")
    expect(page.get_by_test_id("nav-valves")).to_have_text("Valves & outputs")
    _visit(page, "valves")
    expect(page.get_by_role("heading", name="Valves and outputs")).to_be_visible()
    sounder = page.get_by_test_id("output-state-kitchen-sounder")
    expect(sounder).to_have_text("Sounding (pulsed)")
    expect(page.get_by_test_id("output-drivers-kitchen-sounder")).to_have_text("Driven by A2, A3 in Kitchen")
    expect(page.get_by_test_id("output-cause-kitchen-sounder")).to_have_text("Why: Alarm (A2) on Above the range")
    expect(page.get_by_test_id("output-latched-kitchen-sounder")).to_be_visible()
    expect(page.get_by_test_id("output-state-fault-relay")).to_have_text("Energised: healthy")
    expect(page.get_by_test_id("output-driver-fault-relay")).to_have_text(re.compile(r"^Driver: Simulated; "))
    # The relay cannot be silenced, and an operator tests nothing.
    expect(page.get_by_test_id("output-silence-fault-relay")).to_have_count(0)
    expect(page.locator("[data-testid^='output-test-button-']")).to_have_count(0)
    _assert_fits(page, "outputs", phone=False)
    shots(page, "sounder-sounding")

    page.get_by_test_id("output-silence-kitchen-sounder").click()
    expect(page.get_by_test_id("output-msg-kitchen-sounder")).to_contain_text("silenced until the next alarm")
    expect(sounder).to_have_text("Sounding (steady), silenced")  # when_silenced: steady, until the reset
    expect(page.get_by_test_id("output-silence-kitchen-sounder")).to_have_count(0)
    # The alarm itself is still unacknowledged: silence is not acknowledge.
    expect(page.get_by_test_id("alarm-pill")).to_have_text(re.compile(r"unacknowledged alarm"))
    shots(page, "sounder-silenced")

    # The trip incident: who was told, then acknowledged from the dashboard.
    _visit(page, "alarms")
    incident = page.locator(TRIP_INCIDENT)
    expect(incident).to_have_count(1)
    expect(incident).to_have_attribute("data-acked", "false")
    expect(incident.locator("h3")).to_have_text("Trip in Kitchen")
    timeline = incident.locator("ol.timeline")
    expect(timeline).to_contain_text("Opened: A2 on Above the range")  # names, not ids
    expect(timeline).to_contain_text("Sent to on-call")
    expect(incident).to_contain_text("Told: on-call")
    # The incidents come after the active alarms.
    alarms_box = page.get_by_test_id("alarm-table").bounding_box()
    panel_box = page.get_by_test_id("incidents-panel").bounding_box()
    assert alarms_box and panel_box and panel_box["y"] > alarms_box["y"]
    shots(page, "incident-open")

    incident.locator("[data-testid^='incident-ack-']").click()
    expect(page.get_by_test_id("incident-msg")).to_contain_text("acknowledged by otto")
    expect(incident.locator("[data-testid^='incident-state-']")).to_have_text("Acknowledged by otto", timeout=20_000)
    expect(timeline).to_contain_text("Acknowledged by otto")
    expect(incident.locator("[data-testid^='incident-ack-']")).to_have_count(0)
    # Acknowledging the incident acknowledged the zone's alarms too (it reset nothing).
    expect(page.get_by_test_id(f"alarm-state-{A2_CH1}")).not_to_have_text(re.compile("Unacknowledged"))
    expect(page.get_by_test_id("reset-row-kitchen")).to_be_visible()
    shots(page, "incident-acknowledged")


def test_admin_on_a_phone_tests_the_fault_relay_and_sends_a_test_notification(
    sized_page: Callable[[dict[str, int]], Page], shots: Any, webhook: list[dict[str, Any]]
) -> None:
    page = sized_page(PHONE)
    _sign_in(page, "ada")
    # Still eight tabs, in two rows of four.
    tabs = page.locator("#nav-list a")
    expect(tabs).to_have_count(8)
    boxes = [tabs.nth(i).bounding_box() for i in range(8)]
    tops = sorted({round(box["y"]) for box in boxes if box})
    assert len(tops) == 2, tops

    _visit(page, "valves")
    # Its tab is no taller than the others with its name in bold (two lines at most, like "Users and tokens").
    heights = [round(box["height"]) for box in (tabs.nth(i).bounding_box() for i in range(8)) if box]
    assert max(heights) <= 52, heights
    expect(page.get_by_test_id("output-state-fault-relay")).to_have_text("Energised: healthy")
    _assert_fits(page, "outputs on a phone", phone=True)
    shots(page, "outputs-phone")

    page.get_by_test_id("output-test-button-fault-relay").click()
    expect(page.get_by_test_id("dialog-title")).to_have_text("Test Fault relay?")
    _assert_fits(page, "output test dialog", phone=True)
    page.get_by_test_id("dialog-minutes").fill("11")
    page.get_by_test_id("dialog-reason").fill("Monthly check of the fault lamp")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("dialog-error")).to_contain_text("10")  # at most 10 minutes: refused, said why
    shots(page, "output-test-refused")
    page.get_by_test_id("dialog-minutes").fill("2")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("dialog")).to_be_hidden()
    expect(page.get_by_test_id("output-state-fault-relay")).to_have_text("Dropped: an admin's test")
    expect(page.get_by_test_id("output-test-fault-relay")).to_have_text(re.compile(rf"^Test until {HHMM}$"))
    _assert_fits(page, "outputs under test", phone=True)
    shots(page, "fault-relay-under-test")

    _visit(page, "alarms")
    expect(page.locator(TRIP_INCIDENT)).to_have_count(1)
    before = len(webhook)
    page.get_by_test_id("notify-test").click()
    expect(page.get_by_test_id("notify-test-results")).to_contain_text("Delivered")
    expect(page.get_by_test_id("incident-msg")).to_contain_text("Test delivered to 1 address")
    assert len(webhook) > before
    assert any("test" in json.dumps(body).lower() for body in webhook[before:])
    _assert_fits(page, "alarms with incidents", phone=True)
    shots(page, "test-notification")


def test_operator_on_a_phone_runs_a_bump_test_and_sees_test_alarms(
    sized_page: Callable[[dict[str, int]], Page], shots: Any, leak: Any
) -> None:
    page = sized_page(PHONE)
    _sign_in(page, "otto")
    expect(page.get_by_test_id("channel-test-kitchen-ch2")).to_have_count(0)

    # The channel reading gas cannot go into TEST: the core's answer is shown in the dialog.
    page.get_by_test_id("channel-test-button-kitchen-ch1").click()
    expect(page.get_by_test_id("dialog-title")).to_have_text("Put Above the range in TEST?")
    _assert_fits(page, "channel test dialog", phone=True)
    page.get_by_test_id("dialog-reason").fill("Bump test with 2.5 % methane")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("dialog-error")).not_to_be_empty()
    shots(page, "channel-test-refused")
    page.get_by_test_id("dialog-cancel").click()

    page.get_by_test_id("channel-test-button-kitchen-ch2").click()
    page.get_by_test_id("dialog-minutes").fill("15")
    page.get_by_test_id("dialog-reason").fill("Bump test with 2.5 % methane")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("dialog")).to_be_hidden()
    badge = page.get_by_test_id("channel-test-kitchen-ch2")
    expect(badge).to_have_text(re.compile(rf"^In TEST until {HHMM}$"))
    expect(page.get_by_test_id("channel-end-test-kitchen-ch2")).to_be_visible()
    _assert_fits(page, "overview with a channel in TEST", phone=True)
    shots(page, "channel-in-test")

    # Test gas on the detector in TEST: its A2 is a test alarm, tagged; the real one is not.
    leak.send_ppm("kitchen-ch2", 15000)
    _visit(page, "alarms")
    expect(page.get_by_test_id(f"alarm-test-{A2_CH2}")).to_have_text("TEST")
    expect(page.get_by_test_id(f"alarm-row-{A2_CH2}")).to_have_attribute("data-test-alarm", "true")
    expect(page.get_by_test_id(f"alarm-test-{A2_CH1}")).to_have_count(0)
    page.get_by_test_id("alarm-history-load").click()
    expect(page.get_by_test_id("alarm-history-test").first).to_have_text("TEST")
    _assert_fits(page, "alarms with a test alarm", phone=True)
    shots(page, "test-alarm")

    _visit(page, "events")
    tagged = page.get_by_test_id("event-details").filter(has=page.get_by_test_id("event-test")).first
    expect(tagged).to_contain_text("Test alarm: Alarm (A2) on detector Near the floor")
    shots(page, "test-alarm-event")

    # The gas gone, the test ends: the detector votes again and the badge goes.
    leak.send_ppm("kitchen-ch2", 0)
    _visit(page, "overview")
    page.get_by_test_id("channel-end-test-kitchen-ch2").click()
    expect(page.get_by_test_id("toast-text")).to_contain_text("Test of Near the floor ended")
    expect(badge).to_have_count(0)
    expect(page.get_by_test_id("channel-test-button-kitchen-ch2")).to_be_visible()
    shots(page, "test-ended")


def test_a_test_alarm_leaves_a_silenced_sounder_silenced(
    sized_page: Callable[[dict[str, int]], Page], shots: Any, leak: Any
) -> None:
    headers = {"Authorization": f"Bearer {leak.admin_token}"}
    leak.send_ppm("kitchen-ch2", 0)
    started = leak.client.post(
        "/api/v1/channels/kitchen-ch2/test", json={"reason": "bump test", "minutes": 5}, headers=headers
    )
    assert started.status_code == 200, started.text
    silenced = leak.client.post("/api/v1/outputs/kitchen-sounder/silence", json={"reason": ""}, headers=headers)
    assert silenced.status_code == 200, silenced.text
    page = sized_page(LAPTOP)
    _sign_in(page, "otto")
    _visit(page, "valves")
    sounder = page.get_by_test_id("output-state-kitchen-sounder")
    expect(sounder).to_have_text("Sounding (steady), silenced")
    try:
        leak.send_ppm("kitchen-ch2", 15000)  # test gas: a test alarm, which drives no output
        page.wait_for_timeout(1500)
        shots(page, "after-test-gas")
        expect(sounder).to_have_text("Sounding (steady), silenced", timeout=2000)
    finally:
        leak.send_ppm("kitchen-ch2", 0)
        leak.client.post("/api/v1/channels/kitchen-ch2/end-test", json={"reason": ""}, headers=headers)


def test_viewer_sees_outputs_and_incidents_but_no_control(
    sized_page: Callable[[dict[str, int]], Page], shots: Any
) -> None:
    page = sized_page(LAPTOP)
    _sign_in(page, "vera")
    expect(page.get_by_test_id("channel-row-kitchen-ch1")).to_be_visible()
    expect(page.locator("[data-testid^='channel-test-button-'], [data-testid^='channel-end-test-']")).to_have_count(0)
    _visit(page, "valves")
    expect(page.get_by_test_id("output-state-kitchen-sounder")).to_be_visible()
    expect(page.locator("[data-testid^='output-silence-'], [data-testid^='output-test-button-']")).to_have_count(0)
    _visit(page, "alarms")
    expect(page.locator(TRIP_INCIDENT)).to_have_count(1)
    expect(page.locator("[data-testid^='incident-ack-'], [data-testid='notify-test']")).to_have_count(0)
    shots(page, "viewer-alarms")
