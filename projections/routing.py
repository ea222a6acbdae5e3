"""What the router needs to know: every agent (skills, languages, capacity, availability,
when they last got a ticket) and every active ticket (language, category, priority,
who has it). An agent's load is the number of active tickets assigned to them.

The projection turns events into row changes; a RoutingView (implemented in
infrastructure) applies a batch of them with its tracking position in one transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from domain.agent import Agent
from domain.routing import AgentState, WaitingTicket
from domain.ticket import Ticket
from projections.base import RowProjection, RowView
from projections.queue import PRIORITY_RANK, primary_language

AGENTS = "agents"
TICKETS = "tickets"


class RoutingChange(NamedTuple):
    """One change to a row of ``table`` (agents or tickets): ``fields`` None deletes it."""

    table: str
    key: str
    fields: dict[str, Any] | None
    insert: bool = False


class RoutingView(RowView[RoutingChange]):
    @abstractmethod
    def agents(self) -> list[AgentState]:
        """Every agent, with their current load."""

    @abstractmethod
    def waiting(self, languages: Sequence[str] | None) -> list[WaitingTicket]:
        """Unassigned active tickets, most urgent first (priority, then oldest), limited
        to those in the given primary languages or without one (None: all of them)."""

    @abstractmethod
    def held_by(self, agent_id: str) -> list[str]:
        """The ids of the active tickets assigned to the agent, oldest first."""

    @abstractmethod
    def directory(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Agents as the API lists them (with load), filtered by availability, language,
        skill or active."""

    @abstractmethod
    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of both tables, in key order (to compare live and rebuilt views)."""


class RoutingProjection(RowProjection[RoutingChange]):
    name = "routing"

    def handles(self, event_class: type) -> bool:
        return event_class in CHANGES

    def changes(self, domain_event: Any, position: int) -> list[RoutingChange]:
        handler = CHANGES.get(type(domain_event))
        return handler(domain_event, position) if handler else []


def _agent(e: Any, fields: dict[str, Any], insert: bool = False) -> list[RoutingChange]:
    return [RoutingChange(AGENTS, str(e.originator_id), fields, insert)]


def _ticket(e: Any, fields: dict[str, Any] | None, insert: bool = False) -> list[RoutingChange]:
    return [RoutingChange(TICKETS, str(e.originator_id), fields, insert)]


def _registered(e: Agent.Registered, position: int) -> list[RoutingChange]:
    row = {
        "name": e.name,
        "email": e.email.strip().lower(),
        "languages": list(dict.fromkeys(e.languages)),
        "skills": list(dict.fromkeys(e.skills)),
        "generalist": e.generalist,
        "capacity": e.capacity,
        "availability": "offline",
        "active": True,
        "last_assigned": 0,
        "registered_at": position,
    }
    return _agent(e, row, insert=True)


def _opened(e: Ticket.Opened, position: int) -> list[RoutingChange]:
    row = {
        "number": position,
        "language": e.language,
        "language_primary": primary_language(e.language),
        "category": e.category,
        "priority_rank": PRIORITY_RANK[e.priority],
        "assignee": None,
        "active": True,
    }
    return _ticket(e, row, insert=True)


def _assigned(e: Ticket.Assigned, position: int) -> list[RoutingChange]:
    return [
        *_ticket(e, {"assignee": e.agent_id}),
        # Agent ids from before agents existed match no row; the update is then a no-op.
        RoutingChange(AGENTS, e.agent_id, {"last_assigned": position}),
    ]


def _language_changed(e: Ticket.LanguageChanged, position: int) -> list[RoutingChange]:
    return _ticket(e, {"language": e.language, "language_primary": primary_language(e.language)})


CHANGES: dict[type, Callable[[Any, int], list[RoutingChange]]] = {
    Agent.Registered: _registered,
    Agent.AvailabilityChanged: lambda e, p: _agent(e, {"availability": e.availability}),
    Agent.LanguagesChanged: lambda e, p: _agent(e, {"languages": list(e.languages)}),
    Agent.SkillsChanged: lambda e, p: _agent(
        e, {"skills": list(e.skills), "generalist": e.generalist}
    ),
    Agent.CapacityChanged: lambda e, p: _agent(e, {"capacity": e.capacity}),
    Agent.Deactivated: lambda e, p: _agent(e, {"active": False, "availability": "offline"}),
    Agent.Reactivated: lambda e, p: _agent(e, {"active": True}),
    Ticket.Opened: _opened,
    Ticket.Assigned: _assigned,
    Ticket.Unassigned: lambda e, p: _ticket(e, {"assignee": None}),
    Ticket.LanguageChanged: _language_changed,
    Ticket.CategoryChanged: lambda e, p: _ticket(e, {"category": e.category}),
    Ticket.PriorityChanged: lambda e, p: _ticket(e, {"priority_rank": PRIORITY_RANK[e.priority]}),
    Ticket.Resolved: lambda e, p: _ticket(e, {"active": False}),
    Ticket.Reopened: lambda e, p: _ticket(e, {"active": True}),
    # Closed is terminal: the ticket will never count again.
    Ticket.Closed: lambda e, p: _ticket(e, None),
}
