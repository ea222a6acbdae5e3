"""An anonymous chat or web visitor: the conversation, scoped by its channel, is their
identity until they give another, and the weakest one when they do."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.intake import Inbound, known_by_conversation
from domain.customer import (
    ANONYMOUS_CHANNELS,
    Contact,
    NoContactError,
    conversation_identity,
    derived_customer_id,
)
from domain.personal import Personal

NS = UUID(int=1)


def visitor(conversation_id: str = "conv-1", channel: str = "chat", **fields: str) -> Contact:
    return Contact(
        name="Visitante", conversation=conversation_identity(channel, conversation_id), **fields
    )


def test_a_visitor_known_only_by_their_conversation_is_a_customer() -> None:
    anonymous = visitor()
    assert anonymous.identities() == [("conversation", "chat:conv-1")]
    assert anonymous.customer_id(NS) == derived_customer_id(NS, "conversation", "chat:conv-1")
    assert visitor().customer_id(NS) == anonymous.customer_id(NS)
    assert visitor("conv-2").customer_id(NS) != anonymous.customer_id(NS)


def test_the_same_conversation_id_on_another_channel_is_another_visitor() -> None:
    assert conversation_identity("chat", "abc") != conversation_identity("web", "abc")
    assert visitor("abc", "chat").customer_id(NS) != visitor("abc", "web").customer_id(NS)


def test_the_conversation_id_is_trimmed_but_otherwise_kept_as_given() -> None:
    assert conversation_identity("chat", "  Conv-1 ") == "chat:Conv-1"
    assert visitor("Conv-1").customer_id(NS) != visitor("conv-1").customer_id(NS)


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ({"email": "ana@example.com"}, "email"),
        ({"phone": "+56 9 1234 5678"}, "phone"),
        ({"handle": "x:@ana"}, "social"),
        ({"external_id": "crm-1"}, "external"),
    ],
)
def test_any_other_identity_is_stronger_than_the_conversation(given, kind) -> None:
    both = visitor(**given)
    assert both.identities()[0][0] == kind and both.identities()[-1][0] == "conversation"
    assert both.customer_id(NS) == Contact(name="Ana", **given).customer_id(NS)


def test_a_contact_with_neither_identity_nor_conversation_is_refused() -> None:
    with pytest.raises(NoContactError):
        Contact(name="Nadie").customer_id(NS)
    with pytest.raises(NoContactError):
        Contact(name="Nadie", conversation="   ").customer_id(NS)


def test_the_requester_keeps_the_conversation_owned_by_the_customer() -> None:
    anonymous = visitor()
    owner = anonymous.customer_id(NS)
    personal = anonymous.as_personal(owner)
    assert personal["conversation"] == Personal(owner, "chat:conv-1")
    assert personal["name"] == Personal(owner, "Visitante")
    assert personal["email"] is None
    # A requester without a conversation keeps the shape requesters always had.
    assert "conversation" not in Contact(name="Ana", email="a@example.com").as_personal(owner)


def inbound(channel: str, conversation_id: str | None, **contact: str) -> Inbound:
    return Inbound(
        channel=channel,
        contact=Contact(name="Visitante", **contact),
        text="hola",
        conversation_id=conversation_id,
    )


@pytest.mark.parametrize("channel", ANONYMOUS_CHANNELS)
def test_on_chat_and_web_the_conversation_becomes_an_identity(channel) -> None:
    known = known_by_conversation(inbound(channel, "conv-9")).contact
    assert known.conversation == f"{channel}:conv-9"
    assert known.identities() == [("conversation", f"{channel}:conv-9")]
    # Given with an email, both are identities: they are claimed together.
    both = known_by_conversation(inbound(channel, "conv-9", email="a@example.com")).contact
    assert [kind for kind, _ in both.identities()] == ["email", "conversation"]


@pytest.mark.parametrize("channel", ["email", "phone", "social"])
def test_elsewhere_the_conversation_is_only_a_thread(channel) -> None:
    given = inbound(channel, "conv-9", phone="+56 9 1234 5678")
    assert known_by_conversation(given) == given


def test_without_a_conversation_nothing_is_added() -> None:
    given = inbound("web", None, email="a@example.com")
    assert known_by_conversation(given) == given
