"""The ticket use cases by name (application/ticket_commands.py) on real SQLite and
PostgreSQL: each applies its domain command and stores its event, and honours the
caller's write terms (the version it saw)."""

from __future__ import annotations

import pytest

from application.errors import StaleVersion
from application.ticket_commands import TicketCommands, WriteTerms
from tests.integration.builders import AGENT, open_ticket


def event_names(atende, ticket_id) -> list[str]:
    return [e.type for e in atende.tickets.history(ticket_id)]


def test_a_message_then_resolve_then_reopen_are_stored_as_their_events(atende):
    commands = TicketCommands(atende.tickets)
    ticket = open_ticket(atende).ticket
    commands.add_message(
        ticket.id, body="Reinicie el módem", author_type="agent", visibility="public", actor=AGENT
    )
    resolved = commands.resolve(ticket.id, resolution="Reiniciado", actor=AGENT)
    assert resolved.ticket.status == "resolved"
    reopened = commands.reopen(ticket.id, reason="Sigue sin internet", actor=AGENT)
    assert reopened.ticket.status == "open"
    assert event_names(atende, ticket.id)[-3:] == ["message_added", "resolved", "reopened"]


def test_a_command_over_a_version_the_caller_no_longer_holds_is_stale_and_stores_nothing(
    atende,
):
    commands = TicketCommands(atende.tickets)
    ticket = open_ticket(atende).ticket
    seen = atende.tickets.get_ticket(ticket.id).etag_version
    commands.change_priority(ticket.id, priority="high", actor=AGENT)
    before = event_names(atende, ticket.id)
    with pytest.raises(StaleVersion):
        commands.resolve(ticket.id, actor=AGENT, terms=WriteTerms(expected_version=seen))
    assert event_names(atende, ticket.id) == before
    assert atende.tickets.get_ticket(ticket.id).status != "resolved"
