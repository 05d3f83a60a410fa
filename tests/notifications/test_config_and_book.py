"""The ``notifications:`` block is checked when the site file loads (every error named), and the incident
book resumes repeat and escalation from the store after a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gasguard.config import ConfigError, parse_site_config
from gasguard.notifications.config import NotificationsConfig
from gasguard.notifications.incidents import IncidentBook, SendReason
from gasguard.notifications.store import load_open_incidents, save_incidents
from gasguard.notify import Message
from gasguard.storage.engine import make_session_factory
from gasguard.storage.migrate import engine_at_head
from live_harness import TEST_SITE

MAIL = "mailto://{env:SMTP_USER}:{env:SMTP_PASS}@mail.example.com?to=ops@example.com"


def site_with(notifications: dict[str, Any]) -> Any:
    data = yaml.safe_load(TEST_SITE)
    data["notifications"] = notifications
    return parse_site_config(data, "site.yaml")


def refused(notifications: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        site_with(notifications)
    return str(caught.value)


def test_a_valid_block_loads_with_defaults() -> None:
    site = site_with({"routes": [{"name": "on-call-1", "urls": [MAIL], "zones": ["kitchen"]}]})
    assert site.notifications is not None
    route = site.notifications.routes[0]
    assert (route.repeat_every_min, route.escalate_after_min, len(route.events)) == (5.0, 15.0, 10)


def test_an_url_apprise_cannot_parse_is_named() -> None:
    message = refused({"routes": [{"name": "r", "urls": [MAIL, "nosuchservice://host/x"]}]})
    assert "url 2: Apprise cannot use this nosuchservice:// URL" in message


def test_a_route_that_escalates_to_itself_is_named() -> None:
    message = refused({"routes": [{"name": "on-call-1", "urls": [MAIL], "escalate_to": "on-call-1"}]})
    assert "route 'on-call-1' escalates to itself" in message


def test_a_circle_and_a_missing_target_are_named() -> None:
    routes = [
        {"name": "a", "urls": [MAIL], "escalate_to": "b"},
        {"name": "b", "urls": [MAIL], "escalate_to": "a"},
    ]
    assert "routes escalate in a circle: a -> b -> a" in refused({"routes": routes})
    assert "escalates to 'c', which is not a route here" in refused(
        {"routes": [{"name": "a", "urls": [MAIL], "escalate_to": "c"}]}
    )


def test_secrets_written_into_the_file_are_refused_without_being_echoed() -> None:
    message = refused({"routes": [{"name": "r", "urls": ["mailto://me:hunter2-secret@mail.example.com"]}]})
    assert "the password in user:password@ is written out; use an {env:NAME} placeholder" in message
    assert "hunter2-secret" not in message
    assert "token= parameter is written out" in refused(
        {"routes": [{"name": "r", "urls": ["ntfy://ntfy.example.com/gas?token=tk_abcdef"]}]}
    )


def test_unknown_keys_zones_and_time_zones_are_named() -> None:
    assert "unknown key 'repeat_evry_min'" in refused({"routes": [{"name": "r", "urls": [MAIL], "repeat_evry_min": 3}]})
    assert "route 'r' names unknown zone(s) 'attic'" in refused(
        {"routes": [{"name": "r", "urls": [MAIL], "zones": ["attic"]}]}
    )
    quiet = {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}
    assert "unknown time zone 'Mars/Olympus'" in refused(
        {"routes": [{"name": "r", "urls": [MAIL], "quiet_hours": quiet}]}
    )


def trip_message(zone: str = "kitchen") -> Message:
    payload = {"zone": zone, "tripped": True, "cause": "kitchen-ch1 at A2 (25.0 %LEL)"}
    return Message("trip", {"kind": "trip", "zone": zone, "payload": payload}, 0.0)


def test_a_restart_resumes_escalation_where_it_was(tmp_path: Path) -> None:
    config = NotificationsConfig.model_validate(
        {
            "routes": [
                {"name": "on-call-1", "urls": [MAIL], "escalate_after_min": 15, "escalate_to": "on-call-2"},
                {"name": "on-call-2", "urls": [MAIL]},
            ]
        }
    )
    book = IncidentBook(config)
    [first] = book.observe([trip_message()], 1000.0)
    assert (first.route, first.reason) == ("on-call-1", SendReason.OPENED)
    book.due(1000.0 + 5 * 60)  # a repeat at 5 min
    engine = engine_at_head(f"sqlite:///{tmp_path / 'store.db'}")
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        save_incidents(session, incidents=book.open.values(), now=1300.0)

    restarted = IncidentBook(config)  # a new process
    with factory() as session:
        restarted.restore(load_open_incidents(session))
    repeats = restarted.due(1000.0 + 10 * 60)  # the next repeat runs from the stored one, at 10 min
    assert [(s.route, s.reason) for s in repeats] == [("on-call-1", SendReason.REPEAT)]
    assert restarted.due(1000.0 + 14 * 60) == []
    sends = restarted.due(1000.0 + 15 * 60)
    assert [(s.route, s.reason) for s in sends] == [
        ("on-call-1", SendReason.REPEAT),
        ("on-call-2", SendReason.ESCALATED),
    ]
    engine.dispose()


def test_notify_test_command_reports_each_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from gasguard.cli import build_app
    from notify_helpers import ENV, SmtpServer, free_port

    smtp = SmtpServer(port=free_port())
    smtp.start()
    try:
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        good = f"mailto://{{env:SMTP_USER}}:{{env:SMTP_PASS}}@127.0.0.1:{smtp.port}?from=g@example.com&to=o@example.com&mode=insecure"
        data = yaml.safe_load(TEST_SITE)
        data["notifications"] = {
            "routes": [{"name": "mail", "urls": [good]}, {"name": "hook", "urls": ["json://127.0.0.1:1/x"]}]
        }
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        result = CliRunner().invoke(build_app(), ["notify", "test", "--config", str(path), "--json"])
        assert result.exit_code == 1  # the hook has nobody listening
        outcomes = {r["route"]: r for r in json.loads(result.stdout)}
        assert outcomes["mail"]["ok"] is True and outcomes["hook"]["ok"] is False
        assert ENV["SMTP_PASS"] not in result.stdout
        assert str(smtp.mailbox.wait(1)[0]["Subject"]) == "GasGuard test message"
    finally:
        smtp.stop()


def alarm_message(*, test: bool) -> Message:
    payload = {
        "zone": "kitchen",
        "alarm_id": "kitchen/kitchen-ch1/A2",
        "source": "kitchen-ch1",
        "level": "A2",
        "state": "unacknowledged",
        "value": 50.0,
        "detail": "",
        "test": test,
    }
    return Message("alarm", {"kind": "alarm", "zone": "kitchen", "payload": payload}, 0.0)


def test_a_test_alarm_from_a_channel_in_test_notifies_nobody() -> None:
    config = NotificationsConfig.model_validate({"routes": [{"name": "on-call-1", "urls": [MAIL]}]})
    book = IncidentBook(config)
    assert book.observe([alarm_message(test=True)], 1000.0) == []
    assert [s.reason for s in book.observe([alarm_message(test=False)], 1001.0)] == [SendReason.OPENED]
