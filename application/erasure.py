"""Erasing a customer (crypto-shredding) without losing the audit trail.

One transaction records the ``erased`` event, releases the customer's identity claims
(so no former email, phone, handle, external id or chat/web conversation leads to them
any more) and destroys the customer's key (the recorder does the latter, see
infrastructure/recorders.py). The events stay byte for byte as they were, so hashes
verify and reports keep their counts; every personal field now decodes as "[erased]".
Views scrub what they copied (subjects, names) when they see the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import ConcurrentWriteConflict, CustomerNotFound
from application.idempotency import IdempotencyClaim, outcome_of
from application.tickets import TicketApplication
from domain.actor import Actor
from domain.customer import Contact
from domain.erasure import CustomerErasure, erasure_id
from domain.personal import personal_text


@dataclass(frozen=True)
class ErasureResult:
    erasure: CustomerErasure
    created: bool  # False when the customer had already been erased (nothing written)
    position: int


class CustomerEraser:
    def __init__(
        self,
        tickets: TicketApplication,
        keys: Any,  # infrastructure.crypto.KeyRing
        tickets_of: Callable[[UUID], list[UUID]],
    ):
        self.tickets = tickets
        self.keys = keys
        self.tickets_of = tickets_of

    def erase(
        self,
        customer_id: UUID,
        actor: Actor,
        reason: str | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> ErasureResult:
        """``idempotency`` is completed with the erasure (written now or before)."""
        done = self.find(customer_id)
        if done is not None:
            return self._answered(done, idempotency)
        self.require_known(customer_id)
        ticket_ids = self.tickets_of(customer_id)
        # Read while the key still opens them: the requesters name the identities.
        released = self.tickets.customers.release(customer_id, self._contacts(ticket_ids))
        erasure = CustomerErasure.record(customer_id, ticket_ids, actor, reason)
        try:
            # The erasure last, so its position is the one a repeated erase answers.
            recordings = self.tickets.save(
                *released,
                erasure,
                erase_key_of=customer_id,
                idempotency=outcome_of(idempotency, 200, erasure),
            )
        except IntegrityError as conflict:
            found = self.find(customer_id)
            if found is None:
                # A first contact claimed one of the identities meanwhile; nothing was
                # written, and the next attempt reads the claims again.
                message = "the customer's identities changed; try again"
                raise ConcurrentWriteConflict(message) from conflict
            # Erased by a concurrent request a moment ago: the same answer.
            return self._answered(found, idempotency)
        self.keys.forget(customer_id)
        return ErasureResult(erasure, True, recordings[-1].notification.id)

    def _answered(self, done: ErasureResult, idempotency: IdempotencyClaim | None) -> ErasureResult:
        # Nothing was written by this request, so its key is completed on its own.
        outcome = outcome_of(idempotency, 200, done.erasure)
        if outcome is not None:
            self.tickets.idempotency.complete(outcome)
        return done

    def _contacts(self, ticket_ids: list[UUID]) -> list[Contact]:
        contacts = []
        for ticket_id in ticket_ids:
            requester = self.tickets.get_ticket(ticket_id).requester
            contacts.append(Contact(**{k: personal_text(v) for k, v in requester.items()}))
        return contacts

    def require_known(self, customer_id: UUID) -> None:
        """A customer is known once a key was made for them (their first contact)."""
        if not self.keys.knows(customer_id):
            raise CustomerNotFound(customer_id)

    def find(self, customer_id: UUID) -> ErasureResult | None:
        try:
            erasure = self.tickets.repository.get(erasure_id(customer_id))
        except AggregateNotFoundError:
            return None
        position = self.tickets.recorder.position_of(erasure.id, erasure.version)
        return ErasureResult(erasure, False, position)
