"""Surveys, follow-up and the reports view on a real store (SQLite and PostgreSQL): the
follow-up sweep with an injected clock, survey windows, report figures for a
hand-computed data set, and live views equal to rebuilds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from application.follow_up import FollowUpPolicy, follow_up
from domain.actor import SYSTEM
from domain.sla.policy import SlaPolicy
from domain.survey import SurveyClosed
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from projections.reports import periods_with_years
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_sla import ADMIN, ALWAYS

DAY = timedelta(days=1)
DEFAULTS = FollowUpPolicy()  # close after 4 days; no reminders, no auto-resolve


def caught_up(atende, name: str, batch_size: int = 500):
    view = atende.views[name]
    ViewFollower(atende.tickets, VIEWS[name].projection(view=view), batch_size).catch_up()
    return view


def work(atende, agent: str = "agent-1", category: str | None = None):
    """A ticket assigned to ``agent``, answered by them in public, and resolved."""
    tid = open_ticket(atende, category=category).ticket.id
    atende.tickets.change(tid, lambda t: t.assign(agent, AGENT))
    atende.tickets.change(
        tid, lambda t: t.add_message("Listo", "agent", agent, "public", None, AGENT)
    )
    atende.tickets.change(tid, lambda t: t.resolve("reiniciado", AGENT))
    return atende.tickets.get_ticket(tid)


def pending(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    return atende.tickets.get_ticket(tid)


def sweep(atende, now, policy=DEFAULTS):
    return follow_up(atende.tickets, caught_up(atende, "follow_up"), now, policy)


def test_the_follow_ups_record_their_reasons_in_each_tickets_language(atende):
    texts = atende.settings.system_texts()
    spanish = work(atende)  # the builder's ticket is in Spanish
    portuguese = pending_in(atende, "pt-BR")
    policy = FollowUpPolicy(close_after=4 * DAY, resolve_after=2 * DAY)
    now = max(spanish.resolved_at + 4 * DAY, portuguese.pending_since + 2 * DAY)

    done = follow_up(atende.tickets, caught_up(atende, "follow_up"), now, policy, texts)

    assert spanish.id in done.closed and portuguese.id in done.resolved
    closed = atende.tickets.history(spanish.id)[-1]
    assert closed.data["reason"] == "resuelto hace 4 días"
    resolved = atende.tickets.get_ticket(portuguese.id)
    assert str(resolved.resolution) == "sem resposta do cliente durante 2 dias"


def pending_in(atende, language: str):
    tid = open_ticket(atende, language=language).ticket.id
    atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    return atende.tickets.get_ticket(tid)


def test_a_resolved_ticket_closes_by_itself_after_the_configured_time(atende):
    ticket = work(atende)
    assert sweep(atende, ticket.resolved_at + 4 * DAY - timedelta(seconds=1)).count == 0
    assert atende.tickets.get_ticket(ticket.id).status == "resolved"
    done = sweep(atende, ticket.resolved_at + 4 * DAY)
    assert done.closed == [ticket.id]
    last = atende.tickets.history(ticket.id)[-1]
    assert (last.type, last.actor, last.data["reason"]) == ("closed", SYSTEM, "resolved for 4 days")
    assert sweep(atende, ticket.resolved_at + 9 * DAY).count == 0  # nothing twice


def test_a_ticket_reopened_meanwhile_is_not_closed(atende):
    ticket = work(atende)
    atende.tickets.change(ticket.id, lambda t: t.reopen("sigue igual", AGENT))
    assert sweep(atende, ticket.resolved_at + 5 * DAY).count == 0
    assert atende.tickets.get_ticket(ticket.id).status == "open"


def test_an_unanswered_pending_ticket_gets_one_reminder_then_is_resolved(atende):
    ticket = pending(atende)
    policy = FollowUpPolicy(close_after=None, remind_after=2 * DAY, resolve_after=5 * DAY)
    since = ticket.pending_since
    assert sweep(atende, since + 2 * DAY, policy).reminded == [ticket.id]
    assert sweep(atende, since + 3 * DAY, policy).count == 0
    assert sweep(atende, since + 5 * DAY, policy).resolved == [ticket.id]
    after = atende.tickets.get_ticket(ticket.id)
    assert after.status == "resolved" and after.survey_id is not None
    types = [(e.type, e.actor) for e in atende.tickets.history(ticket.id)][-2:]
    assert types == [("customer_reminded", SYSTEM), ("resolved", SYSTEM)]


def test_a_customer_reply_starts_the_pending_wait_over(atende):
    ticket = pending(atende)
    policy = FollowUpPolicy(close_after=None, remind_after=2 * DAY)
    atende.tickets.change(
        ticket.id, lambda t: t.add_message("¿y?", "customer", None, "public", None, AGENT)
    )
    assert sweep(atende, ticket.pending_since + 3 * DAY, policy).count == 0
    assert atende.tickets.get_ticket(ticket.id).status == "open"


def test_reminders_and_auto_resolve_are_off_by_default(atende):
    ticket = pending(atende)
    assert sweep(atende, ticket.pending_since + 60 * DAY).count == 0
    assert atende.tickets.get_ticket(ticket.id).status == "pending"


def test_a_survey_takes_answers_until_it_expires(atende):
    ticket = work(atende)
    surveys = atende.tickets.surveys
    survey = surveys.of_ticket(ticket)
    assert survey.expires_at == ticket.resolved_at + 7 * DAY
    token = surveys.link_for(survey.id).token
    surveys.rate(token, 4, None, now=survey.expires_at - timedelta(seconds=1))
    with pytest.raises(SurveyClosed) as closed:
        surveys.rate(token, 5, None, now=survey.expires_at)
    assert closed.value.state == "expired"
    assert surveys.of_ticket(ticket).rating == 4


def test_the_stored_survey_keeps_only_a_hash_of_its_token(atende):
    ticket = work(atende)
    token = atende.tickets.surveys.link_for(ticket.survey_id).token
    stored = atende.tickets.recorder.select_events(ticket.survey_id)
    assert stored and all(token.encode() not in s.state for s in stored)


def configure_sla(atende) -> None:
    atende.sla_config.put_calendar("main", dict(ALWAYS), ADMIN)
    policy = SlaPolicy(name="std", calendar="main",
                       targets={"first_response": 3600, "resolution": 86400})  # fmt: skip
    atende.sla_config.replace_policies([policy], ADMIN)


def rate(atende, ticket, rating):
    return atende.tickets.surveys.rate(
        atende.tickets.surveys.link_for(ticket.survey_id).token, rating, None
    )


def test_report_figures_are_exact_for_a_hand_computed_data_set(atende):
    configure_sla(atende)
    ana = [work(atende, "ana", "fibra") for _ in range(3)]
    beto = [work(atende, "beto", "movil") for _ in range(2)]
    for ticket, rating in zip([*ana, *beto], [5, 4, 1, 3, None], strict=True):
        if rating is not None:
            rate(atende, ticket, rating)
    rate(atende, ana[2], 2)  # replaces the 1
    atende.tickets.change(beto[0].id, lambda t: t.reopen("otra vez", AGENT))
    view = caught_up(atende, "reports")
    # From the first resolution's day to now: the data set may straddle midnight (UTC).
    first, last = ana[0].resolved_at.date(), datetime.now(UTC).date()

    by_category = {r["value"]: r for r in view.satisfaction("category", first, last)}
    assert by_category["fibra"] == {"value": "fibra", "sent": 3, "responses": 3,
                                    "rating_sum": 11, "satisfied": 2}  # fmt: skip
    assert by_category["movil"] == {"value": "movil", "sent": 2, "responses": 1,
                                    "rating_sum": 3, "satisfied": 0}  # fmt: skip
    counters = view.agent_counters(first, last)
    assert counters["ana"] == {"assigned": 3, "resolved": 3, "reopened": 0,
                               "sla_met": 6, "sla_total": 6}  # fmt: skip
    assert counters["beto"]["reopened"] == 1 and counters["beto"]["resolved"] == 2
    # Business time is what the SLA engine counted: each fulfilled timer's own figure.
    timers = [atende.tickets.sla.ticket_sla(t.id).timer("first_response") for t in ana]
    business = sorted(t["elapsed"] for t in timers)
    histogram = view.agent_durations(first, last)["ana"]["first_response_business"]
    assert sum(n for _, n in histogram) == 3 and histogram[0][0] == business[0]


def test_a_month_of_reports_reads_the_same_through_month_and_day_rows(atende):
    first = work(atende, "ana", "fibra").resolved_at.date()
    last = work(atende, "ana", "fibra").resolved_at.date()  # the next day past midnight
    view = caught_up(atende, "reports")
    month_start = first.replace(day=1)
    next_month = (last.replace(day=1) + timedelta(days=32)).replace(day=1)
    whole = view.agent_counters(month_start, next_month - DAY)
    by_days = view.agent_counters(first, last)
    assert whole == by_days and whole["ana"]["resolved"] == 2
    assert view.agent_counters(date(2001, 1, 1), date(2001, 1, 31)) == {}


def test_a_years_durations_read_from_its_year_rows_equal_those_summed_from_its_days(atende):
    # A whole year is one period, read row by row; two days are two, summed.
    configure_sla(atende)
    today = work(atende, "ana", "fibra").resolved_at.date()
    work(atende, "ana", "movil")
    work(atende, "beto", "fibra")
    view = caught_up(atende, "reports")
    year = view.agent_durations(date(today.year, 1, 1), date(today.year, 12, 31))
    days = view.agent_durations(today, today + DAY)  # the later works may pass midnight
    assert year == days
    assert sorted(year) == ["ana", "beto"]
    assert sum(n for _, n in year["ana"]["resolution_calendar"]) == 2
    for read in (year, days):  # ints, not the text buckets or PostgreSQL's NUMERIC sums
        beto = read["beto"]["resolution_calendar"]
        assert all(type(b) is int and type(n) is int for b, n in beto)


def test_each_agents_duration_histograms_hold_the_stored_buckets_summed_in_numeric_order(
    atende,
):
    """What the report reads against the durations table's rows added up here, over one
    period (read as stored) and several (summed in SQL); buckets are text in the table."""
    configure_sla(atende)
    today = work(atende, "ana", "fibra").resolved_at.date()
    for agent, category in [("ana", "movil"), ("beto", "fibra"), ("ana", None), ("beto", None)]:
        work(atende, agent, category)
    view = caught_up(atende, "reports")
    # Buckets whose text order is not their numeric order, in the year and in two days.
    periods = [str(today.year), (today - DAY).isoformat(), today.isoformat()]
    with view.db.transaction() as cursor:
        view.db.executemany(
            cursor,
            f"INSERT INTO {view.tables['durations']} (period, agent, metric, bucket, n) "
            "VALUES (:period, 'carla', 'resolution_calendar', :bucket, :n)",
            [{"period": p, "bucket": str(b), "n": n}
             for p in periods for b, n in [(100, 1), (9, 2), (10, 3)]],
        )  # fmt: skip
    stored = view.rows()["durations"]
    for start, end in [(date(today.year, 1, 1), date(today.year, 12, 31)), (today - DAY, today)]:
        periods = set(periods_with_years(start, end))
        expected: dict = {}
        for row in stored:
            if row["period"] in periods:
                histogram = expected.setdefault(row["agent"], {}).setdefault(row["metric"], {})
                bucket = int(row["bucket"])
                histogram[bucket] = histogram.get(bucket, 0) + row["n"]
        expected = {
            agent: {metric: sorted(h.items()) for metric, h in metrics.items()}
            for agent, metrics in expected.items()
        }
        everyone, beto = view.agent_durations(start, end), view.agent_durations(start, end, "beto")
        assert everyone == expected
        assert [b for b, _ in expected["carla"]["resolution_calendar"]] == [9, 10, 100]
        assert beto == {"beto": expected["beto"]}


def test_the_live_reports_and_follow_up_views_equal_rebuilds(atende, capsys):
    configure_sla(atende)
    tickets = [work(atende, f"agent-{i % 2}", ("fibra", None)[i % 2]) for i in range(5)]
    rate(atende, tickets[0], 5)
    rate(atende, tickets[0], 3)
    rate(atende, tickets[1], 4)
    atende.tickets.change(tickets[2].id, lambda t: t.reopen(None, AGENT))
    pending(atende)
    for name in ("reports", "follow_up"):
        live = caught_up(atende, name, batch_size=2).rows()
        rebuild(atende, name)
        assert atende.views[name].rows() == live and live


def test_answers_racing_on_one_survey_are_each_recorded_in_turn(atende):
    ticket = work(atende)
    token = atende.tickets.surveys.link_for(ticket.survey_id).token
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda r: atende.tickets.surveys.rate(token, r, None), [1, 2, 3, 4]))
    rated = [e for e in atende.tickets.events.get(ticket.survey_id) if type(e).__name__ == "Rated"]
    assert sorted(e.rating for e in rated) == [1, 2, 3, 4]
    assert [e.previous_rating for e in rated][1:] == [e.rating for e in rated][:-1]
