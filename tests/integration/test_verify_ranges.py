"""Verify walking the log in ranges, each in a process of its own (a long log's path),
on real SQLite and PostgreSQL: the chain tests of test_audit.py again, with every log
split, and what only ranges can get wrong (an aggregate crossing a boundary, a hash
record with no event)."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.chain_ranges import one_chain, split_positions, walk_range
from infrastructure.settings import Settings
from tests.databases import settings_for
from tests.integration.builders import AGENT, open_ticket

# The same tests, collected here again under this module's settings (ranges from the
# first position, two workers).
from tests.integration.test_audit import (  # noqa: F401
    _sql,
    test_a_deleted_event_is_named_where_it_was,
    test_a_forged_checkpoint_signature_is_refused,
    test_a_hash_record_holding_what_is_no_hash_is_named_not_a_crash,
    test_a_rewrite_that_recomputes_every_hash_still_differs_from_the_checkpoint,
    test_a_truncated_tail_is_caught_by_the_signed_checkpoint,
    test_an_edited_event_is_named_by_ticket_version_and_position,
    test_an_event_deleted_with_its_hash_breaks_the_chain_at_the_next_row,
    test_an_event_inserted_out_of_band_is_named,
    test_an_untouched_log_verifies_every_event_it_holds,
    test_columns_rewritten_with_values_of_another_type_are_named_not_a_crash,
)

WORKERS = 2


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, verify_workers=WORKERS, verify_parallel_from=1)


def _interleaved_tickets(atende, count: int = 3, rounds: int = 6) -> list[UUID]:
    """Tickets whose events alternate in the log, so every range boundary falls inside
    the life of each one."""
    tickets = [open_ticket(atende).ticket.id for _ in range(count)]
    for n in range(rounds):
        for tid in tickets:
            atende.tickets.change(
                tid, lambda t, n=n: t.add_message(f"m {n}", "customer", None, "public", None, AGENT)
            )
    return tickets


def _walks(atende):
    audit = atende.audit
    checkpoints, _ = audit._all_checkpoints()
    ranges = split_positions(atende.tickets.head_position(), WORKERS, 1)
    return ranges, audit.range_runner(ranges, checkpoints, audit.link_seal_key, 0)


def test_a_log_split_in_ranges_walked_by_worker_processes_joins_into_one_chain(atende):
    _interleaved_tickets(atende)
    head = atende.tickets.head_position()

    ranges, walks = _walks(atende)

    assert len(ranges) == WORKERS and ranges[0][0] == 0 and ranges[-1][1] is None
    assert one_chain(walks, atende.audit.log.head())
    assert not one_chain(walks[:1], atende.audit.log.head())
    assert sum(w.checked for w in walks) == head
    assert walks[-1].end[0] == head
    report = atende.audit.verify()
    assert report.ok and report.checked == head


def test_an_edit_in_the_second_range_is_named_exactly(atende):
    tickets = _interleaved_tickets(atende)
    events = atende.db.table(atende.tickets.recorder.events_table_name)
    position_column = "notification_id" if atende.db.is_postgres else "rowid"
    last = atende.tickets.head_position() - 1
    row = atende.db.fetchone(
        f"SELECT originator_id, originator_version FROM {events} WHERE {position_column} = :p",
        {"p": last},
    )
    _sql(
        atende,
        f"UPDATE {events} SET state = state || :extra WHERE {position_column} = :p",
        {"extra": b" ", "p": last},
    )

    _, walks = _walks(atende)
    assert walks[0].sound and not walks[1].sound

    report = atende.audit.verify()
    assert not report.ok
    assert report.first_break.position == last
    assert report.first_break.aggregate_id in tickets
    assert report.first_break.version == row["originator_version"]
    assert "changed" in report.first_break.reason


def test_a_hash_record_with_no_event_is_named_though_no_row_links_to_it(atende):
    _interleaved_tickets(atende)
    head = atende.tickets.head_position()
    links = atende.db.table("event_links")
    row = atende.db.fetchone(f"SELECT * FROM {links} WHERE position = :p", {"p": head})
    forged = {**dict(row), "position": head + 7, "originator_version": 99}
    _sql(
        atende,
        f"INSERT INTO {links} ({', '.join(forged)}) VALUES "
        f"({', '.join(':' + column for column in forged)})",
        forged,
    )

    assert not any(w.sound for w in _walks(atende)[1][-1:])
    report = atende.audit.verify()
    assert not report.ok
    assert report.first_break.position == head + 7
    assert "missing from the log" in report.first_break.reason


def test_a_short_log_is_walked_in_one_range_in_the_calling_process():
    assert split_positions(199_999, 4, 200_000) == [(0, None)]
    assert split_positions(10**6, 1, 200_000) == [(0, None)]
    assert split_positions(10, 3, 1) == [(0, 4), (4, 8), (8, None)]


def test_the_range_walk_in_the_calling_process_agrees_with_the_workers(atende):
    _interleaved_tickets(atende)
    audit = atende.audit
    checkpoints, _ = audit._all_checkpoints()
    ranges, walks = _walks(atende)
    here = [walk_range(audit.log, checkpoints, audit.link_seal_key, 0, b) for b in ranges]
    assert here == walks
