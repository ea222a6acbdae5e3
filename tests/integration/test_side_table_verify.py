"""audit verify covers the side tables that change who may do what and what Atende
serves: a token row written by hand, a customer key destroyed without an erasure event.
SQLite and PostgreSQL, attacked through raw SQL."""

from __future__ import annotations

from infrastructure.crypto import TABLE as KEYS
from infrastructure.projector import ViewFollower
from infrastructure.views.registry import VIEWS
from tests.integration.builders import AGENT, open_ticket


def _sql(atende, statement: str, params: dict | None = None) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement, params)


def test_a_token_row_written_by_hand_is_named_by_verify(atende):
    open_ticket(atende)
    _sql(atende, f"INSERT INTO {atende.db.table('api_tokens')} (id, name, role, token_hash, "
                 "created_at) VALUES ('forged', 'mallory', 'admin', 'ab', 0)")  # fmt: skip
    report = atende.audit.verify()
    assert not report.ok
    assert "API token forged" in report.first_break.reason


def test_a_key_destroyed_by_hand_is_a_silent_erasure_named_by_verify(atende):
    customer = open_ticket(atende).ticket.customer_id
    _sql(atende, f"UPDATE {atende.db.table(KEYS)} SET wrapped_key = NULL WHERE customer_id = :id",
         {"id": customer.hex})  # fmt: skip
    report = atende.audit.verify()
    assert not report.ok
    assert "silent erasure" in report.first_break.reason
    assert report.first_break.aggregate_id == customer


def test_a_real_erasure_verifies(atende):
    customer = open_ticket(atende).ticket.customer_id
    atende.eraser.erase(customer, AGENT)
    assert atende.audit.verify().ok


def test_an_idempotency_answer_written_by_hand_is_named_by_verify(atende):
    ticket = open_ticket(atende).ticket
    _sql(atende, f"INSERT INTO {atende.db.table('idempotency_keys')} (principal, key, "
                 "fingerprint, state, status, resource_id, version, started_at, completed_at) "
                 "VALUES ('p', 'k', 'f', 'done', 201, :tid, 1, 0, 0)",
         {"tid": str(ticket.id)})  # fmt: skip
    report = atende.audit.verify()
    assert not report.ok
    assert "idempotency answer p:k" in report.first_break.reason


def test_a_key_row_deleted_by_hand_is_named_by_verify(atende):
    result = open_ticket(atende)
    ViewFollower(atende.tickets, VIEWS["ticket_list"].projection(
        view=atende.views["ticket_list"])).catch_up()  # fmt: skip
    _sql(atende, f"DELETE FROM {atende.db.table(KEYS)} WHERE customer_id = :id",
         {"id": result.ticket.customer_id.hex})  # fmt: skip
    report = atende.audit.verify()
    assert not report.ok
    assert "key row missing" in report.first_break.reason
