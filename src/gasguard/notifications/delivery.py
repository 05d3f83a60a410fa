"""Sending through Apprise: secrets expanded at send time, never logged, every attempt reported.

Apprise senders block (``smtplib``, ``requests``), so each attempt runs in a worker thread and the
event loop (and with it the safety pipeline) never waits for a mail server. Secrets reach a URL only
here, from the environment, at the moment of sending; the URL that is stored and shown is Apprise's
privacy form with every expanded value masked as well. A logging filter on Apprise's and urllib3's
loggers masks the expanded values in anything they log, since some services carry a token in the
URL path and urllib3 logs paths at debug level.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gasguard.notifications.config import PLACEHOLDER, url_scheme

log = logging.getLogger(__name__)

MASK = "***"
LIBRARY_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.util.retry", "requests_oauthlib.oauth2_session")
"""Loggers of the libraries that see expanded URLs; the redacting filter sits on each."""

MAX_ERROR_TEXT = 500


class MissingSecretError(LookupError):
    """A URL names an environment variable that is not set (the message names the variable only)."""


def expand(url: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """The URL with its ``{env:NAME}`` placeholders filled in, and the values used (to mask them).

    >>> expand("mailto://{env:U}:{env:P}@mail.example.com", {"U": "ops", "P": "s3cret"})
    ('mailto://ops:s3cret@mail.example.com', ['ops', 's3cret'])
    """
    values: list[str] = []

    def fill(match: Any) -> str:
        name = match.group(1)
        value = env.get(name)
        if value is None or value == "":
            raise MissingSecretError(f"environment variable {name} is not set")
        values.append(value)
        return str(value)

    return PLACEHOLDER.sub(fill, url), values


def redact(text: str, secrets: set[str] | list[str]) -> str:
    """``text`` with every secret value replaced by ``***`` (longest first, so none is half-masked)."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks known secret values in log records of the loggers it is attached to.

    Values are registered when they are expanded and stay registered for the life of the filter (a
    secret does not stop being one after a send)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, values: list[str]) -> None:
        with self._lock:
            self._secrets.update(v for v in values if len(v) >= 3)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            secrets = set(self._secrets)
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the library's problem, not a reason to leak
            return True
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

    def install(self) -> None:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).removeFilter(self)


class _ThreadErrors(logging.Handler):
    """Collects what Apprise logs at WARNING and above on the thread of one attempt: its error text."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self._by_thread: dict[int, list[str]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._by_thread[threading.get_ident()] = []

    def stop(self) -> list[str]:
        with self._lock:
            return self._by_thread.pop(threading.get_ident(), [])

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            lines = self._by_thread.get(record.thread or 0)
            if lines is not None and len(lines) < 20:
                try:
                    lines.append(record.getMessage())
                except Exception:
                    lines.append(str(record.msg))


_errors = _ThreadErrors()
_errors_installed = threading.Lock()
_installed = False


def _install_error_capture() -> None:
    global _installed
    with _errors_installed:
        if not _installed:
            logging.getLogger("apprise").addHandler(_errors)
            _installed = True


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file for the message (a camera snapshot with its overlay)."""

    name: str
    content: bytes
    mimetype: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    url: str
    """The URL as it may be stored and shown: Apprise's privacy form, every expanded value masked."""
    error: str | None = None


class AppriseSender:
    """Delivers one message to one Apprise URL template, in a worker thread."""

    def __init__(self, *, env: Mapping[str, str] | None = None, redactor: RedactingFilter | None = None) -> None:
        self._env = env if env is not None else os.environ
        self.redactor = redactor or RedactingFilter()
        _install_error_capture()

    def shown_url(self, template: str) -> str:
        """What to store and show for a URL template without sending anything."""
        try:
            url, values = expand(template, self._env)
        except MissingSecretError:
            return template  # only placeholders in it: nothing secret to hide
        self.redactor.add(values)
        return self._privacy_url(url, values)

    def _privacy_url(self, url: str, values: list[str]) -> str:
        import apprise

        plugin: Any = apprise.Apprise.instantiate(url)
        shown = plugin.url(privacy=True) if plugin is not None else f"{url_scheme(url)}://{MASK}"
        return redact(shown, values)[:512]

    async def send(self, template: str, *, title: str, body: str, attachment: Attachment | None = None) -> Outcome:
        try:
            url, values = expand(template, self._env)
        except MissingSecretError as exc:
            return Outcome(False, template, str(exc))
        self.redactor.add(values)
        return await asyncio.to_thread(self._send_blocking, url, values, title, body, attachment)

    def _send_blocking(
        self, url: str, values: list[str], title: str, body: str, attachment: Attachment | None
    ) -> Outcome:
        import apprise

        shown = f"{url_scheme(url)}://{MASK}"
        failure: str | None = None
        ok = False
        _errors.start()
        try:
            plugin: Any = apprise.Apprise.instantiate(url)
            if plugin is None:
                failure = "Apprise cannot use this URL (with the environment's values filled in)"
            else:
                shown = redact(plugin.url(privacy=True), values)[:512]
                attach: Any = None
                if attachment is not None:
                    from apprise.attachment.memory import AttachMemory as _AttachMemory

                    AttachMemory: Any = _AttachMemory
                    attach = apprise.AppriseAttachment()
                    attach.add(
                        AttachMemory(content=attachment.content, name=attachment.name, mimetype=attachment.mimetype)
                    )
                ok = bool(plugin.notify(body=body, title=title, attach=attach))
        except Exception as exc:  # a plugin bug must not kill the worker
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            logged = _errors.stop()
        if ok:
            return Outcome(True, shown)
        text = "; ".join([*logged, *([failure] if failure else [])]) or "the service refused the message"
        return Outcome(False, shown, redact(text, values)[:MAX_ERROR_TEXT])
