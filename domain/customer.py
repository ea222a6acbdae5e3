"""The requester of a ticket and the customer identity their personal data belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid5

from domain.personal import Personal


@dataclass(frozen=True)
class Contact:
    """How a requester identified themselves on first contact (plain, before encryption)."""

    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None

    def customer_id(self, namespace: UUID) -> UUID:
        """A stable id for the customer, derived from the strongest contact given.

        Deterministic (uuid5), so the same email always maps to the same customer and
        therefore to the same encryption key. The namespace is secret to the deployment,
        so the id cannot be recomputed from a guessed email after an erasure.
        """
        email = (self.email or "").strip().lower()
        digits = "".join(ch for ch in self.phone or "" if ch.isdigit())
        external_id = (self.external_id or "").strip()
        if email:
            return uuid5(namespace, f"email:{email}")
        if digits:
            return uuid5(namespace, f"phone:{digits}")
        if external_id:
            return uuid5(namespace, f"external:{external_id}")
        raise NoContactError

    def as_personal(self, owner: UUID) -> dict[str, Personal | None]:
        """The requester as stored on the ticket: every field owned by the customer."""

        def wrap(text: str | None) -> Personal | None:
            return None if text is None else Personal(owner, text)

        return {
            "name": wrap(self.name),
            "email": wrap(self.email),
            "phone": wrap(self.phone),
            "external_id": wrap(self.external_id),
        }


class NoContactError(ValueError):
    """A requester needs at least an email, a phone or an external id."""
