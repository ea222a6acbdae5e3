"""What an attempt makes of an outbox delivery, the same for a webhook and an email: it
is delivered; or it waits to be tried again after a wait that doubles from the first
retry's up to an hour; or it fails, at once when the refusal is permanent, or once
attempts have failed for the policy's whole retry window.

Both dispatchers send a batch of deliveries, then settle what each attempt made of its
delivery and record every attempt of the batch in one transaction (SqlWebhookRows.
record_batch): one commit per batch rather than one per delivery is most of an outbox's
throughput. A crash between the sends and the commit sends the batch again, which at
least once allows (receivers deduplicate on the delivery's id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.persistence import Notification

from infrastructure.outbound.webhook_view import (
    DELIVERED,
    FAILED,
    PENDING,
    Attempt,
    stamp,
    unstamp,
)

LONGEST_WAIT = timedelta(hours=1)


@dataclass(frozen=True)
class RetryPolicy:
    first_wait: timedelta = timedelta(seconds=10)
    give_up_after: timedelta = timedelta(hours=24)

    def wait_after(self, attempts: int) -> timedelta:
        return min(LONGEST_WAIT, self.first_wait * 2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Tried:
    """One attempt at one delivery (an outbox row), as the sender saw it."""

    row: dict[str, Any]
    at: datetime
    delivered: bool
    permanent: bool  # refused for good: not tried again
    status_code: int | None
    error: str | None  # None when delivered
    latency_ms: float


@dataclass(frozen=True)
class Settled:
    """What the attempt made of the delivery: its outcome, the attempt's row and the
    delivery row's changes."""

    tried: Tried
    outcome: str  # DELIVERED, PENDING (tried again at retry_at) or FAILED
    gave_up: bool  # failed because its retry window ran out, not for a permanent refusal
    retry_at: datetime | None
    attempt: Attempt
    changes: dict[str, Any]

    @property
    def delivery_id(self) -> str:
        return str(self.tried.row["id"])

    @property
    def attempts(self) -> int:
        return self.attempt.attempt


def settle(tried: Tried, policy: RetryPolicy) -> Settled:
    row, now = tried.row, tried.at
    attempts = row["attempts"] + 1
    first = unstamp(row["first_attempt_at"]) or now
    gave_up = False
    retry_at = None
    if tried.delivered:
        outcome = DELIVERED
    elif tried.permanent:
        outcome = FAILED
    elif now - first >= policy.give_up_after:
        outcome, gave_up = FAILED, True
    else:
        outcome, retry_at = PENDING, now + policy.wait_after(attempts)
    changes: dict[str, Any] = {
        "attempts": attempts,
        "status": outcome,
        "first_attempt_at": stamp(first),
        "last_attempt_at": stamp(now),
        "last_status_code": tried.status_code,
        "last_error": tried.error,
        "last_latency_ms": round(tried.latency_ms, 3),
    }
    if outcome == DELIVERED:
        changes["delivered_at"] = stamp(now)
    if retry_at is not None:
        changes["next_attempt_at"] = stamp(retry_at)
    attempt = Attempt(row["id"], attempts, now, tried.status_code, tried.latency_ms, tried.error)
    return Settled(tried, outcome, gave_up, retry_at, attempt, changes)


SPAN = 500  # stored events read at a time when looking for a batch's positions


def notifications_at(recorder: Any, positions: Sequence[int]) -> dict[int, Notification]:
    """The stored events at these positions, by position, read in ranges rather than one
    by one: a batch's deliveries are mostly of nearby positions, so a range read of
    SPAN rows finds many for one query. A position the log does not hold is left out."""
    wanted_set = set(positions)
    wanted = sorted(wanted_set)
    found: dict[int, Notification] = {}
    next_wanted = 0
    while next_wanted < len(wanted):
        start, last = wanted[next_wanted], wanted[-1]
        page = recorder.select_notifications(start=start, limit=SPAN, stop=last)
        found.update((n.id, n) for n in page if n.id in wanted_set)
        # Everything up to here has been seen: the whole range when the page fell short.
        seen_to = page[-1].id if len(page) == SPAN else last
        while next_wanted < len(wanted) and wanted[next_wanted] <= seen_to:
            next_wanted += 1
    return found
