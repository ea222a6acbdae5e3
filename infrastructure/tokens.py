"""Bearer tokens: random secrets handed out once; only their SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from domain.actor import ROLES, Actor
from infrastructure.sql import SqlDatabase

TABLE = "api_tokens"
CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL)"
]
# Successful look-ups are cached per process so authentication costs no query per request.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class IssuedToken:
    token: str
    actor: Actor


class TokenStore:
    def __init__(self, db: SqlDatabase):
        self.db = db
        self.t = db.table(TABLE)
        self._cache: dict[str, tuple[float, Actor]] = {}

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t) for s in CREATE])

    def create(self, role: str, name: str) -> IssuedToken:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        token = "atd_" + secrets.token_urlsafe(32)
        actor = Actor(id=str(uuid.uuid4()), name=name, role=role)
        self.db.run(
            f"INSERT INTO {self.t} (id, name, role, token_hash, created_at) "
            "VALUES (:id, :name, :role, :hash, :now)",
            {"id": actor.id, "name": name, "role": role, "hash": _hash(token), "now": time.time()},
        )
        return IssuedToken(token=token, actor=actor)

    def authenticate(self, token: str) -> Actor | None:
        digest = _hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        row = self.db.fetchone(
            f"SELECT id, name, role FROM {self.t} WHERE token_hash = :hash", {"hash": digest}
        )
        if row is None:
            return None
        actor = Actor(id=row["id"], name=row["name"], role=row["role"])
        self._cache[digest] = (time.monotonic() + CACHE_SECONDS, actor)
        return actor


def _hash(token: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough (no password KDF).
    return hashlib.sha256(token.encode()).hexdigest()
