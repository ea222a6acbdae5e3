"""Ticket routes: open, read, history, and one resource per command (assign, resolve...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import falcon

from domain.actor import Actor
from domain.customer import Contact
from domain.ticket import Ticket
from infrastructure.bootstrap import Atende
from interface import schemas
from interface.http.auth import TICKET_READERS, TICKET_WRITERS, allow
from interface.http.hooks import expected_version, validate_body
from interface.http.idempotency import idempotent
from interface.http.representations import render_ticket
from interface.schemas import EventOut

Command = Callable[[Ticket, dict[str, Any], Actor], None]
_HISTORY_OUT = EventOut(exclude=("position", "ticket_id"), many=True)


class TicketCollection:
    schema = schemas.OpenTicketIn()

    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_WRITERS))
    @falcon.before(validate_body)
    @idempotent
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = dict(req.context.body)
        result = self.atende.tickets.open_ticket(
            contact=Contact(**body.pop("requester")),
            actor=req.context.actor,
            idempotency=req.context.claim,
            **body,
        )
        render_ticket(resp, result, status=201)


class TicketItem:
    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        render_ticket(resp, self.atende.tickets.ticket_result(ticket_id))


class TicketHistory:
    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        events = self.atende.tickets.history(ticket_id)
        resp.media = {
            "ticket_id": str(ticket_id),
            "events": _HISTORY_OUT.dump(events),
        }


class TicketCommand:
    """``POST /v1/tickets/{id}/<name>``: validate, apply one domain command, save."""

    def __init__(self, atende: Atende, schema: type, command: Command):
        self.atende = atende
        self.schema = schema()
        self.command = command

    @falcon.before(allow(*TICKET_WRITERS))
    @falcon.before(validate_body)
    @idempotent
    def on_post(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        body, actor = req.context.body, req.context.actor
        result = self.atende.tickets.change(
            ticket_id,
            lambda ticket: self.command(ticket, body, actor),
            expected_version=expected_version(req),
            idempotency=req.context.claim,
        )
        render_ticket(resp, result)


COMMANDS: dict[str, tuple[type, Command]] = {
    "messages": (
        schemas.MessageIn,
        lambda t, b, a: t.add_message(
            b["body"], b["author_type"], b.get("author_id"), b["visibility"], b.get("channel"), a
        ),
    ),
    "assign": (schemas.AssignIn, lambda t, b, a: t.assign(b["agent_id"], a)),
    "unassign": (schemas.EmptyIn, lambda t, b, a: t.unassign(a)),
    "status": (schemas.StatusIn, lambda t, b, a: t.change_status(b["status"], a)),
    "priority": (schemas.PriorityIn, lambda t, b, a: t.change_priority(b["priority"], a)),
    "category": (schemas.CategoryIn, lambda t, b, a: t.change_category(b["category"], a)),
    "tags": (schemas.TagsIn, lambda t, b, a: t.change_tags(b["add"], b["remove"], a)),
    "escalate": (schemas.EscalateIn, lambda t, b, a: t.escalate(b["reason"], b.get("level"), a)),
    "resolve": (schemas.ResolveIn, lambda t, b, a: t.resolve(b.get("resolution"), a)),
    "reopen": (schemas.ReopenIn, lambda t, b, a: t.reopen(b.get("reason"), a)),
    "close": (schemas.EmptyIn, lambda t, b, a: t.close(a)),
}


def add_ticket_routes(app: falcon.App, atende: Atende) -> None:
    app.add_route("/v1/tickets", TicketCollection(atende))
    app.add_route("/v1/tickets/{ticket_id:uuid}", TicketItem(atende))
    app.add_route("/v1/tickets/{ticket_id:uuid}/history", TicketHistory(atende))
    for name, (schema, command) in COMMANDS.items():
        app.add_route(
            f"/v1/tickets/{{ticket_id:uuid}}/{name}", TicketCommand(atende, schema, command)
        )
