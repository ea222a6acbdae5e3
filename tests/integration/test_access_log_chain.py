"""The access log is a keyed hash chain that ``audit verify`` walks (issue 16, item 11):
rows deleted, edited or inserted through raw SQL are named, a retention purge is not,
and concurrent appends from threads and from another process's pool keep one chain.
SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import uuid4

import falcon.testing
import pytest
from eventsourcing.persistence import IntegrityError

from domain.actor import Actor
from infrastructure.access_log import ACCESS_LOG, ENDS, ChainTampered
from infrastructure.retention import purge_access_log
from interface.container import Atende
from interface.http.app import create_app
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, agent_token, open_ticket
from tests.integration.group_commits import transactions_writing_queued
from tests.integration.sql_trace import counting, observe_connections  # noqa: F401

ROUTE = "/v1/tickets/{ticket_id:uuid}"
# Purges here name their cutoff as ``now``: nothing is kept past it.
_NO_RETENTION = timedelta(0)


def table(atende: Atende, name: str = ACCESS_LOG) -> str:
    """The access log's table where it lives: on SQLite, a file of its own."""
    return atende.access_log.db.table(name)


def _sql(atende: Atende, statement: str, params: dict | None = None) -> None:
    with atende.access_log.db.transaction(commit=True) as cursor:
        atende.access_log.db.execute(cursor, statement, params)


def chain(atende: Atende) -> list[dict[str, Any]]:
    """Every access-log row, straight from the table, in chain order."""
    with atende.access_log.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {table(atende)} ORDER BY seq NULLS FIRST")
        return [dict(row) for row in cursor.fetchall()]


def read_tickets(atende: Atende, times: int) -> list[str]:
    """``times`` recorded reads, one ticket each; the tickets' ids."""
    ids = [str(uuid4()) for _ in range(times)]
    for ticket_id in ids:
        atende.access_log.record(AGENT, ROUTE, "ticket", ticket_id=ticket_id)
    return ids


def first_break(atende: Atende):
    """What verify says, and that the access log says the same on its own."""
    report = atende.audit.verify()
    assert report.ok == (report.first_break is None)
    own = atende.access_log.first_break()
    assert (own is None) == report.ok
    return report.first_break


def test_reads_through_the_api_form_a_chain_that_verifies(atende):
    token = agent_token(atende, "lectora")
    client = falcon.testing.TestClient(
        create_app(atende), headers={"Authorization": f"Bearer {token}"}
    )
    ticket_id = open_ticket(atende).ticket.id
    for path in (f"/v1/tickets/{ticket_id}", f"/v1/tickets/{ticket_id}/history"):
        assert client.simulate_get(path).status_code == 200
    first, second = chain(atende)
    assert (first["seq"], second["seq"]) == (1, 2)
    assert second["prev_seal"] == first["seal"] and len(first["seal"]) == 64
    assert first_break(atende) is None


def test_a_row_deleted_from_the_middle_is_named_by_verify(atende):
    read_tickets(atende, 3)
    _sql(atende, f"DELETE FROM {table(atende)} WHERE seq = 2")
    assert first_break(atende).reason == "access-log row seq 2 deleted"


def test_the_oldest_rows_deleted_without_a_purge_are_named_by_verify(atende):
    read_tickets(atende, 4)
    _sql(atende, f"DELETE FROM {table(atende)} WHERE seq <= 2")
    broken = first_break(atende)
    assert broken.reason == "access-log rows seq 1 to 2 (the oldest) deleted without a " \
                            "retention purge"  # fmt: skip


def test_the_newest_rows_deleted_are_named_by_verify(atende):
    read_tickets(atende, 3)
    _sql(atende, f"DELETE FROM {table(atende)} WHERE seq >= 2")
    assert first_break(atende).reason == "access-log rows seq 2 to 3 (the newest) deleted"


def test_an_edited_row_is_named_by_verify_with_its_ticket(atende):
    tickets = read_tickets(atende, 3)
    [row] = [r for r in chain(atende) if r["seq"] == 2]
    _sql(atende, f"UPDATE {table(atende)} SET principal_name = 'nobody' "
                 "WHERE seq = 2")  # fmt: skip
    broken = first_break(atende)
    assert f"access-log row {row['id']} (seq 2) was not written by Atende" in broken.reason
    assert str(broken.aggregate_id) == tickets[1]


def test_a_row_inserted_at_the_end_of_the_chain_is_named_by_verify(atende):
    read_tickets(atende, 2)
    last = chain(atende)[-1]
    forged = {**last, "id": "forged", "seq": 3, "prev_seal": last["seal"], "seal": "0" * 64}
    columns = ", ".join(forged)
    _sql(atende, f"INSERT INTO {table(atende)} ({columns}) "
                 f"VALUES ({', '.join(':' + c for c in forged)})", forged)  # fmt: skip
    assert "access-log row forged (seq 3) was not written by Atende" in first_break(atende).reason


def test_a_row_inserted_without_a_seal_after_sealed_rows_is_named_by_verify(atende):
    read_tickets(atende, 1)
    _sql(atende, f"INSERT INTO {table(atende)} (id, at, principal_id, "
                 "principal_name, role, what, detail) VALUES ('unsealed', :at, 'p', 'ana', "
                 "'admin', 'ticket', '')", {"at": chain(atende)[0]["at"] + 1})  # fmt: skip
    assert "access-log row unsealed has no seal" in first_break(atende).reason


def test_rows_from_before_seals_verify_when_older_than_every_sealed_row(atende):
    _sql(atende, f"INSERT INTO {table(atende)} (id, at, principal_id, "
                 "principal_name, role, what, detail) VALUES ('old', 1.5, 'p', 'ana', "
                 "'admin', 'ticket', '')")  # fmt: skip
    read_tickets(atende, 2)
    assert first_break(atende) is None


def test_a_retention_purge_keeps_the_chain_verifiable_and_later_reads_continue_it(atende):
    read_tickets(atende, 3)
    rows = chain(atende)
    purged = purge_access_log(atende.access_log, rows[-1]["at"], _NO_RETENTION)
    assert purged == len([r for r in rows if r["at"] < rows[-1]["at"]])
    assert first_break(atende) is None
    assert purge_access_log(atende.access_log, rows[-1]["at"] + 1, _NO_RETENTION) == 3 - purged
    assert chain(atende) == [] and first_break(atende) is None
    read_tickets(atende, 1)
    assert [row["seq"] for row in chain(atende)] == [4]
    assert first_break(atende) is None


def test_a_purge_also_deletes_the_rows_from_before_seals(atende):
    _sql(atende, f"INSERT INTO {table(atende)} (id, at, principal_id, "
                 "principal_name, role, what, detail) VALUES ('old', 1.5, 'p', 'ana', "
                 "'admin', 'ticket', '')")  # fmt: skip
    read_tickets(atende, 2)
    assert purge_access_log(atende.access_log, chain(atende)[-1]["at"] + 1, _NO_RETENTION) == 3
    assert first_break(atende) is None


def test_the_oldest_row_deleted_after_a_purge_is_named_by_verify(atende):
    read_tickets(atende, 2)
    purge_access_log(atende.access_log, chain(atende)[-1]["at"] + 1, _NO_RETENTION)
    read_tickets(atende, 3)
    _sql(atende, f"DELETE FROM {table(atende)} WHERE seq = 3")
    assert "access-log row seq 3 (the oldest) deleted without" in first_break(atende).reason


def test_a_head_put_back_under_newer_rows_is_named_by_verify(atende):
    read_tickets(atende, 2)
    with atende.access_log.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT seq, seal, mark FROM {table(atende, ENDS)} WHERE name = 'head'")
        earlier = dict(cursor.fetchone())  # a sealed head, as a backup or a snoop saw it
    read_tickets(atende, 2)
    _sql(
        atende,
        f"UPDATE {table(atende, ENDS)} SET seq = :seq, seal = :seal, mark = :mark "
        "WHERE name = 'head'",
        earlier,
    )
    assert first_break(atende).reason == (
        "access-log rows seq 3 to 4 follow the head Atende recorded (seq 2): the head was put back"
    )


def test_rows_appended_while_verify_walks_are_not_taken_for_a_head_put_back(
    atende, monkeypatch
):
    read_tickets(atende, 2)
    page = atende.access_log._page
    appended = []

    def page_after_a_read_lands(after):
        # A read's row committed after verify read the head, before it read the rows.
        if not appended:
            appended.extend(read_tickets(atende, 2))
        return page(after)

    monkeypatch.setattr(atende.access_log, "_page", page_after_a_read_lands)
    assert atende.access_log.first_break() is None
    assert len(appended) == 2 and [row["seq"] for row in chain(atende)] == [1, 2, 3, 4]


@pytest.mark.parametrize("end", ["head", "purged"])
def test_an_end_of_the_chain_edited_by_hand_is_named_and_refuses_writes(atende, end):
    read_tickets(atende, 3)
    _sql(atende, f"DELETE FROM {table(atende)} WHERE seq = 3")
    _sql(atende, f"UPDATE {table(atende, ENDS)} SET seq = 2 WHERE name = :end", {"end": end})
    assert f"the access log's {end} was not written by Atende" in first_break(atende).reason
    write = (
        (lambda: read_tickets(atende, 1))
        if end == "head"
        else (lambda: atende.access_log.purge(chain(atende)[-1]["at"] + 1))
    )
    with pytest.raises(ChainTampered):
        write()
    assert len(chain(atende)) == 2


def test_concurrent_reads_in_threads_and_in_another_process_keep_one_chain(atende, settings):
    other = bootstrap(settings)  # a second pool, as another gunicorn worker has
    try:
        threads = [
            threading.Thread(target=read_tickets, args=(log_of, 25))
            for log_of in (atende, atende, other, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    rows = chain(atende)
    assert [row["seq"] for row in rows] == list(range(1, 101))
    assert all(b["prev_seal"] == a["seal"] for a, b in itertools.pairwise(rows))
    assert first_break(atende) is None


def test_reads_waiting_for_the_log_together_share_one_commit_and_keep_the_chain(atende):
    # Five reads queue up behind the process's turn: the next turn writes all five in
    # one transaction, each row chained to the one before.
    writers = [lambda: read_tickets(atende, 1) for _ in range(5)]
    assert transactions_writing_queued(atende.access_log._appends, writers) == 1
    rows = chain(atende)
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5]
    assert all(b["prev_seal"] == a["seal"] for a, b in itertools.pairwise(rows))
    assert first_break(atende) is None


def test_reads_waiting_for_the_log_together_read_and_write_the_chains_head_once(
    observe_connections,  # noqa: F811
    atende,
):
    # The batch's rows are chained in memory: one locked read of the head before them,
    # one write of it after, where each row used to read and write it (issue 19).
    read_tickets(atende, 1)  # the tables' first use, outside the count
    writers = [lambda: read_tickets(atende, 1) for _ in range(5)]
    with counting() as cost:
        assert transactions_writing_queued(atende.access_log._appends, writers) == 1
    head_reads = [s for s in cost.statements if s.lstrip().startswith("SELECT") and ENDS in s]
    assert len(head_reads) == 1, cost.shapes
    assert cost.shapes[f"UPDATE {ENDS}"] == 1, cost.shapes
    assert cost.shapes[f"INSERT {ACCESS_LOG}"] == 5, cost.shapes
    assert [row["seq"] for row in chain(atende)] == [1, 2, 3, 4, 5, 6]
    assert first_break(atende) is None


def test_a_read_whose_row_cannot_be_written_fails_alone_and_its_batch_commits(atende):
    # A batch is written together; when that fails, each row is written again alone, so
    # the read that cannot be logged fails and the others answer, logged, in order.
    unnamed = Actor(id="nameless", name=None, role="agent")  # principal_name is NOT NULL
    outcomes: dict[str, BaseException | None] = {}

    def read_as(actor: Actor, label: str) -> None:
        try:
            atende.access_log.record(actor, ROUTE, "ticket", ticket_id=uuid4())
            outcomes[label] = None
        except Exception as error:  # noqa: BLE001 - the outcome under test
            outcomes[label] = error

    writers = [partial(read_as, AGENT if n != 2 else unnamed, f"read {n}") for n in range(5)]
    transactions = transactions_writing_queued(atende.access_log._appends, writers)
    assert transactions == 1 + 5  # the batch, rolled back; then each row alone
    assert isinstance(outcomes.pop("read 2"), IntegrityError)
    assert set(outcomes.values()) == {None}
    rows = chain(atende)
    assert [row["seq"] for row in rows] == [1, 2, 3, 4]
    assert {row["principal_id"] for row in rows} == {AGENT.id}
    assert all(b["prev_seal"] == a["seal"] for a, b in itertools.pairwise(rows))
    assert first_break(atende) is None
