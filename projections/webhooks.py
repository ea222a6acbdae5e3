"""Webhook deliveries to make (issue 22): for every event of the log, one delivery per
subscription that wants it, written with the position reached in one transaction, so
each delivery is enqueued exactly once whatever crashes (the view's follower, like any
view's). Sending them is the dispatcher's (infrastructure/outbound/webhook_dispatch.py).

Which subscriptions want an event depends on when they were made: a subscription
receives the events after the one that made it (or enabled it again) and before the one
that deleted or disabled it. Those positions are followed here from the registry's own
events in the log, and kept in the view's rows, so a projector that restarts anywhere
decides exactly as one that never stopped. Unlike other projections this one reads its
view, once, when it starts: the subscriptions followed so far. Positions make that safe
whatever the view holds: a bound recorded by a batch that later failed is recorded
again, the same, when the batch is retried.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from domain.ticket import aggregate_type_name, event_type_name
from domain.webhook import WebhookRegistry, matches
from projections.base import RowProjection, RowView


@dataclass(frozen=True)
class Followed:
    """A subscription as deliveries follow it: events in (since, until) are its."""

    id: str
    events: tuple[str, ...]
    since: int
    until: int | None = None

    def wants(self, position: int, aggregate_type: str, event_type: str) -> bool:
        return (
            self.since < position
            and (self.until is None or position < self.until)
            and matches(self.events, aggregate_type, event_type)
        )


@dataclass(frozen=True)
class Delivery:
    id: str  # uuid5 of the subscription and the position: its webhook-id, on every retry
    subscription_id: str
    position: int
    # Deliveries with the same key go out in order (a ticket's events, or any other
    # aggregate's); different keys never wait for each other.
    ordering_key: str
    event_type: str  # <aggregate_type>.<type>


Change = Followed | Delivery


class WebhookDeliveryView(RowView[Change]):
    @abstractmethod
    def followed(self) -> list[Followed]:
        """Every subscription followed so far, as of the view's position."""


def delivery_id(subscription_id: str, position: int) -> str:
    return str(uuid5(UUID(subscription_id), str(position)))


class WebhookDeliveryProjection(RowProjection[Change]):
    name = "outbound_webhooks"
    view: WebhookDeliveryView
    decodes_ahead = False  # wants() follows the subscriptions changes() has seen

    def __init__(self, view: WebhookDeliveryView):
        super().__init__(view)
        self._followed: dict[str, Followed] | None = None

    def changes(self, domain_event: Any, position: int) -> list[Change]:
        followed = self._subscriptions()
        found: list[Change] = []
        if isinstance(domain_event, WebhookRegistry.Event):
            bound = self._bound(domain_event, position, followed)
            if bound is not None:
                followed[bound.id] = bound
                found.append(bound)
        aggregate_type = aggregate_type_name(type(domain_event))
        event_type = event_type_name(domain_event)
        ordering_key = str(getattr(domain_event, "ticket_id", None) or domain_event.originator_id)
        for subscription in followed.values():
            if subscription.wants(position, aggregate_type, event_type):
                found.append(
                    Delivery(
                        delivery_id(subscription.id, position),
                        subscription.id,
                        position,
                        ordering_key,
                        f"{aggregate_type}.{event_type}",
                    )
                )
        return found

    def wants(self, topic: str, position: int) -> bool:
        """Whether the event needs reading at all: the follower skips decoding the
        others (with no subscription, every event but the registry's). The same rule
        as ``changes``, told from the event's topic alone."""
        names = topic_names(topic)
        if names is None or names[0] == REGISTRY:
            return True
        return any(f.wants(position, *names) for f in self._subscriptions().values())

    def _subscriptions(self) -> dict[str, Followed]:
        if self._followed is None:
            self._followed = {f.id: f for f in self.view.followed()}
        return self._followed

    @staticmethod
    def _bound(event: Any, position: int, followed: dict[str, Followed]) -> Followed | None:
        key = str(getattr(event, "subscription_id", ""))
        if isinstance(event, WebhookRegistry.Subscribed):
            return Followed(key, tuple(event.events), since=position)
        current = followed.get(key)
        if current is None:
            return None
        if isinstance(event, WebhookRegistry.Unsubscribed | WebhookRegistry.Disabled):
            return replace(current, until=position)
        if isinstance(event, WebhookRegistry.Enabled):
            return replace(current, since=position, until=None)
        return None


REGISTRY = "webhook_registry"
_WORD = re.compile(r"(?<!^)(?=[A-Z])")


@lru_cache(maxsize=512)
def topic_names(topic: str) -> tuple[str, str] | None:
    """(aggregate_type, type) from a stored event's topic (``domain.ticket:Ticket.Opened``
    -> ticket, opened), as aggregate_type_name and event_type_name give them; None for a
    topic of another shape."""
    _, _, qualname = topic.partition(":")
    owner, dot, name = qualname.rpartition(".")
    if not dot or "." in owner:
        return None
    return _WORD.sub("_", owner).lower(), _WORD.sub("_", name).lower()


def deliveries(changes: Sequence[Change]) -> list[Delivery]:
    return [c for c in changes if isinstance(c, Delivery)]


def bounds(changes: Sequence[Change]) -> list[Followed]:
    return [c for c in changes if isinstance(c, Followed)]
