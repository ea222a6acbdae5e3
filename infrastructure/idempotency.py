"""Idempotency keys in their own table, completed in the same transaction as the events."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from application.idempotency import (
    IdempotencyClaim,
    IdempotencyOutcome,
    IdempotencyStore,
    PreviousAttempt,
)
from infrastructure.sql import SqlDatabase

TABLE = "idempotency_keys"
# A reservation older than this belongs to a request whose worker died (gunicorn
# kills requests after 30 s), so a retry may take it over.
IN_FLIGHT_TIMEOUT_SECONDS = 60.0
# Keys are remembered this long, like the hosted APIs that popularised them.
RETENTION_SECONDS = 24 * 3600.0

CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} ("
    "principal TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, "
    "state TEXT NOT NULL, status INTEGER, resource_id TEXT, version INTEGER, "
    "started_at DOUBLE PRECISION NOT NULL, completed_at DOUBLE PRECISION, "
    "PRIMARY KEY (principal, key))"
]

_UPSERT_DONE = (
    "INSERT INTO {t} (principal, key, fingerprint, state, status, resource_id, version, "
    "started_at, completed_at) VALUES (:principal, :key, :fingerprint, 'done', :status, "
    ":resource_id, :version, :now, :now) ON CONFLICT (principal, key) DO UPDATE SET "
    "fingerprint = excluded.fingerprint, state = 'done', status = excluded.status, "
    "resource_id = excluded.resource_id, version = excluded.version, "
    "completed_at = excluded.completed_at"
)


def write_outcome(db: SqlDatabase, cursor: Any, outcome: IdempotencyOutcome) -> None:
    db.execute(cursor, _UPSERT_DONE.format(t=db.table(TABLE)), _outcome_params(outcome))


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, db: SqlDatabase):
        self.db = db
        self.t = db.table(TABLE)

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t) for s in CREATE])

    def reserve(self, claim: IdempotencyClaim) -> PreviousAttempt | None:
        now = time.time()
        reserved = self.db.run(
            f"INSERT INTO {self.t} (principal, key, fingerprint, state, started_at) "
            "VALUES (:principal, :key, :fingerprint, 'in_flight', :now) "
            "ON CONFLICT (principal, key) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "state = 'in_flight', started_at = excluded.started_at, completed_at = NULL "
            f"WHERE ({self.t}.state = 'in_flight' AND {self.t}.started_at < :stale) "
            f"OR ({self.t}.state = 'done' AND {self.t}.completed_at < :expired) "
            "RETURNING principal",
            {
                **_claim_params(claim),
                "now": now,
                "stale": now - IN_FLIGHT_TIMEOUT_SECONDS,
                "expired": now - RETENTION_SECONDS,
            },
        )
        if reserved is not None:
            return None
        row = self.db.fetchone(
            f"SELECT fingerprint, state, status, resource_id, version FROM {self.t} "
            "WHERE principal = :principal AND key = :key",
            _claim_params(claim),
        )
        return PreviousAttempt(
            fingerprint=row["fingerprint"],
            in_flight=row["state"] == "in_flight",
            status=row["status"],
            resource_id=UUID(row["resource_id"]) if row["resource_id"] else None,
            version=row["version"],
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


def _claim_params(claim: IdempotencyClaim) -> dict[str, Any]:
    return {"principal": claim.principal, "key": claim.key, "fingerprint": claim.fingerprint}


def _outcome_params(outcome: IdempotencyOutcome) -> dict[str, Any]:
    return {
        **_claim_params(outcome.claim),
        "status": outcome.status,
        "resource_id": str(outcome.resource_id),
        "version": outcome.version,
        "now": time.time(),
    }
