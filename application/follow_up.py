"""The follow-up sweep: a plain function of ``now`` that the scheduler triggers (tests
pass their own clock). It closes tickets resolved long enough ago, reminds customers
who leave a pending ticket unanswered, and resolves the ones they never answer; all as
the system's events. The view finds candidates; each ticket decides for itself, so a
stale view or a second sweeper records nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from application.errors import TicketNotFound
from application.ports import ChangesTickets
from application.system_texts import SystemTexts
from domain.actor import SYSTEM
from domain.ticket import Ticket, TransitionNotAllowed
from projections.follow_up import FollowUpView
from projections.timestamps import timestamp

PAGE = 200


@dataclass(frozen=True)
class FollowUpPolicy:
    """When each follow-up is due; None turns it off."""

    close_after: timedelta | None = timedelta(days=4)
    remind_after: timedelta | None = None
    resolve_after: timedelta | None = None


@dataclass
class FollowUpResult:
    resolved: list[UUID] = field(default_factory=list)
    reminded: list[UUID] = field(default_factory=list)
    closed: list[UUID] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.resolved) + len(self.reminded) + len(self.closed)


# The text a follow-up records, by kind, in the ticket's language (system_texts.py).
REASONS = {"resolve": "reason_pending_resolved", "close": "reason_auto_closed"}


def follow_up(
    app: ChangesTickets,
    view: FollowUpView,
    now: datetime,
    policy: FollowUpPolicy,
    texts: SystemTexts | None = None,
) -> FollowUpResult:
    """Everything due at ``now``. Unanswered pending tickets are resolved before any
    reminder, so one long overdue is resolved rather than reminded. With ``texts`` the
    reasons recorded are in each ticket's language; without, in English."""
    result = FollowUpResult()
    steps: list[tuple[str, timedelta | None, list[UUID], Callable[..., bool]]] = [
        ("resolve", policy.resolve_after, result.resolved, Ticket.resolve_when_pending_for),
        ("remind", policy.remind_after, result.reminded, Ticket.remind_when_pending_for),
        ("close", policy.close_after, result.closed, Ticket.close_when_resolved_for),
    ]
    for kind, after, done, command in steps:
        if after is None:
            continue
        cutoff, key = timestamp(now - after), None
        # Pages by key: the view has not seen what a page wrote yet, so asking again
        # from the start would find the same tickets.
        while found := view.due(kind, cutoff, PAGE, key):
            for _, ticket_id in found:
                reason = REASONS.get(kind) if texts is not None else None
                if _act(app, UUID(ticket_id), command, after, now, texts, reason):
                    done.append(UUID(ticket_id))
            key = found[-1]
    return result


def _act(
    app: ChangesTickets,
    ticket_id: UUID,
    command: Callable[..., bool],
    after: timedelta,
    now: datetime,
    texts: SystemTexts | None = None,
    reason: str | None = None,
) -> bool:
    acted: list[bool] = []

    def apply(ticket: Ticket) -> None:
        if texts is None or reason is None:
            acted.append(command(ticket, after, now, SYSTEM))
            return
        text = texts.reason(reason, ticket.language, after)
        acted.append(command(ticket, after, now, SYSTEM, reason=text))

    with suppress(TicketNotFound, TransitionNotAllowed):
        app.change(ticket_id, apply)
    return bool(acted and acted[-1])
