"""How a ticket and its replies are named outside Atende, so what comes back finds the ticket.

An integrator's ``external_ref`` derives the ticket's id, so a second open with the same ref
collides in the event store instead of needing an index. An agent's public reply goes out on
a channel and thread; by email it carries a Message-ID naming the ticket and the message, and
the customer's answer, which lists that id in In-Reply-To or References, threads back to it.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

_OUTBOUND_ID = re.compile(r"^ticket-([0-9a-f-]{36})\.([0-9a-f-]{36})@atende$")


def ticket_id_for_external_ref(external_ref: str) -> UUID:
    """The id of the ticket opened with this external_ref (the same for every attempt)."""
    return uuid5(NAMESPACE_URL, f"/tickets/external_ref/{external_ref}")


def outbound_reply(
    ticket_id: UUID, message_id: UUID, channel: str, external_message_ids: list[str]
) -> dict[str, Any]:
    """Where and how to send an agent's reply: the channel, the customer's latest message
    it answers and, by email, its own Message-ID."""
    reply: dict[str, Any] = {"channel": channel, "in_reply_to": None}
    if external_message_ids:
        reply["in_reply_to"] = external_message_ids[-1]
    if channel == "email":
        reply["email_message_id"] = outbound_message_id(ticket_id, message_id)
    return reply


def outbound_message_id(ticket_id: UUID, message_id: UUID) -> str:
    """The Message-ID (without brackets) of an agent's email reply."""
    return f"ticket-{ticket_id}.{message_id}@atende"


def parse_outbound_message_id(text: str) -> tuple[UUID, UUID] | None:
    """(ticket id, message id) from one of our reply Message-IDs, else None."""
    match = _OUTBOUND_ID.match(text.strip().lower())
    if match is None:
        return None
    try:
        return UUID(match[1]), UUID(match[2])
    except ValueError:
        return None
