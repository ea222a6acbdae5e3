"""The access log is bounded on real SQLite and PostgreSQL: rows older than
ATENDE_ACCESS_LOG_RETENTION are purged by the scheduled job (its clock injected)."""

from __future__ import annotations

from datetime import timedelta

import falcon.testing
from apscheduler.schedulers.background import BackgroundScheduler

from infrastructure.access_log import ACCESS_LOG
from infrastructure.retention import (
    RETENTION_INTERVAL,
    add_retention_job,
    purge_access_log,
    purge_expired,
)
from interface.container import Atende
from interface.http.app import create_app
from tests.integration.builders import open_ticket

RETENTION = timedelta(days=400)  # the default


def read_histories(atende: Atende, times: int) -> None:
    """Reads that the access log records, made the way an auditor makes them."""
    token = atende.tokens.create("auditor", "auditoria").token
    client = falcon.testing.TestClient(
        create_app(atende), headers={"Authorization": f"Bearer {token}"}
    )
    ticket_id = open_ticket(atende).ticket.id
    for _ in range(times):
        assert client.simulate_get(f"/v1/tickets/{ticket_id}/history").status_code == 200


def recorded_at(atende: Atende) -> list[float]:
    with atende.access_log.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT at FROM {atende.access_log.db.table(ACCESS_LOG)} ORDER BY at")
        return [row["at"] for row in cursor.fetchall()]


def test_access_log_rows_are_kept_for_their_retention(atende):
    read_histories(atende, 2)
    before = recorded_at(atende)
    assert before
    kept = before[0] + RETENTION.total_seconds() - 1
    assert purge_access_log(atende.access_log, kept, RETENTION) == 0
    assert recorded_at(atende) == before


def test_access_log_rows_older_than_the_retention_are_purged(atende):
    read_histories(atende, 2)
    before = recorded_at(atende)
    expired = before[-1] + RETENTION.total_seconds() + 1
    assert purge_access_log(atende.access_log, expired, RETENTION) == len(before)
    assert recorded_at(atende) == []


def test_the_scheduled_purge_uses_the_configured_access_log_retention(atende):
    read_histories(atende, 1)
    (at,) = recorded_at(atende)
    purge_expired(atende, now=at + RETENTION.total_seconds() - 1)
    assert recorded_at(atende) == [at]
    purge_expired(atende, now=at + RETENTION.total_seconds() + 1)
    assert recorded_at(atende) == []


def test_the_purge_is_scheduled_on_the_projectors_scheduler(atende):
    scheduler = BackgroundScheduler()
    add_retention_job(scheduler, atende)
    job = scheduler.get_job("retention-purge")
    assert job.trigger.interval == RETENTION_INTERVAL
    read_histories(atende, 1)
    job.func()  # now: nothing is old enough to go
    assert len(recorded_at(atende)) == 1
