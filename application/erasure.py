"""Erasing a customer (crypto-shredding) without losing the audit trail.

One transaction records the ``erased`` event and destroys the customer's key (the recorder
does the latter, see infrastructure/recorders.py). The events stay byte for byte as they
were, so hashes verify and reports keep their counts; every personal field now decodes as
"[erased]". Views scrub what they copied (subjects) when they see the event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import CustomerNotFound
from application.tickets import TicketApplication
from domain.actor import Actor
from domain.erasure import CustomerErasure, erasure_id


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

    def erase(self, customer_id: UUID, actor: Actor, reason: str | None = None) -> ErasureResult:
        done = self.find(customer_id)
        if done is not None:
            return done
        self.require_known(customer_id)
        erasure = CustomerErasure.record(customer_id, self.tickets_of(customer_id), actor, reason)
        try:
            recordings = self.tickets.save(erasure, erase_key_of=customer_id)
        except IntegrityError:
            # Erased by a concurrent request a moment ago: the same answer, nothing more.
            found = self.find(customer_id)
            assert found is not None
            return found
        self.keys.forget(customer_id)
        return ErasureResult(erasure, True, recordings[-1].notification.id)

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
