"""Idempotency keys in their own table, completed in the same transaction as the events.

Someone who can write the database but does not hold the deployment secret must not be
able to make a retry replay an answer Atende never gave (another ticket, another
version). Each answered row carries a seal, an HMAC over principal, key, fingerprint,
status and the event it names, under a key derived from the secret: a row edited by hand
is never replayed, and ``unsealed_rows`` names it for ``atende audit verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from application.idempotency import (
    IdempotencyClaim,
    IdempotencyOutcome,
    IdempotencyStore,
    PreviousAttempt,
)
from infrastructure.process_owner import current_owner, owner_is_gone
from infrastructure.sql import SqlDatabase

TABLE = "idempotency_keys"
# A reservation older than this belongs to a request whose worker died (gunicorn
# kills requests after 30 s), so a retry may take it over. A holder on this host that is
# known to be gone is taken over at once (infrastructure.process_owner).
IN_FLIGHT_TIMEOUT_SECONDS = 60.0

CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} ("
    "principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
    "state TEXT NOT NULL, status INTEGER, resource_id TEXT, version INTEGER, "
    "started_at DOUBLE PRECISION NOT NULL, completed_at DOUBLE PRECISION, "
    "owner TEXT, seal TEXT, PRIMARY KEY (principal, key))"
]
# Tables made before owners and seals; rows written then stay unsealed, so they are
# never replayed, and the retention purge removes them.
ADDED_COLUMNS = ("owner", "seal")

_UPSERT_DONE = (
    "INSERT INTO {t} (principal, key, fingerprint, state, status, resource_id, version, "
    "started_at, completed_at, seal) VALUES (:principal, :key, :fingerprint, 'done', "
    ":status, :resource_id, :version, :now, :now, :seal) ON CONFLICT (principal, key) "
    "DO UPDATE SET fingerprint = excluded.fingerprint, state = 'done', "
    "status = excluded.status, resource_id = excluded.resource_id, "
    "version = excluded.version, completed_at = excluded.completed_at, seal = excluded.seal"
)
_RESERVE = (
    "INSERT INTO {t} (principal, key, fingerprint, state, started_at, owner) "
    "VALUES (:principal, :key, :fingerprint, 'in_flight', :now, :owner) "
    "ON CONFLICT (principal, key) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "state = 'in_flight', started_at = excluded.started_at, owner = excluded.owner, "
    "status = NULL, resource_id = NULL, version = NULL, completed_at = NULL, seal = NULL "
    "WHERE ({t}.state = 'in_flight' AND {t}.started_at < :stale) "
    "OR ({t}.state = 'done' AND {t}.completed_at < :expired) RETURNING principal"
)
_TAKE_OVER = (
    "UPDATE {t} SET fingerprint = :fingerprint, started_at = :now, owner = :owner "
    "WHERE principal = :principal AND key = :key AND state = 'in_flight' "
    "AND owner = :gone RETURNING principal"
)


def write_outcome(db: SqlDatabase, cursor: Any, outcome: IdempotencyOutcome) -> None:
    db.execute(cursor, _UPSERT_DONE.format(t=db.table(TABLE)), _outcome_params(outcome))


class SqlIdempotencyStore(IdempotencyStore):
    """Keys remembered for ``retention`` (ATENDE_IDEMPOTENCY_RETENTION), after which a
    key may be used afresh and infrastructure.retention purges its row."""

    def __init__(self, db: SqlDatabase, fingerprint_key: bytes, retention: timedelta):
        self.db = db
        self.t = db.table(TABLE)
        self.fingerprint_key = fingerprint_key
        self.retention = retention

    def fingerprint(self, request: bytes) -> str:
        # Rows written before fingerprints were keyed hold a plain SHA-256: it never
        # equals this, so a retry of such a request is refused, never wrongly replayed.
        return hmac.new(self.fingerprint_key, request, hashlib.sha256).hexdigest()

    def claim(self, principal: str, key: str, request: bytes) -> IdempotencyClaim:
        fingerprint = self.fingerprint(request)
        return IdempotencyClaim(
            principal, key, fingerprint, self._claim_key(principal, key, fingerprint)
        )

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t) for s in CREATE])
        with self.db.transaction(commit=True) as cursor:
            for column in ADDED_COLUMNS:
                if not self.db.has_column(cursor, TABLE, column):
                    self.db.execute(cursor, f"ALTER TABLE {self.t} ADD COLUMN {column} TEXT")

    def reserve(self, claim: IdempotencyClaim) -> PreviousAttempt | None:
        now = time.time()
        params = {**_claim_params(claim), "now": now, "owner": current_owner()}
        reserved = self.db.run(
            _RESERVE.format(t=self.t),
            {
                **params,
                "stale": now - IN_FLIGHT_TIMEOUT_SECONDS,
                "expired": now - self.retention.total_seconds(),
            },
        )
        if reserved is not None:
            return None
        row = self.db.fetchone(
            f"SELECT fingerprint, state, status, resource_id, version, owner, seal "
            f"FROM {self.t} WHERE principal = :principal AND key = :key",
            _claim_params(claim),
        )
        if row is None:  # released meanwhile: the key is free again
            return self.reserve(claim)
        if row["state"] == "in_flight" and owner_is_gone(row["owner"]):
            # Its request died with its process, so it wrote nothing (the outcome is
            # saved with the events): take the key over, unless another retry just did.
            taken = self.db.run(_TAKE_OVER.format(t=self.t), {**params, "gone": row["owner"]})
            if taken is not None:
                return None
        return self._previous(claim, dict(row))

    def _previous(self, claim: IdempotencyClaim, row: dict[str, Any]) -> PreviousAttempt:
        return PreviousAttempt(
            fingerprint=row["fingerprint"],
            in_flight=row["state"] == "in_flight",
            status=row["status"],
            resource_id=UUID(row["resource_id"]) if row["resource_id"] else None,
            version=row["version"],
            sealed=self._is_sealed({**_claim_params(claim), **row}),
        )

    def complete(self, outcome: IdempotencyOutcome) -> None:
        with self.db.transaction(commit=True) as cursor:
            write_outcome(self.db, cursor, outcome)

    def release(self, claim: IdempotencyClaim) -> None:
        self.db.run(
            f"DELETE FROM {self.t} WHERE principal = :principal AND key = :key "
            "AND state = 'in_flight'",
            _claim_params(claim),
        )

    def unsealed_rows(self) -> list[str]:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(
                cursor,
                f"SELECT principal, key, fingerprint, status, resource_id, version, seal "
                f"FROM {self.t} WHERE state <> 'in_flight'",
            )
            rows = [dict(row) for row in cursor.fetchall()]
        return sorted(f"{r['principal']}:{r['key']}" for r in rows if not self._is_sealed(r))

    def _is_sealed(self, row: dict[str, Any]) -> bool:
        if row["seal"] is None or row["status"] is None:
            return False
        key = self._claim_key(row["principal"], row["key"], row["fingerprint"])
        expected = seal(key, row["status"], row["resource_id"], row["version"])
        return hmac.compare_digest(row["seal"], expected)

    def _claim_key(self, principal: str, key: str, fingerprint: str) -> bytes:
        fields = json.dumps(["claim", principal, key, fingerprint]).encode()
        return hmac.new(self.fingerprint_key, fields, hashlib.sha256).digest()


def seal(claim_key: bytes, status: int, resource_id: str | None, version: int | None) -> str:
    """The HMAC binding an answer (status, and the event it names) to its claim's key."""
    fields = json.dumps([int(status), resource_id, version]).encode()
    return hmac.new(claim_key, fields, hashlib.sha256).hexdigest()


def _claim_params(claim: IdempotencyClaim) -> dict[str, Any]:
    return {"principal": claim.principal, "key": claim.key, "fingerprint": claim.fingerprint}


def _outcome_params(outcome: IdempotencyOutcome) -> dict[str, Any]:
    resource_id = str(outcome.resource_id)
    return {
        **_claim_params(outcome.claim),
        "status": outcome.status,
        "resource_id": resource_id,
        "version": outcome.version,
        "now": time.time(),
        "seal": seal(outcome.claim.seal_key, outcome.status, resource_id, outcome.version),
    }
