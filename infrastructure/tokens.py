"""Bearer tokens: random secrets handed out once; only a keyed hash of each is stored.

Someone who can write the database but does not hold the deployment secret must not be
able to mint a token or raise one's role. So the stored hash is an HMAC (a row for a token
of the attacker's choosing cannot be computed), and every row carries a seal, an HMAC over
its id, name, role and hash: a row inserted or edited by hand fails it, authenticates
nobody, and `atende audit verify` names it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from domain.actor import ROLES, Actor
from infrastructure.sql import SqlDatabase

TABLE = "api_tokens"
CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL)"
]
SEAL_COLUMN = "ALTER TABLE {t} ADD COLUMN seal TEXT"
# Successful look-ups are cached per process so authentication costs no query per request.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class IssuedToken:
    token: str
    actor: Actor


class TokenStore:
    def __init__(self, db: SqlDatabase, key: bytes):
        self.db = db
        self.t = db.table(TABLE)
        self._key = key
        self._cache: dict[str, tuple[float, Actor]] = {}

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t) for s in CREATE])
        with self.db.transaction(commit=True) as cursor:
            if self.db.has_column(cursor, TABLE, "seal"):
                return
            self.db.execute(cursor, SEAL_COLUMN.format(t=self.t))
            self._seal_rows_of_before_seals(cursor)

    def _seal_rows_of_before_seals(self, cursor: Any) -> None:
        # Once, in the transaction that adds the column: tokens issued before seals
        # existed keep working. A row without a seal found later was not written here.
        self.db.execute(cursor, f"SELECT id, name, role, token_hash FROM {self.t}")
        rows = [dict(row) for row in cursor.fetchall()]
        for row in rows:
            self.db.execute(
                cursor,
                f"UPDATE {self.t} SET seal = :seal WHERE id = :id",
                {"seal": self._seal(row), "id": row["id"]},
            )

    def create(self, role: str, name: str) -> IssuedToken:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        token = "atd_" + secrets.token_urlsafe(32)
        actor = Actor(id=str(uuid.uuid4()), name=name, role=role)
        row = {"id": actor.id, "name": name, "role": role, "token_hash": self._hash(token)}
        self.db.run(
            f"INSERT INTO {self.t} (id, name, role, token_hash, created_at, seal) "
            "VALUES (:id, :name, :role, :token_hash, :now, :seal)",
            {**row, "now": time.time(), "seal": self._seal(row)},
        )
        return IssuedToken(token=token, actor=actor)

    def authenticate(self, token: str) -> Actor | None:
        digest = self._hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # Tokens issued before keyed hashes are stored by their plain SHA-256.
        row = self.db.fetchone(
            f"SELECT id, name, role, token_hash, seal FROM {self.t} "
            "WHERE token_hash IN (:keyed, :plain)",
            {"keyed": digest, "plain": _plain_hash(token)},
        )
        if row is None or not self.is_sealed(dict(row)):
            return None
        actor = Actor(id=row["id"], name=row["name"], role=row["role"])
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, actor)
        return actor

    def is_sealed(self, row: dict) -> bool:
        return row["seal"] is not None and hmac.compare_digest(row["seal"], self._seal(row))

    def unsealed_rows(self) -> list[str]:
        """Ids of token rows that Atende did not write as they are (for audit verify)."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT id, name, role, token_hash, seal FROM {self.t}")
            rows = [dict(row) for row in cursor.fetchall()]
        return sorted(row["id"] for row in rows if not self.is_sealed(row))

    def _hash(self, token: str) -> str:
        # Tokens carry 256 bits of randomness, so one HMAC is enough (no password KDF).
        return hmac.new(self._key, b"hash:" + token.encode(), hashlib.sha256).hexdigest()

    def _seal(self, row: dict) -> str:
        fields = json.dumps([row["id"], row["name"], row["role"], row["token_hash"]])
        return hmac.new(self._key, b"seal:" + fields.encode(), hashlib.sha256).hexdigest()


def _plain_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(secret_key: bytes) -> bytes:
    """The key that hashes and seals API tokens."""
    return hmac.new(secret_key, b"atende/api-tokens", hashlib.sha256).digest()
