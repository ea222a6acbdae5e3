"""Webhook subscriptions (issue 22): where events are delivered, as events of their own.

One aggregate holds every subscription of the deployment, like the SLA policy set: they
are few, an admin changes them, and one aggregate makes "no two subscriptions alike"
an invariant its version guards instead of a race between two requests. Its events are
in the log, so the audit trail shows who sent which events where, and since when.

A subscription's signing secret must be readable again to sign each delivery, so it
cannot be a hash like an API token's: the events hold it sealed with a key derived from
the deployment's secret (application.webhooks), never in the clear, and the feed and
histories never show it (application.tickets.EVENT_BOOKKEEPING).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

REGISTRY_ID = uuid5(NAMESPACE_URL, "/webhooks")
EVERY_EVENT = "*"

ACTIVE, DISABLED = "active", "disabled"


def matches(subscribed: Collection[str], aggregate_type: str, event_type: str) -> bool:
    """Whether an event of this aggregate and type goes to a subscription to
    ``subscribed``: ``*``, its type alone (``message_added``: whichever aggregate records
    it), or ``<aggregate_type>.<type>``."""
    return (
        EVERY_EVENT in subscribed
        or event_type in subscribed
        or f"{aggregate_type}.{event_type}" in subscribed
    )


class SubscriptionNotFound(Exception):
    def __init__(self, subscription_id: UUID):
        super().__init__(f"webhook subscription {subscription_id} not found")
        self.subscription_id = subscription_id


class DuplicateSubscription(Exception):
    def __init__(self, existing: UUID):
        super().__init__(f"webhook subscription {existing} already sends these events there")
        self.existing = existing


@dataclass
class SealedSecret:
    sealed: str  # the secret, sealed (application.webhooks.SecretBox)
    valid_until: datetime | None = None  # None: the current one


@dataclass
class Subscription:
    id: UUID
    url: str
    events: list[str]  # event types ("message_added", "ticket.opened") or ["*"]
    description: str | None
    created_at: datetime
    created_by: str
    status: str = ACTIVE
    disabled_reason: str | None = None
    disabled_at: datetime | None = None
    secrets: list[SealedSecret] = field(default_factory=list)  # the current one first

    def same_as(self, url: str, events: list[str]) -> bool:
        return self.url == url and sorted(self.events) == sorted(events)

    def sealed_secrets(self, now: datetime) -> list[str]:
        """The secrets deliveries are signed with now: the current one, then any rotated
        out whose grace has not ended (receivers verify with either)."""
        return [s.sealed for s in self.secrets if s.valid_until is None or now < s.valid_until]


class WebhookRegistry(Aggregate):
    """Every webhook subscription; removed ones are dropped from ``subscriptions``."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return REGISTRY_ID

    @event("Created")
    def __init__(self) -> None:
        self.subscriptions: dict[UUID, Subscription] = {}

    def find(self, subscription_id: UUID) -> Subscription:
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise SubscriptionNotFound(subscription_id)
        return found

    # Commands

    def subscribe(
        self,
        subscription_id: UUID,
        url: str,
        events: list[str],
        description: str | None,
        sealed_secret: str,
        actor: Actor,
    ) -> None:
        for existing in self.subscriptions.values():
            if existing.same_as(url, events):
                raise DuplicateSubscription(existing.id)
        self._subscribed(
            subscription_id=subscription_id,
            url=url,
            events=events,
            description=description,
            sealed_secret=sealed_secret,
            actor=actor,
        )

    def rotate_secret(
        self, subscription_id: UUID, sealed_secret: str, previous_valid_until: datetime,
        actor: Actor,
    ) -> None:  # fmt: skip
        self.find(subscription_id)
        self._secret_rotated(
            subscription_id=subscription_id,
            sealed_secret=sealed_secret,
            previous_valid_until=previous_valid_until,
            actor=actor,
        )

    def unsubscribe(self, subscription_id: UUID, actor: Actor) -> None:
        self.find(subscription_id)
        self._unsubscribed(subscription_id=subscription_id, actor=actor)

    def disable(self, subscription_id: UUID, reason: str) -> bool:
        """Stop delivering (the system, when a receiver failed for too long); False when
        it is already disabled or gone (nothing recorded)."""
        found = self.subscriptions.get(subscription_id)
        if found is None or found.status == DISABLED:
            return False
        self._disabled(subscription_id=subscription_id, reason=reason)
        return True

    def enable(self, subscription_id: UUID, actor: Actor) -> bool:
        """Deliver again, from now on; False when it is not disabled (nothing recorded)."""
        if self.find(subscription_id).status != DISABLED:
            return False
        self._enabled(subscription_id=subscription_id, actor=actor)
        return True

    # Events

    @event("Subscribed")
    def _subscribed(
        self,
        subscription_id: UUID,
        url: str,
        events: list[str],
        description: str | None,
        sealed_secret: str,
        actor: Actor,
    ) -> None:
        self.subscriptions[subscription_id] = Subscription(
            id=subscription_id,
            url=url,
            events=list(events),
            description=description,
            created_at=self.modified_on,
            created_by=actor.id,
            secrets=[SealedSecret(sealed_secret)],
        )

    @event("SecretRotated")
    def _secret_rotated(
        self,
        subscription_id: UUID,
        sealed_secret: str,
        previous_valid_until: datetime,
        actor: Actor,
    ) -> None:
        subscription = self.subscriptions[subscription_id]
        for secret in subscription.secrets:
            if secret.valid_until is None or secret.valid_until > previous_valid_until:
                secret.valid_until = previous_valid_until
        subscription.secrets.insert(0, SealedSecret(sealed_secret))

    @event("Unsubscribed")
    def _unsubscribed(self, subscription_id: UUID, actor: Actor) -> None:
        del self.subscriptions[subscription_id]

    @event("Disabled")
    def _disabled(self, subscription_id: UUID, reason: str) -> None:
        subscription = self.subscriptions[subscription_id]
        subscription.status = DISABLED
        subscription.disabled_reason = reason
        subscription.disabled_at = self.modified_on

    @event("Enabled")
    def _enabled(self, subscription_id: UUID, actor: Actor) -> None:
        subscription = self.subscriptions[subscription_id]
        subscription.status = ACTIVE
        subscription.disabled_reason = None
        subscription.disabled_at = None
