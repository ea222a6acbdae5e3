"""Each ticket's email record (domain/ticket_email.py): the outcome of every email sent
for it, saved by the email dispatcher, read by GET /v1/tickets/{id}."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import IntegrityError

from application.errors import TicketNotFound
from application.retries import Save, save_with_retries
from domain.personal import Personal
from domain.ticket_email import BOUNCED, TicketEmail, email_record_id
from domain.ticket_refs import parse_outbound_message_id

CONFLICT_RETRIES = 5
# Email records the dispatcher keeps between batches (see EmailRecords._cached).
RECORDS_CACHED = 5000


@dataclass(frozen=True)
class EmailOutcome:
    """One outcome of one email, for its ticket's email record."""

    ticket_id: UUID
    outcome: str
    delivery_id: str
    message_id: UUID | None
    kind: str
    answer: Personal
    retry_at: datetime | None = None


# The ticket and kind of the notice with this delivery id (the email outbox knows).
FindNotice = Callable[[str], tuple[UUID, str] | None]
NOTICE_ID = re.compile(r"^notice-([0-9a-f-]{36})@atende$")
REPLY_KIND = "ticket.message_added"


class EmailRecords:
    def __init__(self, app: Any, find_notice: FindNotice | None = None):
        self.app = app
        self.find_notice = find_notice or (lambda _: None)

    def bounce(self, original_message_id: str, status: str, diagnostic: str) -> UUID | None:
        """Record that an email Atende sent came back (a bounce naming its Message-ID);
        the ticket it was for, or None when it names no email of ours."""
        found = self._sent(original_message_id.strip().lower())
        if found is None:
            return None
        ticket_id, message_id, kind, delivery_id = found
        try:
            ticket = self.app.get_ticket(ticket_id)
        except TicketNotFound:
            return None
        answer = Personal(ticket.customer_id, f"{status} {diagnostic}".strip() or "bounced")
        self.record(ticket_id, BOUNCED, delivery_id, message_id, kind, answer)
        return ticket_id

    def sent_ticket(self, original_message_id: str) -> UUID | None:
        """The ticket an email Atende sent was for (None: not one of ours)."""
        found = self._sent(original_message_id.strip().lower())
        return found[0] if found is not None else None

    def _sent(self, message_id: str) -> tuple[UUID, UUID | None, str, str] | None:
        reply = parse_outbound_message_id(message_id)
        if reply is not None:
            ticket_id, carried = reply
            record = self.of_ticket(ticket_id)
            outcome = record.of_message(carried) if record is not None else None
            delivery_id = outcome["delivery_id"] if outcome and "delivery_id" in outcome else ""
            return ticket_id, carried, REPLY_KIND, delivery_id
        notice = NOTICE_ID.match(message_id)
        if notice is None:
            return None
        found = self.find_notice(notice[1])
        if found is None:
            return None
        ticket_id, kind = found
        return ticket_id, None, kind, notice[1]

    def of_ticket(self, ticket_id: UUID) -> TicketEmail | None:
        try:
            return self.app.repository.get(email_record_id(ticket_id))
        except AggregateNotFoundError:
            return None

    @cached_property
    def _cached(self) -> Repository[UUID]:
        """The records as the dispatcher last saved them (an LRU cache, the library's),
        where reading a record afresh decoded every outcome it ever recorded, most of an
        email's cost once a ticket has had a few dozen. Not fast-forwarded: the
        dispatcher is their only writer but for a bounce now and then, and a record
        another process wrote meanwhile is refused by the store at the batch's save
        (its version is taken), which then drops the batch's records from here and
        records each outcome on a fresh read. Changed in place, not copied. The records
        hold no plaintext to outlive an erasure: their answers load sealed
        (infrastructure.crypto's SealedPersonal) and read "[erased]" once the
        customer's key is gone."""
        return Repository(self.app.events, cache_maxsize=RECORDS_CACHED, fastforward=False,
                          deepcopy_from_cache=False)  # fmt: skip

    def _for_dispatch(self, ticket_id: UUID) -> TicketEmail:
        record_id = email_record_id(ticket_id)
        try:
            return self._cached.get(record_id)
        except AggregateNotFoundError:
            record = TicketEmail(ticket_id=ticket_id)
            self._cached.cache.put(record_id, record)
            return record

    def record(
        self, ticket_id: UUID, outcome: str, delivery_id: str, message_id: UUID | None,
        kind: str, answer: Personal, retry_at: datetime | None = None,
    ) -> None:  # fmt: skip
        def attempt() -> Save[None]:
            record = self.of_ticket(ticket_id) or TicketEmail(ticket_id=ticket_id)
            record.record(outcome, delivery_id, message_id, kind, answer, retry_at)
            return Save(lambda: self.app.save(record))

        save_with_retries(attempt, what=f"ticket {ticket_id}'s email record",
                          retries=CONFLICT_RETRIES)  # fmt: skip

    def record_batch(self, outcomes: Sequence[EmailOutcome]) -> None:
        """A dispatcher's batch of outcomes, every ticket's record saved in one transaction
        (one commit for the batch, not one per email). Should another writer have saved a
        record meanwhile (a bounce arriving), each outcome is recorded on its own instead,
        with retries, so none is lost."""
        records: dict[UUID, TicketEmail] = {}
        try:
            for o in outcomes:
                if o.ticket_id not in records:
                    records[o.ticket_id] = self._for_dispatch(o.ticket_id)
                records[o.ticket_id].record(
                    o.outcome, o.delivery_id, o.message_id, o.kind, o.answer, o.retry_at
                )
            if records:
                self.app.save(*records.values())
        except IntegrityError:
            self._forget(records.values())
            for o in outcomes:
                self.record(o.ticket_id, o.outcome, o.delivery_id, o.message_id, o.kind,
                            o.answer, o.retry_at)  # fmt: skip
        except BaseException:
            self._forget(records.values())
            raise

    def _forget(self, records: Iterable[TicketEmail]) -> None:
        """Drop kept records that took outcomes the store did not: read afresh next."""
        for record in records:
            with contextlib.suppress(KeyError):
                self._cached.cache.get(record.id, evict=True)
