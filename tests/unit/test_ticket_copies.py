"""A ticket's copy for a command (Ticket.copy_to_change) shares what its containers hold,
so the ticket a process keeps between commands stays as it was only if no event changes
a value it did not make. Every event a ticket records is run here on a copy of a ticket
that has one of everything, and the original is checked against what it was."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from domain.actor import SYSTEM
from domain.ticket import Ticket, event_class_type_name, event_type_name
from tests.unit.tickets import AGENT, new_ticket

LATER = datetime.now(UTC) + timedelta(days=30)
FILE = {"filename": "factura.pdf", "content_type": "application/pdf", "size": 1200}


def _say(author_type: str, visibility: str) -> Callable[[Ticket], None]:
    author_id = "ag1" if author_type == "agent" else None
    return lambda t: t.add_message(
        "otra vez", author_type, author_id, visibility, None, AGENT,
        attachments=[FILE], external_id=f"<{author_type}-{visibility}@mail>",
        articles=["kb-1"],
    )  # fmt: skip


def _resolved_first(then: Callable[[Ticket], None]) -> Callable[[Ticket], None]:
    def command(ticket: Ticket) -> None:
        ticket.resolve("listo", AGENT)
        then(ticket)

    return command


def _pending_first(then: Callable[[Ticket], None]) -> Callable[[Ticket], None]:
    def command(ticket: Ticket) -> None:
        ticket.change_status("pending", AGENT)
        then(ticket)

    return command


# Each command, and the event it must record last (a command may record others first).
COMMANDS: dict[str, tuple[Callable[[Ticket], None], str]] = {
    "agent's public reply": (_say("agent", "public"), "message_added"),
    "customer's public message": (_say("customer", "public"), "message_added"),
    "internal note": (_say("agent", "internal"), "message_added"),
    "assign": (lambda t: t.assign("ag2", AGENT), "assigned"),
    "change language": (lambda t: t.change_language("pt", AGENT), "language_changed"),
    "unassign": (lambda t: t.unassign(AGENT), "unassigned"),
    "set pending": (lambda t: t.change_status("pending", AGENT), "status_changed"),
    "remind": (
        _pending_first(lambda t: t.remind_when_pending_for(timedelta(0), LATER, SYSTEM)),
        "customer_reminded",
    ),
    "change priority": (lambda t: t.change_priority("urgent", AGENT), "priority_changed"),
    "change category": (lambda t: t.change_category("network", AGENT), "category_changed"),
    "add and remove tags": (lambda t: t.change_tags(["new"], ["vip"], AGENT), "tags_changed"),
    "escalate": (lambda t: t.escalate("still slow", None, AGENT), "escalated"),
    "resolve": (lambda t: t.resolve("listo", AGENT), "resolved"),
    "reopen": (_resolved_first(lambda t: t.reopen("no", AGENT)), "reopened"),
    "close": (_resolved_first(lambda t: t.close(AGENT)), "closed"),
}


def _with_one_of_everything() -> tuple[Ticket, list]:
    """A ticket with messages (attachments, external ids, cited articles), tags,
    an assignee, an escalation and a past resolution, and the events that built it."""
    ticket = new_ticket(tags=["vip", "fibra"])
    for author_type in ("customer", "agent"):
        _say(author_type, "public")(ticket)
    ticket.assign("ag1", AGENT)
    ticket.escalate("slow", None, AGENT)
    ticket.resolve("first try", AGENT)
    ticket.reopen("not yet", AGENT)
    return ticket, ticket.collect_events()


def _replay(events: list) -> Ticket:
    ticket = None
    for e in events:
        ticket = e.mutate(ticket)
    return ticket


@pytest.mark.parametrize("name", COMMANDS)
def test_a_command_on_a_copy_leaves_the_ticket_it_was_copied_from_as_it_was(name) -> None:
    original, _ = _with_one_of_everything()
    before = copy.deepcopy(vars(original))
    command, recorded = COMMANDS[name]

    changed = original.copy_to_change()
    command(changed)

    assert event_type_name(changed.pending_events[-1]) == recorded
    assert vars(original) == before
    assert original.version == before["_version"]


@pytest.mark.parametrize("name", COMMANDS)
def test_a_changed_copy_is_the_ticket_its_events_build(name) -> None:
    original, history = _with_one_of_everything()
    command, _ = COMMANDS[name]

    changed = original.copy_to_change()
    command(changed)
    events = changed.collect_events()

    assert vars(_replay(history + events)) == vars(changed)


def test_every_event_a_ticket_records_after_opening_is_run_on_a_copy() -> None:
    events = {
        event_class_type_name(value)
        for value in vars(Ticket).values()
        if isinstance(value, type) and issubclass(value, Ticket.Event)
    } - {"event", "opened", "created"}  # the base class; and the two that make a ticket
    assert events == {recorded for _, recorded in COMMANDS.values()}


def test_a_copy_shares_no_container_with_its_original() -> None:
    original, _ = _with_one_of_everything()

    changed = original.copy_to_change()

    for name, value in vars(original).items():
        if isinstance(value, (list, dict, set)) or hasattr(value, "append"):
            assert vars(changed)[name] is not value, name
            assert vars(changed)[name] == value, name
