"""A database that refuses writes for good, made so for real under a running server: on
SQLite its file system fills up (a small tmpfs of its own, filled by another file), on
PostgreSQL the server's own role loses its right to write its tables. Writes answer 503
``storage-cannot-write`` (no Retry-After: retrying will not help) instead of "busy; retry
shortly", health says it cannot write, nothing is stored, and once the database takes
writes again both recover.

Mounting needs root, as this machine's (and CI's) test user is: without it the SQLite case
fails saying so, rather than skipping."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import requests

from tests.databases import POSTGRES_URL, SECRET_KEY_TEXT, require_postgres
from tests.e2e.api import Api
from tests.e2e.server import Server, server_env

WAIT_SECONDS = 15
PROBE_EVERY_SECONDS = 5  # infrastructure.heartbeat.WriteProbe's default


@contextmanager
def _sqlite_on_its_own_file_system(tmp_path: Path) -> Iterator[tuple[str, Callable, Callable]]:
    if os.geteuid() != 0:
        pytest.fail("mounting a small file system for the database needs root", pytrace=False)
    mount = tmp_path / "volume"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], check=True)
    filler = mount / "filler"

    def fill() -> None:
        # Unbuffered: with a buffer, the bytes left in it when the disk filled were
        # flushed again on close and raised ENOSPC out of the with block.
        with open(filler, "wb", buffering=0) as out:
            chunk = b"\0" * 65536
            try:
                while True:
                    out.write(chunk)
            except OSError:  # ENOSPC: the disk is full
                pass

    try:
        yield f"sqlite:///{mount / 'atende.db'}", fill, lambda: filler.unlink(missing_ok=True)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextmanager
def _postgres_as_a_role_of_its_own() -> Iterator[tuple[str, Callable, Callable]]:
    require_postgres()
    suffix = uuid.uuid4().hex[:12]
    role, schema = f"atende_writer_{suffix}", f"atende_test_{suffix}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    admin.execute(f'GRANT CREATE ON DATABASE test TO "{role}"')  # CREATE SCHEMA IF NOT EXISTS
    admin.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{role}"')
    tables = f'ALL TABLES IN SCHEMA "{schema}"'

    def revoke() -> None:
        admin.execute(f'REVOKE INSERT, UPDATE, DELETE ON {tables} FROM "{role}"')

    def grant() -> None:
        admin.execute(f'GRANT INSERT, UPDATE, DELETE ON {tables} TO "{role}"')

    try:
        yield f"postgresql://{role}@127.0.0.1:5432/test?schema={schema}", revoke, grant
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


@pytest.fixture
def refusing(server: Server, tmp_path: Path) -> Iterator[tuple[Server, Callable, Callable]]:
    """A server of its own, on the session server's backend."""
    sqlite = server.database_url.startswith("sqlite")
    database = (
        _sqlite_on_its_own_file_system(tmp_path) if sqlite else _postgres_as_a_role_of_its_own()
    )
    with database as (url, refuse, restore):
        env = server_env(url, SECRET_KEY_TEXT)
        # Keys and anchors live beside the test, writable while the database is not.
        env["ATENDE_KEYSTORE_DIR"] = str(tmp_path / "state" / "keys")
        env["ATENDE_CHECKPOINT_FILE"] = str(tmp_path / "state" / "checkpoints.jsonl")
        server = Server(url, tmp_path / "server.log", env=env).start(workers=1)
        try:
            yield server, refuse, restore
        finally:
            restore_quietly(restore)
            server.stop()


def restore_quietly(restore: Callable) -> None:
    with contextlib.suppress(Exception):  # already restored by the test
        restore()


def _health(server: Server) -> requests.Response:
    return requests.get(f"{server.base_url}/v1/health", timeout=10)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS + PROBE_EVERY_SECONDS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.25)


def test_writes_refused_for_good_say_so_and_health_too_until_the_database_recovers(refusing):
    server, refuse, restore = refusing
    api = Api(server.base_url, server.create_token("integrator", "writes"))
    kept = api.open_ticket()
    _until(lambda: _health(server).status_code == 200, "health ok before the fault")

    refuse()
    refused = api.post("/v1/tickets", json=_ticket())
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:atende:problem:storage-cannot-write"
    assert "Retry-After" not in refused.headers
    _until(
        lambda: _health(server).json().get("database") == "cannot-write",
        "health reporting that the database cannot write",
    )
    health = _health(server)
    assert health.status_code == 503 and "Retry-After" not in health.headers

    restore()
    _until(lambda: _health(server).status_code == 200, "health ok after the fault")
    after = api.post("/v1/tickets", json=_ticket())
    assert after.status_code == 201, after.text
    listed = api.get("/v1/tickets/" + after.json()["id"])
    assert listed.status_code == 200
    # Nothing of the refused request was stored: the log holds the two tickets' openings.
    events = api.get("/v1/events", params={"after": 0, "limit": 100}).json()["events"]
    opened = [e for e in events if e["type"] == "opened"]
    assert {e["ticket_id"] for e in opened} == {kept["id"], after.json()["id"]}


def _ticket() -> dict:
    return {
        "subject": "Sin conexión",
        "description": "No navega desde ayer.",
        "requester": {"name": "Ana", "email": f"ana-{uuid.uuid4().hex[:6]}@example.com"},
        "channel": "web",
    }
