"""A replay (POST /v1/webhooks/{id}/replay): every event after a feed position that a
subscription takes is delivered again. It reads the log from that position in pages and
queues the deliveries (new ones, or those already made sent again); the dispatcher sends
them in position order like any other. It reads each event once, so a replay from 0 on a
long log takes as long as reading the log (about 100k events a second here)."""

from __future__ import annotations

from typing import Any

from domain.ticket import aggregate_type_name, event_type_name
from domain.webhook import Subscription, matches
from infrastructure.outbound.webhook_view import SqlWebhookRows
from projections.webhooks import Delivery, delivery_id

PAGE = 1000


def replay(
    tickets: Any, deliveries: SqlWebhookRows, subscription: Subscription, after: int, now: Any
) -> int:
    queued = 0
    subscription_id = str(subscription.id)
    while True:
        page = tickets.recorder.select_notifications(
            start=after, limit=PAGE, inclusive_of_start=False
        )
        if not page:
            return queued
        found = []
        for notification in page:
            event = tickets.mapper.to_domain_event(notification)
            aggregate_type = aggregate_type_name(type(event))
            event_type = event_type_name(event)
            if matches(subscription.events, aggregate_type, event_type):
                key = getattr(event, "ticket_id", None) or event.originator_id
                found.append(
                    Delivery(
                        delivery_id(subscription_id, notification.id),
                        subscription_id,
                        notification.id,
                        str(key),
                        f"{aggregate_type}.{event_type}",
                    )
                )
        queued += deliveries.enqueue_again(found, now)
        after = page[-1].id
