"""The ticket application on real SQLite and real PostgreSQL (each test runs on both)."""

from __future__ import annotations

import uuid

import pytest

from application.errors import DuplicateExternalRef, TicketNotFound
from domain.ticket import TransitionNotAllowed
from tests.integration.builders import AGENT, INTEGRATOR, open_ticket


def test_an_opened_ticket_reads_back_from_the_event_store(atende):
    opened = open_ticket(atende, tags=["wifi", "wifi"], priority="high", language="pt-BR")
    ticket = atende.tickets.get_ticket(opened.ticket.id)
    assert ticket.subject.text == "Sin internet"
    assert ticket.requester["email"].text == "ana@example.com"
    assert (ticket.status, ticket.priority, ticket.tags) == ("new", "high", ["wifi"])
    assert ticket.language == "pt-BR" and ticket.version == 1


def test_ticket_numbers_count_tickets_from_one_not_positions_in_the_log(atende):
    first = open_ticket(atende)
    second = open_ticket(atende)
    assert first.position > 1  # the requester's identity claim came first
    assert (first.number, second.number) == (1, 2)
    assert atende.tickets.number_of(second.ticket.id) == 2
    assert atende.tickets.ticket_by_number(2) == second.ticket.id


def test_a_command_returns_the_position_of_the_event_it_wrote(atende):
    opened = open_ticket(atende)
    assigned = atende.tickets.change(opened.ticket.id, lambda t: t.assign("a-1", AGENT))
    assert assigned.position == atende.tickets.head_position() > opened.position
    assert assigned.ticket.version == 2 and assigned.number == opened.number


def test_a_command_that_changes_nothing_writes_nothing(atende):
    opened = open_ticket(atende)
    head = atende.tickets.head_position()
    result = atende.tickets.change(opened.ticket.id, lambda t: t.change_priority("normal", AGENT))
    assert result.ticket.version == 1 and result.position == opened.position
    assert atende.tickets.head_position() == head


def test_history_lists_every_event_with_its_actor_in_order(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.assign("a-1", AGENT))
    atende.tickets.change(
        tid, lambda t: t.add_message("hola", "agent", "a-1", "public", None, AGENT)
    )
    history = atende.tickets.history(tid)
    assert [(e.version, e.type) for e in history] == [
        (1, "opened"),
        (2, "assigned"),
        (3, "message_added"),
    ]
    assert [e.actor for e in history] == [INTEGRATOR, AGENT, AGENT]
    assert history[2].data["body"].text == "hola"


def test_the_feed_returns_events_after_a_position(atende):
    a = open_ticket(atende).ticket.id
    b = open_ticket(atende).ticket.id
    atende.tickets.change(a, lambda t: t.assign("x", AGENT))
    feed = atende.tickets.events_after(0, 10)
    assert [(e.ticket_id, e.type) for e in feed] == [
        (None, "claimed"),  # the requester's email, claimed by their customer, with...
        (a, "opened"),  # ...the ticket, in the same transaction
        (b, "opened"),  # the same requester: nothing new to claim
        (a, "assigned"),
    ]
    assert feed[0].aggregate_type == "customer_identity"
    assert atende.tickets.events_after(feed[2].position, 10) == feed[3:]


def test_a_second_ticket_with_the_same_external_ref_is_refused_naming_the_first(atende):
    first = open_ticket(atende, external_ref="crm-1")
    head = atende.tickets.head_position()
    with pytest.raises(DuplicateExternalRef) as refused:
        open_ticket(atende, external_ref="crm-1")
    assert refused.value.ticket_id == first.ticket.id
    assert atende.tickets.head_position() == head


def test_an_unknown_ticket_is_not_found(atende):
    with pytest.raises(TicketNotFound):
        atende.tickets.get_ticket(uuid.uuid4())
    with pytest.raises(TicketNotFound):
        atende.tickets.history(uuid.uuid4())


def test_a_refused_transition_stores_nothing(atende):
    tid = open_ticket(atende).ticket.id
    with pytest.raises(TransitionNotAllowed):
        atende.tickets.change(tid, lambda t: t.close(AGENT))
    assert [e.type for e in atende.tickets.history(tid)] == ["opened"]


def test_a_ticket_reads_as_it_was_at_an_earlier_version(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(tid, lambda t: t.assign("a-1", AGENT))
    atende.tickets.change(tid, lambda t: t.change_status("pending", AGENT))
    earlier = atende.tickets.ticket_result(tid, version=2)
    assert (earlier.ticket.version, earlier.ticket.status) == (2, "open")
    assert earlier.position < atende.tickets.head_position()
