"""API tokens against someone who can write the database but holds no secret: a row they
insert or edit in the table of tokens from before tokens were events authenticates nobody
and audit verify names it; rows Atende wrote there keep working. SQLite and PostgreSQL.
(Tokens as events: test_api_tokens.py.)"""

from __future__ import annotations

import hashlib
from typing import Any

from application.tokens import ApiTokens
from infrastructure.tokens import SqlTokenIndex


def _sql(atende, statement: str, params: dict[str, Any] | None = None) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement.format(t=atende.db.table("api_tokens")), params)


def _restarted(atende) -> ApiTokens:
    """Another process starting: nothing cached, the legacy rows imported."""
    key = atende.tokens._key
    tokens = ApiTokens(atende.tickets, SqlTokenIndex(atende.db, key), key)
    tokens.index.create_table()
    tokens.import_legacy()
    return tokens


def _forge(atende, token: str, role: str = "admin") -> None:
    _sql(
        atende,
        "INSERT INTO {t} (id, name, role, token_hash, created_at) "
        "VALUES ('forged', 'mallory', :role, :hash, 0)",
        {"role": role, "hash": hashlib.sha256(token.encode()).hexdigest()},
    )


def test_a_stored_token_hash_is_keyed_not_a_plain_sha256(atende):
    issued = atende.tokens.create(role="integrator", name="crm")
    (stored,) = atende.tokens.get(issued.record.id).secrets
    assert stored != hashlib.sha256(issued.token.encode()).hexdigest()
    assert stored == atende.tokens._hash(issued.token)
    assert atende.tokens.authenticate(issued.token) == issued.actor


def test_a_token_row_inserted_by_hand_grants_nothing_and_verify_names_it(atende):
    _forge(atende, "atd_mallory")
    assert _restarted(atende).authenticate("atd_mallory") is None
    assert atende.tokens.unsealed_rows() == ["forged"]


def test_raising_a_legacy_tokens_role_by_hand_grants_nothing(atende):
    token = "atd_" + "m" * 43
    row_id = "2b1f0f5e-7d7e-4c1a-8f51-0e4b6e2f9a01"
    atende.tokens.index.write_legacy_row(row_id, "maria", "agent", atende.tokens._hash(token))
    _sql(atende, "UPDATE {t} SET role = 'admin' WHERE id = :id", {"id": row_id})

    assert _restarted(atende).authenticate(token) is None
    assert atende.tokens.unsealed_rows() == [row_id]


def test_a_token_issued_before_seals_still_authenticates_after_the_upgrade(atende):
    _sql(atende, "DELETE FROM {t}")
    _sql(atende, "ALTER TABLE {t} DROP COLUMN seal")  # the table as it was
    _forge(atende, "atd_issued_long_ago", role="integrator")

    actor = _restarted(atende).authenticate("atd_issued_long_ago")

    assert actor is not None and actor.role == "integrator"
    assert atende.tokens.unsealed_rows() == []


def test_a_row_written_by_hand_after_the_upgrade_is_never_imported(atende):
    _sql(atende, "DELETE FROM {t}")
    _sql(atende, "ALTER TABLE {t} DROP COLUMN seal")
    _restarted(atende)  # the upgrade: the seal column, no rows to seal
    _forge(atende, "atd_written_later", role="admin")

    assert _restarted(atende).authenticate("atd_written_later") is None
    assert atende.tokens.list() == []
    assert atende.tokens.unsealed_rows() == ["forged"]
