"""What actually lands in the database: ciphertext, hashes, atomic side records."""

from __future__ import annotations

import pytest

from application.errors import DuplicateExternalRef
from application.idempotency import IdempotencyClaim
from tests.integration.builders import AGENT, open_ticket


def _raw_rows(atende, table: str) -> str:
    with atende.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {atende.db.table(table)}")
        rows = cursor.fetchall()
    return "\n".join(
        " ".join(
            bytes(v).decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else str(v)
            for v in (row.values() if hasattr(row, "values") else tuple(row))
        )
        for row in rows
    )


def _events_table(atende) -> str:
    return atende.tickets.recorder.events_table_name


def test_no_personal_data_is_stored_in_plain_text(atende):
    tid = open_ticket(atende).ticket.id
    atende.tickets.change(
        tid, lambda t: t.add_message("Mi clave es 1234", "customer", None, "public", None, AGENT)
    )
    raw = _raw_rows(atende, _events_table(atende))
    for secret in ("Sin internet", "El módem", "Ana Souza", "ana@example.com", "Mi clave"):
        assert secret not in raw
    assert "email" in raw  # the structure stays readable; only the values are sealed
    assert atende.tickets.get_ticket(tid).messages[0]["body"].text == "Mi clave es 1234"


def test_customer_keys_are_stored_wrapped_one_per_customer(atende):
    open_ticket(atende)
    open_ticket(atende)
    with atende.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT customer_id, wrapped_key FROM {atende.db.table('customer_keys')}")
        rows = cursor.fetchall()
    assert len(rows) == 1 and len(rows[0]["wrapped_key"]) > 40


def test_only_a_hash_of_a_token_is_stored_and_it_authenticates(atende):
    issued = atende.tokens.create("auditor", "auditoria")
    assert issued.token not in _raw_rows(atende, "api_token_secrets")
    assert issued.token not in _raw_rows(atende, atende.tickets.recorder.events_table_name)
    assert atende.tokens.authenticate(issued.token) == issued.actor
    assert atende.tokens.authenticate(issued.token + "x") is None


def test_an_idempotency_outcome_is_stored_with_the_events_it_belongs_to(atende):
    claim = IdempotencyClaim(principal="crm", key="k-1", fingerprint="f")
    assert atende.idempotency.reserve(claim) is None
    opened = open_ticket(atende, idempotency=claim)
    previous = atende.idempotency.reserve(claim)
    assert previous is not None and not previous.in_flight
    assert (previous.resource_id, previous.version, previous.status) == (opened.ticket.id, 1, 201)


def test_an_in_flight_key_is_reported_and_a_released_one_can_be_reused(atende):
    claim = IdempotencyClaim(principal="crm", key="k-2", fingerprint="f")
    assert atende.idempotency.reserve(claim) is None
    assert atende.idempotency.reserve(claim).in_flight
    atende.idempotency.release(claim)
    assert atende.idempotency.reserve(claim) is None


def test_idempotency_keys_are_scoped_per_principal(atende):
    mine = IdempotencyClaim(principal="crm", key="same", fingerprint="f")
    theirs = IdempotencyClaim(principal="erp", key="same", fingerprint="g")
    assert atende.idempotency.reserve(mine) is None
    assert atende.idempotency.reserve(theirs) is None


def test_a_failed_save_leaves_no_idempotency_outcome(atende):
    open_ticket(atende, external_ref="ref-9")
    claim = IdempotencyClaim(principal="crm", key="k-3", fingerprint="f")
    atende.idempotency.reserve(claim)
    with pytest.raises(DuplicateExternalRef):
        open_ticket(atende, external_ref="ref-9", idempotency=claim)
    assert atende.idempotency.reserve(claim).in_flight


def test_a_write_refused_midway_is_rolled_back_and_the_next_one_lands(atende):
    open_ticket(atende, external_ref="ref-10")
    with pytest.raises(DuplicateExternalRef):
        open_ticket(atende, external_ref="ref-10")
    # Nothing of the refused write stayed: no number taken, no link in the chain.
    second = open_ticket(atende, external_ref="ref-11")
    assert atende.tickets.number_of(second.ticket.id) == 2
    assert atende.audit.verify().ok
