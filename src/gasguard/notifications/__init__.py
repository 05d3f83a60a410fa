"""Notifications to people: routes, incidents, repeat, escalation and acknowledge links.

A consumer of the live message bus like any other (``gasguard.notify``): it never sits between a
reading and the safety step, and a slow or dead mail server can only delay messages, never the core.

- ``config``: the ``notifications:`` block of the site file (imported by ``gasguard.config``; light).
- ``incidents``: the incident book, pure: bus messages and the clock in, what to send out.
- ``messages``: the text of each message; ``links``: signed one-time acknowledge links.
- ``delivery``: Apprise senders with secrets expanded at send time, retries with backoff.
- ``store``: incidents, delivery attempts and used link nonces in the database.
- ``service``: the ``Notifier`` that wires them to the bus, the clock, health and metrics.
"""
