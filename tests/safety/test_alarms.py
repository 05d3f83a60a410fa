from gasguard.domain import AlarmChanged, AlarmState, Level, Output
from gasguard.safety.alarms import Alarm


def states(out: list[Output]) -> list[AlarmState]:
    return [o.state for o in out if isinstance(o, AlarmChanged)]


def test_non_latching_alarm_cycle_after_isa_18_2() -> None:
    alarm = Alarm("z", "c", Level.A1, latching=False)
    out: list[Output] = []
    alarm.set_condition(True, 12.0, 0.0, out)
    alarm.set_condition(False, 5.0, 1.0, out)
    alarm.acknowledge(2.0, out)
    assert states(out) == [AlarmState.UNACKED, AlarmState.RTN_UNACKED, AlarmState.NORMAL]


def test_acknowledged_then_cleared_returns_to_normal() -> None:
    alarm = Alarm("z", "c", Level.A1, latching=False)
    out: list[Output] = []
    alarm.set_condition(True, 12.0, 0.0, out)
    alarm.acknowledge(1.0, out)
    alarm.set_condition(False, 5.0, 2.0, out)
    assert states(out) == [AlarmState.UNACKED, AlarmState.ACKED, AlarmState.NORMAL]


def test_latching_alarm_stays_latched_after_ack_until_reset() -> None:
    alarm = Alarm("z", "c", Level.A2, latching=True)
    out: list[Output] = []
    alarm.set_condition(True, 25.0, 0.0, out)
    assert alarm.reset(0.5, out) is False  # condition present: refused
    alarm.acknowledge(1.0, out)
    alarm.set_condition(False, 5.0, 2.0, out)
    assert alarm.state(2.0) is AlarmState.LATCHED
    assert alarm.reset(3.0, out) is True
    assert states(out) == [AlarmState.UNACKED, AlarmState.ACKED, AlarmState.LATCHED, AlarmState.NORMAL]


def test_shelving_hides_the_alarm_until_it_expires() -> None:
    alarm = Alarm("z", "c", Level.A1, latching=False)
    out: list[Output] = []
    alarm.set_condition(True, 12.0, 0.0, out)
    alarm.shelved_until = 100.0
    alarm.publish(1.0, out)
    assert alarm.state(99.9) is AlarmState.SHELVED
    alarm.expire_suppression(100.0, out)
    assert states(out) == [AlarmState.UNACKED, AlarmState.SHELVED, AlarmState.UNACKED]
    assert not alarm.suppressed


def test_out_of_service_takes_precedence_over_shelved() -> None:
    alarm = Alarm("z", "c", Level.A2, latching=True)
    alarm.shelved_until = 50.0
    alarm.out_of_service_until = 60.0
    assert alarm.state(10.0) is AlarmState.OUT_OF_SERVICE
    assert alarm.id == "z/c/A2"
