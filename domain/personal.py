"""Personal data as a value that knows whose it is, so it can be encrypted per customer."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

ERASED = "[erased]"


@dataclass(frozen=True)
class Personal:
    """A piece of personal data (a name, an email, a message body) owned by one customer.

    The domain handles it as text; persistence encrypts it with the owner's key, so
    destroying that key erases the text everywhere while the events themselves stay.
    """

    owner: UUID
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def is_erased(self) -> bool:
        return self.text == ERASED


def personal_text(value: Personal | None) -> str | None:
    return None if value is None else value.text
