"""Two writers on one ticket: optimistic concurrency on the aggregate version."""

from __future__ import annotations

import threading

import pytest

from application.errors import StaleVersion
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, open_ticket


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
