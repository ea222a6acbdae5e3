"""A ticket loaded in one read (application/ticket_loads.py), on real SQLite and PostgreSQL:
the newest sound snapshot and the events after it, as the library's two reads find them."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import Repository

from application.errors import TicketNotFound
from application.tickets import replay
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_audit_tamper_evidence import _edit_snapshot, _long_ticket


def _by_the_library(atende, ticket_id):
    tickets = atende.tickets
    plain = Repository(tickets.events, snapshot_store=tickets.snapshots)
    return plain.get(ticket_id, projector_func=replay)


def _one_read(atende, ticket_id):
    return atende.tickets.snapshots.recorder.select_newest_and_after(ticket_id)


def _same(loaded, expected) -> None:
    assert type(loaded) is type(expected)
    assert loaded.version == expected.version
    assert loaded.etag_version == expected.etag_version
    assert (loaded.status, loaded.priority, loaded.tags) == (
        expected.status,
        expected.priority,
        expected.tags,
    )
    assert [m["id"] for m in loaded.messages] == [m["id"] for m in expected.messages]


def test_a_long_ticket_is_read_as_its_newest_snapshot_and_the_events_after_it(atende):
    tid = _long_ticket(atende, 230)  # snapshots at 100 and 200
    snapshot, events = _one_read(atende, tid)
    assert (snapshot.originator_id, snapshot.originator_version) == (tid, 200)
    assert [e.originator_version for e in events] == list(range(201, 231))
    assert {e.originator_id for e in events} == {tid}
    _same(atende.tickets.get_ticket(tid), _by_the_library(atende, tid))


def test_a_ticket_without_a_snapshot_is_read_from_all_its_events(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))
    snapshot, events = _one_read(atende, tid)
    assert snapshot is None
    assert [e.originator_version for e in events] == [1, 2]
    loaded = atende.tickets.get_ticket(tid)
    assert (loaded.version, loaded.priority) == (2, "high")
    _same(loaded, _by_the_library(atende, tid))


def test_a_ticket_written_after_its_snapshot_reads_every_later_event(atende):
    tid = _long_ticket(atende, 100)  # its newest event is its snapshot's
    assert [e.originator_version for e in _one_read(atende, tid)[1]] == []
    atende.tickets.change(tid, lambda t: t.change_priority("urgent", AGENT))
    snapshot, events = _one_read(atende, tid)
    assert (snapshot.originator_version, [e.originator_version for e in events]) == (100, [101])
    assert atende.tickets.get_ticket(tid).priority == "urgent"


def test_a_refused_newest_snapshot_is_not_read_in_one_go_and_the_load_goes_past_it(atende):
    tid = _long_ticket(atende, 230)
    _edit_snapshot(atende, tid, 200, b'"priority":"normal"', b'"priority":"high"')
    assert _one_read(atende, tid) is None
    loaded = atende.tickets.get_ticket(tid)
    assert (loaded.version, loaded.priority) == (230, "normal")
    _same(loaded, _by_the_library(atende, tid))


def test_an_unknown_ticket_is_not_found_and_reads_nothing(atende):
    unknown = uuid.uuid4()
    assert _one_read(atende, unknown) == (None, [])
    with pytest.raises(TicketNotFound):
        atende.tickets.get_ticket(unknown)


def test_a_load_at_a_version_is_the_librarys(atende):
    tid = _long_ticket(atende, 150)
    at_120 = atende.tickets.get_ticket(tid, version=120)
    assert at_120.version == 120
    _same(at_120, Repository(atende.tickets.events, snapshot_store=atende.tickets.snapshots).get(
        tid, version=120, projector_func=replay
    ))  # fmt: skip
