"""The SLA engine on a real store (SQLite and PostgreSQL): calendars, policies, timers
recorded with the ticket's events, the SLA view and the breach sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.errors import CalendarInUse
from application.sla_sweep import sweep
from domain.actor import Actor
from domain.calendar import InvalidCalendar
from domain.sla.policy import InvalidPolicy, SlaPolicy
from domain.sla.timers import sla_id_for
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import NEXT
from infrastructure.views.registry import VIEWS
from interface.wiring import bootstrap
from projections.queue import QueueQuery
from tests.integration.builders import AGENT, open_ticket

ADMIN = Actor(id="admin-token", name="root", role="admin")
ALWAYS = {"timezone": "UTC", "always_open": True}
OFFICE = {
    "timezone": "America/Sao_Paulo",
    "weekly": {day: [["09:00", "13:00"], ["14:00", "18:00"]] for day in ("monday", "tuesday")},
}


def configure(atende, targets=None, calendar=ALWAYS, **policy) -> None:
    atende.sla_config.put_calendar("main", dict(calendar), ADMIN)
    chosen = SlaPolicy(
        name=policy.pop("name", "standard"),
        calendar="main",
        targets=targets or {"first_response": 3600, "next_response": 1800, "resolution": 28800},
        **policy,
    )
    atende.sla_config.replace_policies([chosen], ADMIN)


def sla_view(atende):
    view = atende.views["sla"]
    ViewFollower(atende.tickets, VIEWS["sla"].projection(view=view)).catch_up()
    return view


def test_a_ticket_opened_under_a_policy_gets_timers_in_the_same_save(atende):
    configure(atende)
    result = open_ticket(atende)
    sla = atende.tickets.sla.ticket_sla(result.ticket.id)
    first = sla.timer("first_response")
    assert first["due_at"] == first["started_at"].replace(microsecond=0) + timedelta(hours=1)
    assert sla.timer("resolution")["target"] == 28800
    assert result.position == atende.tickets.recorder.position_of(sla.id, sla.version)


def test_without_policies_no_timer_events_are_written(atende):
    result = open_ticket(atende)
    assert atende.tickets.sla.ticket_sla(result.ticket.id) is None
    written = atende.tickets.events_after(0, 100)
    assert {e.aggregate_type for e in written} == {"ticket", "customer_identity"}


def test_timer_events_leave_the_tickets_version_and_etag_alone(atende):
    configure(atende)
    result = open_ticket(atende)
    assert result.ticket.version == 1
    assert atende.tickets.sla.ticket_sla(result.ticket.id).version > 1


def test_due_times_follow_the_calendar_business_hours(atende):
    configure(atende, calendar=OFFICE)
    tid = open_ticket(atende).ticket.id
    timer = atende.tickets.sla.ticket_sla(tid).timer("first_response")
    hours = atende.tickets.sla.hours_of("main", timer["calendar_version"])
    assert timer["due_at"].astimezone(UTC).weekday() in (0, 1)
    assert hours.timezone == "America/Sao_Paulo"


def test_a_calendar_revision_records_the_library_versions_and_seeded_holidays(atende):
    spec = {**OFFICE, "holidays": {"country": "BR", "years": [2026]}}
    calendar = atende.sla_config.put_calendar("sp", spec, ADMIN)
    assert {"date": "2026-04-21", "name": "Tiradentes"} in calendar.holidays
    assert calendar.tzdata_version and calendar.holidays_version
    again = atende.sla_config.put_calendar("sp", spec, ADMIN)
    assert again.version == calendar.version


def test_a_calendar_with_overlapping_hours_is_refused_naming_the_interval(atende):
    spec = {"timezone": "UTC", "weekly": {"monday": [["09:00", "13:00"], ["12:00", "18:00"]]}}
    with pytest.raises(InvalidCalendar) as refused:
        atende.sla_config.put_calendar("bad", spec, ADMIN)
    assert refused.value.field.startswith("weekly.monday[")
    assert atende.tickets.sla.find_calendar("bad") is None


def test_a_policy_naming_an_unknown_calendar_is_refused(atende):
    policy = SlaPolicy(name="p", calendar="nowhere", targets={"resolution": 60})
    with pytest.raises(InvalidPolicy) as refused:
        atende.sla_config.replace_policies([policy], ADMIN)
    assert refused.value.field == "policies[0].calendar"
    assert atende.tickets.sla.policies() is None


def test_a_calendar_used_by_a_policy_cannot_be_deleted(atende):
    configure(atende)
    with pytest.raises(CalendarInUse):
        atende.sla_config.delete_calendar("main", ADMIN)
    assert not atende.tickets.sla.calendar("main").deleted


def test_the_sweep_breaches_a_due_timer_exactly_once(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    later = datetime.now(UTC) + timedelta(hours=2)
    first = sweep(atende.tickets, sla_view(atende), later)
    assert sorted((d.metric, d.threshold) for d in first.recorded) == [
        ("first_response", "breach"), ("first_response", "warning"),
    ]  # fmt: skip
    again = sweep(atende.tickets, sla_view(atende), later)
    assert again.recorded == []
    kinds = [type(e).__name__ for e in atende.tickets.events.get(sla_id_for(tid))]
    assert kinds.count("SlaBreached") == 1 and kinds.count("SlaWarning") == 1


def test_a_second_scheduler_with_a_stale_view_records_nothing_twice(atende):
    configure(atende)
    open_ticket(atende)
    view = sla_view(atende)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert sweep(atende.tickets, view, later).recorded
    assert sweep(atende.tickets, view, later).recorded == []  # view not caught up


def test_the_sweep_skips_a_timer_paused_since_the_view_was_read(atende):
    configure(atende, targets={"resolution": 3600})
    tid = open_ticket(atende).ticket.id
    view = sla_view(atende)
    atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    later = datetime.now(UTC) + timedelta(hours=2)
    assert sweep(atende.tickets, view, later).recorded == []


def test_a_breach_escalates_and_raises_priority_when_the_policy_says_so(atende):
    configure(atende, escalate_on_breach=True, raise_priority_on_breach=True)
    tid = open_ticket(atende).ticket.id
    sweep(atende.tickets, sla_view(atende), datetime.now(UTC) + timedelta(hours=2))
    ticket = atende.tickets.get_ticket(tid)
    assert ticket.priority == "high"
    assert ticket.escalation["reason"] == "SLA first_response breached"


def test_the_next_due_time_is_the_earliest_warning(atende):
    configure(atende)
    open_ticket(atende)
    view = sla_view(atende)
    timer = view.rows()[0]
    assert view.next_due() == datetime.fromisoformat(timer["warn_at"])


def test_the_breach_list_and_report_count_what_happened(atende):
    configure(atende)
    late = open_ticket(atende).ticket.id
    fast = open_ticket(atende).ticket.id
    reply = lambda t: t.add_message("hola", "agent", "a", "public", None, AGENT)  # noqa: E731
    atende.tickets.change(fast, reply)
    now = datetime.now(UTC)
    sweep(atende.tickets, sla_view(atende), now + timedelta(hours=2))
    view = sla_view(atende)
    breaches = view.breaches(now - timedelta(days=1), now + timedelta(days=1), None, 10, None)
    assert [(b["ticket_id"], b["metric"]) for b in breaches] == [(str(late), "first_response")]
    report = view.report(now - timedelta(days=1), now + timedelta(days=1), "day")
    first = next(g for g in report if g["metric"] == "first_response")
    assert (first["met"], first["breached"], first["total"]) == (1, 1, 2)
    assert view.breach_counts() == {"first_response": 1}  # the /metrics counter


def test_the_live_sla_view_equals_a_rebuild(atende):
    configure(atende)
    for _ in range(3):
        tid = open_ticket(atende).ticket.id
        atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    sweep(atende.tickets, sla_view(atende), datetime.now(UTC) + timedelta(hours=2))
    live = sla_view(atende)
    fresh = VIEWS["sla"].make(atende.db.datastore, suffix=NEXT)
    fresh.create_table()
    ViewFollower(atende.tickets, VIEWS["sla"].projection(view=fresh), batch_size=4).catch_up()
    assert fresh.rows() == live.rows() and len(live.rows()) == 6


def queue_ids(atende) -> list[str]:
    view = atende.views["queue"]
    ViewFollower(atende.tickets, VIEWS["queue"].projection(view=view)).catch_up()
    return [item["id"] for item in view.page(QueueQuery()).items]


def test_the_queue_orders_by_breach_then_due_time_before_priority(atende):
    no_sla = open_ticket(atende, priority="urgent").ticket.id
    atende.sla_config.put_calendar("main", dict(ALWAYS), ADMIN)
    slow = SlaPolicy(name="slow", calendar="main", targets={"resolution": 7200},
                     conditions={"priority": ("urgent",)})  # fmt: skip
    fast = SlaPolicy(name="fast", calendar="main", targets={"resolution": 3600})
    atende.sla_config.replace_policies([slow, fast], ADMIN)
    urgent_due_later = open_ticket(atende, priority="urgent").ticket.id
    low_due_sooner = open_ticket(atende, priority="low").ticket.id
    assert queue_ids(atende) == [str(low_due_sooner), str(urgent_due_later), str(no_sla)]
    sweep(atende.tickets, sla_view(atende), datetime.now(UTC) + timedelta(minutes=90))
    assert queue_ids(atende)[0] == str(low_due_sooner)
    [item] = [i for i in atende.views["queue"].page(QueueQuery()).items if i["sla_breached"]]
    assert item["id"] == str(low_due_sooner) and item["sla_due_at"] is not None


def test_a_ticket_closed_with_running_timers_leaves_the_queue(atende):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.resolve(None, AGENT))
    atende.tickets.change(tid, lambda t: t.close(AGENT))
    assert queue_ids(atende) == []
    assert {r["state"] for r in sla_view(atende).rows()} == {"fulfilled"}


# Databases written before domain/sla/ was a package name the SLA aggregates by their
# old modules, in each event's topic and in the creation event's originator_topic.
OLD_MODULES = {"domain.sla.policy:": "domain.sla:", "domain.sla.timers:": "domain.sla_timers:"}


def _store_under_old_topics(atende) -> int:
    """Rewrite every SLA event as an older Atende stored it; the number rewritten."""
    events = atende.db.table(atende.tickets.recorder.events_table_name)
    position = "notification_id" if atende.db.is_postgres else "rowid"
    rewritten = 0
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, f"SELECT {position} AS p, topic, state FROM {events}")
        for row in [dict(r) for r in cursor.fetchall()]:
            topic, state = row["topic"], bytes(row["state"])
            for new, old in OLD_MODULES.items():
                topic = topic.replace(new, old)
                state = state.replace(new.encode(), old.encode())
            if topic != row["topic"]:
                rewritten += 1
                atende.db.execute(
                    cursor,
                    f"UPDATE {events} SET topic = :topic, state = :state WHERE {position} = :p",
                    {"topic": topic, "state": state, "p": row["p"]},
                )
    return rewritten


def test_sla_events_stored_under_the_old_module_paths_still_load(atende, settings):
    configure(atende)
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    before = atende.tickets.sla.ticket_sla(tid)
    policies = atende.tickets.sla.policies().ordered()
    assert _store_under_old_topics(atende) == before.version + 2  # + policies' Created, Replaced

    again = bootstrap(settings)  # nothing cached from the writes above
    try:
        loaded = again.tickets.sla.ticket_sla(tid)
        assert (loaded.version, loaded.timers) == (before.version, before.timers)
        assert again.tickets.sla.policies().ordered() == policies
        assert {e.type for e in again.tickets.events_after(0, 100)} >= {"replaced", "timer_paused"}
        assert {r["state"] for r in sla_view(again).rows()} == {"paused", "running"}
        # The ticket goes on: its timers take new events, under the new module paths.
        reply = lambda t: t.add_message("hola", "agent", "a", "public", None, AGENT)  # noqa: E731
        again.tickets.change(tid, reply)
        assert again.tickets.sla.ticket_sla(tid).timer("first_response")["state"] == "fulfilled"
    finally:
        again.close()
