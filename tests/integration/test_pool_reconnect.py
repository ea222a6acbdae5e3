"""A worker's pool reconnects promptly once PostgreSQL is back (infrastructure/
pool_reconnect.py). The connection is cut for real, by a proxy, for longer than
psycopg_pool's own doubling backoff would stay quiet after the database returns: with
the library's backoff the next attempt after an 8-second outage falls 7 seconds after it
ended, and every request meanwhile would wait for nothing and answer 503."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg_pool
import pytest

from infrastructure.pool_reconnect import MAX_RECONNECT_DELAY, CappedBackoff
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import POSTGRES_URL, fresh_database_url, settings_for
from tests.e2e.tcp_proxy import TcpProxy, through_port
from tests.integration.builders import open_ticket

OUTAGE_SECONDS = 8.0
REQUEST_WAIT_SECONDS = 3.0  # POSTGRES_CONNECT_TIMEOUT: how long a request waits for a connection


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Atende, TcpProxy]]:
    upstream = urlparse(POSTGRES_URL)
    proxy = TcpProxy(upstream.hostname, upstream.port or 5432).start()
    with fresh_database_url("postgres", tmp_path) as url:
        through = through_port(url, proxy.port)
        atende = bootstrap(settings_for(through))
        try:
            yield atende, proxy
        finally:
            atende.close()
            proxy.cut()


def test_a_pool_whose_connections_all_broke_serves_a_request_soon_after_postgres_returns(
    proxied,
):
    atende, proxy = proxied
    pool = atende.db.datastore.pool
    open_ticket(atende)

    proxy.cut()
    cut_at = time.monotonic()
    pool.check()  # every idle connection found dead and discarded: all are reconnecting
    with pytest.raises(psycopg_pool.PoolTimeout):  # a request meanwhile starts the pool growing
        pool.getconn(timeout=0.5)
    time.sleep(max(0.0, cut_at + OUTAGE_SECONDS - time.monotonic()))
    proxy.restore()

    with pool.connection(timeout=REQUEST_WAIT_SECONDS) as conn:
        assert conn.execute("SELECT 1").fetchone()
    assert open_ticket(atende, subject="De vuelta").ticket.subject.text == "De vuelta"


def test_the_capped_backoff_doubles_up_to_its_ceiling_and_still_gives_up_on_time():
    attempt = CappedBackoff(timeout=10.0)
    delays = []
    now = 0.0
    while not attempt.time_to_give_up(now):
        attempt.update_delay(now)
        delays.append(attempt.delay)
        now += attempt.delay or 1.0
    assert delays[0] == pytest.approx(min(1.0, MAX_RECONNECT_DELAY), rel=0.1)
    assert max(delays) <= MAX_RECONNECT_DELAY
    assert 10.0 <= now <= 10.0 + MAX_RECONNECT_DELAY
