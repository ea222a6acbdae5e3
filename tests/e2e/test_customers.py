"""One customer across channels, through the real server: every email, phone number and
social handle a contact gives is claimed by one customer, and GET
/v1/customers/{id}/tickets lists that customer's tickets from every channel.

Tickets here are in Aymara ("ay"), a language no agent here speaks; no test brings an
agent online.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from tests.e2e.api import Api
from tests.e2e.problems import assert_problem, nothing_stored

LANGUAGE = "ay"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def phone_digits() -> str:
    """Eight random digits for a São Paulo number nobody else in the session has."""
    return f"{random.randrange(10**8):08d}"


def open_ticket(api: Api, requester: dict[str, Any], channel: str = "email") -> dict[str, Any]:
    return api.open_ticket(requester=requester, channel=channel, language=LANGUAGE)


def intake(api: Api, channel: str, **body: Any) -> dict[str, Any]:
    body = {
        "conversation_id": unique("conv"),
        "text": "Llamo por mi factura",
        "language": LANGUAGE,
        **body,
    }
    response = api.post(f"/v1/intake/{channel}", body)
    assert response.status_code == 201, response.text
    return response.json()


def customer_tickets(reader: Api, customer_id: str, **params: Any) -> dict[str, Any]:
    response = reader.get(f"/v1/customers/{customer_id}/tickets", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_email_ticket_and_a_call_from_the_same_number_share_one_customer(api: Api):
    digits = phone_digits()
    email = f"{unique('ana')}@example.com"
    by_email = open_ticket(
        api, {"name": "Ana", "email": email, "phone": f"+55 11 {digits[:4]}-{digits[4:]}"}
    )
    call = intake(api, "phone", customer={"phone": f"+5511 {digits}"})

    assert call["customer_id"] == by_email["customer_id"]
    assert call["channel"] == "phone" and call["id"] != by_email["id"]
    stored = api.get(f"/v1/tickets/{call['id']}").json()
    assert stored["customer_id"] == by_email["customer_id"]

    listed = customer_tickets(api, by_email["customer_id"], after_position=call["position"])
    assert listed["customer_id"] == by_email["customer_id"]
    assert [t["id"] for t in listed["items"]] == [call["id"], by_email["id"]]  # newest first
    assert [t["channel"] for t in listed["items"]] == ["phone", "email"]
    assert all(t["customer_id"] == by_email["customer_id"] for t in listed["items"])
    assert listed["next_cursor"] is None


def test_a_social_contact_links_to_the_customer_who_gave_that_handle_before(api: Api):
    name = unique("mara")
    email = f"{name}@example.com"
    first = open_ticket(
        api, {"name": "Mara", "email": email, "handle": f"whatsapp:@{name}"}, channel="web"
    )
    # The network arrives in its own field, in any case; the handle is matched case-blind.
    dm = intake(api, "social", network="WhatsApp", customer={"handle": f"@{name.upper()}"})
    assert dm["customer_id"] == first["customer_id"]

    other_network = intake(api, "social", network="instagram", customer={"handle": f"@{name}"})
    assert other_network["customer_id"] != first["customer_id"]

    listed = customer_tickets(api, first["customer_id"], after_position=other_network["position"])
    assert [t["id"] for t in listed["items"]] == [dm["id"], first["id"]]


def test_a_new_email_given_with_a_known_phone_joins_that_customer_for_good(api: Api):
    digits = phone_digits()
    call = intake(api, "phone", customer={"phone": f"+55 11 {digits}", "name": "Rui"})
    new_email = f"{unique('rui')}@example.com"
    chat = intake(api, "chat", customer={"email": new_email, "phone": f"+55 (11) {digits}"})
    assert chat["customer_id"] == call["customer_id"]

    # The email is now the customer's: on its own it finds them.
    later = open_ticket(api, {"name": "Rui", "email": new_email.upper()})
    assert later["customer_id"] == call["customer_id"]

    listed = customer_tickets(api, call["customer_id"], after_position=later["position"])
    assert [t["id"] for t in listed["items"]] == [later["id"], chat["id"], call["id"]]


def test_different_contacts_are_different_customers(api: Api):
    one = open_ticket(api, {"name": "Uno", "email": f"{unique('uno')}@example.com"})
    two = open_ticket(api, {"name": "Dos", "email": f"{unique('dos')}@example.com"})
    assert one["customer_id"] != two["customer_id"]
    listed = customer_tickets(api, one["customer_id"], after_position=two["position"])
    assert [t["id"] for t in listed["items"]] == [one["id"]]


def test_a_customers_tickets_page_with_a_cursor_and_filter_by_status(api: Api):
    requester = {"name": "Lia", "email": f"{unique('lia')}@example.com"}
    opened = [open_ticket(api, requester) for _ in range(3)]
    resolved = api.command(opened[0]["id"], "resolve", {"resolution": "ok"})
    assert resolved.status_code == 200
    customer = opened[0]["customer_id"]
    position = resolved.json()["position"]

    first_page = customer_tickets(api, customer, limit=2, after_position=position)
    assert [t["id"] for t in first_page["items"]] == [opened[2]["id"], opened[1]["id"]]
    assert first_page["next_cursor"]
    second_page = customer_tickets(api, customer, limit=2, cursor=first_page["next_cursor"])
    assert [t["id"] for t in second_page["items"]] == [opened[0]["id"]]
    assert second_page["next_cursor"] is None

    only_resolved = customer_tickets(api, customer, status="resolved", after_position=position)
    assert [(t["id"], t["status"]) for t in only_resolved["items"]] == [
        (opened[0]["id"], "resolved")
    ]


def test_an_unknown_customer_has_no_tickets(api: Api):
    listed = customer_tickets(api, str(uuid.uuid4()))
    assert listed["items"] == [] and listed["next_cursor"] is None


@pytest.mark.parametrize("role", ["admin", "agent", "integrator", "auditor"])
def test_ticket_readers_may_list_a_customers_tickets(api: Api, api_as, role):
    ticket = open_ticket(api, {"name": "Eva", "email": f"{unique('eva')}@example.com"})
    listed = customer_tickets(
        api_as(role), ticket["customer_id"], after_position=ticket["position"]
    )
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]


def test_an_analyst_may_not_list_a_customers_tickets(api_as):
    assert_problem(api_as("analyst").get(f"/v1/customers/{uuid.uuid4()}/tickets"), 403)


def test_listing_a_customers_tickets_needs_a_token(api_as):
    assert_problem(api_as(None).get(f"/v1/customers/{uuid.uuid4()}/tickets"), 401)


@pytest.mark.parametrize("customer", ["not-a-uuid", "123", "ana@example.com"])
def test_a_customer_id_that_is_not_a_uuid_is_404(api: Api, customer):
    assert_problem(api.get(f"/v1/customers/{customer}/tickets"), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "muchos"}, "limit"),
        ({"status": "archived"}, "status"),
        ({"after_position": -1}, "after_position"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"sort": "number"}, "sort"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_customer_tickets_query_is_422_naming_the_parameter(
    api: Api, auditor: Api, params, field
):
    with nothing_stored(auditor):
        response = api.get(f"/v1/customers/{uuid.uuid4()}/tickets", params=params)
    assert_problem(response, 422, field)


def test_a_cursor_from_another_customer_is_refused(api: Api):
    requester = {"name": "Ona", "email": f"{unique('ona')}@example.com"}
    tickets = [open_ticket(api, requester) for _ in range(2)]
    page = customer_tickets(
        api, tickets[0]["customer_id"], limit=1, after_position=tickets[-1]["position"]
    )
    assert page["next_cursor"]
    other = api.get(f"/v1/customers/{uuid.uuid4()}/tickets", params={"cursor": page["next_cursor"]})
    assert_problem(other, 422, "cursor")


# Erasure: no former identity leads to the erased customer, and whoever writes in with
# one again is a new customer, unlinked from the erased history.


def erase(api_as, customer_id: str) -> int:
    erased = api_as("admin").post(f"/v1/customers/{customer_id}/erase", {})
    assert erased.status_code == 200, erased.text
    return erased.json()["position"]


def tickets_by_email(reader: Api, email: str, after_position: int) -> list[str]:
    params = {"requester_email": email, "after_position": after_position}
    response = reader.get("/v1/tickets", params=params)
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


def queue_items(reader: Api, category: str, after_position: int) -> list[dict[str, Any]]:
    params = {"category": category, "after_position": after_position}
    response = reader.get("/v1/queue", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_an_erased_customers_former_email_finds_no_tickets(api: Api, api_as):
    email, category = f"{unique('borrada')}@example.com", unique("cat")
    requester = {"name": "Carla Borrada", "email": email}
    opened = api.open_ticket(requester=requester, language=LANGUAGE, category=category)
    assert tickets_by_email(api, email, opened["position"]) == [opened["id"]]
    [shown] = queue_items(api, category, opened["position"])
    assert shown["requester_name"] == "Carla Borrada"

    position = erase(api_as, opened["customer_id"])

    for reader in (api, api_as("auditor"), api_as("admin")):
        assert tickets_by_email(reader, email, position) == []
        assert tickets_by_email(reader, email.upper(), position) == []
    # The live queue scrubbed every copy it held, not only the subject.
    [scrubbed] = queue_items(api, category, position)
    assert scrubbed["requester_name"] == scrubbed["subject"] == "[erased]"


def test_a_customer_writing_again_after_erasure_is_a_new_customer(api: Api, api_as):
    email, digits = f"{unique('vuelve')}@example.com", phone_digits()
    phone = f"+55 11 {digits}"
    erased = open_ticket(api, {"name": "Carla", "email": email, "phone": phone})
    erase(api_as, erased["customer_id"])

    again = open_ticket(api, {"name": "Carla de nuevo", "email": email.upper()})

    assert again["customer_id"] != erased["customer_id"]
    assert again["requester"]["name"] == "Carla de nuevo"  # a fresh key, not the erased one
    assert tickets_by_email(api, email, again["position"]) == [again["id"]]
    listed = customer_tickets(api, again["customer_id"], after_position=again["position"])
    assert [t["id"] for t in listed["items"]] == [again["id"]]
    # The phone given before, on its own, leads to neither of them.
    call = intake(api, "phone", customer={"phone": phone})
    assert call["customer_id"] not in (erased["customer_id"], again["customer_id"])
