"""Pooled PostgreSQL connections are pinged only when idle (infrastructure/pool_ping.py):
on a real connection, a recent one is handed out without a round trip, an idle one is
pinged, and a dead idle one fails its ping, so the pool discards it instead of handing it
to a request."""

from __future__ import annotations

import select
import time

import psycopg
import pytest

from infrastructure import pool_ping
from infrastructure.pool_ping import ping_when_idle
from tests.databases import POSTGRES_URL, require_postgres
from tests.integration.sql_trace import cost_on


@pytest.fixture
def conn():
    require_postgres()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        yield connection


def _round_trips(conn, work) -> int:
    return cost_on(conn, work).round_trips


def test_a_connection_checked_a_moment_ago_is_handed_out_without_a_ping(conn):
    assert _round_trips(conn, lambda: ping_when_idle(conn)) == 1  # never checked: pinged
    assert _round_trips(conn, lambda: ping_when_idle(conn)) == 0


def test_a_connection_idle_beyond_the_window_is_pinged(conn, monkeypatch):
    ping_when_idle(conn)
    monkeypatch.setattr(pool_ping, "RECENT_SECONDS", 0.0)
    assert _round_trips(conn, lambda: ping_when_idle(conn)) == 1


def test_a_dead_idle_connection_fails_its_ping_so_the_pool_discards_it(conn, monkeypatch):
    ping_when_idle(conn)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    monkeypatch.setattr(pool_ping, "RECENT_SECONDS", 0.0)
    with pytest.raises(psycopg.OperationalError):
        ping_when_idle(conn)


def test_a_recent_connection_the_server_has_closed_fails_its_check_so_the_pool_discards_it(
    conn,
):
    """A reliability drill answered 503 when a connection used a moment before was cut
    while idle in the pool: the window skipped its ping and handed it out dead."""
    ping_when_idle(conn)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    # the server's goodbye reaches the socket a moment after the backend ends
    deadline = time.monotonic() + 5
    while not _readable(conn) and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(psycopg.OperationalError):
        ping_when_idle(conn)


def test_a_recent_healthy_connection_still_costs_no_round_trip_after_a_query(conn):
    ping_when_idle(conn)
    conn.execute("SELECT 1").fetchall()  # every answer read, as when it comes back to a pool
    assert _round_trips(conn, lambda: ping_when_idle(conn)) == 0


def _readable(conn) -> bool:
    return bool(select.select([conn.fileno()], [], [], 0)[0])
