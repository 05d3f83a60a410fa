"""The demo's scripted operator on simulated time: after a camera trip it waits for the gas to clear and
the camera's hold to expire before it resets, so its reset is never refused the moment the zone trips."""

from __future__ import annotations

import asyncio
from typing import Any

from gasguard.demo.operator import ScriptedOperator
from gasguard.domain import OperatorCommand, OperatorResult


class FakePlant:
    t = 0.0


class FakeRuntime:
    """The zone view the operator reads, and the commands it sends (all accepted)."""

    def __init__(self) -> None:
        self.zone: dict[str, Any] = {
            "id": "kitchen",
            "tripped": True,
            "channels": [
                {"id": "kitchen-hob", "health": "ok", "lel_pct": 0.5, "setpoints": {"a1": 10.0, "a2": 20.0}},
            ],
            "valves": [{"id": "kitchen-valve", "state": "closed", "open_permitted": False}],
            "alarms": [{"id": "kitchen/ml/ML", "state": "unacknowledged", "active": True, "acked": False}],
        }
        self.commands: list[OperatorCommand] = []
        self.services = self  # the operator reads the views from ``runtime.services.plant``
        self.plant = self
        self.outputs: list[dict[str, Any]] = [
            {"id": "kitchen-sounder", "kind": "sounder", "mode": "pulsed", "zones": ["kitchen"]}
        ]

    def zones_view(self) -> list[dict[str, Any]]:
        return [self.zone]

    def outputs_view(self) -> list[dict[str, Any]]:
        return self.outputs

    async def operate(self, command: OperatorCommand) -> OperatorResult:
        self.commands.append(command)
        return OperatorResult("kitchen", command.action, command.target, command.user, command.reason, True, "ok")


def test_after_a_camera_trip_the_operator_acknowledges_then_resets_only_once_the_hold_has_expired() -> None:
    runtime, plant = FakeRuntime(), FakePlant()
    operator = ScriptedOperator(runtime, plant)  # type: ignore[arg-type]
    ml_alarm = runtime.zone["alarms"][0]

    async def at(t: float) -> list[str]:
        plant.t = t
        before = len(runtime.commands)
        await operator.act_once()
        return [f"{c.action.value} {c.target}" for c in runtime.commands[before:]]

    async def story() -> None:
        assert await at(0.0) == []  # the trip itself: the gas reads clear, but the camera's hold is on
        assert await at(ScriptedOperator.ACK_AFTER_S) == ["ack kitchen/ml/ML", "silence kitchen-sounder"]
        runtime.outputs[0]["mode"] = "on"  # silenced: steady until the reset
        ml_alarm.update(acked=True, state="acknowledged")
        assert await at(25.0) == []  # still held
        ml_alarm.update(active=False, state="latched")  # the hold expired
        assert await at(26.0) == []
        assert await at(26.0 + ScriptedOperator.RESET_AFTER_S - 1) == []
        assert await at(26.0 + ScriptedOperator.RESET_AFTER_S) == ["reset kitchen"]
        runtime.zone.update(tripped=False, alarms=[])
        runtime.zone["valves"][0]["open_permitted"] = True
        assert await at(40.0) == ["open kitchen-valve"]

    asyncio.run(story())
    assert all(c.reason.startswith("demo script:") and c.user == "demo-operator" for c in runtime.commands)
