"""Deactivating an agent hands their open tickets back to the queue, through the real
server: one system ``unassigned`` per ticket, with the reason, saved with the agent's
event; then the router gives them to an agent who can take them. Assigning a ticket to
the agent it already has is a no-op 200 whatever their availability.

These tests use Yucatec Maya ("yua"), which no other test's tickets or agents speak, so
the router can only ever match this module's agents with this module's tickets (other
modules leave Aymara tickets waiting, which an Aymara agent would take first)."""

from __future__ import annotations

from tests.e2e.api import Api
from tests.e2e.problems import history
from tests.e2e.test_routing import assignee, availability, register, wait_until

LANGUAGE = "yua"


def test_deactivating_an_agent_hands_their_tickets_back_and_the_router_reassigns_them(
    api_as, api: Api
):
    admin, auditor = api_as("admin"), api_as("auditor")
    leaving = register(admin, languages=[LANGUAGE], capacity=5)
    staying = register(admin, languages=[LANGUAGE], capacity=5)
    tickets = [api.open_ticket(language=LANGUAGE)["id"] for _ in range(2)]
    try:
        availability(admin, leaving, "online")
        wait_until(lambda: all(assignee(api, t) == leaving for t in tickets))
        availability(admin, staying, "online")

        deactivated = admin.post(f"/v1/agents/{leaving}/deactivate", {})
        assert deactivated.status_code == 200, deactivated.text
        for ticket in tickets:
            # Written with the deactivation: at or before the position it answered.
            handed = [e for e in history(auditor, ticket) if e["type"] == "unassigned"]
            assert [e["actor"]["role"] for e in handed] == ["system"]
            reason = handed[0]["data"]["reason"]
            assert reason == {"why": "agent deactivated", "agent_id": leaving}
        wait_until(lambda: all(assignee(api, t) == staying for t in tickets))
        queue = admin.get(
            "/v1/queue",
            params={"assignee": leaving, "after_position": deactivated.json()["position"]},
        )
        assert queue.json()["items"] == []
    finally:
        availability(admin, staying, "offline")


def test_assigning_the_agent_a_ticket_already_has_is_a_no_op_whatever_their_availability(
    api_as, api: Api
):
    admin, auditor = api_as("admin"), api_as("auditor")
    agent = register(admin, languages=[LANGUAGE], capacity=5)
    availability(admin, agent, "online")
    ticket = api.open_ticket(language="es")["id"]
    assert api.command(ticket, "assign", {"agent_id": agent}).status_code == 200
    availability(admin, agent, "offline")
    before = history(auditor, ticket)

    again = api.command(ticket, "assign", {"agent_id": agent})

    assert again.status_code == 200, again.text
    assert again.json()["assignee"] == agent
    assert history(auditor, ticket) == before
    other = register(admin, languages=[LANGUAGE])  # offline: refused, as before
    refused = api.command(ticket, "assign", {"agent_id": other})
    assert refused.status_code == 409, refused.text
