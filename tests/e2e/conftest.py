"""One real server per backend for the whole e2e session, with a token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.actor import ROLES
from tests.catalogue_check import assert_feed_matches_catalogue
from tests.databases import BACKENDS
from tests.e2e.api import E2E_AGENTS, Api, agent_email
from tests.e2e.server import Server, running_server


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"e2e-{request.param}")
    with running_server(request.param, directory) as running:
        yield running
        # Every event the whole e2e session recorded is as the event catalogue says.
        auditor = running.create_token("auditor", "catalogue-check")
        assert_feed_matches_catalogue(running.base_url, auditor)


@pytest.fixture(scope="session")
def tokens(server: Server) -> dict[str, str]:
    # The integrator is a chat platform relaying agents' replies too: it names their
    # authors, which takes an on-behalf grant (issue 20).
    # The agent's is bound to an agent registered for it (Server.create_token).
    return {role: server.create_token(role, f"e2e-{role}", *GRANTS.get(role, ())) for role in ROLES}


GRANTS = {"integrator": ("--on-behalf",)}


@pytest.fixture(scope="session", autouse=True)
def agents(server: Server, tokens: dict[str, str]) -> None:
    admin = Api(server.base_url, tokens["admin"])
    for name in E2E_AGENTS:
        body = {"name": name, "email": agent_email(name), "languages": ["es", "pt", "en"]}
        registered = admin.post("/v1/agents", {**body, "capacity": 1000})
        assert registered.status_code == 201, registered.text
        away = admin.post(
            f"/v1/agents/{registered.json()['id']}/availability", {"availability": "away"}
        )
        assert away.status_code == 200, away.text


@pytest.fixture
def api_as(server: Server, tokens: dict[str, str]):
    def make(role: str | None) -> Api:
        return Api(server.base_url, None if role is None else tokens[role])

    return make


@pytest.fixture
def api(api_as) -> Api:
    """An integrator, the main user of the API."""
    return api_as("integrator")


# Tickets in a given state, for tests that need one.


@pytest.fixture
def auditor(api_as) -> Api:
    return api_as("auditor")


@pytest.fixture
def ticket(api: Api) -> str:
    return api.open_ticket()["id"]


@pytest.fixture
def resolved_ticket(api: Api, ticket: str) -> str:
    assert api.command(ticket, "resolve", {"resolution": "listo"}).status_code == 200
    return ticket


@pytest.fixture
def closed_ticket(api: Api, resolved_ticket: str) -> str:
    assert api.command(resolved_ticket, "close").status_code == 200
    return resolved_ticket
