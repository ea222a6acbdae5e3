"""A view that cannot apply an event never stops silently. Through a real server on each
database: the ticket list's table is altered by hand (a trigger refusing one ticket's
row), so the view fails at that ticket's event while every other view carries on; health
says "failing" naming the view and the position, /metrics and ``atende projections
status`` show it, the log says so once (not once a retry); once the table is fixed the
view gets past it and health is ok again."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from tests.databases import POSTGRES_URL
from tests.e2e.api import Api
from tests.e2e.server import BIN, Server, running_server

WAIT_SECONDS = 30
POISON = "poison-ref"


def _run_sql(server: Server, statements: list[str]) -> None:
    url = server.database_url
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :], timeout=10) as conn:
            for statement in statements:
                conn.execute(statement)
        return
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        for statement in statements:
            conn.execute(statement)


def poison_ticket_list(server: Server) -> None:
    """A trigger that refuses the row of the ticket with external_ref POISON."""
    if server.database_url.startswith("sqlite"):
        _run_sql(server, [
            "CREATE TRIGGER poison BEFORE INSERT ON ticket_list "
            f"WHEN NEW.external_ref = '{POISON}' BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        ])  # fmt: skip
        return
    _run_sql(server, [
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF NEW.external_ref = '{POISON}' THEN RAISE EXCEPTION 'poisoned'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER poison BEFORE INSERT ON ticket_list FOR EACH ROW "
        "EXECUTE FUNCTION poison()",
    ])  # fmt: skip


def cure_ticket_list(server: Server) -> None:
    if server.database_url.startswith("sqlite"):
        _run_sql(server, ["DROP TRIGGER poison"])
    else:
        _run_sql(server, ["DROP TRIGGER poison ON ticket_list"])


def health(api: Api) -> dict[str, Any]:
    response = api.get("/v1/health")
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(condition, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {WAIT_SECONDS} s")


def failing_metric(admin: Api, view: str) -> str:
    response = admin.get("/metrics")
    assert response.status_code == 200, response.text
    prefix = f'atende_projection_failing{{view="{view}"}} '
    (line,) = [line for line in response.text.splitlines() if line.startswith(prefix)]
    return line[len(prefix) :]


def test_a_view_that_cannot_apply_an_event_is_reported_until_it_gets_past_it(
    server: Server, tmp_path: Path
):
    # A server of its own (its tables get altered), on the session server's backend.
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    with running_server(backend, tmp_path, workers=1) as own:
        admin = Api(own.base_url, own.create_token("admin", "ops"))
        poison_ticket_list(own)
        before = admin.open_ticket()["position"]
        poisoned = admin.open_ticket(external_ref=POISON)
        after = admin.open_ticket()  # the other views carry on past the poison

        failing = wait_for(
            lambda: health(admin)["projector"]["failing"].get("ticket_list"),
            "the ticket list reported failing",
        )
        doc = health(admin)
        assert doc["status"] == "failing"
        assert list(doc["projector"]["failing"]) == ["ticket_list"]
        assert before < failing["position"] <= poisoned["position"]
        assert failing["error"] and failing["first_seen"] <= failing["last_seen"]
        assert doc["projector"]["lag"]["ticket_list"] > 0
        wait_for(lambda: health(admin)["projector"]["lag"]["queue"] == 0, "the queue caught up")
        assert failing_metric(admin, "ticket_list") == "1.0"
        assert failing_metric(admin, "queue") == "0.0"
        status = subprocess.run(
            [str(BIN / "atende"), "projections", "status"],
            env=own.env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        (line,) = [line for line in status.splitlines() if line.startswith("ticket_list")]
        assert f"at position {failing['position']}: {failing['error']}" in line

        # Retried every second, logged once a minute: three attempts, one log line.
        wait_for(
            lambda: health(admin)["projector"]["failing"]["ticket_list"]["attempts"] >= 3,
            "three attempts",
        )
        logged = own.log_path.read_text().count("view ticket_list failing")
        assert logged == 1

        cure_ticket_list(own)
        wait_for(lambda: health(admin)["status"] == "ok", "health ok again")
        assert health(admin)["projector"]["failing"] == {}
        assert failing_metric(admin, "ticket_list") == "0.0"
        listed = admin.get("/v1/tickets", params={"after_position": after["position"]})
        assert POISON in [item["external_ref"] for item in listed.json()["items"]]
