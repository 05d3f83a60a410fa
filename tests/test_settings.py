"""Service settings: safe defaults, environment overrides, and refusal of unsafe values."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gasguard.settings import ServiceSettings, load_or_create_secret_key


def test_defaults_are_embedded_sqlite_in_the_data_folder_and_same_origin(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path)
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.resolve() / 'gasguard.db'}"
    assert settings.cors_origins == []
    assert settings.mqtt_url is None
    assert (settings.reading_batch_size, settings.reading_buffer_max) == (500, 250_000)


def test_environment_overrides_with_the_gasguard_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GASGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GASGUARD_DATABASE_URL", "postgresql+psycopg://gg@db/gasguard")
    monkeypatch.setenv("GASGUARD_CORS_ORIGINS", "https://ops.example.com, http://localhost:5173/")
    monkeypatch.setenv("GASGUARD_MQTT_URL", "mqtt://user:pw@broker:1884")
    monkeypatch.setenv("GASGUARD_READING_RETENTION_DAYS", "30")
    settings = ServiceSettings()
    assert settings.resolved_database_url() == "postgresql+psycopg://gg@db/gasguard"
    assert settings.cors_origins == ["https://ops.example.com", "http://localhost:5173"]
    assert settings.mqtt_url == "mqtt://user:pw@broker:1884"
    assert settings.reading_retention_days == 30


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cors_origins", "*", "'*' would let any web page"),
        ("cors_origins", "https://*.example.com", "one by one"),
        ("cors_origins", "ops.example.com", "must look like https://host"),
        ("secret_key", "short", "at least 32 characters"),
        ("database_url", "oracle://x/y", "unsupported database URL scheme 'oracle'"),
        ("mqtt_url", "http://broker", "must look like mqtt://host"),
        ("reading_batch_size", 0, "greater than or equal to 1"),
        ("event_retention_days", 10, "greater than or equal to 30"),
        ("unknown_option", 1, "Extra inputs are not permitted"),
    ],
)
def test_unsafe_or_wrong_settings_are_refused(tmp_path: Path, field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("*", r"\*").replace("(", r"\(")):
        ServiceSettings(data_dir=tmp_path, **{field: value})  # type: ignore[arg-type]


def test_audit_retention_must_outlive_readings(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="event_retention_days must be at least reading_retention_days"):
        ServiceSettings(data_dir=tmp_path, reading_retention_days=400, event_retention_days=365)


def test_secret_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = ServiceSettings(data_dir=tmp_path).resolved_secret_key()
    second = ServiceSettings(data_dir=tmp_path).resolved_secret_key()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    other = ServiceSettings(data_dir=tmp_path / "elsewhere").resolved_secret_key()
    assert other != first


def test_an_explicit_secret_key_wins_and_a_truncated_key_file_is_refused(tmp_path: Path) -> None:
    assert ServiceSettings(data_dir=tmp_path, secret_key="x" * 32).resolved_secret_key() == "x" * 32
    (tmp_path / "secret_key").write_text("tooshort\n")
    with pytest.raises(ValueError, match="shorter than 32 characters"):
        load_or_create_secret_key(tmp_path)
