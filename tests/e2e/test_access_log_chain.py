"""Through a real server on SQLite and PostgreSQL: reads of personal data chain their
access-log rows, and ``atende audit verify`` exits 1 naming the row deleted by hand
(issue 16, item 11)."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from infrastructure.access_log import ACCESS_LOG, ENDS
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import BACKENDS, settings_for
from tests.e2e.api import Api
from tests.e2e.server import BIN, Server, running_server


@pytest.fixture(autouse=True)
def agents() -> None:
    """This module runs its own server, not the shared one."""


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Server, Atende]]:
    with running_server(request.param, tmp_path) as server:
        atende = bootstrap(settings_for(server.database_url))
        try:
            yield server, atende
        finally:
            atende.close()


def _verify(server: Server) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "atende"), "audit", "verify"],
        env=server.env, capture_output=True, timeout=120,
    )  # fmt: skip


def test_verify_exits_1_after_an_access_log_row_is_deleted_by_hand(served):
    server, atende = served
    agent = Api(server.base_url, server.create_token("agent", "lectora"))
    ticket_id = agent.open_ticket()["id"]
    for _ in range(3):
        assert agent.get(f"/v1/tickets/{ticket_id}").status_code == 200
    assert _verify(server).returncode == 0

    if atende.db.is_postgres:
        with atende.db.transaction(commit=True) as cursor:
            atende.db.execute(cursor, f"DELETE FROM {atende.db.table(ACCESS_LOG)} WHERE seq = 2")
    else:  # by hand in the file the README names: the database's, plus .access-log
        own = server.database_url.removeprefix("sqlite:///") + ".access-log"
        with closing(sqlite3.connect(own)) as raw, raw:
            assert raw.execute(f"DELETE FROM {ACCESS_LOG} WHERE seq = 2").rowcount == 1
    done = _verify(server)
    assert done.returncode == 1, done.stdout
    assert b"access-log row seq 2 deleted" in done.stderr


def test_verify_exits_1_after_the_access_log_file_is_deleted_by_hand(tmp_path):
    with running_server("sqlite", tmp_path) as server:
        agent = Api(server.base_url, server.create_token("agent", "lectora"))
        ticket_id = agent.open_ticket()["id"]
        assert agent.get(f"/v1/tickets/{ticket_id}").status_code == 200
        assert _verify(server).returncode == 0
        server.stop()
        own = Path(server.database_url.removeprefix("sqlite:///") + ".access-log")
        for path in own.parent.glob(own.name + "*"):
            path.unlink()
        server.start()

        # Reads go on, into a new chain in a new file; verify names the file from then on.
        assert agent.get(f"/v1/tickets/{ticket_id}").status_code == 200
        done = _verify(server)
        assert done.returncode == 1, done.stdout
        assert b"the access-log file is not the one this database began with" in done.stderr


def test_verify_exits_1_after_the_access_log_head_is_put_back_under_newer_rows(served):
    server, atende = served
    agent = Api(server.base_url, server.create_token("agent", "lectora"))
    ticket_id = agent.open_ticket()["id"]
    log, ends = atende.access_log.db, atende.access_log.db.table(ENDS)
    head = f"SELECT seq, seal, mark FROM {ends} WHERE name = 'head'"
    assert agent.get(f"/v1/tickets/{ticket_id}").status_code == 200
    with log.transaction(commit=False) as cursor:
        cursor.execute(head)
        earlier = dict(cursor.fetchone())
    for _ in range(2):
        assert agent.get(f"/v1/tickets/{ticket_id}").status_code == 200
    assert _verify(server).returncode == 0

    with log.transaction(commit=True) as cursor:
        log.execute(
            cursor,
            f"UPDATE {ends} SET seq = :seq, seal = :seal, mark = :mark WHERE name = 'head'",
            earlier,
        )
    done = _verify(server)
    assert done.returncode == 1, done.stdout
    newer = f"seq {earlier['seq'] + 1} to {earlier['seq'] + 2} follow the head"
    assert newer.encode() in done.stderr
