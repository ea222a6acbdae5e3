"""The agent queue: which active tickets wait for whom, most urgent first.

The projection turns each ticket event into row changes; a QueueView (implemented in
infrastructure) applies a batch of changes and its tracking position in one transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from domain.erasure import CustomerErasure
from domain.personal import ERASED
from domain.sla.timers import TIMER_EVENTS
from domain.ticket import Ticket
from domain.ticket_vocabulary import ACTIVE_STATUSES, PRIORITIES
from projections.base import RowProjection, RowView
from projections.timestamps import timestamp

ACTIVE = ("new", *ACTIVE_STATUSES)
PRIORITY_RANK = {p: rank for rank, p in enumerate(reversed(PRIORITIES))}  # urgent=0
# Tickets without a running SLA timer sort after every real due time (a far-future epoch).
NO_DUE = 1e15
FILTERS = ("assignee", "unassigned", "language", "channel", "priority", "category", "status", "tag")


class Change(NamedTuple):  # a tuple: a rebuild makes one or two per event
    """One change to the queue's rows. ``fields`` is None to delete the row;
    ``only_if_status`` restricts an update to rows still in that status."""

    ticket_id: str
    fields: dict[str, Any] | None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    insert: bool = False
    only_if_status: str | None = None


@dataclass(frozen=True)
class QueueQuery:
    filters: dict[str, Any] = field(default_factory=dict)
    limit: int = 50
    after: tuple | None = None  # the sort key of the last item of the previous page


@dataclass(frozen=True)
class QueuePage:
    items: list[dict[str, Any]]
    last_key: tuple | None  # None when there is no next page


class QueueView(RowView[Change]):
    """Rows of the queue, written together with the position they reflect."""

    @abstractmethod
    def page(self, query: QueueQuery) -> QueuePage:
        """Active tickets matching the filters, in queue order."""

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """Every row, in id order (to compare a live view with a rebuild)."""


class QueueProjection(RowProjection[Change]):
    name = "queue"

    def handles(self, event_class: type) -> bool:
        return event_class in CHANGES

    def changes(self, domain_event: Any, position: int) -> list[Change]:
        """The event's row changes; events the queue does not show (escalations...) make none."""
        # A plain lookup by class: singledispatch costs microseconds a call, which a
        # rebuild pays for every event in the log.
        handler = CHANGES.get(type(domain_event))
        return handler(domain_event, position) if handler else []


def _opened(e: Ticket.Opened, position: int) -> list[Change]:
    row = {
        "number": position,
        "subject": e.subject.text,
        "status": "new",
        "priority": e.priority,
        "priority_rank": PRIORITY_RANK[e.priority],
        "channel": e.channel,
        "language": e.language,
        "language_primary": primary_language(e.language),
        "category": e.category,
        "assignee": None,
        "requester_name": e.requester["name"].text,
        "created_at": timestamp(e.timestamp),
        "last_customer_message_at": None,
    }
    return [Change(str(e.originator_id), row, add_tags=tuple(e.tags), insert=True)]


def _message_added(e: Ticket.MessageAdded, position: int) -> list[Change]:
    tid = str(e.originator_id)
    if e.author_type == "agent":
        return [_leave_new(tid)]
    if e.visibility == "public":
        return [Change(tid, {"last_customer_message_at": timestamp(e.timestamp)})]
    return []


def _assigned(e: Ticket.Assigned, position: int) -> list[Change]:
    tid = str(e.originator_id)
    return [Change(tid, {"assignee": e.agent_id}), _leave_new(tid)]


def _unassigned(e: Ticket.Unassigned, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {"assignee": None})]


def _status_changed(e: Ticket.StatusChanged, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {"status": e.status})]


def _priority_changed(e: Ticket.PriorityChanged, position: int) -> list[Change]:
    fields = {"priority": e.priority, "priority_rank": PRIORITY_RANK[e.priority]}
    return [Change(str(e.originator_id), fields)]


def _category_changed(e: Ticket.CategoryChanged, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {"category": e.category})]


def _language_changed(e: Ticket.LanguageChanged, position: int) -> list[Change]:
    fields = {"language": e.language, "language_primary": primary_language(e.language)}
    return [Change(str(e.originator_id), fields)]


def _tags_changed(e: Ticket.TagsChanged, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {}, add_tags=tuple(e.added), remove_tags=tuple(e.removed))]


def _resolved(e: Ticket.Resolved, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {"status": "resolved"})]


def _reopened(e: Ticket.Reopened, position: int) -> list[Change]:
    return [Change(str(e.originator_id), {"status": "open"})]


def _closed(e: Ticket.Closed, position: int) -> list[Change]:
    # Closed is terminal: the row will never be shown again.
    return [Change(str(e.originator_id), None)]


def _sla_changed(e: Any, position: int) -> list[Change]:
    # Every timer event carries the ticket's SLA summary: what the queue orders by.
    due, breached = e.summary["due_at"], e.summary["breached"]
    fields = {
        "sla_due_at": timestamp(due) if due is not None else None,
        "due_epoch": due.timestamp() if due is not None else NO_DUE,
        "sla_breached": breached,
        "breach_rank": 0 if breached else 1,
    }
    return [Change(e.timer["ticket_id"], fields)]


# Every column holding a copy of the customer's personal data: the erasure blanks them
# all, as a rebuild (whose opening events then decode as "[erased]") would show them.
PERSONAL_COLUMNS = ("subject", "requester_name")


def _customer_erased(e: CustomerErasure.Erased, position: int) -> list[Change]:
    scrubbed = dict.fromkeys(PERSONAL_COLUMNS, ERASED)
    return [Change(str(ticket_id), scrubbed) for ticket_id in e.ticket_ids]


CHANGES: dict[type, Callable[[Any, int], list[Change]]] = {
    CustomerErasure.Erased: _customer_erased,
    Ticket.Opened: _opened,
    Ticket.MessageAdded: _message_added,
    Ticket.Assigned: _assigned,
    Ticket.Unassigned: _unassigned,
    Ticket.StatusChanged: _status_changed,
    Ticket.PriorityChanged: _priority_changed,
    Ticket.CategoryChanged: _category_changed,
    Ticket.LanguageChanged: _language_changed,
    Ticket.TagsChanged: _tags_changed,
    Ticket.Resolved: _resolved,
    Ticket.Reopened: _reopened,
    Ticket.Closed: _closed,
    **dict.fromkeys(TIMER_EVENTS, _sla_changed),
}


def _leave_new(ticket_id: str) -> Change:
    # Mirrors the Ticket rule: the first agent action moves a new ticket to open.
    return Change(ticket_id, {"status": "open"}, only_if_status="new")


def primary_language(tag: str | None) -> str | None:
    """The primary subtag, lower-cased: an agent speaking pt serves pt-BR."""
    return tag.split("-", 1)[0].lower() if tag else None
