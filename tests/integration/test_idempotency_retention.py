"""Idempotency keys on real SQLite and PostgreSQL, attacked from the raw table: the stored
fingerprint cannot confirm a guessed request body without the deployment secret, and
rows are purged once their retention is over (the purge takes the clock as an argument)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import falcon.testing
import pytest

from application.idempotency import IdempotencyClaim
from infrastructure.idempotency import TABLE
from infrastructure.retention import purge_expired, purge_idempotency_keys
from interface.container import Atende
from interface.http.app import create_app
from interface.wiring import bootstrap
from tests.databases import fresh_database_url, settings_for

RETENTION = timedelta(hours=24)
OTHER_SECRET = b"another-test-secret-key-32bytes!"
BODY = {
    "subject": "Cobro duplicado de marzo",
    "description": "Me cobraron dos veces la factura.",
    "requester": {"name": "Lucía Prado", "email": "lucia@example.com"},
    "channel": "email",
}


@pytest.fixture
def client(atende: Atende) -> falcon.testing.TestClient:
    return client_for(atende)


def client_for(atende: Atende) -> falcon.testing.TestClient:
    token = atende.tokens.create("integrator", "crm").token
    return falcon.testing.TestClient(
        create_app(atende), headers={"Authorization": f"Bearer {token}"}
    )


def post(client: falcon.testing.TestClient, key: str) -> falcon.testing.Result:
    return client.simulate_post("/v1/tickets", json=BODY, headers={"Idempotency-Key": key})


def rows(atende: Atende) -> list[dict[str, Any]]:
    with atende.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {atende.db.table(TABLE)} ORDER BY key")
        return [dict(row) for row in cursor.fetchall()]


def unkeyed_fingerprint() -> str:
    """What the table stored before fingerprints were keyed: anyone could recompute it
    from a guessed body."""
    body = json.dumps(BODY, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"POST /v1/tickets\n{body}".encode()).hexdigest()


@pytest.fixture
def other_deployment(backend: str, tmp_path) -> Iterator[Atende]:
    """Another database whose deployment secret differs."""
    with fresh_database_url(backend, tmp_path / "other") as url:
        built = bootstrap(replace(settings_for(url), secret_key=OTHER_SECRET))
        yield built
        built.close()


def test_the_stored_fingerprint_is_not_a_plain_hash_of_the_request(atende, client):
    assert post(client, "k-1").status_code == 201
    (row,) = rows(atende)
    assert row["fingerprint"] != unkeyed_fingerprint()
    assert BODY["description"] not in json.dumps(row, default=str)


def test_the_same_request_leaves_different_fingerprints_under_different_secrets(
    atende, client, other_deployment
):
    assert post(client, "k-1").status_code == 201
    assert post(client_for(other_deployment), "k-1").status_code == 201
    (mine,), (theirs,) = rows(atende), rows(other_deployment)
    assert mine["fingerprint"] != theirs["fingerprint"]


def test_a_retry_inside_the_retention_still_replays_after_a_purge(atende, client):
    first = post(client, "k-1")
    (row,) = rows(atende)
    purge_expired(atende, now=row["completed_at"] + RETENTION.total_seconds() - 1)
    again = post(client, "k-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]


def test_a_key_older_than_its_retention_is_purged(atende, client):
    post(client, "k-1")
    (row,) = rows(atende)
    expired = row["completed_at"] + RETENTION.total_seconds() + 1
    assert purge_idempotency_keys(atende.db, expired, RETENTION) == 1
    assert rows(atende) == []


def test_the_retention_is_the_configured_one(atende, client):
    post(client, "k-1")
    (row,) = rows(atende)
    hour_later = row["completed_at"] + 3601
    assert purge_idempotency_keys(atende.db, hour_later, RETENTION) == 0
    assert purge_idempotency_keys(atende.db, hour_later, timedelta(hours=1)) == 1


def test_a_reservation_whose_request_died_is_purged_too(atende):
    fingerprint = atende.idempotency.fingerprint(b"POST /v1/tickets\n{}")
    claim = IdempotencyClaim("crm", "k-dead", fingerprint)
    assert atende.idempotency.reserve(claim) is None
    (row,) = rows(atende)
    assert row["state"] == "in_flight"
    expired = row["started_at"] + RETENTION.total_seconds() + 1
    assert purge_idempotency_keys(atende.db, expired, RETENTION) == 1


def test_a_row_with_the_old_unkeyed_fingerprint_is_refused_not_replayed_and_then_purged(
    atende, client
):
    opened = post(client, "k-1")
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(
            cursor,
            f"UPDATE {atende.db.table(TABLE)} SET fingerprint = :old",
            {"old": unkeyed_fingerprint()},
        )
    retried = post(client, "k-1")
    assert retried.status_code == 422 and "Idempotency-Key" in retried.json["errors"]
    (row,) = rows(atende)
    assert row["resource_id"] == opened.json["id"]
    expired = row["completed_at"] + RETENTION.total_seconds() + 1
    assert purge_idempotency_keys(atende.db, expired, RETENTION) == 1
