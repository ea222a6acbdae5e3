"""Anonymous chat and web visitors through the real server: a visitor known only by a
name (or nothing) and a conversation opens a ticket; the conversation is their identity,
so the same conversation is the same customer, and an email given later joins it.
Anonymity stays refused where it makes no sense (email, phone, social), and every bad
conversation id is a 422 that stores nothing.

Tickets here are in Nahuatl ("nah"), a language no agent of any test speaks: waiting
tickets here must not take the capacity of agents other tests bring online (routing uses
"gn", customers "ay", agents "qu", deactivation "yua"); no test brings an
agent online.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import assert_problem, head, nothing_stored

LANGUAGE = "nah"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def visit(api: Api, channel: str, conversation: str, status: int = 201, **body: Any):
    body = {"conversation_id": conversation, "text": "¿Hacen envíos?", "language": LANGUAGE, **body}
    response = api.post(f"/v1/intake/{channel}", body)
    assert response.status_code == status, response.text
    return response.json()


def events_since(auditor: Api, position: int) -> list[tuple[str, str]]:
    response = auditor.get("/v1/events", params={"after": position, "limit": 1000})
    assert response.status_code == 200, response.text
    return [(e["aggregate_type"], e["type"]) for e in response.json()["events"]]


def customer_tickets(reader: Api, customer_id: str, after_position: int) -> list[str]:
    # The list is a view: wait until it has seen the write.
    params = {"after_position": after_position}
    response = reader.get(f"/v1/customers/{customer_id}/tickets", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def close(api: Api, ticket_id: str) -> None:
    assert api.command(ticket_id, "resolve", {"resolution": "listo"}).status_code == 200
    assert api.command(ticket_id, "close").status_code == 200


@pytest.mark.parametrize("channel", ["chat", "web"])
def test_a_visitor_with_no_contact_at_all_opens_a_ticket_known_by_the_conversation(
    api: Api, auditor: Api, channel
):
    conversation = unique("conv")
    before = head(auditor)

    doc = visit(api, channel, conversation)

    assert doc["intake"]["outcome"] == "opened" and doc["channel"] == channel
    assert doc["requester"]["conversation"] == f"{channel}:{conversation}"
    assert doc["requester"]["email"] is None and doc["requester"]["phone"] is None
    stored = events_since(auditor, before)
    # The conversation's claim is saved with the ticket, beside its thread key.
    assert stored == [
        ("customer_identity", "claimed"),
        ("thread_key", "started"),
        ("ticket", "opened"),
    ]
    assert customer_tickets(api, doc["customer_id"], doc["position"]) == [doc["id"]]


def test_a_chat_visitor_known_only_by_name_keeps_one_ticket_and_one_customer(api: Api):
    conversation = unique("conv")
    first = visit(api, "chat", conversation, customer={"name": "Visitante"})
    assert first["requester"]["name"] == "Visitante"

    again = visit(api, "chat", conversation, 200, text="¿Y a Asunción?")
    assert again["intake"]["outcome"] == "appended" and again["id"] == first["id"]

    close(api, first["id"])
    later = visit(api, "chat", conversation, text="Otra pregunta")
    assert later["intake"]["outcome"] == "followed_up" and later["id"] != first["id"]
    assert later["customer_id"] == first["customer_id"]
    listed = customer_tickets(api, first["customer_id"], later["position"])
    assert set(listed) == {first["id"], later["id"]}


def test_an_email_given_later_in_the_conversation_joins_the_visitor(api: Api):
    conversation, email = unique("conv"), f"{unique('lia')}@example.com"
    anonymous = visit(api, "chat", conversation)
    close(api, anonymous["id"])

    named = visit(api, "chat", conversation, customer={"name": "Lía", "email": email})
    assert named["customer_id"] == anonymous["customer_id"]

    # Her next email is the same customer.
    by_email = api.open_ticket(requester={"name": "Lía", "email": email}, language=LANGUAGE)
    assert by_email["customer_id"] == anonymous["customer_id"]


def test_a_ticket_opened_through_the_api_for_a_chat_conversation_is_its_visitors(api: Api):
    conversation = unique("conv")
    from_the_widget = visit(api, "chat", conversation)
    opened = api.open_ticket(
        requester={"name": "Visitante", "conversation_id": conversation},
        channel="chat",
        language=LANGUAGE,
    )
    assert opened["requester"]["conversation"] == f"chat:{conversation}"
    assert opened["customer_id"] == from_the_widget["customer_id"]
    # The same id on the web is another conversation, so another visitor.
    on_the_web = api.open_ticket(
        requester={"name": "Visitante", "conversation_id": conversation},
        channel="web",
        language=LANGUAGE,
    )
    assert on_the_web["customer_id"] != from_the_widget["customer_id"]


def test_an_erased_visitors_conversation_leads_to_nobody(api: Api, api_as):
    conversation = unique("conv")
    erased = visit(api, "chat", conversation)
    answer = api_as("admin").post(f"/v1/customers/{erased['customer_id']}/erase", {})
    assert answer.status_code == 200, answer.text

    # Through the API the same conversation is a new customer, unlinked from the erased one.
    # (Reading the erased ticket is left to the integration tests: another worker may
    # hold the destroyed key in its cache for a moment, see infrastructure/crypto.py.)
    again = api.open_ticket(
        requester={"name": "Visitante", "conversation_id": conversation},
        channel="chat",
        language=LANGUAGE,
    )
    assert again["customer_id"] != erased["customer_id"]
    assert again["requester"]["conversation"] == f"chat:{conversation}"  # a fresh key


# Bad inputs: each is a 422 naming the field, and nothing is stored.

LONG = "c" * 201
BAD_CONVERSATION_IDS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param(LONG, id="oversized"),
    pytest.param("conv\x00", id="nul"),
    pytest.param("conv\n1", id="newline"),
    pytest.param("conv\x1b[31m", id="escape"),
    pytest.param("conv\x85", id="c1-control"),
    pytest.param(42, id="not-a-string"),
]


@pytest.mark.parametrize("channel", ["chat", "web"])
@pytest.mark.parametrize("conversation", BAD_CONVERSATION_IDS)
def test_a_bad_conversation_id_on_intake_is_422_naming_it(
    api: Api, auditor: Api, channel, conversation
):
    body = {"conversation_id": conversation, "text": "hola", "customer": {"name": "V"}}
    with nothing_stored(auditor):
        assert_problem(api.post(f"/v1/intake/{channel}", body), 422, "conversation_id")


@pytest.mark.parametrize("conversation", BAD_CONVERSATION_IDS)
def test_a_bad_conversation_id_on_a_new_ticket_is_422_naming_it(
    api: Api, auditor: Api, conversation
):
    body = ticket_body(channel="chat", requester={"name": "V", "conversation_id": conversation})
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", body), 422, "requester.conversation_id")


@pytest.mark.parametrize(
    ("channel", "body", "field"),
    [
        pytest.param("chat", {"text": "hola"}, "conversation_id", id="chat-nothing"),
        pytest.param(
            "chat", {"text": "hola", "customer": {"name": "V"}}, "conversation_id", id="chat-name"
        ),
        pytest.param("web", {"text": "hola"}, "customer", id="web-nothing"),
        pytest.param("web", {"text": "hola", "customer": {"name": "V"}}, "customer", id="web-name"),
        pytest.param(
            "phone",
            {"text": "hola", "conversation_id": "call-1", "customer": {"name": "V"}},
            "customer.phone",
            id="phone-anonymous",
        ),
        pytest.param(
            "social",
            {"text": "hola", "conversation_id": "dm-1", "network": "x", "customer": {"name": "V"}},
            "customer.handle",
            id="social-anonymous",
        ),
    ],
)
def test_a_contact_with_neither_identity_nor_conversation_is_422_naming_the_missing_field(
    api: Api, auditor: Api, channel, body, field
):
    with nothing_stored(auditor):
        assert_problem(api.post(f"/v1/intake/{channel}", body), 422, field)


@pytest.mark.parametrize(
    ("channel", "requester", "field"),
    [
        pytest.param(
            "email",
            {"name": "V", "conversation_id": "conv-1"},
            "requester.conversation_id",
            id="email-anonymous",
        ),
        pytest.param(
            "phone",
            {"name": "V", "conversation_id": "conv-1"},
            "requester.conversation_id",
            id="phone-anonymous",
        ),
        pytest.param(
            "email",
            {"name": "V", "email": "v@example.com", "conversation_id": "conv-1"},
            "requester.conversation_id",
            id="email-with-a-conversation",
        ),
        pytest.param("email", {"name": "V"}, "requester", id="email-nothing"),
        pytest.param("chat", {"name": "V"}, "requester", id="chat-nothing"),
    ],
)
def test_a_new_ticket_anonymous_where_anonymity_makes_no_sense_is_422_naming_it(
    api: Api, auditor: Api, channel, requester, field
):
    body = ticket_body(channel=channel, requester=requester)
    with nothing_stored(auditor):
        assert_problem(api.post("/v1/tickets", body), 422, field)
