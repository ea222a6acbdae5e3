"""Dense ticket numbers (1, 2, 3... in the order tickets were opened) on real SQLite and
PostgreSQL: given in the opening event's transaction, without gaps under concurrent
writers, the same after a view rebuild, given to older databases' tickets by the same
rule when the table is created, and checked by audit verify."""

from __future__ import annotations

import io
import threading

import pytest

from application.errors import DuplicateExternalRef
from domain.customer import Contact
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.ticket_numbers import OPENED_TOPIC, TABLE
from infrastructure.views.registry import VIEWS
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, open_ticket
from tests.unit.tickets import new_ticket

NUMBERED_VIEWS = ("queue", "ticket_list")


def stored_numbers(atende) -> list[tuple[int, str, int]]:
    """(number, ticket id, position) as the numbers table holds them, by number."""
    with atende.db.reading() as cursor:
        atende.db.execute(
            cursor, f"SELECT number, ticket_id, position FROM {atende.db.table(TABLE)} "
            "ORDER BY number",
        )  # fmt: skip
        return [tuple(row) for row in atende.db.fetch_values(cursor)]


def opening_positions(atende) -> dict[str, int]:
    """Each ticket's opening position, read from the events table itself."""
    return {
        str(n.originator_id): n.id
        for n in atende.tickets.recorder.select_notifications(start=1, limit=10_000)
        if n.originator_version == 1 and n.topic == OPENED_TOPIC
    }


def catch_up(atende, *names: str) -> None:
    for name in names or NUMBERED_VIEWS:
        view = atende.views[name]
        ViewFollower(atende.tickets, VIEWS[name].projection(view=view)).catch_up()


def view_numbers(atende, name: str) -> dict[str, int]:
    return {row["id"]: row["number"] for row in atende.views[name].rows()}


def sql(atende, statement: str, params: dict | None = None) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement, params)


def test_tickets_are_numbered_one_two_three_in_the_order_they_were_opened(atende):
    first = open_ticket(atende)
    atende.tickets.change(first.ticket.id, lambda t: t.assign("a-1", AGENT))  # not a ticket
    second = open_ticket(atende, contact=Contact(name="Rui", phone="+55 11 5555 0000"))
    third = open_ticket(atende)
    assert [r.number for r in (first, second, third)] == [1, 2, 3]
    opened = opening_positions(atende)
    assert stored_numbers(atende) == [
        (n, str(r.ticket.id), opened[str(r.ticket.id)])
        for n, r in enumerate((first, second, third), start=1)
    ]


def test_every_answer_about_a_ticket_carries_its_number(atende):
    opened = open_ticket(atende)
    open_ticket(atende)
    changed = atende.tickets.change(opened.ticket.id, lambda t: t.assign("a-1", AGENT))
    read = atende.tickets.ticket_result(opened.ticket.id)
    assert opened.number == changed.number == read.number == 1
    assert read.position == changed.position == atende.tickets.head_position()


def test_a_ticket_is_found_by_its_number_and_no_other_number_finds_one(atende):
    first, second = open_ticket(atende), open_ticket(atende)
    assert atende.tickets.ticket_by_number(1) == first.ticket.id
    assert atende.tickets.ticket_by_number(2) == second.ticket.id
    for unknown in (0, -1, 3, 2**63 - 1, 2**63, 10**30):
        assert atende.tickets.ticket_by_number(unknown) is None


def test_tickets_saved_in_one_write_are_numbered_in_position_order(atende):
    open_ticket(atende)
    together = [new_ticket(), new_ticket(), new_ticket()]
    atende.tickets.save(*together)
    opened = opening_positions(atende)
    by_position = sorted(together, key=lambda t: opened[str(t.id)])
    assert [atende.tickets.number_of(t.id) for t in by_position] == [2, 3, 4]
    assert stored_numbers(atende)[1:] == [
        (n, str(t.id), opened[str(t.id)]) for n, t in enumerate(by_position, start=2)
    ]


def test_the_writer_answers_with_the_number_its_write_gave_without_reading_it_back(atende):
    # The row deleted by hand after the write: an answer read back would find no number
    # (and verify names the deletion); the writer's answer is the number it gave.
    opened = open_ticket(atende)
    sql(atende, f"DELETE FROM {atende.db.table(TABLE)}")
    assert opened.number == 1
    assert atende.tickets.number_of(opened.ticket.id) == 1
    assert not atende.audit.verify().ok


def test_a_refused_ticket_takes_no_number(atende):
    open_ticket(atende, external_ref="crm-1")
    with pytest.raises(DuplicateExternalRef):
        open_ticket(atende, external_ref="crm-1")  # its transaction rolled back
    after = open_ticket(atende)
    assert after.number == 2
    assert [n for n, _, _ in stored_numbers(atende)] == [1, 2]


def test_tickets_opened_concurrently_by_two_processes_worth_of_writers_have_no_gaps(
    atende, settings
):
    # Two Atendes (two connection pools, as two gunicorn workers have), four threads each.
    other = bootstrap(settings)
    opened: list = []
    errors: list = []

    def open_some(app, worker: int) -> None:
        try:
            for i in range(5):
                contact = Contact(name=f"C{worker}-{i}", email=f"c{worker}-{i}@example.com")
                opened.append(open_ticket(app, contact=contact))
        except Exception as error:  # noqa: BLE001 - reported below, with the others
            errors.append(error)

    threads = [
        threading.Thread(target=open_some, args=(atende if w % 2 else other, w)) for w in range(8)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert errors == []
    assert sorted(r.number for r in opened) == list(range(1, 41))
    stored = stored_numbers(atende)
    assert [n for n, _, _ in stored] == list(range(1, 41))
    # Numbers follow the order of the opening events in the log.
    opened_at = opening_positions(atende)
    assert [position for _, _, position in stored] == sorted(opened_at.values())
    assert all(opened_at[ticket] == position for _, ticket, position in stored)
    assert {r.number: str(r.ticket.id) for r in opened} == {n: t for n, t, _ in stored}
    assert atende.audit.verify().ok


@pytest.mark.parametrize("name", NUMBERED_VIEWS)
def test_views_show_the_dense_numbers_and_a_rebuild_keeps_them(atende, name):
    tickets = [open_ticket(atende).ticket.id for _ in range(4)]
    atende.tickets.change(tickets[0], lambda t: t.assign("a-1", AGENT))
    catch_up(atende, name)
    expected = {str(t): n for n, t in enumerate(tickets, start=1)}
    assert view_numbers(atende, name) == expected
    live = atende.views[name].rows()
    rebuild(atende, name, io.StringIO())
    assert atende.views[name].rows() == live
    assert view_numbers(atende, name) == expected


def test_a_database_from_before_dense_numbers_gets_them_in_creation_order_at_start(
    atende, settings
):
    tickets = [open_ticket(atende).ticket.id for _ in range(3)]
    atende.tickets.change(tickets[1], lambda t: t.assign("a-1", AGENT))
    tickets.append(open_ticket(atende).ticket.id)
    catch_up(atende)
    # As such a database was: no numbers table, and views numbering by position.
    opened_at = opening_positions(atende)
    sql(atende, f"DROP TABLE {atende.db.table(TABLE)}")
    for name in NUMBERED_VIEWS:
        for ticket, position in opened_at.items():
            sql(atende, f"UPDATE {atende.views[name].t} SET number = :p WHERE id = :id",
                {"p": position, "id": ticket})  # fmt: skip
    assert view_numbers(atende, "ticket_list") == opened_at

    restarted = bootstrap(settings)
    try:
        expected = {str(t): n for n, t in enumerate(tickets, start=1)}
        assert {t: n for n, t, _ in stored_numbers(restarted)} == expected
        assert [p for _, _, p in stored_numbers(restarted)] == sorted(opened_at.values())
        for name in NUMBERED_VIEWS:
            assert view_numbers(restarted, name) == expected
        assert restarted.tickets.ticket_result(tickets[3]).number == 4
        assert restarted.audit.verify().ok
        # New tickets carry on from there; a second start renumbers nothing.
        assert open_ticket(restarted).number == 5
        assert restarted.tickets.recorder.numbers.create_table() == 0
        assert len(stored_numbers(restarted)) == 5
    finally:
        restarted.close()


def test_an_erasure_keeps_numbers_and_verify_passes(atende):
    erased = open_ticket(atende)
    kept = open_ticket(atende, contact=Contact(name="Rui", phone="+55 11 5555 0000"))
    atende.eraser.erase(erased.ticket.customer_id, AGENT)
    assert atende.tickets.ticket_result(erased.ticket.id).number == 1
    assert atende.tickets.ticket_by_number(2) == kept.ticket.id
    assert atende.audit.verify().ok


def _delete(number: int):
    return lambda atende, t: sql(atende, f"DELETE FROM {t} WHERE number = {number}")


def _swap_tickets(atende, t):
    rows = stored_numbers(atende)
    sql(atende, f"UPDATE {t} SET ticket_id = 'x' WHERE number = 1")
    sql(atende, f"UPDATE {t} SET ticket_id = :id WHERE number = 2", {"id": rows[0][1]})
    sql(atende, f"UPDATE {t} SET ticket_id = :id WHERE number = 1", {"id": rows[1][1]})


def _renumber(atende, t):
    sql(atende, f"UPDATE {t} SET number = 9 WHERE number = 3")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_delete(2), "ticket number 3 comes next, but 2 is missing"),
        (_delete(3), "ticket has no number"),
        (_renumber, "ticket number 9 comes next, but 3 to 8 is missing"),
        (_swap_tickets, "ticket number 1 names position"),
    ],
    ids=["a number deleted", "the last number deleted", "a number changed", "two swapped"],
)
def test_verify_names_numbers_changed_by_hand(atende, tamper, reason):
    for _ in range(3):
        open_ticket(atende)
    assert atende.audit.verify().ok
    tamper(atende, atende.db.table(TABLE))
    report = atende.audit.verify()
    assert not report.ok
    assert report.first_break.reason.startswith(reason)
