"""What the ticket application's helper services and HTTP resources need of it, each as
narrow as its use.

The services (agents, customers, SLA, surveys, intake, follow-up, router) are handed the
``TicketApplication`` they serve, which imports them: naming it in their signatures would
be an import loop, and ``Any`` says nothing. The HTTP resources are handed it under the
role they use (reading tickets, waiting for the log's head...), not as the whole
application. These Protocols say what each one calls; ``TicketApplication`` satisfies
them all (tests/integration/test_ports.py checks that it has every member each names),
and a test can hand a service or a resource a small fake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.persistence import Recording

from application.assumed_reads import AssumedReads
from application.idempotency import IdempotencyStore
from domain.customer import Contact, CustomerIdentity
from domain.ticket import Ticket

if TYPE_CHECKING:  # the application module imports the services that import this one
    from application.tickets import CommandResult


@runtime_checkable
class Positions(Protocol):
    def position_of(self, originator_id: UUID, version: int) -> int: ...


@runtime_checkable
class LoadsAggregates(Protocol):
    """Load any aggregate, at any version (eventsourcing's Application)."""

    @property
    def repository(self) -> Repository[UUID]: ...


@runtime_checkable
class SavesAggregates(LoadsAggregates, Protocol):
    """Also saves their new events."""

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording]: ...

    @property
    def small_aggregates(self) -> Repository[UUID]:
        """Where the aggregates that are never snapshotted and hold no personal data
        (identity claims, SLA timers, policies, calendars, thread keys) are read
        (TicketApplication.small_aggregates)."""
        ...

    @property
    def assumed_reads(self) -> AssumedReads:
        """small_aggregates' cached ones, to read only; inside a command's scope maybe
        without asking the database, for its write to check (application/assumed_reads.py)."""
        ...


@runtime_checkable
class KeepsAnswers(Protocol):
    """The store of idempotent commands' answers, and where each answer's event sits in
    the log (its global position)."""

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def recorder(self) -> Positions: ...


@runtime_checkable
class AnswersOnce(SavesAggregates, KeepsAnswers, Protocol):
    """Also completes idempotent commands, answering with the position they wrote at."""


@runtime_checkable
class AnswersRetries(KeepsAnswers, Protocol):
    """What ``@idempotent`` needs (interface/http/idempotency.py) to answer a retry as the
    first request was answered: the stored answer, its event's position, and the ticket
    at the version that answer named."""

    def ticket_result(self, ticket_id: UUID, version: int | None = None) -> CommandResult: ...


@runtime_checkable
class NamesCustomers(SavesAggregates, Protocol):
    """Also derives this deployment's customer ids (a keyed namespace)."""

    @property
    def customer_namespace(self) -> UUID: ...


@runtime_checkable
class ChangesTickets(Protocol):
    """Applies a command to a ticket, re-reading it when another writer got there first."""

    def change(
        self, ticket_id: UUID, command: Callable[[Ticket], Any], **terms: Any
    ) -> CommandResult: ...


@runtime_checkable
class RoutesTickets(Protocol):
    def route(self, ticket_id: UUID, agent_id: str, reason: dict[str, Any]) -> bool: ...


@runtime_checkable
class FollowsTickets(Protocol):
    """What saves a ticket's command alongside: its SLA timers, its surveys."""

    def follow(self, ticket: Ticket, *args: Any) -> Any: ...


@runtime_checkable
class ResolvesCustomers(Protocol):
    def resolve(self, contact: Contact) -> tuple[UUID, list[CustomerIdentity]]: ...


@runtime_checkable
class HostsAgents(AnswersOnce, Protocol):
    """The agent directory's host: deactivating an agent hands their tickets back in the
    same write as the agent's event, with what that does to SLA timers and surveys."""

    def get_ticket(self, ticket_id: UUID, version: int | None = None) -> Ticket: ...

    @property
    def sla(self) -> FollowsTickets: ...

    @property
    def surveys(self) -> FollowsTickets: ...


@runtime_checkable
class HostsIntake(ChangesTickets, NamesCustomers, Protocol):
    """Intake opens tickets, appends to them, and finds them by reference or number."""

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def customers(self) -> ResolvesCustomers: ...

    def open_ticket(self, **fields: Any) -> CommandResult: ...

    def get_ticket(self, ticket_id: UUID, version: int | None = None) -> Ticket: ...

    def ticket_by_number(self, number: int) -> UUID | None: ...

    def ticket_result(self, ticket_id: UUID, version: int | None = None) -> CommandResult: ...


@runtime_checkable
class ReadsEvents(Protocol):
    def get(self, originator_id: UUID, **bounds: Any) -> Sequence[Any]: ...


@runtime_checkable
class KeepsSlaClock(Protocol):
    """The SLA engine's reads and its recording of due thresholds (SlaTimekeeper)."""

    def policies(self) -> Any: ...

    def calendar(self, name: str) -> Any: ...

    def find_calendar(self, name: str) -> Any: ...

    def record_due(
        self, ticket_id: UUID, due: list[tuple[str, int, str]], now: Any
    ) -> tuple[list[Any], dict[str, Any] | None]: ...


@runtime_checkable
class SweepsSla(ChangesTickets, Protocol):
    """The SLA sweep records due thresholds and acts on breaches (escalation)."""

    @property
    def sla(self) -> KeepsSlaClock: ...


@runtime_checkable
class ConfiguresSla(SavesAggregates, Protocol):
    """Calendar and policy commands: saved after reading what is there and its history."""

    @property
    def events(self) -> ReadsEvents: ...

    @property
    def sla(self) -> KeepsSlaClock: ...


# What the HTTP resources read of the ticket application.


@runtime_checkable
class LogHead(Protocol):
    """The log's newest position, and the name views record their progress under: what
    a read-your-writes wait compares a view with (interface/http/consistency.py)."""

    @property
    def name(self) -> str: ...

    def head_position(self) -> int: ...


@runtime_checkable
class FeedsEvents(Protocol):
    """The global event feed: every event after a position, and the newest position."""

    def events_after(self, after: int, limit: int) -> Sequence[Any]: ...

    def head_position(self) -> int: ...


@runtime_checkable
class OpensTickets(Protocol):
    def open_ticket(self, **fields: Any) -> CommandResult: ...


@runtime_checkable
class ReadsTickets(Protocol):
    """A ticket from its events (now or at a version), and its human number."""

    def get_ticket(self, ticket_id: UUID, version: int | None = None) -> Ticket: ...

    def ticket_result(self, ticket_id: UUID, version: int | None = None) -> CommandResult: ...

    def ticket_by_number(self, number: int) -> UUID | None: ...

    def number_of(self, ticket_id: UUID) -> int: ...
