"""Every route x every role, through the real server: a role the route's documented
operation (interface/http/operations.py, the OpenAPI document's source) names is let
through, every other role gets 403, and so the document and the guards cannot drift apart.

Requests carry no body and made-up path values, so an allowed role gets 404 or 422 (or a
read), never a change: a guard runs before any body is looked at.
"""

from __future__ import annotations

import re
import uuid

import pytest

from domain.actor import ROLES
from interface.http.operations import OPERATIONS
from tests.e2e.api import Api

PROTECTED = sorted(
    (path, method, operation.roles)
    for (path, method), operation in OPERATIONS.items()
    if operation.roles is not None and path != "/metrics"  # its own credentials (scrape token)
)
IDS = [f"{method.upper()} {path}" for path, method, _ in PROTECTED]
_FIELD = re.compile(r"\{(\w+)(?::(\w+))?\}")


def concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        converter = match.group(2)
        if converter == "uuid":
            return str(uuid.uuid4())
        if converter == "int":
            return "987654321"
        return "no-such-thing"

    return _FIELD.sub(value, path)


def call(api: Api, method: str, path: str):
    if method == "get":
        return api.get(path)
    if method == "post":
        return api.post(path, {})
    return api.session.request(method.upper(), api.base_url + path, json={}, timeout=30)


@pytest.mark.parametrize(("path", "method", "allowed"), PROTECTED, ids=IDS)
def test_every_role_the_route_documents_is_let_through_and_every_other_is_403(
    api_as, path, method, allowed
):
    answers = {role: call(api_as(role), method, concrete(path)) for role in ROLES}

    refused = sorted(role for role, answer in answers.items() if answer.status_code == 403)
    expected = sorted(role for role in ROLES if role not in allowed and role != "admin")
    assert refused == expected, {role: answers[role].text[:200] for role in refused}


def test_the_supervisor_sits_between_agent_and_admin():
    """Issue 20: manages agents, reassigns, sees every queue and report; never calendars,
    policies, tokens or erasure."""
    roles = {(path, method): operation.roles for (path, method), operation in OPERATIONS.items()}
    supervises = [
        ("/v1/agents", "post"),
        ("/v1/agents/{agent_id:uuid}/availability", "post"),
        ("/v1/agents/{agent_id:uuid}/skills", "post"),
        ("/v1/agents/{agent_id:uuid}/capacity", "post"),
        ("/v1/agents/{agent_id:uuid}/deactivate", "post"),
        ("/v1/tickets/{ticket_id:uuid}/assign", "post"),
        ("/v1/queue", "get"),
        ("/v1/reports/agents", "get"),
    ]
    never = [
        ("/v1/calendars/{name}", "put"),
        ("/v1/sla/policies", "put"),
        ("/v1/tokens", "post"),
        ("/v1/tokens", "get"),
        ("/v1/customers/{customer_id:uuid}/erase", "post"),
    ]
    for route in supervises:
        assert "supervisor" in roles[route], route
    for route in never:
        assert "supervisor" not in roles[route], route
