"""The requester of a ticket and the customer identity their personal data belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.personal import Personal


@dataclass(frozen=True)
class Contact:
    """How a requester identified themselves on first contact (plain, before encryption)."""

    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None

    def customer_id(self) -> UUID:
        """A stable id for the customer, derived from the strongest contact given.

        Deterministic (uuid5), so the same email always maps to the same customer and
        therefore to the same encryption key, without a lookup table.
        """
        if self.email:
            return uuid5(NAMESPACE_URL, f"/customers/email/{self.email.strip().lower()}")
        if self.phone:
            digits = "".join(ch for ch in self.phone if ch.isdigit() or ch == "+")
            return uuid5(NAMESPACE_URL, f"/customers/phone/{digits}")
        if self.external_id:
            return uuid5(NAMESPACE_URL, f"/customers/external/{self.external_id}")
        raise NoContactError

    def as_personal(self) -> dict[str, Personal | None]:
        """The requester as stored on the ticket: every field owned by the customer."""
        owner = self.customer_id()

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
