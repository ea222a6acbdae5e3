"""Who holds a reservation: this process, named so that another process on the same
host can tell at once whether the holder is still alive (idempotency keys whose request
died with its worker are taken over without waiting for a timeout)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

_cache: dict[int, str] = {}


def current_owner() -> str:
    """This process as ``[host, pid, start]``; computed per pid, since workers fork."""
    pid = os.getpid()
    if pid not in _cache:
        _cache[pid] = json.dumps([host_identity(), pid, start_token(pid)])
    return _cache[pid]


def host_identity() -> str:
    """The hostname, the kernel's boot id and the PID namespace: two containers that
    share a hostname (or a kernel) still never read each other's pids as their own."""
    parts = [socket.gethostname()]
    for read in (_boot_id, _pid_namespace):
        try:
            parts.append(read())
        except OSError:
            parts.append("")
    return "/".join(parts)


def owner_is_gone(owner: str | None) -> bool:
    """True only when ``owner`` is a process of this host that no longer runs (its pid is
    free, a zombie, or reused by a process that started later). Owners on other hosts,
    or not recorded, are never known to be gone."""
    try:
        host, pid, start = json.loads(owner or "")
    except (ValueError, TypeError):
        return False
    if host != host_identity() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, run by another user
    now = start_token(pid)
    return now == "zombie" or (bool(start) and bool(now) and now != start)


def start_token(pid: int) -> str:
    """When the process started (clock ticks since boot, from /proc), "zombie" for an
    exited process not yet reaped, or "" where /proc is not there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return "zombie" if fields[0] in ("Z", "X") else fields[19]


def _boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _pid_namespace() -> str:
    return os.readlink("/proc/self/ns/pid")
