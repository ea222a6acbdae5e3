"""Retention: rows kept only for a while are deleted once their time is up.

Idempotency keys (ATENDE_IDEMPOTENCY_RETENTION, default 24 h) and the access log
(ATENDE_ACCESS_LOG_RETENTION, default 400 days) would otherwise grow without bound,
and both say something about people: who sent what, who read whose ticket. The
projector's scheduler runs the purge every RETENTION_INTERVAL; each purge is a plain
function of ``now``, so tests choose the clock (Clarification 11).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from infrastructure.access_log import AccessLog
from infrastructure.idempotency import TABLE as IDEMPOTENCY_KEYS
from infrastructure.sql import SqlDatabase

# How often the purge runs: rows outlive their retention by at most this much.
RETENTION_INTERVAL = timedelta(hours=1)
log = logging.getLogger("atende.retention")


def purge_idempotency_keys(db: SqlDatabase, now: float, retention: timedelta) -> int:
    """Delete the keys answered (or, for requests that died, reserved) longer than
    ``retention`` before ``now``; returns how many."""
    return _delete(
        db,
        f"DELETE FROM {db.table(IDEMPOTENCY_KEYS)} "
        "WHERE COALESCE(completed_at, started_at) < :cutoff",
        now - retention.total_seconds(),
    )


def purge_access_log(access_log: AccessLog, now: float, retention: timedelta) -> int:
    """Delete the access-log rows recorded longer than ``retention`` before ``now``,
    leaving the sealed watermark that keeps the rest of the chain verifiable."""
    return access_log.purge(now - retention.total_seconds())


def _delete(db: SqlDatabase, statement: str, cutoff: float) -> int:
    with db.transaction(commit=True) as cursor:
        db.execute(cursor, statement, {"cutoff": cutoff})
        return db.rowcount(cursor)


def purge_expired(atende: Any, now: float) -> None:
    """Every purge, as the scheduled job runs them."""
    settings = atende.settings
    keys = purge_idempotency_keys(atende.db, now, settings.idempotency_retention)
    reads = purge_access_log(atende.access_log, now, settings.access_log_retention)
    if keys or reads:
        log.info("retention: %s idempotency keys and %s access-log rows purged", keys, reads)


def add_retention_job(scheduler: Any, atende: Any) -> None:
    """Purge expired rows every RETENTION_INTERVAL on the projector's follow-up scheduler."""

    def purge() -> None:
        try:
            purge_expired(atende, time.time())
        except Exception:  # logged; the next interval tries again
            log.exception("retention purge failed")

    scheduler.add_job(
        purge, "interval", seconds=RETENTION_INTERVAL.total_seconds(),
        id="retention-purge", coalesce=True, max_instances=1,
    )  # fmt: skip
