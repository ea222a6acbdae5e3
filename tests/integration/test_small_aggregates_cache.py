"""Small aggregates (identity claims, SLA timers, policies, calendars, thread keys) are
kept per process and fast-forwarded on every read (TicketApplication.small_aggregates):
what another process changed is seen by the very next command here, never a stale copy;
a command that fails leaves the kept copy as it was; tickets are never kept.

A new ticket reads its requester's claims and the SLA configuration from the kept copies
without asking, and its write checks them under the events table's lock (PostgreSQL) or
the database's write lock (SQLite) (application/assumed_reads.py): the tests of changes
made by another process hold it to the same answers as reads that ask."""

from __future__ import annotations

import pytest

from domain.sla.policy import POLICIES_ID
from infrastructure.ticket_numbers import TABLE as TICKET_NUMBERS
from interface.wiring import bootstrap
from tests.integration.builders import open_ticket
from tests.integration.test_erasure_views_and_identities import CARLA, customer_of, erase
from tests.integration.test_sla import ADMIN, OFFICE, configure


@pytest.fixture
def other_process(settings):
    """A second application on the same database, as another worker process would be."""
    other = bootstrap(settings)
    yield other
    other.close()


def test_a_policy_changed_by_another_process_applies_to_the_next_ticket_opened_here(
    atende, other_process
):
    configure(atende, targets={"first_response": 3600, "resolution": 28800})
    first = open_ticket(atende).ticket.id
    assert atende.tickets.sla.ticket_sla(first).timer("first_response")["target"] == 3600

    configure(other_process, targets={"first_response": 600, "resolution": 7200})
    second = open_ticket(atende).ticket.id

    timers = atende.tickets.sla.ticket_sla(second)
    assert timers.timer("first_response")["target"] == 600
    assert timers.timer("resolution")["target"] == 7200


def test_policies_are_decoded_once_per_version_then_read_as_events_after_it(atende):
    configure(atende)
    open_ticket(atende)
    kept = atende.tickets.small_aggregates.cache.get(POLICIES_ID)
    version = kept.version
    open_ticket(atende)
    assert atende.tickets.small_aggregates.cache.get(POLICIES_ID) is kept

    configure(atende, name="faster", targets={"first_response": 60})
    open_ticket(atende)
    # The kept copy was brought forward with the new version's events, not decoded anew.
    assert atende.tickets.small_aggregates.cache.get(POLICIES_ID) is kept
    assert kept.version > version
    assert [p.name for p in kept.ordered()] == ["faster"]


def test_an_identity_released_by_an_erasure_in_another_process_leads_nowhere_here(
    atende, other_process
):
    customer = open_ticket(atende, contact=CARLA).ticket.customer_id
    assert customer_of(atende, email=CARLA.email) == customer  # now kept here

    erase(other_process, customer)

    assert customer_of(atende, email=CARLA.email) is None
    newcomer = open_ticket(atende, contact=CARLA).ticket.customer_id
    assert newcomer != customer


def test_a_command_that_changes_a_kept_aggregate_and_fails_leaves_the_kept_copy_alone(atende):
    configure(atende)
    ticket = open_ticket(atende).ticket.id
    sla = atende.tickets.sla
    timers = sla.ticket_sla(ticket)
    stored = timers.version
    timers.stop_all(timers.timer("resolution")["started_at"], ADMIN, sla.hours_of)
    assert timers.pending_events  # changed in hand, as a command does before it saves
    # Never saved: the next read is the stored aggregate, not the copy being changed.
    again = sla.ticket_sla(ticket)
    assert again.version == stored and not again.pending_events
    assert again.timer("resolution") == sla.ticket_sla(ticket).timer("resolution")


def test_tickets_are_never_kept_in_the_small_aggregates_cache(atende):
    ticket = open_ticket(atende).ticket.id
    atende.tickets.get_ticket(ticket)
    assert ticket not in atende.tickets.small_aggregates.cache.cache
    assert atende.tickets.repository.cache is None


def test_new_tickets_read_kept_copies_unasked_on_both_databases_whose_writes_check_them(atende):
    assert atende.tickets.recorder.verifies_reads
    assert atende.tickets.assumed_reads.enabled


def test_a_policy_set_made_by_another_process_where_there_was_none_applies_to_the_next_ticket(
    atende, other_process
):
    before = open_ticket(atende).ticket.id  # no policies: kept here as known absent
    assert atende.tickets.sla.ticket_sla(before) is None

    configure(other_process, targets={"first_response": 900, "resolution": 7200})
    after = open_ticket(atende).ticket.id

    assert atende.tickets.sla.ticket_sla(after).timer("first_response")["target"] == 900


def test_a_calendar_changed_by_another_process_is_the_one_the_next_ticket_here_is_timed_on(
    atende, other_process
):
    configure(atende)
    first = atende.tickets.sla.ticket_sla(open_ticket(atende).ticket.id)
    old_version = first.timer("first_response")["calendar_version"]

    other_process.sla_config.put_calendar("main", dict(OFFICE), ADMIN)
    second = atende.tickets.sla.ticket_sla(open_ticket(atende).ticket.id)

    assert second.timer("first_response")["calendar_version"] > old_version


def test_a_ticket_opened_on_a_stale_copy_is_stored_once_with_the_next_number(
    atende, other_process
):
    configure(atende)
    open_ticket(atende)
    configure(other_process, targets={"first_response": 600, "resolution": 7200})

    result = open_ticket(atende)

    with atende.db.reading() as cursor:
        table = atende.db.table(TICKET_NUMBERS)
        atende.db.execute(cursor, f"SELECT number, ticket_id FROM {table}", {})
        numbers = sorted((row["number"], str(row["ticket_id"])) for row in cursor.fetchall())
    assert [n for n, _ in numbers] == [1, 2]  # the refused attempt took no number
    assert numbers[-1][1].replace("-", "") == result.ticket.id.hex
    assert result.number == 2
    stored = atende.tickets.events_after(0, 1000)
    opened = [e.ticket_id for e in stored if e.aggregate_type == "ticket" and e.version == 1]
    assert len(opened) == 2 and opened[-1] == result.ticket.id  # nothing else of the attempt


def test_a_change_made_in_this_process_is_seen_by_its_next_ticket(atende):
    configure(atende, targets={"first_response": 3600})
    open_ticket(atende)
    configure(atende, targets={"first_response": 120})
    ticket = open_ticket(atende).ticket.id
    assert atende.tickets.sla.ticket_sla(ticket).timer("first_response")["target"] == 120
