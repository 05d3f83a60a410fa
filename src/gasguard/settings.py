"""Service settings, read from ``GASGUARD_*`` environment variables (or passed in by tests).

The service refuses unsafe settings instead of starting with them: there is no built-in secret key
(one is generated on first use and stored with owner-only permissions in the data folder), CORS is
same-origin only unless origins are listed one by one (``*`` is refused), and limits have bounds.

Examples (shell)::

    GASGUARD_DATABASE_URL=postgresql+psycopg://gasguard@db/gasguard
    GASGUARD_MQTT_URL=mqtt://user:password@broker:1883
    GASGUARD_CORS_ORIGINS=https://ops.example.com,https://backup.example.com
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from platformdirs import user_data_path
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

logger = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
SUPPORTED_DATABASE_SCHEMES = (
    "sqlite",
    "sqlite+pysqlite",
    "postgresql",
    "postgresql+psycopg",
    "mysql",
    "mysql+pymysql",
    "mariadb",
    "mariadb+pymysql",
)


class UnsafeSettingsError(ValueError):
    """A setting would weaken security or safety; the message says which and what to do instead."""


def default_data_dir() -> Path:
    """The per-user data folder (``~/.local/share/gasguard`` on Linux)."""
    return user_data_path("gasguard", appauthor=False)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class ServiceSettings(BaseSettings):
    """Everything the running service needs that is not part of the site file."""

    # Errors never echo a value back: URLs may hold the broker's or the database's password.
    model_config = SettingsConfigDict(env_prefix="GASGUARD_", extra="forbid", frozen=True, hide_input_in_errors=True)

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the default SQLite database and the generated secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Default: SQLite file gasguard.db in data_dir. "
        "PostgreSQL: postgresql+psycopg://..., MySQL/MariaDB: mysql+pymysql://...",
    )
    mqtt_url: str | None = Field(
        default=None,
        repr=False,  # it may hold the broker password
        description="Broker URL mqtt://[user:password@]host[:port] or mqtts://... (TLS, port 8883); none = no MQTT.",
    )
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA bundle (PEM) to verify an mqtts:// broker with. Default: the system's CAs."
    )
    mqtt_client_cert: Path | None = Field(
        default=None, description="Client certificate (PEM) for an mqtts:// broker that asks for one."
    )
    mqtt_client_key: Path | None = Field(
        default=None, description="Private key of mqtt_client_cert, when it is not in the same file."
    )
    mqtt_publish_audit: bool = Field(
        default=False,
        description="Also publish the audit trail (sign-ins, user and token changes) to <prefix>/events/audit. "
        "Client addresses are never published.",
    )
    mqtt_topic_prefix: str = Field(default="gasguard", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    site_config: Path | None = Field(default=None, description="Site YAML (sites, zones, channels, valves).")
    public_url: str | None = Field(
        default=None,
        description="Address people reach the dashboard at (https://gasguard.example.com); notification "
        "messages link to it. Unset: messages carry no links.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key for token hashing. Default: generated once and kept in data_dir/secret_key. "
        "Changing it signs everybody out and invalidates every device token.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (comma-separated). Empty: same origin only.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated). "
        "Empty: the header is ignored, so nobody can dodge the login limit by forging it.",
    )
    reading_retention_days: int = Field(default=90, ge=1, le=36500)
    event_retention_days: int = Field(default=730, ge=30, le=36500, description="Audit trail; at least 30 days.")
    camera_clip_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Evidence clips of camera leak signals are kept this long."
    )
    camera_clip_max_mb: int = Field(
        default=2000, ge=10, le=1_000_000, description="Evidence clips kept per camera, MB (the oldest go first)."
    )
    reading_batch_size: int = Field(default=500, ge=1, le=50_000)
    reading_flush_interval_s: float = Field(default=1.0, gt=0.0, le=60.0)
    reading_buffer_max: int = Field(
        default=250_000,
        ge=1_000,
        le=5_000_000,
        description="Readings kept in memory while the database is unreachable (about 100 bytes each).",
    )
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_window_s: float = Field(default=300.0, ge=10.0, le=86_400.0)
    session_ttl_s: int = Field(default=12 * 3600, ge=300, le=30 * 86_400)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or "*" in origin:
                raise UnsafeSettingsError(
                    "GASGUARD_CORS_ORIGINS must list origins one by one; '*' would let any web page "
                    "call the API with an operator's token"
                )
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise UnsafeSettingsError(
                    f"CORS origin {origin!r} must look like https://host[:port] (no path, no wildcard)"
                )
        return [origin.rstrip("/") for origin in origins]

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise UnsafeSettingsError(
                f"unsupported database URL scheme {scheme!r}; use one of: {', '.join(SUPPORTED_DATABASE_SCHEMES)}"
            )
        return url

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
            # Not the URL itself in the message: it may hold the broker password.
            raise UnsafeSettingsError(
                "GASGUARD_MQTT_URL must look like mqtt://host[:port] or mqtts://host[:port] (TLS), "
                "with user:password@ before the host to sign in"
            )
        return url

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise UnsafeSettingsError("GASGUARD_PUBLIC_URL must look like https://host[:port][/path]")
        return url.strip().rstrip("/")

    @field_validator("secret_key")
    @classmethod
    def _check_secret_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise UnsafeSettingsError(
                f"GASGUARD_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "(or leave it unset and one is generated in the data folder)"
            )
        return key

    @model_validator(mode="after")
    def _check_mqtt_tls(self) -> ServiceSettings:
        files = {
            "GASGUARD_MQTT_CA_FILE": self.mqtt_ca_file,
            "GASGUARD_MQTT_CLIENT_CERT": self.mqtt_client_cert,
            "GASGUARD_MQTT_CLIENT_KEY": self.mqtt_client_key,
        }
        named = [name for name, path in files.items() if path is not None]
        if named and not (self.mqtt_url or "").startswith("mqtts://"):
            # Refused rather than ignored: the site would believe its broker traffic is encrypted.
            raise UnsafeSettingsError(f"{', '.join(named)} need an mqtts:// GASGUARD_MQTT_URL (TLS)")
        if self.mqtt_client_key is not None and self.mqtt_client_cert is None:
            raise UnsafeSettingsError("GASGUARD_MQTT_CLIENT_KEY needs GASGUARD_MQTT_CLIENT_CERT")
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise UnsafeSettingsError(f"{name}: no such file {path}")
        return self

    @model_validator(mode="after")
    def _check_retention(self) -> ServiceSettings:
        if self.event_retention_days < self.reading_retention_days:
            raise UnsafeSettingsError(
                "event_retention_days must be at least reading_retention_days: the audit trail of alarms "
                "and valve commands must outlive the raw readings"
            )
        return self

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``<data_dir>/gasguard.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'gasguard.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The secret key from the settings, or from ``<data_dir>/secret_key`` (created on first use).

        The file is created with mode 0600 in one atomic step, so two processes starting together
        agree on one key.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return load_or_create_secret_key(self.data_dir)


def load_or_create_secret_key(data_dir: Path) -> str:
    """Read the stored secret key, or generate and store a new one."""
    path = data_dir / SECRET_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise UnsafeSettingsError(
                f"{path} holds a key shorter than {MIN_SECRET_KEY_LENGTH} characters; delete it to generate "
                "a new one (this signs everybody out)"
            ) from None
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("secret key file %s is readable by other users (mode %o); chmod 600 it", path, mode)
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    logger.info("generated a new secret key in %s", path)
    return key
