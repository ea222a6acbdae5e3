"""Ticket routes: open, list and search, read, history, and one resource per command
(assign, resolve...)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import falcon
from marshmallow import Schema, ValidationError, fields

from application.ticket_commands import TicketCommands, WriteTerms
from application.tickets import CommandResult
from domain.customer import Contact
from infrastructure.bootstrap import Atende
from infrastructure.ticket_numbers import MAX_NUMBER
from interface import agent_schemas, schemas
from interface.audit_schemas import HistoryQueryIn, TicketReadQueryIn
from interface.http.auth import TICKET_READERS, TICKET_WRITERS, allow
from interface.http.consistency import wait_if_asked
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.errors import Problem
from interface.http.hooks import expected_version, validate_body
from interface.http.idempotency import idempotent
from interface.http.personal_reads import (
    Served,
    history,
    logs_read,
    ticket_list,
    ticket_or_as_of,
)
from interface.http.representations import render_ticket
from interface.schemas import EventOut, FullMatch, TicketListItemOut, TicketListQueryIn
from projections.ticket_list import TicketListQuery

UseCase = Callable[..., CommandResult]
_HISTORY_OUT = EventOut(
    exclude=("position", "ticket_id", "aggregate_type", "aggregate_id"), many=True
)
_LIST_QUERY = TicketListQueryIn()
_READ_QUERY = TicketReadQueryIn()
_HISTORY_QUERY = HistoryQueryIn()
_LIST_ITEMS_OUT = TicketListItemOut(many=True)
# The types of the list's sort key (created_at, number), as a cursor carries it.
LIST_SORT_KEY_TYPES = (str, int)


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

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(ticket_list)
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """``GET /v1/tickets``: every ticket, newest first, filtered and paginated."""
        query = _LIST_QUERY.load(req.params)
        view = self.atende.views["ticket_list"]
        wait_if_asked(self.atende, view, query)
        filters = {k: query[k] for k in ("external_ref", "status", "q") if k in query}
        if "requester_email" in query:
            # The view keeps no emails: the address's claim names the customer. Once an
            # erasure released it, the address leads to nobody, not even to "was a customer".
            contact = Contact(name="-", email=query["requester_email"])
            owner = self.atende.tickets.customers.customer_of(contact)
            if owner is None:
                resp.media = {"items": [], "next_cursor": None}
                return
            filters["customer_id"] = str(owner)
        after = None
        if "cursor" in query:
            after = decode_cursor(query["cursor"], filters, LIST_SORT_KEY_TYPES)
        page = view.page(TicketListQuery(filters=filters, limit=query["limit"], after=after))
        resp.media = {
            "items": _LIST_ITEMS_OUT.dump(page.items),
            "next_cursor": encode_cursor(page.last_key, filters) if page.last_key else None,
        }


class TicketItem:
    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(ticket_or_as_of)
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        """``?as_of=`` rebuilds the ticket from its events up to that instant."""
        render_read(self.atende, resp, ticket_id, _READ_QUERY.load(req.params))


def render_read(atende: Atende, resp: falcon.Response, ticket_id: UUID, query: dict) -> None:
    """The ticket as it is, or as it was at ``as_of``."""
    if "as_of" not in query:
        render_ticket(resp, atende.tickets.ticket_result(ticket_id))
        return
    render_ticket(resp, atende.audit.ticket_as_of(ticket_id, query["as_of"]))
    resp.media["as_of"] = query["as_of"].isoformat()


def _fits_64_bits(value: str) -> None:
    # Beyond a 64-bit column no ticket has the number; the length is checked first, as
    # int() refuses thousands of digits.
    digits = value.isascii() and value.isdigit()
    if digits and (len(value) > len(str(MAX_NUMBER)) or int(value) > MAX_NUMBER):
        raise ValidationError(f"Must be at most {MAX_NUMBER}.")


class TicketNumberIn(Schema):
    """``{n}`` of ``/v1/tickets/by-number/{n}``: ASCII digits with no leading zero (int()
    would also take a sign, spaces, underscores and other scripts' digits)."""

    n = fields.String(
        required=True,
        validate=[
            FullMatch(r"[1-9][0-9]*", error="Must be a positive whole number (digits only)."),
            _fits_64_bits,
        ],
    )


_NUMBER_PATH = TicketNumberIn()


def _numbered_ticket(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    # The access log names the ticket served, not the number asked for.
    return ticket_or_as_of(req, resp, {"ticket_id": UUID(resp.media["id"])})


class TicketByNumber:
    """``GET /v1/tickets/by-number/{n}``: the ticket with that human number, answered
    like ``GET /v1/tickets/{id}`` (same body, ETag, as_of, roles and access log), with
    ``Content-Location`` naming its canonical URL. Served here rather than redirected:
    one round trip, and no client has to carry its token across a redirect."""

    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(_numbered_ticket)
    def on_get(self, req: falcon.Request, resp: falcon.Response, n: str) -> None:
        number = int(_NUMBER_PATH.load({"n": n})["n"])
        query = _READ_QUERY.load(req.params)
        ticket_id = self.atende.tickets.ticket_by_number(number)
        if ticket_id is None:
            raise Problem(falcon.HTTP_404, "not-found", "Not found", f"no ticket has number {n}")
        render_read(self.atende, resp, ticket_id, query)
        resp.content_location = f"/v1/tickets/{ticket_id}"


class TicketHistory:
    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(history)
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        query = _HISTORY_QUERY.load(req.params)
        events = self.atende.audit.history(ticket_id, query.get("from_"), query.get("to"))
        resp.media = {
            "ticket_id": str(ticket_id),
            "events": _HISTORY_OUT.dump(events),
        }


class TicketCommand:
    """``POST /v1/tickets/{id}/<name>``: validate, invoke the route's use case."""

    def __init__(self, atende: Atende, commands: TicketCommands, schema: type, use_case: UseCase):
        self.atende = atende  # for @idempotent
        self.commands = commands
        self.schema = schema()
        self.use_case = use_case

    @falcon.before(allow(*TICKET_WRITERS))
    @falcon.before(validate_body)
    @idempotent
    def on_post(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        result = self.use_case(
            self.commands,
            ticket_id,
            **req.context.body,
            actor=req.context.actor,
            terms=write_terms(req),
        )
        render_ticket(resp, result)


def write_terms(req: falcon.Request) -> WriteTerms:
    return WriteTerms(expected_version(req), req.context.claim)


class TicketAssign:
    """``POST /v1/tickets/{id}/assign``: to a known agent (404), online and active unless
    ``force`` (409)."""

    schema = agent_schemas.AssignIn()

    def __init__(self, atende: Atende, commands: TicketCommands):
        self.atende = atende  # for @idempotent
        self.commands = commands

    @falcon.before(allow(*TICKET_WRITERS))
    @falcon.before(validate_body)
    @idempotent
    def on_post(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        result = self.commands.assign(
            ticket_id, **req.context.body, actor=req.context.actor, terms=write_terms(req)
        )
        render_ticket(resp, result)


# Route name -> (request schema, the use case it invokes). The schema's fields are the
# use case's keyword arguments.
COMMANDS: dict[str, tuple[type, UseCase]] = {
    "messages": (schemas.MessageIn, TicketCommands.add_message),
    "unassign": (schemas.EmptyIn, TicketCommands.unassign),
    "status": (schemas.StatusIn, TicketCommands.change_status),
    "language": (agent_schemas.LanguageIn, TicketCommands.change_language),
    "priority": (schemas.PriorityIn, TicketCommands.change_priority),
    "category": (schemas.CategoryIn, TicketCommands.change_category),
    "tags": (schemas.TagsIn, TicketCommands.change_tags),
    "escalate": (schemas.EscalateIn, TicketCommands.escalate),
    "resolve": (schemas.ResolveIn, TicketCommands.resolve),
    "reopen": (schemas.ReopenIn, TicketCommands.reopen),
    "close": (schemas.EmptyIn, TicketCommands.close),
}


def add_ticket_routes(app: falcon.App, atende: Atende) -> None:
    app.add_route("/v1/tickets", TicketCollection(atende))
    app.add_route("/v1/tickets/{ticket_id:uuid}", TicketItem(atende))
    app.add_route("/v1/tickets/by-number/{n}", TicketByNumber(atende))
    app.add_route("/v1/tickets/{ticket_id:uuid}/history", TicketHistory(atende))
    commands = TicketCommands(atende.tickets)
    app.add_route("/v1/tickets/{ticket_id:uuid}/assign", TicketAssign(atende, commands))
    for name, (schema, use_case) in COMMANDS.items():
        app.add_route(
            f"/v1/tickets/{{ticket_id:uuid}}/{name}",
            TicketCommand(atende, commands, schema, use_case),
        )
