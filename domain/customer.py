"""The requester of a ticket and the customer identity their personal data belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.personal import Personal

# Identity kinds, strongest first: the first one given decides a new customer's id.
# A conversation is the weakest: it stands for a visitor only until they give another.
IDENTITY_KINDS = ("email", "phone", "social", "external", "conversation")
# Channels where a visitor may stay anonymous, known only by their conversation (a chat
# session, a web form's session). On email the From address is the identity, on a phone
# call the number, on social media the handle: there anonymity makes no sense.
ANONYMOUS_CHANNELS = ("chat", "web")


def conversation_identity(channel: str, conversation_id: str) -> str:
    """A conversation as an identity: scoped by its channel, since two channels' ids may
    coincide without being the same visitor. Opaque, so kept as given (but trimmed, as
    the thread key trims it)."""
    return f"{channel}:{conversation_id.strip()}"


@dataclass(frozen=True)
class Contact:
    """How a requester identified themselves on first contact (plain, before encryption)."""

    name: str
    email: str | None = None
    phone: str | None = None
    external_id: str | None = None
    handle: str | None = None  # a social handle, as "network:@name"
    # An anonymous chat or web visitor's conversation, as "channel:id"
    # (conversation_identity): their identity until they give another.
    conversation: str | None = None

    def identities(self) -> list[tuple[str, str]]:
        """(kind, normalized value) for every way this requester can be recognised,
        strongest first."""
        found = [
            ("email", (self.email or "").strip().lower()),
            ("phone", "".join(ch for ch in self.phone or "" if ch.isdigit())),
            ("social", (self.handle or "").strip().lower()),
            ("external", (self.external_id or "").strip()),
            ("conversation", (self.conversation or "").strip()),
        ]
        return [(kind, value) for kind, value in found if value]

    def customer_id(self, namespace: UUID) -> UUID:
        """A stable id for the customer, derived from the strongest contact given.

        Deterministic (uuid5), so the same email always maps to the same customer and
        therefore to the same encryption key. The namespace is secret to the deployment,
        so the id cannot be recomputed from a guessed email after an erasure.
        """
        known = dict(self.identities())
        # The order ids have always been derived in (an external id before a handle).
        for kind in ("email", "phone", "external", "social", "conversation"):
            if kind in known:
                return derived_customer_id(namespace, kind, known[kind])
        raise NoContactError

    def as_personal(self, owner: UUID) -> dict[str, Personal | None]:
        """The requester as stored on the ticket: every field owned by the customer."""

        def wrap(text: str | None) -> Personal | None:
            return None if text is None else Personal(owner, text)

        personal = {
            "name": wrap(self.name),
            "email": wrap(self.email),
            "phone": wrap(self.phone),
            "external_id": wrap(self.external_id),
            "handle": wrap(self.handle),
        }
        # Only when given, so every other requester keeps the shape it always had. Kept
        # on the ticket because erasure reads requesters to find the claims to release.
        if self.conversation is not None:
            personal["conversation"] = wrap(self.conversation)
        return personal


def derived_customer_id(namespace: UUID, kind: str, value: str) -> UUID:
    """The id a first contact whose strongest identity is (kind, value) gets."""
    return uuid5(namespace, f"{kind}:{value}")


def identity_id(namespace: UUID, kind: str, value: str) -> UUID:
    """The id of the claim on one identity (an email, a phone...). Deterministic, so two
    claims on the same identity collide in the event store; the secret namespace keeps
    the identity itself from being guessed back out of the id."""
    return uuid5(namespace, f"identity:{kind}:{value}")


class CustomerIdentity(Aggregate):
    """One way of recognising a customer (an email address, a phone number, a social
    handle, an external id), claimed by the customer it first arrived with. Every later
    contact that carries it, on any channel, belongs to that same customer.

    The customer's erasure releases the claim: a released identity leads to nobody, and
    whoever arrives with it next is a new customer who claims it again."""

    @classmethod
    def claim(cls, namespace: UUID, kind: str, value: str, customer_id: UUID) -> CustomerIdentity:
        # Only the kind is recorded: the value is personal data and the id already
        # stands for it.
        return cls._create(
            cls.Claimed, id=identity_id(namespace, kind, value), kind=kind, customer_id=customer_id
        )

    @event("Claimed")
    def __init__(self, kind: str, customer_id: UUID):
        self.kind = kind
        self.customer_id = customer_id
        self.released = False

    @property
    def owner(self) -> UUID | None:
        """The customer this identity leads to; None once released."""
        return None if self.released else self.customer_id

    @event("Released")
    def release(self) -> None:
        self.released = True

    @event("Reclaimed")
    def reclaim(self, customer_id: UUID) -> None:
        self.customer_id = customer_id
        self.released = False


class NoContactError(ValueError):
    """A requester needs at least an email, a phone, an external id, a handle or (on chat
    and web) a conversation."""
