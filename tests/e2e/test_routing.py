"""Routing through the real server: the projector process assigns tickets to online
agents who speak the ticket's language; language detection fills a missing language.

Routing tests use Guarani ("gn"), which no other test's tickets or agents speak, so the
router can only ever match this module's agents with this module's tickets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.e2e.api import Api, acting_as

BOUND_SECONDS = 20.0


def wait_until(condition: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + BOUND_SECONDS
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not within {BOUND_SECONDS:.0f} s"
        time.sleep(0.05)
    return result


def register(admin: Api, **overrides: Any) -> str:
    body = {
        "name": "Arandu",
        "email": f"{uuid.uuid4().hex}@agents.example",
        "languages": ["gn"],
        "generalist": True,
        "capacity": 2,
    }
    body.update(overrides)
    response = admin.post("/v1/agents", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def availability(api: Api, agent: str, value: str) -> None:
    response = api.post(f"/v1/agents/{agent}/availability", {"availability": value})
    assert response.status_code == 200, response.text


def assignee(api: Api, ticket: str) -> str | None:
    return api.get(f"/v1/tickets/{ticket}").json()["assignee"]


def test_the_router_assigns_waiting_tickets_when_an_agent_comes_online(api_as, api: Api):
    admin = api_as("admin")
    agent = register(admin, capacity=2)
    agent_api = acting_as(admin, agent)
    tickets = [api.open_ticket(language="gn")["id"] for _ in range(3)]
    try:
        availability(agent_api, agent, "online")
        wait_until(lambda: sum(assignee(api, t) == agent for t in tickets) == 2)
        time.sleep(0.5)
        assert [assignee(api, t) for t in tickets] == [agent, agent, None]  # capacity 2
        events = api.get(f"/v1/tickets/{tickets[0]}/history").json()["events"]
        assigned = events[-1]
        assert assigned["type"] == "assigned" and assigned["actor"]["role"] == "system"
        assert assigned["data"]["reason"]["language"] == "gn"
        listed = admin.get("/v1/agents", params={"language": "gn", "availability": "online"})
        assert {"id": agent, "load": 2} in [
            {"id": a["id"], "load": a["load"]} for a in listed.json()["items"]
        ]
        # The router's event moves the version but not the ETag the integrator holds.
        ticket = api.get(f"/v1/tickets/{tickets[0]}")
        assert ticket.json()["version"] == 2 and ticket.headers["ETag"] == '"1"'
        tagged = api.command(tickets[0], "tags", {"add": ["vip"]}, headers={"If-Match": '"1"'})
        assert tagged.status_code == 200, tagged.text
    finally:
        availability(agent_api, agent, "offline")


def test_a_ticket_without_a_language_gets_the_detected_one_with_its_confidence(api: Api):
    ticket = api.open_ticket(
        subject="Minha fatura veio duplicada",
        description="Recebi duas cobranças este mês e preciso do estorno.",
        requester={"name": "Rui", "email": f"{uuid.uuid4().hex}@example.com"},
    )
    assert ticket["language"] == "pt"
    source = ticket["language_source"]
    assert source["source"] == "detected" and source["detected"] == "pt"
    assert source["confidence"] >= 0.7
    opened = api.get(f"/v1/tickets/{ticket['id']}/history").json()["events"][0]
    assert opened["data"]["language_source"] == source  # recorded in the event


def test_an_unsure_detection_falls_back_to_the_customers_known_language(api: Api):
    requester = {"name": "Ana", "email": f"{uuid.uuid4().hex}@example.com"}
    first = api.open_ticket(language="pt-BR", requester=requester)
    # The known language comes from the ticket list view: let it see the first ticket.
    waited = api.get("/v1/tickets", params={"after_position": first["position"]})
    assert waited.status_code == 200, waited.text
    # "internet lento" reads the same in Spanish and Portuguese: too unsure to use.
    short = api.open_ticket(subject="internet lento", description="ok", requester=requester)
    assert short["language_source"]["source"] == "requester"
    assert short["language_source"]["confidence"] < 0.7
    assert short["language"] == "pt-BR"


def test_an_unsure_detection_for_a_new_customer_falls_back_to_the_default(api: Api):
    requester = {"name": "Ana", "email": f"{uuid.uuid4().hex}@example.com"}
    short = api.open_ticket(subject="internet lento", description="ok", requester=requester)
    assert short["language_source"]["source"] == "default"
    assert short["language"] == "es"  # ATENDE_DEFAULT_LANGUAGE's default


def test_a_given_language_is_kept_and_no_detection_is_recorded(api: Api):
    ticket = api.open_ticket(language="en", subject="Sin internet")
    assert ticket["language"] == "en" and ticket["language_source"] is None
