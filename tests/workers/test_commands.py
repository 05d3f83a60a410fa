"""The worker's command server on its own (no broker): only requests signed with the site's key, for the
zone of the topic they arrive on, before their expiry, are run; each id once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gasguard.domain import OperatorAction, OperatorCommand, OperatorResult
from gasguard.mqtt_client import BrokerAddress
from gasguard.workers.commands import CommandServer, UnsignedMessageError, command_key, seal, unseal

KEY = command_key("a" * 64)
TOPIC = "gasguard/site-1/kitchen/command/request"
NOW = 1_000_000.0


class Recorder:
    def __init__(self) -> None:
        self.run: list[tuple[str, OperatorCommand]] = []

    def __call__(self, zone: str, command: OperatorCommand) -> Any:
        self.run.append((zone, command))

        async def answer() -> OperatorResult:
            return OperatorResult(zone, command.action, command.target, command.user, command.reason, True, "ok")

        return answer()


def _server(recorder: Recorder) -> CommandServer:
    return CommandServer(
        BrokerAddress("127.0.0.1", 1), prefix="gasguard", owner="w1", operate=recorder, key=KEY, clock=lambda: NOW
    )


def _request(**changes: Any) -> dict[str, Any]:
    request = {
        "id": "r1",
        "zone": "kitchen",
        "reply_to": "gasguard/replies/web-1",
        "expires_at": NOW + 5,
        "command": {"action": "reset", "target": "kitchen", "user": "op", "reason": "gas gone"},
    }
    request.update(changes)
    return request


def test_a_signed_request_for_the_topics_zone_is_run_once_and_answered_signed() -> None:
    recorder = Recorder()
    server = _server(recorder)
    first = asyncio.run(server.handle(TOPIC, seal(KEY, _request())))
    again = asyncio.run(server.handle(TOPIC, seal(KEY, _request())))
    assert first is not None and first == again
    assert [(zone, c.action) for zone, c in recorder.run] == [("kitchen", OperatorAction.RESET)]
    topic, body = first
    assert topic == "gasguard/replies/web-1"
    answer = unseal(KEY, body)
    assert answer["result"]["accepted"] is True and answer["worker"] == "w1"


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(_request()).encode(),  # unsigned
        seal(command_key("b" * 64), _request()),  # another key
        seal(KEY, _request(zone="boiler")),  # signed for another zone, copied onto the kitchen's topic
        json.dumps({"body": json.dumps(_request()), "mac": "0" * 64}).encode(),  # a made-up signature
        b"not json",
    ],
    ids=["unsigned", "other-key", "other-zone", "forged-mac", "garbage"],
)
def test_anything_not_signed_for_this_zone_is_dropped_and_never_run(payload: bytes) -> None:
    recorder = Recorder()
    server = _server(recorder)
    assert asyncio.run(server.handle(TOPIC, payload)) is None
    assert recorder.run == []
    assert server.refused == 1


def test_a_tampered_body_fails_its_signature() -> None:
    envelope = json.loads(seal(KEY, _request()))
    envelope["body"] = envelope["body"].replace('"reset"', '"open"')
    with pytest.raises(UnsignedMessageError, match="bad signature"):
        unseal(KEY, json.dumps(envelope))


def test_a_request_past_its_expiry_is_not_run() -> None:
    recorder = Recorder()
    server = _server(recorder)
    assert asyncio.run(server.handle(TOPIC, seal(KEY, _request(expires_at=NOW - 0.1)))) is None
    assert recorder.run == [] and server.expired == 1
