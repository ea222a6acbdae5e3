"""Where API tokens are looked up (issue 20): which token a secret's keyed hash belongs to,
when each token was last used, and the table of tokens issued before tokens were events.

The tokens themselves are ApiToken aggregates in the event log (domain/api_token.py,
application/tokens.py); these tables only find them. A row written here by hand grants
nothing: the token it points at must hold that hash, under a seal only the deployment's
key makes.

The ``api_tokens`` table is what tokens were before (one row per token: id, name, role,
keyed hash and an HMAC seal over them). Its sealed rows are imported into aggregates
once (application.tokens.ApiTokens.import_legacy) and it is no longer written; audit
verify still names any row in it whose seal does not match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from infrastructure.sql import SqlDatabase

SECRETS = "api_token_secrets"
USE = "api_token_use"
LEGACY = "api_tokens"
CREATE = [
    f"CREATE TABLE IF NOT EXISTS {{{SECRETS}}} (token_hash TEXT PRIMARY KEY, "
    "token_id TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS {{{USE}}} (token_id TEXT PRIMARY KEY, "
    "last_used_at DOUBLE PRECISION NOT NULL)",
    # Tokens before they were events: read for the import and by verify, never written.
    f"CREATE TABLE IF NOT EXISTS {{{LEGACY}}} (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL)",
]
SEAL_COLUMN = "ALTER TABLE {t} ADD COLUMN seal TEXT"


@dataclass(frozen=True)
class LegacyToken:
    """A row of the api_tokens table, sealed by Atende, not yet an aggregate."""

    id: str
    name: str
    role: str
    token_hash: str
    created_at: datetime


class SqlTokenIndex:
    def __init__(self, db: SqlDatabase, key: bytes):
        self.db = db
        self._key = key
        self.secrets = db.table(SECRETS)
        self.use = db.table(USE)
        self.legacy = db.table(LEGACY)

    def create_table(self) -> None:
        names = {SECRETS: self.secrets, USE: self.use, LEGACY: self.legacy}
        self.db.create_tables([statement.format(**names) for statement in CREATE])
        with self.db.transaction(commit=True) as cursor:
            if self.db.has_column(cursor, LEGACY, "seal"):
                return
            self.db.execute(cursor, SEAL_COLUMN.format(t=self.legacy))
            self._seal_rows_of_before_seals(cursor)

    def _seal_rows_of_before_seals(self, cursor: Any) -> None:
        # Once, in the transaction that adds the column: tokens issued before seals
        # existed keep working. A row without a seal found later was not written here.
        self.db.execute(cursor, f"SELECT id, name, role, token_hash FROM {self.legacy}")
        rows = [dict(row) for row in cursor.fetchall()]
        for row in rows:
            self.db.execute(
                cursor,
                f"UPDATE {self.legacy} SET seal = :seal WHERE id = :id",
                {"seal": self._legacy_seal(row), "id": row["id"]},
            )

    # The hash -> token index

    def add(self, secret_hash: str, token_id: UUID) -> None:
        self.db.run(
            f"INSERT INTO {self.secrets} (token_hash, token_id) VALUES (:hash, :id) "
            "ON CONFLICT (token_hash) DO NOTHING",
            {"hash": secret_hash, "id": str(token_id)},
        )

    def find(self, hashes: tuple[str, ...]) -> tuple[str, UUID] | None:
        """The first of these hashes that is indexed, and its token's id."""
        marks = ", ".join(f":h{i}" for i in range(len(hashes)))
        row = self.db.fetchone(
            f"SELECT token_hash, token_id FROM {self.secrets} WHERE token_hash IN ({marks})",
            {f"h{i}": h for i, h in enumerate(hashes)},
        )
        if row is None:
            return None
        try:
            return row["token_hash"], UUID(row["token_id"])
        except ValueError:
            return None  # not written by Atende: it grants nothing anyway

    def entries(self) -> list[tuple[str, str]]:
        """Every (hash, token id) row, for verify."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT token_hash, token_id FROM {self.secrets}")
            return [(row["token_hash"], row["token_id"]) for row in cursor.fetchall()]

    def token_ids(self) -> list[UUID]:
        ids = []
        for _, token_id in self.entries():
            try:
                ids.append(UUID(token_id))
            except ValueError:
                continue
        return sorted(set(ids))

    # When each was last used (not an event: a write per use would flood the log)

    def touch(self, token_id: UUID, at: datetime) -> None:
        self.db.run(
            f"INSERT INTO {self.use} (token_id, last_used_at) VALUES (:id, :at) "
            "ON CONFLICT (token_id) DO UPDATE SET last_used_at = excluded.last_used_at",
            {"id": str(token_id), "at": at.timestamp()},
        )

    def last_used(self) -> dict[UUID, datetime]:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT token_id, last_used_at FROM {self.use}")
            rows = cursor.fetchall()
        return {
            UUID(row["token_id"]): datetime.fromtimestamp(row["last_used_at"], UTC) for row in rows
        }

    # Tokens from before tokens were events

    def legacy_tokens(self) -> list[LegacyToken]:
        """The sealed rows of api_tokens whose hash is not indexed yet (not imported)."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(
                cursor,
                f"SELECT l.id, l.name, l.role, l.token_hash, l.created_at, l.seal "
                f"FROM {self.legacy} l LEFT JOIN {self.secrets} s "
                "ON s.token_hash = l.token_hash WHERE s.token_hash IS NULL",
            )
            rows = [dict(row) for row in cursor.fetchall()]
        return [
            LegacyToken(
                id=row["id"],
                name=row["name"],
                role=row["role"],
                token_hash=row["token_hash"],
                created_at=datetime.fromtimestamp(row["created_at"], UTC),
            )
            for row in rows
            if self.is_sealed(row)
        ]

    def is_sealed(self, row: dict) -> bool:
        return row["seal"] is not None and hmac.compare_digest(row["seal"], self._legacy_seal(row))

    def unsealed_rows(self) -> list[str]:
        """Ids of legacy token rows that Atende did not write as they are."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT id, name, role, token_hash, seal FROM {self.legacy}")
            rows = [dict(row) for row in cursor.fetchall()]
        return sorted(row["id"] for row in rows if not self.is_sealed(row))

    def _legacy_seal(self, row: dict) -> str:
        fields = json.dumps([row["id"], row["name"], row["role"], row["token_hash"]])
        return hmac.new(self._key, b"seal:" + fields.encode(), hashlib.sha256).hexdigest()

    def write_legacy_row(self, token_id: str, name: str, role: str, token_hash: str) -> None:
        """A token row as Atende wrote them before tokens were events (for tests of the
        upgrade, and nothing else)."""
        row = {"id": token_id, "name": name, "role": role, "token_hash": token_hash}
        self.db.run(
            f"INSERT INTO {self.legacy} (id, name, role, token_hash, created_at, seal) "
            "VALUES (:id, :name, :role, :token_hash, :now, :seal)",
            {**row, "now": time.time(), "seal": self._legacy_seal(row)},
        )


def token_key(secret_key: bytes) -> bytes:
    """The key that hashes and seals API tokens."""
    return hmac.new(secret_key, b"atende/api-tokens", hashlib.sha256).digest()
