"""What the email dispatcher keeps between batches (issue 22's outbox rate), on SQLite and
PostgreSQL: the tickets it writes emails from (TicketApplication.read_ticket) and their
email records (EmailRecords.record_batch) are kept and fast-forwarded, never stale, never
wrong after the store refused a batch, and never a copy of an erased customer's data."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from application.email_records import EmailOutcome, EmailRecords
from application.errors import TicketNotFound
from application.ticket_commands import TicketCommands
from domain.personal import ERASED, Personal
from domain.ticket_email import BOUNCED, DELIVERED
from interface.wiring import bootstrap
from tests.integration.builders import AGENT, open_ticket
from tests.integration.test_erasure_views_and_identities import CARLA, SUBJECT, erase

REPLY = "ticket.message_added"


@pytest.fixture
def other_process(settings):
    """A second application on the same database, as another worker process would be."""
    other = bootstrap(settings)
    yield other
    other.close()


def outcome(ticket, delivery: str, state: str = DELIVERED) -> EmailOutcome:
    answer = Personal(ticket.customer_id, f"250 2.0.0 Ok: queued as {delivery}")
    return EmailOutcome(ticket.id, state, delivery, None, REPLY, answer)


def states(record) -> list[tuple[str, str, int]]:
    return [(d, o["state"], o["attempts"]) for d, o in record.outcomes.items()]


def test_a_kept_email_record_takes_in_what_another_process_recorded_meanwhile(
    atende, other_process
):
    ticket = open_ticket(atende).ticket
    records = atende.email_records
    records.record_batch([outcome(ticket, "d1")])
    # A bounce arrives through a worker: another process writes the same record.
    other_process.email_records.record(
        ticket.id, BOUNCED, "d1", None, REPLY, Personal(ticket.customer_id, "550 5.1.1")
    )
    records.record_batch([outcome(ticket, "d2")])

    stored = other_process.email_records.of_ticket(ticket.id)
    assert states(stored) == [("d1", BOUNCED, 2), ("d2", DELIVERED, 1)]
    assert stored.version == 4  # created, delivered, bounced, delivered
    assert states(records._for_dispatch(ticket.id)) == states(stored)


class RacedApp:
    """The application, but another process saves the same record just before the next
    save here (once): the store refuses that save."""

    def __init__(self, app: Any, race) -> None:
        self._app, self._race = app, race

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def save(self, *aggregates: Any, **kwargs: Any) -> Any:
        race, self._race = self._race, None
        if race is not None:
            race()
        return self._app.save(*aggregates, **kwargs)


def test_a_batch_the_store_refused_is_recorded_one_by_one_and_its_kept_records_read_again(
    atende, other_process
):
    ticket = open_ticket(atende).ticket
    bounce = Personal(ticket.customer_id, "550 5.1.1 no such user")
    app = RacedApp(atende.tickets, None)
    records = EmailRecords(app)
    records.record_batch([outcome(ticket, "d1")])
    app._race = lambda: other_process.email_records.record(
        ticket.id, BOUNCED, "d1", None, REPLY, bounce
    )

    records.record_batch([outcome(ticket, "d2")])
    records.record_batch([outcome(ticket, "d3")])

    stored = other_process.email_records.of_ticket(ticket.id)
    expected = [("d1", BOUNCED, 2), ("d2", DELIVERED, 1), ("d3", DELIVERED, 1)]
    assert states(stored) == expected
    # What the dispatcher keeps is the store's record, not the batch it was refused.
    assert states(records._for_dispatch(ticket.id)) == expected


def test_a_kept_ticket_is_read_as_it_is_now_without_being_decoded_again(atende, other_process):
    ticket_id = open_ticket(atende).ticket.id
    kept = atende.tickets.read_ticket(ticket_id)
    assert kept.status == "new"

    TicketCommands(other_process.tickets).change_priority(ticket_id, priority="urgent", actor=AGENT)

    again = atende.tickets.read_ticket(ticket_id)
    assert again is kept  # brought forward by the events after it, not rebuilt
    assert again.priority == "urgent"
    assert again.version == other_process.tickets.get_ticket(ticket_id).version


def test_a_kept_ticket_of_an_erased_customer_reads_erased(atende):
    ticket = open_ticket(atende, contact=CARLA, subject=SUBJECT).ticket
    kept = atende.tickets.read_ticket(ticket.id)
    assert str(kept.subject) == SUBJECT
    assert str(kept.requester["email"]) == CARLA.email

    erase(atende, ticket.customer_id)

    # The very object kept before the erasure holds no plaintext to outlive it.
    assert str(kept.subject) == ERASED
    assert str(kept.requester["email"]) == ERASED
    assert str(atende.tickets.read_ticket(ticket.id).subject) == ERASED


def test_a_ticket_that_does_not_exist_is_not_found_by_the_dispatchers_read(atende):
    with pytest.raises(TicketNotFound):
        atende.tickets.read_ticket(UUID(int=7))
