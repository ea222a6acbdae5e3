"""Property: for any sequence of ticket commands, erasures of their customer among them,
the live queue view after processing equals a fresh rebuild from the log, row for row, on
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import functools

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from domain.ticket import TransitionNotAllowed
from domain.ticket_vocabulary import PRIORITIES
from infrastructure.crypto import ErasedCustomerError
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from tests.integration.builders import AGENT, open_ticket

COMMANDS = {
    "assign": lambda t, x: t.assign(f"agent-{x % 3}", AGENT),
    "unassign": lambda t, x: t.unassign(AGENT),
    "pending": lambda t, x: t.change_status("pending", AGENT),
    "on_hold": lambda t, x: t.change_status("on_hold", AGENT),
    "priority": lambda t, x: t.change_priority(PRIORITIES[x % 4], AGENT),
    "category": lambda t, x: t.change_category(f"c{x % 2}", AGENT),
    "tags": lambda t, x: t.change_tags([f"t{x % 3}"], [f"t{(x + 1) % 3}"], AGENT),
    "customer": lambda t, x: t.add_message("hola", "customer", None, "public", None, AGENT),
    "agent": lambda t, x: t.add_message("hola", "agent", "a", "internal", None, AGENT),
    "escalate": lambda t, x: t.escalate("por qué no", None, AGENT),
    "resolve": lambda t, x: t.resolve(None, AGENT),
    "reopen": lambda t, x: t.reopen(None, AGENT),
    "close": lambda t, x: t.close(AGENT),
}

# Erases the customer of the ticket: the live view scrubs what it copied, a rebuild reads
# "[erased]" from the start. Commands writing personal data afterwards are refused.
ERASE = "erase"

steps = st.lists(
    st.tuples(st.integers(0, 1), st.sampled_from(sorted([*COMMANDS, ERASE])), st.integers(0, 11)),
    min_size=1,
    max_size=30,
)
# Always tried: the live view has shown the customer's name before the erasure.
ERASURE_MIDWAY = [(0, "customer", 4), (1, "assign", 0), (0, ERASE, 4), (1, "customer", 8)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
@example(steps=ERASURE_MIDWAY)
def test_the_live_queue_equals_a_rebuild_after_any_commands(atende, steps):
    tickets = [open_ticket(atende, priority=PRIORITIES[i]).ticket.id for i in range(4)]
    run_steps_while_following(atende, "queue", tickets, steps)
    expected = atende.views["queue"].rows()
    assert_view_agrees_with_the_tickets(atende, expected, tickets)
    rebuild(atende, "queue")
    assert atende.views["queue"].rows() == expected


def run_steps_while_following(atende, view_name, tickets, steps):
    """Apply the commands while the live view keeps up in uneven batches, then catch up."""
    view = atende.views[view_name]
    live = ViewFollower(atende.tickets, VIEWS[view_name].projection(view=view))
    for which, name, x in steps:
        if name == ERASE:
            erase_customer_of(atende, tickets[which])
        else:
            with contextlib.suppress(TransitionNotAllowed, ErasedCustomerError):
                atende.tickets.change(tickets[which], functools.partial(COMMANDS[name], x=x))
        if x % 4 == 0:
            live.step()
    live.catch_up()


def erase_customer_of(atende, ticket_id):
    """As the HTTP resource does: the ticket list catches up first, since the erasure
    names the customer's tickets from it."""
    ticket_list = atende.views["ticket_list"]
    ViewFollower(atende.tickets, VIEWS["ticket_list"].projection(view=ticket_list)).catch_up()
    customer_id = atende.tickets.get_ticket(ticket_id).customer_id
    atende.eraser.erase(customer_id, AGENT, None)


def assert_view_agrees_with_the_tickets(atende, rows, ticket_ids):
    """The view's rows say what the aggregates (replayed from the store) say."""
    by_id = {row["id"]: row for row in rows}
    for tid in ticket_ids:
        ticket = atende.tickets.get_ticket(tid)
        row = by_id.get(str(tid))
        if ticket.status == "closed":
            assert row is None
            continue
        shown = (row["status"], row["assignee"], row["priority"], row["category"])
        assert shown == (ticket.status, ticket.assignee, ticket.priority, ticket.category)
        assert sorted(row["tags"]) == sorted(ticket.tags)
