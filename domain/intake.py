"""Threads: how a contact on a channel finds the ticket it belongs to."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

# What a thread key names: one inbound message (its Message-ID or the channel's message
# id, so a redelivery writes nothing), or a whole conversation (a chat, a call, a DM thread).
KEY_KINDS = ("message", "conversation")
INTAKE_CHANNELS = ("email", "chat", "social", "phone", "web")


def thread_key_id(namespace: UUID, channel: str, kind: str, key: str) -> UUID:
    """Deterministic, so the same message or conversation always finds the same key and
    two deliveries of it collide in the event store. The secret namespace keeps message
    ids and phone numbers from being recomputed out of the ids."""
    return uuid5(namespace, f"thread:{channel}:{kind}:{key.strip()}")


class ThreadKey(Aggregate):
    """Points a channel's message or conversation at a ticket. A conversation moves to
    the follow-up ticket when it continues after its ticket was closed."""

    @classmethod
    def start(
        cls, namespace: UUID, channel: str, kind: str, key: str, ticket_id: UUID
    ) -> ThreadKey:
        # Only channel and kind are recorded: the key (a Message-ID, a phone number) may
        # be personal data, and the id already stands for it.
        return cls._create(
            cls.Started,
            id=thread_key_id(namespace, channel, kind, key),
            channel=channel,
            kind=kind,
            ticket_id=ticket_id,
        )

    @event("Started")
    def __init__(self, channel: str, kind: str, ticket_id: UUID):
        self.channel = channel
        self.kind = kind
        self.ticket_id = ticket_id

    def move_to(self, ticket_id: UUID) -> None:
        if ticket_id != self.ticket_id:
            self._moved(ticket_id=ticket_id)

    @event("Moved")
    def _moved(self, ticket_id: UUID) -> None:
        self.ticket_id = ticket_id
