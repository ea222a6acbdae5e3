"""SLA routes: calendars, the policy list, a ticket's timers, breaches and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import falcon

from domain.actor import ROLES
from domain.sla import SlaPolicy
from domain.sla_timers import elapsed_at
from infrastructure.bootstrap import Atende
from interface import sla_schemas
from interface.http.auth import TICKET_READERS, allow
from interface.http.consistency import wait_if_asked
from interface.http.cursor import decode_cursor, encode_cursor
from interface.http.hooks import validate_body
from interface.schemas import plain

REPORT_READERS = ("analyst", "auditor", "integrator")
_BREACHES_QUERY = sla_schemas.BreachesQueryIn()
_REPORT_QUERY = sla_schemas.SlaReportQueryIn()
BREACH_KEY_TYPES = (str, str, str, int)


def calendar_document(calendar: Any) -> dict[str, Any]:
    return {
        **calendar.current_revision(),
        "version": calendar.version,
        "revision": calendar.revision,
        "updated_at": calendar.modified_on.isoformat(),
    }


class CalendarItem:
    """``/v1/calendars/{name}``: PUT a whole revision, GET the current one, DELETE."""

    schema = sla_schemas.CalendarIn()

    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*ROLES))
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        calendar = self.atende.tickets.sla.calendar(name)
        resp.media = calendar_document(calendar)
        resp.etag = str(calendar.version)

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_put(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        spec = dict(req.context.body)
        spec["closures"] = [{**c, "date": c["date"].isoformat()} for c in spec["closures"]]
        existed = self.atende.tickets.sla.find_calendar(name) is not None
        calendar = self.atende.sla_config.put_calendar(name, spec, req.context.actor)
        resp.status = falcon.HTTP_200 if existed else falcon.HTTP_201
        resp.media = calendar_document(calendar)
        resp.etag = str(calendar.version)

    @falcon.before(allow())
    def on_delete(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        self.atende.sla_config.delete_calendar(name, req.context.actor)
        resp.status = falcon.HTTP_204


class Policies:
    """``/v1/sla/policies``: the ordered list, first match wins."""

    schema = sla_schemas.PoliciesIn()

    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*ROLES))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        current = self.atende.tickets.sla.policies()
        resp.media = _policies_document(current)

    @falcon.before(allow())
    @falcon.before(validate_body)
    def on_put(self, req: falcon.Request, resp: falcon.Response) -> None:
        policies = [SlaPolicy.from_dict(p) for p in req.context.body["policies"]]
        current = self.atende.sla_config.replace_policies(policies, req.context.actor)
        resp.media = _policies_document(current)


def _policies_document(current: Any) -> dict[str, Any]:
    if current is None:
        return {"version": 0, "policies": []}
    return {"version": current.version, "policies": current.policies}


class TicketSla:
    """``GET /v1/tickets/{id}/sla``: the ticket's timers, from its own aggregate."""

    def __init__(self, atende: Atende):
        self.atende = atende

    @falcon.before(allow(*TICKET_READERS, "analyst"))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        tickets = self.atende.tickets
        tickets.get_ticket(ticket_id)  # 404 for an unknown ticket
        sla = tickets.sla.ticket_sla(ticket_id)
        now = datetime.now(UTC)
        timers = []
        for timer in sorted((sla.timers.values() if sla else []), key=_timer_order):
            hours = tickets.sla.hours_of(timer["calendar"], timer["calendar_version"])
            timers.append(plain({**timer, "elapsed": elapsed_at(timer, now, hours)}))
        resp.media = {
            "ticket_id": str(ticket_id),
            "policy": sla.policy if sla else None,
            "timers": timers,
        }


def _timer_order(timer: dict[str, Any]) -> tuple:
    return (timer["started_at"], timer["metric"], timer["cycle"])


class Breaches:
    """``GET /v1/sla/breaches?from=&to=&metric=``: recorded breaches, oldest first."""

    def __init__(self, atende: Atende):
        self.atende = atende
        self.view = atende.views["sla"]

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _BREACHES_QUERY.load(req.params)
        wait_if_asked(self.atende, self.view, query)
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
        resp.media = {
            "items": [_breach_item(row) for row in rows],
            "next_cursor": encode_cursor(
                (last["breached_at"], last["ticket_id"], last["metric"], last["cycle"]), scope
            )
            if more and last
            else None,
        }


def _breach_item(row: dict[str, Any]) -> dict[str, Any]:
    shown = (
        "ticket_id", "metric", "cycle", "policy", "target", "state", "started_at", "due_at",
        "breached_at",
    )  # fmt: skip
    return {k: row[k] for k in shown}


class SlaReport:
    """``GET /v1/reports/sla?from=&to=&period=``: outcomes per metric, policy, period."""

    def __init__(self, atende: Atende):
        self.atende = atende
        self.view = atende.views["sla"]

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _REPORT_QUERY.load(req.params)
        wait_if_asked(self.atende, self.view, query)
        resp.media = {
            "from": query["from_"].isoformat(),
            "to": query["to"].isoformat(),
            "period": query["period"],
            "groups": self.view.report(query["from_"], query["to"], query["period"]),
        }


def add_sla_routes(app: falcon.App, atende: Atende) -> None:
    app.add_route("/v1/calendars/{name}", CalendarItem(atende))
    app.add_route("/v1/sla/policies", Policies(atende))
    app.add_route("/v1/tickets/{ticket_id:uuid}/sla", TicketSla(atende))
    app.add_route("/v1/sla/breaches", Breaches(atende))
    app.add_route("/v1/reports/sla", SlaReport(atende))
