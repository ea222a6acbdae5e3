"""The ticket application: thin commands (fetch, call the aggregate, save) and queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    Transcoding,
)
from eventsourcing.utils import Environment

from application.agents import AgentDirectory
from application.assumed_reads import AssumedReads, StaleRead
from application.customers import CustomerDirectory
from application.errors import (
    AgentUnavailable,
    CompanionTaken,
    ConcurrentWriteConflict,
    DuplicateExternalRef,
    StaleVersion,
    TicketNotFound,
)
from application.event_collection import collect
from application.idempotency import IdempotencyClaim, IdempotencyOutcome, IdempotencyStore
from application.language import LanguagePolicy
from application.retries import Save, save_with_retries
from application.sla import SlaTimekeeper
from application.surveys import SurveyDesk
from application.ticket_loads import OneReadRepository
from application.transcodings import ActorAsDict
from domain.actor import ROUTER, SYSTEM, Actor
from domain.customer import Contact
from domain.personal import Personal
from domain.ticket import Ticket, aggregate_type_name, event_type_name, owned_attachments
from domain.ticket_refs import ticket_id_for_external_ref

# Aggregates saved with a ticket's events (thread keys...), made once the ticket exists.
Companions = Callable[[Ticket], Sequence[Any]]

# Writers that lose an optimistic-concurrency race re-read and re-apply their command
# this many times before giving up with a 409, backing off a little (with jitter, so
# racing writers spread out) between attempts.
CONFLICT_RETRIES = 10
CONFLICT_BACKOFF_SECONDS = 0.005
# Small aggregates (TicketApplication.small_aggregates) a process keeps: the policies
# and calendars always, and the claims and timers of recent customers and tickets, a
# few kilobytes each.
SMALL_AGGREGATES_CACHED = 5000
# Tickets a process keeps (TicketApplication.recent_tickets): the ones its commands and
# repeated reads touched last; few, since a ticket holds all its messages.
TICKETS_CACHED = 500
# Tickets with more messages than this are not kept for commands, which load them from
# their newest snapshot instead: a message is about 2 KB in memory, so this bounds what
# commands keep to about 100 MB per process, however long some tickets grow.
KEPT_MESSAGES_MAX = 100

# What an event's data never shows (the feed, histories): the library's own members, the
# actor (shown beside the data) and credentials' material.
EVENT_BOOKKEEPING = (
    "originator_id",
    "originator_version",
    "timestamp",
    "actor",
    "originator_topic",
    # An API token's keyed secret hash and its seal (domain/api_token.py): keyed, so
    # useless without the deployment's key, but no reader of the feed or a history needs
    # them, and a credential's material is shown to nobody.
    "secret_hash",
    "seal",
    # A survey link's hash: the link is the customer's credential to rate (domain/survey.py).
    "token_hash",
    # A webhook subscription's signing secret, sealed (domain/webhook.py).
    "sealed_secret",
)


@dataclass(frozen=True)
class CommandResult:
    """A ticket after a command, with its human number and the global position
    of the last event written for it (the read-your-writes token)."""

    ticket: Ticket
    number: int
    position: int


@dataclass(frozen=True)
class RecordedEvent:
    """One event as auditors and downstream systems see it."""

    ticket_id: UUID | None  # None for events of calendars and policies
    version: int
    type: str
    occurred_at: datetime
    actor: Actor
    data: dict[str, Any]
    position: int | None = None
    aggregate_type: str = "ticket"
    aggregate_id: UUID | None = None
    # The version of the event type's shape (the class's ``class_version``): a change to
    # the shape adds an upcaster, so stored events of older versions read as this one.
    schema_version: int = 1


class TicketApplication(Application[UUID]):
    """Commands and queries on tickets; every change is saved as events."""

    name = "Atende"
    # As-of reads replay at most this many events on top of the nearest snapshot, so a
    # ticket with thousands of events is rebuilt in milliseconds at any version.
    snapshotting_intervals = {Ticket: 100}
    # Given by attach().
    sla: SlaTimekeeper
    agents: AgentDirectory
    customers: CustomerDirectory
    surveys: SurveyDesk
    language: LanguagePolicy

    def __init__(
        self,
        factory: InfrastructureFactory,
        personal_transcodings: list[Transcoding],
        idempotency: IdempotencyStore,
        customer_namespace: UUID,
    ):
        # Built by the wiring point, which shares the factory's datastore with the
        # stores that live beside the events (keys, idempotency, tokens).
        self._factory = factory
        self._personal_transcodings = personal_transcodings
        self.idempotency = idempotency
        self.customer_namespace = customer_namespace
        super().__init__(factory.env)

    def attach(
        self,
        *,
        sla: SlaTimekeeper,
        agents: AgentDirectory,
        customers: CustomerDirectory,
        surveys: SurveyDesk,
        language: LanguagePolicy,
    ) -> None:
        """Hand the application the services it delegates to. Each is built around the
        application it serves, so the wiring point builds the application, then them,
        then attaches them here; the application builds none of its collaborators."""
        self.sla = sla
        self.agents = agents
        self.customers = customers
        self.surveys = surveys
        self.language = language

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's ``Application.save`` (eventsourcing 9.5), its events collected
        without a protocol check per aggregate (application/event_collection.py)."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        collect(processing_event, objs, kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def _record(self, processing_event: Any) -> Any:
        # The recorder indexes every event by its timestamp (as-of) in the events'
        # transaction; the domain events carry it, the stored ones only inside their state.
        processing_event.saved_kwargs["occurred_at"] = [
            e.timestamp for e in processing_event.events
        ]
        # What the command read from the cache without asking, for the write to check
        # (application/assumed_reads.py).
        assumed = self.assumed_reads.taken()
        if assumed:
            processing_event.saved_kwargs["assumed"] = assumed
        recordings = super()._record(processing_event)
        self.assumed_reads.written(e.originator_id for e in processing_event.events)
        return recordings

    @cached_property
    def small_aggregates(self) -> Repository[UUID]:
        """The repository for aggregates never snapshotted (only tickets are) that hold
        no personal data: identity claims (kind and owner only), SLA timers, policies,
        calendars and thread keys. Reading one asks no snapshot table, and each process
        keeps the newest it read (an LRU cache, the library's) and fast-forwards it: a
        read of one that did not change is one query for its events after the cached
        version, which finds none, and nothing to decode. So configuration is decoded
        once per version per process, as issue 19 asks, and a change made by any
        process is seen by the next read. Tickets stay out: they have their own
        (recent_tickets)."""
        return Repository(self.events, cache_maxsize=SMALL_AGGREGATES_CACHED, fastforward=True)

    @cached_property
    def assumed_reads(self) -> AssumedReads:
        """small_aggregates' cached ones, read by a new ticket without asking whether
        they changed; its write checks (application/assumed_reads.py), where the
        recorder can."""
        return AssumedReads(
            self.small_aggregates, enabled=getattr(self.recorder, "verifies_reads", False)
        )

    @cached_property
    def recent_tickets(self) -> Repository[UUID]:
        """The tickets this process read or changed last (TICKETS_CACHED of them, an LRU
        cache, the library's), fast-forwarded on each read like small_aggregates': for
        commands, which each get a copy brought up to the events written since
        (_ticket_to_change, application/ticket_loads.py), and for a reader of the same
        tickets again and again, the email dispatcher (read_ticket), which gets the kept
        one itself, to read and never to change.
        A cached ticket keeps no customer's text in the clear: personal values load
        sealed (infrastructure.crypto's SealedPersonal), are deciphered each time they
        are read, and read "[erased]" once an erasure destroyed the key."""
        return OneReadRepository(self.events, snapshot_store=self.snapshots,
                                 cache_maxsize=TICKETS_CACHED, fastforward=True,
                                 deepcopy_from_cache=False, keeps=_kept_for_commands)  # fmt: skip

    def construct_repository(self) -> Repository[UUID]:
        """Where tickets are read as they are now or were at a version (answers,
        histories, as-of): uncached, each in one read of its newest snapshot and the
        events after it (application/ticket_loads.py). Commands load through
        recent_tickets instead."""
        return OneReadRepository(self.events, snapshot_store=self.snapshots)

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        return self._factory

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        for transcoding in self._personal_transcodings:
            transcoder.register(transcoding)

    # Commands

    def open_ticket(
        self,
        *,
        subject: str,
        description: str,
        contact: Contact,
        channel: str,
        actor: Actor,
        language: str | None = None,
        priority: str = "normal",
        category: str | None = None,
        tags: list[str] | None = None,
        external_ref: str | None = None,
        idempotency: IdempotencyClaim | None = None,
        attachments: list[dict[str, Any]] | None = None,
        follow_up_of: UUID | None = None,
        external_message_id: str | None = None,
        companions: Companions | None = None,
        kb_suggestion_id: UUID | None = None,
    ) -> CommandResult:
        asking = False
        for _ in range(CONFLICT_RETRIES):
            # The claims and SLA policies it reads may come from the cache unasked; the
            # write checks them, and a stale one makes this attempt run again on fresh
            # reads (application/assumed_reads.py).
            try:
                with self.assumed_reads.scope(asking=asking):
                    owner, claims = self.customers.resolve(contact)
                    decision = self.language.decide(language, f"{subject}\n{description}", owner)
                    ticket = Ticket(
                        subject=Personal(owner, subject),
                        description=Personal(owner, description),
                        requester=contact.as_personal(owner),
                        customer_id=owner,
                        channel=channel,
                        language=decision.language,
                        priority=priority,
                        category=category,
                        tags=list(dict.fromkeys(tags or [])),
                        external_ref=external_ref,
                        actor=actor,
                        language_source=None if language else decision.as_event_data(),
                        follow_up_of=follow_up_of,
                        attachments=owned_attachments(owner, attachments),
                        external_message_id=external_message_id,
                        kb_suggestion_id=kb_suggestion_id,
                    )
                    outcome = _outcome(idempotency, 201, ticket)
                    others = [*claims, *(companions(ticket) if companions else [])]
                    recordings = self.save_ticket(ticket, actor, outcome, *others)
            except StaleRead:
                asking = True
                continue
            except IntegrityError:
                if external_ref is not None and self.exists(ticket.id):
                    raise DuplicateExternalRef(
                        external_ref, ticket_id_for_external_ref(external_ref)
                    ) from None
                if not claims:
                    raise
                continue  # a concurrent first contact claimed an identity: resolve again
            position = recordings[-1].notification.id
            return CommandResult(ticket, number=self.number_of(ticket.id), position=position)
        raise ConcurrentWriteConflict("the requester's identities kept changing; try again")

    def assign(
        self,
        ticket_id: UUID,
        agent_id: UUID,
        *,
        force: bool,
        actor: Actor,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> CommandResult:
        """A person's assignment: the agent must exist (404), and be online and active
        unless the caller forces it (409). Capacity is the router's rule, not a person's.
        Assigning the agent the ticket already has changes nothing and is never refused,
        whatever their availability now."""
        agent = self.agents.get(agent_id)

        def assign(ticket: Ticket) -> None:
            if ticket.assignee != str(agent.id) and not force:
                if not agent.active:
                    raise AgentUnavailable(agent.id, "deactivated")
                if agent.availability == "offline":
                    raise AgentUnavailable(agent.id, "offline")
            ticket.assign(str(agent.id), actor)  # a no-op for the agent it already has

        return self.change(
            ticket_id, assign, expected_version=expected_version, idempotency=idempotency
        )

    def route(self, ticket_id: UUID, agent_id: str, reason: dict[str, Any]) -> bool:
        """The router's assignment; False when the ticket no longer waits for one."""
        routed: list[bool] = []

        def route_to(ticket: Ticket) -> None:
            routed.append(ticket.route_to(agent_id, reason, ROUTER))

        self.change(ticket_id, route_to)
        return routed[-1]

    def change(
        self,
        ticket_id: UUID,
        command: Callable[[Ticket], None],
        *,
        expected_version: int | None = None,
        idempotency: IdempotencyClaim | None = None,
        companions: Companions | None = None,
        loaded: Ticket | None = None,
    ) -> CommandResult:
        """Apply ``command`` to the ticket and save what it recorded.

        A concurrent writer makes the save conflict; without an expected version the
        command is simply re-applied to the fresh ticket, with one it is stale. The
        expected version is the ETag's: changes the system made meanwhile do not count.
        ``loaded``: the ticket as the caller has just read it, for the first attempt (a
        read saved: a conflict with a later write retries on a fresh one all the same).
        """
        first = [loaded] if loaded is not None and loaded.id == ticket_id else []
        starting: list[UUID] = []  # companions the last attempt's write was to start

        def attempt() -> CommandResult | Save[CommandResult]:
            ticket = first.pop() if first else self._ticket_to_change(ticket_id)
            if expected_version is not None and ticket.etag_version != expected_version:
                raise StaleVersion(expected_version, ticket.etag_version)
            command(ticket)
            outcome = _outcome(idempotency, 200, ticket)
            if not ticket.pending_events:
                if outcome is not None:
                    self.idempotency.complete(outcome)
                return self._result(ticket)
            others = companions(ticket) if companions else []
            starting[:] = [other.id for other in others if _starts(other)]

            def write() -> CommandResult:
                recordings = self.save_ticket(
                    ticket, ticket.pending_events[-1].actor, outcome, *others
                )
                position = recordings[-1].notification.id
                return CommandResult(ticket, number=self.number_of(ticket_id), position=position)

            return Save(write)

        def still_expected() -> None:
            self._refuse_taken(starting)
            if expected_version is None:
                return  # nothing to be stale against: apply the command again
            current = self.get_ticket(ticket_id).etag_version
            if current != expected_version:
                raise StaleVersion(expected_version, current) from None

        with self._answering_ahead():
            return save_with_retries(
                attempt,
                what=f"ticket {ticket_id}",
                retries=CONFLICT_RETRIES,
                backoff_seconds=CONFLICT_BACKOFF_SECONDS,
                on_conflict=still_expected,
            )

    def _refuse_taken(self, starting: Sequence[UUID]) -> None:
        """After a lost race: a companion the write was to start that exists now was not
        a race on the ticket but the same contact stored before (its thread key). Applying
        the command again would collide again, up to CONFLICT_RETRIES times; so it is
        refused at once, and its caller reads what is stored (application/intake.py:
        a reply is then not read for first, issue 19)."""
        for aggregate_id in starting:
            if self.exists(aggregate_id):
                raise CompanionTaken(aggregate_id)

    def _ticket_to_change(self, ticket_id: UUID) -> Ticket:
        """The ticket as it is now, read with its SLA timers' new events, which the
        command's save then takes without asking again: a copy of the one this process
        keeps (recent_tickets), brought up to the events written since
        (application/ticket_loads.py)."""
        ahead = self.sla.read_ahead(ticket_id)
        loads: OneReadRepository = self.recent_tickets  # type: ignore[assignment]
        return _ticket_loaded(lambda: loads.get_to_change(ticket_id, ahead, replay), ticket_id)

    def _answering_ahead(self) -> AbstractContextManager[None]:
        """The scope in which what a command read ahead is answered (the recorder's)."""
        return getattr(self.recorder, "answering_ahead", nullcontext)()

    def save_ticket(
        self, ticket: Ticket, actor: Actor, outcome: IdempotencyOutcome | None, *others: Any
    ) -> list[Any]:
        """Save the ticket's events, what they did to its SLA timers and surveys, and any
        companion aggregates (identity claims, thread keys), atomically."""
        sla = self.sla.follow(ticket, actor)
        surveys = self.surveys.follow(ticket)
        # Companions first, so the ticket's own last event is the command's position
        # (what an idempotent replay finds again); timers and surveys after it, since
        # views apply them to what the ticket's events wrote.
        return self.save(*others, ticket, *([sla] if sla else []), *surveys, idempotency=outcome)

    # Queries

    def get_ticket(self, ticket_id: UUID, version: int | None = None) -> Ticket:
        return _ticket_in(self.repository, ticket_id, version)

    def read_ticket(self, ticket_id: UUID) -> Ticket:
        """The ticket as it is now, from this process's recent_tickets: to read, never
        to change."""
        return _ticket_in(self.recent_tickets, ticket_id)

    def ticket_result(self, ticket_id: UUID, version: int | None = None) -> CommandResult:
        """The ticket (at a version, for idempotent replays) as a command returned it."""
        return self._result(self.get_ticket(ticket_id, version))

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def ticket_by_number(self, number: int) -> UUID | None:
        """The ticket with this human number, if any."""
        return self.recorder.numbers.ticket_numbered(number)

    def number_of(self, ticket_id: UUID) -> int:
        """The ticket's human number: 1, 2, 3... in the order tickets were opened, given
        in the opening event's transaction (infrastructure/ticket_numbers.py)."""
        number = self.recorder.numbers.number_of(ticket_id)
        if number is None:
            raise TicketNotFound(ticket_id)
        return number

    def history(
        self, ticket_id: UUID, versions: tuple[int, int] | None = None
    ) -> list[RecordedEvent]:
        """Every event of the ticket, or those of the versions in [first, last]."""
        if versions is None:
            events = list(self.events.get(ticket_id))
        else:
            first, last = versions
            events = list(self.events.get(ticket_id, gt=first - 1, lte=last))
        if not events and (versions is None or not self.exists(ticket_id)):
            raise TicketNotFound(ticket_id)
        return [recorded_event(e) for e in events]

    def events_after(self, after: int, limit: int) -> list[RecordedEvent]:
        """The global feed: every event with a position greater than ``after``."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        return [
            recorded_event(self.mapper.to_domain_event(n), position=n.id) for n in notifications
        ]

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def _result(self, ticket: Ticket) -> CommandResult:
        found = self.recorder.numbers.number_and_position(ticket.id, ticket.version)
        if found is None:
            raise TicketNotFound(ticket.id)
        number, position = found
        return CommandResult(ticket, number=number, position=position)


def _kept_for_commands(aggregate: Any) -> bool:
    """Whether commands keep this between them (recent_tickets): tickets, up to a size."""
    return isinstance(aggregate, Ticket) and len(aggregate.messages) <= KEPT_MESSAGES_MAX


def _ticket_in(repository: Repository[UUID], ticket_id: UUID, version: int | None = None) -> Ticket:
    return _ticket_loaded(
        lambda: repository.get(ticket_id, version=version, projector_func=replay), ticket_id
    )


def _ticket_loaded(load: Callable[[], Any], ticket_id: UUID) -> Ticket:
    try:
        ticket = load()
    except AggregateNotFoundError:
        raise TicketNotFound(ticket_id) from None
    if not isinstance(ticket, Ticket):
        raise TicketNotFound(ticket_id)
    return ticket


def replay(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its per-event ``isinstance`` against a
    runtime-checkable Protocol, which was a sixth of the time of rebuilding a long ticket
    (every event here is one of our own classes, with ``mutate``)."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def recorded_event(domain_event: Any, position: int | None = None) -> RecordedEvent:
    data = {k: v for k, v in domain_event.__dict__.items() if k not in EVENT_BOOKKEEPING}
    kind = aggregate_type_of(domain_event)
    return RecordedEvent(
        ticket_id=_ticket_of(domain_event, kind),
        version=domain_event.originator_version,
        type=event_type_name(domain_event),
        occurred_at=domain_event.timestamp,
        # Companions recorded as part of someone's command (identity claims, thread keys)
        # carry no actor of their own.
        actor=getattr(domain_event, "actor", SYSTEM),
        data=data,
        position=position,
        aggregate_type=kind,
        aggregate_id=domain_event.originator_id,
        schema_version=getattr(type(domain_event), "class_version", 1),
    )


def aggregate_type_of(domain_event: Any) -> str:
    """``ticket``, ``ticket_sla``, ``calendar`` or ``sla_policies``: whose event it is."""
    return aggregate_type_of_class(type(domain_event))


def aggregate_type_of_class(event_class: type) -> str:
    return aggregate_type_name(event_class)


def _ticket_of(domain_event: Any, kind: str) -> UUID | None:
    if kind == "ticket":
        return domain_event.originator_id
    if hasattr(domain_event, "ticket_id"):
        return domain_event.ticket_id  # companions' events (SLA, thread keys) name it
    timer = getattr(domain_event, "timer", None)
    return UUID(timer["ticket_id"]) if timer else None


def _starts(aggregate: Any) -> bool:
    """Whether saving the aggregate would start it: all its events are pending."""
    pending = aggregate.pending_events
    return bool(pending) and pending[0].originator_version == 1


def _outcome(
    claim: IdempotencyClaim | None, status: int, ticket: Ticket
) -> IdempotencyOutcome | None:
    if claim is None:
        return None
    return IdempotencyOutcome(
        claim=claim, status=status, resource_id=ticket.id, version=ticket.version
    )
