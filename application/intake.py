"""Multi-channel intake: a contact from email, chat, social media, phone or a web form
either opens a ticket or continues the one it belongs to.

A contact continues a ticket when it names it: by the thread it belongs to (an email's
In-Reply-To / References, a chat's or call's conversation id) or, for email, by a
``[#<number>]`` token in the subject from the same customer. Otherwise it opens a ticket.
Continuing a closed ticket opens a follow-up linked to it (Clarification 4). Every
inbound message leaves a thread key, so the same message delivered twice writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import ConcurrentWriteConflict, TicketNotFound
from application.idempotency import IdempotencyClaim
from application.inbound_text import clean_attachment, clean_contact, multi_line, optional_line
from application.ports import HostsIntake
from application.tickets import CommandResult
from domain.actor import Actor
from domain.customer import ANONYMOUS_CHANNELS, Contact, conversation_identity
from domain.intake import ThreadKey, thread_key_id
from domain.ticket import Ticket
from domain.ticket_refs import parse_outbound_message_id

ATTEMPTS = 5
EMPTY_TEXT = "(empty message)"  # a text made only of control characters
SUBJECT_FROM_TEXT = 80  # a chat has no subject: its first line stands in, this long at most


@dataclass(frozen=True)
class Inbound:
    """One contact, normalized from whichever channel it came on."""

    channel: str
    contact: Contact
    text: str
    subject: str | None = None
    message_id: str | None = None  # the channel's id of this message, for deduplication
    conversation_id: str | None = None  # chat, social and phone threads
    references: tuple[str, ...] = ()  # email: In-Reply-To then References, newest first
    ticket_number: int | None = None  # email: a [#123] token in the subject
    attachments: list[dict[str, Any]] = field(default_factory=list)
    language: str | None = None
    category: str | None = None
    priority: str = "normal"
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IntakeResult:
    outcome: str  # opened | appended | followed_up | duplicate
    result: CommandResult


class Intake:
    def __init__(self, app: HostsIntake):
        self.app = app

    def receive(
        self, inbound: Inbound, actor: Actor, idempotency: IdempotencyClaim | None = None
    ) -> IntakeResult:
        """``idempotency``: the request's Idempotency-Key claim, completed with what this
        contact wrote (released for a duplicate: nothing was written)."""
        inbound = known_by_conversation(without_controls(inbound))
        for attempt in range(ATTEMPTS):
            # Whatever the contact does (open a ticket, append to one, follow one up), its
            # write carries this message's key: a second delivery collides there and
            # writes nothing (an append is refused at once, CompanionTaken, not retried
            # as a lost race), and the next attempt finds it. So the first attempt does
            # not ask: a read saved per contact (issue 19).
            seen = self._ticket_of_message(inbound) if attempt else None
            if seen is not None:
                result = self.app.ticket_result(seen)
                if idempotency is not None:
                    # Nothing to remember: a retry is a duplicate again, answered the same.
                    # Kept, its replay could not tell "duplicate" from "appended" (both 200
                    # naming a message with this id), and the answer says which it was.
                    self.app.idempotency.release(idempotency)
                return IntakeResult("duplicate", result)
            try:
                return self._receive(inbound, actor, idempotency)
            except (IntegrityError, ConcurrentWriteConflict):
                # The same message arrived concurrently (its key collided) or another
                # save raced this one: look again.
                continue
        raise ConcurrentWriteConflict("the conversation kept changing; try again")

    def _receive(
        self, inbound: Inbound, actor: Actor, idempotency: IdempotencyClaim | None
    ) -> IntakeResult:
        named = self._ticket_named(inbound)
        if named is not None:
            try:
                return IntakeResult("appended", self._append(inbound, actor, named, idempotency))
            except (_NotToAppend, TicketNotFound):
                pass  # closed, or not what the reference claimed: the whole lookup decides
        ticket = self._ticket_of_thread(inbound)
        if ticket is None:
            return IntakeResult("opened", self._open(inbound, actor, None, idempotency))
        if ticket.status == "closed":
            return IntakeResult("followed_up", self._open(inbound, actor, ticket.id, idempotency))
        return IntakeResult("appended", self._append(inbound, actor, ticket, idempotency))

    def _append(
        self,
        inbound: Inbound,
        actor: Actor,
        to: Ticket | _Named,
        idempotency: IdempotencyClaim | None,
    ) -> CommandResult:
        """The contact as a customer message on the ticket: one already loaded, or one
        named by a reference, loaded by the command itself (with its SLA timers, in one
        read) and checked there: ``_NotToAppend`` if it is closed or does not hold the
        message the reference names, before anything is written."""

        def add_message(ticket: Ticket) -> None:
            if isinstance(to, _Named) and not to.fits(ticket):
                raise _NotToAppend()
            ticket.add_message(
                inbound.text,
                "customer",
                None,
                "public",
                inbound.channel,
                actor,
                attachments=inbound.attachments,
                external_id=inbound.message_id,
            )

        return self.app.change(
            to.id if isinstance(to, Ticket) else to.ticket_id,
            add_message,
            companions=lambda t: self._keys(inbound, t.id),
            idempotency=idempotency,
            loaded=to if isinstance(to, Ticket) else None,
        )

    def _open(
        self,
        inbound: Inbound,
        actor: Actor,
        follow_up_of: UUID | None,
        idempotency: IdempotencyClaim | None,
    ) -> CommandResult:
        return self.app.open_ticket(
            subject=inbound.subject or _subject_from(inbound.text),
            description=inbound.text,
            contact=inbound.contact,
            channel=inbound.channel,
            actor=actor,
            language=inbound.language,
            priority=inbound.priority,
            category=inbound.category,
            tags=inbound.tags,
            attachments=inbound.attachments,
            follow_up_of=follow_up_of,
            external_message_id=inbound.message_id,
            companions=lambda t: self._keys(inbound, t.id),
            idempotency=idempotency,
        )

    # Finding the ticket

    def _ticket_named(self, inbound: Inbound) -> _Named | None:
        """The ticket the first reference (or the conversation) names, from its thread key
        or our own message id alone, without loading the ticket: the append loads it, with
        its SLA timers, in the one read a command makes (issue 19: a reply made three
        reads, the key, the ticket, then the timers). Whatever the first name cannot settle
        (a closed ticket, a forged id, a name further down the list, a [#number]) is left
        to ``_ticket_of_thread``."""
        for reference in inbound.references:
            named = self._name_of_reference(inbound.channel, reference)
            if named is not None:
                return named
        return self._name_of_conversation(inbound)

    def _ticket_of_message(self, inbound: Inbound) -> UUID | None:
        if not inbound.message_id:
            return None
        key = self._key(inbound.channel, "message", inbound.message_id)
        return None if key is None else key.ticket_id

    def _ticket_of_thread(self, inbound: Inbound) -> Ticket | None:
        for reference in inbound.references:
            found = self._ticket_of_reference(inbound.channel, reference)
            if found is not None:
                return found
        conversation = self._name_of_conversation(inbound)
        if conversation is not None:
            return self._ticket(conversation.ticket_id)
        if inbound.ticket_number is not None:
            return self._ticket_by_number(inbound)
        return None

    def _ticket_of_reference(self, channel: str, reference: str) -> Ticket | None:
        named = self._name_of_reference(channel, reference)
        ticket = None if named is None else self._ticket(named.ticket_id)
        return ticket if ticket is not None and named.holds(ticket) else None

    def _name_of_reference(self, channel: str, reference: str) -> _Named | None:
        ours = parse_outbound_message_id(reference)
        if ours is not None:
            # One of our replies: it names its ticket; trust it only if the ticket really
            # sent that message (ids are easy to forge, message ids are random).
            return _Named(ours[0], must_hold=ours[1])
        key = self._key(channel, "message", reference)
        return None if key is None else _Named(key.ticket_id)

    def _name_of_conversation(self, inbound: Inbound) -> _Named | None:
        if not inbound.conversation_id:
            return None
        key = self._key(inbound.channel, "conversation", inbound.conversation_id)
        return None if key is None else _Named(key.ticket_id)

    def _ticket_by_number(self, inbound: Inbound) -> Ticket | None:
        """A [#123] token counts only from the ticket's own customer: anyone can type a
        number into a subject, and it must not put their mail into someone else's ticket."""
        ticket_id = self.app.ticket_by_number(inbound.ticket_number)
        ticket = None if ticket_id is None else self._ticket(ticket_id)
        if ticket is None:
            return None
        customer_id, _ = self.app.customers.resolve(inbound.contact)
        return ticket if ticket.customer_id == customer_id else None

    def _ticket(self, ticket_id: UUID) -> Ticket | None:
        try:
            return self.app.get_ticket(ticket_id)
        except TicketNotFound:
            return None

    # Thread keys

    def _key(self, channel: str, kind: str, key: str) -> ThreadKey | None:
        key_id = thread_key_id(self.app.customer_namespace, channel, kind, key)
        try:
            found = self.app.small_aggregates.get(key_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, ThreadKey) else None

    def _keys(self, inbound: Inbound, ticket_id: UUID) -> list[ThreadKey]:
        """Keys to save with the ticket: this message's, and the conversation's (new, or
        moved to a follow-up ticket)."""
        namespace, channel = self.app.customer_namespace, inbound.channel
        keys = []
        if inbound.message_id:
            message = inbound.message_id
            keys.append(ThreadKey.start(namespace, channel, "message", message, ticket_id))
        if inbound.conversation_id:
            conversation = inbound.conversation_id
            existing = self._key(channel, "conversation", conversation)
            if existing is None:
                key = ThreadKey.start(namespace, channel, "conversation", conversation, ticket_id)
                keys.append(key)
            elif existing.ticket_id != ticket_id:
                existing.move_to(ticket_id)
                keys.append(existing)
        return keys


@dataclass(frozen=True)
class _Named:
    """A ticket a reference names, and what it must hold to be the one meant."""

    ticket_id: UUID
    must_hold: UUID | None = None  # one of our replies: the ticket must have sent it

    def holds(self, ticket: Ticket) -> bool:
        return self.must_hold is None or ticket.has_message(self.must_hold)

    def fits(self, ticket: Ticket) -> bool:
        """The ticket to append to: the one meant, and open to messages."""
        return self.holds(ticket) and ticket.status != "closed"


class _NotToAppend(Exception):
    """The named ticket is closed or not the one meant: nothing was written."""


def without_controls(inbound: Inbound) -> Inbound:
    """The contact with control characters dropped (application.inbound_text) from
    every text an event will hold, whichever channel delivered it."""
    return replace(
        inbound,
        contact=clean_contact(inbound.contact),
        text=multi_line(inbound.text) or EMPTY_TEXT,
        subject=optional_line(inbound.subject),
        message_id=optional_line(inbound.message_id),
        conversation_id=optional_line(inbound.conversation_id),
        references=tuple(r for r in map(optional_line, inbound.references) if r),
        attachments=[clean_attachment(a) for a in inbound.attachments],
        category=optional_line(inbound.category),
        tags=[t for t in map(optional_line, inbound.tags) if t],
    )


def known_by_conversation(inbound: Inbound) -> Inbound:
    """On chat and web the conversation is one of the contact's identities: an anonymous
    visitor's only one, so their next ticket from it (a follow-up) finds the same
    customer; and a visitor who also gives an email or phone has the conversation claimed
    alongside it, so the two join. Elsewhere the channel's own identity (the From
    address, the caller's number, the handle) is what counts."""
    if inbound.channel not in ANONYMOUS_CHANNELS or not inbound.conversation_id:
        return inbound
    conversation = conversation_identity(inbound.channel, inbound.conversation_id)
    return replace(inbound, contact=replace(inbound.contact, conversation=conversation))


def _subject_from(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) > SUBJECT_FROM_TEXT:
        first = first[: SUBJECT_FROM_TEXT - 1].rstrip() + "…"
    return first or "(no subject)"
