"""One customer across channels: every identity a contact carries (email, phone, social
handle, external id) is claimed by the customer it first arrived with."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.customer import Contact, CustomerIdentity, identity_id


class CustomerDirectory:
    def __init__(self, app: Any):
        self.app = app

    def resolve(self, contact: Contact) -> tuple[UUID, list[CustomerIdentity]]:
        """The contact's customer, and claims for the identities not yet known (to save
        with the ticket). A known identity wins, strongest first; a contact with none
        known becomes a new customer whose id derives from its strongest identity (the
        rule tickets used before identities were claimed, so old tickets keep theirs)."""
        namespace = self.app.customer_namespace
        identities = contact.identities()
        known: dict[tuple[str, str], UUID] = {}
        for kind, value in identities:
            claim = self._claim(identity_id(namespace, kind, value))
            if claim is not None:
                known[(kind, value)] = claim.customer_id
        customer_id = next(iter(known.values()), None) or contact.customer_id(namespace)
        new = [
            CustomerIdentity.claim(namespace, kind, value, customer_id)
            for kind, value in identities
            if (kind, value) not in known
        ]
        return customer_id, new

    def _claim(self, claim_id: UUID) -> CustomerIdentity | None:
        try:
            claim = self.app.repository.get(claim_id)
        except AggregateNotFoundError:
            return None
        return claim if isinstance(claim, CustomerIdentity) else None
