"""One running GasGuard per data folder: an operating-system file lock, held for the life of the process.

Two services on one SQLite file would both run the safety core on the same plant: every trip and
acknowledge twice in the log, and a second ``gasguard demo`` used to give the running demo's admin a new
password (signing everybody out) before it even found its port taken. So ``gasguard serve`` and
``gasguard demo`` take this lock before they write anything (migrations, the secret key, accounts), and
a second one stops with a message that names the process holding the folder.

Why an OS lock (``flock``) and not a pid file: the kernel drops the lock when its process ends, however
it ends (a crash, ``kill -9``, a power cut), so a stale file can never keep a restarted service out. The
file's content (pid, command, address) is only there to tell the next process who holds the folder; it
means nothing while nobody holds the lock.

Standard library only, so the check costs nothing before the heavy imports of a start-up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

LOCK_FILE = "gasguard.lock"
HOLDER_WAIT_S = 1.0
"""How long to wait for a holder that has just taken the lock to write who it is."""
_WINDOWS_LOCK_OFFSET = 1 << 20
"""On Windows the lock is a byte range; one far past the text, so the holder's details stay readable."""


@dataclass(frozen=True)
class Holder:
    """Who holds a data folder, as written into its lock file."""

    pid: int
    command: str
    host: str | None = None
    port: int | None = None
    started_at: float | None = None

    def describe(self) -> str:
        """``gasguard demo (pid 1234, port 8000)``: what an operator needs to find and stop it."""
        details = [f"pid {self.pid}"]
        if self.port is not None:
            details.append(f"port {self.port}")
        return f"{self.command} ({', '.join(details)})"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            data = json.loads(text)
            port = data.get("port")
            started = data.get("started_at")
            return cls(
                pid=int(data["pid"]),
                command=str(data["command"]),
                host=None if data.get("host") is None else str(data["host"]),
                port=None if port is None else int(port),
                started_at=None if started is None else float(started),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


class DataFolderInUseError(RuntimeError):
    """Another running GasGuard holds the data folder; the message names it and says what to do."""

    def __init__(self, folder: Path, holder: Holder | None, hint: str) -> None:
        who = holder.describe() if holder is not None else "another GasGuard process (its pid could not be read)"
        super().__init__(f"data folder {folder} is in use by {who}: stop it first or {hint}")
        self.folder = folder
        self.holder = holder


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; ``False`` if another process holds it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def read_holder(folder: Path, *, wait_s: float = HOLDER_WAIT_S) -> Holder | None:
    """The holder written in ``folder``'s lock file, waiting up to ``wait_s`` for one that has just
    locked it to finish writing; ``None`` if there is none."""
    path = folder / LOCK_FILE
    deadline = time.monotonic() + wait_s
    while True:
        try:
            holder = Holder.from_json(path.read_text(encoding="utf-8"))
        except OSError:
            holder = None
        if holder is not None or time.monotonic() >= deadline:
            return holder
        time.sleep(0.05)


class DataFolderLock:
    """The held lock on a data folder; released by ``release`` (or by the process ending)."""

    def __init__(self, folder: Path, fd: int, holder: Holder) -> None:
        self.folder = folder
        self.holder = holder
        self._fd: int | None = fd

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Clear the holder's details and let the folder go (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> DataFolderLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def lock_data_folder(
    folder: Path,
    *,
    command: str,
    host: str | None = None,
    port: int | None = None,
    hint: str = "set GASGUARD_DATA_DIR to another folder",
) -> DataFolderLock:
    """Lock ``folder`` for this process and write who holds it, or raise ``DataFolderInUseError``.

    Nothing in the folder is changed when it is in use: the lock file is opened without truncating and
    written only once the lock is ours. ``hint`` is the way out the message offers (e.g. ``use
    --data-dir`` for the demo).
    """
    folder = folder.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not _try_lock(fd):
            raise DataFolderInUseError(folder, read_holder(folder), hint)
        holder = Holder(pid=os.getpid(), command=command, host=host, port=port, started_at=time.time())
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, holder.to_json().encode("utf-8"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    log.info("data folder %s locked by %s", folder, holder.describe())
    return DataFolderLock(folder, fd, holder)
