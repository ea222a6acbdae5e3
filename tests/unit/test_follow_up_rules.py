"""The follow-up commands on the Ticket alone: auto-close after a resolution, one
reminder per pending stretch, auto-resolve when the customer never answers, and the
pending_since / reminded_at bookkeeping they rely on.

Every ``now`` is derived from the ticket's own resolved_at / pending_since (the events'
timestamps), so no test depends on how long it takes to run."""

from __future__ import annotations

from datetime import timedelta
from functools import reduce
from uuid import UUID

import pytest

from domain.actor import SYSTEM
from domain.personal import Personal
from domain.ticket import Ticket, event_type_name
from tests.unit.tickets import AGENT, OWNER, new_ticket

DAYS = timedelta(days=3)
TICK = timedelta(microseconds=1)


def ticket_in(status: str) -> Ticket:
    """A ticket brought to ``status`` by real commands, its events collected."""
    ticket = new_ticket()
    ticket.assign("ag1", AGENT)
    if status in ("open", "pending", "on_hold"):
        ticket.change_status(status, AGENT)
    elif status in ("resolved", "closed"):
        ticket.resolve("fixed", AGENT)
        if status == "closed":
            ticket.close(AGENT)
    assert ticket.status == status
    ticket.collect_events()
    return ticket


def names(events: list[object]) -> list[str]:
    return [event_type_name(e) for e in events]


def customer_reply(ticket: Ticket, visibility: str = "public") -> None:
    ticket.add_message("here it is", "customer", None, visibility, None, AGENT)


def agent_reply(ticket: Ticket, visibility: str = "public") -> None:
    ticket.add_message("any news?", "agent", "ag1", visibility, None, AGENT)


def replay(events: list[object]) -> Ticket:
    return reduce(lambda aggregate, e: e.mutate(aggregate), events, None)


# Auto-close


def test_a_ticket_resolved_long_enough_is_closed_with_a_reason() -> None:
    ticket = ticket_in("resolved")
    now = ticket.resolved_at + timedelta(days=4)
    assert ticket.close_when_resolved_for(DAYS, now, SYSTEM) is True
    (closed,) = ticket.collect_events()
    assert event_type_name(closed) == "closed"
    assert (closed.reason, closed.actor) == ("resolved for 3 days", SYSTEM)
    assert ticket.status == "closed"
    assert ticket.closed_at == closed.timestamp


def test_a_ticket_is_closed_once_exactly_the_wait_has_passed() -> None:
    ticket = ticket_in("resolved")
    assert ticket.close_when_resolved_for(DAYS, ticket.resolved_at + DAYS, SYSTEM) is True
    assert ticket.status == "closed"


def test_a_ticket_resolved_not_long_enough_stays_resolved_and_nothing_is_recorded() -> None:
    ticket = ticket_in("resolved")
    resolved_at, version = ticket.resolved_at, ticket.version
    assert ticket.close_when_resolved_for(DAYS, resolved_at + DAYS - TICK, SYSTEM) is False
    assert ticket.collect_events() == []
    assert (ticket.status, ticket.resolved_at, ticket.version) == ("resolved", resolved_at, version)


@pytest.mark.parametrize("status", ["new", "open", "pending", "on_hold", "closed"])
def test_only_a_resolved_ticket_is_closed_by_the_sweep(status: str) -> None:
    ticket = new_ticket() if status == "new" else ticket_in(status)
    ticket.collect_events()
    now = ticket.modified_on + timedelta(days=365)
    assert ticket.close_when_resolved_for(DAYS, now, SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.status == status


def test_a_ticket_reopened_since_its_resolution_is_not_closed() -> None:
    ticket = ticket_in("resolved")
    now = ticket.resolved_at + timedelta(days=30)
    ticket.reopen("not fixed", AGENT)
    ticket.collect_events()
    assert ticket.close_when_resolved_for(DAYS, now, SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.status == "open"


def test_the_wait_counts_from_the_latest_resolution() -> None:
    ticket = ticket_in("resolved")
    ticket.reopen("not fixed", AGENT)
    ticket.resolve("fixed now", AGENT)
    ticket.collect_events()
    latest = ticket.resolved_at
    assert ticket.close_when_resolved_for(DAYS, latest + DAYS - TICK, SYSTEM) is False
    assert ticket.close_when_resolved_for(DAYS, latest + DAYS, SYSTEM) is True
    assert names(ticket.collect_events()) == ["closed"]


@pytest.mark.parametrize(
    ("after", "reason"),
    [
        (timedelta(days=1), "resolved for 1 day"),
        (timedelta(days=7), "resolved for 7 days"),
        (timedelta(hours=36), "resolved for 129600 seconds"),
        (timedelta(minutes=5), "resolved for 300 seconds"),
    ],
)
def test_the_close_reason_names_the_wait(after: timedelta, reason: str) -> None:
    ticket = ticket_in("resolved")
    assert ticket.close_when_resolved_for(after, ticket.resolved_at + after, SYSTEM) is True
    (closed,) = ticket.collect_events()
    assert closed.reason == reason


def test_a_person_closing_a_ticket_records_no_reason() -> None:
    ticket = ticket_in("resolved")
    ticket.close(AGENT)
    (closed,) = ticket.collect_events()
    assert closed.reason is None


def test_the_systems_close_leaves_the_etag_but_a_persons_close_moves_it() -> None:
    by_system, by_person = ticket_in("resolved"), ticket_in("resolved")
    etag = by_system.etag_version
    by_system.close_when_resolved_for(DAYS, by_system.resolved_at + DAYS, SYSTEM)
    assert by_system.etag_version == etag
    by_person.close(AGENT)
    assert by_person.etag_version == by_person.version


# Pending bookkeeping


def test_entering_pending_records_when_the_stretch_began() -> None:
    ticket = ticket_in("open")
    assert (ticket.pending_since, ticket.reminded_at) == (None, None)
    ticket.change_status("pending", AGENT)
    (changed,) = ticket.collect_events()
    assert (ticket.pending_since, ticket.reminded_at) == (changed.timestamp, None)


@pytest.mark.parametrize(
    "leave",
    [
        lambda t: t.change_status("open", AGENT),
        lambda t: t.change_status("on_hold", AGENT),
        lambda t: t.resolve("done", AGENT),
        lambda t: customer_reply(t),
    ],
    ids=["set open", "set on_hold", "resolve", "customer public reply"],
)
def test_leaving_pending_clears_pending_since_and_reminded_at(leave) -> None:
    ticket = ticket_in("pending")
    ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    assert ticket.reminded_at is not None
    leave(ticket)
    assert ticket.status != "pending"
    assert (ticket.pending_since, ticket.reminded_at) == (None, None)


@pytest.mark.parametrize(
    "stay",
    [
        lambda t: agent_reply(t, "public"),
        lambda t: agent_reply(t, "internal"),
        lambda t: customer_reply(t, "internal"),
        lambda t: t.change_priority("high", AGENT),
        lambda t: t.assign("ag2", AGENT),
        lambda t: t.escalate("slow", None, AGENT),
        lambda t: t.change_status("pending", AGENT),
    ],
    ids=[
        "agent public reply",
        "agent internal note",
        "customer internal message",
        "priority change",
        "reassignment",
        "escalation",
        "set pending again",
    ],
)
def test_changes_that_keep_a_ticket_pending_keep_its_stretch_and_reminder(stay) -> None:
    ticket = ticket_in("pending")
    ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    since, reminded = ticket.pending_since, ticket.reminded_at
    stay(ticket)
    assert ticket.status == "pending"
    assert (ticket.pending_since, ticket.reminded_at) == (since, reminded)


def test_a_customer_reply_moves_a_pending_ticket_to_open_and_ends_the_stretch() -> None:
    ticket = ticket_in("pending")
    now = ticket.pending_since + timedelta(days=10)
    customer_reply(ticket)
    assert names(ticket.collect_events()) == ["status_changed", "message_added"]
    assert (ticket.status, ticket.pending_since, ticket.reminded_at) == ("open", None, None)
    assert ticket.remind_when_pending_for(DAYS, now, SYSTEM) is False
    assert ticket.resolve_when_pending_for(DAYS, now, SYSTEM) is False
    assert ticket.collect_events() == []


def test_replaying_the_events_rebuilds_pending_since_and_reminded_at() -> None:
    ticket = new_ticket()
    ticket.change_status("pending", AGENT)
    ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    replayed = replay(ticket.collect_events())
    assert (replayed.status, replayed.pending_since, replayed.reminded_at) == (
        "pending",
        ticket.pending_since,
        ticket.reminded_at,
    )


# Reminders


def test_a_ticket_pending_long_enough_gets_a_reminder_and_stays_pending() -> None:
    ticket = ticket_in("pending")
    since = ticket.pending_since
    assert ticket.remind_when_pending_for(DAYS, since + timedelta(days=4), SYSTEM) is True
    (reminded,) = ticket.collect_events()
    assert event_type_name(reminded) == "customer_reminded"
    assert (reminded.pending_since, reminded.actor) == (since, SYSTEM)
    assert ticket.reminded_at == reminded.timestamp
    assert (ticket.status, ticket.pending_since) == ("pending", since)


def test_a_reminder_is_due_once_exactly_the_wait_has_passed() -> None:
    ticket = ticket_in("pending")
    since = ticket.pending_since
    assert ticket.remind_when_pending_for(DAYS, since + DAYS - TICK, SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.reminded_at is None
    assert ticket.remind_when_pending_for(DAYS, since + DAYS, SYSTEM) is True


def test_a_pending_stretch_gets_only_one_reminder() -> None:
    ticket = ticket_in("pending")
    since = ticket.pending_since
    assert ticket.remind_when_pending_for(DAYS, since + DAYS, SYSTEM) is True
    ticket.collect_events()
    reminded_at = ticket.reminded_at
    assert ticket.remind_when_pending_for(DAYS, since + timedelta(days=30), SYSTEM) is False
    assert ticket.remind_when_pending_for(timedelta(0), since + timedelta(days=60), SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.reminded_at == reminded_at


@pytest.mark.parametrize("between", ["open", "on_hold"])
def test_a_new_pending_stretch_allows_a_new_reminder(between: str) -> None:
    ticket = ticket_in("pending")
    first_since = ticket.pending_since
    assert ticket.remind_when_pending_for(DAYS, first_since + DAYS, SYSTEM) is True
    ticket.change_status(between, AGENT)
    ticket.change_status("pending", AGENT)
    *_, entered = ticket.collect_events()
    second_since = ticket.pending_since
    assert (second_since, ticket.reminded_at) == (entered.timestamp, None)
    assert ticket.remind_when_pending_for(DAYS, second_since + DAYS, SYSTEM) is True
    (reminded,) = ticket.collect_events()
    assert reminded.pending_since == second_since


def test_a_new_stretch_after_a_customer_reply_allows_a_new_reminder() -> None:
    ticket = ticket_in("pending")
    ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    customer_reply(ticket)
    ticket.change_status("pending", AGENT)
    ticket.collect_events()
    assert ticket.reminded_at is None
    assert ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM) is True
    assert names(ticket.collect_events()) == ["customer_reminded"]


def test_a_new_stretch_is_measured_from_its_own_start() -> None:
    ticket = ticket_in("pending")
    ticket.change_status("open", AGENT)
    ticket.change_status("pending", AGENT)
    ticket.collect_events()
    since = ticket.pending_since
    assert ticket.remind_when_pending_for(DAYS, since + DAYS - TICK, SYSTEM) is False
    assert ticket.resolve_when_pending_for(DAYS, since + DAYS - TICK, SYSTEM) is False
    assert ticket.collect_events() == []


@pytest.mark.parametrize("status", ["new", "open", "on_hold", "resolved", "closed"])
def test_only_a_pending_ticket_is_reminded(status: str) -> None:
    ticket = new_ticket() if status == "new" else ticket_in(status)
    ticket.collect_events()
    now = ticket.modified_on + timedelta(days=365)
    assert ticket.remind_when_pending_for(DAYS, now, SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.reminded_at is None


def test_a_reminder_leaves_the_etag() -> None:
    ticket = ticket_in("pending")
    etag = ticket.etag_version
    ticket.remind_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    assert ticket.etag_version == etag
    assert ticket.version == etag + 1


# Auto-resolve


def test_a_ticket_pending_long_enough_is_resolved_naming_the_wait() -> None:
    ticket = ticket_in("pending")
    now = ticket.pending_since + timedelta(days=8)
    assert ticket.resolve_when_pending_for(timedelta(days=7), now, SYSTEM) is True
    (resolved,) = ticket.collect_events()
    assert event_type_name(resolved) == "resolved"
    assert resolved.resolution == Personal(OWNER, "no reply from the customer for 7 days")
    assert resolved.actor == SYSTEM
    assert isinstance(resolved.survey_id, UUID)
    assert ticket.status == "resolved"
    assert (ticket.resolved_at, ticket.survey_id) == (resolved.timestamp, resolved.survey_id)
    assert (ticket.pending_since, ticket.reminded_at) == (None, None)


def test_a_ticket_is_resolved_once_exactly_the_wait_has_passed() -> None:
    ticket = ticket_in("pending")
    since = ticket.pending_since
    assert ticket.resolve_when_pending_for(DAYS, since + DAYS - TICK, SYSTEM) is False
    assert (ticket.status, ticket.collect_events()) == ("pending", [])
    assert ticket.resolve_when_pending_for(DAYS, since + DAYS, SYSTEM) is True
    assert ticket.status == "resolved"


def test_a_reminded_ticket_can_still_be_resolved_by_the_sweep() -> None:
    ticket = ticket_in("pending")
    since = ticket.pending_since
    ticket.remind_when_pending_for(DAYS, since + DAYS, SYSTEM)
    assert ticket.resolve_when_pending_for(timedelta(days=7), since + timedelta(days=7), SYSTEM)
    assert names(ticket.collect_events()) == ["customer_reminded", "resolved"]


@pytest.mark.parametrize("status", ["new", "open", "on_hold", "resolved", "closed"])
def test_only_a_pending_ticket_is_resolved_by_the_sweep(status: str) -> None:
    ticket = new_ticket() if status == "new" else ticket_in(status)
    ticket.collect_events()
    now = ticket.modified_on + timedelta(days=365)
    assert ticket.resolve_when_pending_for(DAYS, now, SYSTEM) is False
    assert ticket.collect_events() == []
    assert ticket.status == status


def test_the_systems_resolution_leaves_the_etag() -> None:
    ticket = ticket_in("pending")
    etag = ticket.etag_version
    ticket.resolve_when_pending_for(DAYS, ticket.pending_since + DAYS, SYSTEM)
    assert ticket.etag_version == etag


# Resolutions name their survey


def test_a_resolution_names_a_survey_and_the_ticket_remembers_it() -> None:
    ticket = ticket_in("open")
    assert ticket.survey_id is None
    ticket.resolve("fixed", AGENT)
    (resolved,) = ticket.collect_events()
    assert isinstance(resolved.survey_id, UUID)
    assert ticket.survey_id == resolved.survey_id


def test_every_resolution_names_a_fresh_survey() -> None:
    ticket = ticket_in("open")
    ticket.resolve("fixed", AGENT)
    ticket.reopen("not fixed", AGENT)
    ticket.resolve("fixed now", AGENT)
    first, reopened, second = ticket.collect_events()
    assert names([first, reopened, second]) == ["resolved", "reopened", "resolved"]
    assert first.survey_id != second.survey_id
    assert ticket.survey_id == second.survey_id


def test_a_reopen_keeps_the_survey_of_the_resolution_it_undoes() -> None:
    ticket = ticket_in("resolved")
    survey_id = ticket.survey_id
    customer_reply(ticket)
    assert (ticket.status, ticket.survey_id) == ("open", survey_id)
