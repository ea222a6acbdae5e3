"""Reconnecting a PostgreSQL pool promptly once the database is back.

psycopg_pool replaces a lost connection with attempts whose delay doubles from one
second, with no ceiling below ``reconnect_timeout`` (five minutes): after an outage of T
seconds the next attempt can be T seconds after PostgreSQL returned. A worker whose
connections all broke then hands each request nothing but a ``PoolTimeout`` (503 with
Retry-After) for about as long again as the outage lasted, while the database is up: a
reliability drill caught one worker doing so 9 seconds after health was back. Capping
the delay at ``MAX_RECONNECT_DELAY`` - shorter than a request's wait for a connection
(``POSTGRES_CONNECT_TIMEOUT``, 3 s) - means a request arriving after recovery is
served by the next attempt. Attempts are still spaced a second apart, and the pool
still gives a slot up after ``reconnect_timeout``, as the library does.

The library exposes neither the delay nor the attempt's class, and eventsourcing builds
the pool itself, so the built pool's class is narrowed to a subclass that only starts
its reconnection attempts capped; ``tests/integration/test_pool_reconnect.py`` cuts a
real connection for longer than the uncapped backoff allows and fails if this stops
working.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

MAX_RECONNECT_DELAY = 1.0  # seconds


class CappedBackoff(AttemptWithBackoff):
    """The library's backoff (jittered, doubling, ending at its give-up time) whose delay
    never exceeds ``MAX_RECONNECT_DELAY``."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, MAX_RECONNECT_DELAY)


class PromptlyReconnectingPool(ConnectionPool[Any]):
    """eventsourcing's pool whose replacement connections retry with ``CappedBackoff``.
    No state of its own, so a built pool's class can be narrowed to it."""

    def _add_connection(
        self, attempt: AttemptWithBackoff | None, growing: bool = False
    ) -> None:
        if attempt is None:
            attempt = CappedBackoff(timeout=self.reconnect_timeout)
        super()._add_connection(attempt, growing=growing)


def reconnect_promptly(pool: ConnectionPool[Any]) -> None:
    """Make ``pool`` (built by eventsourcing, not yet opened) a ``PromptlyReconnectingPool``."""
    if type(pool) is ConnectionPool:
        pool.__class__ = PromptlyReconnectingPool
