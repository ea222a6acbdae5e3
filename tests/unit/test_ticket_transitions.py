"""The Ticket status state machine: every command from every status, allowed or refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.personal import Personal
from domain.ticket import Ticket, TransitionNotAllowed, event_type_name
from domain.ticket_vocabulary import STATUSES
from tests.unit.tickets import AGENT, OWNER, new_ticket

# The commands that drive a fresh ticket into each status.
PATHS: dict[str, list[Callable[[Ticket], None]]] = {
    "new": [],
    "open": [lambda t: t.change_status("open", AGENT)],
    "pending": [lambda t: t.change_status("pending", AGENT)],
    "on_hold": [lambda t: t.change_status("on_hold", AGENT)],
    "resolved": [lambda t: t.resolve("fixed", AGENT)],
    "closed": [lambda t: t.resolve("fixed", AGENT), lambda t: t.close(AGENT)],
}


def ticket_in(status: str, *, assignee: str | None = None, collect: bool = True) -> Ticket:
    """A ticket brought to `status` by real commands; its events collected unless asked not."""
    ticket = new_ticket()
    if assignee is not None:
        if status == "new":
            raise ValueError("an assigned ticket is no longer new")
        ticket.assign(assignee, AGENT)
    for step in PATHS[status]:
        step(ticket)
    assert ticket.status == status
    if collect:
        ticket.collect_events()
    return ticket


def event_names(events: list[object]) -> list[str]:
    return [event_type_name(e) for e in events]


def say(author_type: str, visibility: str) -> Callable[[Ticket], None]:
    author_id = "ag1" if author_type == "agent" else None
    return lambda t: t.add_message("text", author_type, author_id, visibility, None, AGENT)


COMMANDS: dict[str, Callable[[Ticket], None]] = {
    "set open": lambda t: t.change_status("open", AGENT),
    "set pending": lambda t: t.change_status("pending", AGENT),
    "set on_hold": lambda t: t.change_status("on_hold", AGENT),
    "resolve": lambda t: t.resolve("done", AGENT),
    "reopen": lambda t: t.reopen("again", AGENT),
    "close": lambda t: t.close(AGENT),
    "escalate": lambda t: t.escalate("slow", None, AGENT),
    "agent public message": say("agent", "public"),
    "agent internal note": say("agent", "internal"),
    "customer public message": say("customer", "public"),
    "customer internal message": say("customer", "internal"),
    "assign": lambda t: t.assign("ag2", AGENT),
    "unassign (nobody assigned)": lambda t: t.unassign(AGENT),
    "change priority": lambda t: t.change_priority("high", AGENT),
    "change category": lambda t: t.change_category("billing", AGENT),
    "change tags": lambda t: t.change_tags(["vip"], [], AGENT),
}

NO = None  # refused: TransitionNotAllowed and nothing recorded


def ok(status: str, *events: str) -> tuple[str, tuple[str, ...]]:
    return status, events


# Columns follow STATUSES: new, open, pending, on_hold, resolved, closed.
# Each cell: NO, or the status afterwards and the events recorded, in order.
TABLE: dict[str, tuple] = {
    "set open": (
        ok("open", "status_changed"), ok("open"), ok("open", "status_changed"),
        ok("open", "status_changed"), NO, NO,
    ),
    "set pending": (
        ok("pending", "status_changed"), ok("pending", "status_changed"), ok("pending"),
        ok("pending", "status_changed"), NO, NO,
    ),
    "set on_hold": (
        ok("on_hold", "status_changed"), ok("on_hold", "status_changed"),
        ok("on_hold", "status_changed"), ok("on_hold"), NO, NO,
    ),
    "resolve": (
        ok("resolved", "resolved"), ok("resolved", "resolved"), ok("resolved", "resolved"),
        ok("resolved", "resolved"), NO, NO,
    ),
    "reopen": (NO, NO, NO, NO, ok("open", "reopened"), NO),
    "close": (NO, NO, NO, NO, ok("closed", "closed"), NO),
    "escalate": (
        ok("new", "escalated"), ok("open", "escalated"), ok("pending", "escalated"),
        ok("on_hold", "escalated"), NO, NO,
    ),
    "agent public message": (
        ok("open", "message_added"), ok("open", "message_added"),
        ok("pending", "message_added"), ok("on_hold", "message_added"),
        ok("resolved", "message_added"), NO,
    ),
    "agent internal note": (
        ok("open", "message_added"), ok("open", "message_added"),
        ok("pending", "message_added"), ok("on_hold", "message_added"),
        ok("resolved", "message_added"), NO,
    ),
    "customer public message": (
        ok("new", "message_added"), ok("open", "message_added"),
        ok("open", "status_changed", "message_added"), ok("on_hold", "message_added"),
        ok("open", "reopened", "message_added"), NO,
    ),
    "customer internal message": (
        ok("new", "message_added"), ok("open", "message_added"),
        ok("pending", "message_added"), ok("on_hold", "message_added"),
        ok("resolved", "message_added"), NO,
    ),
    "assign": (
        ok("open", "assigned"), ok("open", "assigned"), ok("pending", "assigned"),
        ok("on_hold", "assigned"), ok("resolved", "assigned"), NO,
    ),
    "unassign (nobody assigned)": (
        ok("new"), ok("open"), ok("pending"), ok("on_hold"), ok("resolved"), NO,
    ),
    "change priority": (
        ok("new", "priority_changed"), ok("open", "priority_changed"),
        ok("pending", "priority_changed"), ok("on_hold", "priority_changed"),
        ok("resolved", "priority_changed"), NO,
    ),
    "change category": (
        ok("new", "category_changed"), ok("open", "category_changed"),
        ok("pending", "category_changed"), ok("on_hold", "category_changed"),
        ok("resolved", "category_changed"), NO,
    ),
    "change tags": (
        ok("new", "tags_changed"), ok("open", "tags_changed"), ok("pending", "tags_changed"),
        ok("on_hold", "tags_changed"), ok("resolved", "tags_changed"), NO,
    ),
}  # fmt: skip

CELLS = [(cmd, status, row[i]) for cmd, row in TABLE.items() for i, status in enumerate(STATUSES)]
ALLOWED = [pytest.param(c, s, e, id=f"{c} from {s}") for c, s, e in CELLS if e is not NO]
REFUSED = [pytest.param(c, s, id=f"{c} from {s}") for c, s, e in CELLS if e is NO]


def test_the_table_covers_every_command_from_every_status() -> None:
    assert set(TABLE) == set(COMMANDS)
    assert STATUSES == ("new", "open", "pending", "on_hold", "resolved", "closed")
    assert all(len(row) == len(STATUSES) for row in TABLE.values())


@pytest.mark.parametrize(("command", "status", "expected"), ALLOWED)
def test_an_allowed_command_moves_the_ticket_and_records_its_events(
    command: str, status: str, expected: tuple[str, tuple[str, ...]]
) -> None:
    ticket = ticket_in(status)
    version = ticket.version
    COMMANDS[command](ticket)
    status_after, events = expected
    assert ticket.status == status_after
    assert event_names(ticket.pending_events) == list(events)
    assert ticket.version == version + len(events)


@pytest.mark.parametrize(("command", "status"), REFUSED)
def test_a_refused_command_raises_and_records_nothing(command: str, status: str) -> None:
    ticket = ticket_in(status)
    version, before = ticket.version, dict(vars(ticket))
    with pytest.raises(TransitionNotAllowed):
        COMMANDS[command](ticket)
    assert ticket.pending_events == []
    assert ticket.version == version
    assert vars(ticket) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_closed_ticket_refuses_every_command(command: str) -> None:
    ticket = ticket_in("closed")
    with pytest.raises(TransitionNotAllowed):
        COMMANDS[command](ticket)
    assert ticket.status == "closed"
    assert ticket.pending_events == []


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("target", ["new", "resolved", "closed", "bogus", ""])
def test_only_open_pending_and_on_hold_can_be_set_directly(status: str, target: str) -> None:
    ticket = ticket_in(status)
    with pytest.raises(TransitionNotAllowed):
        ticket.change_status(target, AGENT)
    assert (ticket.status, ticket.pending_events) == (status, [])


@pytest.mark.parametrize("status", ["open", "pending", "on_hold", "resolved"])
def test_unassigning_an_assigned_ticket_records_it_and_keeps_the_status(status: str) -> None:
    ticket = ticket_in(status, assignee="ag1")
    ticket.unassign(AGENT)
    assert (ticket.status, ticket.assignee) == (status, None)
    assert event_names(ticket.pending_events) == ["unassigned"]


def test_a_closed_ticket_keeps_its_assignee_when_asked_to_unassign() -> None:
    ticket = ticket_in("closed", assignee="ag1")
    with pytest.raises(TransitionNotAllowed):
        ticket.unassign(AGENT)
    assert (ticket.assignee, ticket.pending_events) == ("ag1", [])


def test_a_fresh_ticket_is_new_unassigned_and_unescalated() -> None:
    ticket = new_ticket()
    assert (ticket.status, ticket.assignee, ticket.escalation) == ("new", None, None)
    assert event_names(ticket.pending_events) == ["opened"]
    assert ticket.version == 1


def test_priority_category_tag_changes_and_customer_messages_keep_a_ticket_new() -> None:
    ticket = new_ticket()
    ticket.change_priority("urgent", AGENT)
    ticket.change_category("billing", AGENT)
    ticket.change_tags(["vip"], [], AGENT)
    ticket.add_message("anyone?", "customer", None, "public", None, AGENT)
    assert ticket.status == "new"
    assert ticket.version == 5


@pytest.mark.parametrize(
    "first_agent_action",
    [
        lambda t: t.assign("ag1", AGENT),
        lambda t: t.add_message("hello", "agent", "ag1", "public", None, AGENT),
        lambda t: t.add_message("note", "agent", "ag1", "internal", None, AGENT),
        lambda t: t.change_status("open", AGENT),
    ],
    ids=["assign", "agent public message", "agent internal note", "explicit status change"],
)
def test_the_first_agent_action_opens_a_new_ticket_for_good(first_agent_action) -> None:
    ticket = new_ticket()
    first_agent_action(ticket)
    assert ticket.status == "open"
    ticket.unassign(AGENT)
    ticket.add_message("still there?", "customer", None, "public", None, AGENT)
    assert ticket.status == "open"


def test_a_customer_reply_on_a_pending_ticket_records_status_changed_then_the_message() -> None:
    ticket = ticket_in("pending")
    ticket.add_message("here it is", "customer", None, "public", None, AGENT)
    changed, added = ticket.pending_events
    assert (event_type_name(changed), changed.status) == ("status_changed", "open")
    assert event_type_name(added) == "message_added"
    assert changed.originator_version + 1 == added.originator_version
    assert ticket.status == "open"


def test_a_customer_reply_on_a_resolved_ticket_reopens_it_and_clears_the_resolution() -> None:
    ticket = ticket_in("resolved")
    ticket.add_message("still broken", "customer", None, "public", None, AGENT)
    reopened, added = ticket.pending_events
    assert event_names([reopened, added]) == ["reopened", "message_added"]
    assert reopened.reason == "customer replied"
    assert (ticket.status, ticket.resolution, ticket.resolved_at) == ("open", None, None)
    assert ticket.messages[-1]["body"].text == "still broken"


@pytest.mark.parametrize("visibility", ["public", "internal"])
def test_an_agent_message_on_a_resolved_ticket_keeps_it_resolved(visibility: str) -> None:
    ticket = ticket_in("resolved")
    resolved_at = ticket.resolved_at
    ticket.add_message("closing soon", "agent", "ag1", visibility, None, AGENT)
    assert (ticket.status, ticket.resolved_at) == ("resolved", resolved_at)
    assert ticket.resolution == Personal(OWNER, "fixed")


def test_reopening_a_resolved_ticket_clears_its_resolution_and_resolved_at() -> None:
    ticket = ticket_in("resolved")
    assert ticket.resolution == Personal(OWNER, "fixed")
    assert ticket.resolved_at is not None
    ticket.reopen("not fixed", AGENT)
    assert (ticket.status, ticket.resolution, ticket.resolved_at) == ("open", None, None)
    (reopened,) = ticket.pending_events
    assert reopened.reason == "not fixed"


def test_a_reopened_ticket_can_be_resolved_and_closed_again() -> None:
    ticket = ticket_in("resolved")
    ticket.reopen(None, AGENT)
    ticket.resolve(None, AGENT)
    ticket.close(AGENT)
    assert ticket.status == "closed"
    assert ticket.resolution is None
    assert event_names(ticket.pending_events) == ["reopened", "resolved", "closed"]
