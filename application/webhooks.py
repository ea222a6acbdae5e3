"""Webhook subscriptions (issue 22): subscribe a URL to events, rotate its signing
secret, delete it; the system disables one whose receiver failed for too long, and an
admin enables it again. Deliveries themselves run in the projector
(infrastructure/outbound/webhook_dispatch.py), never in a request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from application.errors import InvalidWebhook
from application.retries import Save, save_with_retries
from domain.actor import Actor
from domain.webhook import (
    EVERY_EVENT,
    REGISTRY_ID,
    Subscription,
    SubscriptionNotFound,
    WebhookRegistry,
)

CONFLICT_RETRIES = 5
# How long deliveries also carry the old secret's signature after a rotation, so a
# receiver can switch secrets without refusing a delivery in between.
ROTATION_GRACE = timedelta(hours=24)


class SecretBox(Protocol):
    """Seals a signing secret for the log, and opens it again to sign a delivery."""

    def seal(self, secret: str) -> str: ...

    def open(self, sealed: str) -> str: ...


@dataclass(frozen=True)
class IssuedSubscription:
    subscription: Subscription
    secret: str  # shown once: in the answer that made it


class WebhookSubscriptions:
    def __init__(
        self,
        app: Any,  # the ticket application: its repository and save
        box: SecretBox,
        *,
        event_types: Collection[str],
        check_destination: Callable[[str], None],
        new_secret: Callable[[], str],
        clock: Callable[[], datetime] | None = None,
    ):
        self.app = app
        self.box = box
        self.event_types = frozenset(event_types)
        self.check_destination = check_destination  # raises ValueError
        self.new_secret = new_secret
        self.clock = clock or (lambda: datetime.now(UTC))

    # Reads

    def registry(self) -> WebhookRegistry | None:
        try:
            return self.app.repository.get(REGISTRY_ID)
        except AggregateNotFoundError:
            return None

    def list(self) -> list[Subscription]:
        registry = self.registry()
        return list(registry.subscriptions.values()) if registry else []

    def get(self, subscription_id: UUID) -> Subscription:
        registry = self.registry()
        if registry is None:
            raise SubscriptionNotFound(subscription_id)
        return registry.find(subscription_id)

    def secrets_of(self, subscription: Subscription) -> list[str]:
        """The secrets a delivery is signed with now, opened."""
        return [self.box.open(s) for s in subscription.sealed_secrets(self.clock())]

    # Commands

    def subscribe(
        self, url: str, events: list[str], description: str | None, actor: Actor
    ) -> IssuedSubscription:
        events = sorted(set(events))
        self._check_events(events)
        try:
            self.check_destination(url)
        except ValueError as error:
            raise InvalidWebhook("url", str(error)) from None
        secret = self.new_secret()
        subscription_id = uuid4()

        def change(registry: WebhookRegistry) -> None:
            registry.subscribe(
                subscription_id, url, events, description, self.box.seal(secret), actor
            )

        registry = self._changed(change)
        return IssuedSubscription(registry.find(subscription_id), secret)

    def rotate_secret(self, subscription_id: UUID, actor: Actor) -> IssuedSubscription:
        secret = self.new_secret()
        until = self.clock() + ROTATION_GRACE

        def change(registry: WebhookRegistry) -> None:
            registry.rotate_secret(subscription_id, self.box.seal(secret), until, actor)

        registry = self._changed(change)
        return IssuedSubscription(registry.find(subscription_id), secret)

    def unsubscribe(self, subscription_id: UUID, actor: Actor) -> None:
        self._changed(lambda registry: registry.unsubscribe(subscription_id, actor))

    def disable(self, subscription_id: UUID, reason: str) -> None:
        self._changed(lambda registry: registry.disable(subscription_id, reason))

    def enable(self, subscription_id: UUID, actor: Actor) -> Subscription:
        registry = self._changed(lambda registry: registry.enable(subscription_id, actor))
        return registry.find(subscription_id)

    def _check_events(self, events: list[str]) -> None:
        if EVERY_EVENT in events and len(events) > 1:
            raise InvalidWebhook("events", f"{EVERY_EVENT!r} is every event: give it alone")
        unknown = [e for e in events if e != EVERY_EVENT and e not in self.event_types]
        if unknown:
            raise InvalidWebhook("events", f"unknown event types: {', '.join(unknown)}")

    def _changed(self, change: Callable[[WebhookRegistry], Any]) -> WebhookRegistry:
        """Apply ``change`` to the latest registry and save it; when another admin saved
        first, apply it again to what they saved."""

        def attempt() -> WebhookRegistry | Save[WebhookRegistry]:
            registry = self.registry() or WebhookRegistry()
            change(registry)
            if not registry.pending_events:
                return registry

            def write() -> WebhookRegistry:
                self.app.save(registry)
                return registry

            return Save(write)

        return save_with_retries(
            attempt, what="the webhook subscriptions", retries=CONFLICT_RETRIES
        )
