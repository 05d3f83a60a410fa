"""What-if replay on a small stored trace: the same settings give back what happened; a lower A2 adds a
trip and moves an alarm earlier; operator resets and reopens are replayed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from gasguard.domain import (
    OperatorAction,
    OperatorCommand,
    Output,
    Reading,
    Tick,
    ValveAction,
    ValveCommand,
    ValveFeedback,
    ValvePosition,
)
from gasguard.maintenance.replay import run_replay
from gasguard.safety.interlock import running_start, step
from gasguard.safety.spec import ChannelSpec, PlantSpec, ValveSpec, ZoneSpec
from gasguard.storage.engine import make_session_factory
from gasguard.storage.events import add_events, event_from_output
from gasguard.storage.migrate import engine_at_head
from gasguard.storage.readings import add_readings

T0 = 1_700_000_000.0
END = T0 + 3600


def spec(a2: float) -> PlantSpec:
    channel = ChannelSpec(id="lab-ch2", zone="lab", gas="methane", scale=1.0, offset=0.0, a2=a2)
    zone = ZoneSpec(id="lab", channels=(channel,), valves=(ValveSpec(id="lab-valve", zone="lab"),))
    return PlantSpec(zones=(zone,))


def value_at(t: float) -> float:
    """Clean air; at 60 s a leak rising to 18 %LEL (an A1, below A2 = 20); at 3000 s one rising to 25."""
    if 60 <= t < 120:
        return min(18.0, 0.6 * (t - 60))
    if 3000 <= t < 3060:
        return min(25.0, (25.0 / 30.0) * (t - 3000))
    return 0.0


OPERATOR = {
    3200.0: OperatorCommand(OperatorAction.RESET, "lab", "otto", "gas gone"),
    3210.0: OperatorCommand(OperatorAction.OPEN, "lab-valve", "otto", "checked"),
}


@pytest.fixture
def history(sqlite_url: str) -> Iterator[Engine]:
    """What really happened with A2 = 20: the core run live over the trace, readings and events stored."""
    yield from _history(sqlite_url)


@pytest.fixture
def history_anywhere(any_database_url: str) -> Iterator[Engine]:
    """The same history on SQLite, PostgreSQL and MariaDB (the replay reads SQLite through its driver)."""
    yield from _history(any_database_url)


def _history(url: str) -> Iterator[Engine]:
    engine = engine_at_head(url)
    state = running_start(spec(20.0), T0)
    readings: list[Reading] = []
    events = []

    def run(event: object, now: float) -> None:
        _, outs = step(state, event, now)  # type: ignore[arg-type]
        events.extend(event_from_output(o, ts=now) for o in outs)
        for o in _valve_commands(outs):
            run(
                ValveFeedback(o.valve, ValvePosition.CLOSED if o.action is ValveAction.CLOSE else ValvePosition.OPEN),
                now,
            )

    for i in range(3600):
        now = T0 + i
        run(Tick(), now)
        if float(i) in OPERATOR:
            run(OPERATOR[float(i)], now)
        reading = Reading("lab-ch2", value_at(i), now)
        readings.append(reading)
        run(reading, now)
    with make_session_factory(engine)() as session:
        add_readings(session, readings=readings)
        add_events(session, events=events)
        session.commit()
    yield engine
    engine.dispose()


def _valve_commands(outs: list[Output]) -> list[ValveCommand]:
    return [o for o in outs if isinstance(o, ValveCommand)]


def test_replay_with_the_settings_in_force_gives_back_what_happened(history_anywhere: Engine) -> None:
    result = run_replay(history_anywhere, spec(20.0), start=T0, end=END, chunk_s=300)
    summary = result.to_json()["summary"]
    assert summary["trip"] == {"real": 1, "replayed": 1, "same": 1, "moved": 0, "added": 0, "removed": 0, "skipped": 0}
    assert summary["alarm"]["real"] == summary["alarm"]["same"] == summary["alarm"]["replayed"] >= 3
    assert result.readings == 3600 and result.events_replayed == 2  # the reset and the reopen


def test_replay_with_a_lower_a2_adds_a_trip_and_moves_the_alarm_earlier(history: Engine) -> None:
    result = run_replay(history, spec(15.0), start=T0, end=END, chunk_s=300, match_window_s=120)
    data = result.to_json()
    # 18 %LEL at 60-120 s now trips (15 %LEL reached 25 s into the rise): a trip added.
    assert [(o["kind"], o["key"], o["ts"] - T0) for o in data["added"] if o["kind"] == "trip"] == [("trip", "lab", 85)]
    # The zone then stays tripped until the operator's reset at 3200 s, so the real trip at 3024 s is not
    # repeated: removed.
    assert [(o["key"], o["ts"] - T0) for o in data["removed"] if o["kind"] == "trip"] == [("lab", 3024)]
    # The A2 of the second leak comes 6 s earlier (15 instead of 20 %LEL on a rise of 0.83 %LEL/s).
    moved = {m["key"]: m["shift_s"] for m in data["moved"]}
    assert moved == {"lab/lab-ch2/A2": -6.0}


def test_replay_counts_a_cold_start_trip_as_not_from_readings(history: Engine) -> None:
    from gasguard.domain import ZoneTripChanged

    with make_session_factory(history)() as session:
        add_events(
            session,
            events=[event_from_output(ZoneTripChanged("lab", True, "cold start: valve positions unknown"), ts=T0 + 1)],
        )
        session.commit()
    summary = run_replay(history, spec(20.0), start=T0, end=END).to_json()["summary"]["trip"]
    assert summary["skipped"] == 1 and summary["removed"] == 0
