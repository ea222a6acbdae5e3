"""One customer across channels: every identity a contact carries (email, phone, social
handle, external id, and on chat and web the conversation) is claimed by the customer it
first arrived with, until that customer's erasure releases it.

An anonymous chat or web visitor is known by their conversation alone. When a contact
later carries the conversation with an email or phone, the identities join: the first
one claimed decides the customer (strongest first) and the rest are claimed for it. An
identity another customer already holds keeps its owner: two customers are never merged,
since each one's history is sealed with that customer's own key."""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from application.ports import NamesCustomers
from domain.customer import (
    Contact,
    CustomerIdentity,
    NoContactError,
    derived_customer_id,
    identity_id,
)


class CustomerDirectory:
    """Finds the customer behind a contact through the claims on its identities."""

    def __init__(self, app: NamesCustomers):
        self.app = app

    def resolve(self, contact: Contact) -> tuple[UUID, list[CustomerIdentity]]:
        """The contact's customer, and the claims to save with the ticket (new ones, and
        released ones claimed again). A claimed identity wins, strongest first; a
        contact with none becomes a new customer whose id derives from its strongest
        identity (the rule tickets used before identities were claimed, so old tickets
        keep theirs), unless one of its identities was released by an erasure: then the
        id is fresh, so the newcomer is neither linked to the erased history nor given
        the erased customer's destroyed key."""
        namespace = self.app.customer_namespace
        claims = {
            (kind, value): self._claim(identity_id(namespace, kind, value), to_change=False)
            for kind, value in contact.identities()
        }
        found = [claim for claim in claims.values() if claim is not None]
        owners = [claim.owner for claim in found if claim.owner is not None]
        if owners:
            customer_id = owners[0]
        elif found:
            customer_id = uuid4()
        else:
            customer_id = contact.customer_id(namespace)
        changed = []
        for (kind, value), claim in claims.items():
            if claim is None:
                changed.append(CustomerIdentity.claim(namespace, kind, value, customer_id))
            elif claim.released:
                claim = deepcopy(claim)  # read uncopied: the cached one must not change
                claim.reclaim(customer_id)
                changed.append(claim)
        return customer_id, changed

    def customer_of(self, contact: Contact) -> UUID | None:
        """The customer the contact's strongest identity leads to, claiming nothing;
        None when an erasure released it."""
        identities = contact.identities()
        if not identities:
            raise NoContactError
        kind, value = identities[0]
        claim = self._claim(identity_id(self.app.customer_namespace, kind, value), to_change=False)
        if claim is None:
            return contact.customer_id(self.app.customer_namespace)
        return claim.owner

    def release(self, customer_id: UUID, contacts: Iterable[Contact]) -> list[CustomerIdentity]:
        """The customer's claims on these contacts' identities, released (to save with
        the erasure). An identity never claimed but from which the customer's id
        derives (a ticket from before claims) gets a claim, released at once, so it
        leads nowhere either."""
        namespace = self.app.customer_namespace
        released: dict[UUID, CustomerIdentity] = {}
        for kind, value in {pair for contact in contacts for pair in contact.identities()}:
            claim_id = identity_id(namespace, kind, value)
            claim = self._claim(claim_id)
            if claim is None and derived_customer_id(namespace, kind, value) == customer_id:
                claim = CustomerIdentity.claim(namespace, kind, value, customer_id)
            if claim is not None and claim.owner == customer_id:
                claim.release()
                released[claim_id] = claim
        return [released[claim_id] for claim_id in sorted(released)]

    def _claim(self, claim_id: UUID, *, to_change: bool = True) -> CustomerIdentity | None:
        """The claim on an identity, if any. Not ``to_change``: the cached aggregate
        itself, which the caller must not change - the library's defensive copy of it was
        a twelfth of a new ticket's Python time (issue 19), for a claim that almost never
        changes (only a released one is claimed again)."""
        try:
            if to_change:
                claim = self.app.small_aggregates.get(claim_id)
            else:  # maybe unasked, if a new ticket's write checks it (assumed_reads.py)
                claim = self.app.assumed_reads.get(claim_id)
        except AggregateNotFoundError:
            return None
        return claim if isinstance(claim, CustomerIdentity) else None
