"""Helpers for the notification tests (``tests/notifications``): an SMTP server (aiosmtpd) and an HTTP server for ``json://``
webhooks, each on a free port of this machine, and a live app whose site file has notification routes.

The app runs on a fake clock: repeats, escalations and retries happen when a test moves the clock,
not after minutes of waiting. Sends are real, to the servers here, in worker threads.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from gasguard.domain import Reading
from gasguard.notifications.service import Notifier
from live_harness import LiveHarness

SMTP_USER = "gasguard-mailer"
SMTP_PASS = "pw-Zq8t3-never-logged"
PUBLIC_URL = "https://gasguard.example.com"
ENV = {"SMTP_USER": SMTP_USER, "SMTP_PASS": SMTP_PASS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Mailbox:
    """Messages the SMTP server accepted, parsed; ``wait`` polls in real time (sends are real)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.accepted_at: list[float] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.accepted_at.append(time.perf_counter())
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def wait(self, count: int, timeout_s: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} e-mail(s), got {len(self.messages)}")

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.messages]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m, (_, rcpt) in zip(self.messages, self.envelopes, strict=True) if address in rcpt]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()  # type: ignore[attr-defined]
    return text


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER
    ok = ok and auth_data.password.decode() == SMTP_PASS
    return AuthResult(success=ok)


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox = field(default_factory=Mailbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=_authenticate,
            auth_require_tls=False,
            auth_required=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class Webhooks:
    """JSON bodies posted to the local HTTP receiver."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def wait(self, count: int, timeout_s: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.bodies) >= count:
                    return list(self.bodies)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhook(s), got {len(self.bodies)}")


@dataclass
class NotifyHarness(LiveHarness):
    notifier: Notifier

    def reading(self, channel: str, value: float) -> None:
        """A reading straight into the pipeline, then everything it caused stored and published."""
        self.on_loop(lambda: self.runtime.submit_reading(Reading(channel, value, self.clock.now)))
        self.settle()
        self.idle()

    def idle(self) -> None:
        """Until the notifier has taken every bus message and no send is running."""
        portal = self.client.portal
        assert portal is not None
        portal.call(self.notifier.wait_idle)

    def advance(self, seconds: float) -> None:
        """Move the fake clock and run the notifier's timers at once (no waiting for its poll)."""
        self.clock.now += seconds
        self.on_loop(self.notifier.tick)
        self.idle()

    def incidents(self) -> list[dict[str, Any]]:
        portal = self.client.portal
        assert portal is not None
        portal.call(self.notifier.flush)
        response = self.client.get("/api/v1/notifications/incidents", headers=self.headers("vera"))
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()
        return data
