"""The reports projection without a database: which changes domain events mean, the pure
fold of changes into facts and counter increments, and the helpers that read rollups."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.actor import SYSTEM, Actor
from domain.sla.business_time import BusinessHours
from domain.sla.policy import SlaPolicy
from domain.sla.timers import AppliedPolicy, TicketSla
from domain.survey import Survey, token_hash
from domain.ticket import Ticket
from projections.reports import (
    NONE,
    Folded,
    ReportChange,
    ReportsProjection,
    fold,
    percentile,
    periods_covering,
    periods_with_years,
    rate,
    survey_keys,
    ticket_keys,
)
from projections.reports import (
    duration_bucket as histogram_step,
)
from projections.timestamps import timestamp
from tests.unit import tickets

# The fold's counter table of histograms (business and calendar spans, in buckets).
HISTOGRAM_TABLE = "durations"

DAY = "2026-03-02"
MONTH = "2026-03"
T1, S1 = "ticket-1", "survey-1"


def at(day: str = DAY, time: str = "10:00:00") -> str:
    """An instant as the projection writes it (projections.timestamps)."""
    return f"{day}T{time}.000000+00:00"


def change(kind: str, key: str, when: str, **data: Any) -> ReportChange:
    return ReportChange(kind, key, when, data)


def opened(key: str = T1, when: str | None = None) -> ReportChange:
    return change("opened", key, when or at())


def assigned(agent: str, key: str = T1, when: str | None = None) -> ReportChange:
    return change("assigned", key, when or at(), agent=agent)


def replied(author: str | None, when: str, key: str = T1) -> ReportChange:
    return change("replied", key, when, author=author)


def fulfilled(metric: str, when: str, *, cycle: int = 1, business: int = 600, met: bool = True):
    return change(
        "timer_fulfilled", T1, when, metric=metric, cycle=cycle, business=business, met=met
    )


def issued(
    key: str = S1,
    when: str | None = None,
    *,
    agent: str | None = "agent-1",
    channel: str | None = "email",
    language: str | None = "es",
    category: str | None = "billing",
) -> ReportChange:
    return change(
        "survey_issued",
        key,
        when or at(),
        agent=agent,
        channel=channel,
        language=language,
        category=category,
    )


def survey_rated(rating: int, previous: int | None, when: str, key: str = S1) -> ReportChange:
    return change("survey_rated", key, when, rating=rating, previous=previous)


def counters(folded: Folded) -> dict[tuple[str, tuple[str, ...]], dict[str, int]]:
    return {key: dict(row) for key, row in folded.counters.items()}


def agents(period: str, agent: str, **columns: int) -> dict:
    return {("agents", (period, agent)): columns}


def on_day_and_month(agent: str, day: str = DAY, **columns: int) -> dict:
    return {**agents(day, agent, **columns), **agents(day[:7], agent, **columns)}


def histogram_counts(agent: str, metric: str, seconds: int, day: str = DAY) -> dict:
    """One sample of ``seconds`` (a span between the test's fixed instants) in its bucket,
    on the day and in the month."""
    return {
        (HISTOGRAM_TABLE, (period, agent, metric, str(histogram_step(seconds)))): {"n": 1}
        for period in (day, day[:7])
    }


def satisfaction(fact: dict[str, str], day: str = DAY, **columns: int) -> dict:
    """The rows one survey's change touches: each dimension by day and by month, and the
    day dimension by day only."""
    rows = {}
    for dim in ("agent", "channel", "language", "category"):
        for period in (day, day[:7]):
            rows[("satisfaction", (dim, period, fact[dim]))] = columns
    rows[("satisfaction", ("day", day, day))] = columns
    return rows


SURVEY_GROUPS = {"agent": "agent-1", "channel": "email", "language": "es", "category": "billing"}


# Tickets: opening, assignment, replies


def test_an_opened_change_creates_the_ticket_fact_and_counts_nothing() -> None:
    tickets: dict[str, dict[str, Any]] = {}
    folded = fold([opened()], tickets, {})
    assert folded.tickets == {
        T1: {
            "id": T1,
            "opened_at": at(),
            "assignee": None,
            "first_response_at": None,
            "first_responder": None,
            "resolver": None,
        }
    }
    assert tickets[T1] is folded.tickets[T1]
    assert counters(folded) == {}


def test_an_assignment_counts_one_assigned_for_the_agent_by_day_and_by_month() -> None:
    folded = fold([opened(), assigned("agent-1")], {}, {})
    assert folded.tickets[T1]["assignee"] == "agent-1"
    assert counters(folded) == on_day_and_month("agent-1", assigned=1)
    assert counters(folded) == {
        ("agents", ("2026-03-02", "agent-1")): {"assigned": 1},
        ("agents", ("2026-03", "agent-1")): {"assigned": 1},
    }


def test_an_assignment_counts_on_the_day_it_happened() -> None:
    folded = fold([opened(), assigned("agent-1", when=at("2026-03-31", "23:59:59"))], {}, {})
    assert counters(folded) == on_day_and_month("agent-1", day="2026-03-31", assigned=1)


def test_a_reassignment_counts_one_assigned_for_each_agent() -> None:
    folded = fold([opened(), assigned("agent-1"), assigned("agent-2")], {}, {})
    assert folded.tickets[T1]["assignee"] == "agent-2"
    assert counters(folded) == {
        **on_day_and_month("agent-1", assigned=1),
        **on_day_and_month("agent-2", assigned=1),
    }


def test_an_unassignment_clears_the_assignee_and_counts_nothing() -> None:
    folded = fold([opened(), assigned("agent-1"), change("unassigned", T1, at())], {}, {})
    assert folded.tickets[T1]["assignee"] is None
    assert counters(folded) == on_day_and_month("agent-1", assigned=1)


def test_the_first_reply_records_the_first_response_and_its_calendar_duration() -> None:
    changes = [opened(when=at(time="10:00:00")), replied("agent-1", at(time="10:05:30"))]
    folded = fold(changes, {}, {})
    fact = folded.tickets[T1]
    assert (fact["first_response_at"], fact["first_responder"]) == (at(time="10:05:30"), "agent-1")
    assert counters(folded) == histogram_counts("agent-1", "first_response_calendar", 330)


def test_a_first_response_span_over_a_hundred_seconds_falls_in_its_five_percent_step() -> None:
    # 2026-03-02 10:00:00 -> 2026-03-03 13:25:45 is 98,745 s: in the step from 97,205 s.
    changes = [opened(), replied("agent-1", at("2026-03-03", "13:25:45"))]
    folded = fold(changes, {}, {})
    assert counters(folded) == histogram_counts(
        "agent-1", "first_response_calendar", 98745, day="2026-03-03"
    )
    assert (HISTOGRAM_TABLE, ("2026-03-03", "agent-1", "first_response_calendar", "97205")) in (
        counters(folded)
    )


def test_a_first_response_is_counted_in_the_month_of_the_reply() -> None:
    changes = [opened(when=at("2026-02-28", "23:00:00")), replied("agent-1", at("2026-03-01"))]
    folded = fold(changes, {}, {})
    assert counters(folded) == histogram_counts(
        "agent-1", "first_response_calendar", 39600, day="2026-03-01"
    )


def test_only_the_first_reply_counts_as_the_first_response() -> None:
    changes = [
        opened(),
        replied("agent-1", at(time="10:01:00")),
        replied("agent-2", at(time="11:00:00")),
    ]
    folded = fold(changes, {}, {})
    fact = folded.tickets[T1]
    assert (fact["first_response_at"], fact["first_responder"]) == (at(time="10:01:00"), "agent-1")
    assert counters(folded) == histogram_counts("agent-1", "first_response_calendar", 60)


def test_a_reply_without_an_author_is_the_assignees_response() -> None:
    changes = [opened(), assigned("agent-1"), replied(None, at(time="10:00:42"))]
    folded = fold(changes, {}, {})
    assert folded.tickets[T1]["first_responder"] == "agent-1"
    assert counters(folded) == {
        **on_day_and_month("agent-1", assigned=1),
        **histogram_counts("agent-1", "first_response_calendar", 42),
    }


def test_a_reply_from_nobody_known_records_the_response_but_counts_no_duration() -> None:
    folded = fold([opened(), replied(None, at(time="10:00:42"))], {}, {})
    fact = folded.tickets[T1]
    assert (fact["first_response_at"], fact["first_responder"]) == (at(time="10:00:42"), None)
    assert counters(folded) == {}


# Tickets: resolution and reopening


def test_a_resolution_counts_for_the_assignee_with_its_calendar_duration() -> None:
    changes = [opened(), assigned("agent-1"), change("resolved", T1, at(time="12:00:00"))]
    folded = fold(changes, {}, {})
    assert folded.tickets[T1]["resolver"] == "agent-1"
    assert counters(folded) == {
        ("agents", (DAY, "agent-1")): {"assigned": 1, "resolved": 1},
        ("agents", (MONTH, "agent-1")): {"assigned": 1, "resolved": 1},
        **histogram_counts("agent-1", "resolution_calendar", 7200),
    }


def test_a_resolution_by_an_agent_bound_token_counts_for_that_agent_not_the_assignee() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        change("resolved", T1, at(time="12:00:00"), by="agent-2"),
    ]
    folded = fold(changes, {}, {})
    assert folded.tickets[T1]["resolver"] == "agent-2"
    assert counters(folded)[("agents", (DAY, "agent-2"))] == {"resolved": 1}


def test_a_resolved_event_names_the_agent_its_bound_token_acted_as() -> None:
    bound = Actor(id="t-1", name="maria", role="agent", agent_id="agent-2")
    ticket = tickets.new_ticket()
    ticket.resolve("listo", bound)
    (resolved,) = [e for e in ticket.collect_events() if type(e).__name__ == "Resolved"]
    (change_,) = projection().changes(resolved, 1)
    assert change_.data == {"by": "agent-2"}


def test_an_unassigned_resolution_counts_for_nobody() -> None:
    folded = fold([opened(), change("resolved", T1, at(time="12:00:00"))], {}, {})
    assert folded.tickets[T1]["resolver"] is None
    assert counters(folded) == {}


def test_a_reopen_is_counted_against_the_resolver_even_after_a_reassignment() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        change("resolved", T1, at(time="12:00:00")),
        assigned("agent-2", when=at("2026-03-04")),
        change("reopened", T1, at("2026-03-04", "09:00:00")),
    ]
    folded = fold(changes, {}, {})
    got = counters(folded)
    assert got[("agents", ("2026-03-04", "agent-1"))] == {"reopened": 1}
    assert got[("agents", ("2026-03-04", "agent-2"))] == {"assigned": 1}
    assert got[("agents", (MONTH, "agent-1"))] == {"assigned": 1, "resolved": 1, "reopened": 1}
    assert got[("agents", (MONTH, "agent-2"))] == {"assigned": 1}


def test_a_reopen_is_counted_against_the_resolver_after_they_were_unassigned() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        change("resolved", T1, at(time="12:00:00")),
        change("unassigned", T1, at(time="12:30:00")),
        change("reopened", T1, at(time="13:00:00")),
    ]
    assert counters(fold(changes, {}, {})) == on_day_and_month(
        "agent-1", assigned=1, resolved=1, reopened=1
    ) | histogram_counts("agent-1", "resolution_calendar", 7200)


def test_a_reopen_of_a_resolution_by_nobody_counts_nothing() -> None:
    changes = [opened(), change("resolved", T1, at()), change("reopened", T1, at())]
    assert counters(fold(changes, {}, {})) == {}


def test_a_reopen_of_a_ticket_never_resolved_in_view_counts_nothing() -> None:
    changes = [opened(), assigned("agent-1"), change("reopened", T1, at())]
    assert counters(fold(changes, {}, {})) == on_day_and_month("agent-1", assigned=1)


def test_a_second_resolution_by_someone_else_makes_them_the_resolver() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        change("resolved", T1, at(time="11:00:00")),
        change("reopened", T1, at(time="11:30:00")),
        assigned("agent-2", when=at(time="11:40:00")),
        change("resolved", T1, at(time="12:00:00")),
        change("reopened", T1, at(time="13:00:00")),
    ]
    folded = fold(changes, {}, {})
    assert folded.tickets[T1]["resolver"] == "agent-2"
    got = counters(folded)
    assert got[("agents", (DAY, "agent-1"))] == {"assigned": 1, "resolved": 1, "reopened": 1}
    assert got[("agents", (DAY, "agent-2"))] == {"assigned": 1, "resolved": 1, "reopened": 1}


# Tickets: SLA timers


def test_a_met_first_response_timer_counts_for_the_first_responder_with_its_business_time() -> None:
    changes = [
        opened(),
        assigned("agent-2"),
        replied("agent-1", at(time="10:10:00")),
        fulfilled("first_response", at(time="10:10:00"), business=600, met=True),
    ]
    got = counters(fold(changes, {}, {}))
    assert got[("agents", (DAY, "agent-1"))] == {"sla_total": 1, "sla_met": 1}
    assert got[("agents", (DAY, "agent-2"))] == {"assigned": 1}
    assert got[
        (HISTOGRAM_TABLE, (DAY, "agent-1", "first_response_business", str(histogram_step(600))))
    ] == {"n": 1}
    assert got[
        (HISTOGRAM_TABLE, (MONTH, "agent-1", "first_response_business", str(histogram_step(600))))
    ] == {"n": 1}


def test_a_missed_timer_counts_in_the_total_but_not_as_met() -> None:
    changes = [
        opened(),
        replied("agent-1", at(time="12:00:00")),
        fulfilled("first_response", at(time="12:00:00"), business=7200, met=False),
    ]
    got = counters(fold(changes, {}, {}))
    assert got[("agents", (DAY, "agent-1"))] == {"sla_total": 1, "sla_met": 0}
    assert got[
        (HISTOGRAM_TABLE, (DAY, "agent-1", "first_response_business", str(histogram_step(7200))))
    ] == {"n": 1}


def test_a_later_first_response_cycle_counts_the_sla_but_adds_no_duration() -> None:
    changes = [opened(), replied("agent-1", at(time="10:00:00"))]
    facts: dict[str, dict[str, Any]] = {}
    fold(changes, facts, {})
    got = counters(fold([fulfilled("first_response", at(), cycle=2)], facts, {}))
    assert got == on_day_and_month("agent-1", sla_total=1, sla_met=1)


def test_a_next_response_timer_counts_for_the_assignee_and_adds_no_duration() -> None:
    changes = [
        opened(),
        assigned("agent-2"),
        replied("agent-1", at(time="10:00:00")),
        fulfilled("next_response", at(time="11:00:00"), cycle=3),
    ]
    got = counters(fold(changes, {}, {}))
    assert got[("agents", (DAY, "agent-2"))] == {"assigned": 1, "sla_total": 1, "sla_met": 1}
    assert not any(
        key[1][2] == "next_response_business" for key in got if key[0] == HISTOGRAM_TABLE
    )


def test_a_resolution_timer_counts_for_the_resolver_with_its_business_time() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        change("resolved", T1, at(time="10:20:00")),
        fulfilled("resolution", at(time="10:20:00"), business=12345),
    ]
    got = counters(fold(changes, {}, {}))
    assert got[("agents", (DAY, "agent-1"))] == {
        "assigned": 1,
        "resolved": 1,
        "sla_total": 1,
        "sla_met": 1,
    }
    assert got[
        (HISTOGRAM_TABLE, (DAY, "agent-1", "resolution_business", str(histogram_step(12300))))
    ] == {"n": 1}
    assert got[
        (HISTOGRAM_TABLE, (DAY, "agent-1", "resolution_calendar", str(histogram_step(1200))))
    ] == {"n": 1}


def test_a_timer_with_nobody_to_count_it_for_counts_nothing() -> None:
    assert counters(fold([opened(), fulfilled("first_response", at())], {}, {})) == {}


# Tickets the view never saw open


def test_changes_of_a_ticket_never_seen_open_still_count_what_they_can() -> None:
    changes = [
        assigned("agent-1"),
        replied("agent-1", at(time="10:30:00")),
        change("resolved", T1, at(time="11:00:00")),
        fulfilled("resolution", at(time="11:00:00"), business=3600),
    ]
    folded = fold(changes, {}, {})
    fact = folded.tickets[T1]
    assert fact["opened_at"] is None
    assert (fact["assignee"], fact["first_responder"], fact["resolver"]) == ("agent-1",) * 3
    assert fact["first_response_at"] == at(time="10:30:00")
    # Counts and the timer's business time, but no calendar durations (no opening).
    assert counters(folded) == {
        ("agents", (DAY, "agent-1")): {"assigned": 1, "resolved": 1, "sla_total": 1, "sla_met": 1},
        ("agents", (MONTH, "agent-1")): {
            "assigned": 1,
            "resolved": 1,
            "sla_total": 1,
            "sla_met": 1,
        },
        **histogram_counts("agent-1", "resolution_business", 3600),
    }


def test_a_reopen_of_a_ticket_never_seen_counts_nothing_and_leaves_a_bare_fact() -> None:
    folded = fold([change("reopened", T1, at())], {}, {})
    assert counters(folded) == {}
    assert folded.tickets[T1]["opened_at"] is None


def test_a_fact_loaded_from_an_earlier_batch_carries_its_opening_and_assignee() -> None:
    earlier = fold([opened(when=at("2026-03-01", "10:00:00")), assigned("agent-1")], {}, {})
    loaded = {T1: dict(earlier.tickets[T1])}
    folded = fold([replied(None, at("2026-03-01", "10:16:40"))], loaded, {})
    assert counters(folded) == histogram_counts(
        "agent-1", "first_response_calendar", 1000, day="2026-03-01"
    )


def test_the_fold_returns_only_the_facts_its_changes_touched() -> None:
    loaded = {
        "other": {
            "id": "other",
            "opened_at": at(),
            "assignee": None,
            "first_response_at": None,
            "first_responder": None,
            "resolver": None,
        }
    }
    folded = fold([opened(), issued()], loaded, {"unrelated": {"id": "unrelated"}})
    assert set(folded.tickets) == {T1}
    assert set(folded.surveys) == {S1}


# Surveys


def test_an_issued_survey_counts_one_sent_in_every_group_by_day_and_month() -> None:
    surveys: dict[str, dict[str, Any]] = {}
    folded = fold([issued()], {}, surveys)
    assert folded.surveys == {
        S1: {
            "id": S1,
            "day": DAY,
            "agent": "agent-1",
            "channel": "email",
            "language": "es",
            "category": "billing",
            "rating": None,
        }
    }
    assert surveys[S1] is folded.surveys[S1]
    assert counters(folded) == satisfaction(SURVEY_GROUPS, sent=1)
    assert len(counters(folded)) == 9


def test_a_survey_about_nobody_counts_under_the_empty_group() -> None:
    folded = fold([issued(agent=None, language=None, category=None)], {}, {})
    fact = folded.surveys[S1]
    assert (fact["agent"], fact["language"], fact["category"]) == (NONE, NONE, NONE)
    got = counters(folded)
    assert got[("satisfaction", ("agent", DAY, ""))] == {"sent": 1}
    assert got[("satisfaction", ("language", MONTH, ""))] == {"sent": 1}
    assert got[("satisfaction", ("category", DAY, ""))] == {"sent": 1}


def test_a_first_rating_counts_a_response_on_the_day_the_survey_was_issued() -> None:
    changes = [issued(), survey_rated(4, None, at("2026-03-05"))]
    folded = fold(changes, {}, {})
    assert folded.surveys[S1]["rating"] == 4
    expected = satisfaction(SURVEY_GROUPS, sent=1, responses=1, rating_sum=4, satisfied=1)
    assert counters(folded) == expected
    assert not any(key[1][1] == "2026-03-05" for key in counters(folded))


@pytest.mark.parametrize(("rating", "satisfied"), [(1, 0), (2, 0), (3, 0), (4, 1), (5, 1)])
def test_only_four_and_five_count_as_satisfied(rating: int, satisfied: int) -> None:
    facts: dict[str, dict[str, Any]] = {}
    fold([issued()], {}, facts)
    folded = fold([survey_rated(rating, None, at())], {}, facts)
    assert counters(folded) == satisfaction(
        SURVEY_GROUPS, responses=1, rating_sum=rating, satisfied=satisfied
    )


def test_a_second_rating_replaces_the_first_within_the_window_without_a_second_response() -> None:
    facts: dict[str, dict[str, Any]] = {}
    fold([issued(), survey_rated(4, None, at("2026-03-03"))], {}, facts)
    folded = fold([survey_rated(2, 4, at("2026-03-04"))], {}, facts)
    assert folded.surveys[S1]["rating"] == 2
    assert counters(folded) == satisfaction(SURVEY_GROUPS, responses=0, rating_sum=-2, satisfied=-1)


def test_a_replacement_that_becomes_satisfied_adds_one_satisfied() -> None:
    facts: dict[str, dict[str, Any]] = {}
    fold([issued(), survey_rated(2, None, at())], {}, facts)
    folded = fold([survey_rated(5, 2, at())], {}, facts)
    assert counters(folded) == satisfaction(SURVEY_GROUPS, responses=0, rating_sum=3, satisfied=1)


def test_a_replacement_between_satisfied_ratings_only_moves_the_sum() -> None:
    facts: dict[str, dict[str, Any]] = {}
    fold([issued(), survey_rated(5, None, at())], {}, facts)
    folded = fold([survey_rated(4, 5, at())], {}, facts)
    assert counters(folded) == satisfaction(SURVEY_GROUPS, responses=0, rating_sum=-1, satisfied=0)


def test_a_rating_and_its_replacement_in_one_batch_add_up_to_one_response() -> None:
    changes = [issued(), survey_rated(1, None, at()), survey_rated(5, 1, at())]
    folded = fold(changes, {}, {})
    assert folded.surveys[S1]["rating"] == 5
    assert counters(folded) == satisfaction(
        SURVEY_GROUPS, sent=1, responses=1, rating_sum=5, satisfied=1
    )


def test_a_rating_of_a_survey_the_view_never_saw_issued_counts_nothing() -> None:
    surveys: dict[str, dict[str, Any]] = {}
    folded = fold([survey_rated(5, None, at())], {}, surveys)
    assert counters(folded) == {}
    assert folded.surveys == {} == surveys


def test_survey_and_ticket_changes_are_folded_against_their_own_facts() -> None:
    changes = [opened("same-id"), issued("same-id")]
    tickets: dict[str, dict[str, Any]] = {}
    surveys: dict[str, dict[str, Any]] = {}
    folded = fold(changes, tickets, surveys)
    assert set(tickets) == set(surveys) == {"same-id"}
    assert folded.tickets["same-id"]["opened_at"] == at()
    assert folded.surveys["same-id"]["day"] == DAY


def test_ticket_and_survey_keys_split_a_batch_by_kind() -> None:
    changes = [
        opened("t1"),
        replied("ag", at(), key="t2"),
        issued("s1"),
        survey_rated(3, None, at(), "s2"),
    ]
    assert ticket_keys(changes) == {"t1", "t2"}
    assert survey_keys(changes) == {"s1", "s2"}


# Batches


def test_folding_one_change_at_a_time_adds_up_to_folding_them_all_at_once() -> None:
    changes = [
        opened(),
        assigned("agent-1"),
        replied("agent-1", at(time="10:07:00")),
        fulfilled("first_response", at(time="10:07:00"), business=420),
        change("resolved", T1, at("2026-03-03", "09:00:00")),
        fulfilled("resolution", at("2026-03-03", "09:00:00"), business=9000, met=False),
        issued(when=at("2026-03-03", "09:00:00")),
        survey_rated(3, None, at("2026-03-04")),
        survey_rated(5, 3, at("2026-03-05")),
        change("reopened", T1, at("2026-04-01")),
    ]
    at_once = counters(fold(changes, {}, {}))

    tickets: dict[str, dict[str, Any]] = {}
    surveys: dict[str, dict[str, Any]] = {}
    one_by_one: dict[Any, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in changes:
        for key, row in fold([c], tickets, surveys).counters.items():
            for column, delta in row.items():
                one_by_one[key][column] += delta
    assert {k: dict(v) for k, v in one_by_one.items()} == at_once
    assert at_once[("agents", ("2026-04", "agent-1"))] == {"reopened": 1}


# Reading helpers


@pytest.mark.parametrize(
    ("span", "bucket"),
    [
        (0, 0),
        (-5, 0),
        (42.9, 42),
        (99, 99),
        (99.99, 99),
        (100, 100),
        (104, 100),
        (105, 105),
        (110, 110),
        (115, 115),
        (121, 121),
        (3600, 3522),
        (86400, 83969),
    ],
)
def test_a_histogram_step_is_exact_below_a_hundred_and_in_five_percent_steps_above(
    span: float, bucket: int
) -> None:
    assert histogram_step(span) == bucket


@pytest.mark.parametrize("seconds", [100, 137, 999, 3600, 54321, 86400 * 30])
def test_a_duration_bucket_is_at_most_five_percent_below_the_duration(seconds: int) -> None:
    bucket = histogram_step(seconds)
    assert bucket <= seconds < bucket * 1.05 + 1
    assert histogram_step(bucket) == bucket


def test_whole_years_are_read_as_years_and_the_rest_as_months_and_days() -> None:
    assert periods_with_years(date(2025, 1, 1), date(2025, 12, 31)) == ["2025"]
    assert periods_with_years(date(2024, 12, 31), date(2026, 2, 1)) == [
        "2024-12-31", "2025", "2026-01", "2026-02-01",
    ]  # fmt: skip
    assert periods_with_years(date(2025, 3, 1), date(2025, 4, 2)) == [
        "2025-03", "2025-04-01", "2025-04-02",
    ]  # fmt: skip


def test_the_median_and_p90_are_nearest_rank() -> None:
    histogram = [(10, 1), (20, 1), (30, 1), (40, 1)]
    assert percentile(histogram, 0.5) == 20
    assert percentile(histogram, 0.9) == 40


@pytest.mark.parametrize(
    ("q", "value"), [(0.0, 10), (0.1, 10), (0.25, 10), (0.5, 30), (0.75, 30), (0.9, 40), (1.0, 40)]
)
def test_a_percentile_counts_each_bucket_as_many_times_as_it_holds(q: float, value: int) -> None:
    # Eight values: 10 x2, 30 x4, 40 x2.
    assert percentile([(10, 2), (30, 4), (40, 2)], q) == value


def test_a_percentile_rounds_its_rank_up() -> None:
    # Five values: the median is the 3rd (rank 2.5 up), p90 the 5th (rank 4.5 up).
    histogram = [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]
    assert (percentile(histogram, 0.5), percentile(histogram, 0.9)) == (3, 5)


def test_the_percentile_of_a_single_bucket_is_that_bucket() -> None:
    assert percentile([(330, 7)], 0.5) == percentile([(330, 7)], 0.9) == 330


@pytest.mark.parametrize("histogram", [[], [(10, 0), (20, 0)]])
def test_the_percentile_of_nothing_is_none(histogram: list[tuple[int, int]]) -> None:
    assert percentile(histogram, 0.5) is None


def test_a_whole_year_is_covered_by_its_twelve_months() -> None:
    assert periods_covering(date(2026, 1, 1), date(2026, 12, 31)) == [
        f"2026-{m:02d}" for m in range(1, 13)
    ]


def test_a_range_with_partial_months_is_covered_by_days_at_its_edges() -> None:
    periods = periods_covering(date(2026, 1, 15), date(2026, 3, 10))
    assert periods == [
        *(f"2026-01-{d:02d}" for d in range(15, 32)),
        "2026-02",
        *(f"2026-03-{d:02d}" for d in range(1, 11)),
    ]


def test_days_only_covers_the_range_day_by_day() -> None:
    periods = periods_covering(date(2026, 1, 15), date(2026, 3, 10), days_only=True)
    assert len(periods) == 17 + 28 + 10
    assert (periods[0], periods[-1]) == ("2026-01-15", "2026-03-10")
    assert all(len(p) == 10 for p in periods)
    assert periods == sorted(set(periods))


@pytest.mark.parametrize(
    ("start", "end", "periods"),
    [
        (date(2026, 3, 2), date(2026, 3, 2), ["2026-03-02"]),
        (date(2026, 2, 1), date(2026, 2, 28), ["2026-02"]),
        (date(2024, 2, 1), date(2024, 2, 28), [f"2024-02-{d:02d}" for d in range(1, 29)]),
        (date(2024, 2, 1), date(2024, 2, 29), ["2024-02"]),
        (date(2025, 12, 1), date(2026, 1, 1), ["2025-12", "2026-01-01"]),
        (date(2026, 3, 10), date(2026, 3, 9), []),
    ],
    ids=["one day", "whole february", "leap february short a day", "leap february",
         "across the year end", "empty range"],
)  # fmt: skip
def test_periods_cover_the_range_exactly_once(start: date, end: date, periods: list[str]) -> None:
    assert periods_covering(start, end) == periods


@pytest.mark.parametrize(
    ("part", "whole", "percent"),
    [(1, 3, 33.33), (2, 3, 66.67), (3, 3, 100.0), (0, 5, 0.0), (1, 8, 12.5), (0, 0, None),
     (4, 0, None)],
)  # fmt: skip
def test_a_rate_is_a_percentage_with_two_decimals_or_none(
    part: int, whole: int, percent: float | None
) -> None:
    assert rate(part, whole) == percent


# Which changes domain events mean

AGENT = Actor("ag1", "maria", "agent")
ALWAYS = BusinessHours(timezone="UTC", weekly=((),) * 7, always_open=True)


def projection() -> ReportsProjection:
    return ReportsProjection(view=None)  # changes() reads no view


def new_ticket() -> Ticket:
    return tickets.new_ticket(actor=AGENT, channel="chat", language="pt-BR")


def changes_of(events: list[Any]) -> list[list[ReportChange]]:
    p = projection()
    return [p.changes(e, position) for position, e in enumerate(events, start=1)]


def test_a_tickets_events_map_to_their_report_changes() -> None:
    ticket = new_ticket()
    ticket.assign("ag1", AGENT)
    ticket.add_message("checking", "agent", "ag1", "internal", None, AGENT)
    ticket.add_message("hello", "agent", "ag1", "public", None, AGENT)
    ticket.add_message("thanks", "customer", None, "public", None, AGENT)
    ticket.change_priority("high", AGENT)
    ticket.resolve("done", AGENT)
    ticket.reopen("again", AGENT)
    ticket.unassign(AGENT)
    events = ticket.collect_events()
    key = str(ticket.id)
    mapped = changes_of(events)
    assert [[c.kind for c in cs] for cs in mapped] == [
        ["opened"],
        ["assigned"],
        [],  # an internal note is no reply
        ["replied"],
        [],  # a customer's message is no reply
        [],  # priority changes are not reported
        ["resolved"],
        ["reopened"],
        ["unassigned"],
    ]
    for e, cs in zip(events, mapped, strict=True):
        for c in cs:
            assert (c.key, c.at) == (key, timestamp(e.timestamp))
    assert mapped[0][0].data == {}
    assert mapped[1][0].data == {"agent": "ag1"}
    assert mapped[3][0].data == {"author": "ag1"}


def test_an_agents_internal_note_is_not_a_reply_but_a_public_message_is() -> None:
    ticket = new_ticket()
    ticket.collect_events()
    ticket.add_message("note to self", "agent", "ag1", "internal", None, AGENT)
    (note,) = ticket.collect_events()
    ticket.add_message("hello", "agent", "ag1", "public", None, AGENT)
    (reply,) = ticket.collect_events()
    assert projection().changes(note, 7) == []
    assert projection().changes(reply, 8) == [
        ReportChange("replied", str(ticket.id), timestamp(reply.timestamp), {"author": "ag1"})
    ]


def test_a_customers_message_and_a_status_change_are_not_reported() -> None:
    ticket = new_ticket()
    ticket.change_status("pending", AGENT)
    ticket.add_message("here", "customer", None, "public", None, AGENT)
    _, *rest = ticket.collect_events()
    assert [type(e).__name__ for e in rest] == ["StatusChanged", "StatusChanged", "MessageAdded"]
    assert changes_of(rest) == [[], [], []]


def test_a_changes_at_is_the_events_instant_as_utc_text() -> None:
    ticket = new_ticket()
    (opened_event,) = ticket.collect_events()
    (c,) = projection().changes(opened_event, 1)
    assert c.at.endswith("+00:00")
    assert datetime.fromisoformat(c.at) == opened_event.timestamp


def test_a_surveys_events_map_to_issued_and_rated_changes() -> None:
    survey_id = uuid4()
    survey = Survey.issue(
        survey_id,
        ticket_id=uuid4(),
        customer_id=tickets.OWNER,
        token_hash=token_hash("t"),
        expires_at=datetime(2026, 3, 9, tzinfo=UTC),
        language="pt-BR",
        agent_id="ag1",
        channel="chat",
        category=None,
        actor=SYSTEM,
    )
    now = datetime(2026, 3, 3, tzinfo=UTC)
    survey.rate(3, None, now)
    survey.rate(5, "great", now)
    survey.void("ticket reopened")
    events = survey.collect_events()
    key = str(survey_id)
    mapped = changes_of(events)
    assert mapped == [
        [
            ReportChange(
                "survey_issued",
                key,
                timestamp(events[0].timestamp),
                {"agent": "ag1", "channel": "chat", "language": "pt-BR", "category": None},
            )
        ],
        [ReportChange("survey_rated", key, timestamp(events[1].timestamp),
                      {"rating": 3, "previous": None})],
        [ReportChange("survey_rated", key, timestamp(events[2].timestamp),
                      {"rating": 5, "previous": 3})],
        [],  # voiding keeps the rating counted
    ]  # fmt: skip


def test_a_fulfilled_sla_timer_maps_to_a_timer_fulfilled_change_for_its_ticket() -> None:
    ticket_id = uuid4()
    sla = TicketSla(ticket_id=ticket_id, actor=SYSTEM)
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    policy = SlaPolicy(name="standard", calendar="always", targets={"first_response": 3600})
    hours_of = lambda *_: ALWAYS  # noqa: E731
    sla.apply_policy(AppliedPolicy(policy, 1, ALWAYS), start, SYSTEM, hours_of)
    sla.start("first_response", start, SYSTEM, hours_of)
    sla.fulfil("first_response", start + timedelta(minutes=30), SYSTEM, hours_of)
    events = sla.collect_events()
    mapped = changes_of(events)
    assert [[c.kind for c in cs] for cs in mapped] == [[], [], [], ["timer_fulfilled"]]
    (c,) = mapped[-1]
    assert c.key == str(ticket_id)
    assert c.at == timestamp(events[-1].timestamp)
    assert c.data == {"metric": "first_response", "cycle": 1, "business": 1800, "met": True}


def test_the_changes_of_a_real_ticket_fold_into_its_agents_counters() -> None:
    ticket = new_ticket()
    ticket.assign("ag1", AGENT)
    ticket.add_message("note", "agent", "ag1", "internal", None, AGENT)
    ticket.add_message("hello", "agent", "ag1", "public", None, AGENT)
    ticket.resolve("done", AGENT)
    ticket.reopen("again", AGENT)
    changes = [c for cs in changes_of(ticket.collect_events()) for c in cs]
    folded = fold(changes, {}, {})
    fact = folded.tickets[str(ticket.id)]
    assert (fact["assignee"], fact["first_responder"], fact["resolver"]) == ("ag1",) * 3
    by_day: dict[str, int] = defaultdict(int)
    measured = 0
    for (table, key), row in folded.counters.items():
        if table == "agents" and len(key[0]) == 10:
            assert key[1] == "ag1"
            for column, delta in row.items():
                by_day[column] += delta
        if table == HISTOGRAM_TABLE and len(key[0]) == 10:
            measured += row["n"]
    assert dict(by_day) == {"assigned": 1, "resolved": 1, "reopened": 1}
    assert measured == 2  # one first response and one resolution, whatever they took
