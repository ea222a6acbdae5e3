"""A fresh Ticket aggregate for unit tests, with a requester and only what a test asks
to vary."""

from __future__ import annotations

from uuid import UUID

from domain.actor import Actor
from domain.customer import Contact
from domain.personal import Personal
from domain.ticket import Ticket

AGENT = Actor("id1", "tester", "agent")
NS = UUID(int=1)
CONTACT = Contact(name="Ana", email="a@x.com")
OWNER = CONTACT.customer_id(NS)


def new_ticket(
    *,
    actor: Actor = AGENT,
    channel: str = "email",
    language: str | None = None,
    tags: list[str] | None = None,
    external_ref: str | None = None,
) -> Ticket:
    return Ticket(
        subject=Personal(OWNER, "s"),
        description=Personal(OWNER, "d"),
        requester=CONTACT.as_personal(OWNER),
        customer_id=OWNER,
        channel=channel,
        language=language,
        priority="normal",
        category=None,
        tags=[] if tags is None else tags,
        external_ref=external_ref,
        actor=actor,
    )
