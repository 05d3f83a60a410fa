"""Retake the README's screenshots from ``gasguard demo`` during the kitchen trip (not a test).

    python tests/web/browser/take_readme_screenshots.py [--speed 3] [--all-screens DIR]

Starts the demo on a free port with a fresh data folder, signs in at 1366x768 and at 390x844, waits
until the kitchen has tripped and its valve has closed by itself, and writes docs/dashboard.png (laptop)
and docs/dashboard-phone.png (phone), both of the Overview. ``--all-screens DIR`` also saves every
screen at both sizes there, to look at before calling a change to the dashboard done.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

REPO_ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = os.environ.get("GASGUARD_CHROMIUM", "/usr/bin/chromium")
SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
OUTPUT = {"laptop": REPO_ROOT / "docs" / "dashboard.png", "phone": REPO_ROOT / "docs" / "dashboard-phone.png"}
TRIPPED_BY_THE_LEAK = """
() => {
  const card = document.querySelector('[data-testid="zone-card-kitchen"]');
  const cause = document.querySelector('[data-testid="zone-trip-cause-kitchen"]');
  const valve = document.querySelector('[data-testid="zone-valve-kitchen-valve"]');
  return Boolean(card && cause && valve) && card.dataset.status === "tripped" &&
    !cause.textContent.includes("cold start") && valve.textContent.includes("Closed");
}
"""
SCREENS = ("overview", "alarms", "valves", "cameras", "history", "events", "health", "admin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_demo(speed: float, folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    log_path = folder / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GASGUARD_")}
    command = [sys.executable, "-m", "gasguard", "demo", "--port", str(port), "--speed", str(speed)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--data-dir", str(folder / "data")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(r"sign in as: admin / (\S+)", log_path.read_text(errors="replace"))
        if found:
            return process, f"http://127.0.0.1:{port}", found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.25)
    process.kill()
    raise SystemExit(f"the demo did not start:\n{log_path.read_text(errors='replace')}")


def _sign_in(page: Page, password: str) -> None:
    page.goto("/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("conn-status")).to_have_text("Live")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=3.0, help="demo storyline speed")
    parser.add_argument("--all-screens", type=Path, help="also save every screen at both sizes here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, url, password = _start_demo(args.speed, Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
                pages = {}
                for size, viewport in SIZES.items():
                    page = browser.new_context(viewport=viewport, base_url=url).new_page()
                    _sign_in(page, password)
                    pages[size] = page
                # The leak's trip (not the cold start's): the kitchen card turns red and its valve reports
                # closed, closed by GasGuard.
                pages["laptop"].wait_for_function(TRIPPED_BY_THE_LEAK, timeout=600_000)
                for size, page in pages.items():
                    page.wait_for_timeout(1500)  # sparklines catch up
                    if size == "phone" and page.get_by_test_id("toast").is_visible():
                        page.get_by_label("Dismiss notice").click()  # on a phone it would hide the zone card
                    page.screenshot(path=str(OUTPUT[size]))
                    print(f"wrote {OUTPUT[size].relative_to(REPO_ROOT)}")
                if args.all_screens:
                    args.all_screens.mkdir(parents=True, exist_ok=True)
                    for size, page in pages.items():
                        for screen in SCREENS:
                            page.get_by_test_id(f"nav-{screen}").click()
                            page.wait_for_timeout(1500)
                            page.screenshot(path=str(args.all_screens / f"{size}-{screen}.png"), full_page=True)
                    print(f"every screen in {args.all_screens}")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
