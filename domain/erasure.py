"""A customer's erasure (crypto-shredding), recorded as an event of its own.

The event names the customer and the tickets whose views must scrub what they copied
(subjects, requester names); destroying the customer's key, in the same transaction, is
what erases the personal fields in the events themselves, and releasing the customer's
identity claims, also in it, is what stops a former email or phone from finding them.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

_NAMESPACE = uuid5(NAMESPACE_URL, "https://atende.example/erasures")


def erasure_id(customer_id: UUID) -> UUID:
    """One erasure per customer: a second request finds the first (idempotent)."""
    return uuid5(_NAMESPACE, str(customer_id))


class CustomerErasure(Aggregate):
    """The erasure of one customer: who asked, why, and which tickets were theirs."""

    @classmethod
    def record(
        cls, customer_id: UUID, ticket_ids: list[UUID], actor: Actor, reason: str | None
    ) -> CustomerErasure:
        return cls._create(
            cls.Erased,
            id=erasure_id(customer_id),
            customer_id=customer_id,
            ticket_ids=ticket_ids,
            actor=actor,
            reason=reason,
        )

    @event("Erased")
    def __init__(
        self, customer_id: UUID, ticket_ids: list[UUID], actor: Actor, reason: str | None
    ):
        self.customer_id = customer_id
        self.ticket_ids = list(ticket_ids)
        self.actor = actor
        self.reason = reason
