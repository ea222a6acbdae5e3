"""Commands start from the ticket this process keeps (TicketApplication.recent_tickets),
brought up to the events written since (application/ticket_loads.py), on real SQLite and
PostgreSQL: they see every change the log holds, by any process; they never change the
kept ticket itself; and what they build is the ticket the log builds."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest
from eventsourcing.application import Repository

from application.errors import ConcurrentWriteConflict, TicketNotFound
from application.ticket_commands import TicketCommands
from application.tickets import replay
from domain.personal import ERASED
from domain.sla.timers import sla_id_for
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_erasure_views_and_identities import CARLA, SUBJECT, erase
from tests.integration.test_sla import configure
from tests.integration.test_small_aggregates_cache import other_process  # noqa: F401


def _say(text: str):
    return lambda t: t.add_message(text, "agent", "ag1", "internal", None, AGENT)


def _from_the_log(atende, ticket_id: UUID):
    """The ticket as the library builds it from the store, no cache involved."""
    tickets = atende.tickets
    return Repository(tickets.events, snapshot_store=tickets.snapshots).get(
        ticket_id, projector_func=replay
    )


def _state(ticket) -> dict:
    """What a ticket is, to compare two built apart (personal values by their text)."""
    return {
        name: value
        for name, value in vars(ticket).items()
        if name not in ("_pending_events", "messages")
    } | {"messages": [(m["id"], str(m["body"]), m["visibility"]) for m in ticket.messages]}


def _kept(atende, ticket_id: UUID):
    return atende.tickets.recent_tickets.cache.get(ticket_id)


def test_a_command_here_starts_from_what_another_process_wrote_since_the_ticket_was_kept(
    atende,
    other_process,  # noqa: F811
):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, _say("first"))  # kept here from now on
    kept_version = _kept(atende, tid).version

    TicketCommands(other_process.tickets).change_priority(tid, priority="urgent", actor=AGENT)
    result = atende.tickets.change(tid, _say("second"))

    assert result.ticket.priority == "urgent"
    assert [str(m["body"]) for m in result.ticket.messages] == ["first", "second"]
    assert kept_version == 1 and result.ticket.version == 4  # opened, first, urgent, second
    assert _state(result.ticket) == _state(_from_the_log(atende, tid))


def test_a_command_is_given_a_copy_and_never_the_kept_ticket(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, _say("first"))
    seen = []

    atende.tickets.change(tid, lambda t: seen.append(t) or _say("second")(t))

    assert seen[0] is not _kept(atende, tid)
    assert seen[0].messages is not _kept(atende, tid).messages


def test_a_command_that_fails_after_changing_its_copy_leaves_the_kept_ticket_as_it_was(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, _say("kept"))
    kept = _kept(atende, tid)
    version, messages = kept.version, len(kept.messages)

    def say_then_fail(ticket) -> None:
        _say("never stored")(ticket)
        raise RuntimeError("the command failed after recording")

    with pytest.raises(RuntimeError):
        atende.tickets.change(tid, say_then_fail)

    assert (kept.version, len(kept.messages), kept.pending_events) == (version, messages, [])
    after = atende.tickets.change(tid, _say("next"))
    assert [str(m["body"]) for m in after.ticket.messages] == ["kept", "next"]


def test_a_kept_ticket_is_brought_up_by_the_events_after_it_without_its_snapshot(
    atende, monkeypatch
):
    tid = open_ticket(atende).ticket.id
    for n in range(105):  # past the first snapshot, at version 100, with few messages
        priority = ("high", "low")[n % 2]
        atende.tickets.change(tid, lambda t, p=priority: t.change_priority(p, AGENT))
    recorder = atende.tickets.snapshots.recorder
    reads: list[tuple] = []

    def noting(name: str):
        read = getattr(recorder, name)

        def noted(*args):
            reads.append((name, *args[:2]))
            return read(*args)

        return noted

    for name in ("select_newest_and_after", "select_after"):
        monkeypatch.setattr(recorder, name, noting(name))

    result = atende.tickets.change(tid, _say("last"))

    # Kept as the last command found it (105, before its own event): only what was
    # written since is read, that command's event.
    assert reads == [("select_after", tid, 105)]
    assert result.ticket.version == 107
    assert _state(result.ticket) == _state(_from_the_log(atende, tid))


CLIENT_ATTEMPTS = 20  # how often a test's writer tries a command that says "try again"


def test_commands_from_many_threads_on_one_ticket_build_the_ticket_the_log_builds(atende):
    tid = open_ticket(atende).ticket.id
    threads, each = 6, 5
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(each):
                # Six writers on one ticket may outlast a command's retries on a loaded
                # machine; the command then stores nothing and says "try again", and a
                # client does (the HTTP answer is 409). What is stored is still checked.
                for attempt in range(CLIENT_ATTEMPTS):
                    try:
                        atende.tickets.change(tid, _say(f"{n}-{i}"))
                        break
                    except ConcurrentWriteConflict:
                        if attempt == CLIENT_ATTEMPTS - 1:
                            raise  # a livelock fails the test, never hangs it
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    last = atende.tickets.change(tid, _say("last")).ticket
    assert len(last.messages) == threads * each + 1
    assert len({m["id"] for m in last.messages}) == threads * each + 1
    assert _state(last) == _state(_from_the_log(atende, tid))


def test_a_ticket_kept_before_its_customer_was_erased_reads_erased_in_the_next_command(atende):
    tid = open_ticket(atende, contact=CARLA, subject=SUBJECT).ticket.id
    first = atende.tickets.change(tid, _say("kept"))
    assert str(first.ticket.subject) == SUBJECT

    erase(atende, first.ticket.customer_id)
    after = atende.tickets.change(tid, lambda t: t.change_priority("high", AGENT))

    assert str(after.ticket.subject) == ERASED
    assert str(after.ticket.requester["email"]) == ERASED
    assert str(_kept(atende, tid).subject) == ERASED


def test_a_command_on_the_id_of_something_else_than_a_ticket_finds_no_ticket(atende):
    configure(atende)
    not_a_ticket = sla_id_for(open_ticket(atende).ticket.id)
    assert atende.tickets.recorder.select_events(not_a_ticket)  # the ticket's SLA timers

    for _ in range(2):  # not kept as a ticket by the first attempt either
        with pytest.raises(TicketNotFound):
            atende.tickets.change(not_a_ticket, _say("nowhere"))


def test_a_ticket_grown_past_the_messages_kept_is_let_go_and_loaded_for_each_command(
    atende, monkeypatch
):
    monkeypatch.setattr("application.tickets.KEPT_MESSAGES_MAX", 3)
    tid = open_ticket(atende).ticket.id
    for n in range(3):
        atende.tickets.change(tid, _say(f"m{n}"))
    assert len(_kept(atende, tid).messages) == 2  # as the third command found it

    atende.tickets.change(tid, _say("m3"))  # finds three, keeps them
    fourth = atende.tickets.change(tid, _say("m4"))  # finds four: too many to keep

    with pytest.raises(KeyError):
        _kept(atende, tid)
    last = atende.tickets.change(tid, _say("m5"))
    assert [str(m["body"]) for m in fourth.ticket.messages] == [f"m{n}" for n in range(5)]
    assert _state(last.ticket) == _state(_from_the_log(atende, tid))
    with pytest.raises(KeyError):
        _kept(atende, tid)
