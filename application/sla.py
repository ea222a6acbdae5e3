"""The SLA timekeeper: chooses a ticket's policy, keeps its timers in step with its
events (in the same save as the ticket's own events), and records warnings and
breaches when the clock says they are due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from application.errors import CalendarNotFound, ConcurrentWriteConflict
from application.ports import SavesAggregates
from application.retries import Save, save_with_retries
from domain.actor import SYSTEM, Actor
from domain.calendar import Calendar, calendar_id
from domain.sla.business_time import BusinessHours
from domain.sla.policy import POLICIES_ID, SlaPolicies, TicketTraits, first_match
from domain.sla.rules import follow_ticket
from domain.sla.timers import AppliedPolicy, TicketSla, Timer, sla_id_for
from domain.ticket import Ticket

# Recording a breach races ticket commands writing the same timers; re-read and retry.
THRESHOLD_RETRIES = 5
# What record_due answers: the timers it recorded, and the policy they were recorded under.
Recorded = tuple[list[Timer], dict[str, Any] | None]


class SlaTimekeeper:
    """Everything the ticket application needs of the SLA engine."""

    def __init__(self, app: SavesAggregates):
        self.app = app
        self._hours_at = lru_cache(maxsize=1024)(self._load_hours)

    # Reads

    def policies(self) -> SlaPolicies | None:
        return self._get(POLICIES_ID, SlaPolicies)

    def calendar(self, name: str) -> Calendar:
        found = self.find_calendar(name)
        if found is None or found.deleted:
            raise CalendarNotFound(name)
        return found

    def find_calendar(self, name: str) -> Calendar | None:
        """The calendar by name, deleted or not."""
        return self._get(calendar_id(name), Calendar)

    def ticket_sla(self, ticket_id: UUID) -> TicketSla | None:
        return self._get(sla_id_for(ticket_id), TicketSla)

    def read_ahead(self, ticket_id: UUID) -> dict[UUID, int | None]:
        """What a command on the ticket will read of its timers (``follow``): their
        events after the version this process keeps (None: not kept, all of them), to be
        read with the ticket (application/ticket_loads.py)."""
        timers = sla_id_for(ticket_id)
        cache = self.app.small_aggregates.cache
        try:
            kept = cache.get(timers).version if cache is not None else None
        except KeyError:
            kept = None
        return {timers: kept}

    def hours_of(self, calendar: str, version: int) -> BusinessHours:
        """A calendar's business hours at one revision (revisions never change)."""
        return self._hours_at(calendar, version)

    # Following ticket commands

    def follow(self, ticket: Ticket, actor: Actor) -> TicketSla | None:
        """The ticket's SLA aggregate brought up to date with the ticket's pending
        events, or None when there is nothing to save."""
        sla = self.ticket_sla(ticket.id) if ticket.version > len(ticket.pending_events) else None
        if sla is None:
            sla = TicketSla(ticket_id=ticket.id, actor=actor)
        follow_ticket(sla, ticket, ticket.pending_events, self.choose, self.hours_of, actor)
        if sla.version == 1 and len(sla.pending_events) == 1:
            return None  # no policy applies: keep no timers for this ticket
        return sla if sla.pending_events else None

    def choose(self, traits: TicketTraits) -> AppliedPolicy | None:
        # Only read here, so the cached aggregates are used as they are: the library's
        # defensive deepcopy of the policy set was a tenth of a new ticket's Python time
        # outside the database driver (issue 19). Commands that change them (sla_config)
        # go through policies() and calendar(), which still copy.
        # No policy set is an answer the write checks too (application/assumed_reads.py).
        policies = self._get(POLICIES_ID, SlaPolicies, read_only=True, absence_is_checked=True)
        policy = first_match(policies.ordered(), traits) if policies else None
        if policy is None:
            return None
        calendar = self._get(calendar_id(policy.calendar), Calendar, read_only=True)
        if calendar is None or calendar.deleted:
            raise CalendarNotFound(policy.calendar)
        return AppliedPolicy(
            policy, calendar.version, self.hours_of(calendar.name, calendar.version)
        )

    # The clock

    def record_due(
        self, ticket_id: UUID, due: Sequence[tuple[str, int, str]], now: datetime
    ) -> tuple[list[Timer], dict[str, Any] | None]:
        """Record the ticket's due warnings and breaches ((metric, cycle, threshold),
        warnings first) in one save, each once whoever else tries. Returns the timers
        this call recorded and the policy they were recorded under."""

        def attempt() -> Recorded | Save[Recorded]:
            sla = self.ticket_sla(ticket_id)
            if sla is None:
                return [], None
            recorded = [
                timer
                for metric, cycle, threshold in due
                if (
                    timer := sla.record_threshold(
                        metric, cycle, threshold, now, SYSTEM, self.hours_of
                    )
                )
            ]
            if not recorded:
                return [], sla.policy

            def write() -> Recorded:
                self.app.save(sla)
                return recorded, sla.policy

            return Save(write)

        try:
            return save_with_retries(
                attempt, what=f"the SLA timers of ticket {ticket_id}", retries=THRESHOLD_RETRIES
            )
        except ConcurrentWriteConflict:
            # Other writers kept moving the timers on: nothing recorded here; what is
            # still due then, the next sweep asks for again.
            return [], None

    def _get(
        self,
        aggregate_id: UUID,
        kind: type[Aggregate],
        *,
        read_only: bool = False,
        absence_is_checked: bool = False,
    ) -> Any:
        try:
            if read_only:  # the cached one, maybe unasked if a new ticket's write checks it
                found = self.app.assumed_reads.get(
                    aggregate_id, absence_is_checked=absence_is_checked
                )
            else:
                found = self.app.small_aggregates.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, kind) else None

    def _load_hours(self, calendar: str, version: int) -> BusinessHours:
        found = self.app.small_aggregates.get(calendar_id(calendar), version=version)
        return found.business_hours()
