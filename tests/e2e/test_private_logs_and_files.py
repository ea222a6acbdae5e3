"""Through a real server: an unhandled error is logged as one JSON line that carries no
query string, and the SQLite files the server creates are private to its user.

The error is a real one: a ticket-list row corrupted in the database (a number that is
not a number), which the list then fails to render.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interface.wiring import bootstrap
from tests.databases import BACKENDS, keystore_for, settings_for
from tests.e2e.api import Api
from tests.e2e.problems import assert_problem
from tests.e2e.server import Server, running_server

SECRET_QUERY = "ana.secreta@example.com"
WAIT_SECONDS = 30  # a bound on waiting for a log line, not a measurement


@pytest.fixture(autouse=True)
def agents() -> None:
    """These servers need none of the shared server's agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def quiet_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"private-{request.param}")
    # With its projector, whose lines share the log and must be JSON too.
    with running_server(request.param, directory, workers=1) as server:
        yield server


def corrupt_a_ticket_list_row(server: Server) -> None:
    """A row whose number is text, as a botched manual repair would leave it; PostgreSQL
    first has to be talked into storing text in that column."""
    atende = bootstrap(settings_for(server.database_url))
    try:
        view = atende.views["ticket_list"]
        table = view.t
        row = {
            "id": str(uuid.uuid4()),
            "folded": f"{SECRET_QUERY} factura",
            "customer": str(uuid.uuid4()),
            "at": "2026-01-01T00:00:00+00:00",
        }
        with atende.db.transaction(commit=True) as cursor:
            if atende.db.is_postgres:
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN number TYPE TEXT")
            atende.db.execute(
                cursor,
                f"INSERT INTO {table} (id, number, subject, subject_folded, status, priority, "
                "channel, customer_id, created_at, updated_at) VALUES (:id, 'no-es-numero', "
                "'Factura', :folded, 'open', 'normal', 'email', :customer, :at, :at)",
                row,
            )
            if not atende.db.is_postgres:
                # SQLite finds a subject through its trigram index, which the repair
                # filled too (PostgreSQL's indexes the row itself).
                atende.db.execute(
                    cursor,
                    f"INSERT INTO {view.subjects} (rowid, id, subject) "
                    "VALUES (999999, :id, :folded)",
                    row,
                )
    finally:
        atende.close()


def logged_lines(server: Server) -> list[str]:
    return server.log_path.read_text().splitlines()


def wait_for(found: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result


def test_an_unhandled_error_is_one_json_line_without_the_query_string(quiet_server):
    corrupt_a_ticket_list_row(quiet_server)
    reader = Api(quiet_server.base_url, quiet_server.create_token("auditor", "privacy-auditor"))
    response = reader.get("/v1/tickets", params={"q": SECRET_QUERY})
    assert_problem(response, 500)
    request_id = response.headers["X-Request-Id"]

    def unhandled() -> list[dict[str, Any]]:
        entries = [json.loads(line) for line in logged_lines(quiet_server)]
        return [e for e in entries if e.get("message") == "unhandled error"]

    (entry,) = wait_for(unhandled)
    assert entry["request_id"] == request_id
    assert (entry["method"], entry["route"]) == ("GET", "/v1/tickets")
    assert entry["exception_type"] == "builtins.ValueError"
    assert "marshmallow" in entry["traceback"]
    lines = logged_lines(quiet_server)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    text = "\n".join(lines)
    assert SECRET_QUERY not in text and SECRET_QUERY.replace("@", "%40") not in text
    assert "no-es-numero" not in text  # the exception's message carries stored values


def test_the_files_a_server_creates_are_private_to_its_user(quiet_server):
    """On SQLite the database, its -wal and -shm; on either database the epoch keys. (A
    PostgreSQL server keeps its own data files.)"""
    url = quiet_server.database_url
    files = list(Path(keystore_for(url)).glob("epoch-*.key"))
    if url.startswith("sqlite:///"):
        database = Path(url[len("sqlite:///") :])
        files += [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
    assert files
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
