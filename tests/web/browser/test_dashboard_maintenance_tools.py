"""Maintenance tools on the Health screen, against a real ``gasguard serve``, on a laptop and a 390 px phone.

An operator records a bump test and a calibration with the forms (bad input first: the 422's detail,
which names the field, is shown in the form), starts a guided bump test through the reason dialog, sees
it running and ends it. A viewer sees no forms, but a drift chart per detector (uPlot: zero points, trend,
tolerance band) and downloads the report as a PDF and as a zip of CSVs. On both screens nothing is wider
than the window, no Content-Security-Policy violation happens, and on the phone every control is 44 px.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # without the package: skip with the reason, but never under CI
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

PASSWORD = "correct-horse-battery-staple"  # conftest's, for every test user
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone-390x844", "laptop-1366x768"])

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


@pytest.fixture
def sized_page(browser: Browser, server: Any) -> Iterator[Callable[[dict[str, int]], Page]]:
    contexts: list[Any] = []
    errors: list[str] = []
    csp: list[str] = []

    def make(viewport: dict[str, int]) -> Page:
        context = browser.new_context(viewport=viewport, base_url=server.url, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                csp.append(m.text)
                if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text
                else None
            ),
        )
        page.__dict__["csp"] = csp
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"script errors in the page: {errors}"
    assert not csp, f"CSP violations: {csp}"


def sign_in(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")
    page.get_by_test_id("nav-health").click()
    expect(page.get_by_test_id("maintenance-panel").get_by_role("heading", name="Maintenance")).to_be_visible()


def check_layout(page: Page, phone: bool) -> None:
    page.wait_for_timeout(250)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{width[0]} px wide in a {width[1]} px window"
    if phone:
        assert page.evaluate(SMALL_TARGETS) == []
    assert page.evaluate(INLINE_HANDLERS) == []
    assert page.evaluate("window.__cspViolations") == []


@VIEWPORTS
def test_operator_records_work_and_runs_a_guided_bump_test(
    viewport: dict[str, int], sized_page: Callable[[dict[str, int]], Page], shots: Any
) -> None:
    phone = viewport is PHONE
    page = sized_page(viewport)
    sign_in(page, "otto")

    # A bump test done with a kit: a bad concentration first, refused with the field named, then a good one.
    page.get_by_test_id("maintenance-record-bump").click()
    form = page.get_by_test_id("maint-bump-form")
    expect(form).to_be_visible()
    form.get_by_label("Detector").select_option("kitchen-ch2")
    form.get_by_label("Gas applied (%LEL)").fill("150")
    form.get_by_label("Highest reading (%LEL)").fill("48")
    form.get_by_label("T90 in seconds (optional)").fill("21")
    form.get_by_label("Note (optional)").fill("Kit bump, cylinder lot 5521")
    form.get_by_test_id("maint-bump-submit").click()
    error = page.get_by_test_id("maint-bump-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("applied_lel_pct")
    shots(page, "bump-form-refused")
    form.get_by_label("Gas applied (%LEL)").fill("50")
    form.get_by_test_id("maint-bump-submit").click()
    expect(form).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_contain_text("Bump test recorded")
    records = page.get_by_test_id("maintenance-records")
    expect(records).to_contain_text("cylinder lot 5521")

    # A calibration whose as-left span is far off the span gas: the service's 422 names the field.
    page.get_by_test_id("maintenance-record-calibration").click()
    cal = page.get_by_test_id("maint-calibration-form")
    expect(cal).to_be_visible()
    cal.get_by_label("Span gas concentration (channel unit)").fill("2500")
    cal.get_by_label("As-left zero").fill("0")
    cal.get_by_label("As-left span").fill("999999")
    cal.get_by_test_id("maint-calibration-submit").click()
    cal_error = page.get_by_test_id("maint-calibration-error")
    expect(cal_error).to_be_visible()
    expect(cal_error).to_contain_text(re.compile(r"^as_left_span|as_left_span:"))
    shots(page, "calibration-form-refused")
    cal.get_by_label("As-left span").fill("2490")
    cal.get_by_label("Note (optional)").fill("Six-monthly calibration")
    cal.get_by_test_id("maint-calibration-submit").click()
    expect(cal).to_be_hidden()
    expect(records).to_contain_text("Six-monthly calibration")

    # A guided bump test: started through the reason dialog, listed while it runs, ended.
    expect(page.get_by_test_id("maintenance-tests-empty")).to_be_visible()
    page.get_by_test_id("maintenance-start-bump").click()
    expect(page.get_by_test_id("dialog-title")).to_have_text("Start a bump test?")
    page.get_by_test_id("dialog-channel").select_option("kitchen-ch1")
    page.get_by_test_id("dialog-reason").fill("Monthly bump test")
    shots(page, "start-bump-dialog")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("dialog-title")).to_be_hidden()
    running = page.get_by_test_id("maintenance-test")
    expect(running).to_have_count(1)
    expect(running).to_contain_text("Bump test of Kitchen — Above the range")
    check_layout(page, phone)
    shots(page, "bump-test-running")
    running.get_by_role("button", name="End").click()
    expect(page.get_by_test_id("maintenance-tests-empty")).to_be_visible()
    check_layout(page, phone)
    shots(page, "operator-tools")


@VIEWPORTS
def test_viewer_sees_drift_chart_and_downloads_the_report(
    viewport: dict[str, int], sized_page: Callable[[dict[str, int]], Page], shots: Any
) -> None:
    phone = viewport is PHONE
    page = sized_page(viewport)
    sign_in(page, "vera")
    expect(page.get_by_test_id("maintenance-record-bump")).to_have_count(0)
    expect(page.get_by_test_id("maintenance-start-bump")).to_have_count(0)

    chart = page.get_by_test_id("maintenance-drift-chart")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("maintenance-drift-status")).to_contain_text("Tolerance")
    page.get_by_test_id("maintenance-drift-channel").select_option("kitchen-ch2")
    page.get_by_test_id("maintenance-drift-days").select_option("30")
    page.get_by_test_id("maintenance-drift-show").click()
    expect(chart.locator(".u-title")).to_contain_text("Near the floor")
    expect(chart.locator("canvas")).to_have_count(1)

    with page.expect_download() as pdf:
        page.get_by_test_id("maintenance-report-pdf").click()
    assert pdf.value.suggested_filename.endswith(".pdf")
    with open(pdf.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    with page.expect_download() as csv:
        page.get_by_test_id("maintenance-report-csv").click()
    assert csv.value.suggested_filename.endswith(".zip")
    expect(page.get_by_test_id("maintenance-report-status")).to_contain_text("Downloaded")

    check_layout(page, phone)
    page.get_by_test_id("maintenance-drift-tools").scroll_into_view_if_needed()
    shots(page, "viewer-drift-and-report")
