"""One publishing interface for everything that goes out live (WebSocket clients, MQTT, webhooks).

``FanoutBus`` is the in-process implementation: each subscriber gets its own bounded queue. Publishing
never waits: when a subscriber is too slow and its queue is full, its oldest message is dropped and
counted, so one stuck browser tab can never hold up the safety pipeline or the other subscribers.

>>> import asyncio
>>> async def demo() -> list[str]:
...     bus = FanoutBus()
...     sub = bus.subscribe(topics=("alarm",))
...     await bus.publish(Message(topic="alarm", payload={"zone": "kitchen"}, ts=1.0))
...     await bus.publish(Message(topic="reading", payload={}, ts=2.0))
...     return [sub.get_nowait().topic]
>>> asyncio.run(demo())
['alarm']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1000
AUDIT_TOPIC = "audit"
"""Message topic of audit events (sign-ins, user and token changes): people's names and addresses."""
CLIENT_ADDRESS_KEYS = frozenset({"client"})
"""Payload keys that hold a caller's network address (``auth.login`` audit events put it in ``client``)."""


@dataclass(frozen=True, slots=True)
class Message:
    """Something that happened, for live consumers. ``topic`` is a short kind such as ``alarm``."""

    topic: str
    payload: Mapping[str, Any]
    ts: float


def without_client_addresses(message: Message) -> Message:
    """The message with client addresses removed, at the top level and in an event's ``payload``.

    For consumers outside GasGuard (an MQTT broker): a failed sign-in's name and address together tell
    an attacker which accounts are being tried from where.

    >>> m = Message("audit", {"actor": "ada", "payload": {"client": "10.0.0.7", "accepted": False}}, 1.0)
    >>> without_client_addresses(m).payload
    {'actor': 'ada', 'payload': {'accepted': False}}
    """
    payload = {key: value for key, value in message.payload.items() if key not in CLIENT_ADDRESS_KEYS}
    inner = payload.get("payload")
    if isinstance(inner, Mapping):
        payload["payload"] = {key: value for key, value in inner.items() if key not in CLIENT_ADDRESS_KEYS}
    return Message(topic=message.topic, payload=payload, ts=message.ts)


Listener = Callable[["Message"], None]
"""A synchronous consumer of every bus message (see ``FanoutBus.listen``)."""


@runtime_checkable
class Publisher(Protocol):
    """Anything that can take a message for live delivery. ``publish`` must not wait on slow consumers."""

    async def publish(self, message: Message) -> None: ...


@dataclass(eq=False)
class Subscription:
    """A subscriber's bounded queue. Iterate it, or call ``get``; ``dropped`` counts lost messages."""

    maxsize: int
    topics: frozenset[str] | None
    _queue: asyncio.Queue[Message] = field(init=False)
    dropped: int = 0
    closed: bool = False

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.maxsize)

    def wants(self, message: Message) -> bool:
        return self.topics is None or message.topic in self.topics

    def offer(self, message: Message) -> None:
        """Queue a message, dropping the oldest one when full."""
        if self.closed:
            return
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                self.dropped += 1

    async def get(self) -> Message:
        return await self._queue.get()

    def get_nowait(self) -> Message:
        return self._queue.get_nowait()

    def pending(self) -> int:
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[Message]:
        while not self.closed:
            yield await self._queue.get()


class FanoutBus:
    """In-process publish/subscribe with one bounded queue per subscriber."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self._listeners: list[Listener] = []
        self._dropped_by_departed = 0
        self.published = 0
        self.listener_errors = 0

    def subscribe(self, *, maxsize: int = DEFAULT_QUEUE_SIZE, topics: tuple[str, ...] | None = None) -> Subscription:
        """A new subscription; ``topics`` limits it to those message topics."""
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        subscription = Subscription(maxsize=maxsize, topics=None if topics is None else frozenset(topics))
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.closed = True
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
            self._dropped_by_departed += subscription.dropped

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` with every message, at once and in order, before any subscriber's queue.

        For in-process state that must never lag or skip (the plant read model): a listener is a cheap,
        non-blocking function; one that raises is logged and counted, and the others still run."""
        self._listeners.append(listener)

    def publish_nowait(self, message: Message) -> None:
        """Deliver to every listener and every interested subscriber without waiting."""
        self.published += 1
        self._tell_listeners(message)
        for subscription in self._subscribers:
            if subscription.wants(message):
                subscription.offer(message)

    def note(self, message: Message) -> None:
        """Deliver to the listeners only: a state update too frequent to push to every live client
        (each reading, where clients get one a second per channel), which the read model still needs."""
        self._tell_listeners(message)

    @property
    def has_listeners(self) -> bool:
        return bool(self._listeners)

    def _tell_listeners(self, message: Message) -> None:
        for listener in self._listeners:
            try:
                listener(message)
            except Exception:
                self.listener_errors += 1
                logger.exception("bus listener %s failed on a %s message", listener, message.topic)

    async def publish(self, message: Message) -> None:
        self.publish_nowait(message)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def dropped_total(self) -> int:
        """Messages dropped because subscribers were too slow, since the bus was made."""
        return self._dropped_by_departed + sum(s.dropped for s in self._subscribers)
