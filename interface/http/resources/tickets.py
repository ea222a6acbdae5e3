"""Ticket routes: open, list and search, read, history, and one resource per command
(assign, resolve...)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import falcon

from application.audit import AuditTrail
from application.customers import CustomerDirectory
from application.email_records import EmailRecords
from application.ports import AnswersRetries, LogHead, OpensTickets, ReadsTickets
from application.ticket_commands import TicketCommands, WriteTerms
from application.tickets import CommandResult
from domain.customer import Contact
from domain.ticket_email import TicketEmail
from infrastructure.ticket_numbers import MAX_NUMBER
from interface.http.consistency import wait_if_asked
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.errors import Problem
from interface.http.hooks import expected_version, validate_body
from interface.http.idempotency import idempotent
from interface.http.middleware.auth import TICKET_READERS, TICKET_WRITERS, allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.personal_reads import (
    RecordsReads,
    Served,
    history,
    logs_read,
    ticket_list,
    ticket_or_as_of,
)
from interface.http.representations import render_ticket
from interface.http.schemas import tickets as schemas
from interface.http.schemas.common import EmptyIn
from interface.http.schemas.events import EventOut
from interface.http.schemas.tickets import (
    EmailDeliveryOut,
    HistoryQueryIn,
    TicketListItemOut,
    TicketListQueryIn,
    TicketNumberIn,
    TicketReadQueryIn,
)
from projections.ticket_list import TicketListQuery, TicketListView

UseCase = Callable[..., CommandResult]
# A history's events are the feed's, without the feed's position.
_HISTORY_OUT = EventOut(exclude=("position",), many=True)
_LIST_QUERY = TicketListQueryIn()
_READ_QUERY = TicketReadQueryIn()
_HISTORY_QUERY = HistoryQueryIn()
_LIST_ITEMS_OUT = TicketListItemOut(many=True)
# The types of the list's sort key (created_at, number), as a cursor carries it.
LIST_SORT_KEY_TYPES = (str, int)


class TicketCollection:
    schema = schemas.OpenTicketIn()

    def __init__(
        self,
        *,
        opener: OpensTickets,
        customers: CustomerDirectory,
        ticket_list: TicketListView,
        log: LogHead,
        retries: AnswersRetries,
        access_log: RecordsReads,
    ):
        self.opener = opener
        self.customers = customers  # a search by address goes through its owner
        self.ticket_list = ticket_list
        self.log = log
        self.retries = retries
        self.access_log = access_log

    @falcon.before(allow(*TICKET_WRITERS))
    @falcon.before(validate_body)
    @idempotent
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = dict(req.context.body)
        result = self.opener.open_ticket(
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
        view = self.ticket_list
        wait_if_asked(self.log, view, query)
        filters = {k: query[k] for k in ("external_ref", "status", "q") if k in query}
        if "requester_email" in query:
            # The view keeps no emails: the address's claim names the customer. Once an
            # erasure released it, the address leads to nobody, not even to "was a customer".
            contact = Contact(name="-", email=query["requester_email"])
            owner = self.customers.customer_of(contact)
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
    def __init__(
        self, *, tickets: ReadsTickets, audit: AuditTrail, access_log: RecordsReads,
        email_records: EmailRecords | None = None,
    ):  # fmt: skip
        self.tickets = tickets
        self.audit = audit  # as_of reads
        self.access_log = access_log
        self.email_records = email_records  # with SMTP on: each message's email outcome

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(ticket_or_as_of)
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        """``?as_of=`` rebuilds the ticket from its events up to that instant."""
        query = _READ_QUERY.load(req.params)
        render_read(self.tickets, self.audit, resp, ticket_id, query)
        if self.email_records is not None and "as_of" not in query:
            show_email_outcomes(resp.media, self.email_records.of_ticket(ticket_id))


_DELIVERY_OUT = EmailDeliveryOut()


def show_email_outcomes(ticket: dict, record: TicketEmail | None) -> None:
    """Each message an email carried says what became of it (``delivery``)."""
    if record is None:
        return
    for message in ticket["messages"]:
        outcome = record.of_message(UUID(message["id"]))
        if outcome is not None:
            message["delivery"] = _DELIVERY_OUT.dump(outcome)


def render_read(
    tickets: ReadsTickets, audit: AuditTrail, resp: falcon.Response, ticket_id: UUID, query: dict
) -> None:
    """The ticket as it is, or as it was at ``as_of``."""
    if "as_of" not in query:
        render_ticket(resp, tickets.ticket_result(ticket_id))
        return
    render_ticket(resp, audit.ticket_as_of(ticket_id, query["as_of"]))
    resp.media["as_of"] = query["as_of"].isoformat()


_NUMBER_PATH = TicketNumberIn()


def _numbered_ticket(req: falcon.Request, resp: falcon.Response, params: dict) -> Served:
    # The access log names the ticket served, not the number asked for.
    return ticket_or_as_of(req, resp, {"ticket_id": UUID(resp.media["id"])})


class TicketByNumber:
    """``GET /v1/tickets/by-number/{n}``: the ticket with that human number, answered
    like ``GET /v1/tickets/{id}`` (same body, ETag, as_of, roles and access log), with
    ``Content-Location`` naming its canonical URL. Served here rather than redirected:
    one round trip, and no client has to carry its token across a redirect."""

    def __init__(self, *, tickets: ReadsTickets, audit: AuditTrail, access_log: RecordsReads):
        self.tickets = tickets
        self.audit = audit
        self.access_log = access_log

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(_numbered_ticket)
    def on_get(self, req: falcon.Request, resp: falcon.Response, n: str) -> None:
        number = int(_NUMBER_PATH.load({"n": n})["n"])
        query = _READ_QUERY.load(req.params)
        ticket_id = self.tickets.ticket_by_number(number)
        if ticket_id is None:
            raise Problem(falcon.HTTP_404, "not-found", "Not found", f"no ticket has number {n}")
        render_read(self.tickets, self.audit, resp, ticket_id, query)
        resp.content_location = f"/v1/tickets/{ticket_id}"


class TicketHistory:
    def __init__(self, *, audit: AuditTrail, access_log: RecordsReads):
        self.audit = audit
        self.access_log = access_log

    @falcon.before(allow(*TICKET_READERS))
    @logs_read(history)
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        query = _HISTORY_QUERY.load(req.params)
        events = self.audit.history(ticket_id, query.get("from_"), query.get("to"))
        resp.media = {
            "ticket_id": str(ticket_id),
            "events": _HISTORY_OUT.dump(events),
        }


class TicketCommand:
    """``POST /v1/tickets/{id}/<name>``: validate, invoke the route's use case."""

    def __init__(
        self, *, commands: TicketCommands, retries: AnswersRetries, schema: type, use_case: UseCase
    ):
        self.commands = commands
        self.retries = retries
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

    schema = schemas.AssignIn()

    def __init__(self, *, commands: TicketCommands, retries: AnswersRetries):
        self.commands = commands
        self.retries = retries

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
    "unassign": (EmptyIn, TicketCommands.unassign),
    "status": (schemas.StatusIn, TicketCommands.change_status),
    "language": (schemas.LanguageIn, TicketCommands.change_language),
    "priority": (schemas.PriorityIn, TicketCommands.change_priority),
    "category": (schemas.CategoryIn, TicketCommands.change_category),
    "tags": (schemas.TagsIn, TicketCommands.change_tags),
    "escalate": (schemas.EscalateIn, TicketCommands.escalate),
    "resolve": (schemas.ResolveIn, TicketCommands.resolve),
    "reopen": (schemas.ReopenIn, TicketCommands.reopen),
    "close": (EmptyIn, TicketCommands.close),
}


TICKET = "/v1/tickets/{ticket_id:uuid}"


def _command_operation(name: str, schema: type) -> Operation:
    return Operation(
        f"Ticket command: {name}",
        "tickets",
        TICKET_WRITERS,
        schemas.TicketOut,
        body=schema,
        errors=(404, 409, 412),
        idempotent=True,
        if_match=True,
        etag=True,
    )


OPERATIONS: Operations = {
    ("/v1/tickets", "post"): Operation(
        "Open a ticket",
        "tickets",
        TICKET_WRITERS,
        schemas.TicketOut,
        statuses=(201,),
        body=schemas.OpenTicketIn,
        errors=(409,),
        idempotent=True,
        etag=True,
    ),
    ("/v1/tickets", "get"): Operation(
        "List and search tickets, newest first",
        "tickets",
        TICKET_READERS,
        schemas.TicketListPageOut,
        query=schemas.TicketListQueryIn,
    ),
    (TICKET, "get"): Operation(
        "Read a ticket (from the event store), or as it was at an instant (?as_of=)",
        "tickets",
        TICKET_READERS,
        schemas.TicketReadOut,
        query=schemas.TicketReadQueryIn,
        errors=(404,),
        etag=True,
        description="as_of needs an offset; it is rebuilt from the events with timestamp "
        "<= as_of (404 before the ticket existed). An as-of read is recorded in the access log.",
    ),
    ("/v1/tickets/by-number/{n}", "get"): Operation(
        "Read a ticket by its human number (1, 2, 3... in the order tickets were opened)",
        "tickets",
        TICKET_READERS,
        schemas.TicketReadOut,
        query=schemas.TicketReadQueryIn,
        errors=(404,),
        etag=True,
        path_schemas={"n": {"type": "integer", "minimum": 1, "maximum": MAX_NUMBER}},
        description="The same answer as GET /v1/tickets/{ticket_id} (as_of included), with "
        "Content-Location naming that URL. n must be digits only, 1 to 2^63-1 (422 naming n "
        "otherwise); 404 when no ticket has the number.",
    ),
    (f"{TICKET}/history", "get"): Operation(
        "Every event of a ticket, in order (or those between from and to)",
        "tickets",
        TICKET_READERS,
        schemas.HistoryOut,
        query=schemas.HistoryQueryIn,
        errors=(404,),
        description="Every read is recorded in the access log (GET /v1/audit/access-log).",
    ),
    (f"{TICKET}/assign", "post"): Operation(
        "Assign a ticket to a known agent (409 if offline or inactive, unless force)",
        "tickets",
        TICKET_WRITERS,
        schemas.TicketOut,
        body=schemas.AssignIn,
        errors=(404, 409, 412),
        idempotent=True,
        if_match=True,
        etag=True,
    ),
    **{
        (f"{TICKET}/{name}", "post"): _command_operation(name, schema)
        for name, (schema, _) in COMMANDS.items()
    },
}


def add_ticket_routes(
    app: falcon.App,
    *,
    opener: OpensTickets,
    tickets: ReadsTickets,
    commands: TicketCommands,
    customers: CustomerDirectory,
    ticket_list: TicketListView,
    audit: AuditTrail,
    log: LogHead,
    retries: AnswersRetries,
    access_log: RecordsReads,
    email_records: EmailRecords | None = None,
) -> None:
    app.add_route(
        "/v1/tickets",
        TicketCollection(
            opener=opener,
            customers=customers,
            ticket_list=ticket_list,
            log=log,
            retries=retries,
            access_log=access_log,
        ),
    )
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}",
        TicketItem(
            tickets=tickets, audit=audit, access_log=access_log, email_records=email_records
        ),
    )
    app.add_route(
        "/v1/tickets/by-number/{n}",
        TicketByNumber(tickets=tickets, audit=audit, access_log=access_log),
    )
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}/history", TicketHistory(audit=audit, access_log=access_log)
    )
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}/assign", TicketAssign(commands=commands, retries=retries)
    )
    for name, (schema, use_case) in COMMANDS.items():
        app.add_route(
            f"/v1/tickets/{{ticket_id:uuid}}/{name}",
            TicketCommand(commands=commands, retries=retries, schema=schema, use_case=use_case),
        )
