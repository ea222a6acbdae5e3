"""The ticket list view, fed by the follower, on SQLite and PostgreSQL: each event's
effect on the row, every filter, pages, and live equals rebuild."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, example, given, settings

from domain.customer import Contact
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import NEXT, rebuild
from infrastructure.views.registry import VIEWS
from infrastructure.views.ticket_list import INDEXED
from projections.queue import timestamp
from projections.ticket_list import RowChange, TicketListQuery
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_queue_rebuild_property import (
    ERASURE_MIDWAY,
    run_steps_while_following,
    steps,
)

RUI = Contact(name="Rui", phone="+55 11 5555 0000")
EVA = Contact(name="Eva", external_id="crm-77")


def follower(atende, view=None) -> ViewFollower:
    view = view or atende.views["ticket_list"]
    return ViewFollower(atende.tickets, VIEWS["ticket_list"].projection(view=view), batch_size=3)


def row_of(atende, tid) -> dict:
    follower(atende).catch_up()
    [row] = [r for r in atende.views["ticket_list"].rows() if r["id"] == str(tid)]
    return row


def ids(atende, **filters) -> list[str]:
    follower(atende).catch_up()
    page = atende.views["ticket_list"].page(TicketListQuery(filters=filters, limit=200))
    return [item["id"] for item in page.items]


def change(atende, tid, command):
    atende.tickets.change(tid, command)


def customer_id(atende, contact: Contact) -> str:
    return str(contact.customer_id(atende.tickets.customer_namespace))


def test_an_opened_ticket_gets_a_row_with_everything_the_list_shows(atende):
    opened = open_ticket(
        atende, external_ref="CRM-1", language="pt-BR", category="red", priority="high"
    )
    row = row_of(atende, opened.ticket.id)
    assert row["number"] == opened.number and row["subject"] == "Sin internet"
    assert (row["status"], row["priority"], row["channel"]) == ("new", "high", "email")
    assert (row["language"], row["category"], row["external_ref"]) == ("pt-BR", "red", "CRM-1")
    assert row["customer_id"] == customer_id(atende, Contact(name="x", email="ana@example.com"))
    assert row["created_at"] == row["updated_at"] == timestamp(opened.ticket.created_on)
    assert (row["assignee"], row["resolved_at"], row["closed_at"]) == (None, None, None)


def test_the_list_keeps_no_requester_email_or_name(atende):
    row = row_of(atende, open_ticket(atende).ticket.id)
    assert not any("ana" in str(value).lower() for value in row.values())


def _msg(author: str, visibility: str = "public"):
    return lambda t: t.add_message("hola", author, None, visibility, None, AGENT)


_RESOLVE = lambda t: t.resolve("ok", AGENT)  # noqa: E731
_PENDING = lambda t: t.change_status("pending", AGENT)  # noqa: E731

# (before, command, the row's expected fields after it); every event also moves updated_at.
EVENT_EFFECTS = {
    "a customer message leaves a new ticket new": ([], _msg("customer"), {}),
    "an agent note opens a new ticket": ([], _msg("agent", "internal"), {"status": "open"}),
    "an agent message leaves a pending ticket pending": (
        [_PENDING], _msg("agent"), {"status": "pending"}
    ),
    "a customer reply reopens a pending ticket": ([_PENDING], _msg("customer"), {"status": "open"}),
    "an assignment opens a new ticket": (
        [], lambda t: t.assign("maria", AGENT), {"assignee": "maria", "status": "open"}
    ),
    "an unassignment clears the assignee": (
        [lambda t: t.assign("maria", AGENT)], lambda t: t.unassign(AGENT), {"assignee": None}
    ),
    "a status change": ([], lambda t: t.change_status("on_hold", AGENT), {"status": "on_hold"}),
    "a priority change": ([], lambda t: t.change_priority("urgent", AGENT), {"priority": "urgent"}),
    "a category change": ([], lambda t: t.change_category("vip", AGENT), {"category": "vip"}),
    "a tag change shows only as activity": ([], lambda t: t.change_tags(["x"], [], AGENT), {}),
    "an escalation shows only as activity": ([], lambda t: t.escalate("slow", None, AGENT), {}),
    "a resolution": ([], _RESOLVE, {"status": "resolved", "resolved_at": "updated_at"}),
    "a reopening clears resolved_at": (
        [_RESOLVE], lambda t: t.reopen("no", AGENT), {"status": "open", "resolved_at": None}
    ),
    "a customer reply reopens a resolved ticket": (
        [_RESOLVE], _msg("customer"), {"status": "open", "resolved_at": None}
    ),
    "a closed ticket stays in the list": (
        [_RESOLVE], lambda t: t.close(AGENT), {"status": "closed", "closed_at": "updated_at"}
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("before", "command", "expected"), EVENT_EFFECTS.values(), ids=list(EVENT_EFFECTS)
)
def test_each_event_updates_the_row(atende, before, command, expected):
    tid = open_ticket(atende).ticket.id
    for earlier in before:
        change(atende, tid, earlier)
    old = row_of(atende, tid)
    change(atende, tid, command)
    new = row_of(atende, tid)
    updated_at = timestamp(atende.tickets.get_ticket(tid).modified_on)
    assert new["updated_at"] == updated_at > old["updated_at"]
    wanted = {k: new["updated_at"] if v == "updated_at" else v for k, v in expected.items()}
    assert {k: v for k, v in new.items() if k != "updated_at"} == {
        **{k: v for k, v in old.items() if k != "updated_at"},
        **wanted,
    }


def _make_tickets(atende) -> dict[str, str]:
    """Five tickets with different requesters, refs, subjects and statuses, by name."""
    made = {
        "ana_new": open_ticket(atende, subject="Sin conexión desde ayer"),
        "ana_closed": open_ticket(atende, subject="Factura duplicada"),
        "rui_open": open_ticket(atende, subject="CONEXIÓN lenta", contact=RUI, external_ref="R-1"),
        "rui_pending": open_ticket(atende, subject="100% de pérdida_de paquetes", contact=RUI),
        "other_ref": open_ticket(atende, subject="Cambio", contact=EVA, external_ref="R-10"),
    }
    tids = {name: result.ticket.id for name, result in made.items()}
    change(atende, tids["ana_closed"], _RESOLVE)
    change(atende, tids["ana_closed"], lambda t: t.close(AGENT))
    change(atende, tids["rui_open"], lambda t: t.assign("maria", AGENT))
    change(atende, tids["rui_pending"], _PENDING)
    return {str(tid): name for name, tid in tids.items()}


ANA = Contact(name="-", email="  ANA@Example.com ")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["other_ref", "rui_pending", "rui_open", "ana_closed", "ana_new"]),
        ({"customer_id": ANA}, ["ana_closed", "ana_new"]),
        ({"customer_id": RUI}, ["rui_pending", "rui_open"]),
        ({"customer_id": Contact(name="-", email="nobody@example.com")}, []),
        ({"external_ref": "R-1"}, ["rui_open"]),
        ({"external_ref": "R-"}, []),
        ({"status": "new"}, ["other_ref", "ana_new"]),
        ({"status": "closed"}, ["ana_closed"]),
        ({"status": "pending"}, ["rui_pending"]),
        ({"status": "resolved"}, []),
        ({"q": "conexión"}, ["rui_open", "ana_new"]),
        # Words are found without their accents (issue 23: the full-text index).
        ({"q": "CONEXION"}, ["rui_open", "ana_new"]),
        ({"q": "Conexión L"}, ["rui_open"]),
        ({"q": "100%"}, ["rui_pending"]),
        ({"q": "0%"}, ["rui_pending"]),
        ({"q": "%"}, ["rui_pending"]),
        ({"q": "a_d"}, ["rui_pending"]),
        ({"q": "n_d"}, []),
        ({"q": "s%e"}, []),
        ({"q": "\\"}, []),
        ({"customer_id": ANA, "status": "closed"}, ["ana_closed"]),
        ({"customer_id": ANA, "q": "conexión"}, ["ana_new"]),
        ({"customer_id": RUI, "status": "open", "external_ref": "R-1", "q": "lenta"}, ["rui_open"]),
        ({"customer_id": RUI, "status": "new"}, []),
    ],
)
def test_every_filter_selects_the_matching_tickets_newest_first(atende, filters, expected):
    names = _make_tickets(atende)
    if "customer_id" in filters:
        filters = {**filters, "customer_id": customer_id(atende, filters["customer_id"])}
    assert [names[i] for i in ids(atende, **filters)] == expected


def test_pages_follow_each_other_without_gaps_or_repeats(atende):
    opened = [open_ticket(atende, contact=RUI if i % 3 else ANA).ticket.id for i in range(11)]
    follower(atende).catch_up()
    seen = _all_pages(atende.views["ticket_list"], limit=4)
    assert seen == [str(t) for t in reversed(opened)]
    rui = customer_id(atende, RUI)
    seen = _all_pages(atende.views["ticket_list"], limit=2, filters={"customer_id": rui})
    assert seen == [str(t) for i, t in reversed(list(enumerate(opened))) if i % 3]


def test_tickets_opened_while_paging_neither_shift_nor_repeat_the_pages(atende):
    opened = [open_ticket(atende).ticket.id for _ in range(6)]
    view = atende.views["ticket_list"]
    follower(atende).catch_up()
    first = view.page(TicketListQuery(limit=3))
    for _ in range(4):
        open_ticket(atende)
    follower(atende).catch_up()
    rest = _all_pages(view, limit=3, after=first.last_key)
    assert [i["id"] for i in first.items] + rest == [str(t) for t in reversed(opened)]


def test_tickets_created_in_the_same_instant_page_by_number(atende):
    view = atende.views["ticket_list"]
    same = "2026-01-01T00:00:00.000000+00:00"
    changes = [RowChange(f"t-{n}", _row(n, same), insert=True) for n in range(1, 8)]
    with atende.db.transaction(commit=True) as cursor:  # the view reads numbers from here
        atende.db.executemany(
            cursor,
            f"INSERT INTO {atende.db.table('ticket_numbers')} (number, ticket_id, position) "
            "VALUES (:n, :id, :n)",
            [{"n": n, "id": f"t-{n}"} for n in range(1, 8)],
        )
    view.apply(changes, Tracking(atende.tickets.name, 7))
    assert _all_pages(view, limit=3) == [f"t-{n}" for n in range(7, 0, -1)]


def _all_pages(view, limit: int, filters=None, after=None) -> list[str]:
    seen = []
    while True:
        page = view.page(TicketListQuery(filters=filters or {}, limit=limit, after=after))
        assert len(page.items) <= limit
        seen += [item["id"] for item in page.items]
        if page.last_key is None:
            return seen
        after = page.last_key


def _row(number: int, created_at: str) -> dict:
    return {
        "number": number, "subject": "s", "subject_folded": "s", "status": "new",
        "priority": "normal", "channel": "email", "language": None, "category": None,
        "assignee": None, "external_ref": None, "customer_id": "c", "created_at": created_at,
        "updated_at": created_at, "resolved_at": None, "closed_at": None,
    }  # fmt: skip


def test_rows_and_position_are_written_together_or_not_at_all(atende):
    view = atende.views["ticket_list"]
    bad = RowChange("t-1", {"no_such_column": 1}, insert=True)
    good = RowChange("t-0", _row(1, "2026-01-01T00:00:00.000000+00:00"), insert=True)
    with pytest.raises(Exception):  # noqa: B017 - any database error will do
        view.apply([good, bad], Tracking(atende.tickets.name, 7))
    assert view.rows() == [] and view.max_tracking_id(atende.tickets.name) is None


def test_the_list_has_its_own_position_apart_from_the_queue(atende):
    open_ticket(atende)
    follower(atende).catch_up()
    head = atende.tickets.head_position()
    assert atende.views["ticket_list"].max_tracking_id(atende.tickets.name) == head
    assert atende.views["queue"].max_tracking_id(atende.tickets.name) is None


def test_a_rebuild_equals_the_live_view_and_takes_its_place(atende, capsys):
    _make_tickets(atende)
    follower(atende).catch_up()
    live = atende.views["ticket_list"].rows()
    rebuild(atende, "ticket_list")
    assert atende.views["ticket_list"].rows() == live
    assert atende.views["ticket_list"].max_tracking_id(atende.tickets.name) == (
        atende.tickets.head_position()
    )
    assert "ticket_list: rebuilt" in capsys.readouterr().err


def test_a_rebuild_leaves_the_live_index_names_so_the_next_rebuild_works(atende):
    _make_tickets(atende)
    rebuild(atende, "ticket_list")
    rebuild(atende, "ticket_list")
    expected = [f"ticket_list_by_{name}" for name in INDEXED]
    if atende.db.is_postgres:
        expected.append("ticket_list_subject_trigrams")  # q's part of a subject (pg_trgm)
    assert _index_names(atende) == sorted(expected)
    assert [r["status"] for r in atende.views["ticket_list"].rows()].count("closed") == 1


def _index_names(atende) -> list[str]:
    db = atende.db
    if db.is_postgres:
        statement = (
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = :schema "
            "AND tablename = 'ticket_list' AND indexname <> 'ticket_list_pkey'"
        )
        params = {"schema": db.datastore.schema}
    else:
        statement = (
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'ticket_list' AND sql IS NOT NULL"
        )
        params = {}
    with db.transaction(commit=False) as cursor:
        db.execute(cursor, statement, params)
        return sorted(row["name"] for row in cursor.fetchall())


def test_a_rebuild_killed_half_way_resumes_and_ends_identical(atende):
    for _ in range(7):
        open_ticket(atende, contact=RUI)
    follower(atende).catch_up()
    live = atende.views["ticket_list"].rows()
    half = VIEWS["ticket_list"].make(atende.db.datastore, suffix=NEXT)
    half.create_table()
    follower(atende, half).step()  # one batch of three, then "killed"
    assert half.max_tracking_id(atende.tickets.name) == 3
    rebuild(atende, "ticket_list")
    assert atende.views["ticket_list"].rows() == live


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
@example(steps=ERASURE_MIDWAY)
def test_the_live_list_equals_a_rebuild_after_any_commands(atende, steps):
    tickets = [open_ticket(atende).ticket.id for _ in range(2)]
    run_steps_while_following(atende, "ticket_list", tickets, steps)
    expected = atende.views["ticket_list"].rows()
    assert_rows_agree_with_the_tickets(atende, expected, tickets)
    rebuild(atende, "ticket_list")
    assert atende.views["ticket_list"].rows() == expected


def assert_rows_agree_with_the_tickets(atende, rows, ticket_ids):
    """The view's rows say what the aggregates (replayed from the store) say."""
    by_id = {row["id"]: row for row in rows}
    for tid in ticket_ids:
        ticket, row = atende.tickets.get_ticket(tid), by_id[str(tid)]
        shown = (row["status"], row["assignee"], row["priority"], row["category"])
        assert shown == (ticket.status, ticket.assignee, ticket.priority, ticket.category)
        assert row["updated_at"] == timestamp(ticket.modified_on)
        for moment in ("resolved_at", "closed_at"):
            value = getattr(ticket, moment)
            assert row[moment] == (value and timestamp(value))


# Full-text search over subject and description (issue 23).


def test_q_finds_words_of_the_description_in_any_form_and_without_accents(atende):
    opened = open_ticket(
        atende, subject="Problema", description="No puedo pagar mis facturas por la aplicación"
    )
    other = open_ticket(atende, subject="Otra cosa", description="Nada que ver")
    tid = str(opened.ticket.id)
    assert ids(atende, q="factura") == [tid]
    assert ids(atende, q="aplicacion pagar") == [tid]
    assert ids(atende, q="factura nada") == []
    assert str(other.ticket.id) in ids(atende, q="ver")


def test_q_still_finds_a_part_of_a_subject_as_typed(atende):
    opened = open_ticket(atende, subject="Sin internet desde ayer")
    assert ids(atende, q="intern") == [str(opened.ticket.id)]


@pytest.mark.parametrize(
    ("q", "plain_too"),
    [
        ("100%", False),  # LIKE's wildcard, as typed: not "1000"
        ('0% "dup', False),
        ("a_b", False),  # not "ab"
        ("c\\d", False),
        ('"', False),
        ("(NEAR", True),  # FTS5's operator is a word here, which the plain subject has
        ("x*^", True),
        ('dUPLICADO" (near', True),
    ],
)
def test_q_matches_like_and_fts_syntax_as_typed_and_never_raises(atende, q, plain_too):
    """Characters LIKE and FTS5 give meaning to (% _ \\ " * ^ and NEAR) are matched as
    typed through the subjects' index, and only as words through the words' index."""
    hostile = open_ticket(atende, subject='Cobro 100% "duplicado" (NEAR) a_b c\\d x*^')
    plain = open_ticket(atende, subject="Cobro 1000 duplicado NEAR ab cd x")
    found = ids(atende, q=q)
    assert str(hostile.ticket.id) in found
    assert (str(plain.ticket.id) in found) is plain_too


def test_an_erased_customer_s_words_are_no_longer_found(atende):
    opened = open_ticket(
        atende, subject="Mi clave es zanahoria", description="Vivo en Calle Ñandú 5"
    )
    tid = str(opened.ticket.id)
    assert ids(atende, q="zanahoria") == [tid] and ids(atende, q="nandu") == [tid]
    atende.eraser.erase(opened.ticket.customer_id, AGENT)
    assert ids(atende, q="zanahoria") == [] and ids(atende, q="nandu") == []
    assert ids(atende, q="erased") == [tid]  # the row stays, scrubbed
