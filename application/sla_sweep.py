"""The breach sweep: a plain function of ``now`` (the scheduler only triggers it, tests
pass their own clock). It records every warning and breach that has come due, once,
and says when it next needs to run."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from application.ports import ChangesTickets, SweepsSla
from domain.actor import SYSTEM
from domain.ticket import Ticket, TransitionNotAllowed
from domain.ticket_vocabulary import PRIORITIES
from projections.sla import DueThreshold, SlaView


@dataclass
class SweepResult:
    recorded: list[DueThreshold] = field(default_factory=list)
    next_due: datetime | None = None


def sweep(app: SweepsSla, view: SlaView, now: datetime) -> SweepResult:
    """Record what is due at ``now``; the view may lag, so each timer's own aggregate
    decides (a timer paused a moment ago is not breached, one recorded by another
    scheduler is not recorded twice)."""
    result = SweepResult()
    by_ticket: dict[str, list[DueThreshold]] = {}
    for due in view.due(now):
        by_ticket.setdefault(due.ticket_id, []).append(due)
    for ticket_id, dues in by_ticket.items():
        # Warnings first: a timer long overdue gets its warning before its breach.
        dues.sort(key=lambda d: d.threshold != "warning")
        asked = [(d.metric, d.cycle, d.threshold) for d in dues]
        recorded, policy = app.sla.record_due(UUID(ticket_id), asked, now)
        done = {(t["metric"], t["cycle"], _threshold_of(t, now)) for t in recorded}
        result.recorded += [d for d in dues if (d.metric, d.cycle, d.threshold) in done]
        for timer in recorded:
            if _threshold_of(timer, now) == "breach":
                escalate_per_policy(app, UUID(ticket_id), timer["metric"], policy or {})
    result.next_due = view.next_due()
    return result


def _threshold_of(timer: dict[str, Any], now: datetime) -> str:
    """Which threshold a timer returned by record_due was recorded for (at ``now``)."""
    return "breach" if timer["breached_at"] == now else "warning"


def escalate_per_policy(
    app: ChangesTickets, ticket_id: UUID, metric: str, policy: dict[str, Any]
) -> None:
    """A policy may have a breach raise the ticket's priority or escalate it."""
    if not (policy.get("raise_priority_on_breach") or policy.get("escalate_on_breach")):
        return

    def act(ticket: Ticket) -> None:
        if policy.get("raise_priority_on_breach"):
            rank = PRIORITIES.index(ticket.priority)
            ticket.change_priority(PRIORITIES[min(rank + 1, len(PRIORITIES) - 1)], SYSTEM)
        if policy.get("escalate_on_breach"):
            ticket.escalate(f"SLA {metric} breached", None, SYSTEM)

    # Resolved or closed since the breach: nothing is left to escalate.
    with suppress(TransitionNotAllowed):
        app.change(ticket_id, act)
