"""The queue view, fed by the follower, on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import json

import pytest
from eventsourcing.persistence import Tracking

from domain.customer import Contact
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import NEXT, rebuild
from infrastructure.views.registry import VIEWS
from interface.http.schemas.queue import QueueItemOut
from projections.queue import Change, QueueQuery
from tests.integration.builders import AGENT, open_ticket


def follower(atende, view=None) -> ViewFollower:
    view = view or atende.views["queue"]
    return ViewFollower(atende.tickets, VIEWS["queue"].projection(view=view), batch_size=3)


def ids(atende, **filters) -> list[str]:
    follower(atende).catch_up()
    return [item["id"] for item in atende.views["queue"].page(QueueQuery(filters=filters)).items]


def change(atende, tid, command):
    atende.tickets.change(tid, command)


def test_the_queue_puts_the_most_urgent_first_then_the_oldest(atende):
    low = open_ticket(atende, priority="low").ticket.id
    normal_old = open_ticket(atende).ticket.id
    urgent = open_ticket(atende, priority="urgent").ticket.id
    normal_new = open_ticket(atende).ticket.id
    assert ids(atende) == [str(t) for t in (urgent, normal_old, normal_new, low)]


def test_the_queue_item_shows_what_an_agent_needs(atende):
    tid = open_ticket(atende, tags=["wifi", "fibra"], language="pt-BR", category="red").ticket.id
    change(atende, tid, lambda t: t.add_message("oi", "customer", None, "public", None, AGENT))
    follower(atende).catch_up()
    [item] = atende.views["queue"].page(QueueQuery()).items
    assert item["subject"] == "Sin internet" and item["requester_name"] == "Ana Souza"
    assert (item["status"], item["language"], item["category"]) == ("new", "pt-BR", "red")
    assert item["tags"] == ["fibra", "wifi"]
    assert item["last_customer_message_at"] > item["created_at"]
    assert item["number"] == atende.tickets.number_of(tid)


def test_resolved_tickets_leave_the_queue_and_come_back_when_reopened(atende):
    tid = open_ticket(atende).ticket.id
    change(atende, tid, lambda t: t.resolve("ok", AGENT))
    assert ids(atende) == []
    change(atende, tid, lambda t: t.reopen("no", AGENT))
    assert ids(atende) == [str(tid)]
    assert atende.views["queue"].page(QueueQuery()).items[0]["status"] == "open"


def test_a_closed_ticket_is_gone_from_the_view(atende):
    tid = open_ticket(atende, tags=["x"]).ticket.id
    change(atende, tid, lambda t: t.resolve(None, AGENT))
    change(atende, tid, lambda t: t.close(AGENT))
    follower(atende).catch_up()
    assert atende.views["queue"].rows() == []


def test_a_queue_item_is_exactly_what_its_http_schema_would_dump(atende):
    tid = open_ticket(atende, tags=["wifi", "fibra"], language="pt-BR", category="red").ticket.id
    change(atende, tid, lambda t: t.add_message("oi", "customer", None, "public", None, AGENT))
    change(atende, open_ticket(atende).ticket.id, lambda t: t.assign("maria", AGENT))
    follower(atende).catch_up()
    items = atende.views["queue"].page(QueueQuery()).items
    assert json.dumps(items) == json.dumps(QueueItemOut(many=True).dump(items))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"assignee": "maria"}, ["assigned"]),
        ({"unassigned": True}, ["plain", "portuguese", "tagged"]),
        ({"unassigned": False}, ["assigned"]),
        ({"language": "pt"}, ["portuguese"]),
        ({"language": "pt-PT"}, ["portuguese"]),
        ({"channel": "chat"}, ["tagged"]),
        ({"priority": "high"}, ["assigned"]),
        ({"category": "billing"}, ["plain"]),
        ({"status": "open"}, ["assigned"]),
        ({"status": "new"}, ["plain", "portuguese", "tagged"]),
        ({"tag": "vip"}, ["tagged"]),
        ({"tag": "vip", "channel": "email"}, []),
    ],
)
def test_every_filter_selects_the_matching_tickets(atende, filters, expected):
    names = {
        open_ticket(atende, category="billing").ticket.id: "plain",
        open_ticket(atende, language="pt-BR").ticket.id: "portuguese",
        open_ticket(atende, channel="chat", tags=["vip"]).ticket.id: "tagged",
    }
    assigned = open_ticket(atende, priority="high").ticket.id
    names[assigned] = "assigned"
    change(atende, assigned, lambda t: t.assign("maria", AGENT))
    by_id = {str(k): v for k, v in names.items()}
    assert sorted(by_id[i] for i in ids(atende, **filters)) == expected


def test_pages_follow_each_other_without_gaps_or_repeats(atende):
    opened = [open_ticket(atende, priority=p).ticket.id for p in ["low", "high", "normal"] * 4]
    follower(atende).catch_up()
    seen, after = [], None
    while True:
        page = atende.views["queue"].page(QueueQuery(limit=5, after=after))
        seen += [item["id"] for item in page.items]
        if page.last_key is None:
            break
        after = page.last_key
    assert sorted(seen) == sorted(str(t) for t in opened) and len(seen) == 12


def test_a_queue_table_from_before_rows_kept_their_tags_gets_them_at_the_next_start(atende):
    tid = open_ticket(atende, tags=["wifi", "fibra"]).ticket.id
    follower(atende).catch_up()
    view = atende.views["queue"]
    atende.db.create_tables([f"ALTER TABLE {view.t} DROP COLUMN tags"])
    view.create_table()
    view.create_table()  # once only
    assert [(row["id"], row["tags"]) for row in view.rows()] == [(str(tid), ["fibra", "wifi"])]


def test_rows_and_position_are_written_together_or_not_at_all(atende):
    view = atende.views["queue"]
    bad = Change("t-1", {"no_such_column": 1}, insert=True)
    with pytest.raises(Exception):  # noqa: B017 - any database error will do
        view.apply([Change("t-0", _row(), insert=True), bad], Tracking(atende.tickets.name, 7))
    assert view.rows() == [] and view.max_tracking_id(atende.tickets.name) is None


def _row() -> dict:
    return {
        "number": 1, "subject": "s", "status": "new", "priority": "normal", "priority_rank": 2,
        "channel": "email", "language": None, "language_primary": None, "category": None,
        "assignee": None, "requester_name": "n", "created_at": "2026-01-01T00:00:00+00:00",
        "last_customer_message_at": None,
    }  # fmt: skip


def test_a_rebuild_equals_the_live_view_and_takes_its_place(atende, capsys):
    for priority in ("low", "urgent", "normal"):
        tid = open_ticket(atende, priority=priority, tags=["a"]).ticket.id
        change(atende, tid, lambda t: t.assign("maria", AGENT))
    change(atende, tid, lambda t: t.change_tags(["b"], ["a"], AGENT))
    follower(atende).catch_up()
    live = atende.views["queue"].rows()
    rebuild(atende, "queue")
    assert atende.views["queue"].rows() == live
    assert (
        atende.views["queue"].max_tracking_id(atende.tickets.name) == atende.tickets.head_position()
    )
    assert "swapped in" in capsys.readouterr().err


def test_a_rebuild_keeps_the_collector_off_what_the_process_held_before_it(atende):
    open_ticket(atende)
    held = [[n] for n in range(100)]  # lists are always tracked by the collector
    rebuild(atende, "queue")
    assert not any(obj is held[0] for obj in gc.get_objects())
    assert len(atende.views["queue"].rows()) == 1


def test_a_rebuild_killed_half_way_resumes_and_ends_identical(atende):
    for _ in range(7):
        open_ticket(atende, contact=Contact(name="Rui", phone="+55 11 5555 0000"))
    follower(atende).catch_up()
    live = atende.views["queue"].rows()
    half = VIEWS["queue"].make(atende.db.datastore, suffix=NEXT)
    half.create_table()
    follower(atende, half).step()  # one batch of three, then "killed"
    assert half.max_tracking_id(atende.tickets.name) == 3
    rebuild(atende, "queue")
    assert atende.views["queue"].rows() == live
