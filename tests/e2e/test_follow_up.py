"""Follow-up through a real server whose scheduler runs on short, configured times: a
resolved ticket closes by itself, and a pending one nobody answers is reminded, then
resolved (which issues its survey). The sweep's rules, with an injected clock, are in
tests/integration/test_surveys_and_follow_up.py; here the point is that the projector
runs them, as the system's events."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.databases import BACKENDS
from tests.e2e.api import Api
from tests.e2e.problems import history
from tests.e2e.server import running_server

WAIT_SECONDS = 30  # a bound on waiting for the scheduler, not a measured duration
SHORT_TIMES = {
    "ATENDE_AUTO_CLOSE_AFTER": "3s",
    "ATENDE_PENDING_REMINDER_AFTER": "1s",
    "ATENDE_PENDING_RESOLVE_AFTER": "3s",
    "ATENDE_FOLLOW_UP_INTERVAL": "1s",
}


@pytest.fixture(autouse=True)
def agents() -> None:
    """This module's servers need none of the shared server's agents (and so not the
    shared server itself)."""


@pytest.fixture(scope="module", params=BACKENDS)
def integrator(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Api]:
    directory = tmp_path_factory.mktemp(f"follow-up-{request.param}")
    with running_server(request.param, directory, workers=1, env=SHORT_TIMES) as server:
        yield Api(server.base_url, server.create_token("integrator", "follow-up"))


def eventually(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {WAIT_SECONDS} s")


def status_of(api: Api, ticket_id: str) -> str:
    return api.get(f"/v1/tickets/{ticket_id}").json()["status"]


def test_a_resolved_ticket_is_closed_by_the_scheduler(integrator):
    tid = integrator.open_ticket(language="es")["id"]
    assert integrator.command(tid, "resolve").status_code == 200
    eventually(lambda: status_of(integrator, tid) == "closed")
    closed = history(integrator, tid)[-1]
    assert closed["type"] == "closed" and closed["actor"]["role"] == "system"
    assert closed["data"]["reason"] == "resuelto hace 3 segundos"  # the ticket's language


def test_a_pending_ticket_nobody_answers_is_reminded_then_resolved(integrator):
    tid = integrator.open_ticket(language="es")["id"]
    assert integrator.command(tid, "status", {"status": "pending"}).status_code == 200
    etag = integrator.get(f"/v1/tickets/{tid}").headers["ETag"]
    eventually(lambda: status_of(integrator, tid) in ("resolved", "closed"))
    types = [e["type"] for e in history(integrator, tid)]
    assert types[types.index("status_changed") :][:3] == [
        "status_changed", "customer_reminded", "resolved",
    ]  # fmt: skip
    assert integrator.get(f"/v1/tickets/{tid}/survey").status_code == 200
    # The system's follow-up events leave the integrator's ETag alone.
    assert integrator.get(f"/v1/tickets/{tid}").headers["ETag"] == etag
