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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from application.webhooks import WebhookSubscriptions
from domain.webhook import ACTIVE, Subscription
from infrastructure.outbound.outbox import RetryPolicy, Settled, Tried, settle
from infrastructure.outbound.webhook_client import WebhookSender
from infrastructure.outbound.webhook_view import SqlWebhookRows

log = logging.getLogger("atende.outbound.webhooks")

LOOK_EVERY_SECONDS = 1.0  # without a wake-up (new deliveries wake it at once)
BATCH = 200  # deliveries a subscription's drain takes, sends and records at a time
SIDE_BY_SIDE = 8  # ordering keys of one subscription sent at the same time

__all__ = ["RetryPolicy", "WebhookDispatcher"]

# The bodies of the deliveries of the events at these positions (each event as the feed
# shows it), read together; a position the log does not hold is left out.
RenderEvents = Callable[[Sequence[int]], dict[int, bytes]]


class WebhookDispatcher:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        view: SqlWebhookRows,
        sender: WebhookSender,
        render: RenderEvents,
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
        with self._lock:
            due = [s for s in due if s not in self._busy]
        if not due:  # those with deliveries due are being drained: they will see them
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
        """Send what is due until nothing is, or the subscription is disabled: a batch at
        a time, its ordering keys side by side, its attempts recorded together."""
        secrets = self.subscriptions.secrets_of(subscription)
        with ThreadPoolExecutor(SIDE_BY_SIDE, thread_name_prefix="webhook-send") as pool:
            while not self._stop.is_set():
                rows = self.view.due(str(subscription.id), self.clock(), BATCH)
                if not rows:
                    return
                bodies = self.render([row["position"] for row in rows])
                lanes: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
                for row in rows:
                    lanes.setdefault(row["ordering_key"], []).append(row)
                send = partial(self._send_lane, subscription, secrets, bodies=bodies)
                tried = pool.map(send, lanes.values())
                settled = [settle(t, self.policy) for lane in tried for t in lane]
                self.view.record_batch(settled)
                if self._gave_up(subscription, settled):
                    return

    def _send_lane(
        self,
        subscription: Subscription,
        secrets: list[str],
        lane: list[dict[str, Any]],
        bodies: dict[int, bytes],
    ) -> list[Tried]:
        """One ordering key's deliveries, in order, stopping at the first not delivered."""
        tried = []
        for row in lane:
            tried.append(self.send(subscription, secrets, row, bodies.get(row["position"])))
            if not tried[-1].delivered:
                break
        return tried

    def send(
        self, subscription: Subscription, secrets: list[str], row: dict[str, Any],
        body: bytes | None,
    ) -> Tried:  # fmt: skip
        now = self.clock()
        if body is None:
            return Tried(row, now, False, True, None, "the event is not in the log", 0.0)
        result = self.sender.send(
            subscription.url, message_id=row["id"], timestamp=now, body=body, secrets=secrets
        )
        return Tried(row, now, result.delivered, result.permanent, result.status_code,
                     result.error, result.latency_ms)  # fmt: skip

    def _gave_up(self, subscription: Subscription, settled: list[Settled]) -> bool:
        """A delivery whose retries ran out disables its subscription, saying why."""
        last = next((s for s in settled if s.gave_up), None)
        if last is None:
            return False
        reason = (
            f"deliveries failed for {_span(self.policy.give_up_after)} "
            f"({last.attempts} attempts); last: {last.tried.error}"
        )
        self.subscriptions.disable(subscription.id, reason)
        log.warning("webhook subscription %s disabled: %s", subscription.id, reason)
        return True


def _span(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
