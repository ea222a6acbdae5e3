"""The SLA view: one row per ticket timer (metric and cycle), as its last event left it.

It serves the breach sweep (which running timers are due), the breach list and the SLA
report. Timer events carry the whole timer, so a row is simply replaced.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking

from domain.sla.timers import TIMER_EVENTS
from projections.base import RowProjection, RowView
from projections.timestamps import timestamp

INSTANTS = (
    "started_at", "due_at", "warn_at", "fulfilled_at", "warned_at", "breached_at", "stopped_at",
)  # fmt: skip
PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class TimerRow:
    """A timer's row, replaced whole (the key is ticket, metric and cycle)."""

    fields: dict[str, Any]


@dataclass(frozen=True)
class DueThreshold:
    """A running timer the sweep should look at: its warning or breach is due."""

    ticket_id: str
    metric: str
    cycle: int
    threshold: str  # "warning" | "breach"


class SlaView(RowView[TimerRow]):
    @abstractmethod
    def apply(self, changes: Sequence[TimerRow], tracking: Tracking) -> None:
        """Replace the timers' rows and record the tracking position, atomically."""

    @abstractmethod
    def due(self, now: datetime) -> list[DueThreshold]:
        """Running timers whose warning or breach time has come and is not recorded."""

    @abstractmethod
    def next_due(self) -> datetime | None:
        """The earliest warning or breach time still to come among running timers."""

    @abstractmethod
    def breaches(
        self, start: datetime, end: datetime, metric: str | None, limit: int, after: tuple | None
    ) -> list[dict[str, Any]]:
        """Breaches recorded in [start, end), oldest first."""

    @abstractmethod
    def report(self, start: datetime, end: datetime, period: str) -> list[dict[str, Any]]:
        """Met / met late / breached / running counts per metric, policy and period, of
        the timers started in [start, end)."""

    @abstractmethod
    def breach_counts(self) -> dict[str, int]:
        """How many timers ever breached, by metric (for the /metrics counter)."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row, in key order (to compare a live view with a rebuild)."""


class SlaProjection(RowProjection[TimerRow]):
    name = "sla"

    def handles(self, event_class: type) -> bool:
        return issubclass(event_class, TIMER_EVENTS)

    def changes(self, domain_event: Any, position: int) -> list[TimerRow]:
        if not isinstance(domain_event, TIMER_EVENTS):
            return []
        return [TimerRow(timer_row(domain_event.timer))]


def timer_row(timer: dict[str, Any]) -> dict[str, Any]:
    row = {
        "ticket_id": timer["ticket_id"],
        "metric": timer["metric"],
        "cycle": timer["cycle"],
        "policy": timer["policy"],
        "calendar": timer["calendar"],
        "target": timer["target"],
        "state": timer["state"],
        "elapsed": timer["elapsed"],
        "paused_seconds": timer["paused_seconds"],
        "met": timer["met"],
    }
    for name in INSTANTS:
        row[name] = timestamp(timer[name]) if timer[name] is not None else None
    # Epoch seconds of what the sweep waits for, only while it is still to be recorded.
    running = timer["state"] == "running"
    row["breach_epoch"] = _epoch(timer["due_at"]) if running and not timer["breached_at"] else None
    row["warn_epoch"] = _epoch(timer["warn_at"]) if running and not timer["warned_at"] else None
    return row


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
