"""How a rebuild goes through the log (issue 19): each batch's rows are written by a thread
while the next batch is read and its changes made, and the keys of the customers a batch
deciphers are read together. Neither may change what the view ends up holding, nor which
event a failure is blamed on, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from domain.customer import Contact
from infrastructure.crypto import SealedPersonal
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from tests.integration.builders import open_ticket
from tests.integration.sql_trace import counting, observe_connections  # noqa: F401
from tests.integration.test_queue_rebuild_property import erase_customer_of
from tests.integration.test_view_failures import POISON, cure_ticket_list, poison_ticket_list

CUSTOMERS = [Contact(name=f"Cliente {i}", email=f"cliente{i}@example.com") for i in range(6)]


def follower_of(atende, name: str, batch_size: int, view=None) -> ViewFollower:
    view = view if view is not None else atende.views[name]
    return ViewFollower(atende.tickets, VIEWS[name].projection(view=view), batch_size)


def fresh_view(atende, name: str):
    fresh = VIEWS[name].make(atende.db.datastore, suffix="__written_behind")
    fresh.create_table()
    return fresh


def test_a_view_written_behind_in_small_batches_equals_one_applied_batch_by_batch(atende):
    tickets = [open_ticket(atende, contact=CUSTOMERS[i % 3]).ticket.id for i in range(7)]
    atende.tickets.change(tickets[2], lambda t: t.assign("agent-1", None))
    erase_customer_of(atende, tickets[1])
    follower_of(atende, "queue", batch_size=3).catch_up()
    fresh = fresh_view(atende, "queue")

    behind = follower_of(atende, "queue", batch_size=3, view=fresh)
    behind.catch_up(write_behind=True)

    assert fresh.rows() == atende.views["queue"].rows()
    assert len(fresh.rows()) == 7
    head = atende.tickets.head_position()
    assert fresh.max_tracking_id(atende.tickets.name) == head == behind.position()


def test_a_batch_failing_behind_is_blamed_on_its_event_once_the_batches_before_it_are_written(
    atende,
):
    poison_ticket_list(atende)
    before = [open_ticket(atende).ticket.id for _ in range(3)]
    poisoned = open_ticket(atende, external_ref=POISON).ticket.id
    after = [open_ticket(atende).ticket.id for _ in range(3)]
    follower = follower_of(atende, "ticket_list", batch_size=2)

    with pytest.raises(Exception, match="poisoned"):
        follower.catch_up(write_behind=True)

    at = atende.tickets.recorder.position_of(poisoned, 1)
    assert follower.attempting == at
    listed = {row["id"] for row in atende.views["ticket_list"].rows()}
    assert listed == {str(t) for t in before}
    assert follower.position() < at

    cure_ticket_list(atende)
    follower.catch_up(write_behind=True)
    listed = {row["id"] for row in atende.views["ticket_list"].rows()}
    assert listed == {str(t) for t in [*before, poisoned, *after]}
    assert follower.position() == atende.tickets.head_position()


def test_a_batchs_new_customers_keys_are_read_in_one_statement_when_gathering(
    observe_connections,  # noqa: F811
    atende,
):
    tickets = [open_ticket(atende, contact=customer).ticket.id for customer in CUSTOMERS]
    erase_customer_of(atende, tickets[4])
    atende.keys._cache.clear()  # a fresh process: no key read yet
    atende.keys.gather_sighted()
    fresh = fresh_view(atende, "queue")

    with counting() as cost:
        follower_of(atende, "queue", batch_size=100, view=fresh).catch_up()

    key_reads = [s for s in cost.statements if "customer_keys" in s and "erased_at" not in s]
    assert len(key_reads) == 1, key_reads
    names = {row["id"]: row["requester_name"] for row in fresh.rows()}
    assert names[str(tickets[0])] == "Cliente 0"
    assert names[str(tickets[5])] == "Cliente 5"
    assert names[str(tickets[4])] == "[erased]"
    follower_of(atende, "queue", batch_size=100).catch_up()
    assert fresh.rows() == atende.views["queue"].rows()


def test_a_rebuild_in_a_fresh_process_deciphers_what_the_live_view_shows(atende):
    tickets = [open_ticket(atende, contact=customer).ticket.id for customer in CUSTOMERS]
    erase_customer_of(atende, tickets[2])
    follower_of(atende, "queue", batch_size=4).catch_up()
    expected = atende.views["queue"].rows()
    atende.keys._cache.clear()

    rebuild(atende, "queue")

    assert atende.views["queue"].rows() == expected
    names = {row["id"]: row["requester_name"] for row in expected}
    assert names[str(tickets[2])] == "[erased]"
    assert names[str(tickets[3])] == "Cliente 3"


def test_a_sealed_value_altered_in_the_database_fails_only_its_own_read_when_gathering(atende):
    ticket = open_ticket(atende, contact=CUSTOMERS[0]).ticket
    stored = dict(atende.tickets.get_ticket(ticket.id).subject._sealed)
    atende.keys._cache.clear()
    atende.keys.gather_sighted()

    no_owner = SealedPersonal({"ct": stored["ct"]}, atende.keys)
    not_an_id = SealedPersonal({**stored, "owner": "not-a-customer"}, atende.keys)
    intact = SealedPersonal(stored, atende.keys)

    assert intact.text == "Sin internet"
    with pytest.raises(KeyError):
        _ = no_owner.text
    with pytest.raises(ValueError):
        _ = not_an_id.text
