"""Login rate limiting over the ``login_failures`` table: per username and client, and per username.

Two counts, both over the last ``window_s`` seconds:

- one username from one client: ``max_failures`` failures and that pair must wait (someone guessing one
  account from one place is stopped quickly);
- one username from anywhere: ``max_failures * username_factor`` failures and the account must wait,
  so guessing one account from many addresses is slowed too.

There is deliberately no count per client alone. It used to exist, and it let anybody who sprayed
wrong passwords across many usernames lock every real user behind the same address (an office, a
NAT, a reverse proxy) out of the system, right password or not. A blocked attempt is refused before
the password is checked, so the answer never tells a sprayer whether the password was right.

A successful sign-in clears the count of that username from that client. Failures are rows in the
database, so a restart does not clear a lock-out and every web process behind one database shares it.
Rows older than the window are deleted as failures come in (at most once every ``prune_every_s``).
Usernames are counted in lower case, so changing the case does not reset the count.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gasguard.storage.models import LoginFailureRow

KEY_LENGTH = 64  # the width of the table's username and client columns


def _username_key(username: str) -> str:
    return username.strip().lower()[:KEY_LENGTH]


def _client_key(client: str) -> str:
    return client[:KEY_LENGTH]


class LoginRateLimiter:
    """The rule and its numbers; the rows live in the caller's session (committed with the login's audit)."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_s: float = 300.0,
        username_factor: int = 4,
        prune_every_s: float = 30.0,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.username_factor = username_factor
        self.prune_every_s = prune_every_s
        self._pruned_at = float("-inf")

    @property
    def max_failures_per_username(self) -> int:
        """The limit across all clients for one username."""
        return self.max_failures * self.username_factor

    def _wait(self, session: Session, *, now: float, limit: int, username: str, client: str | None) -> float:
        """Seconds until fewer than ``limit`` failures of this key are left in the window (0: none)."""
        statement = select(LoginFailureRow.ts).where(
            LoginFailureRow.username == username, LoginFailureRow.ts > now - self.window_s
        )
        if client is not None:
            statement = statement.where(LoginFailureRow.client == client)
        newest = list(session.scalars(statement.order_by(LoginFailureRow.ts.desc()).limit(limit)))
        if len(newest) < limit:
            return 0.0
        # The oldest of the newest ``limit`` failures must leave the window before another try.
        return max(0.0, newest[-1] + self.window_s - now)

    def retry_after(self, session: Session, *, username: str, client: str, now: float) -> float:
        """Seconds until this username may be tried from this client again; 0 when it may be tried now."""
        user = _username_key(username)
        return max(
            self._wait(session, now=now, limit=self.max_failures, username=user, client=_client_key(client)),
            self._wait(session, now=now, limit=self.max_failures_per_username, username=user, client=None),
        )

    def record_failure(self, session: Session, *, username: str, client: str, now: float) -> None:
        """Count one failed sign-in (flushed; the caller commits it with the audit event)."""
        session.add(LoginFailureRow(ts=now, username=_username_key(username), client=_client_key(client)))
        if now - self._pruned_at >= self.prune_every_s:
            self._pruned_at = now
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.ts <= now - self.window_s))
        session.flush()

    def record_success(self, session: Session, *, username: str, client: str) -> None:
        """Clear the failures of this username from this client (other clients' failures stay)."""
        session.execute(
            delete(LoginFailureRow).where(
                LoginFailureRow.username == _username_key(username), LoginFailureRow.client == _client_key(client)
            )
        )
