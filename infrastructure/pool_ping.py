"""Pinging a pooled PostgreSQL connection only when it has been idle.

The library's pre-ping (``POSTGRES_PRE_PING``) sends an empty query before every pool
checkout: five of the eighteen round trips of one ``POST /v1/tickets`` (issue 19's
statement budget, tests/integration/test_write_path_statements.py). A connection checked
out within the last ``RECENT_SECONDS`` was working then, and one that broke while in use
is closed and discarded by the pool when it comes back, so only a connection that sat
idle longer is pinged. A recent connection whose server has since closed it (a restart,
an administrator's pg_terminate_backend, a proxy's idle cut) has its end of the socket
readable - the server's goodbye or the EOF is waiting there - which one poll() with no
timeout sees without a round trip; that connection is pinged too, fails, and the pool
hands out another instead (a reliability drill once answered 503 on exactly this). The
window left - a network that vanished without a word within the last second - is the one
the recorders' single retry and the 503 + Retry-After answer cover.
"""

from __future__ import annotations

import select
import time
import weakref
from typing import Any

from psycopg_pool import ConnectionPool

RECENT_SECONDS = 1.0

_checked_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def ping_when_idle(conn: Any) -> None:
    """A pool ``check``: the library's ping, skipped for a connection checked recently."""
    now = time.monotonic()
    last = _checked_at.get(conn)
    if last is None or now - last > RECENT_SECONDS or _server_has_spoken(conn):
        ConnectionPool.check_connection(conn)
    _checked_at[conn] = now


def _server_has_spoken(conn: Any) -> bool:
    """Whether anything waits to be read on an idle connection's socket. Nothing should:
    every answer was read before it came back to the pool, so this is the server closing
    it (or, harmlessly, a notice; the ping then just costs its round trip). poll, not
    select: a busy process's descriptors pass select's limit of 1,024."""
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def ping_only_idle_connections(pool: ConnectionPool) -> None:
    """Give ``pool`` (built by eventsourcing with the library's pre-ping) this check.
    psycopg_pool takes ``check`` only at construction, which eventsourcing does, so it is
    replaced on the built pool; the statement budget test fails if that stops working."""
    if getattr(pool, "_check", None) is not None:
        pool._check = ping_when_idle
