"""The ticket list through the real server and its projector: search by requester,
external reference, status and subject, pages, read-your-writes, and bad input."""

from __future__ import annotations

import uuid

import pytest

from domain.actor import ROLES
from interface.http.middleware.auth import TICKET_READERS
from tests.e2e.api import Api, agent_id
from tests.e2e.problems import assert_problem

ITEM_FIELDS = {
    "id", "number", "subject", "status", "priority", "channel", "language", "category",
    "assignee", "external_ref", "customer_id", "created_at", "updated_at", "resolved_at",
    "closed_at",
}  # fmt: skip


def tickets(api: Api, **params) -> dict:
    response = api.get("/v1/tickets", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def found(api: Api, **params) -> list[str]:
    return [item["id"] for item in tickets(api, **params)["items"]]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def requester(email: str) -> dict:
    return {"name": "Ana Souza", "email": email}


def test_a_new_ticket_is_listed_when_read_after_its_position(api: Api):
    ref = unique("crm-")
    ticket = api.open_ticket(external_ref=ref, category="red", language="pt-BR")
    page = tickets(api, external_ref=ref, after_position=ticket["position"])
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert set(item) == ITEM_FIELDS
    assert (item["id"], item["number"], item["customer_id"]) == (
        ticket["id"], ticket["number"], ticket["customer_id"],
    )  # fmt: skip
    assert (item["subject"], item["status"], item["external_ref"]) == (
        "Sin conexión desde ayer", "new", ref,
    )  # fmt: skip
    assert item["created_at"] == item["updated_at"]
    assert "ana@example.com" not in str(item)


def test_a_requester_finds_their_tickets_by_email_in_any_case(api: Api):
    email = f"{unique('ana.')}@example.com"
    first = api.open_ticket(requester=requester(email))["id"]
    api.open_ticket(requester=requester(f"other.{email}"))
    last = api.open_ticket(requester=requester(email.upper()))
    page = found(api, requester_email=email.title(), after_position=last["position"])
    assert page == [last["id"], first]


def test_the_list_follows_commands_and_keeps_closed_tickets(api: Api, api_as):
    email = f"{unique('st.')}@example.com"
    opened = [api.open_ticket(requester=requester(email))["id"] for _ in range(4)]
    agent = api_as("agent")
    agent.command(opened[0], "assign", {"agent_id": agent_id("maria")})
    agent.command(opened[1], "status", {"status": "pending"})
    agent.command(opened[2], "resolve", {})
    last = agent.command(opened[2], "close").json()
    wait = {"requester_email": email, "after_position": last["position"]}
    page = tickets(api, **wait)["items"]
    assert [(i["id"], i["status"]) for i in page] == list(
        zip(reversed(opened), ["new", "closed", "pending", "open"], strict=True)
    )
    closed = page[1]
    assert closed["closed_at"] == closed["updated_at"] and closed["resolved_at"] is not None
    for status, expected in [("closed", [opened[2]]), ("open", [opened[0]]), ("resolved", [])]:
        assert found(api, **wait, status=status) == expected, status


def test_a_status_alone_lists_only_tickets_in_that_status(api: Api):
    ticket = api.open_ticket()
    done = api.command(ticket["id"], "resolve", {}).json()
    page = tickets(api, status="resolved", limit=200, after_position=done["position"])
    assert ticket["id"] in [i["id"] for i in page["items"]]
    assert {i["status"] for i in page["items"]} == {"resolved"}


def test_q_finds_subjects_case_insensitively_with_wildcards_taken_literally(api: Api):
    word = unique("Módem")
    wanted = api.open_ticket(subject=f"El {word} 100%_roto")["id"]
    other = api.open_ticket(subject=f"Otro {word} 1000 roto")
    wait = {"after_position": other["position"]}
    assert found(api, **wait, q=word.upper()) == [other["id"], wanted]
    assert found(api, **wait, q=f"{word} 100%_") == [wanted]
    assert found(api, **wait, q=f"{word} 10%") == []
    assert found(api, **wait, q=f"{word} 1_00") == []


def test_filters_combine(api: Api):
    email, word = f"{unique('mix.')}@example.com", unique("factura")
    ref = unique("crm-")
    match = api.open_ticket(requester=requester(email), subject=f"{word} doble", external_ref=ref)
    api.open_ticket(requester=requester(email), subject="Otra cosa")
    api.open_ticket(subject=f"{word} triple")
    last = api.command(match["id"], "assign", {"agent_id": agent_id("maria")}).json()
    wait = {"requester_email": email, "after_position": last["position"]}
    assert found(api, **wait, q=word) == [match["id"]]
    assert found(api, **wait, q=word, status="open", external_ref=ref) == [match["id"]]
    assert found(api, **wait, q=word, status="new") == []
    assert found(api, **wait, external_ref=unique("crm-")) == []


def test_pages_of_the_list_chain_through_next_cursor(api: Api):
    email = f"{unique('pg.')}@example.com"
    opened = [api.open_ticket(requester=requester(email)) for _ in range(5)]
    query = {"requester_email": email, "limit": 2}
    seen, params = [], {**query, "after_position": opened[-1]["position"]}
    while True:
        page = tickets(api, **params)
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {**query, "cursor": page["next_cursor"]}
    assert seen == [t["id"] for t in reversed(opened)]


def test_a_page_holds_fifty_unless_a_limit_is_given(api: Api):
    email = f"{unique('many.')}@example.com"
    opened = [api.open_ticket(requester=requester(email)) for _ in range(51)]
    query = {"requester_email": email, "after_position": opened[-1]["position"]}
    page = tickets(api, **query)
    assert len(page["items"]) == 50 and page["next_cursor"] is not None
    rest = found(api, requester_email=email, cursor=page["next_cursor"])
    assert rest == [opened[0]["id"]]
    assert len(found(api, **query, limit=200)) == 51


@pytest.mark.parametrize("role", TICKET_READERS)
def test_ticket_readers_may_list_tickets(api_as, role):
    assert api_as(role).get("/v1/tickets").status_code == 200


@pytest.mark.parametrize("role", sorted(set(ROLES) - set(TICKET_READERS)))
def test_other_roles_may_not_list_tickets(api_as, role):
    assert_problem(api_as(role).get("/v1/tickets"), 403)


def test_the_list_needs_a_token(api_as):
    assert_problem(api_as(None).get("/v1/tickets"), 401)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "bogus"}, "status"),
        ({"status": "Closed"}, "status"),
        ({"q": "x"}, "q"),
        ({"q": ""}, "q"),
        ({"q": "  "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"requester_email": "not-an-email"}, "requester_email"),
        ({"external_ref": ""}, "external_ref"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJrIjpbMSwyXSwiZiI6IngifQ"}, "cursor"),  # {"k":[1,2],"f":"x"}
        ({"after_position": "abc"}, "after_position"),
        ({"after_position": -1}, "after_position"),
        ({"after_position": 10**12}, "after_position"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_list_query_is_422_naming_the_parameter(api: Api, params, field):
    assert_problem(api.get("/v1/tickets", params=params), 422, field)


def test_a_cursor_from_another_query_is_refused(api: Api):
    email = f"{unique('cur.')}@example.com"
    last = [api.open_ticket(requester=requester(email)) for _ in range(2)][-1]
    page = tickets(api, requester_email=email, limit=1, after_position=last["position"])
    cursor = page["next_cursor"]
    for other in ({"requester_email": f"x{email}"}, {}, {"requester_email": email, "q": "ab"}):
        assert_problem(api.get("/v1/tickets", params={**other, "cursor": cursor}), 422, "cursor")
    queue = api.get("/v1/queue", params={"limit": 1, "after_position": last["position"]})
    queue_cursor = queue.json()["next_cursor"]
    assert_problem(api.get("/v1/tickets", params={"cursor": queue_cursor}), 422, "cursor")
