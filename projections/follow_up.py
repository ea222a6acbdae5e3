"""Tickets the follow-up sweep may have to act on: resolved ones (to close by
themselves) and pending ones (to remind the customer, then resolve). Every other ticket
has no row, so the sweep's queries stay small however long the log grows."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from domain.ticket import Ticket
from projections.base import RowProjection, RowView
from projections.ticket_list import RowChange
from projections.timestamps import timestamp

# What the sweep asks for: resolved tickets to close, pending ones to remind or resolve.
KINDS = ("close", "remind", "resolve")
# The events that start, change or end a ticket's wait for a follow-up.
FOLLOWED = (
    Ticket.StatusChanged, Ticket.Resolved, Ticket.CustomerReminded, Ticket.Reopened,
    Ticket.Closed,
)  # fmt: skip


class FollowUpView(RowView[RowChange]):
    @abstractmethod
    def due(
        self, kind: str, since_at_most: str, limit: int, after: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """(since, id) of tickets waiting for ``kind`` whose stretch began at or before
        the given instant (a ``projections.timestamps`` text), oldest first, after the
        given key."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row, in id order."""


class FollowUpProjection(RowProjection[RowChange]):
    name = "follow_up"

    def handles(self, event_class: type) -> bool:
        return issubclass(event_class, FOLLOWED)

    def changes(self, domain_event: Any, position: int) -> list[RowChange]:
        ticket_id = str(getattr(domain_event, "originator_id", ""))
        if isinstance(domain_event, Ticket.StatusChanged):
            if domain_event.status == "pending":
                return _enter(ticket_id, "pending", domain_event)
            return [RowChange(ticket_id, None)]
        if isinstance(domain_event, Ticket.Resolved):
            return _enter(ticket_id, "resolved", domain_event)
        if isinstance(domain_event, Ticket.CustomerReminded):
            return [RowChange(ticket_id, {"reminded": 1})]
        if isinstance(domain_event, (Ticket.Reopened, Ticket.Closed)):
            return [RowChange(ticket_id, None)]
        return []


def _enter(ticket_id: str, status: str, event: Any) -> list[RowChange]:
    # Delete, then insert: the row starts over whatever stretch came before.
    row = {"status": status, "since": timestamp(event.timestamp), "reminded": 0}
    return [RowChange(ticket_id, None), RowChange(ticket_id, row, insert=True)]
