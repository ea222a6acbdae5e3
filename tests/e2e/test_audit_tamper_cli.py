"""``atende audit verify`` names a tampered snapshot, a moved as-of time and an edited
export line (issue 16, items 8-10), on both databases."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import BACKENDS, SECRET_KEY_TEXT, fresh_database_url, settings_for
from tests.e2e.server import BIN, server_env
from tests.integration.builders import AGENT, open_ticket


@pytest.fixture(autouse=True)
def agents() -> None:
    """No server here: the CLI reads the database directly (and so not the shared server)."""


@pytest.fixture(params=BACKENDS)
def written(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Atende, dict]]:
    with fresh_database_url(request.param, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            yield atende, server_env(url, SECRET_KEY_TEXT)
        finally:
            atende.close()


def _atende(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "atende"), "audit", *args], env=env, capture_output=True, timeout=120
    )


def _run(atende: Atende, statement: str, params: dict) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement, params)


def test_verify_exits_non_zero_naming_the_ticket_and_version_of_an_edited_snapshot(written):
    atende, env = written
    tid = open_ticket(atende).ticket.id
    ticket = atende.tickets.get_ticket(tid)
    while ticket.version < 120:
        ticket.add_message(f"m{ticket.version}", "customer", None, "public", None, AGENT)
    atende.tickets.save(ticket)
    assert _atende(env, "verify").returncode == 0

    table = atende.db.table(atende.tickets.snapshots.recorder.events_table_name)
    key = tid if atende.db.is_postgres else tid.hex
    _run(
        atende,
        f"UPDATE {table} SET state = :state WHERE originator_id = :id",
        {"state": b'{"forged": true}', "id": key},
    )
    for args in ((), ("--ticket", str(tid))):
        done = _atende(env, "verify", *args)
        assert done.returncode == 1, done.stdout
        assert b"snapshot does not match its seal" in done.stderr
        assert f"{tid} version 100".encode() in done.stderr

    retaken = _atende(env, "retake-snapshots")
    assert retaken.returncode == 0, retaken.stderr
    assert b"Made 1 snapshots again" in retaken.stdout
    assert _atende(env, "verify").returncode == 0


def test_verify_exits_non_zero_naming_where_an_as_of_time_was_moved(written):
    atende, env = written
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))
    position = atende.tickets.recorder.position_of(tid, 2)
    _run(
        atende,
        f"UPDATE {atende.db.table('event_links')} SET occurred_at = occurred_at + 1 "
        "WHERE position = :p",
        {"p": position},
    )
    for args in ((), ("--ticket", str(tid))):
        done = _atende(env, "verify", *args)
        assert done.returncode == 1, done.stdout
        assert b"as-of time" in done.stderr
        assert f"{tid} version 2, position {position}".encode() in done.stderr


def test_verify_file_exits_non_zero_naming_the_line_whose_actor_was_edited(written, tmp_path: Path):
    atende, env = written
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))
    exported = _atende(env, "export", "--ticket", str(tid))
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "ticket.jsonl"
    path.write_bytes(exported.stdout)
    assert _atende(env, "verify", "--file", str(path)).returncode == 0

    header, opened, changed = (json.loads(line) for line in exported.stdout.splitlines())
    changed["actor"]["name"] = "alguien"
    lines = (
        json.dumps(line, sort_keys=True, separators=(",", ":"))
        for line in (header, opened, changed)
    )
    path.write_text("\n".join(lines) + "\n")
    done = _atende(env, "verify", "--file", str(path))
    assert done.returncode == 1, done.stdout
    assert b"actor differs from its hashed state" in done.stderr
    assert f"{tid} version 2".encode() in done.stderr
