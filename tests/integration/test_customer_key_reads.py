"""A returning customer's key is read, not written: only a customer never seen before
gets a key made (a write under the database's write lock), a key another request made
meanwhile is used, and an erased customer's destroyed key is never made again."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from domain.customer import Contact
from tests.integration.builders import AGENT, open_ticket
from tests.integration.group_commits import transactions_writing_queued
from tests.integration.sql_trace import counting, observe_connections  # noqa: F401

ANA = Contact(name="Ana Souza", email="ana@example.com")


def _key_writes(cost) -> list[str]:
    return [s for s in cost.statements if "INSERT" in s and "customer_keys" in s]


def test_a_returning_customer_whose_key_left_the_cache_is_served_by_a_read(
    observe_connections,  # noqa: F811
    atende,
):
    open_ticket(atende, contact=ANA)
    atende.keys._cache.clear()  # as after KEY_CACHE_SECONDS, or in another worker
    with counting() as cost:
        open_ticket(atende, contact=ANA)
    assert _key_writes(cost) == []


def test_a_new_customer_gets_a_key_made(observe_connections, atende):  # noqa: F811
    with counting() as cost:
        opened = open_ticket(atende, contact=ANA)
    assert len(_key_writes(cost)) == 1
    assert atende.keys.knows(opened.ticket.customer_id)


def test_an_erased_customers_key_is_not_made_again(atende):
    customer = open_ticket(atende, contact=ANA).ticket.customer_id
    atende.eraser.erase(customer, AGENT, "pedido del titular")
    atende.keys._cache.clear()
    assert atende.keys.cipher_for(customer, create=True) is None


def test_a_key_another_request_made_since_this_one_looked_is_used_not_taken_as_erased(
    atende, monkeypatch
):
    # Two first contacts of one customer at once: this one looked before the other's
    # key was committed, and found none.
    customer = open_ticket(atende, contact=ANA).ticket.customer_id
    atende.keys._cache.clear()
    monkeypatch.setattr(atende.keys, "_load", lambda owner: None)
    assert atende.keys.cipher_for(customer, create=True) is not None


def test_first_contacts_waiting_together_share_one_commit_and_agree_on_each_key(atende):
    # Four first contacts queue up behind the process's turn, two of them the same
    # customer: the next turn inserts them in one transaction, and the two of one
    # customer get one key.
    owners = [uuid4(), uuid4(), uuid4()]
    ciphers: dict[int, object] = {}

    def first_contact(i: int, owner) -> Callable[[], None]:
        return lambda: ciphers.__setitem__(i, atende.keys.cipher_for(owner, create=True))

    writers = [first_contact(i, owner) for i, owner in enumerate([*owners, owners[0]])]
    assert transactions_writing_queued(atende.keys._key_inserts, writers) == 1
    assert all(atende.keys.knows(owner) for owner in owners)
    sealed = ciphers[0].encrypt(b"\0" * 12, b"hola", owners[0].bytes)
    assert ciphers[3].decrypt(b"\0" * 12, sealed, owners[0].bytes) == b"hola"  # one key
