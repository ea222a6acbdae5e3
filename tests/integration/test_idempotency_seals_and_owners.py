"""Idempotency rows on real SQLite and PostgreSQL, attacked from the raw table: a row
edited, copied or unsealed is never replayed (audit verify can list it), and a key whose
request died with its process is taken over at once, not after the in-flight timeout.
Every POST the README promises it for honours Idempotency-Key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from typing import Any

import falcon.testing
import pytest

from application.idempotency import IdempotencyOutcome
from infrastructure.idempotency import TABLE
from infrastructure.process_owner import host_identity
from interface.container import Atende
from interface.http.app import create_app
from tests.integration.test_surveys_and_follow_up import caught_up, work

TICKET = {
    "subject": "Cobro duplicado de marzo",
    "description": "Me cobraron dos veces la factura.",
    "requester": {"name": "Lucía Prado", "email": "lucia@example.com"},
    "channel": "email",
}
AGENT = {"name": "Marta Ruiz", "email": "marta@example.com", "languages": ["es"]}
EMAIL = (
    b"From: Ana Souza <ana@example.com>\r\nTo: help@example.com\r\n"
    b"Subject: Sem acesso\r\n\r\nNao consigo entrar na minha conta.\r\n"
)


@pytest.fixture
def client(atende: Atende) -> falcon.testing.TestClient:
    issued = atende.tokens.create("admin", "ops")
    client = falcon.testing.TestClient(
        create_app(atende), headers={"Authorization": f"Bearer {issued.token}"}
    )
    client.principal = issued.actor.id
    return client


def post(client, path: str, key: str | None = None, **kwargs: Any) -> falcon.testing.Result:
    headers = {"Idempotency-Key": key} if key else {}
    return client.simulate_post(path, headers=headers, **kwargs)


def raw(atende: Atende, statement: str, **params: Any) -> list[dict[str, Any]]:
    """The attacker's SQL on the idempotency table."""
    with atende.db.transaction(commit=True) as cursor:
        atende.db.execute(cursor, statement.format(t=atende.db.table(TABLE)), params)
        return [dict(r) for r in cursor.fetchall()] if statement.startswith("SELECT") else []


def event_count(atende: Atende) -> int:
    return atende.tickets.head_position()


# Seals: an answer is replayed only as Atende wrote it


def test_a_retry_replays_the_sealed_answer_and_verify_finds_nothing_wrong(atende, client):
    first = post(client, "/v1/tickets", "k-1", json=TICKET)
    again = post(client, "/v1/tickets", "k-1", json=TICKET)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert atende.idempotency.unsealed_rows() == []


def test_a_row_edited_to_name_another_ticket_is_not_replayed(atende, client):
    mine = post(client, "/v1/tickets", "k-1", json=TICKET).json
    other = post(client, "/v1/tickets", json={**TICKET, "subject": "Otro"}).json
    raw(atende, "UPDATE {t} SET resource_id = :other", other=other["id"])
    again = post(client, "/v1/tickets", "k-1", json=TICKET)
    assert again.status_code == 409
    assert again.json["type"] == "urn:atende:problem:idempotency-record-invalid"
    assert other["id"] not in again.text and mine["id"] not in again.text
    assert atende.idempotency.unsealed_rows() == [f"{client.principal}:k-1"]


def test_a_row_moved_to_another_version_or_status_is_not_replayed(atende, client):
    post(client, "/v1/tickets", "k-1", json=TICKET)
    post(client, "/v1/tickets", "k-2", json=TICKET)
    raw(atende, "UPDATE {t} SET version = version + 1 WHERE key = 'k-1'")
    raw(atende, "UPDATE {t} SET status = 200 WHERE key = 'k-2'")
    assert post(client, "/v1/tickets", "k-1", json=TICKET).status_code == 409
    assert post(client, "/v1/tickets", "k-2", json=TICKET).status_code == 409
    assert len(atende.idempotency.unsealed_rows()) == 2


def test_a_sealed_row_copied_to_another_key_is_not_replayed(atende, client):
    post(client, "/v1/tickets", "k-1", json=TICKET)
    raw(
        atende,
        "INSERT INTO {t} (principal, key, fingerprint, state, status, resource_id, version, "
        "started_at, completed_at, owner, seal) SELECT principal, 'k-copy', fingerprint, state, "
        "status, resource_id, version, started_at, completed_at, owner, seal FROM {t}",
    )
    copied = post(client, "/v1/tickets", "k-copy", json=TICKET)
    assert copied.status_code == 409
    assert "k-copy" in "".join(atende.idempotency.unsealed_rows())


def test_a_row_without_a_seal_is_never_replayed(atende, client):
    """Rows written before seals existed are refused the same way (the purge removes them)."""
    post(client, "/v1/tickets", "k-1", json=TICKET)
    raw(atende, "UPDATE {t} SET seal = NULL")
    before = event_count(atende)
    assert post(client, "/v1/tickets", "k-1", json=TICKET).status_code == 409
    assert event_count(atende) == before
    assert len(atende.idempotency.unsealed_rows()) == 1


def test_a_sealed_row_naming_an_event_that_is_not_in_the_log_is_refused(atende, client):
    request = (
        b"POST /v1/tickets\n" + json.dumps(TICKET, sort_keys=True, separators=(",", ":")).encode()
    )
    claim = atende.idempotency.claim(client.principal, "k-ghost", request)
    atende.idempotency.complete(IdempotencyOutcome(claim, 201, uuid.uuid4(), 1))
    refused = post(client, "/v1/tickets", "k-ghost", json=TICKET)
    assert refused.status_code == 409
    assert refused.json["type"] == "urn:atende:problem:idempotency-record-invalid"


# Owners: a reservation whose process is gone is taken over at once

HOLDER = textwrap.dedent(
    """
    import sys, time
    from interface.wiring import bootstrap
    from tests.databases import settings_for
    atende = bootstrap(settings_for(sys.argv[1]))
    claim = atende.idempotency.claim("crm", "k-held", b"POST /v1/tickets\\n{}")
    assert atende.idempotency.reserve(claim) is None
    print("reserved", flush=True)
    time.sleep(120)
    """
)


@pytest.fixture
def holder(settings):
    """A real process that reserves a key and then hangs, as a request does mid-way."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, settings.database_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    assert process.stdout.readline().strip() == "reserved"
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def held_claim(atende: Atende):
    return atende.idempotency.claim("crm", "k-held", b"POST /v1/tickets\n{}")


def test_a_key_held_by_a_live_process_stays_in_flight(atende, holder):
    assert atende.idempotency.reserve(held_claim(atende)).in_flight


def test_a_key_held_by_a_killed_process_is_taken_over_at_once(atende, holder):
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert atende.idempotency.reserve(held_claim(atende)) is None
    (row,) = raw(atende, "SELECT owner FROM {t}")
    assert json.loads(row["owner"])[1] == os.getpid()


def test_a_key_whose_pid_now_runs_another_process_is_taken_over(atende):
    claim = held_claim(atende)
    assert atende.idempotency.reserve(claim) is None
    # This process's pid, but a start time it never had: the holder died, the pid was reused.
    reused = json.dumps([host_identity(), os.getpid(), "1"])
    raw(atende, "UPDATE {t} SET owner = :owner", owner=reused)
    assert atende.idempotency.reserve(claim) is None


def test_a_key_held_on_another_host_waits_for_the_timeout(atende):
    claim = held_claim(atende)
    assert atende.idempotency.reserve(claim) is None
    elsewhere = json.dumps(["other-host/boot/pid:[1]", 1, "1"])
    raw(atende, "UPDATE {t} SET owner = :owner", owner=elsewhere)
    assert atende.idempotency.reserve(claim).in_flight


# Every POST: agents, their changes, erasure, email intake, survey answers


def test_a_retried_agent_registration_replays_instead_of_conflicting(atende, client):
    first = post(client, "/v1/agents", "k-a", json=AGENT)
    again = post(client, "/v1/agents", "k-a", json=AGENT)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


def test_a_retried_agent_change_writes_nothing_new(atende, client):
    agent = post(client, "/v1/agents", json=AGENT).json
    path = f"/v1/agents/{agent['id']}/capacity"
    first = post(client, path, "k-c", json={"capacity": 7})
    before = event_count(atende)
    again = post(client, path, "k-c", json={"capacity": 7})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert event_count(atende) == before


def test_a_retried_erasure_replays_the_erasure(atende, client):
    ticket = post(client, "/v1/tickets", json=TICKET).json
    path = f"/v1/customers/{ticket['customer_id']}/erase"
    caught_up(atende, "ticket_list")  # erasure waits for the view naming their tickets
    first = post(client, path, "k-e", json={})
    before = event_count(atende)
    again = post(client, path, "k-e", json={})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["position"] == first.json["position"]
    assert event_count(atende) == before


def test_a_retried_email_replays_the_ticket_it_opened(atende, client):
    headers = {"Content-Type": "message/rfc822", "Idempotency-Key": "k-m"}
    first = client.simulate_post("/v1/intake/email", body=EMAIL, headers=headers)
    before = event_count(atende)
    again = client.simulate_post("/v1/intake/email", body=EMAIL, headers=headers)
    assert first.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert event_count(atende) == before
    other = client.simulate_post("/v1/intake/email", body=EMAIL + b"P.S.\r\n", headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]


def test_a_retried_survey_answer_replays_the_answer(atende, client):
    ticket = work(atende)
    survey = atende.tickets.surveys.of_ticket(ticket)
    path = atende.tickets.surveys.link_for(survey.id).path
    answer = {"rating": 5, "comment": "Rapidísimo"}
    first = client.simulate_post(path, json=answer, headers={"Idempotency-Key": "k-s"})
    before = event_count(atende)
    again = client.simulate_post(path, json=answer, headers={"Idempotency-Key": "k-s"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["position"] == first.json["position"]
    assert event_count(atende) == before
