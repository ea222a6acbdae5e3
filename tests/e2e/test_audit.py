"""Auditors over HTTP and the CLI: as-of, ranges, verify, export, the access log, erasure,
and an auditor token that can write nothing anywhere."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import falcon
import psycopg
import pytest

from infrastructure.crypto import ERASURE_CHECK_SECONDS
from interface.container import Atende
from interface.http.app import create_app
from interface.wiring import bootstrap
from tests.databases import POSTGRES_URL, settings_for
from tests.e2e.api import Api, ticket_body
from tests.e2e.drills import feed
from tests.e2e.problems import assert_problem, history, nothing_stored
from tests.e2e.server import BIN, Server
from tests.integration.test_openapi_coverage import routed_operations


def _atende(server: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "atende"), *args], env=server.env, capture_output=True, timeout=120
    )


def _unique_requester() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10]
    return {"name": f"Carla Auditada {tag}", "email": f"carla.{tag}@example.com"}


# As of and history ranges.


def test_a_ticket_as_of_an_instant_shows_the_state_it_had_then(api: Api, auditor: Api):
    opened = api.open_ticket()
    tid = opened["id"]
    assert api.command(tid, "priority", {"priority": "urgent"}).status_code == 200
    assert api.command(tid, "tags", {"add": ["fibra"]}).status_code == 200
    events = history(auditor, tid)

    first = auditor.get(f"/v1/tickets/{tid}", params={"as_of": events[0]["occurred_at"]})
    assert first.status_code == 200, first.text
    assert (first.json()["version"], first.json()["priority"]) == (1, "normal")
    second = auditor.get(f"/v1/tickets/{tid}", params={"as_of": events[1]["occurred_at"]})
    assert (second.json()["version"], second.json()["priority"]) == (2, "urgent")
    assert second.json()["tags"] == []
    now = auditor.get(f"/v1/tickets/{tid}", params={"as_of": datetime.now(UTC).isoformat()})
    assert now.json()["tags"] == ["fibra"]


@pytest.mark.parametrize(
    "as_of", ["ayer", "2026-01-01T10:00:00", "2026-13-01T00:00:00Z", "9999-01-01T00:00:00Z"]
)
def test_a_malformed_naive_or_future_as_of_is_refused_naming_it(auditor: Api, ticket, as_of):
    response = auditor.get(f"/v1/tickets/{ticket}", params={"as_of": as_of})
    assert_problem(response, 422, "as_of")


def test_as_of_before_the_ticket_existed_is_not_found(auditor: Api, ticket):
    opened_at = datetime.fromisoformat(history(auditor, ticket)[0]["occurred_at"])
    earlier = (opened_at - timedelta(seconds=1)).isoformat()
    assert_problem(auditor.get(f"/v1/tickets/{ticket}", params={"as_of": earlier}), 404)


def test_history_between_two_instants_lists_only_those_events(api: Api, auditor: Api):
    tid = api.open_ticket()["id"]
    for priority in ("high", "low", "urgent"):
        assert api.command(tid, "priority", {"priority": priority}).status_code == 200
    events = history(auditor, tid)
    window = auditor.get(
        f"/v1/tickets/{tid}/history",
        params={"from": events[1]["occurred_at"], "to": events[2]["occurred_at"]},
    )
    assert window.status_code == 200, window.text
    expected = [
        e["version"]
        for e in events
        if events[1]["occurred_at"] <= e["occurred_at"] <= events[2]["occurred_at"]
    ]
    assert [e["version"] for e in window.json()["events"]] == expected


def test_an_inverted_history_range_is_refused_naming_from(auditor: Api, ticket):
    response = auditor.get(
        f"/v1/tickets/{ticket}/history",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    )
    assert_problem(response, 422, "from")


# Verify and export.


def test_the_whole_log_and_one_ticket_verify_for_an_auditor(auditor: Api, ticket):
    # Counted, not taken from the head: positions a refused write took are never filled.
    stored = sum(1 for _ in feed(auditor))
    whole = auditor.get("/v1/audit/verify")
    assert whole.status_code == 200, whole.text
    assert whole.json()["ok"] is True, whole.json()
    assert whole.json()["checked_events"] >= stored  # racing writers may add more
    one = auditor.get("/v1/audit/verify", params={"ticket": ticket})
    assert one.json()["ok"] is True and one.json()["checked_events"] >= 1
    assert_problem(auditor.get("/v1/audit/verify", params={"ticket": str(uuid.uuid4())}), 404)
    assert_problem(auditor.get("/v1/audit/verify", params={"ticket": "nope"}), 422, "ticket")


def test_the_cli_verifies_the_same_log_and_exits_zero(server: Server):
    done = _atende(server, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert b"OK:" in done.stdout


def test_an_export_is_streamed_the_same_twice_matches_the_cli_and_verifies_offline(
    server: Server, api: Api, auditor: Api, tmp_path: Path
):
    tid = api.open_ticket()["id"]
    assert api.command(tid, "resolve", {"resolution": "Reinicio"}).status_code == 200
    first = auditor.get("/v1/audit/export", params={"ticket": tid})
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("application/x-ndjson")
    second = auditor.get("/v1/audit/export", params={"ticket": tid})
    assert first.content == second.content
    cli = _atende(server, "audit", "export", "--ticket", tid)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout == first.content
    assert len(first.content.splitlines()) == 1 + len(history(auditor, tid))

    exported = tmp_path / "ticket.jsonl"
    exported.write_bytes(first.content)
    ok = _atende(server, "audit", "verify", "--file", str(exported))
    assert ok.returncode == 0, ok.stderr
    exported.write_bytes(first.content.replace(b'"version":2', b'"version":3', 1))
    broken = _atende(server, "audit", "verify", "--file", str(exported))
    assert broken.returncode == 1
    assert b"BROKEN" in broken.stderr and b"version" in broken.stderr
    missing = _atende(server, "audit", "verify", "--file", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and b"no such file" in missing.stderr


def test_a_range_export_covers_every_event_in_it(api: Api, auditor: Api):
    start = datetime.now(UTC) - timedelta(seconds=1)
    tid = api.open_ticket()["id"]
    end = datetime.fromisoformat(history(auditor, tid)[-1]["occurred_at"])
    response = auditor.get(
        "/v1/audit/export", params={"from": start.isoformat(), "to": end.isoformat()}
    )
    assert response.status_code == 200, response.text
    lines = response.content.splitlines()
    assert tid.encode() in response.content
    assert b'"first_position"' in lines[0]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ({"ticket": str(uuid.uuid4()), "from": "2026-01-01T00:00:00Z"}, "ticket"),
        ({"ticket": "no-uuid"}, "ticket"),
    ],
)
def test_an_export_with_an_inverted_or_mixed_scope_is_refused(auditor: Api, params, field):
    assert_problem(auditor.get("/v1/audit/export", params=params), 422, field)


def test_an_export_without_a_scope_is_the_whole_log_and_from_alone_runs_to_now(
    api: Api, auditor: Api
):
    """The document requires no parameter, so none is refused (issue 21)."""
    tid = api.open_ticket()["id"]
    whole = auditor.get("/v1/audit/export")
    assert whole.status_code == 200, whole.text
    header = json.loads(whole.content.splitlines()[0])["scope"]
    assert header["first_position"] == 1
    assert tid.encode() in whole.content
    since = datetime.fromisoformat(history(auditor, tid)[0]["occurred_at"])
    recent = auditor.get("/v1/audit/export", params={"from": since.isoformat()})
    assert recent.status_code == 200, recent.text
    assert tid.encode() in recent.content
    assert json.loads(recent.content.splitlines()[0])["scope"]["first_position"] > 1


def test_the_cli_refuses_an_inverted_export_range(server: Server):
    done = _atende(
        server, "audit", "export", "--from", "2026-02-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"
    )
    assert done.returncode == 2 and b"--to" in done.stderr


def test_verify_and_export_are_for_auditors_and_admins_only(api_as):
    for role in ("agent", "integrator", "analyst"):
        assert_problem(api_as(role).get("/v1/audit/verify"), 403)
        assert_problem(api_as(role).get("/v1/audit/access-log"), 403)


# The access log.


def test_every_history_read_is_in_the_access_log_the_auditor_queries(api_as, auditor: Api, ticket):
    agent = api_as("agent")
    assert agent.get(f"/v1/tickets/{ticket}/history").status_code == 200
    assert auditor.get("/v1/audit/export", params={"ticket": ticket}).status_code == 200
    log = auditor.get("/v1/audit/access-log", params={"ticket": ticket})
    assert log.status_code == 200, log.text
    reads = [(e["principal"]["role"], e["what"]) for e in log.json()["items"]]
    assert ("agent", "history") in reads
    assert ("auditor", "export") in reads
    assert all(e["ticket_id"] == ticket for e in log.json()["items"])
    paged = auditor.get("/v1/audit/access-log", params={"ticket": ticket, "limit": 1})
    assert len(paged.json()["items"]) == 1 and paged.json()["next_cursor"]
    nxt = auditor.get(
        "/v1/audit/access-log",
        params={"ticket": ticket, "limit": 1, "cursor": paged.json()["next_cursor"]},
    )
    assert nxt.json()["items"][0]["id"] != paged.json()["items"][0]["id"]


# Erasure.


def _raw_events_text(database_url: str) -> str:
    """Every stored event row as text, straight from the database (no Atende code)."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(database_url[len("sqlite:///") :]) as conn:
            rows = conn.execute("SELECT originator_id, topic, state FROM stored_events").fetchall()
    else:
        schema = parse_qs(urlsplit(database_url).query)["schema"][0]
        with psycopg.connect(POSTGRES_URL) as conn:
            rows = conn.execute(
                f'SELECT originator_id, topic, state FROM "{schema}".atende_events'
            ).fetchall()
    return "\n".join(f"{r[0]} {r[1]} {bytes(r[2]).decode('utf-8', 'replace')}" for r in rows)


def test_erasing_a_customer_shreds_their_data_but_keeps_history_counts_and_hashes(
    server: Server, api: Api, api_as, auditor: Api
):
    admin, analyst = api_as("admin"), api_as("analyst")
    requester = _unique_requester()
    opened = api.open_ticket(requester=requester, subject="Mi router en Calle Falsa 123")
    tid, customer = opened["id"], opened["customer_id"]
    said = api.command(tid, "messages", {"body": "Mi DNI es 30111222", "author_type": "customer",
                                         "visibility": "public"})  # fmt: skip
    resolved = api.command(tid, "resolve", {"resolution": "Cambio de router"})
    assert said.status_code == resolved.status_code == 200
    position = resolved.json()["position"]
    report_params = {"group_by": "channel", "after_position": position}
    before = analyst.get("/v1/reports/satisfaction", params=report_params)
    assert before.status_code == 200, before.text
    raw = _raw_events_text(server.database_url)
    for secret in (requester["name"], requester["email"], "Calle Falsa", "30111222"):
        assert secret not in raw  # encrypted from the start (Clarification 1)

    erased = admin.post(f"/v1/customers/{customer}/erase", {"reason": "pedido del titular"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["already_erased"] is False
    assert tid in erased.json()["tickets"]

    # Other workers drop their cached keys within ERASURE_CHECK_SECONDS.
    time.sleep(ERASURE_CHECK_SECONDS * 1.5)
    ticket = auditor.get(f"/v1/tickets/{tid}").json()
    assert ticket["subject"] == "[erased]"
    assert ticket["requester"]["name"] == ticket["requester"]["email"] == "[erased]"
    assert ticket["status"] == "resolved"
    events = history(auditor, tid)
    assert [e["type"] for e in events][:3] == ["opened", "message_added", "resolved"]
    assert events[1]["data"]["body"] == "[erased]"
    listed = auditor.get(
        "/v1/tickets", params={"q": "Calle Falsa", "after_position": erased.json()["position"]}
    )
    assert listed.json()["items"] == []
    scrubbed = auditor.get("/v1/tickets", params={"after_position": erased.json()["position"]})
    row = next(i for i in scrubbed.json()["items"] if i["id"] == tid)
    assert row["subject"] == "[erased]"
    after = analyst.get("/v1/reports/satisfaction", params=report_params)
    assert after.json()["total"] == before.json()["total"]
    assert auditor.get("/v1/audit/verify", params={"ticket": tid}).json()["ok"] is True
    export = auditor.get("/v1/audit/export", params={"ticket": tid})
    for secret in (requester["name"], requester["email"], "Calle Falsa", "30111222"):
        assert secret not in export.text
        assert secret not in _raw_events_text(server.database_url)


def test_erasing_twice_answers_200_and_writes_nothing(api: Api, api_as):
    admin = api_as("admin")
    requester = _unique_requester()
    opened = api.open_ticket(requester=requester)
    customer = opened["customer_id"]
    first = admin.post(f"/v1/customers/{customer}/erase", {})
    assert first.status_code == 200, first.text
    with nothing_stored(admin):
        again = admin.post(f"/v1/customers/{customer}/erase", {})
        time.sleep(ERASURE_CHECK_SECONDS * 1.5)
        # Nothing new is stored under the erased customer's key. (Writing in again with
        # the same address makes a new customer: tests/e2e/test_customers.py.)
        body = {"body": "sigo aquí", "author_type": "customer", "visibility": "public"}
        added = api.command(opened["id"], "messages", body)
        assert_problem(added, 409)
        assert added.json()["type"].endswith("customer-erased")
    assert again.status_code == 200
    assert again.json()["already_erased"] is True
    assert again.json()["position"] == first.json()["position"]


def test_erasing_an_unknown_customer_is_404_and_only_admins_may_erase(api: Api, api_as):
    admin = api_as("admin")
    with nothing_stored(admin):
        assert_problem(admin.post(f"/v1/customers/{uuid.uuid4()}/erase", {}), 404)
        assert_problem(admin.post(f"/v1/customers/{uuid.uuid4()}/erase", {"why": 1}), 422, "why")
    customer = api.open_ticket(requester=_unique_requester())["customer_id"]
    for role in ("agent", "integrator", "auditor", "analyst"):
        assert_problem(api_as(role).post(f"/v1/customers/{customer}/erase", {}), 403)


# The auditor writes nothing, anywhere.


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[falcon.App]:
    url = f"sqlite:///{tmp_path_factory.mktemp('routes') / 'atende.db'}"
    atende: Atende = bootstrap(
        settings_for(url)
    )
    yield create_app(atende)
    atende.close()


def _concrete(template: str, ticket: str) -> str:
    path = template.replace("{ticket_id:uuid}", ticket)
    return re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()) if "uuid" in m[0] else "x", path)


def test_an_auditor_token_is_refused_every_write_on_every_route(
    app: falcon.App, auditor: Api, ticket
):
    writes = sorted(
        (template, method)
        for template, method in routed_operations(app)
        if method not in ("get", "head", "options")
    )
    assert len(writes) > 20
    refused = []
    with nothing_stored(auditor, ticket):
        for template, method in writes:
            path = _concrete(template, ticket)
            resource = app._router.find(path)[0]
            if getattr(resource, "public", False):
                continue  # no token at all is asked there (survey answers)
            response = auditor.session.request(
                method, auditor.base_url + path, json=ticket_body(), timeout=30
            )
            refused.append((template, method, response.status_code))
    assert {status for _, _, status in refused} == {403}, refused


def test_an_auditor_reads_tickets_history_as_of_feed_verify_and_export(auditor: Api, ticket):
    opened_at = history(auditor, ticket)[0]["occurred_at"]
    for path, params in [
        (f"/v1/tickets/{ticket}", {}),
        (f"/v1/tickets/{ticket}", {"as_of": opened_at}),
        (f"/v1/tickets/{ticket}/history", {}),
        ("/v1/tickets", {}),
        ("/v1/events", {"after": 0, "limit": 5}),
        ("/v1/audit/verify", {"ticket": ticket}),
        ("/v1/audit/export", {"ticket": ticket}),
        ("/v1/audit/access-log", {}),
    ]:
        assert auditor.get(path, params=params).status_code == 200, path
