"""What became of the email Atende sent for a ticket (issue 22): a companion aggregate of
the ticket (Clarification 7), so outcomes recorded by the projector never move the
ticket's version and an integrator's If-Match keeps working. Each outcome names the
delivery (one per email: an agent's reply, a reminder, an auto-close notice), the message
it carried when it was a reply, and the SMTP server's answer. The recipient is not
recorded here: it is the ticket's requester. The answer is personal data (a refusal
quotes the address: "550 5.1.1 <ana@example.com>: no such user"), sealed with the
customer's key like the rest of their data, so their erasure erases it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.personal import Personal

DELIVERED, DEFERRED, FAILED, BOUNCED = "delivered", "deferred", "failed", "bounced"


def email_record_id(ticket_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"/tickets/{ticket_id}/email")


class TicketEmail(Aggregate):
    @staticmethod
    def create_id(ticket_id: UUID, **_: Any) -> UUID:
        return email_record_id(ticket_id)

    @event("Created")
    def __init__(self, ticket_id: UUID):
        self.ticket_id = ticket_id
        # Each delivery's latest outcome, by delivery id.
        self.outcomes: dict[str, dict[str, Any]] = {}

    def of_message(self, message_id: UUID) -> dict[str, Any] | None:
        """The latest outcome of the email that carried this message (None: none yet)."""
        found = [o for o in self.outcomes.values() if o["message_id"] == str(message_id)]
        return found[-1] if found else None

    def record(
        self, outcome: str, delivery_id: str, message_id: UUID | None, kind: str, answer: Personal,
        retry_at: datetime | None = None,
    ) -> None:  # fmt: skip
        # The ticket on each outcome too: the feed names the ticket of every event.
        fields = {"ticket_id": self.ticket_id, "delivery_id": delivery_id,
                  "message_id": message_id, "kind": kind, "answer": answer}  # fmt: skip
        if outcome == DELIVERED:
            self._delivered(**fields)
        elif outcome == DEFERRED:
            self._deferred(**fields, retry_at=retry_at)
        elif outcome == BOUNCED:
            self._bounced(**fields)
        else:
            self._failed(**fields)

    def _note(self, state: str, delivery_id: str, message_id: UUID | None, kind: str,
              answer: Personal) -> None:  # fmt: skip
        attempts = self.outcomes.get(delivery_id, {}).get("attempts", 0) + 1
        self.outcomes[delivery_id] = {
            "delivery_id": delivery_id,
            "state": state,
            "message_id": None if message_id is None else str(message_id),
            "kind": kind,
            "answer": answer,
            "attempts": attempts,
            "at": self.modified_on,
        }

    @event("Delivered")
    def _delivered(
        self,
        ticket_id: UUID,
        delivery_id: str,
        message_id: UUID | None,
        kind: str,
        answer: Personal,
    ) -> None:
        self._note(DELIVERED, delivery_id, message_id, kind, answer)

    @event("Deferred")
    def _deferred(
        self,
        ticket_id: UUID,
        delivery_id: str,
        message_id: UUID | None,
        kind: str,
        answer: Personal,
        retry_at: datetime | None,
    ) -> None:
        self._note(DEFERRED, delivery_id, message_id, kind, answer)

    @event("Failed")
    def _failed(
        self,
        ticket_id: UUID,
        delivery_id: str,
        message_id: UUID | None,
        kind: str,
        answer: Personal,
    ) -> None:
        self._note(FAILED, delivery_id, message_id, kind, answer)

    @event("Bounced")
    def _bounced(
        self,
        ticket_id: UUID,
        delivery_id: str,
        message_id: UUID | None,
        kind: str,
        answer: Personal,
    ) -> None:
        # After "delivered": the server took it, the recipient's server sent it back.
        self._note(BOUNCED, delivery_id, message_id, kind, answer)
