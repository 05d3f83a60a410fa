"""The ``notifications:`` block of the site file: who is told what, and how urgently.

A route is a list of Apprise URLs (e-mail, ntfy, Gotify, Telegram, Pushover, Slack, a JSON webhook and
about a hundred more services, one URL syntax) with filters (zones, events), quiet hours, and its own
repeat and escalation timers. Routes form an on-call rota through ``escalate_to``: a route that another
route escalates to is an escalation level and hears of an incident only when it is escalated to it.

Secrets never live in the file. A URL names them as ``{env:NAME}`` placeholders, expanded from the
environment only at send time (``mailto://{env:SMTP_USER}:{env:SMTP_PASS}@smtp.example.com``); a
literal password or token in a URL is refused when the file is loaded. Every model forbids unknown
keys, like the rest of the site file, and errors name the route and the URL by position, never the URL's
text beyond its scheme.
"""

from __future__ import annotations

import re
from datetime import time as day_time
from enum import StrEnum
from typing import Annotated, Self
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RouteName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
ZoneRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
UserName = Annotated[str, Field(min_length=1, max_length=64)]

PLACEHOLDER = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
"""``{env:NAME}``: the value of the environment variable NAME, put into the URL at send time."""

_ANY_BRACE = re.compile(r"\{[^}]*\}")
_SECRET_QUERY_KEYS = frozenset(
    {"pass", "password", "pwd", "secret", "token", "apikey", "api_key", "key", "access_token", "webhook", "botkey"}
)
"""Query parameters that hold a credential in Apprise URLs: only a placeholder may stand there."""

DEFAULT_WHAT_TO_DO = (
    "Do not switch lights or appliances on or off and do not use anything that can spark. "
    "Ventilate from outside if it is safe to get there. Leave the area and keep others out. "
    "Call the gas emergency number from outside."
)


class NotifyEvent(StrEnum):
    """What a route can take. ``trip`` is an A2 alarm or a zone trip; ``system`` a failure of GasGuard
    itself (storage down, a start without a stored safety state); ``camera_leak`` an ML or camera
    early-trip signal; ``cleared`` and ``reset`` the closing messages of an incident."""

    A1 = "a1"
    TRIP = "trip"
    A3 = "a3"
    FAULT = "fault"
    VALVE_FAULT = "valve_fault"
    SYSTEM = "system"
    CAMERA_LEAK = "camera_leak"
    MAINTENANCE = "maintenance"
    CLEARED = "cleared"
    RESET = "reset"


QUIETABLE = frozenset({NotifyEvent.A1, NotifyEvent.MAINTENANCE})
"""The only events quiet hours may hold back: a trip or a system failure always goes out."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders(url: str) -> list[str]:
    """The environment variables a URL needs, in order of appearance.

    >>> placeholders("mailto://{env:SMTP_USER}:{env:SMTP_PASS}@mail.example.com")
    ['SMTP_USER', 'SMTP_PASS']
    """
    return PLACEHOLDER.findall(url)


def url_scheme(url: str) -> str:
    """The scheme only: the one part of a URL that error messages and listings may always show."""
    return url.split("://", 1)[0] if "://" in url else "?"


_MARK = "\x00"


def literal_secret(url: str) -> str | None:
    """Why ``url`` seems to hold a credential written out in the file, or ``None``.

    Checks the password of ``user:password@`` and credential-named query parameters; a token in a
    URL's path (some services put one there) cannot be told from a name, so the docs ask for
    placeholders there too.

    >>> literal_secret("mailto://me:hunter2@mail.example.com")
    'the password in user:password@ is written out'
    >>> literal_secret("mailto://{env:U}:{env:P}@mail.example.com?to=ops@example.com") is None
    True
    """
    if "://" not in url:
        return None
    # Placeholders hold ':' themselves; stand one character in for each before splitting on ':'.
    masked = PLACEHOLDER.sub(_MARK, url)
    netloc = masked.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        if ":" in userinfo:
            password = userinfo.split(":", 1)[1]
            if password.strip(_MARK):
                return "the password in user:password@ is written out"
    query = masked.split("?", 1)[1] if "?" in masked else ""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key.lower() in _SECRET_QUERY_KEYS and value.strip(_MARK):
            return f"the {key}= parameter is written out"
    return None


def check_apprise_url(url: str) -> None:
    """Raise ``ValueError`` unless Apprise can build a sender from ``url`` (placeholders filled with dummies).

    Apprise is imported here, not at module level: the site file is read by every command, most of which
    never send a message, and Apprise loads a hundred plugins when imported.
    """
    import apprise

    if _ANY_BRACE.sub("", PLACEHOLDER.sub("", url)) != PLACEHOLDER.sub("", url):
        raise ValueError("has a '{...}' that is not an {env:NAME} placeholder")
    sample = PLACEHOLDER.sub("placeholder", url)
    if apprise.Apprise.instantiate(sample) is None:
        raise ValueError(
            f"Apprise cannot use this {url_scheme(url)}:// URL (unknown service or missing parts; "
            "see https://github.com/caronc/apprise/wiki)"
        )


class QuietHours(_Strict):
    """A daily window in which A1 warnings and maintenance reminders are held back (never trips or failures)."""

    start: day_time = Field(description="Start of the quiet window, HH:MM, local to `timezone`.")
    end: day_time = Field(description="End of the quiet window, HH:MM; before `start` means it runs past midnight.")
    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Berlin.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        return self

    def contains(self, epoch_s: float) -> bool:
        """Whether the wall-clock time at ``epoch_s`` in this zone falls inside the window."""
        from datetime import datetime

        local = datetime.fromtimestamp(epoch_s, ZoneInfo(self.timezone)).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Route(_Strict):
    """Where a group of people is told: one or more Apprise URLs with their filters and timers."""

    name: RouteName = Field(description="Unique route name, e.g. on-call-1 (shown in the delivery log).")
    urls: list[Annotated[str, Field(min_length=4, max_length=2000)]] = Field(
        min_length=1,
        description="Apprise URLs; secrets as {env:NAME} placeholders, expanded at send time.",
    )
    zones: list[ZoneRef] = Field(default_factory=list, description="Zones this route takes; empty: every zone.")
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(NotifyEvent), description="Events this route takes; default: all of them."
    )
    quiet_hours: QuietHours | None = Field(None, description="Hold back A1 and maintenance messages in this window.")
    repeat_every_min: float | None = Field(
        5.0, ge=1, le=1440, description="Repeat an unacknowledged incident this often; null: never."
    )
    escalate_after_min: float = Field(
        15.0, ge=1, le=1440, description="Escalate to `escalate_to` after this long unacknowledged."
    )
    escalate_to: RouteName | None = Field(None, description="The next route of the on-call rota, if any.")
    ack_as: UserName | None = Field(
        None,
        description="GasGuard user the acknowledge link in this route's messages acts as (an operator); "
        "null: no link, acknowledge in the dashboard.",
    )

    @field_validator("urls")
    @classmethod
    def _usable_urls(cls, urls: list[str]) -> list[str]:
        problems = []
        for index, url in enumerate(urls, start=1):
            secret = literal_secret(url)
            if secret is not None:
                problems.append(f"url {index} ({url_scheme(url)}://): {secret}; use an {{env:NAME}} placeholder")
                continue
            try:
                check_apprise_url(url)
            except ValueError as exc:
                problems.append(f"url {index}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return urls

    @field_validator("events")
    @classmethod
    def _some_events(cls, events: list[NotifyEvent]) -> list[NotifyEvent]:
        if not events:
            raise ValueError("a route must take at least one event")
        return events

    def takes_zone(self, zone: str | None) -> bool:
        return not self.zones or zone is None or zone in self.zones


class WhatToDo(_Strict):
    """The instructions every alarm message carries: the default, and a text per site where it differs."""

    default: str = Field(DEFAULT_WHAT_TO_DO, min_length=1, max_length=2000, description="For every site.")
    sites: dict[ZoneRef, Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=dict, description="Per site id: e.g. the local emergency number and the meeting point."
    )

    def for_site(self, site_id: str | None) -> str:
        return self.sites.get(site_id or "", self.default)


class NotificationsConfig(_Strict):
    """Notifications to people: routes, the acknowledge link, the dead-man heartbeat."""

    routes: list[Route] = Field(default_factory=list, description="Routes, checked in order.")
    what_to_do: WhatToDo = Field(default_factory=WhatToDo, description="What people must do, per site.")
    ack_link_valid_min: float = Field(
        120.0, ge=1, le=7 * 1440, description="How long an acknowledge link in a message stays valid."
    )
    heartbeat_url: Annotated[str, Field(min_length=8, max_length=2000)] | None = Field(
        None,
        description="Pinged every heartbeat_every_s while the safety loop runs (healthchecks.io / Uptime Kuma "
        "push URL); {env:NAME} placeholders allowed.",
    )
    heartbeat_every_s: float = Field(60.0, ge=5, le=3600, description="Seconds between heartbeat pings.")

    @field_validator("heartbeat_url")
    @classmethod
    def _http_heartbeat(cls, url: str | None) -> str | None:
        if url is not None and url_scheme(PLACEHOLDER.sub("x", url)) not in {"http", "https"}:
            raise ValueError("heartbeat_url must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _rota(self) -> Self:
        names = [route.name for route in self.routes]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"route name {name!r} is used twice")
            seen.add(name)
        by_name = {route.name: route for route in self.routes}
        for route in self.routes:
            if route.escalate_to == route.name:
                raise ValueError(f"route {route.name!r} escalates to itself")
            if route.escalate_to is not None and route.escalate_to not in by_name:
                raise ValueError(f"route {route.name!r} escalates to {route.escalate_to!r}, which is not a route here")
        for route in self.routes:
            target = route.escalate_to
            chain = [route.name]
            while target is not None:
                if target in chain:
                    raise ValueError(f"routes escalate in a circle: {' -> '.join([*chain, target])}")
                chain.append(target)
                target = by_name[target].escalate_to
        return self

    def escalation_levels(self) -> frozenset[str]:
        """Routes some other route escalates to: they hear of an incident only by escalation."""
        return frozenset(r.escalate_to for r in self.routes if r.escalate_to is not None)

    def route(self, name: str) -> Route:
        return next(route for route in self.routes if route.name == name)

    def check_zones(self, known: set[str]) -> None:
        """Raise ``ValueError`` naming each route that lists a zone the site file does not have."""
        for route in self.routes:
            unknown = [zone for zone in route.zones if zone not in known]
            if unknown:
                raise ValueError(f"route {route.name!r} names unknown zone(s) {', '.join(map(repr, unknown))}")
