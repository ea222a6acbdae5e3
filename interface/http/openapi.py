"""What the OpenAPI document says about each route: one ``Operation`` per (route template,
method), the template written exactly as ``app.add_route`` registers it.

To document a new route, add its entry to ``OPERATIONS``; tests/integration/
test_openapi_coverage.py fails while a route in the router has none. The document itself
is built from this table by interface/http/openapi_document.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from domain.actor import ROLES
from interface import agent_schemas, audit_schemas, report_schemas, schemas, sla_schemas
from interface.http import openapi_schemas as out
from interface.http.auth import (
    AGENT_ADMINS,
    AGENT_READERS,
    FEED_READERS,
    INTAKE_WRITERS,
    TICKET_READERS,
    TICKET_WRITERS,
)
from interface.http.resources.agents import CHANGES as AGENT_CHANGES
from interface.http.resources.audit import AUDIT_READERS, ERASERS
from interface.http.resources.intake import JSON_CHANNELS
from interface.http.resources.reports import REPORT_READERS
from interface.http.resources.surveys import LINK_READERS
from interface.http.resources.tickets import COMMANDS as TICKET_COMMANDS
from interface.http.resources.tickets import MAX_NUMBER

PUBLIC = None  # roles of a route that needs no token
ADMIN = ("admin",)
# Every report's window (interface.report_schemas.ReportWindowIn).
WINDOW = (
    "from and to are each a date (YYYY-MM-DD, a whole UTC day) or an instant with an "
    "offset; the window runs from from up to to (a date's whole day included, an instant "
    f"excluded). Default: the last {report_schemas.DEFAULT_DAYS} days up to the end of "
    f"today (UTC); at most {report_schemas.MAX_RANGE_DAYS} days; from must come before to."
)
WHOLE_DAYS = "This report counts whole UTC days: an instant must be 00:00 UTC."


@dataclass(frozen=True)
class Operation:
    """One route and method, as integrators see it.

    ``statuses`` are the success answers; the error answers every operation of its kind
    can give (401/403 with a token, 422 with a query or body...) are added by the
    builder, ``errors`` names the others (404, 409...).
    """

    summary: str
    tag: str
    roles: tuple[str, ...] | None
    response: type[Schema] | Schema | None = None
    statuses: tuple[int, ...] = (200,)
    query: type[Schema] | Schema | None = None
    body: type[Schema] | Schema | None = None
    errors: tuple[int, ...] = ()
    description: str = ""
    idempotent: bool = False  # honours Idempotency-Key
    if_match: bool = False  # honours If-Match with the ETag
    etag: bool = False  # answers with ETag
    csv: bool = False  # answers text/csv to Accept: text/csv
    rate_limited: bool = True  # probes and scrapes are not (their resources are unlimited)
    # Non-JSON bodies: a media type -> OpenAPI schema (raw email, the docs page).
    raw_body: dict[str, Any] | None = None
    raw_response: dict[str, Any] | None = None
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


def _ticket_command(name: str, schema: type[Schema]) -> Operation:
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


def _agent_change(name: str, schema: type[Schema], roles: tuple[str, ...]) -> Operation:
    return Operation(
        f"Agent change: {name}",
        "agents",
        roles,
        agent_schemas.AgentOut,
        body=schema,
        errors=(404, 409),
        idempotent=True,
        etag=True,
    )


TICKET = "/v1/tickets/{ticket_id:uuid}"
AGENT = "/v1/agents/{agent_id:uuid}"

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/docs", "get"): Operation(
        "This documentation, as a browsable page",
        "documentation",
        PUBLIC,
        raw_response={"text/html": {"type": "string"}},
    ),
    ("/v1/openapi.json", "get"): Operation(
        "This OpenAPI document",
        "documentation",
        PUBLIC,
        raw_response={"application/json": {"type": "object"}},
    ),
    ("/v1/health", "get"): Operation(
        "Database reachability and projector lag (503 when the database is unreachable)",
        "operations",
        PUBLIC,
        out.HealthOut,
        rate_limited=False,
    ),
    ("/metrics", "get"): Operation(
        "Prometheus metrics",
        "operations",
        ADMIN,
        raw_response={"text/plain": {"type": "string"}},
        description="The configured scrape token (ATENDE_METRICS_TOKEN) is accepted too.",
        rate_limited=False,
    ),
    ("/v1/events", "get"): Operation(
        "The global event feed: every event after a position",
        "events",
        FEED_READERS,
        out.EventFeedOut,
        query=schemas.EventsQuery,
    ),
    ("/v1/queue", "get"): Operation(
        "Active tickets, most urgent first (a projection; after_position waits for it)",
        "queue",
        ROLES,
        out.QueuePageOut,
        query=schemas.QueueQueryIn,
        description="An analyst's items leave out subject and requester_name.",
    ),
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
        out.TicketListPageOut,
        query=schemas.TicketListQueryIn,
    ),
    (TICKET, "get"): Operation(
        "Read a ticket (from the event store), or as it was at an instant (?as_of=)",
        "tickets",
        TICKET_READERS,
        out.TicketReadOut,
        query=audit_schemas.TicketReadQueryIn,
        errors=(404,),
        etag=True,
        description="as_of needs an offset; it is rebuilt from the events with timestamp "
        "<= as_of (404 before the ticket existed). An as-of read is recorded in the access log.",
    ),
    ("/v1/tickets/by-number/{n}", "get"): Operation(
        "Read a ticket by its human number (1, 2, 3... in the order tickets were opened)",
        "tickets",
        TICKET_READERS,
        out.TicketReadOut,
        query=audit_schemas.TicketReadQueryIn,
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
        out.HistoryOut,
        query=audit_schemas.HistoryQueryIn,
        errors=(404,),
        description="Every read is recorded in the access log (GET /v1/audit/access-log).",
    ),
    ("/v1/audit/verify", "get"): Operation(
        "Verify the hash chain of the whole log (and its signed checkpoints), or of one ticket",
        "audit",
        AUDIT_READERS,
        out.VerifyOut,
        query=audit_schemas.VerifyQueryIn,
        errors=(404,),
        description="200 either way: ok says whether the chain holds, first_break names the "
        "first broken ticket, version and position.",
    ),
    ("/v1/audit/export", "get"): Operation(
        "Export events as JSON Lines (streamed; byte-identical on every run)",
        "audit",
        AUDIT_READERS,
        query=audit_schemas.ExportQueryIn,
        errors=(404,),
        raw_response={"application/x-ndjson": {"type": "string"}},
        description="Give ticket, or from and to. A header line, then one line per event "
        "with position, hashes, actor, data and the stored state. Recorded in the access log.",
    ),
    ("/v1/audit/access-log", "get"): Operation(
        "Who read whose personal data (tickets, lists, history, feed, exports), newest first",
        "audit",
        AUDIT_READERS,
        out.AccessLogOut,
        query=audit_schemas.AccessLogQueryIn,
    ),
    ("/v1/customers/{customer_id:uuid}/erase", "post"): Operation(
        "Erase a customer: destroy their key (crypto-shredding) and record an erased event",
        "customers",
        ERASERS,
        out.ErasureOut,
        body=audit_schemas.EraseIn,
        errors=(404,),
        idempotent=True,
        description="Personal fields then read \"[erased]\"; history, hashes and report counts "
        "stay. A second call answers the same with already_erased true and writes nothing.",
    ),
    (f"{TICKET}/assign", "post"): Operation(
        "Assign a ticket to a known agent (409 if offline or inactive, unless force)",
        "tickets",
        TICKET_WRITERS,
        schemas.TicketOut,
        body=agent_schemas.AssignIn,
        errors=(404, 409, 412),
        idempotent=True,
        if_match=True,
        etag=True,
    ),
    **{
        (f"{TICKET}/{name}", "post"): _ticket_command(name, schema)
        for name, (schema, _) in TICKET_COMMANDS.items()
    },
    (f"{TICKET}/sla", "get"): Operation(
        "A ticket's SLA timers",
        "sla",
        (*TICKET_READERS, "analyst"),
        out.TicketSlaOut,
        errors=(404,),
    ),
    (f"{TICKET}/survey", "get"): Operation(
        "The latest resolution's survey (with its link for those who send it)",
        "surveys",
        (*TICKET_READERS, "analyst"),
        out.TicketSurveyOut,
        errors=(404,),
        description=f"token and link are shown to {', '.join(LINK_READERS)} only.",
    ),
    ("/v1/calendars/{name}", "get"): Operation(
        "A business-hours calendar's current revision, or a past one (?revision=N)",
        "sla",
        ROLES,
        out.CalendarOut,
        query=sla_schemas.CalendarQueryIn,
        errors=(404,),
        etag=True,
        description="revision counts from 1 (the calendar's creation); every PUT that "
        "changed something is the next. Past revisions of a deleted calendar stay readable; "
        "404 for a revision it never had.",
    ),
    ("/v1/calendars/{name}", "put"): Operation(
        "Create a calendar (201) or replace it with a new revision (200)",
        "sla",
        ADMIN,
        out.CalendarOut,
        statuses=(200, 201),
        body=sla_schemas.CalendarIn,
        errors=(409,),
        if_match=True,
        etag=True,
        description="Without If-Match the PUT overwrites whatever revision is current; "
        "If-Match: * needs the calendar to exist.",
    ),
    ("/v1/calendars/{name}", "delete"): Operation(
        "Delete a calendar no policy uses", "sla", ADMIN, statuses=(204,), errors=(404, 409)
    ),
    ("/v1/sla/policies", "get"): Operation(
        "The ordered SLA policies (first match wins)", "sla", ROLES, out.PoliciesOut, etag=True
    ),
    ("/v1/sla/policies", "put"): Operation(
        "Replace the SLA policies",
        "sla",
        ADMIN,
        out.PoliciesOut,
        body=sla_schemas.PoliciesIn,
        errors=(404, 409),
        if_match=True,
        etag=True,
        description="Without If-Match the PUT overwrites; before the first PUT the list is "
        'at version 0 (ETag "0").',
    ),
    ("/v1/sla/breaches", "get"): Operation(
        "Recorded SLA breaches, oldest first",
        "sla",
        REPORT_READERS,
        out.BreachesOut,
        query=sla_schemas.BreachesQueryIn,
        csv=True,
        description=f"{WINDOW} As CSV, the next page is a Link header (rel=next).",
    ),
    ("/v1/reports/sla", "get"): Operation(
        "SLA outcomes per metric, policy and period",
        "reports",
        REPORT_READERS,
        out.SlaReportOut,
        query=sla_schemas.SlaReportQueryIn,
        csv=True,
        description=WINDOW,
    ),
    ("/v1/agents", "post"): Operation(
        "Register an agent",
        "agents",
        AGENT_ADMINS,
        agent_schemas.AgentOut,
        statuses=(201,),
        body=agent_schemas.AgentIn,
        errors=(409,),
        idempotent=True,
        etag=True,
    ),
    ("/v1/agents", "get"): Operation(
        "Every agent with their current load (from the routing view)",
        "agents",
        AGENT_READERS,
        out.AgentListOut,
        query=agent_schemas.AgentsQueryIn,
    ),
    (AGENT, "get"): Operation(
        "Read an agent",
        "agents",
        AGENT_READERS,
        agent_schemas.AgentOut,
        errors=(404,),
        etag=True,
    ),
    **{
        (f"{AGENT}/{name}", "post"): _agent_change(name, schema, roles)
        for name, (schema, _, roles) in AGENT_CHANGES.items()
    },
    (f"{AGENT}/performance", "get"): Operation(
        "One agent's performance over days",
        "reports",
        REPORT_READERS,
        out.AgentPerformanceOut,
        query=report_schemas.DateRangeIn,
        errors=(404,),
        csv=True,
        description=f"{WINDOW} {WHOLE_DAYS}",
    ),
    ("/v1/intake/email", "post"): Operation(
        "Receive a raw email (201 when it opens a ticket, 200 when it continues one)",
        "intake",
        INTAKE_WRITERS,
        out.IntakeTicketOut,
        statuses=(200, 201),
        raw_body={"message/rfc822": {"type": "string"}},
        idempotent=True,
        etag=True,
    ),
    ("/v1/intake/{channel}", "post"): Operation(
        "Receive a contact on chat, social, phone or web (201 opened, 200 continued)",
        "intake",
        INTAKE_WRITERS,
        out.IntakeTicketOut,
        statuses=(200, 201),
        body=agent_schemas.IntakeIn,
        errors=(404, 409),
        idempotent=True,
        etag=True,
        path_schemas={"channel": {"type": "string", "enum": list(JSON_CHANNELS)}},
    ),
    ("/v1/customers/{customer_id:uuid}/tickets", "get"): Operation(
        "Every ticket of one customer, on any channel",
        "customers",
        TICKET_READERS,
        out.CustomerTicketsOut,
        query=schemas.CustomerTicketsQueryIn,
    ),
    ("/v1/surveys/{token}", "get"): Operation(
        "The customer's survey page (the token in the link is the credential)",
        "surveys",
        PUBLIC,
        out.SurveyPageOut,
        errors=(404, 410),
    ),
    ("/v1/surveys/{token}", "post"): Operation(
        "Answer a survey, or change the answer inside its window",
        "surveys",
        PUBLIC,
        out.SurveyPageOut,
        body=report_schemas.SurveyAnswerIn,
        errors=(404, 409, 410),
        idempotent=True,
    ),
    ("/v1/reports/satisfaction", "get"): Operation(
        "Satisfaction by day, agent, channel...",
        "reports",
        REPORT_READERS,
        out.SatisfactionReportOut,
        query=report_schemas.SatisfactionQueryIn,
        csv=True,
        description=f"{WINDOW} {WHOLE_DAYS}",
    ),
    ("/v1/reports/agents", "get"): Operation(
        "Every agent's performance over days",
        "reports",
        REPORT_READERS,
        out.AgentsReportOut,
        query=report_schemas.DateRangeIn,
        csv=True,
        description=f"{WINDOW} {WHOLE_DAYS}",
    ),
}
