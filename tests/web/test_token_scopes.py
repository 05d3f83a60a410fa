"""Device tokens bound to channels or zones: made over REST or the command line, listed with their
binding, and a reading for any other channel refused with 403, the whole batch with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from gasguard.cli import build_app
from gasguard.storage.events import EventKind, list_events
from gasguard.web.testing import NOW
from live_harness import LiveHarness

URL = "/api/v1/ingest/readings"


def _token(live: LiveHarness, **body: Any) -> dict[str, Any]:
    response = live.client.post("/api/v1/tokens", json={"reason": "new detector", **body}, headers=live.headers("ada"))
    assert response.status_code == 201, response.text
    issued: dict[str, Any] = response.json()
    return issued


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _value(live: LiveHarness, channel: str) -> float | None:
    zone = "boiler" if channel.startswith("boiler") else "kitchen"
    value: float | None = next(c for c in live.zone(zone)["channels"] if c["id"] == channel)["value"]
    return value


def test_a_token_bound_to_channels_may_post_only_those(live: LiveHarness) -> None:
    issued = _token(live, name="hob", channels=["kitchen-ch2", "kitchen-ch1"])
    assert issued["scope"] == {"channels": ["kitchen-ch1", "kitchen-ch2"], "zones": []}
    hob = _bearer(issued["token"])

    accepted = live.client.post(URL, json={"channel": "kitchen-ch1", "ts": NOW - 1, "value": 30.0}, headers=hob)
    assert (accepted.status_code, accepted.json()) == (202, {"accepted": 1})
    refused = live.client.post(URL, json={"channel": "boiler-ch1", "value": 0.0}, headers=hob)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "token 'hob' may not post boiler-ch1; nothing was accepted"},
    )
    # All or nothing: a batch with one channel outside the binding is refused whole.
    batch = {"readings": [{"channel": "kitchen-ch1", "value": 0.0}, {"channel": "boiler-ch1", "value": 0.0}]}
    refused = live.client.post(URL, json=batch, headers=hob)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "token 'hob' may not post boiler-ch1; nothing was accepted",
    )
    assert (_value(live, "kitchen-ch1"), _value(live, "boiler-ch1")) == (30.0, None)

    listed = live.client.get("/api/v1/tokens", headers=live.headers("ada")).json()
    assert [(t["name"], t["scope"]) for t in listed] == [
        ("hob", {"channels": ["kitchen-ch1", "kitchen-ch2"], "zones": []})
    ]
    with live.services.session_factory() as session:
        [created] = [e for e in list_events(session) if e.kind is EventKind.AUDIT and e.source == "token:hob"]
    assert created.payload["scope"] == {"channels": ["kitchen-ch1", "kitchen-ch2"], "zones": []}


def test_a_token_bound_to_a_zone_may_post_any_channel_in_it(live: LiveHarness) -> None:
    boiler = _bearer(_token(live, name="boiler-gw", zones=["boiler"])["token"])
    assert live.client.post(URL, json={"channel": "boiler-ch1", "value": 2100.0}, headers=boiler).status_code == 202
    batch = {"readings": [{"channel": "kitchen-ch2", "value": 0.0}, {"channel": "kitchen-ch1", "value": 0.0}]}
    refused = live.client.post(URL, json=batch, headers=boiler)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "token 'boiler-gw' may not post kitchen-ch1, kitchen-ch2; nothing was accepted",
    )
    # An unbound token (and an admin testing by hand) may still post any channel.
    anywhere = _bearer(_token(live, name="legacy-gw")["token"])
    assert live.client.post(URL, json={"channel": "kitchen-ch1", "value": 1.0}, headers=anywhere).status_code == 202
    listed = live.client.get("/api/v1/tokens", headers=live.headers("ada")).json()
    assert [(t["name"], t["scope"]) for t in listed] == [
        ("boiler-gw", {"channels": [], "zones": ["boiler"]}),
        ("legacy-gw", None),
    ]


def test_a_binding_must_name_valid_ids(live: LiveHarness) -> None:
    headers = live.headers("ada")
    for body, detail in (
        ({"channels": [], "zones": []}, "name at least one channel or zone to bind the token to"),
        ({"channels": ["kitchen ch1"]}, "channel id 'kitchen ch1' must be 1-64 of A-Z a-z 0-9 _ . -"),
    ):
        response = live.client.post("/api/v1/tokens", json={"name": "hob", "reason": "test", **body}, headers=headers)
        assert (response.status_code, response.json()["detail"]) == (422, detail)
    assert live.client.get("/api/v1/tokens", headers=headers).json() == []


def test_the_command_line_binds_a_token_and_ingest_honours_it(live: LiveHarness, tmp_path: Path) -> None:
    settings = live.services.settings
    env = {
        "GASGUARD_DATA_DIR": str(tmp_path),
        "GASGUARD_DATABASE_URL": settings.resolved_database_url(),
        "GASGUARD_SECRET_KEY": settings.resolved_secret_key(),
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(build_app(), ["users", "token", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    issued = json.loads(run("create", "--name", "hob", "--channels", "kitchen-ch1,kitchen-ch2", "--json"))
    assert issued["scope"] == {"channels": ["kitchen-ch1", "kitchen-ch2"], "zones": []}
    run("create", "--name", "boiler-gw", "--zones", "boiler")
    [hob, boiler] = json.loads(run("list", "--json"))
    assert (hob["name"], hob["scope"]) == ("hob", {"channels": ["kitchen-ch1", "kitchen-ch2"], "zones": []})
    assert (boiler["name"], boiler["scope"]) == ("boiler-gw", {"channels": [], "zones": ["boiler"]})
    assert [line.split("\t")[1:] for line in run("list").splitlines()] == [
        ["hob", "active", "channels kitchen-ch1, kitchen-ch2"],
        ["boiler-gw", "active", "zones boiler"],
    ]

    device = _bearer(issued["token"])
    refused = live.client.post(URL, json={"channel": "kitchen-ch3", "value": 0.0}, headers=device)
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "token 'hob' may not post kitchen-ch3; nothing was accepted",
    )
    assert live.client.post(URL, json={"channel": "kitchen-ch2", "value": 5.0}, headers=device).status_code == 202

    bad = CliRunner().invoke(build_app(), ["users", "token", "create", "--name", "x", "--zones", ","], env=env)
    assert (bad.exit_code, bad.output.strip()) == (2, "error: name at least one channel or zone to bind the token to")
