"""The reports view: satisfaction by agent, channel, language, category and day, and
each agent's performance (assigned, resolved, reopened, response and resolution times,
SLA met), for any range of days.

Reports read rollups, not tickets: counters per day, month and year (a range reads
whole years as years, whole months as months, and the days at its edges), and durations
as histograms (exact below 100 seconds, in 5% steps above), so a median over a year of
tickets reads a few hundred rows per agent. The rollups are exact sums, so a live view
fed small batches and a rebuild fed large ones hold the same rows.

Some events need what earlier ones said: a rating counts for the survey's agent and
day, a reopen against the agent who resolved. The projection turns each event into a
``ReportChange``; the view loads the facts those changes touch (one row per ticket and
per survey), and ``fold`` computes, purely, the new facts and the counter increments.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from eventsourcing.persistence import Tracking

from domain.sla.timers import TicketSla
from domain.survey import SATISFIED, Survey
from domain.ticket import Ticket
from projections.base import RowProjection, RowView
from projections.timestamps import timestamp

GROUPS = ("agent", "channel", "language", "category", "day")
DURATION_METRICS = (
    "first_response_business",
    "first_response_calendar",
    "resolution_business",
    "resolution_calendar",
)
AGENT_COUNTERS = ("assigned", "resolved", "reopened", "sla_met", "sla_total")
SATISFACTION_COUNTERS = ("sent", "responses", "rating_sum", "satisfied")
EXACT_BELOW = 100  # durations under this many seconds are kept exactly
STEP_RATIO = 1.05  # above, each bucket is 5% wider than the one before
NONE = ""  # a group key for "no agent" / "no category" (keys cannot be NULL)


class ReportChange(NamedTuple):
    """What one event means for the reports. ``key`` is the ticket's or survey's id."""

    kind: str
    key: str
    at: str  # projections.timestamps text
    data: dict[str, Any]


# Counter increments: (table, key) -> {column: delta}; tables are "satisfaction"
# (dim, period, value), "agents" (period, agent) and "durations" (period, agent,
# metric, bucket) with the single column "n".
Counters = dict[tuple[str, tuple[str, ...]], dict[str, int]]


@dataclass
class Folded:
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    surveys: dict[str, dict[str, Any]] = field(default_factory=dict)
    counters: Counters = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))


class ReportsView(RowView[ReportChange]):
    @abstractmethod
    def apply(self, changes: Sequence[ReportChange], tracking: Tracking) -> None:
        """Load the facts the changes touch, fold, write facts and counters and the
        tracking position, in one transaction."""

    @abstractmethod
    def satisfaction(self, group_by: str, start: date, end: date) -> list[dict[str, Any]]:
        """Per group: sent, responses, rating_sum, satisfied (end inclusive)."""

    @abstractmethod
    def agent_counters(
        self, start: date, end: date, agent: str | None = None
    ) -> dict[str, dict[str, int]]: ...

    @abstractmethod
    def agent_durations(
        self, start: date, end: date, agent: str | None = None
    ) -> dict[str, dict[str, list[tuple[int, int]]]]:
        """agent -> metric -> [(bucket, count)] in bucket order."""

    @abstractmethod
    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's rows in key order (to compare a live view with a rebuild)."""


class ReportsProjection(RowProjection[ReportChange]):
    name = "reports"

    def handles(self, event_class: type) -> bool:
        return event_class in _CHANGES

    def changes(self, e: Any, position: int) -> list[ReportChange]:
        handler = _CHANGES.get(type(e))
        return handler(e) if handler is not None else []


def _change(kind: str, key: Any, e: Any, **data: Any) -> list[ReportChange]:
    return [ReportChange(kind, str(key), timestamp(e.timestamp), data)]


def _message(e: Ticket.MessageAdded) -> list[ReportChange]:
    if e.author_type != "agent" or e.visibility != "public":
        return []
    return _change("replied", e.originator_id, e, author=e.author_id)


def _agent_of(actor: Any) -> str | None:
    """The agent an agent-bound token acted as (issue 20), if the event was theirs."""
    return getattr(actor, "agent_id", None)


def _timer(e: Any) -> list[ReportChange]:
    timer = e.timer
    return _change(
        "timer_fulfilled", timer["ticket_id"], e,
        metric=timer["metric"], cycle=timer["cycle"], business=timer["elapsed"], met=timer["met"],
    )  # fmt: skip


def _issued(e: Survey.Issued) -> list[ReportChange]:
    return _change(
        "survey_issued", e.originator_id, e,
        agent=e.agent_id, channel=e.channel, language=e.language, category=e.category,
    )  # fmt: skip


_CHANGES: dict[type, Any] = {
    Ticket.Opened: lambda e: _change("opened", e.originator_id, e),
    Ticket.Assigned: lambda e: _change("assigned", e.originator_id, e, agent=e.agent_id),
    Ticket.Unassigned: lambda e: _change("unassigned", e.originator_id, e),
    Ticket.MessageAdded: _message,
    Ticket.Resolved: lambda e: _change("resolved", e.originator_id, e, by=_agent_of(e.actor)),
    Ticket.Reopened: lambda e: _change("reopened", e.originator_id, e),
    TicketSla.TimerFulfilled: _timer,
    Survey.Issued: _issued,
    Survey.Rated: lambda e: _change(
        "survey_rated", e.originator_id, e, rating=e.rating, previous=e.previous_rating
    ),
}
SURVEY_KINDS = ("survey_issued", "survey_rated")


def ticket_keys(changes: Iterable[ReportChange]) -> set[str]:
    return {c.key for c in changes if c.kind not in SURVEY_KINDS}


def survey_keys(changes: Iterable[ReportChange]) -> set[str]:
    return {c.key for c in changes if c.kind in SURVEY_KINDS}


def fold(
    changes: Sequence[ReportChange],
    tickets: dict[str, dict[str, Any]],
    surveys: dict[str, dict[str, Any]],
) -> Folded:
    """Apply the changes to the loaded facts; return the facts they changed and the
    counter increments. Facts not loaded are facts of tickets the view never saw open
    (events before the view existed): their changes still count what they can."""
    out = Folded()
    for change in changes:
        if change.kind in SURVEY_KINDS:
            _fold_survey(change, surveys, out)
        else:
            _fold_ticket(change, tickets, out)
    return out


def _fold_ticket(c: ReportChange, tickets: dict[str, dict[str, Any]], out: Folded) -> None:
    if c.kind == "opened":
        fact = tickets[c.key] = new_ticket_fact(c.key, c.at)
        out.tickets[c.key] = fact
        return
    fact = tickets.get(c.key)
    if fact is None:
        fact = tickets[c.key] = new_ticket_fact(c.key, None)
    out.tickets[c.key] = fact
    if c.kind == "assigned":
        fact["assignee"] = c.data["agent"]
        _count(out, "agents", c.at, (c.data["agent"],), assigned=1)
    elif c.kind == "unassigned":
        fact["assignee"] = None
    elif c.kind == "replied" and fact["first_response_at"] is None:
        fact["first_response_at"] = c.at
        fact["first_responder"] = c.data["author"] or fact["assignee"]
        _duration(out, c.at, fact["first_responder"], "first_response_calendar", fact, c.at)
    elif c.kind == "resolved":
        # The agent who resolved it when the event says (an agent-bound token), else the
        # agent who held it.
        fact["resolver"] = c.data.get("by") or fact["assignee"]
        _count(out, "agents", c.at, (fact["resolver"],), resolved=1)
        _duration(out, c.at, fact["resolver"], "resolution_calendar", fact, c.at)
    elif c.kind == "reopened" and fact["resolver"]:
        _count(out, "agents", c.at, (fact["resolver"],), reopened=1)
    elif c.kind == "timer_fulfilled":
        metric = c.data["metric"]
        agent = {"first_response": fact["first_responder"], "resolution": fact["resolver"]}.get(
            metric, fact["assignee"]
        )
        _count(out, "agents", c.at, (agent,), sla_total=1, sla_met=1 if c.data["met"] else 0)
        if (metric == "first_response" and c.data["cycle"] == 1) or metric == "resolution":
            _bucket(out, c.at, agent, f"{metric}_business", c.data["business"])


def new_ticket_fact(key: str, opened_at: str | None) -> dict[str, Any]:
    return {
        "id": key,
        "opened_at": opened_at,
        "assignee": None,
        "first_response_at": None,
        "first_responder": None,
        "resolver": None,
    }


def _fold_survey(c: ReportChange, surveys: dict[str, dict[str, Any]], out: Folded) -> None:
    if c.kind == "survey_issued":
        fact = surveys[c.key] = {
            "id": c.key,
            "day": c.at[:10],
            "agent": c.data["agent"] or NONE,
            "channel": c.data["channel"] or NONE,
            "language": c.data["language"] or NONE,
            "category": c.data["category"] or NONE,
            "rating": None,
        }
        out.surveys[c.key] = fact
        _count_survey(out, fact, sent=1)
        return
    fact = surveys.get(c.key)
    if fact is None:
        return  # issued before the view existed: nothing to count it against
    rating, previous = c.data["rating"], c.data["previous"]
    fact["rating"] = rating
    out.surveys[c.key] = fact
    _count_survey(
        out,
        fact,
        responses=0 if previous is not None else 1,
        rating_sum=rating - (previous or 0),
        satisfied=int(rating in SATISFIED) - int(previous in SATISFIED),
    )


def _count_survey(out: Folded, fact: dict[str, Any], **deltas: int) -> None:
    day = fact["day"]
    for dim in GROUPS:
        value = day if dim == "day" else fact[dim]
        periods = (day,) if dim == "day" else (day, day[:7])
        for period in periods:
            row = out.counters[("satisfaction", (dim, period, value))]
            for column, delta in deltas.items():
                row[column] += delta


def _count(out: Folded, table: str, at: str, key: tuple[Any, ...], **deltas: int) -> None:
    if not key[0]:
        return  # nobody to count it for (no agent)
    for period in (at[:10], at[:7]):
        row = out.counters[(table, (period, *key))]
        for column, delta in deltas.items():
            row[column] += delta


def _duration(
    out: Folded, at: str, agent: str | None, metric: str, fact: dict[str, Any], until: str
) -> None:
    if fact["opened_at"] is None:
        return
    seconds = datetime.fromisoformat(until) - datetime.fromisoformat(fact["opened_at"])
    _bucket(out, at, agent, metric, seconds.total_seconds())


def _bucket(out: Folded, at: str, agent: str | None, metric: str, seconds: float) -> None:
    if not agent:
        return
    for period in (at[:10], at[:7]):
        out.counters[("durations", (period, agent, metric, str(duration_bucket(seconds))))][
            "n"
        ] += 1


def duration_bucket(seconds: float) -> int:
    """Whole seconds, exact below 100 s; above, rounded down to a step of a 5% ladder
    (100, 105, 110, 115, 121...). Coarse enough that a year of an agent's durations fits
    in a couple of hundred buckets, fine enough for a median read by people."""
    whole = max(0, int(seconds))
    if whole < EXACT_BELOW:
        return whole
    step = int(math.log(whole / EXACT_BELOW) / math.log(STEP_RATIO))
    # Float logarithms can land a step off at the edges: settle on the exact step.
    while _ladder(step + 1) <= whole:
        step += 1
    while _ladder(step) > whole:
        step -= 1
    return _ladder(step)


def _ladder(step: int) -> int:
    return math.floor(EXACT_BELOW * STEP_RATIO**step)


# Reading the rollups


def periods_covering(start: date, end: date, days_only: bool = False) -> list[str]:
    """The day and month keys that together cover [start, end] exactly once: whole
    months as months, the rest as days."""
    periods: list[str] = []
    day = start
    while day <= end:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if not days_only and day.day == 1 and month_end <= end:
            periods.append(day.isoformat()[:7])
            day = month_end + timedelta(days=1)
        else:
            periods.append(day.isoformat())
            day += timedelta(days=1)
    return periods


def periods_with_years(start: date, end: date) -> list[str]:
    """As ``periods_covering``, with whole calendar years read as years (the view keeps
    year rows beside month rows, see infrastructure.views.reports)."""
    periods: list[str] = []
    day = start
    while day <= end:
        year_end = date(day.year, 12, 31)
        if day == date(day.year, 1, 1) and year_end <= end:
            periods.append(str(day.year))
            day = year_end + timedelta(days=1)
            continue
        chunk_end = min(year_end, end)
        periods += periods_covering(day, chunk_end)
        day = chunk_end + timedelta(days=1)
    return periods


def percentile(histogram: Sequence[tuple[int, int]], q: float) -> int | None:
    """Nearest-rank percentile of a histogram [(value, count)] in value order."""
    total = sum(n for _, n in histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value, n in histogram:
        seen += n
        if seen >= rank:
            return value
    return histogram[-1][0]


def rate(part: int, whole: int) -> float | None:
    """A percentage with two decimals; None when there is nothing to divide by."""
    return None if whole == 0 else round(100 * part / whole, 2)
