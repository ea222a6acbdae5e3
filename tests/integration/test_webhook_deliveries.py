"""Which deliveries the projector makes (projections/webhooks.py), on both databases: a
subscription takes the events after the one that made it and before the one that
deleted it, each once, whether the follower ran through or stopped and started again."""

from __future__ import annotations

from domain.actor import Actor
from infrastructure.projector import ViewFollower
from projections.webhooks import WebhookDeliveryProjection
from tests.integration.builders import open_ticket

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
