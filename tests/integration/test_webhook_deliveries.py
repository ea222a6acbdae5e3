"""Which deliveries the projector makes (projections/webhooks.py), on both databases: a
subscription takes the events after the one that made it and before the one that
deleted it, each once, whether the follower ran through or stopped and started again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.actor import Actor
from infrastructure.outbound import outbox, webhook_view
from infrastructure.outbound.outbox import RetryPolicy, Tried, settle
from infrastructure.projector import ViewFollower
from projections.webhooks import WebhookDeliveryProjection
from tests.integration.builders import INTEGRATOR, open_ticket

ADMIN = Actor(id="admin-token", name="admin", role="admin")
URL = "http://93.184.216.34/hook"  # a public address: no DNS, never contacted here


def _follower(atende, batch_size: int = 500) -> ViewFollower:
    projection = WebhookDeliveryProjection(atende.webhook_deliveries)
    return ViewFollower(atende.tickets, projection, batch_size)


def _delivered_positions(atende, subscription_id) -> list[int]:
    rows = atende.webhook_deliveries.deliveries(
        str(subscription_id), status=None, before=None, limit=1000
    )
    return sorted(row["position"] for row in rows)


def test_a_subscription_takes_only_the_events_between_its_making_and_its_deletion(atende):
    before = open_ticket(atende)
    made = atende.webhooks.subscribe(URL, ["ticket.opened"], None, ADMIN).subscription
    during = [open_ticket(atende).position for _ in range(3)]
    atende.webhooks.unsubscribe(made.id, ADMIN)
    open_ticket(atende)

    _follower(atende).catch_up()

    assert _delivered_positions(atende, made.id) == during
    assert before.position not in _delivered_positions(atende, made.id)


def test_a_follower_started_again_anywhere_makes_each_delivery_once(atende):
    made = atende.webhooks.subscribe(URL, ["*"], None, ADMIN).subscription
    for _ in range(5):
        open_ticket(atende)

    first = _follower(atende, batch_size=2)
    first.step()
    first.step()  # stopped part-way
    _follower(atende, batch_size=2).catch_up()  # a new process, knowing only the view

    positions = _delivered_positions(atende, made.id)
    head = atende.tickets.head_position()
    subscribed_at = min(
        e.position for e in atende.tickets.events_after(0, 1000) if e.type == "subscribed"
    )
    expected = [e.position for e in atende.tickets.events_after(subscribed_at, 1000)]
    assert positions == expected
    assert positions[-1] == head
    assert len(positions) == len(set(positions))


def test_a_disabled_subscription_takes_nothing_until_enabled_again(atende):
    made = atende.webhooks.subscribe(URL, ["ticket.opened"], None, ADMIN).subscription
    atende.webhooks.disable(made.id, "receiver down")
    skipped = open_ticket(atende).position
    atende.webhooks.enable(made.id, ADMIN)
    taken = open_ticket(atende).position

    _follower(atende).catch_up()

    assert _delivered_positions(atende, made.id) == [taken]
    assert skipped < taken


def _due(atende, subscription_id) -> list[dict]:
    return atende.webhook_deliveries.due(str(subscription_id), datetime.now(UTC), 100)


def _tried(row, *, delivered: bool, permanent: bool = False) -> Tried:
    return Tried(row, datetime.now(UTC), delivered, permanent, 200 if delivered else 503,
                 None if delivered else "HTTP 503", 3.5)  # fmt: skip


def test_a_batch_of_attempts_is_recorded_together_each_with_its_outcome(atende):
    made = atende.webhooks.subscribe(URL, ["ticket.opened"], None, ADMIN).subscription
    for _ in range(3):
        open_ticket(atende)
    _follower(atende).catch_up()
    first, second, third = _due(atende, made.id)
    policy = RetryPolicy(first_wait=timedelta(seconds=10))

    atende.webhook_deliveries.record_batch([
        settle(_tried(first, delivered=True), policy),
        settle(_tried(second, delivered=False), policy),
        settle(_tried(third, delivered=False, permanent=True), policy),
    ])  # fmt: skip

    view = atende.webhook_deliveries
    states = [view.delivery(row["id"]) for row in (first, second, third)]
    assert [s["status"] for s in states] == ["delivered", "pending", "failed"]
    assert [s["attempts"] for s in states] == [1, 1, 1]
    assert states[1]["next_attempt_at"] > states[1]["last_attempt_at"]  # waits to be retried
    assert [len(view.attempts(row["id"])) for row in (first, second, third)] == [1, 1, 1]
    assert view.attempts(second["id"])[0].error == "HTTP 503"
    assert _due(atende, made.id) == []


def test_a_delivery_queued_again_while_it_was_being_sent_is_sent_once_more(atende):
    made = atende.webhooks.subscribe(URL, ["ticket.opened"], None, ADMIN).subscription
    open_ticket(atende)
    _follower(atende).catch_up()
    (row,) = _due(atende, made.id)

    # An operator's retry (or a replay) lands while the dispatcher is sending it.
    atende.webhook_deliveries.retry_now(row["id"], datetime.now(UTC) + timedelta(microseconds=1))
    atende.webhook_deliveries.record_batch([settle(_tried(row, delivered=True), RetryPolicy())])

    stored = atende.webhook_deliveries.delivery(row["id"])
    assert stored["status"] == "pending" and stored["attempts"] == 1
    assert len(atende.webhook_deliveries.attempts(row["id"])) == 1
    (again,) = _due(atende, made.id)
    assert again["id"] == row["id"]


def test_the_events_of_a_batch_are_read_together_and_a_missing_position_left_out(
    atende, monkeypatch
):
    positions = [open_ticket(atende).position for _ in range(7)]
    monkeypatch.setattr(outbox, "SPAN", 3)  # several range reads
    wanted = [positions[0], positions[2], positions[6], positions[6] + 10_000]

    found = outbox.notifications_at(atende.tickets.recorder, wanted)

    assert sorted(found) == wanted[:3]
    assert all(found[p].id == p for p in found)


def test_postgresql_plans_the_outbox_on_fresh_statistics_once_it_has_grown(atende):
    """Planned on an empty table's statistics, the look for deliveries due scans every
    pending delivery for each one; the outbox analyzes itself after a burst."""
    made = atende.webhooks.subscribe(URL, ["*"], None, ADMIN).subscription
    view = atende.webhook_deliveries
    view.due(str(made.id), datetime.now(UTC), 10)  # planned on an empty outbox
    view_grown = webhook_view.ANALYZE_AFTER_ROWS + 10
    for _ in range(view_grown):
        open_ticket(atende)
    _follower(atende).catch_up()
    view.due(str(made.id), datetime.now(UTC), 10)

    if view.db.is_postgres:
        with view.db.reading() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (view.t,))
            estimated = dict(cursor.fetchone())["reltuples"]
        assert estimated >= webhook_view.ANALYZE_AFTER_ROWS  # what ANALYZE counted
    assert len(view.due(str(made.id), datetime.now(UTC), 1000)) >= view_grown


def _ticket_deliveries(atende, made, count: int) -> list[dict]:
    """``count`` events of one ticket, each a delivery, and what is due of them."""
    opened = open_ticket(atende)
    for n in range(count - 1):
        atende.ticket_commands.add_message(opened.ticket.id, body=f"nota {n}",
            author_type="customer", visibility="public", actor=INTEGRATOR)  # fmt: skip
    _follower(atende).catch_up()
    return [row for row in _due(atende, made.id) if row["ordering_key"] == str(opened.ticket.id)]


def test_a_tickets_deliveries_due_together_come_in_order(atende):
    made = atende.webhooks.subscribe(URL, ["*"], None, ADMIN).subscription

    due = _ticket_deliveries(atende, made, 3)

    assert len(due) == 3
    assert [row["position"] for row in due] == sorted(row["position"] for row in due)


def test_a_delivery_waiting_to_be_tried_again_holds_back_the_later_ones_of_its_ticket(atende):
    made = atende.webhooks.subscribe(URL, ["*"], None, ADMIN).subscription
    first, *later = _ticket_deliveries(atende, made, 3)

    atende.webhook_deliveries.record_batch([settle(_tried(first, delivered=False), RetryPolicy())])

    ticket = first["ordering_key"]
    assert not [row for row in _due(atende, made.id) if row["ordering_key"] == ticket]
    assert [atende.webhook_deliveries.delivery(row["id"])["status"] for row in later] == [
        "pending", "pending",
    ]  # fmt: skip
