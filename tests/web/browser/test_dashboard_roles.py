"""Who may do what, keyboard use and contrast, and what the page does when the live feed drops.

All against one ``gasguard serve`` whose zone is tripped by a leak at the start of the module, so every
control a role could see is on screen.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

try:
    from playwright.sync_api import Page, WebSocketRoute, expect
except ImportError:  # without the package: skip with the reason, but never under CI
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        raise
    pytest.skip("the playwright package is not installed (pip install -e '.[test]')", allow_module_level=True)

A2 = "kitchen/kitchen-ch1/A2"
SCREENS = ("overview", "alarms", "valves", "cameras", "history", "events", "health")

# Everything that changes the plant or its alarms. A viewer must see none of them.
CONTROLS = (
    "[data-testid^='alarm-ack-'], [data-testid^='alarm-shelve-'], [data-testid^='alarm-unshelve-'], "
    "[data-testid^='zone-reset-'], [data-testid^='valve-close-'], [data-testid^='valve-open-'], "
    "[data-testid^='valve-reset-']"
)

# WCAG 2.1 contrast of every visible element's own text against its effective background.
CONTRAST_PROBE = """
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c && c.a >= 0.9) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor);
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility() || el.closest(".visually-hidden, svg, .uplot")) continue;
    const fg = parse(getComputedStyle(el).color);
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const text = el.textContent.trim().slice(0, 40);
    if (ratio < 4.5) failures.push(`${el.tagName.toLowerCase()} "${text}": ${ratio.toFixed(2)}`);
  }
  return failures;
}
"""

# Form fields without a label, and buttons or links without an accessible name.
UNLABELLED_PROBE = """
() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!el.checkVisibility()) continue;
    const named =
      (el.labels && el.labels.length) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) bad.push(`${el.tagName.toLowerCase()}#${el.id}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!el.checkVisibility()) continue;
    const name = el.getAttribute("aria-label") || el.textContent.trim();
    if (!name) bad.push(`${el.tagName.toLowerCase()} without a name`);
  }
  return bad;
}
"""


@pytest.fixture(scope="module")
def leak(server: Any) -> Any:
    """A leak trips the zone: alarms are active, the valve is closed, a reset is pending."""
    server.send_ppm("kitchen-ch2", 0)
    server.send_ppm("kitchen-ch1", 15000)
    return server


def _visit(page: Page, screen: str) -> None:
    page.get_by_test_id(f"nav-{screen}").click()
    expect(page.locator("main")).to_have_attribute("data-view", screen)


def test_viewer_sees_the_leak_but_no_control_anywhere(
    leak: Any, new_page: Callable[[], Page], sign_in: Callable[[Page, str], None], shots: Any
) -> None:
    page = new_page()
    sign_in(page, "vera")
    expect(page.get_by_test_id("zone-card-kitchen")).to_have_attribute("data-status", "tripped")
    expect(page.get_by_test_id("channel-lel-kitchen-ch1")).to_have_text("30.0")
    shots(page, "viewer-overview")

    _visit(page, "alarms")
    expect(page.get_by_test_id(f"alarm-row-{A2}")).to_be_visible()
    expect(page.get_by_test_id("reset-row-kitchen")).to_be_visible()
    shots(page, "viewer-alarms")
    _visit(page, "valves")
    expect(page.get_by_test_id("valve-state-kitchen-valve")).to_have_text("Closed")
    shots(page, "viewer-valves")
    for screen in SCREENS:
        _visit(page, screen)
        expect(page.locator(CONTROLS)).to_have_count(0)
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)

    # Typing the admin screen's address does not show it either.
    page.goto("/#/admin")
    expect(page.locator("main")).to_have_attribute("data-view", "overview")
    expect(page.get_by_test_id("users-table")).to_have_count(0)


def test_operator_acknowledges_with_the_keyboard_and_has_no_admin_screen(
    leak: Any, new_page: Callable[[], Page], shots: Any
) -> None:
    page = new_page()
    page.goto("/")
    # Sign in with the keyboard only: the username field has focus when the page opens.
    expect(page.get_by_test_id("login-username")).to_be_focused()
    page.keyboard.type("otto")
    page.keyboard.press("Tab")
    page.keyboard.type("correct-horse-battery-staple")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)

    # Focus moves into the content; Tab goes through each detector's "Test…" in reading order, then
    # reaches the zone's alarm link, and Enter follows it.
    expect(page.locator("main")).to_be_focused()
    for testid in ("channel-test-button-kitchen-ch1", "channel-test-button-kitchen-ch2", "zone-alarms-kitchen"):
        page.keyboard.press("Tab")
        expect(page.get_by_test_id(testid)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_have_attribute("data-view", "alarms")

    ack = page.get_by_test_id(f"alarm-ack-{A2}")
    ack.focus()
    assert ack.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"  # the focus ring is drawn
    page.keyboard.press("Enter")
    expect(page.get_by_test_id(f"alarm-state-{A2}")).to_have_text("Acknowledged")

    # Shelving opens a modal dialog that takes the focus; Escape cancels it and nothing is shelved.
    page.get_by_test_id(f"alarm-shelve-{A2}").focus()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("dialog")).to_be_visible()
    expect(page.get_by_label("For how many minutes (1-1440)")).to_be_focused()
    shots(page, "operator-shelve-dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("dialog")).to_be_hidden()
    expect(page.get_by_test_id(f"alarm-state-{A2}")).to_have_text("Acknowledged")


def test_every_screen_has_labels_and_readable_contrast(
    leak: Any, new_page: Callable[[], Page], sign_in: Callable[[Page, str], None]
) -> None:
    page = new_page()
    page.goto("/")
    assert page.evaluate(UNLABELLED_PROBE) == []
    assert page.evaluate(CONTRAST_PROBE) == []
    sign_in(page, "ada")
    for screen in (*SCREENS, "admin"):
        _visit(page, screen)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(UNLABELLED_PROBE) == [], screen
        assert page.evaluate(CONTRAST_PROBE) == [], screen


def test_admin_issues_a_device_token_that_works_and_revokes_it(
    leak: Any, new_page: Callable[[], Page], sign_in: Callable[[Page, str], None], shots: Any
) -> None:
    page = new_page()
    sign_in(page, "ada")
    _visit(page, "admin")
    for name in ("ada", "otto", "vera"):
        expect(page.get_by_test_id(f"user-row-{name}")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("range-hood-detector")
    page.get_by_test_id("new-token-submit").click()
    page.get_by_label("Reason (required)").fill("New detector above the range hood")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("token-issued")).to_contain_text("range-hood-detector")
    token = page.get_by_test_id("token-value").inner_text()
    shots(page, "admin-token-issued")
    reading = {"channel": "kitchen-ch2", "ts": time.time(), "value": 0}
    as_device = {"Authorization": f"Bearer {token}"}
    accepted = httpx.post(f"{leak.url}/api/v1/ingest/readings", json=reading, headers=as_device)
    assert accepted.status_code == 202

    page.get_by_test_id("token-revoke-range-hood-detector").click()
    page.get_by_label("Reason (required)").fill("Detector replaced")
    page.get_by_test_id("dialog-confirm").click()
    expect(page.get_by_test_id("admin-msg")).to_have_text("Token range-hood-detector revoked.")
    expect(page.get_by_test_id("token-row-range-hood-detector")).to_have_count(0)
    refused = httpx.post(f"{leak.url}/api/v1/ingest/readings", json=reading, headers=as_device)
    assert refused.status_code == 401


@pytest.fixture
def cuttable_feed(new_page: Callable[[], Page]) -> Iterator[tuple[Page, dict[str, Any]]]:
    """A page whose WebSocket goes through a switch: `cut()` drops it, `blocked` refuses reconnects."""
    page = new_page()
    state: dict[str, Any] = {"blocked": False, "open": []}

    def handler(ws: WebSocketRoute) -> None:
        if state["blocked"]:
            ws.close(code=1013, reason="try again later")
            return
        ws.connect_to_server()
        state["open"].append(ws)

    def cut() -> None:
        state["blocked"] = True
        for ws in state["open"]:
            ws.close(code=1012, reason="service restart")
        state["open"].clear()

    page.route_web_socket(re.compile(r".*/api/v1/ws$"), handler)
    state["cut"] = cut
    yield page, state


def test_lost_feed_shows_stale_data_and_catches_up_after_reconnecting(
    leak: Any, cuttable_feed: tuple[Page, dict[str, Any]], sign_in: Callable[[Page, str], None], shots: Any
) -> None:
    page, feed = cuttable_feed
    sign_in(page, "vera")
    expect(page.get_by_test_id("stale-banner")).to_be_hidden()
    before = page.get_by_test_id("channel-value-kitchen-ch2").inner_text()

    feed["cut"]()
    banner = page.get_by_test_id("stale-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Live connection lost: the values shown may be out of date.")
    expect(page.get_by_test_id("conn-status")).not_to_have_text("Live")
    leak.send_ppm("kitchen-ch2", 2500)  # 5 %LEL, while the page cannot hear about it
    expect(page.get_by_test_id("channel-value-kitchen-ch2")).to_have_text(before)
    shots(page, "stale-banner")

    feed["blocked"] = False
    page.get_by_test_id("stale-reconnect").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")
    expect(banner).to_be_hidden()
    expect(page.get_by_test_id("channel-value-kitchen-ch2")).to_have_text("2500 ppm")
    expect(page.get_by_test_id("channel-lel-kitchen-ch2")).to_have_text("5.0")
    shots(page, "reconnected")
