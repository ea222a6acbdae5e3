"""Reports: satisfaction by group, and agents' performance; JSON, or CSV for
``Accept: text/csv``. Their window (``from``, ``to``) is every report's: see
interface.http.schemas.reports.ReportWindowIn."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import falcon

from application.agents import AgentDirectory
from application.ports import LogHead
from interface.http.consistency import wait_if_asked
from interface.http.csv_answers import (
    add_route_and_csv_twin,
    flatten,
    send_csv,
    send_items_csv,
    wants_csv,
)
from interface.http.middleware.auth import allow
from interface.http.openapi.operation import Operation, Operations
from interface.http.schemas.reports import (
    WHOLE_DAYS_DESCRIPTION,
    WINDOW_DESCRIPTION,
    AgentPerformanceOut,
    AgentsReportOut,
    DateRangeIn,
    SatisfactionQueryIn,
    SatisfactionReportOut,
)
from projections.reports import NONE, SATISFACTION_COUNTERS, ReportsView, percentile, rate

# Who reads reports (DESIGN.md Roles: analysts; auditors read everything readable).
REPORT_READERS = ("supervisor", "analyst", "auditor", "integrator")
_SATISFACTION_QUERY = SatisfactionQueryIn()
_RANGE_QUERY = DateRangeIn()


SATISFACTION_COLUMNS = ("surveys_sent", "responses", "response_rate", "average_rating", "csat")


def satisfaction_figures(sums: dict[str, int]) -> dict[str, Any]:
    """Surveys sent, responses, response rate and CSAT (percentages), average rating."""
    sent, responses = sums["sent"], sums["responses"]
    return {
        "surveys_sent": sent,
        "responses": responses,
        "response_rate": rate(responses, sent),
        "average_rating": round(sums["rating_sum"] / responses, 2) if responses else None,
        "csat": rate(sums["satisfied"], responses),
    }


def performance(
    agent_id: str,
    counters: dict[str, int] | None,
    durations: dict[str, list[tuple[int, int]]] | None,
    satisfaction: dict[str, int] | None,
) -> dict[str, Any]:
    c = counters or dict.fromkeys(("assigned", "resolved", "reopened", "sla_met", "sla_total"), 0)
    d = durations or {}
    s = satisfaction or {"sent": 0, "responses": 0, "rating_sum": 0, "satisfied": 0}

    def times(metric: str) -> dict[str, Any]:
        business, calendar = d.get(f"{metric}_business", []), d.get(f"{metric}_calendar", [])
        return {
            "count": sum(n for _, n in calendar),
            "business_seconds": {
                "median": percentile(business, 0.5),
                "p90": percentile(business, 0.9),
            },
            "calendar_seconds": {
                "median": percentile(calendar, 0.5),
                "p90": percentile(calendar, 0.9),
            },
        }

    return {
        "agent_id": agent_id,
        "assigned": c["assigned"],
        "resolved": c["resolved"],
        "resolution_rate": rate(c["resolved"], c["assigned"]),
        "reopened": c["reopened"],
        "reopen_rate": rate(c["reopened"], c["resolved"]),
        "first_response": times("first_response"),
        "resolution": times("resolution"),
        "sla": {
            "met": c["sla_met"],
            "total": c["sla_total"],
            "met_rate": rate(c["sla_met"], c["sla_total"]),
        },
        "csat": satisfaction_figures(s),
    }


def _performance_of(
    view: ReportsView, start: date, end: date, agent: str | None
) -> list[dict[str, Any]]:
    counters = view.agent_counters(start, end, agent)
    durations = view.agent_durations(start, end, agent)
    satisfaction = view.agent_satisfaction(start, end, agent)
    active = set(counters) | set(durations) | (set(satisfaction) - {NONE})
    agents = sorted(active | ({agent} if agent else set()))
    return [performance(a, counters.get(a), durations.get(a), satisfaction.get(a)) for a in agents]


class SatisfactionReport:
    """``GET /v1/reports/satisfaction?group_by=&from=&to=``"""

    def __init__(self, *, reports: ReportsView, log: LogHead):
        self.view = reports
        self.log = log

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _SATISFACTION_QUERY.load(req.params)
        wait_if_asked(self.log, self.view, query)
        rows = self.view.satisfaction(query["group_by"], query["from_"], query["to"])
        groups = [
            {"group": None if r["value"] == NONE else r["value"], **satisfaction_figures(r)}
            for r in rows
        ]
        if wants_csv(req):
            header = [query["group_by"], *SATISFACTION_COLUMNS]
            send_csv(
                resp,
                header,
                ([g["group"], *(g[c] for c in SATISFACTION_COLUMNS)] for g in groups),
                "satisfaction",
            )
            return
        # Every survey is in exactly one group of any dimension: the groups add up.
        totals = {c: sum(r[c] for r in rows) for c in SATISFACTION_COUNTERS}
        resp.media = {
            "from": query["from_"].isoformat(),
            "to": query["to"].isoformat(),
            "group_by": query["group_by"],
            "groups": groups,
            "total": satisfaction_figures(totals),
        }


class AgentsReport:
    """``GET /v1/reports/agents?from=&to=``: every agent with activity in the range."""

    def __init__(self, *, reports: ReportsView, log: LogHead):
        self.view = reports
        self.log = log

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _RANGE_QUERY.load(req.params)
        wait_if_asked(self.log, self.view, query)
        agents = _performance_of(self.view, query["from_"], query["to"], None)
        if wants_csv(req):
            _send_performance_csv(resp, agents)
            return
        resp.media = {
            "from": query["from_"].isoformat(),
            "to": query["to"].isoformat(),
            "agents": agents,
        }


class AgentPerformance:
    """``GET /v1/agents/{id}/performance?from=&to=``"""

    def __init__(self, *, reports: ReportsView, agents: AgentDirectory, log: LogHead):
        self.view = reports
        self.agents = agents  # 404 for an unknown agent
        self.log = log

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, agent_id: UUID) -> None:
        query = _RANGE_QUERY.load(req.params)
        agent = self.agents.get(agent_id)  # 404 for an unknown agent
        wait_if_asked(self.log, self.view, query)
        [found] = _performance_of(self.view, query["from_"], query["to"], str(agent.id))
        if wants_csv(req):
            _send_performance_csv(resp, [found])
            return
        resp.media = {"from": query["from_"].isoformat(), "to": query["to"].isoformat(), **found}


def _send_performance_csv(resp: falcon.Response, agents: list[dict[str, Any]]) -> None:
    header = flatten(performance("", None, None, None))
    send_items_csv(resp, header, agents, "agents")


OPERATIONS: Operations = {
    ("/v1/agents/{agent_id:uuid}/performance", "get"): Operation(
        "One agent's performance over days",
        "reports",
        REPORT_READERS,
        AgentPerformanceOut,
        query=DateRangeIn,
        errors=(404,),
        csv=True,
        description=f"{WINDOW_DESCRIPTION} {WHOLE_DAYS_DESCRIPTION}",
    ),
    ("/v1/reports/satisfaction", "get"): Operation(
        "Satisfaction by day, agent, channel...",
        "reports",
        REPORT_READERS,
        SatisfactionReportOut,
        query=SatisfactionQueryIn,
        csv=True,
        description=f"{WINDOW_DESCRIPTION} {WHOLE_DAYS_DESCRIPTION}",
    ),
    ("/v1/reports/agents", "get"): Operation(
        "Every agent's performance over days",
        "reports",
        REPORT_READERS,
        AgentsReportOut,
        query=DateRangeIn,
        csv=True,
        description=f"{WINDOW_DESCRIPTION} {WHOLE_DAYS_DESCRIPTION}",
    ),
}


def add_report_routes(
    app: falcon.App, *, reports: ReportsView, agents: AgentDirectory, log: LogHead
) -> None:
    add_route_and_csv_twin(
        app, "/v1/reports/satisfaction", SatisfactionReport(reports=reports, log=log)
    )
    add_route_and_csv_twin(app, "/v1/reports/agents", AgentsReport(reports=reports, log=log))
    add_route_and_csv_twin(
        app,
        "/v1/agents/{agent_id:uuid}/performance",
        AgentPerformance(reports=reports, agents=agents, log=log),
    )
