"""A small client for the tests: the HTTP calls an integrator would make."""

from __future__ import annotations

from typing import Any

import requests

from domain.agent import agent_id_for_email
from tests.e2e.documented_answers import check_answer

# Agents the e2e server knows from the start (registered "away": assignable by a person,
# never chosen by the router, so they never take other tests' tickets).
E2E_AGENTS = ("a-1", "a-2", "maria", *(f"agent-{i}" for i in range(8)))


def agent_email(name: str) -> str:
    return f"{name}@agents.e2e.test"


def agent_id(name: str) -> str:
    return str(agent_id_for_email(agent_email(name)))


def ticket_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Sin conexión desde ayer",
        "description": "El módem parpadea en rojo y no navega.",
        "requester": {"name": "Ana Souza", "email": "ana@example.com"},
        "channel": "email",
    }
    body.update(overrides)
    return body


class Api:
    def __init__(self, base_url: str, token: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.hooks["response"].append(check_answer)
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=30, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base_url + path, json=json, timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.base_url + path, timeout=30, **kwargs)

    def open_ticket(self, **overrides: Any) -> dict[str, Any]:
        response = self.post("/v1/tickets", ticket_body(**overrides))
        assert response.status_code == 201, response.text
        return response.json()

    def command(
        self, ticket_id: str, name: str, body: Any = None, **kwargs: Any
    ) -> requests.Response:
        return self.post(f"/v1/tickets/{ticket_id}/{name}", body, **kwargs)

    def history_types(self, ticket_id: str) -> list[str]:
        response = self.get(f"/v1/tickets/{ticket_id}/history")
        assert response.status_code == 200, response.text
        return [event["type"] for event in response.json()["events"]]


def acting_as(admin: Api, agent: str) -> Api:
    """A client holding a new token bound to ``agent`` (issue 20: an agent token acts as
    one agent, and sets only that agent's availability)."""
    issued = admin.post("/v1/tokens", {"name": f"agent-{agent[:8]}", "role": "agent",
                                       "agent_id": agent})  # fmt: skip
    assert issued.status_code == 201, issued.text
    return Api(admin.base_url, issued.json()["token"])
