"""Anonymous chat and web visitors on a real store (SQLite and PostgreSQL): the
conversation is their identity, claimed with the ticket it opens, found again by the
next ticket from the same conversation, joined by the email they give later, and
released by their erasure."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.intake import Inbound, Intake, IntakeResult
from domain.customer import Contact, CustomerIdentity, derived_customer_id, identity_id
from domain.personal import ERASED, Personal
from infrastructure.crypto import ErasedCustomerError
from tests.integration.builders import AGENT, INTEGRATOR, open_ticket
from tests.integration.test_erasure_views_and_identities import customer_of, erase

VISITOR = Contact(name="Visitante")  # what a chat widget knows before the visitor says more


def chat(atende, conversation: str, text: str = "¿Hacen envíos a Arica?", **contact: str):
    return receive(atende, "chat", conversation, text, **contact)


def receive(atende, channel: str, conversation: str, text: str, **contact: str) -> IntakeResult:
    given = Contact(name=contact.pop("name", VISITOR.name), **contact)
    inbound = Inbound(channel=channel, contact=given, text=text, conversation_id=conversation)
    return Intake(atende.tickets).receive(inbound, INTEGRATOR)


def claim(atende, kind: str, value: str) -> CustomerIdentity:
    found = atende.tickets.repository.get(
        identity_id(atende.tickets.customer_namespace, kind, value)
    )
    assert isinstance(found, CustomerIdentity)
    return found


def close(atende, ticket_id: UUID) -> None:
    atende.tickets.change(ticket_id, lambda t: t.resolve("respondido", AGENT))
    atende.tickets.change(ticket_id, lambda t: t.close(AGENT))


def topics(atende, start: int, end: int) -> list[str]:
    written = atende.tickets.recorder.select_notifications(start=start, limit=end - start + 1)
    return [n.topic.split(":")[-1] for n in written]


def test_an_anonymous_chat_visitor_opens_a_ticket_and_their_conversation_is_claimed(atende):
    head = atende.tickets.head_position()
    opened = chat(atende, "conv-1")

    assert opened.outcome == "opened"
    ticket = atende.tickets.get_ticket(opened.result.ticket.id)
    namespace = atende.tickets.customer_namespace
    assert ticket.customer_id == derived_customer_id(namespace, "conversation", "chat:conv-1")
    assert ticket.requester["conversation"] == Personal(ticket.customer_id, "chat:conv-1")
    assert ticket.requester["name"].text == "Visitante" and ticket.requester["email"] is None
    stored = claim(atende, "conversation", "chat:conv-1")
    assert (stored.kind, stored.owner) == ("conversation", ticket.customer_id)
    # The claim is saved with the ticket, in its transaction.
    assert "CustomerIdentity.Claimed" in topics(atende, head + 1, opened.result.position)


def test_the_next_message_of_the_conversation_joins_the_same_ticket(atende):
    first = chat(atende, "conv-1").result.ticket
    again = chat(atende, "conv-1", "¿Y a Punta Arenas?")
    assert again.outcome == "appended"
    assert again.result.ticket.id == first.id
    bodies = [m["body"].text for m in atende.tickets.get_ticket(first.id).messages]
    assert bodies[-1] == "¿Y a Punta Arenas?"


def test_the_conversation_after_its_ticket_closed_opens_a_follow_up_for_the_same_customer(atende):
    first = chat(atende, "conv-1").result.ticket
    close(atende, first.id)

    later = chat(atende, "conv-1", "Otra pregunta")

    assert later.outcome == "followed_up"
    assert later.result.ticket.id != first.id
    assert later.result.ticket.customer_id == first.customer_id


def test_another_conversation_is_another_visitor_and_so_is_the_same_id_on_the_web(atende):
    first = chat(atende, "conv-1").result.ticket
    assert chat(atende, "conv-2").result.ticket.customer_id != first.customer_id
    on_the_web = receive(atende, "web", "conv-1", "Formulario").result.ticket
    assert on_the_web.customer_id != first.customer_id
    assert claim(atende, "conversation", "web:conv-1").owner == on_the_web.customer_id


def test_an_email_given_later_in_the_conversation_joins_the_visitors_claims(atende):
    first = chat(atende, "conv-1").result.ticket
    close(atende, first.id)

    later = chat(atende, "conv-1", "Soy Lía", name="Lía", email="lia@example.com")

    assert later.result.ticket.customer_id == first.customer_id
    assert claim(atende, "email", "lia@example.com").owner == first.customer_id
    # So her next email is the same customer, on any channel.
    by_email = open_ticket(atende, contact=Contact(name="Lía", email="lia@example.com"))
    assert by_email.ticket.customer_id == first.customer_id


def test_a_visitor_who_gives_an_email_at_once_has_both_claimed_for_that_emails_customer(atende):
    opened = chat(atende, "conv-1", email="lia@example.com").result.ticket
    namespace = atende.tickets.customer_namespace
    assert opened.customer_id == derived_customer_id(namespace, "email", "lia@example.com")
    assert claim(atende, "conversation", "chat:conv-1").owner == opened.customer_id
    assert claim(atende, "email", "lia@example.com").owner == opened.customer_id


def test_an_email_another_customer_holds_keeps_its_owner_and_no_customers_merge(atende):
    known = open_ticket(atende, contact=Contact(name="Lía", email="lia@example.com")).ticket
    anonymous = chat(atende, "conv-1").result.ticket
    close(atende, anonymous.id)

    later = chat(atende, "conv-1", "Soy Lía", email="lia@example.com")

    # The strongest identity decides: the follow-up is the known customer's.
    assert later.result.ticket.customer_id == known.customer_id
    assert claim(atende, "email", "lia@example.com").owner == known.customer_id
    assert claim(atende, "conversation", "chat:conv-1").owner == anonymous.customer_id


def test_erasing_an_anonymous_visitor_releases_their_conversation_with_the_erasure(atende):
    opened = chat(atende, "conv-1").result.ticket
    customer = opened.customer_id
    assert customer_of(atende, conversation="chat:conv-1") == customer

    position = erase(atende, customer)

    assert topics(atende, position - 1, position) == [
        "CustomerIdentity.Released",
        "CustomerErasure.Erased",
    ]
    assert customer_of(atende, conversation="chat:conv-1") is None
    assert claim(atende, "conversation", "chat:conv-1").released
    assert atende.tickets.get_ticket(opened.id).requester["conversation"].text == ERASED


def test_an_erased_visitor_who_later_gave_an_email_has_both_released(atende):
    first = chat(atende, "conv-1").result.ticket
    close(atende, first.id)
    chat(atende, "conv-1", "Soy Lía", email="lia@example.com")

    erase(atende, first.customer_id)

    assert customer_of(atende, conversation="chat:conv-1") is None
    assert customer_of(atende, email="lia@example.com") is None
    # Whoever writes from the address next is a new customer.
    again = open_ticket(atende, contact=Contact(name="Lía", email="lia@example.com"))
    assert again.ticket.customer_id != first.customer_id


def test_an_erased_visitors_conversation_stores_nothing_more(atende):
    opened = chat(atende, "conv-1").result.ticket
    erase(atende, opened.customer_id)
    head = atende.tickets.head_position()

    with pytest.raises(ErasedCustomerError):
        chat(atende, "conv-1", "¿Siguen ahí?")

    assert atende.tickets.head_position() == head
