"""A ticket loaded in one read (application/ticket_loads.py), on real SQLite and PostgreSQL:
the newest sound snapshot and the events after it, as the library's two reads find them."""

from __future__ import annotations

import threading
import uuid

import pytest
from eventsourcing.application import Repository

from application.errors import TicketNotFound
from application.tickets import replay
from domain.sla.timers import sla_id_for
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_audit_tamper_evidence import _edit_snapshot, _long_ticket
from tests.integration.test_sla import configure
from tests.integration.test_small_aggregates_cache import other_process  # noqa: F401


def _by_the_library(atende, ticket_id):
    tickets = atende.tickets
    plain = Repository(tickets.events, snapshot_store=tickets.snapshots)
    return plain.get(ticket_id, projector_func=replay)


def _one_read(atende, ticket_id):
    """The newest sound snapshot and the events after it, as one read finds them."""
    found = atende.tickets.snapshots.recorder.select_newest_and_after(ticket_id)
    return None if found is None else (found.snapshot, found.events)


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


# Reading ahead: a command's SLA timers fetched with its ticket (infrastructure/read_ahead.py).

def _reply(ticket) -> None:
    ticket.add_message("hola", "agent", "a", "public", None, AGENT)


def test_the_ticket_read_fetches_the_timers_events_after_the_version_asked(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, _reply)
    timers = sla_id_for(tid)
    stored = atende.tickets.recorder.select_events(timers)
    assert len(stored) >= 2
    for after in (None, 1, stored[-1].originator_version):
        ahead = atende.tickets.snapshots.recorder.select_newest_and_after(tid, {timers: after})
        assert ahead.ahead[timers] == [s for s in stored if s.originator_version > (after or 0)]
        assert [e.originator_version for e in ahead.events] == [1, 2]  # the ticket's own
    nothing = atende.tickets.snapshots.recorder.select_newest_and_after(tid, {uuid.uuid4(): None})
    assert list(nothing.ahead.values()) == [[]]


def test_an_answer_read_ahead_is_given_once_to_the_same_question_inside_its_scope(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    recorder, timers = atende.tickets.recorder, sla_id_for(tid)
    stored = list(recorder.select_events(timers))
    recorder.answer_ahead(timers, None, [])  # outside a scope: not kept
    assert recorder.select_events(timers) == stored
    with recorder.answering_ahead():
        # An answer that differs from the database's shows which one was given.
        recorder.answer_ahead(timers, None, [])
        assert recorder.select_events(timers, gt=0) == stored  # another question
        assert recorder.select_events(timers, lte=5) == stored
        assert recorder.select_events(timers) == []
        assert recorder.select_events(timers) == stored  # given once
        recorder.answer_ahead(timers, None, [])
    assert recorder.select_events(timers) == stored  # dropped with its scope


def test_an_answer_read_ahead_in_one_thread_is_not_given_in_another(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    recorder, timers = atende.tickets.recorder, sla_id_for(tid)
    stored = list(recorder.select_events(timers))
    seen = []
    with recorder.answering_ahead():
        recorder.answer_ahead(timers, None, [])

        def other_thread() -> None:
            with recorder.answering_ahead():
                seen.append(recorder.select_events(timers))

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        assert recorder.select_events(timers) == []
    assert seen == [stored]


def test_a_command_here_moves_on_from_timers_another_process_moved_since_they_were_kept(
    atende,
    other_process,  # noqa: F811
):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    kept = atende.tickets.sla.ticket_sla(tid)  # now kept here, as of the opening
    other_process.tickets.change(tid, _reply)  # fulfils first response there
    assert atende.tickets.small_aggregates.cache.get(sla_id_for(tid)).version == kept.version

    atende.tickets.change(tid, lambda t: t.resolve("Listo.", AGENT))

    timers = atende.tickets.sla.ticket_sla(tid)
    stored = atende.tickets.recorder.select_events(sla_id_for(tid))
    assert timers.version == stored[-1].originator_version > kept.version + 1
    assert timers.timer("first_response")["state"] == "fulfilled"
    assert timers.timer("resolution")["state"] == "fulfilled"


def test_a_command_reads_ahead_the_timers_after_the_version_kept_here_or_all_of_them(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, _reply)  # the timers are kept here from now on
    timers = sla_id_for(tid)
    kept = atende.tickets.small_aggregates.cache.get(timers).version
    assert atende.tickets.sla.read_ahead(tid) == {timers: kept}
    atende.tickets.small_aggregates.cache.get(timers, evict=True)
    assert atende.tickets.sla.read_ahead(tid) == {timers: None}
