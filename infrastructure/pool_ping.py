"""Pinging a pooled PostgreSQL connection only when it has been idle.

The library's pre-ping (``POSTGRES_PRE_PING``) sends an empty query before every pool
checkout: five of the eighteen round trips of one ``POST /v1/tickets`` (issue 19's
statement budget, tests/integration/test_write_path_statements.py). A connection checked
out within the last ``RECENT_SECONDS`` was working then, and one that broke while in use
is closed and discarded by the pool when it comes back, so only a connection that sat
idle longer is pinged. The window left - the server lost within the last second - is
the one the recorders' single retry and the 503 + Retry-After answer already cover.
"""

from __future__ import annotations

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
    if last is None or now - last > RECENT_SECONDS:
        ConnectionPool.check_connection(conn)
    _checked_at[conn] = now


def ping_only_idle_connections(pool: ConnectionPool) -> None:
    """Give ``pool`` (built by eventsourcing with the library's pre-ping) this check.
    psycopg_pool takes ``check`` only at construction, which eventsourcing does, so it is
    replaced on the built pool; the statement budget test fails if that stops working."""
    if getattr(pool, "_check", None) is not None:
        pool._check = ping_when_idle
