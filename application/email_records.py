"""Each ticket's email record (domain/ticket_email.py): the outcome of every email sent
for it, saved by the email dispatcher, read by GET /v1/tickets/{id}."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.retries import Save, save_with_retries
from domain.personal import Personal
from domain.ticket_email import TicketEmail, email_record_id

CONFLICT_RETRIES = 5


class EmailRecords:
    def __init__(self, app: Any):
        self.app = app

    def of_ticket(self, ticket_id: UUID) -> TicketEmail | None:
        try:
            return self.app.repository.get(email_record_id(ticket_id))
        except AggregateNotFoundError:
            return None

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
