"""SLA routes: calendars, the policy list, a ticket's timers, breaches and the report.

Calendars and the policy list answer with an ``ETag`` (their version); a ``PUT`` with
``If-Match`` is refused (412, nothing stored) unless it names the current version, or is
``*`` and there is one. A ``PUT`` without ``If-Match`` overwrites, as it always did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import falcon

from application.ports import LogHead, ReadsTickets
from application.sla import SlaTimekeeper
from application.sla_config import IfMatch, SlaConfiguration
from domain.actor import ROLES
from domain.sla.policy import SlaPolicy
from domain.sla.timers import elapsed_at
from infrastructure.views.sla import OUTCOMES
from interface.http.consistency import wait_if_asked
from interface.http.csv_answers import add_route_and_csv_twin, send_items_csv, wants_csv
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.hooks import expected_version, validate_body
from interface.http.middleware.auth import TICKET_READERS, allow
from interface.http.openapi.operation import ADMIN, Operation, Operations
from interface.http.resources.reports import REPORT_READERS
from interface.http.schemas import sla as sla_schemas
from interface.http.schemas.common import plain
from interface.http.schemas.reports import WINDOW_DESCRIPTION
from projections.sla import SlaView

_CALENDAR_QUERY = sla_schemas.CalendarQueryIn()
_BREACHES_QUERY = sla_schemas.BreachesQueryIn()
_REPORT_QUERY = sla_schemas.SlaReportQueryIn()
BREACH_KEY_TYPES = (str, str, str, int)
BREACH_COLUMNS = (
    "ticket_id", "metric", "cycle", "policy", "target", "state", "started_at", "due_at",
    "breached_at",
)  # fmt: skip
REPORT_COLUMNS = ("metric", "policy", "period", "total", *OUTCOMES)


def calendar_document(calendar: Any) -> dict[str, Any]:
    return {
        **calendar.current_revision(),
        "version": calendar.version,
        "revision": calendar.revision,
        "updated_at": calendar.modified_on.isoformat(),
    }


def if_match(req: falcon.Request) -> IfMatch | None:
    """The ``If-Match`` of a PUT: None when absent (the PUT overwrites)."""
    if not req.if_match:
        return None
    if "*" in req.if_match:
        return IfMatch()
    return IfMatch(expected_version(req))


class CalendarItem:
    """``/v1/calendars/{name}``: PUT a whole revision, GET the current one (or, with
    ``?revision=N``, the N-th as it was), DELETE."""

    schema = sla_schemas.CalendarIn()

    def __init__(self, *, timekeeper: SlaTimekeeper, sla_config: SlaConfiguration):
        self.timekeeper = timekeeper  # the current calendars
        self.sla_config = sla_config  # revisions, and the commands

    @falcon.before(allow(*ROLES))
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        query = _CALENDAR_QUERY.load(req.params)
        if "revision" in query:
            calendar = self.sla_config.calendar_revision(name, query["revision"])
        else:
            calendar = self.timekeeper.calendar(name)
        resp.media = calendar_document(calendar)
        resp.etag = str(calendar.version)

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        spec = dict(req.context.body)
        spec["closures"] = [{**c, "date": c["date"].isoformat()} for c in spec["closures"]]
        existed = self.timekeeper.find_calendar(name) is not None
        actor = req.context.actor
        calendar = self.sla_config.put_calendar(name, spec, actor, if_match(req))
        resp.status = falcon.HTTP_200 if existed else falcon.HTTP_201
        resp.media = calendar_document(calendar)
        resp.etag = str(calendar.version)

    @falcon.before(allow())
    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self.sla_config.delete_calendar(name, req.context.actor)
        resp.status = falcon.HTTP_204


class Policies:
    """``/v1/sla/policies``: the ordered list, first match wins."""

    schema = sla_schemas.PoliciesIn()

    def __init__(self, *, timekeeper: SlaTimekeeper, sla_config: SlaConfiguration):
        self.timekeeper = timekeeper  # the current policies
        self.sla_config = sla_config  # replacing them

    @falcon.before(allow(*ROLES))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _send_policies(resp, self.timekeeper.policies())

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        policies = [SlaPolicy.from_dict(p) for p in req.context.body["policies"]]
        current = self.sla_config.replace_policies(policies, req.context.actor, if_match(req))
        _send_policies(resp, current)


def _send_policies(resp: falcon.Response, current: Any) -> None:
    """Before the first PUT the list is empty, at version 0 (its ETag)."""
    version = current.version if current is not None else 0
    resp.media = {"version": version, "policies": current.policies if current else []}
    resp.etag = str(version)


class TicketSla:
    """``GET /v1/tickets/{id}/sla``: the ticket's timers, from its own aggregate."""

    def __init__(self, *, tickets: ReadsTickets, timekeeper: SlaTimekeeper):
        self.tickets = tickets
        self.timekeeper = timekeeper

    @falcon.before(allow(*TICKET_READERS, "analyst"))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        self.tickets.get_ticket(ticket_id)  # 404 for an unknown ticket
        sla = self.timekeeper.ticket_sla(ticket_id)
        now = datetime.now(UTC)
        timers = []
        for timer in sorted((sla.timers.values() if sla else []), key=_timer_order):
            hours = self.timekeeper.hours_of(timer["calendar"], timer["calendar_version"])
            timers.append(plain({**timer, "elapsed": elapsed_at(timer, now, hours)}))
        resp.media = {
            "ticket_id": str(ticket_id),
            "policy": sla.policy if sla else None,
            "timers": timers,
        }


def _timer_order(timer: dict[str, Any]) -> tuple:
    return (timer["started_at"], timer["metric"], timer["cycle"])


class Breaches:
    """``GET /v1/sla/breaches?from=&to=&metric=``: recorded breaches, oldest first (CSV
    too: the next page is then a ``Link: <...>; rel="next"`` header)."""

    def __init__(self, *, sla_view: SlaView, log: LogHead):
        self.view = sla_view
        self.log = log

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _BREACHES_QUERY.load(req.params)
        wait_if_asked(self.log, self.view, query)
        scope = {
            "from": query["from_"].isoformat(),
            "to": query["to"].isoformat(),
            "metric": query.get("metric"),
        }
        after = None
        if "cursor" in query:
            after = decode_cursor(query["cursor"], scope, BREACH_KEY_TYPES)
        limit = query["limit"]
        rows = self.view.breaches(
            query["from_"], query["to"], query.get("metric"), limit + 1, after
        )
        more, rows = len(rows) > limit, rows[:limit]
        last = rows[-1] if rows else None
        items = [{k: row[k] for k in BREACH_COLUMNS} for row in rows]
        next_cursor = (
            encode_cursor(
                (last["breached_at"], last["ticket_id"], last["metric"], last["cycle"]), scope
            )
            if more and last
            else None
        )
        if wants_csv(req):
            # A CSV has no room for the cursor: the next page is a Link (RFC 8288).
            if next_cursor:
                resp.append_link(_next_page(req, scope, next_cursor), "next")
            send_items_csv(resp, BREACH_COLUMNS, items, "breaches")
            return
        resp.media = {"items": items, "next_cursor": next_cursor}


def _next_page(req: falcon.Request, scope: dict[str, Any], cursor: str) -> str:
    """This request again with the cursor, its window pinned (a default one moves at
    midnight, and the cursor belongs to this one)."""
    window = {"from": scope["from"], "to": scope["to"]}
    params = {**req.params, **window, "cursor": cursor}
    return f"{req.path}?{falcon.to_query_str(params, prefix=False)}"


class SlaReport:
    """``GET /v1/reports/sla?from=&to=&period=``: outcomes per metric, policy, period."""

    def __init__(self, *, sla_view: SlaView, log: LogHead):
        self.view = sla_view
        self.log = log

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _REPORT_QUERY.load(req.params)
        wait_if_asked(self.log, self.view, query)
        groups = self.view.report(query["from_"], query["to"], query["period"])
        if wants_csv(req):
            send_items_csv(resp, REPORT_COLUMNS, groups, "sla")
            return
        resp.media = {
            "from": query["from_"].isoformat(),
            "to": query["to"].isoformat(),
            "period": query["period"],
            "groups": groups,
        }


CALENDAR = "/v1/calendars/{name}"

OPERATIONS: Operations = {
    ("/v1/tickets/{ticket_id:uuid}/sla", "get"): Operation(
        "A ticket's SLA timers",
        "sla",
        (*TICKET_READERS, "analyst"),
        sla_schemas.TicketSlaOut,
        errors=(404,),
    ),
    (CALENDAR, "get"): Operation(
        "A business-hours calendar's current revision, or a past one (?revision=N)",
        "sla",
        ROLES,
        sla_schemas.CalendarOut,
        query=sla_schemas.CalendarQueryIn,
        errors=(404,),
        etag=True,
        description="revision counts from 1 (the calendar's creation); every PUT that "
        "changed something is the next. Past revisions of a deleted calendar stay readable; "
        "404 for a revision it never had.",
    ),
    (CALENDAR, "put"): Operation(
        "Create a calendar (201) or replace it with a new revision (200)",
        "sla",
        ADMIN,
        sla_schemas.CalendarOut,
        statuses=(200, 201),
        body=sla_schemas.CalendarIn,
        errors=(409,),
        if_match=True,
        etag=True,
        description="Without If-Match the PUT overwrites whatever revision is current; "
        "If-Match: * needs the calendar to exist.",
    ),
    (CALENDAR, "delete"): Operation(
        "Delete a calendar no policy uses", "sla", ADMIN, statuses=(204,), errors=(404, 409)
    ),
    ("/v1/sla/policies", "get"): Operation(
        "The ordered SLA policies (first match wins)",
        "sla",
        ROLES,
        sla_schemas.PoliciesOut,
        etag=True,
    ),
    ("/v1/sla/policies", "put"): Operation(
        "Replace the SLA policies",
        "sla",
        ADMIN,
        sla_schemas.PoliciesOut,
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
        sla_schemas.BreachesOut,
        query=sla_schemas.BreachesQueryIn,
        csv=True,
        description=f"{WINDOW_DESCRIPTION} As CSV, the next page is a Link header (rel=next).",
    ),
    ("/v1/reports/sla", "get"): Operation(
        "SLA outcomes per metric, policy and period",
        "reports",
        REPORT_READERS,
        sla_schemas.SlaReportOut,
        query=sla_schemas.SlaReportQueryIn,
        csv=True,
        description=WINDOW_DESCRIPTION,
    ),
}


def add_sla_routes(
    app: falcon.App,
    *,
    tickets: ReadsTickets,
    timekeeper: SlaTimekeeper,
    sla_config: SlaConfiguration,
    sla_view: SlaView,
    log: LogHead,
) -> None:
    app.add_route(
        "/v1/calendars/{name}", CalendarItem(timekeeper=timekeeper, sla_config=sla_config)
    )
    app.add_route("/v1/sla/policies", Policies(timekeeper=timekeeper, sla_config=sla_config))
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}/sla", TicketSla(tickets=tickets, timekeeper=timekeeper)
    )
    add_route_and_csv_twin(app, "/v1/sla/breaches", Breaches(sla_view=sla_view, log=log))
    add_route_and_csv_twin(app, "/v1/reports/sla", SlaReport(sla_view=sla_view, log=log))
