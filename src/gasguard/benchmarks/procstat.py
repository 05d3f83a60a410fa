"""Resident memory and CPU time of a process, read from ``/proc`` (Linux; no extra dependency)."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def rss_mib(pid: int | None = None) -> float | None:
    """Resident set size now (VmRSS), MiB; ``None`` where ``/proc`` is not available."""
    kib = _status_kib(pid or os.getpid(), "VmRSS")
    return None if kib is None else round(kib / 1024, 1)


def peak_rss_mib(pid: int | None = None) -> float | None:
    """Highest resident set size so far (VmHWM), MiB."""
    kib = _status_kib(pid or os.getpid(), "VmHWM")
    return None if kib is None else round(kib / 1024, 1)


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU time the process has used, seconds (all its threads)."""
    try:
        raw = Path(f"/proc/{pid or os.getpid()}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name may contain spaces; fields follow ")"
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _TICKS
