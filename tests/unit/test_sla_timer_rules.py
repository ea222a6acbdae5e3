"""The timer rules, on the Ticket and its TicketSla alone, with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import eventsourcing.domain
import pytest

from domain.actor import Actor
from domain.sla.business_time import BusinessHours
from domain.sla.policy import SlaPolicy
from domain.sla.rules import follow_ticket
from domain.sla.timers import AppliedPolicy, TicketSla
from domain.ticket import Ticket

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ALWAYS = BusinessHours(timezone="UTC", weekly=((),) * 7, always_open=True)
CUSTOMER_SIDE = Actor(id="crm", name="crm", role="integrator")
AGENT = Actor(id="ag", name="maria", role="agent")
TARGETS = {"first_response": 3600, "next_response": 1800, "resolution": 8 * 3600}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: clock.now)
    return clock


def policy(**overrides) -> SlaPolicy:
    fields = {"name": "standard", "calendar": "always", "targets": TARGETS, **overrides}
    return SlaPolicy(**fields)


class Desk:
    """A ticket and its timers, kept in step the way the application does it."""

    def __init__(self, applied_policy: SlaPolicy | None = None, opened_by: Actor = CUSTOMER_SIDE):
        self.policy = applied_policy or policy()
        self.ticket = Ticket(
            subject="s", description="d", requester={}, customer_id=uuid4(), channel="email",
            language="es", priority="normal", category=None, tags=[], external_ref=None,
            actor=opened_by,
        )  # fmt: skip
        self.sla = TicketSla(ticket_id=self.ticket.id, actor=opened_by)
        self._follow()

    def choose(self, traits) -> AppliedPolicy | None:
        return AppliedPolicy(self.policy, 1, ALWAYS) if self.policy.matches(traits) else None

    def do(self, command: str, *args) -> None:
        getattr(self.ticket, command)(*args)
        self._follow()

    def _follow(self) -> None:
        events = self.ticket.collect_events()
        follow_ticket(self.sla, self.ticket, events, self.choose, lambda *_: ALWAYS, AGENT)

    def timer(self, metric: str, cycle: int | None = None) -> dict:
        found = self.sla.timer(metric, cycle)
        assert found is not None, f"no {metric} timer"
        return found


def counted(timer: dict) -> int:
    """The business seconds a timer has counted (its ``elapsed`` field): computed from the
    instants the test's clock was moved to, never read from a real clock."""
    return timer["elapsed"]


def agent_reply(desk: Desk, visibility: str = "public") -> None:
    desk.do("add_message", "hola", "agent", "ag", visibility, None, AGENT)


def customer_reply(desk: Desk) -> None:
    desk.do("add_message", "gracias", "customer", None, "public", None, CUSTOMER_SIDE)


def test_opening_starts_first_response_and_resolution_due_after_their_targets(clock):
    desk = Desk()
    assert desk.timer("first_response")["due_at"] == START + timedelta(hours=1)
    assert desk.timer("resolution")["due_at"] == START + timedelta(hours=8)
    assert desk.sla.timer("next_response") is None


def test_a_public_agent_message_fulfils_first_response_in_time(clock):
    desk = Desk()
    clock.advance(minutes=20)
    agent_reply(desk)
    first = desk.timer("first_response")
    assert (first["state"], first["met"], counted(first)) == ("fulfilled", True, 1200)


def test_an_internal_note_does_not_stop_first_response(clock):
    desk = Desk()
    clock.advance(minutes=20)
    agent_reply(desk, visibility="internal")
    assert desk.timer("first_response")["state"] == "running"


def test_a_late_reply_fulfils_first_response_as_met_late(clock):
    desk = Desk()
    clock.advance(hours=2)
    agent_reply(desk)
    assert desk.timer("first_response")["met"] is False


def test_an_agent_opened_ticket_starts_first_response_at_the_first_customer_message(clock):
    desk = Desk(opened_by=AGENT)
    assert desk.sla.timer("first_response") is None
    clock.advance(hours=3)
    customer_reply(desk)
    assert desk.timer("first_response")["started_at"] == START + timedelta(hours=3)


def test_next_response_runs_from_the_oldest_unanswered_customer_message(clock):
    desk = Desk()
    agent_reply(desk)
    clock.advance(minutes=10)
    customer_reply(desk)
    clock.advance(minutes=10)
    customer_reply(desk)
    timer = desk.timer("next_response")
    assert (timer["cycle"], timer["started_at"]) == (1, START + timedelta(minutes=10))
    clock.advance(minutes=5)
    agent_reply(desk)
    assert counted(desk.timer("next_response")) == 15 * 60


def test_each_answered_customer_message_is_a_new_next_response_cycle(clock):
    desk = Desk()
    agent_reply(desk)
    for _ in range(2):
        customer_reply(desk)
        agent_reply(desk)
    assert [desk.timer("next_response", c)["state"] for c in (1, 2)] == ["fulfilled"] * 2


def test_no_next_response_before_first_response_is_fulfilled(clock):
    desk = Desk()
    customer_reply(desk)
    assert desk.sla.timer("next_response") is None


def test_pending_pauses_resolution_and_a_customer_reply_resumes_it(clock):
    desk = Desk()
    clock.advance(hours=1)
    desk.do("change_status", "pending", AGENT)
    assert desk.timer("resolution")["state"] == "paused"
    assert desk.timer("resolution")["due_at"] is None
    clock.advance(hours=5)
    customer_reply(desk)
    resolution = desk.timer("resolution")
    assert (resolution["state"], counted(resolution)) == ("running", 3600)
    assert resolution["paused_seconds"] == 5 * 3600
    assert resolution["due_at"] == clock.now + timedelta(hours=7)


def test_pending_does_not_pause_first_response(clock):
    desk = Desk()
    desk.do("change_status", "pending", AGENT)
    assert desk.timer("first_response")["state"] == "running"


def test_on_hold_pauses_only_when_the_policy_says_so(clock):
    plain, pausing = Desk(), Desk(policy(pause_on_hold=True))
    for desk in (plain, pausing):
        desk.do("change_status", "on_hold", AGENT)
    assert plain.timer("resolution")["state"] == "running"
    assert pausing.timer("resolution")["state"] == "paused"


def test_reopen_continues_resolution_with_its_elapsed_time(clock):
    desk = Desk()
    clock.advance(hours=2)
    desk.do("resolve", None, AGENT)
    assert desk.timer("resolution")["state"] == "fulfilled"
    clock.advance(days=1)
    desk.do("reopen", "not fixed", AGENT)
    resolution = desk.timer("resolution")
    assert (resolution["state"], resolution["cycle"], counted(resolution)) == ("running", 1, 7200)
    assert resolution["due_at"] == clock.now + timedelta(hours=6)


def test_a_ticket_reopened_after_its_priority_changed_resumes_under_the_current_policy(clock):
    desk = Desk()
    clock.advance(hours=2)
    desk.do("resolve", None, AGENT)
    desk.policy = policy(name="urgent", targets={**TARGETS, "resolution": 4 * 3600})
    desk.do("change_priority", "urgent", AGENT)
    clock.advance(days=1)
    desk.do("reopen", "not fixed", AGENT)
    resolution = desk.timer("resolution")
    assert (resolution["policy"], resolution["target"], counted(resolution)) == (
        "urgent", 4 * 3600, 7200,
    )  # fmt: skip
    assert resolution["due_at"] == clock.now + timedelta(hours=2)


def test_a_reopen_under_a_target_already_exceeded_breaches_at_once(clock):
    desk = Desk()
    clock.advance(hours=5)
    desk.do("resolve", None, AGENT)
    desk.policy = policy(name="urgent", targets={**TARGETS, "resolution": 4 * 3600})
    desk.do("change_priority", "urgent", AGENT)
    clock.advance(hours=1)
    desk.do("reopen", "not fixed", AGENT)
    assert desk.timer("resolution")["breached_at"] == clock.now


def test_a_priority_change_retargets_and_keeps_the_elapsed_time(clock):
    desk = Desk()
    desk.policy = policy(name="urgent", targets={**TARGETS, "resolution": 4 * 3600})
    clock.advance(hours=1)
    desk.do("change_priority", "urgent", AGENT)
    resolution = desk.timer("resolution")
    assert (resolution["policy"], resolution["target"], counted(resolution)) == (
        "urgent", 4 * 3600, 3600,
    )  # fmt: skip
    assert resolution["due_at"] == clock.now + timedelta(hours=3)


def test_a_retarget_below_the_elapsed_time_breaches_at_once(clock):
    desk = Desk()
    desk.policy = policy(name="urgent", targets={**TARGETS, "first_response": 600})
    clock.advance(minutes=30)
    desk.do("change_priority", "urgent", AGENT)
    assert desk.timer("first_response")["breached_at"] == clock.now
    breaches = [e for e in desk.sla.pending_events if type(e).__name__ == "SlaBreached"]
    assert [e.timer["metric"] for e in breaches] == ["first_response"]


def test_closing_stops_every_live_timer(clock):
    desk = Desk()
    agent_reply(desk)
    customer_reply(desk)
    desk.do("resolve", None, AGENT)
    desk.do("reopen", None, AGENT)
    desk.do("resolve", None, AGENT)
    desk.do("close", AGENT)
    assert desk.sla.live_timers() == []


def test_a_breach_is_recorded_once_and_only_when_due(clock):
    desk = Desk()
    hours = lambda *_: ALWAYS  # noqa: E731
    early = START + timedelta(minutes=59)
    assert desk.sla.record_threshold("first_response", 1, "breach", early, AGENT, hours) is None
    late = START + timedelta(hours=1)
    assert desk.sla.record_threshold("first_response", 1, "breach", late, AGENT, hours)
    assert desk.sla.record_threshold("first_response", 1, "breach", late, AGENT, hours) is None
    assert desk.sla.pending_events[-1].summary["breached"] is True


def test_a_warning_comes_at_the_policy_fraction_of_the_target(clock):
    desk = Desk()
    hours = lambda *_: ALWAYS  # noqa: E731
    assert desk.timer("first_response")["warn_at"] == START + timedelta(minutes=48)
    at = START + timedelta(minutes=48)
    assert desk.sla.record_threshold("first_response", 1, "warning", at, AGENT, hours)
    assert desk.timer("first_response")["warned_at"] == at


def test_the_summary_names_the_earliest_due_running_timer_and_any_breach(clock):
    desk = Desk()
    summary = desk.sla.pending_events[-1].summary
    assert summary == {"due_at": START + timedelta(hours=1), "breached": False}
