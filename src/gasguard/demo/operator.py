"""The demo's scripted operator: acknowledges, resets once the gas has gone, reopens with a reason.

It acts only through ``Runtime.operate``, the same path as the REST API, so the safety core may refuse
it exactly as it would refuse a person, and every action is in the audit log under the name
``demo-operator`` with a reason that starts with "demo script:".

It behaves like a careful person on shift, so the audit log reads as a lesson rather than a list of
refusals: it acknowledges an alarm a few story seconds after it appears (acknowledge is not reset);
after a trip it waits until every detector of the zone reads clear *and* no alarm condition of the
zone is still present (an A2 above its clear level, a FAULT, the camera's ML hold), counted from the
trip on, and only then resets, with a reason; once the reset is accepted it reopens the valve, with a
reason. A reset refused by the core is still possible (the core decides, not the script), and it is
retried no sooner than ``RETRY_S`` later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gasguard.demo.plant import DemoPlant
from gasguard.domain import OperatorAction, OperatorCommand
from gasguard.readmodel import PlantReadModel
from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

OPERATOR = "demo-operator"


class ScriptedOperator:
    ACK_AFTER_S = 8.0
    """Story seconds an alarm stays unacknowledged before the operator acknowledges it."""
    RESET_AFTER_S = 10.0
    """Story seconds a tripped zone must read clear, with no alarm condition present, before the reset."""
    RETRY_S = 15.0
    """Real seconds between two attempts at the same action (refusals are audited; no spamming)."""
    CLEAR_MARGIN_LEL = 2.0
    """A detector reads clear this far below its A1 (the warning must have gone, not just flickered)."""

    def __init__(self, runtime: Runtime, plant: DemoPlant, *, period_s: float = 0.5) -> None:
        self.runtime = runtime
        self.plant = plant
        self.period_s = period_s
        self._seen_unacked: dict[str, float] = {}
        self._ready_since: dict[str, float] = {}
        self._last_try: dict[tuple[str, str], float] = {}
        self.actions: list[tuple[str, str, bool]] = []

    def _plant(self) -> PlantReadModel:
        plant = self.runtime.services.plant
        assert plant is not None, "the demo runs with build_runtime, which makes the read model"
        return plant

    async def _do(self, action: OperatorAction, target: str, reason: str) -> bool:
        key = (action.value, target)
        now = asyncio.get_running_loop().time()
        if now - self._last_try.get(key, -1e9) < self.RETRY_S:
            return False
        self._last_try[key] = now
        result = await self.runtime.operate(OperatorCommand(action, target, OPERATOR, f"demo script: {reason}"))
        self.actions.append((action.value, target, result.accepted))
        log.info("%s %s %s: %s", OPERATOR, action.value, target, "accepted" if result.accepted else result.message)
        return result.accepted

    @classmethod
    def _gas_clear(cls, zone: dict[str, Any]) -> bool:
        for ch in zone["channels"]:
            if ch["health"] != "ok" or ch["lel_pct"] is None:
                return False
            if ch["lel_pct"] >= ch["setpoints"]["a1"] - cls.CLEAR_MARGIN_LEL:
                return False
        return True

    @classmethod
    def ready_for_reset(cls, zone: dict[str, Any]) -> bool:
        """What a person checks on the panel before a reset: the gas has cleared, and no alarm of the
        zone still has its condition present (the camera's ML alarm stays active while its hold runs)."""
        return cls._gas_clear(zone) and not any(alarm["active"] for alarm in zone["alarms"])

    async def act_once(self) -> None:
        t = self.plant.t
        for zone in self._plant().zones_view():
            for alarm in zone["alarms"]:
                if alarm["acked"] or alarm["state"] in ("normal", "shelved", "out_of_service"):
                    self._seen_unacked.pop(alarm["id"], None)
                    continue
                first = self._seen_unacked.setdefault(alarm["id"], t)
                if t - first >= self.ACK_AFTER_S:
                    await self._do(OperatorAction.ACK, alarm["id"], "alarm seen, going to check")
                    await self._silence_sounders(zone["id"])
            if zone["tripped"]:
                # Counted only while tripped, so the clear spell starts at the trip at the earliest (a
                # camera trip comes while the detectors still read clear).
                if self.ready_for_reset(zone):
                    ready_since = self._ready_since.setdefault(zone["id"], t)
                    if t - ready_since >= self.RESET_AFTER_S:
                        await self._do(OperatorAction.RESET, zone["id"], "gas cleared, zone checked")
                else:
                    self._ready_since.pop(zone["id"], None)
                continue
            self._ready_since.pop(zone["id"], None)
            for valve in zone["valves"]:
                if valve["state"] == "closed" and valve["open_permitted"]:
                    await self._do(OperatorAction.OPEN, valve["id"], "leak repaired, supply restored")

    async def _silence_sounders(self, zone_id: str) -> None:
        """Silence the zone's sounding sounders when the alarm is seen (silence is not acknowledge: the
        story acknowledges too, and the sounder goes steady until the reset)."""
        for output in self._plant().outputs_view():
            if output["kind"] == "sounder" and output["mode"] == "pulsed" and zone_id in output["zones"]:
                await self._do(OperatorAction.SILENCE, output["id"], "heard it, going to check")

    async def run(self, _runtime: Runtime) -> None:
        while True:
            try:
                await self.act_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("demo operator step failed")
            await asyncio.sleep(self.period_s)
