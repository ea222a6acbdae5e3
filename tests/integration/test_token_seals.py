"""API tokens against someone who can write the database but holds no secret: a row they
insert or edit authenticates nobody, and audit verify names it. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from typing import Any

from infrastructure.tokens import TokenStore


def _sql(atende, statement: str, params: dict[str, Any] | None = None) -> None:
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement.format(t=atende.db.table("api_tokens")), params)


def _fresh_store(atende) -> TokenStore:
    """Another process: nothing cached."""
    return TokenStore(atende.db, atende.tokens._key)


def _forge(atende, token: str, role: str = "admin") -> None:
    _sql(
        atende,
        "INSERT INTO {t} (id, name, role, token_hash, created_at) "
        "VALUES ('forged', 'mallory', :role, :hash, 0)",
        {"role": role, "hash": hashlib.sha256(token.encode()).hexdigest()},
    )


def test_a_stored_token_hash_is_keyed_not_a_plain_sha256(atende):
    issued = atende.tokens.create(role="agent", name="maria")
    row = atende.db.fetchone(
        f"SELECT token_hash FROM {atende.db.table('api_tokens')} WHERE id = :id",
        {"id": issued.actor.id},
    )
    assert row["token_hash"] != hashlib.sha256(issued.token.encode()).hexdigest()
    assert atende.tokens.authenticate(issued.token) == issued.actor


def test_a_token_row_inserted_by_hand_grants_nothing_and_verify_names_it(atende):
    _forge(atende, "atd_mallory")
    assert _fresh_store(atende).authenticate("atd_mallory") is None
    assert atende.tokens.unsealed_rows() == ["forged"]


def test_raising_a_tokens_role_by_hand_grants_nothing(atende):
    issued = atende.tokens.create(role="agent", name="maria")
    _sql(atende, "UPDATE {t} SET role = 'admin' WHERE id = :id", {"id": issued.actor.id})
    assert _fresh_store(atende).authenticate(issued.token) is None
    assert atende.tokens.unsealed_rows() == [issued.actor.id]


def test_tokens_issued_before_seals_keep_working_after_the_upgrade_and_no_later_row_does(atende):
    _sql(atende, "DELETE FROM {t}")
    _sql(atende, "ALTER TABLE {t} DROP COLUMN seal")  # the table as it was
    _forge(atende, "atd_issued_long_ago", role="integrator")

    upgraded = _fresh_store(atende)
    upgraded.create_table()
    _sql(atende, "DELETE FROM {t} WHERE id = 'forged'")
    # The same plain-hash row written again, after the upgrade, by hand:
    _forge(atende, "atd_issued_long_ago", role="integrator")

    assert _fresh_store(atende).authenticate("atd_issued_long_ago") is None


def test_a_token_issued_before_seals_still_authenticates_after_the_upgrade(atende):
    _sql(atende, "DELETE FROM {t}")
    _sql(atende, "ALTER TABLE {t} DROP COLUMN seal")
    _forge(atende, "atd_issued_long_ago", role="integrator")

    _fresh_store(atende).create_table()

    actor = _fresh_store(atende).authenticate("atd_issued_long_ago")
    assert actor is not None and actor.role == "integrator"
    assert atende.tokens.unsealed_rows() == []
