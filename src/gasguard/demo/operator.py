"""The demo's scripted operator: acknowledges, resets once the gas has gone, reopens with a reason.

It acts only through ``Runtime.operate``, the same path as the REST API, so the safety core may refuse
it exactly as it would refuse a person, and every action is in the audit log under the name
``demo-operator`` with a reason that starts with "demo script:".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from gasguard.demo.plant import DemoPlant
from gasguard.domain import OperatorAction, OperatorCommand
from gasguard.runtime import Runtime

log = logging.getLogger(__name__)

OPERATOR = "demo-operator"


class ScriptedOperator:
    ACK_AFTER_S = 8.0
    """Story seconds an alarm stays unacknowledged before the operator acknowledges it."""
    RESET_AFTER_S = 10.0
    """Story seconds the zone must read clear before the operator resets it."""
    RETRY_S = 15.0
    """Real seconds between two attempts at the same action (refusals are audited; no spamming)."""

    def __init__(self, runtime: Runtime, plant: DemoPlant, *, period_s: float = 0.5) -> None:
        self.runtime = runtime
        self.plant = plant
        self.period_s = period_s
        self._seen_unacked: dict[str, float] = {}
        self._clear_since: dict[str, float] = {}
        self._last_try: dict[tuple[str, str], float] = {}
        self.actions: list[tuple[str, str, bool]] = []

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

    @staticmethod
    def _clear(zone: dict[str, Any]) -> bool:
        for ch in zone["channels"]:
            if ch["health"] != "ok" or ch["lel_pct"] is None:
                return False
            if ch["lel_pct"] >= ch["setpoints"]["a1"] - 2.0:
                return False
        return True

    async def act_once(self) -> None:
        t = self.plant.t
        for zone in self.runtime.zones_view():
            for alarm in zone["alarms"]:
                if alarm["acked"] or alarm["state"] in ("normal", "shelved", "out_of_service"):
                    self._seen_unacked.pop(alarm["id"], None)
                    continue
                first = self._seen_unacked.setdefault(alarm["id"], t)
                if t - first >= self.ACK_AFTER_S:
                    await self._do(OperatorAction.ACK, alarm["id"], "alarm seen, going to check")
            if self._clear(zone):
                self._clear_since.setdefault(zone["id"], t)
            else:
                self._clear_since.pop(zone["id"], None)
            clear_for = t - self._clear_since.get(zone["id"], t)
            if zone["tripped"]:
                if zone["id"] in self._clear_since and clear_for >= self.RESET_AFTER_S:
                    await self._do(OperatorAction.RESET, zone["id"], "gas cleared, zone checked")
                continue
            for valve in zone["valves"]:
                if valve["state"] == "closed" and valve["open_permitted"]:
                    await self._do(OperatorAction.OPEN, valve["id"], "leak repaired, supply restored")

    async def run(self, _runtime: Runtime) -> None:
        while True:
            try:
                await self.act_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("demo operator step failed")
            await asyncio.sleep(self.period_s)
