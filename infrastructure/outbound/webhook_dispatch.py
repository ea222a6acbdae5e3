"""Sends webhook deliveries (issue 22), in the projector process, never in a request.

At least once: a delivery stays pending until a receiver answers 2xx, and one sent just
before a crash is sent again (receivers deduplicate on ``webhook-id``, the delivery's id,
the same on every attempt). In order per ticket: a delivery waits while an earlier one of
its ordering key is undelivered (SqlWebhookRows.due). Isolated: each subscription is
drained by a thread of its own, so a receiver that hangs for its whole timeout delays
nobody else; within a subscription, different tickets' deliveries go out side by side.

A failed attempt is retried after a wait that doubles from ATENDE_WEBHOOK_FIRST_RETRY up
to an hour; once attempts have failed for ATENDE_WEBHOOK_RETRY_FOR (24 h) the delivery
fails and its subscription is disabled, saying why, until an admin enables it again
(its deliveries pending meanwhile are sent then). A refused address fails at once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from application.webhooks import WebhookSubscriptions
from domain.webhook import ACTIVE, Subscription
from infrastructure.outbound.webhook_client import WebhookAttempt, WebhookSender
from infrastructure.outbound.webhook_view import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    SqlWebhookRows,
    stamp,
    unstamp,
)

log = logging.getLogger("atende.outbound.webhooks")

LOOK_EVERY_SECONDS = 1.0  # without a wake-up (new deliveries wake it at once)
BATCH = 100  # deliveries a subscription's drain takes at a time
SIDE_BY_SIDE = 4  # ordering keys of one subscription sent at the same time
LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class RetryPolicy:
    first_wait: timedelta = timedelta(seconds=10)
    give_up_after: timedelta = timedelta(hours=24)

    def wait_after(self, attempts: int) -> timedelta:
        return min(LONGEST_WAIT, self.first_wait * 2 ** max(0, attempts - 1))


# The body of the delivery of the event at a position (the event as the feed shows it),
# or None when the log holds no such position.
RenderEvent = Callable[[int], bytes | None]


class WebhookDispatcher:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        view: SqlWebhookRows,
        sender: WebhookSender,
        render: RenderEvent,
        policy: RetryPolicy,
        clock: Callable[[], datetime] | None = None,
    ):
        self.subscriptions = subscriptions
        self.view = view
        self.sender = sender
        self.render = render
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC))
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        """New deliveries may be due (the follower enqueued some)."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        while not stop.is_set():
            self._wake.clear()
            self.dispatch_once()
            self._wake.wait(LOOK_EVERY_SECONDS)
        self.sender.close()

    def dispatch_once(self) -> list[threading.Thread]:
        """Start a drain for each active subscription with deliveries due and none
        running; returns the threads started (tests join them)."""
        due = self.view.due_subscriptions(self.clock())
        if not due:
            return []
        active = {str(s.id): s for s in self.subscriptions.list() if s.status == ACTIVE}
        started = []
        for subscription_id in due:
            subscription = active.get(subscription_id)
            with self._lock:
                if subscription is None or subscription_id in self._busy:
                    continue
                self._busy.add(subscription_id)
            thread = threading.Thread(
                target=self._drain_safely, args=(subscription,), daemon=True,
                name=f"webhook-{subscription_id[:8]}",
            )  # fmt: skip
            thread.start()
            started.append(thread)
        return started

    def _drain_safely(self, subscription: Subscription) -> None:
        try:
            self.drain(subscription)
        except Exception:  # the next look starts it again
            log.exception("webhook deliveries to %s failed", subscription.id)
        finally:
            with self._lock:
                self._busy.discard(str(subscription.id))

    def drain(self, subscription: Subscription) -> None:
        """Send what is due until nothing is, or the subscription is disabled."""
        secrets = self.subscriptions.secrets_of(subscription)
        with ThreadPoolExecutor(SIDE_BY_SIDE, thread_name_prefix="webhook-send") as pool:
            while not self._stop.is_set():
                rows = self.view.due(str(subscription.id), self.clock(), BATCH)
                if not rows:
                    return
                lanes: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
                for row in rows:
                    lanes.setdefault(row["ordering_key"], []).append(row)
                outcomes = pool.map(lambda lane: self._send_lane(subscription, secrets, lane),
                                    lanes.values())  # fmt: skip
                if any(outcome == "disabled" for outcome in outcomes):
                    return

    def _send_lane(
        self, subscription: Subscription, secrets: list[str], lane: list[dict[str, Any]]
    ) -> str:
        """One ordering key's deliveries, in order, stopping at the first not delivered."""
        for row in lane:
            outcome = self.deliver(subscription, secrets, row)
            if outcome != DELIVERED:
                return outcome
        return DELIVERED

    def deliver(self, subscription: Subscription, secrets: list[str], row: dict[str, Any]) -> str:
        now = self.clock()
        body = self.render(row["position"])
        if body is None:
            result = WebhookAttempt(None, 0.0, "the event is not in the log", "", True)
        else:
            result = self.sender.send(
                subscription.url, message_id=row["id"], timestamp=now, body=body, secrets=secrets
            )
        attempts = row["attempts"] + 1
        first = unstamp(row["first_attempt_at"]) or now
        changes: dict[str, Any] = {
            "attempts": attempts,
            "first_attempt_at": stamp(first),
            "last_attempt_at": stamp(now),
            "last_status_code": result.status_code,
            "last_error": result.error,
            "last_latency_ms": round(result.latency_ms, 3),
        }
        outcome = PENDING
        if result.delivered:
            outcome = DELIVERED
            changes.update(status=DELIVERED, delivered_at=stamp(now))
        elif result.permanent or now - first >= self.policy.give_up_after:
            outcome = FAILED
            changes["status"] = FAILED
        else:
            changes["next_attempt_at"] = stamp(now + self.policy.wait_after(attempts))
        attempt = Attempt(row["id"], attempts, now, result.status_code, result.latency_ms,
                          result.error)  # fmt: skip
        self.view.record(row["id"], attempt, changes)
        if outcome == FAILED and not result.permanent:
            reason = (
                f"deliveries failed for {_span(self.policy.give_up_after)} "
                f"({attempts} attempts); last: {result.error}"
            )
            self.subscriptions.disable(subscription.id, reason)
            log.warning("webhook subscription %s disabled: %s", subscription.id, reason)
            return "disabled"
        return outcome


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
