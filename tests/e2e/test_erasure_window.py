"""The erasure window through a real server: after POST /v1/customers/{id}/erase, the
projector's next key rotation (ATENDE_KEY_ROTATION_INTERVAL, 1 s here) destroys the epoch
that wrapped the erased key, and the wrapped key is in no database file any more."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest

from tests.databases import keystore_for
from tests.e2e.api import Api
from tests.e2e.server import Server, running_server

ROTATION_WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def rotating_server(server: Server, tmp_path_factory) -> Iterator[Server]:
    """A server of its own (rotating every second), on the backend of the session's."""
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    directory = tmp_path_factory.mktemp(f"erasure-{backend}")
    env = {"ATENDE_KEY_ROTATION_INTERVAL": "1s"}
    with running_server(backend, directory, workers=1, env=env) as running:
        yield running


def _connect_postgres(url: str) -> psycopg.Connection:
    schema = url.rsplit("schema=", 1)[1]
    conn = psycopg.connect(url.split("?", 1)[0], autocommit=True)
    conn.execute(f'SET search_path TO "{schema}", public')
    return conn


def _wrapped_key(url: str, customer: str) -> tuple[str, int]:
    query = "SELECT wrapped_key, key_epoch FROM customer_keys WHERE customer_id = %s"
    if url.startswith("sqlite"):
        with sqlite3.connect(urlparse(url).path[1:]) as conn:
            return conn.execute(query.replace("%s", "?"), (customer,)).fetchone()
    with _connect_postgres(url) as conn:
        return conn.execute(query, (customer,)).fetchone()


def _raw_key_storage(url: str) -> bytes:
    if url.startswith("sqlite"):
        path = Path(urlparse(url).path[1:])
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    with _connect_postgres(url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        pages = conn.execute(
            "SELECT pg_relation_size('customer_keys') / current_setting('block_size')::int"
        ).fetchone()[0]
        return b"".join(
            bytes(conn.execute("SELECT get_raw_page('customer_keys', %s)", (n,)).fetchone()[0])
            for n in range(pages)
        )


def _epochs(url: str) -> list[str]:
    return sorted(p.name for p in Path(keystore_for(url)).glob("epoch-*.key"))


def test_an_erasure_is_final_in_the_database_files_after_the_next_rotation(
    rotating_server: Server,
):
    server = rotating_server
    api = Api(server.base_url, server.create_token("integrator", "erasure-intake"))
    admin = Api(server.base_url, server.create_token("admin", "erasure-admin"))
    erased = api.open_ticket(requester={"name": "Ana", "email": "ana.window@example.com"})
    kept = api.open_ticket(requester={"name": "Bruno", "email": "bruno.window@example.com"})
    customer = erased["customer_id"].replace("-", "")
    wrapped, epoch = _wrapped_key(server.database_url, customer)
    assert wrapped.encode() in _raw_key_storage(server.database_url)

    answer = admin.post(f"/v1/customers/{erased['customer_id']}/erase", {})
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + ROTATION_WAIT_SECONDS
    while f"epoch-{epoch:06d}.key" in _epochs(server.database_url):
        assert time.monotonic() < deadline, "no rotation destroyed the erased key's epoch"
        time.sleep(0.2)

    assert wrapped.encode() not in _raw_key_storage(server.database_url)
    assert api.get(f"/v1/tickets/{erased['id']}").json()["subject"] == "[erased]"
    still = api.get(f"/v1/tickets/{kept['id']}").json()
    assert still["requester"]["name"] == "Bruno"
