"""A test harness for the API with a live runtime: a real safety pipeline, instant simulated valves and a
clock the test moves by hand. Used by ``tests/web``'s ``live`` fixture."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from gasguard.actuators.simulated import SimulatedValve
from gasguard.config import SiteConfig, parse_site_config
from gasguard.runtime import Runtime
from gasguard.web.testing import ApiHarness

TEST_SITE = """
sites:
  - id: plant
    name: Test plant
    zones:
      - id: kitchen
        name: Kitchen
        channels:
          - {id: kitchen-ch1, name: Above the range, gas: methane, unit: lel_pct, warmup_s: 0, stale_timeout_s: 3600}
          - {id: kitchen-ch2, gas: methane, unit: lel_pct, warmup_s: 0, stale_timeout_s: 3600}
        valves:
          - {id: kitchen-valve, name: Kitchen gas main, travel_time_s: 3}
      - id: boiler
        name: Boiler room
        channels:
          - {id: boiler-ch1, gas: propane, unit: ppm, warmup_s: 0, stale_timeout_s: 3600}
        valves:
          - {id: boiler-valve, travel_time_s: 5}
"""
"""Two zones; sensors need no warm-up and never go stale on their own (the test clock stands still)."""


@dataclass
class LiveHarness(ApiHarness):
    """The API with a running safety pipeline. Runtime state is read on the app's event loop."""

    runtime: Runtime
    valves: dict[str, SimulatedValve]

    def on_loop(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` on the event loop the pipeline runs on (no data race with the safety step)."""

        async def run() -> Any:
            return call()

        portal = self.client.portal
        assert portal is not None, "the test client is not running"
        return portal.call(run)

    def settle(self) -> None:
        """Let the running pipeline process every queued event, then store every event it produced.

        It waits for the pipeline's own loop rather than calling ``drain()``: draining beside the running
        loop could process a later event before the one the loop has already taken (a valve's feedback
        out of order). The inbox is private; reading its size is the one liberty this harness takes.
        """
        pipeline = self.runtime.pipeline

        async def run() -> None:
            idle_rounds = 0
            while idle_rounds < 5:  # the loop may hold one taken event for a few iterations
                await asyncio.sleep(0)
                idle_rounds = idle_rounds + 1 if pipeline._inbox.empty() else 0
            await self.services.recorder.wait_recorded()

        portal = self.client.portal
        assert portal is not None
        portal.call(run)

    def zone(self, zone_id: str) -> dict[str, Any]:
        self.settle()
        zone: dict[str, Any] | None = self.on_loop(lambda: self.runtime.services.plant.zone_view(zone_id))
        assert zone is not None, f"no zone {zone_id}"
        return zone

    def wait_for(self, condition: Callable[[], bool], what: str, attempts: int = 500) -> None:
        """Wait (a real valve moves on real time, even when simulated) until ``condition`` holds."""
        for _ in range(attempts):
            self.settle()
            if self.on_loop(condition):
                return
            time.sleep(0.01)
        raise AssertionError(f"gave up waiting for {what}")

    def _valve_state_now(self, valve_id: str) -> str:
        return next(str(v["state"]) for v in self.runtime.services.plant.valves_view() if v["id"] == valve_id)

    def _valve_is(self, valve_id: str, state: str) -> Callable[[], bool]:
        return lambda: self._valve_state_now(valve_id) == state

    def valve_state(self, valve_id: str) -> str:
        """The core's belief about the valve, after everything queued was processed."""
        self.settle()
        state: str = self.on_loop(lambda: self._valve_state_now(valve_id))
        return state

    def ingest(self, channel: str, value: float | None, headers: dict[str, str]) -> None:
        response = self.client.post(
            "/api/v1/ingest/readings", json={"channel": channel, "ts": self.clock.now, "value": value}, headers=headers
        )
        assert response.status_code == 202, response.text
        self.settle()

    def commission(self) -> dict[str, str]:
        """From the cold-start trip to a running plant: zones reset, valves reopened. Returns otto's headers."""
        otto = self.headers("otto")
        for valve_id in self.valves:
            self.wait_for(self._valve_is(valve_id, "closed"), f"{valve_id} closed")
        for _, zone in self.runtime.site.zones():
            zone_id = zone.id
            reset = self.client.post(f"/api/v1/zones/{zone_id}/reset", json={"reason": "commissioning"}, headers=otto)
            assert reset.status_code == 200, reset.text
        for valve_id in self.valves:
            opened = self.client.post(f"/api/v1/valves/{valve_id}/open", json={"reason": "commissioning"}, headers=otto)
            assert opened.status_code == 200, opened.text
            self.wait_for(self._valve_is(valve_id, "open"), f"{valve_id} open")
        return otto


def make_test_site() -> SiteConfig:
    return parse_site_config(yaml.safe_load(TEST_SITE), "test site")


def make_test_site_with_outputs() -> SiteConfig:
    """The test site with a kitchen sounder (pulsed until silenced, then steady until reset) and the
    system-failure relay."""
    data = yaml.safe_load(TEST_SITE)
    data["sites"][0]["outputs"] = [
        {
            "id": "kitchen-sounder",
            "name": "Kitchen sounder",
            "kind": "sounder",
            "zones": ["kitchen"],
            "levels": ["A2", "A3"],
            "latching": True,
            "pulse_until_silenced": True,
            "when_silenced": "steady",
        },
        {"id": "fault-relay", "kind": "fault_relay", "normally_energised": True},
    ]
    return parse_site_config(data, "test site with outputs")
