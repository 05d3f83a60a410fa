"""``gasguard bench e2e | ingest | load``: options checked, JSON printed, missing servers said plainly."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gasguard.cli import build_app


def test_bench_ingest_prints_what_it_stored() -> None:
    args = ["bench", "ingest", "--db", "sqlite", "--readings", "1000", "--channels", "10", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    sqlite = json.loads(result.output)["sqlite"]
    assert (sqlite["readings"], sqlite["rows_in_database"], sqlite["lost"]) == (1000, 1000, 0)


def test_bench_e2e_without_a_broker_skips_the_mqtt_part_with_the_reason() -> None:
    args = ["bench", "e2e", "--trips", "2", "--mqtt-url", "mqtt://127.0.0.1:9", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["in_process"]["n"] == 2
    assert body["mqtt"]["status"] == "skipped"
    assert body["mqtt"]["reason"].startswith("MQTT broker 127.0.0.1:9 unreachable")


def test_bad_database_choices_are_refused() -> None:
    for args in (["bench", "ingest", "--db", "mysql"], ["bench", "load", "--db", "oracle", "--minutes", "0.1"]):
        result = CliRunner().invoke(build_app(), args)
        assert result.exit_code == 2
        assert "--db must be" in result.output


def test_bench_load_without_a_broker_fails_with_the_reason() -> None:
    result = CliRunner().invoke(build_app(), ["bench", "load", "--mqtt-url", "mqtt://127.0.0.1:9", "--minutes", "0.1"])
    assert result.exit_code == 1
    assert "MQTT broker 127.0.0.1:9 unreachable" in result.output
