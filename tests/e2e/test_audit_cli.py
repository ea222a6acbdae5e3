"""``atende audit verify`` as an operator runs it, on a database someone tampered with."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

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
        atende = bootstrap(
            settings_for(url)
        )
        try:
            yield atende, server_env(url, SECRET_KEY_TEXT)
        finally:
            atende.close()


def _verify(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "atende"), "audit", "verify", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_verify_exits_non_zero_naming_the_ticket_version_and_position_changed(written):
    atende, env = written
    tid = open_ticket(atende).ticket.id
    for priority in ("high", "low"):
        atende.tickets.change(tid, lambda t, p=priority: t.change_priority(p, AGENT))
    assert _verify(env).returncode == 0
    assert _verify(env, "--ticket", str(tid)).returncode == 0

    position = atende.tickets.recorder.position_of(tid, 2)
    events = atende.db.table(atende.tickets.recorder.events_table_name)
    column = "notification_id" if atende.db.is_postgres else "rowid"
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(
            cursor, f"UPDATE {events} SET topic = topic || 'X' WHERE {column} = :p", {"p": position}
        )

    for args in ((), ("--ticket", str(tid))):
        done = _verify(env, *args)
        assert done.returncode == 1, done.stdout
        assert f"{tid} version 2" in done.stderr
        assert f"position {position}" in done.stderr


def test_verify_of_an_unknown_ticket_is_a_usage_error(written):
    atende, env = written
    open_ticket(atende)
    done = _verify(env, "--ticket", "00000000-0000-0000-0000-000000000000")
    assert done.returncode == 2 and "not found" in done.stderr
