"""What the Ticket records: no-ops, escalation, tags, actors, timestamps, replay, personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.actor import SYSTEM, Actor
from domain.personal import Personal
from domain.ticket import Ticket, TransitionNotAllowed, event_type_name
from domain.ticket_refs import ticket_id_for_external_ref
from tests.unit.test_ticket_transitions import (
    AGENT,
    OWNER,
    PATHS,
    event_names,
    new_ticket,
    ticket_in,
)


def replay(events: list) -> Ticket:
    copy = None
    for e in events:
        copy = e.mutate(copy)
    return copy


def assert_nothing_recorded(ticket: Ticket, version: int) -> None:
    assert ticket.pending_events == []
    assert ticket.version == version


# No-op commands ask for the state the ticket is already in.


@pytest.mark.parametrize(
    "no_op",
    [
        pytest.param(lambda t: t.assign("ag1", AGENT), id="assign the same agent"),
        pytest.param(lambda t: t.change_priority("high", AGENT), id="same priority"),
        pytest.param(lambda t: t.change_status("pending", AGENT), id="same status"),
        pytest.param(lambda t: t.change_category("billing", AGENT), id="same category"),
        pytest.param(lambda t: t.change_tags(["vip"], [], AGENT), id="add an existing tag"),
        pytest.param(lambda t: t.change_tags([], ["nope"], AGENT), id="remove an absent tag"),
        pytest.param(lambda t: t.change_tags([], [], AGENT), id="no tags at all"),
        pytest.param(lambda t: t.change_tags(["x"], ["x"], AGENT), id="add and remove absent"),
    ],
)
def test_a_command_asking_for_the_current_state_records_no_event(no_op) -> None:
    ticket = new_ticket(tags=["vip"])
    ticket.assign("ag1", AGENT)
    ticket.change_priority("high", AGENT)
    ticket.change_status("pending", AGENT)
    ticket.change_category("billing", AGENT)
    ticket.collect_events()
    version, before = ticket.version, dict(vars(ticket))
    no_op(ticket)
    assert_nothing_recorded(ticket, version)
    assert vars(ticket) == before


def test_unassigning_an_unassigned_ticket_or_clearing_no_category_records_no_event() -> None:
    ticket = ticket_in("open")
    ticket.unassign(AGENT)
    ticket.change_category(None, AGENT)
    assert_nothing_recorded(ticket, 2)


def test_clearing_a_category_records_the_change_to_none() -> None:
    ticket = new_ticket()
    ticket.change_category("billing", AGENT)
    ticket.change_category(None, AGENT)
    assert ticket.category is None
    assert [e.category for e in ticket.pending_events[1:]] == ["billing", None]


# Escalation levels only rise.


def test_escalating_without_a_level_raises_it_by_one_each_time() -> None:
    ticket = new_ticket()
    ticket.escalate("slow", None, AGENT)
    ticket.escalate("slower", None, AGENT)
    assert (ticket.escalation["level"], ticket.escalation["reason"]) == (2, "slower")
    assert [e.level for e in ticket.pending_events[1:]] == [1, 2]


def test_an_explicit_escalation_level_may_jump_above_the_current_one() -> None:
    ticket = new_ticket()
    ticket.escalate("slow", None, AGENT)
    ticket.escalate("angry", 4, AGENT)
    assert ticket.escalation["level"] == 4
    ticket.escalate("angrier", None, AGENT)
    assert ticket.escalation["level"] == 5


@pytest.mark.parametrize(("current", "asked"), [(0, 0), (0, -1), (2, 2), (2, 1), (3, 0)])
def test_an_escalation_level_not_above_the_current_one_is_refused(current: int, asked: int) -> None:
    ticket = new_ticket()
    if current:
        ticket.escalate("earlier", current, AGENT)
    ticket.collect_events()
    with pytest.raises(TransitionNotAllowed):
        ticket.escalate("again", asked, AGENT)
    assert_nothing_recorded(ticket, 2 if current else 1)
    assert (ticket.escalation or {"level": 0})["level"] == current


# Tags: a set kept in insertion order.


def test_adding_tags_appends_only_new_ones_once_each() -> None:
    ticket = new_ticket(tags=["a", "b"])
    ticket.change_tags(["b", "c", "c", "d"], [], AGENT)
    assert ticket.tags == ["a", "b", "c", "d"]
    (changed,) = ticket.pending_events[1:]
    assert (changed.added, changed.removed) == (["c", "d"], [])


def test_removing_tags_drops_present_ones_and_records_only_those() -> None:
    ticket = new_ticket(tags=["a", "b", "c"])
    ticket.change_tags([], ["c", "a", "a", "zz"], AGENT)
    assert ticket.tags == ["b"]
    (changed,) = ticket.pending_events[1:]
    assert (changed.added, changed.removed) == ([], ["c", "a"])


def test_adding_and_removing_in_one_command_records_one_event() -> None:
    ticket = new_ticket(tags=["a", "b"])
    ticket.change_tags(["c"], ["a"], AGENT)
    assert ticket.tags == ["b", "c"]
    assert event_names(ticket.pending_events) == ["opened", "tags_changed"]


def test_a_tag_both_added_and_removed_ends_up_removed() -> None:
    ticket = new_ticket(tags=["a", "b"])
    ticket.change_tags(["a", "c"], ["a"], AGENT)
    assert ticket.tags == ["b", "c"]
    assert (ticket.pending_events[-1].added, ticket.pending_events[-1].removed) == (["c"], ["a"])


def test_the_opening_tags_are_copied_not_shared_with_the_caller() -> None:
    given = ["a"]
    ticket = new_ticket(tags=given)
    given.append("zz")
    assert ticket.tags == ["a"]


# Actors, timestamps and event names.


def actor(n: int) -> Actor:
    return Actor(f"id{n}", f"actor {n}", ("admin", "agent", "integrator")[n % 3])


def drive_with_actors(ticket: Ticket) -> list[tuple[str, Actor]]:
    """Run one of every command, each by its own actor; return (event name, actor) expected."""
    ticket.change_priority("high", actor(1))
    ticket.change_category("billing", actor(2))
    ticket.change_tags(["vip"], [], actor(3))
    ticket.assign("ag1", actor(4))
    ticket.change_status("pending", actor(5))
    ticket.add_message("reply", "customer", None, "public", "chat", actor(6))
    ticket.escalate("slow", None, actor(7))
    ticket.unassign(actor(8))
    ticket.resolve("fixed", actor(9))
    ticket.reopen("no", actor(10))
    ticket.resolve(None, actor(11))
    ticket.close(SYSTEM)
    names = ["priority_changed", "category_changed", "tags_changed", "assigned"]
    names += ["status_changed", "status_changed", "message_added", "escalated", "unassigned"]
    names += ["resolved", "reopened", "resolved"]
    actors = [actor(n) for n in (1, 2, 3, 4, 5, 6, 6, 7, 8, 9, 10, 11)]
    return [("opened", AGENT), *zip(names, actors, strict=True), ("closed", SYSTEM)]


def test_every_event_has_its_short_name_and_records_the_actor_given() -> None:
    ticket = new_ticket()
    expected = drive_with_actors(ticket)
    events = ticket.collect_events()
    assert [(event_type_name(e), e.actor) for e in events] == expected
    assert [e.originator_version for e in events] == list(range(1, len(expected) + 1))


def test_every_event_is_stamped_with_the_current_utc_time_in_order() -> None:
    before = datetime.now(UTC)
    ticket = new_ticket()
    drive_with_actors(ticket)
    after = datetime.now(UTC)
    stamps = [e.timestamp for e in ticket.collect_events()]
    assert all(s.utcoffset() == timedelta(0) for s in stamps)
    assert before <= stamps[0] and stamps[-1] <= after
    assert stamps == sorted(stamps)
    assert (ticket.created_on, ticket.modified_on) == (stamps[0], stamps[-1])


def test_a_message_is_created_at_its_event_time_with_its_details() -> None:
    ticket = ticket_in("open")
    ticket.add_message("hello", "agent", "ag7", "internal", None, AGENT)
    ticket.add_message("hi", "customer", None, "public", "chat", AGENT)
    first, second = ticket.pending_events
    assert [m["created_at"] for m in ticket.messages] == [first.timestamp, second.timestamp]
    assert ticket.messages[0]["author_id"] == "ag7"
    assert [m["channel"] for m in ticket.messages] == ["email", "chat"]
    assert [m["visibility"] for m in ticket.messages] == ["internal", "public"]
    assert [m["id"] for m in ticket.messages] == [first.message_id, second.message_id]
    assert isinstance(first.message_id, UUID) and first.message_id != second.message_id


def test_resolved_at_closed_at_and_escalation_time_come_from_their_events() -> None:
    ticket = ticket_in("open")
    ticket.escalate("slow", None, AGENT)
    ticket.resolve("done", AGENT)
    ticket.close(AGENT)
    escalated, resolved, closed = ticket.pending_events
    assert ticket.escalation["at"] == escalated.timestamp
    assert ticket.resolved_at == resolved.timestamp
    assert ticket.closed_at == closed.timestamp
    assert ticket.resolution == Personal(OWNER, "done")


# Replay rebuilds the same state.


def test_replaying_the_events_rebuilds_the_same_ticket() -> None:
    ticket = new_ticket(tags=["a"])
    drive_with_actors(ticket)
    events = ticket.collect_events()
    copy = replay(events)
    assert copy is not ticket
    for attr in ("id", "status", "assignee", "tags", "messages", "version", "escalation"):
        assert getattr(copy, attr) == getattr(ticket, attr), attr
    for attr in ("priority", "category", "resolution", "resolved_at", "closed_at", "modified_on"):
        assert getattr(copy, attr) == getattr(ticket, attr), attr
    assert vars(copy) == vars(ticket)


@pytest.mark.parametrize("status", list(PATHS))
def test_replaying_a_ticket_in_any_status_rebuilds_that_status(status: str) -> None:
    ticket = ticket_in(status, collect=False)
    copy = replay(ticket.collect_events())
    assert (copy.status, copy.version) == (status, ticket.version)
    assert vars(copy) == vars(ticket)


def test_replaying_a_prefix_gives_the_state_at_that_version() -> None:
    ticket = ticket_in("pending", collect=False)
    ticket.add_message("back", "customer", None, "public", None, AGENT)
    ticket.resolve("done", AGENT)
    events = ticket.collect_events()
    assert replay(events[:2]).status == "pending"
    assert replay(events[:4]).status == "open"
    assert replay(events[:4]).messages[0]["body"] == Personal(OWNER, "back")
    assert replay(events).status == "resolved"


# Personal values belong to the ticket's customer.


def test_every_personal_text_on_a_ticket_is_owned_by_its_customer() -> None:
    ticket = new_ticket()
    ticket.add_message("from agent", "agent", "ag1", "public", None, AGENT)
    ticket.add_message("from customer", "customer", None, "public", None, AGENT)
    ticket.resolve("the fix", AGENT)
    assert ticket.subject == Personal(OWNER, "s")
    assert ticket.description == Personal(OWNER, "d")
    assert [m["body"] for m in ticket.messages] == [
        Personal(OWNER, "from agent"),
        Personal(OWNER, "from customer"),
    ]
    assert ticket.resolution == Personal(OWNER, "the fix")
    assert {v.owner for v in ticket.requester.values() if v is not None} == {OWNER}
    recorded = [e.body for e in ticket.pending_events if event_type_name(e) == "message_added"]
    assert all(isinstance(b, Personal) and b.owner == OWNER for b in recorded)
    assert isinstance(ticket.pending_events[-1].resolution, Personal)


def test_resolving_without_a_resolution_records_none() -> None:
    ticket = ticket_in("open")
    ticket.resolve(None, AGENT)
    assert ticket.resolution is None
    assert ticket.pending_events[-1].resolution is None


# Ids.


def test_the_same_external_ref_always_gives_the_same_ticket_id() -> None:
    first = new_ticket(external_ref="crm-42")
    second = new_ticket(external_ref="crm-42")
    assert first.id == second.id == ticket_id_for_external_ref("crm-42")
    assert Ticket.create_id(external_ref="crm-42", subject="ignored") == first.id
    assert new_ticket(external_ref="crm-43").id != first.id


@pytest.mark.parametrize("external_ref", [None, ""])
def test_tickets_without_an_external_ref_get_random_ids(external_ref: str | None) -> None:
    ids = {new_ticket(external_ref=external_ref).id for _ in range(20)}
    assert len(ids) == 20
    assert all(i.version == 4 for i in ids)
    assert Ticket.create_id() != Ticket.create_id()
