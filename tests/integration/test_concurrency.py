"""Two writers on one ticket: optimistic concurrency on the aggregate version."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from application.errors import StaleVersion
from application.intake import Inbound, Intake
from domain.customer import Contact
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, INTEGRATOR, open_ticket


def _race(atende, settings, tid, commands, expected_version):
    """Run two commands from two separately built applications (as two processes
    would), both reading the ticket before either saves."""
    both_read = threading.Barrier(2, timeout=10)
    outcomes: list[object] = [None, None]
    others = [atende, bootstrap(settings)]

    def writer(i: int) -> None:
        first_try = [True]

        def command(ticket) -> None:
            commands[i](ticket)
            if first_try[0]:
                first_try[0] = False
                both_read.wait()

        try:
            outcomes[i] = others[i].tickets.change(tid, command, expected_version=expected_version)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = error

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    others[1].close()
    return outcomes


def test_of_two_writers_expecting_the_same_version_one_wins_and_one_gets_a_conflict(
    atende, settings
):
    tid = open_ticket(atende).ticket.id
    outcomes = _race(
        atende,
        settings,
        tid,
        [lambda t: t.assign("first", AGENT), lambda t: t.assign("second", AGENT)],
        expected_version=1,
    )
    conflicts = [o for o in outcomes if isinstance(o, StaleVersion)]
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(conflicts) == 1 and len(winners) == 1
    stored = atende.tickets.get_ticket(tid)
    assert stored.version == 2 and stored.assignee == winners[0].ticket.assignee


def test_two_writers_without_an_expected_version_both_land_and_nothing_is_lost(atende, settings):
    tid = open_ticket(atende).ticket.id
    outcomes = _race(
        atende,
        settings,
        tid,
        [lambda t: t.change_tags(["a"], [], AGENT), lambda t: t.change_tags(["b"], [], AGENT)],
        expected_version=None,
    )
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    stored = atende.tickets.get_ticket(tid)
    assert stored.version == 3 and sorted(stored.tags) == ["a", "b"]
    assert [e.type for e in atende.tickets.history(tid)] == [
        "opened",
        "tags_changed",
        "tags_changed",
    ]


def test_an_expected_version_that_is_already_stale_is_refused_before_anything_is_written(atende):
    tid = open_ticket(atende).ticket.id
    with pytest.raises(StaleVersion) as stale:
        atende.tickets.change(tid, lambda t: t.assign("x", AGENT), expected_version=5)
    assert stale.value.current == 1
    assert atende.tickets.get_ticket(tid).version == 1


def test_a_command_given_a_ticket_read_before_another_write_retries_on_a_fresh_one(atende):
    # Intake hands change() the ticket it found the thread by: if a write landed since,
    # the save conflicts and the command is applied again to the ticket as it now is.
    tid = open_ticket(atende).ticket.id
    read_before = atende.tickets.get_ticket(tid)
    atende.tickets.change(tid, lambda t: t.change_tags(["a"], [], AGENT))
    seen: list[int] = []

    def tag_b(ticket) -> None:
        seen.append(ticket.version)
        ticket.change_tags(["b"], [], AGENT)

    result = atende.tickets.change(tid, tag_b, loaded=read_before)
    assert seen == [1, 2]  # the ticket as read, refused, then the fresh one
    stored = atende.tickets.get_ticket(tid)
    assert stored.version == 3 and sorted(stored.tags) == ["a", "b"]
    assert result.ticket.version == 3


DELIVERERS = 4


@pytest.mark.parametrize("kind", ["opened", "appended"])
def test_one_email_delivered_by_several_processes_at_once_is_stored_once(atende, settings, kind):
    # A mail relay retrying while the first delivery is still being stored: each write
    # carries the message's thread key, and every write but one collides there (an append
    # is refused at once, not retried as a lost race); the others answer "duplicate".
    contact = Contact(name="Ana Race", email="ana.race@example.com")
    first = Inbound("email", contact, "Sin conexión desde ayer", subject="Sin conexión",
                    message_id="race-first@example.com")  # fmt: skip
    delivered = first
    if kind == "appended":
        Intake(atende.tickets).receive(first, INTEGRATOR)
        delivered = replace(first, text="Sigue igual", message_id="race-reply@example.com",
                            references=("race-first@example.com",))  # fmt: skip
    apps = [atende] + [bootstrap(settings) for _ in range(DELIVERERS - 1)]
    together = threading.Barrier(DELIVERERS, timeout=10)
    outcomes: list[object] = [None] * DELIVERERS

    def deliver(i: int) -> None:
        intake = Intake(apps[i].tickets)
        together.wait()
        try:
            outcomes[i] = intake.receive(delivered, INTEGRATOR)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = error

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(DELIVERERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in apps[1:]:
        other.close()

    assert sorted(o.outcome for o in outcomes) == sorted(["duplicate"] * (DELIVERERS - 1) + [kind])
    [ticket_id] = {o.result.ticket.id for o in outcomes}
    stored = atende.tickets.get_ticket(ticket_id)
    assert [m["external_id"] for m in stored.messages] == (
        ["race-reply@example.com"] if kind == "appended" else []
    )
    assert stored.version == (1 if kind == "opened" else 2)
