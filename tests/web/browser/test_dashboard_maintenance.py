"""Maintenance on the Health screen, against a real ``gasguard serve``, on a laptop and a 390 px phone.

The test site has no maintenance block, so the default intervals apply (bump test 30 days,
calibration 180, proof test 365) and nothing has been done yet: everything is "Never done". One bump
test of the detector above the range is recorded through the API as a technician's kit would; the
screen then shows it in date (behind "Show all"), lists the record by the detector's name, and says
whether drift has been worked out. On the phone every control is at least 44 px high and nothing is
wider than the window.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

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

SMALL_TARGETS = """
() => [...document.querySelectorAll("button, a[href], input, select, textarea, summary")]
  .filter((el) => el.checkVisibility())
  .filter((el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.right > 0 && r.left < innerWidth; })
  .filter((el) => el.getBoundingClientRect().height < 44)
  .map((el) => `${el.tagName.toLowerCase()} ${el.dataset.testid || el.id || el.textContent.trim().slice(0, 30)}`)
"""


@pytest.fixture(scope="module")
def recorded(server: Any) -> Any:
    """One passed bump test of kitchen-ch1, recorded through the API."""
    response = server.client.post(
        "/api/v1/maintenance/bump-tests",
        json={
            "channel": "kitchen-ch1",
            "gas": "methane",
            "applied_lel_pct": 50,
            "peak_lel_pct": 49,
            "t90_s": 18,
            "note": "Monthly bump test, cylinder lot 4411",
        },
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    assert response.status_code == 201, response.text
    return server


@pytest.fixture
def sized_page(
    pages_sized_for: Callable[[str], Callable[[dict[str, int]], Page]], recorded: Any
) -> Callable[[dict[str, int]], Page]:
    return pages_sized_for(recorded.url)


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone-390x844", "laptop-1366x768"])
def test_health_screen_shows_what_is_due_the_records_and_drift(
    viewport: dict[str, int], sized_page: Callable[[dict[str, int]], Page], shots: Any
) -> None:
    phone = viewport is PHONE
    page = sized_page(viewport)
    page.goto("/")
    page.get_by_label("Username").fill("otto")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")
    page.get_by_test_id("nav-health").click()
    expect(page.get_by_test_id("health-table")).to_be_visible()  # health is still there, above

    panel = page.get_by_test_id("maintenance-panel")
    expect(panel.get_by_role("heading", name="Maintenance")).to_be_visible()
    due = page.get_by_test_id("maintenance-due")
    # Never calibrated, never proof-tested: listed by name, most urgent first; the bump test is in date.
    calibration = page.get_by_test_id("maintenance-due-calibration-kitchen-ch1")
    expect(calibration).to_contain_text("Calibration")
    expect(calibration).to_contain_text("Above the range")
    expect(calibration).to_contain_text("Never done")
    expect(page.get_by_test_id("maintenance-due-proof_test-kitchen")).to_contain_text("Proof test")
    expect(page.get_by_test_id("maintenance-due-bump-kitchen-ch1")).to_have_count(0)
    expect(page.get_by_test_id("maintenance-due-summary")).to_have_text(re.compile(r"^\d+ of \d+ need attention"))
    page.get_by_test_id("maintenance-due-toggle").click()
    bump = page.get_by_test_id("maintenance-due-bump-kitchen-ch1")
    expect(bump).to_contain_text("In date")
    expect(bump).to_contain_text("(passed)")
    expect(due.locator("tbody tr")).to_have_count(5)  # 2 bump tests, 2 calibrations, 1 proof test

    record = page.get_by_test_id("maintenance-record").first
    expect(record).to_contain_text("Bump test")
    expect(record).to_contain_text("Above the range")
    expect(record).to_contain_text("Passed")
    expect(record).to_contain_text("cylinder lot 4411")
    expect(page.get_by_test_id("maintenance-drift")).to_contain_text(re.compile(r"drift|Not worked out", re.I))

    page.wait_for_timeout(250)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{width[0]} px wide in a {width[1]} px window"
    if phone:
        assert page.evaluate(SMALL_TARGETS) == []
    shots(page, "maintenance")
