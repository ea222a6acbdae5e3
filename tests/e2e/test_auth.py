"""Who may call what, through the real server: authentication (401) and the role matrix (403)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests

from tests.e2e.api import Api, agent_id, ticket_body
from tests.e2e.drills import eventually, health_is_ok
from tests.e2e.problems import assert_problem, history, nothing_stored

# The matrix as DESIGN.md (Roles, Clarification 6) states it; admin is everywhere.
ROLES = ("admin", "supervisor", "agent", "integrator", "auditor", "analyst")
TICKET_WRITERS = ("admin", "supervisor", "agent", "integrator")
TICKET_READERS = (*TICKET_WRITERS, "auditor")
FEED_READERS = ("admin", "integrator", "auditor")

# Each command with a valid body, and the steps that put a new ticket in a state where
# the command records an event.
COMMANDS: dict[str, tuple[list[tuple[str, Any]], Any, str]] = {
    "messages": (
        [],
        {"body": "hola", "author_type": "agent", "visibility": "public"},
        "message_added",
    ),
    "assign": ([], {"agent_id": agent_id("agent-1")}, "assigned"),
    "unassign": ([("assign", {"agent_id": agent_id("agent-1")})], None, "unassigned"),
    "status": ([], {"status": "pending"}, "status_changed"),
    "priority": ([], {"priority": "urgent"}, "priority_changed"),
    "category": ([], {"category": "billing"}, "category_changed"),
    "tags": ([], {"add": ["vip"]}, "tags_changed"),
    "escalate": ([], {"reason": "cliente enojado"}, "escalated"),
    "resolve": ([], {"resolution": "listo"}, "resolved"),
    "reopen": ([("resolve", {"resolution": "listo"})], {"reason": "volvió"}, "reopened"),
    "close": ([("resolve", {"resolution": "listo"})], None, "closed"),
}

# Every protected route, as (method, path, body); {tid} is an existing ticket.
PROTECTED_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/tickets", ticket_body()),
    *[("POST", f"/v1/tickets/{{tid}}/{name}", body) for name, (_, body, _) in COMMANDS.items()],
    ("GET", "/v1/tickets/{tid}", None),
    ("GET", "/v1/tickets/{tid}/history", None),
    ("GET", "/v1/events", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in PROTECTED_ROUTES]

BAD_AUTHORIZATIONS = {
    "basic-scheme": "Basic xxx",
    "basic-credentials": "Basic YWRtaW46YWRtaW4=",
    "bearer-with-nothing": "Bearer",
    "bearer-with-blank": "Bearer   ",
    "token-without-scheme": "atd_" + "x" * 43,
    "other-scheme": "Token abc",
    "unknown-token": "Bearer atd_" + "x" * 43,
    "random-token": "Bearer " + secrets.token_urlsafe(32),
}


# Helpers


def call(client: Api, method: str, path: str, body: Any, **kwargs: Any) -> requests.Response:
    if method == "GET":
        return client.get(path, **kwargs)
    return client.post(path, body, **kwargs)


def prepared_ticket(admin: Api, command: str) -> str:
    """A ticket in which ``command`` (with its valid body) records one event."""
    tid = admin.open_ticket()["id"]
    for name, body in COMMANDS[command][0]:
        assert admin.command(tid, name, body).status_code == 200
    return tid


def matrix(allowed_roles: tuple[str, ...], allowed: bool) -> list[str]:
    return [role for role in ROLES if (role in allowed_roles) == allowed]


# Fixtures


@pytest.fixture
def admin(api_as) -> Api:
    return api_as("admin")


# 401: no, malformed or unknown credentials


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED_ROUTES, ids=ROUTE_IDS)
def test_a_request_without_authorization_is_401_with_a_bearer_challenge(
    api_as, admin: Api, ticket, method, path, body
):
    with nothing_stored(admin, ticket):
        response = call(api_as(None), method, path.format(tid=ticket), body)
        assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATIONS.values(), ids=BAD_AUTHORIZATIONS)
@pytest.mark.parametrize(("method", "path", "body"), PROTECTED_ROUTES, ids=ROUTE_IDS)
def test_a_malformed_or_unknown_authorization_is_401_and_stores_nothing(
    api_as, admin: Api, ticket, method, path, body, authorization
):
    client = api_as(None)
    client.session.headers["Authorization"] = authorization
    with nothing_stored(admin, ticket):
        response = call(client, method, path.format(tid=ticket), body)
        assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_real_token_with_one_character_changed_is_401(api_as, tokens, ticket):
    token = tokens["admin"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    client = api_as(None)
    client.session.headers["Authorization"] = f"Bearer {tampered}"
    assert_problem(client.get(f"/v1/tickets/{ticket}"), 401)


def test_the_bearer_scheme_is_case_insensitive(api_as, tokens, ticket):
    client = api_as(None)
    client.session.headers["Authorization"] = f"bearer {tokens['auditor']}"
    assert client.get(f"/v1/tickets/{ticket}").status_code == 200


@pytest.mark.parametrize(
    "authorization", [None, *BAD_AUTHORIZATIONS.values()], ids=["none", *BAD_AUTHORIZATIONS]
)
def test_health_is_public_whatever_the_authorization(api_as, authorization):
    client = api_as(None)
    if authorization is not None:
        client.session.headers["Authorization"] = authorization
    eventually(lambda: health_is_ok(client), f"health ok with {authorization!r}")


@pytest.mark.parametrize("role", ROLES)
def test_health_is_open_to_every_role(api_as, role):
    assert api_as(role).get("/v1/health").status_code == 200


# POST /v1/tickets


@pytest.mark.parametrize("role", matrix(TICKET_WRITERS, allowed=True))
def test_a_writer_may_open_a_ticket_and_is_recorded_as_its_actor(api_as, admin: Api, role):
    response = api_as(role).post("/v1/tickets", ticket_body())
    assert response.status_code == 201, response.text
    opened = history(admin, response.json()["id"])
    assert [e["type"] for e in opened] == ["opened"]
    assert opened[0]["actor"]["name"] == f"e2e-{role}"
    assert opened[0]["actor"]["role"] == role


@pytest.mark.parametrize("role", matrix(TICKET_WRITERS, allowed=False))
def test_a_read_only_role_may_not_open_a_ticket(api_as, admin: Api, ticket, role):
    with nothing_stored(admin, ticket):
        assert_problem(api_as(role).post("/v1/tickets", ticket_body()), 403)


# POST /v1/tickets/{id}/<command>


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("role", matrix(TICKET_WRITERS, allowed=True))
def test_a_writer_may_run_every_ticket_command_and_is_recorded_as_its_actor(
    api_as, admin: Api, role, command
):
    tid = prepared_ticket(admin, command)
    before = history(admin, tid)
    _, body, event_type = COMMANDS[command]
    response = api_as(role).command(tid, command, body)
    assert response.status_code == 200, response.text
    after = history(admin, tid)
    assert len(after) == len(before) + 1
    assert after[:-1] == before
    assert after[-1]["type"] == event_type
    assert after[-1]["actor"]["name"] == f"e2e-{role}"
    assert after[-1]["actor"]["role"] == role


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("role", matrix(TICKET_WRITERS, allowed=False))
def test_a_read_only_role_may_not_run_any_ticket_command(api_as, admin: Api, role, command):
    tid = prepared_ticket(admin, command)
    _, body, _ = COMMANDS[command]
    with nothing_stored(admin, tid):
        assert_problem(api_as(role).command(tid, command, body), 403)


@pytest.mark.parametrize("role", matrix(TICKET_WRITERS, allowed=False))
def test_a_forbidden_role_is_refused_before_its_body_is_looked_at(api_as, admin: Api, ticket, role):
    client = api_as(role)
    with nothing_stored(admin, ticket):
        assert_problem(client.post("/v1/tickets", {"nonsense": True}), 403)
        assert_problem(client.command(ticket, "priority", {"priority": "critical"}), 403)
        assert_problem(
            client.post(
                f"/v1/tickets/{ticket}/tags",
                data=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            403,
        )


# Reads


@pytest.mark.parametrize("route", ["/v1/tickets/{tid}", "/v1/tickets/{tid}/history"])
@pytest.mark.parametrize("role", matrix(TICKET_READERS, allowed=True))
def test_a_ticket_reader_may_read_a_ticket_and_its_history(api_as, ticket, role, route):
    response = api_as(role).get(route.format(tid=ticket))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("route", ["/v1/tickets/{tid}", "/v1/tickets/{tid}/history"])
@pytest.mark.parametrize("role", matrix(TICKET_READERS, allowed=False))
def test_other_roles_may_not_read_a_ticket_or_its_history(api_as, ticket, role, route):
    assert_problem(api_as(role).get(route.format(tid=ticket)), 403)


@pytest.mark.parametrize("role", matrix(FEED_READERS, allowed=True))
def test_a_feed_reader_may_read_the_event_feed(api_as, admin: Api, role):
    opened = admin.open_ticket()
    response = api_as(role).get("/v1/events", params={"after": opened["position"] - 1, "limit": 1})
    assert response.status_code == 200, response.text
    [event] = response.json()["events"]
    assert event["ticket_id"] == opened["id"] and event["type"] == "opened"


@pytest.mark.parametrize("role", matrix(FEED_READERS, allowed=False))
def test_other_roles_may_not_read_the_event_feed(api_as, role):
    assert_problem(api_as(role).get("/v1/events"), 403)


# The actor of an event is the token's principal


def test_events_by_the_same_token_share_one_actor_and_tokens_differ(api_as, admin: Api):
    tid = api_as("integrator").open_ticket()["id"]
    for role in ("agent", "admin", "integrator"):
        assert api_as(role).command(tid, "tags", {"add": [f"by-{role}"]}).status_code == 200
    actors = [e["actor"] for e in history(admin, tid)]
    assert [(a["role"], a["name"]) for a in actors] == [
        ("integrator", "e2e-integrator"),
        ("agent", "e2e-agent"),
        ("admin", "e2e-admin"),
        ("integrator", "e2e-integrator"),
    ]
    assert actors[0]["id"] == actors[3]["id"]
    assert len({actors[0]["id"], actors[1]["id"], actors[2]["id"]}) == 3
    assert all(a["id"] for a in actors)


def test_the_event_feed_records_the_same_actor_as_the_history(api_as, admin: Api):
    ticket = api_as("agent").open_ticket()
    tid = ticket["id"]
    after = ticket["position"] - 1
    feed = api_as("auditor").get("/v1/events", params={"after": after, "limit": 1}).json()
    [opened] = feed["events"]
    assert opened["ticket_id"] == tid
    assert opened["actor"] == history(admin, tid)[0]["actor"]
    assert opened["actor"]["role"] == "agent" and opened["actor"]["name"] == "e2e-agent"
