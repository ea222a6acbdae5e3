"""The ticket list: every ticket, any status, newest first, searchable by requester,
external reference, status and subject text.

The projection turns each ticket event into row changes; a TicketListView (implemented
in infrastructure) applies a batch of changes and its tracking position in one transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from domain.erasure import CustomerErasure
from domain.personal import ERASED
from domain.ticket import Ticket
from projections.base import RowProjection, RowView
from projections.timestamps import timestamp

# What a list query may filter on; the HTTP layer turns requester_email into customer_id.
FILTERS = ("customer_id", "external_ref", "status", "q")


class RowChange(NamedTuple):  # a tuple: a rebuild makes one or two per event
    """One change to a ticket's row; ``only_if_status`` restricts an update to a row
    still in that status."""

    ticket_id: str
    fields: dict[str, Any] | None  # None deletes the row
    insert: bool = False
    only_if_status: str | None = None


class SearchChange(NamedTuple):
    """A ticket's entry in the full-text index (issue 23): its subject and description
    in its language, or, with ``text`` None, its removal (an erasure: the subject's
    substring index then holds the scrubbed subject, as the row does)."""

    ticket_id: str
    position: int  # the opening event's: the entry's key in SQLite's index
    language: str | None
    text: str | None
    subject_folded: str | None = None  # for the subject's substring index (SQLite)


@dataclass(frozen=True)
class TicketListQuery:
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 50
    after: tuple | None = None  # (created_at, number) of the last item of the previous page


@dataclass(frozen=True)
class TicketListPage:
    items: list[dict[str, Any]]
    last_key: tuple | None  # None when there is no next page


class TicketListView(RowView[RowChange]):
    """Rows of the ticket list, written together with the position they reflect."""

    @abstractmethod
    def page(self, query: TicketListQuery) -> TicketListPage:
        """Tickets matching every filter, newest first."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row, in id order (to compare a live view with a rebuild)."""


class TicketListProjection(RowProjection[RowChange]):
    name = "ticket_list"

    def handles(self, event_class: type) -> bool:
        return event_class in CHANGES or issubclass(event_class, Ticket.Event)

    def changes(self, domain_event: Any, position: int) -> list[RowChange]:
        # A plain lookup by class, as the queue's (see projections.queue).
        handler = CHANGES.get(type(domain_event))
        if handler is not None:
            return handler(domain_event, position)
        if isinstance(domain_event, Ticket.Event):
            # Ticket events the list shows nothing of (tags, escalations) still make
            # the ticket's latest activity newer.
            return [_touch(domain_event)]
        return []


def _opened(e: Ticket.Opened, position: int) -> list[RowChange]:
    created_at = timestamp(e.timestamp)
    row = {
        "number": position,
        "subject": e.subject.text,
        "subject_folded": fold(e.subject.text),
        "status": "new",
        "priority": e.priority,
        "channel": e.channel,
        "language": e.language,
        "category": e.category,
        "assignee": None,
        "external_ref": e.external_ref,
        "customer_id": str(e.customer_id),
        "created_at": created_at,
        "updated_at": created_at,
        "resolved_at": None,
        "closed_at": None,
    }
    indexed = SearchChange(
        str(e.originator_id), position, e.language, f"{e.subject.text}\n{e.description.text}",
        row["subject_folded"],
    )  # fmt: skip
    return [RowChange(str(e.originator_id), row, insert=True), indexed]


def _message_added(e: Ticket.MessageAdded, position: int) -> list[RowChange]:
    if e.author_type == "agent":
        return [_touch(e), _leave_new(e)]
    return [_touch(e)]


def _assigned(e: Ticket.Assigned, position: int) -> list[RowChange]:
    return [_touch(e, assignee=e.agent_id), _leave_new(e)]


def _unassigned(e: Ticket.Unassigned, position: int) -> list[RowChange]:
    return [_touch(e, assignee=None)]


def _status_changed(e: Ticket.StatusChanged, position: int) -> list[RowChange]:
    return [_touch(e, status=e.status)]


def _priority_changed(e: Ticket.PriorityChanged, position: int) -> list[RowChange]:
    return [_touch(e, priority=e.priority)]


def _category_changed(e: Ticket.CategoryChanged, position: int) -> list[RowChange]:
    return [_touch(e, category=e.category)]


def _language_changed(e: Ticket.LanguageChanged, position: int) -> list[RowChange]:
    return [_touch(e, language=e.language)]


def _resolved(e: Ticket.Resolved, position: int) -> list[RowChange]:
    return [_touch(e, status="resolved", resolved_at=timestamp(e.timestamp))]


def _reopened(e: Ticket.Reopened, position: int) -> list[RowChange]:
    return [_touch(e, status="open", resolved_at=None)]


def _closed(e: Ticket.Closed, position: int) -> list[RowChange]:
    return [_touch(e, status="closed", closed_at=timestamp(e.timestamp))]


def _customer_erased(e: CustomerErasure.Erased, position: int) -> list[RowChange]:
    # Rebuilt after the erasure, the opening event already decodes as "[erased]".
    # The search index holds the subject's and description's words: they go with it.
    scrubbed = {"subject": ERASED, "subject_folded": fold(ERASED)}
    changes: list[Any] = []
    for ticket_id in e.ticket_ids:
        forgotten = SearchChange(str(ticket_id), 0, None, None, scrubbed["subject_folded"])
        changes += [RowChange(str(ticket_id), scrubbed), forgotten]
    return changes


CHANGES: dict[type, Callable[[Any, int], list[Any]]] = {
    CustomerErasure.Erased: _customer_erased,
    Ticket.Opened: _opened,
    Ticket.MessageAdded: _message_added,
    Ticket.Assigned: _assigned,
    Ticket.Unassigned: _unassigned,
    Ticket.StatusChanged: _status_changed,
    Ticket.PriorityChanged: _priority_changed,
    Ticket.CategoryChanged: _category_changed,
    Ticket.LanguageChanged: _language_changed,
    Ticket.Resolved: _resolved,
    Ticket.Reopened: _reopened,
    Ticket.Closed: _closed,
}


def _touch(e: Any, **fields: Any) -> RowChange:
    return RowChange(str(e.originator_id), {**fields, "updated_at": timestamp(e.timestamp)})


def _leave_new(e: Any) -> RowChange:
    # Mirrors the Ticket rule: the first agent action moves a new ticket to open.
    return RowChange(str(e.originator_id), {"status": "open"}, only_if_status="new")


def fold(text: str) -> str:
    """Text as subject search compares it: Unicode case-folded here, not in SQL,
    because SQLite's LOWER and LIKE fold ASCII letters only (É would not match é)."""
    return text.casefold()
