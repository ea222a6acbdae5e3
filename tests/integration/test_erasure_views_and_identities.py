"""Erasure against someone reading the raw storage, on SQLite and PostgreSQL: no view
table keeps a copy of the erased customer's personal data, and none of their former
identities (email, phone, social handle, external id) leads to them any more."""

from __future__ import annotations

from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.customer import Contact, CustomerIdentity, identity_id
from domain.erasure import CustomerErasure
from domain.personal import ERASED, Personal
from domain.ticket import Ticket
from infrastructure.projector import ViewFollower
from infrastructure.views.registry import VIEWS
from tests.integration.builders import AGENT, INTEGRATOR, open_ticket

CARLA = Contact(
    name="Carla Borrada",
    email="carla.borrada@example.com",
    phone="+54 11 4444-0101",
    handle="twitter:@carlaborrada",
    external_id="crm-carla-0101",
)
SUBJECT = "Mi router en Calle Falsa 123"


def catch_up(atende, *names: str) -> None:
    for name in names or tuple(VIEWS):
        ViewFollower(atende.tickets, VIEWS[name].projection(view=atende.views[name])).catch_up()


def erase(atende, customer_id: UUID) -> int:
    # As the HTTP resource does: the erasure names the tickets the list has seen.
    catch_up(atende, "ticket_list")
    return atende.eraser.erase(customer_id, AGENT, "pedido del titular").position


def raw_view_text(atende) -> str:
    """Every row of every view table, as the database returns it to raw SQL."""
    texts = []
    for name in VIEWS:
        for table in atende.views[name].owned_tables():
            with atende.db.reading() as cursor:
                atende.db.execute(cursor, f"SELECT * FROM {table}", {})
                texts.extend(repr(dict(row)) for row in cursor.fetchall())
    return "\n".join(texts)


def customer_of(atende, **identity: str) -> UUID | None:
    return atende.tickets.customers.customer_of(Contact(name="-", **identity))


def test_no_view_table_keeps_the_erased_customers_name_or_subject(atende):
    opened = open_ticket(atende, subject=SUBJECT, contact=CARLA)
    catch_up(atende)
    assert CARLA.name in raw_view_text(atende) and "Calle Falsa" in raw_view_text(atende)

    erase(atende, opened.ticket.customer_id)
    catch_up(atende)

    raw = raw_view_text(atende)
    for secret in (CARLA.name, "Calle Falsa", "calle falsa", CARLA.email, "4444"):
        assert secret not in raw
    [row] = [r for r in atende.views["queue"].rows() if r["id"] == str(opened.ticket.id)]
    assert row["requester_name"] == row["subject"] == ERASED


def test_other_customers_keep_their_names_in_the_queue(atende):
    erased = open_ticket(atende, contact=CARLA)
    kept = open_ticket(atende, contact=Contact(name="Rui Presente", email="rui@example.com"))
    catch_up(atende, "queue")  # the live queue has shown both names
    erase(atende, erased.ticket.customer_id)
    catch_up(atende, "queue")
    names = {r["id"]: r["requester_name"] for r in atende.views["queue"].rows()}
    assert names == {str(erased.ticket.id): ERASED, str(kept.ticket.id): "Rui Presente"}


def test_no_former_identity_of_an_erased_customer_leads_to_anyone(atende):
    customer = open_ticket(atende, contact=CARLA).ticket.customer_id
    identities = dict(
        email=CARLA.email, phone=CARLA.phone, handle=CARLA.handle, external_id=CARLA.external_id
    )
    for kind, value in identities.items():
        assert customer_of(atende, **{kind: value}) == customer

    erase(atende, customer)

    for kind, value in identities.items():
        assert customer_of(atende, **{kind: value}) is None, kind
    # Spelled otherwise, the address is still the same identity.
    assert customer_of(atende, email="  Carla.Borrada@EXAMPLE.com ") is None


def test_the_claims_are_released_in_the_erasures_own_transaction(atende):
    customer = open_ticket(atende, contact=CARLA).ticket.customer_id
    position = erase(atende, customer)
    recorder = atende.tickets.recorder
    written = recorder.select_notifications(start=position - 4, limit=5)
    assert [n.topic.split(":")[-1] for n in written] == [
        *["CustomerIdentity.Released"] * 4,
        "CustomerErasure.Erased",
    ]
    # One transaction: consecutive positions, and the erasure is the head.
    assert [n.id for n in written] == list(range(position - 4, position + 1))
    assert atende.tickets.head_position() == position


def test_an_identity_another_customer_claimed_first_stays_theirs(atende):
    rui = open_ticket(atende, contact=Contact(name="Rui", phone=CARLA.phone)).ticket.customer_id
    carla = open_ticket(atende, contact=Contact(name="Carla", email=CARLA.email)).ticket
    # Carla writes again giving Rui's phone: the ticket carries it, the claim stays Rui's.
    both = Contact(name="Carla", email=CARLA.email, phone=CARLA.phone)
    assert open_ticket(atende, contact=both).ticket.customer_id == carla.customer_id

    erase(atende, carla.customer_id)

    assert customer_of(atende, email=CARLA.email) is None
    assert customer_of(atende, phone=CARLA.phone) == rui


def test_the_same_email_after_erasure_is_a_new_customer_with_a_fresh_id(atende):
    first = open_ticket(atende, contact=CARLA).ticket
    erase(atende, first.customer_id)

    again = open_ticket(atende, contact=Contact(name="Carla Otra Vez", email=CARLA.email))

    newcomer = again.ticket.customer_id
    assert newcomer != first.customer_id
    assert customer_of(atende, email=CARLA.email) == newcomer
    # A fresh key: the new ticket reads, the old one stays erased.
    reread = atende.tickets.get_ticket(again.ticket.id)
    assert reread.requester["name"].text == "Carla Otra Vez"
    assert atende.tickets.get_ticket(first.id).requester["name"].text == ERASED
    catch_up(atende, "ticket_list")
    assert atende.views["ticket_list"].ticket_ids_of(newcomer) == [again.ticket.id]
    # The identities the newcomer did not give stay released.
    assert customer_of(atende, phone=CARLA.phone) is None


def open_unclaimed_ticket(atende) -> UUID:
    """A ticket saved without identity claims, as tickets were before claims existed."""
    owner = CARLA.customer_id(atende.tickets.customer_namespace)
    ticket = Ticket(
        subject=Personal(owner, SUBJECT),
        description=Personal(owner, "sin claims"),
        requester=CARLA.as_personal(owner),
        customer_id=owner,
        channel="email",
        language="es",
        priority="normal",
        category=None,
        tags=[],
        external_ref=None,
        actor=INTEGRATOR,
    )
    atende.tickets.save_ticket(ticket, INTEGRATOR, None)
    return owner


def test_a_ticket_from_before_identities_were_claimed_stops_resolving_after_erasure(atende):
    owner = open_unclaimed_ticket(atende)
    assert customer_of(atende, email=CARLA.email) == owner

    erase(atende, owner)

    assert customer_of(atende, email=CARLA.email) is None
    again = open_ticket(atende, contact=Contact(name="Carla", email=CARLA.email))
    assert again.ticket.customer_id != owner


def test_a_released_claim_replays_as_released(atende):
    customer = open_ticket(atende, contact=CARLA).ticket.customer_id
    erase(atende, customer)
    namespace = atende.tickets.customer_namespace
    claim = atende.tickets.repository.get(identity_id(namespace, "email", CARLA.email))
    assert isinstance(claim, CustomerIdentity)
    assert (claim.released, claim.owner, claim.customer_id) == (True, None, customer)


def test_an_identity_claimed_under_the_erasure_leaves_neither_released_nor_erased(atende):
    owner = open_unclaimed_ticket(atende)
    released = atende.tickets.customers.release(owner, [CARLA])
    # A first contact claims the address between the erasure's read and its write.
    open_ticket(atende, contact=Contact(name="Carla", email=CARLA.email))
    head = atende.tickets.head_position()

    erasure = CustomerErasure.record(owner, [], AGENT, None)
    with pytest.raises(IntegrityError):
        atende.tickets.save(*released, erasure, erase_key_of=owner)

    assert atende.tickets.head_position() == head
    assert atende.eraser.find(owner) is None
    assert customer_of(atende, email=CARLA.email) == owner
    key = atende.db.fetchone(
        f"SELECT wrapped_key FROM {atende.db.table('customer_keys')} WHERE customer_id = :id",
        {"id": owner.hex},
    )
    assert key["wrapped_key"] is not None  # the key was not destroyed either


def test_resolving_a_released_identity_leaves_the_cached_claim_released_until_saved(atende):
    """Claims are read from the cache uncopied; reclaiming a released one must copy it
    first, or a resolution that is never saved (a refused ticket) would leave the cache
    saying the identity is owned again."""
    customer = open_ticket(atende, contact=CARLA).ticket.customer_id
    erase(atende, customer)
    namespace = atende.tickets.customer_namespace
    claim_id = identity_id(namespace, "email", CARLA.email)
    directory = atende.tickets.customers

    newcomer, changed = directory.resolve(CARLA)  # not saved

    assert newcomer != customer and [c.id for c in changed if c.id == claim_id]
    cached = atende.tickets.small_aggregates.get(claim_id, deepcopy_from_cache=False)
    assert (cached.released, cached.owner) == (True, None)
    assert directory.customer_of(CARLA) is None  # still released
