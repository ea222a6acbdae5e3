"""A Python client generated from the served OpenAPI document (openapi-python-client, with
the configuration docs/clients.md gives integrators), and nothing else, drives a ticket's
whole life: what an integrator who never reads Atende's code would do.

A generator warning fails the test: a warning is an operation or a type the client lacks.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from tests.e2e.api import agent_id
from tests.e2e.server import BIN, Server

GENERATOR_CONFIG = Path(__file__).parents[2] / "docs" / "openapi-python-client.yml"
PACKAGE = "atende_client"


def _forget_generated_modules() -> None:
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def generated(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The generated package, imported; what the generator printed is checked first."""
    directory = tmp_path_factory.mktemp("generated-client")
    document = requests.get(f"{server.base_url}/v1/openapi.json", timeout=30)
    assert document.status_code == 200
    (directory / "openapi.json").write_text(json.dumps(document.json()), encoding="utf-8")
    command = [str(BIN / "openapi-python-client"), "generate", "--meta", "none"]
    command += ["--path", str(directory / "openapi.json")]
    command += ["--output-path", str(directory / PACKAGE), "--config", str(GENERATOR_CONFIG)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    printed = run.stdout + run.stderr
    assert run.returncode == 0, printed
    assert "warning" not in printed.lower(), printed
    _forget_generated_modules()
    sys.path.insert(0, str(directory))
    try:
        yield GeneratedClient(server.base_url)
    finally:
        sys.path.remove(str(directory))
        _forget_generated_modules()


class GeneratedClient:
    """The generated package's modules, by the names its users would import."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.{name}")

    def operation(self, tag: str, operation: str) -> ModuleType:
        return self.module(f"api.{tag}.{operation}")

    def model(self, name: str) -> Any:
        return getattr(self.module("models"), name)

    def authenticated(self, token: str) -> Any:
        return self.module("client").AuthenticatedClient(
            base_url=self.base_url, token=token, raise_on_unexpected_status=True
        )


def call(operation: ModuleType, status: int, **kwargs: Any) -> Any:
    """An operation's typed answer, after checking its status."""
    response = operation.sync_detailed(**kwargs)
    assert response.status_code == status, response.content
    return response.parsed


def test_a_generated_client_alone_drives_a_ticket_through_its_whole_life(
    generated: GeneratedClient, tokens: dict[str, str]
) -> None:
    client = generated.authenticated(tokens["integrator"])
    model = generated.model
    tickets = lambda name: generated.operation("tickets", name)  # noqa: E731
    maria = agent_id("maria")

    body = model("OpenTicketIn").from_dict(
        {
            "subject": "Sin conexión desde ayer",
            "description": "El módem parpadea en rojo.",
            "requester": {"name": "Ana Souza", "email": "ana.generated@example.com"},
            "channel": "email",
            "language": "es",
        }
    )
    opened = call(tickets("open_ticket"), 201, client=client, body=body)
    assert isinstance(opened, model("TicketOut"))
    ticket_id = opened.id
    assert opened.status == "new"

    assigned = call(
        tickets("assign_ticket"), 200, ticket_id=ticket_id, client=client,
        body=model("AssignIn").from_dict({"agent_id": maria}),
    )  # fmt: skip
    assert str(assigned.assignee) == maria

    reply = {"body": "Reiniciamos el puerto.", "author_type": "agent", "author_id": maria,
             "visibility": "public"}  # fmt: skip
    replied = call(
        tickets("add_message"), 200, ticket_id=ticket_id, client=client,
        body=model("MessageIn").from_dict(reply),
    )  # fmt: skip
    note = {**reply, "body": "Puerto 7 del OLT.", "visibility": "internal"}
    noted = call(
        tickets("add_message"), 200, ticket_id=ticket_id, client=client,
        body=model("MessageIn").from_dict(note),
    )  # fmt: skip
    assert [m.visibility for m in noted.messages][-2:] == ["public", "internal"]
    assert replied.version < noted.version

    pending = call(
        tickets("set_ticket_status"), 200, ticket_id=ticket_id, client=client,
        body=model("StatusIn").from_dict({"status": "pending"}),
    )  # fmt: skip
    assert pending.status == "pending"
    resolved = call(
        tickets("resolve_ticket"), 200, ticket_id=ticket_id, client=client,
        body=model("ResolveIn").from_dict({"resolution": "Puerto reiniciado."}),
    )  # fmt: skip
    assert resolved.status == "resolved"
    closed = call(tickets("close_ticket"), 200, ticket_id=ticket_id, client=client)
    assert closed.status == "closed"

    history = call(tickets("get_ticket_history"), 200, ticket_id=ticket_id, client=client)
    kinds = [type(event).__name__ for event in history.events]
    assert kinds == [
        "TicketOpenedEvent",
        "TicketAssignedEvent",
        "TicketMessageAddedEvent",
        "TicketMessageAddedEvent",
        "TicketStatusChangedEvent",
        "TicketResolvedEvent",
        "TicketClosedEvent",
    ]
    first = history.events[0]
    assert first.data.subject == "Sin conexión desde ayer"
    assert first.data.requester.email == "ana.generated@example.com"
    assert first.occurred_at.tzinfo is not None  # a datetime, not a string


def test_a_generated_client_pages_the_queue_with_its_cursor(
    generated: GeneratedClient, tokens: dict[str, str]
) -> None:
    client = generated.authenticated(tokens["integrator"])
    tag = "generated-queue"
    body = generated.model("OpenTicketIn").from_dict(
        {"subject": "Lento", "description": "Muy lento.", "channel": "web", "tags": [tag],
         "requester": {"name": "Rui", "email": "rui.generated@example.com"}}
    )  # fmt: skip
    opened = [
        call(generated.operation("tickets", "open_ticket"), 201, client=client, body=body)
        for _ in range(3)
    ]
    list_queue = generated.operation("queue", "list_queue")
    seen, cursor = [], None
    while True:
        page = call(
            list_queue, 200, client=client, tag=tag, limit=2,
            after_position=max(t.position for t in opened),
            **({"cursor": cursor} if cursor else {}),
        )  # fmt: skip
        seen += [item.id for item in page.items]
        cursor = page.next_cursor
        if not cursor:
            break
    assert sorted(map(str, seen)) == sorted(str(t.id) for t in opened)


def test_a_generated_client_reads_the_event_feed_as_typed_events(
    generated: GeneratedClient, tokens: dict[str, str]
) -> None:
    client = generated.authenticated(tokens["auditor"])
    list_events = generated.operation("events", "list_events")
    feed = call(list_events, 200, client=client, after=0, limit=200)
    assert feed.events, "the session's server has recorded events"
    event_types = {type(e).__name__ for e in feed.events}
    assert "TicketOpenedEvent" in event_types
    assert "AgentRegisteredEvent" in event_types
    opened = next(e for e in feed.events if type(e).__name__ == "TicketOpenedEvent")
    assert opened.aggregate_type == "ticket"
    # 2: attachments became a list; 3: kb_suggestion_id (domain/ticket.py)
    assert opened.schema_version == 3
    assert isinstance(opened.data.tags, list)
    following = call(list_events, 200, client=client, after=feed.next_after, limit=1)
    assert all(e.position > feed.next_after for e in following.events)


def test_a_generated_client_asks_for_a_report_as_csv_by_its_own_operation(
    generated: GeneratedClient, tokens: dict[str, str]
) -> None:
    client = generated.authenticated(tokens["analyst"])
    as_json = call(generated.operation("reports", "get_satisfaction_report"), 200, client=client)
    as_csv = call(generated.operation("reports", "get_satisfaction_report_csv"), 200, client=client)
    assert isinstance(as_csv, str)
    header, *rows = as_csv.splitlines()
    assert header.startswith(f"{as_json.group_by},")
    assert len(rows) == len(as_json.groups)
