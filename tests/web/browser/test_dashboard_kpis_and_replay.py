"""The weekly alarm figures on the Health screen and the what-if replay in the admin view, against a real
``gasguard serve``, on a laptop and a 390 px phone.

A warning goes off (6,000 ppm methane, 12 %LEL); a viewer sees it counted in this week's row of the site
and of its zone, with the same numbers the API gives. An admin pastes a proposed site file: first a
broken one (the API's named 422 is shown as it is), then one whose A2 is 10 %LEL, and the replay of the
last minutes shows the trip that proposal would have added. Nothing is wider than the window, no
Content-Security-Policy violation happens, and on the phone every control is 44 px.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from typing import Any

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # without the package: skip with the reason, but never under CI
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

from web.browser.test_dashboard_maintenance_stroke_proof import (
    LAPTOP,
    PASSWORD,
    PHONE,
    VIEWPORTS,
    check_layout,
    open_page,
)

PROPOSED_A2_AT_10 = """\
sites:
  - id: test
    name: Browser test site
    zones:
      - id: kitchen
        name: Kitchen
        voting: {k: 1}
        channels:
          - {id: kitchen-ch1, name: Above the range, gas: methane, unit: ppm, warmup_s: 0, stale_timeout_s: 3600,
             setpoints: {a1: 5, a2: 10, a3: 40}}
          - {id: kitchen-ch2, name: Near the floor, gas: methane, unit: ppm, warmup_s: 0, stale_timeout_s: 3600,
             setpoints: {a1: 5, a2: 10, a3: 40}}
        valves:
          - {id: kitchen-valve, name: Kitchen gas main, travel_time_s: 1}
"""

_warned: list[float] = []


def warn_once(server: Any) -> None:
    """One warning in this module's service: 6,000 ppm methane (12 %LEL) on the floor detector, then clean air."""
    if _warned:
        return
    server.send_ppm("kitchen-ch2", 0.0)
    time.sleep(1.1)
    server.send_ppm("kitchen-ch2", 6000.0)
    time.sleep(1.1)
    server.send_ppm("kitchen-ch2", 0.0)
    _warned.append(time.time())


def sign_in(page: Page, username: str, screen: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")
    page.get_by_test_id(f"nav-{screen}").click()


@VIEWPORTS
def test_viewer_sees_this_weeks_alarm_figures_per_site_and_zone(
    viewport: dict[str, int], pages_sized_for: Any, server: Any, shots: Any
) -> None:
    warn_once(server)
    page = open_page(pages_sized_for, server, viewport)
    sign_in(page, "vera", "health")
    table = page.get_by_test_id("maintenance-kpi-table")
    expect(table).to_be_visible()
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    weekly = server.client.get("/api/v1/maintenance/kpis/weekly?weeks=4", headers=headers).json()
    this_week = max(weekly, key=lambda w: w["week_start"])
    assert this_week["annunciations"] >= 1
    [zone] = this_week["zones"]
    assert zone["zone"] == "kitchen" and zone["annunciations"] == this_week["annunciations"]
    site_row = page.get_by_test_id("maintenance-kpi-test-0")  # this week, first
    zone_row = page.get_by_test_id("maintenance-kpi-test-kitchen-0")
    expect(table.locator("tbody tr")).to_have_count(8)  # 4 weeks, the site and its one zone
    expect(table.locator("tbody tr").first).to_have_attribute("data-testid", "maintenance-kpi-test-0")
    cells = site_row.locator("td")
    expect(cells.nth(1)).to_have_text("Site test")
    expect(cells.nth(2)).to_have_text(str(this_week["annunciations"]))
    rate = this_week["per_operator_per_10min"]
    expect(cells.nth(3)).to_have_text(f"{rate['average']:.2f} / {rate['peak']:.1f}")
    expect(cells.nth(4)).to_have_text(f"{rate['flood_pct']:.1f} %")
    expect(cells.nth(10)).to_have_text(str(this_week["time_to_ack_s"]["not_acknowledged"]))
    expect(zone_row.locator("td").nth(1)).to_have_text("Kitchen")
    expect(zone_row.locator("td").nth(2)).to_have_text(str(zone["annunciations"]))
    page.get_by_test_id("maintenance-kpi-weeks").select_option("8")
    page.get_by_test_id("maintenance-kpi-show").click()
    expect(table.locator("tbody tr")).to_have_count(16)
    check_layout(page, viewport is PHONE)
    page.get_by_test_id("maintenance-kpi-tools").scroll_into_view_if_needed()
    shots(page, "weekly-alarm-kpis")


def _local(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%dT%H:%M")


@VIEWPORTS
def test_admin_replays_a_proposed_site_file_and_sees_the_trip_it_adds(
    viewport: dict[str, int], pages_sized_for: Any, server: Any, shots: Any
) -> None:
    warn_once(server)
    page = open_page(pages_sized_for, server, viewport)
    sign_in(page, "ada", "admin")
    panel = page.get_by_test_id("replay-panel")
    expect(panel.get_by_role("heading", name="What-if replay")).to_be_visible()

    panel.get_by_label("Proposed site file (YAML)").fill("sites: [\n  - id: broken")
    panel.get_by_test_id("replay-start").click()
    error = panel.get_by_test_id("replay-error")
    expect(error).to_have_text(re.compile(r"^config: not valid YAML: "))
    check_layout(page, viewport is PHONE, within="[data-testid='replay-panel']")
    shots(page, "replay-bad-yaml")

    warned = _warned[0]
    panel.get_by_label("Proposed site file (YAML)").fill(PROPOSED_A2_AT_10)
    panel.get_by_label("From", exact=True).fill(_local(warned - 600))
    panel.get_by_label("To", exact=True).fill(_local(warned + 120))  # a period ending later is cut at now
    panel.get_by_test_id("replay-start").click()
    expect(error).to_be_hidden()
    expect(panel.get_by_test_id("replay-status")).to_contain_text("Replay done", timeout=60_000)
    added_trip = panel.locator("[data-testid='replay-change'][data-change='added'][data-kind='trip']")
    expect(added_trip).to_have_count(1)
    expect(added_trip.locator("td").nth(1)).to_have_text("Trip of Kitchen")
    expect(added_trip.locator("td").nth(0)).to_have_text("Added")
    added_a2 = panel.locator("[data-testid='replay-change'][data-change='added'][data-kind='alarm']")
    expect(added_a2.locator("td").nth(1)).to_have_text(["A2 on Near the floor"])
    expect(panel.get_by_test_id("replay-summary-trips")).to_contain_text(
        re.compile(r"^Trips: \d+ real, \d+ replayed; ")
    )
    check_layout(page, viewport is PHONE, within="[data-testid='replay-panel']")
    panel.scroll_into_view_if_needed()
    shots(page, "replay-result")


def test_operator_and_viewer_have_no_replay(pages_sized_for: Any, server: Any) -> None:
    for user in ("otto", "vera"):
        page = open_page(pages_sized_for, server, LAPTOP)
        page.goto("/")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("conn-status")).to_have_text("Live")
        expect(page.get_by_test_id("nav-admin")).to_have_count(0)
        expect(page.get_by_test_id("replay-panel")).to_have_count(0)
