"""The access log's storage on real SQLite and PostgreSQL: what a read of personal data
leaves in ``history_reads``, the columns added in place to an existing table, and a read
that cannot be logged is not served (issue 16, item 6)."""

from __future__ import annotations

from typing import Any

import falcon.testing
import pytest

from infrastructure.access_log import ACCESS_LOG, AccessLog
from infrastructure.projector import ViewFollower
from infrastructure.views.registry import VIEWS
from interface.container import Atende
from interface.http.app import create_app
from tests.integration.builders import agent_token, open_ticket

SUBJECT = "Sin internet"  # the builders' ticket subject


@pytest.fixture
def client(atende: Atende) -> falcon.testing.TestClient:
    token = agent_token(atende, "lectora")
    return falcon.testing.TestClient(
        create_app(atende), headers={"Authorization": f"Bearer {token}"}
    )


def catch_up_ticket_list(atende: Atende) -> None:
    view = atende.views["ticket_list"]
    ViewFollower(atende.tickets, VIEWS["ticket_list"].projection(view=view)).catch_up()


def stored_rows(atende: Atende) -> list[dict[str, Any]]:
    """Every access-log row, straight from the table."""
    with atende.access_log.db.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {atende.access_log.db.table(ACCESS_LOG)} ORDER BY at, id")
        return [dict(row) for row in cursor.fetchall()]


def test_a_ticket_read_stores_principal_route_and_ticket(atende, client):
    ticket_id = open_ticket(atende).ticket.id
    assert client.simulate_get(f"/v1/tickets/{ticket_id}").status_code == 200
    [row] = stored_rows(atende)
    assert (row["principal_name"], row["role"], row["what"]) == ("lectora", "agent", "ticket")
    assert row["route"] == "/v1/tickets/{ticket_id:uuid}"
    assert row["ticket_id"] == str(ticket_id)
    assert (row["item_count"], row["ticket_ids"]) == (None, None)


def test_a_search_stores_the_count_and_the_ids_but_not_the_search_text(atende, client):
    first, second = open_ticket(atende).ticket.id, open_ticket(atende).ticket.id
    catch_up_ticket_list(atende)
    found = client.simulate_get("/v1/tickets", params={"q": "internet"})
    assert found.status_code == 200 and len(found.json["items"]) == 2
    [row] = stored_rows(atende)
    assert (row["what"], row["route"], row["item_count"]) == ("list", "/v1/tickets", 2)
    assert sorted(row["ticket_ids"].split()) == sorted([str(first), str(second)])
    assert row["detail"] == "query: q"
    assert "internet" not in " ".join(str(value) for value in row.values())


def test_a_read_that_cannot_be_logged_is_refused_and_serves_nothing(atende, client):
    ticket_id = open_ticket(atende).ticket.id
    with atende.access_log.db.transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE {atende.access_log.db.table(ACCESS_LOG)}")
    refused = client.simulate_get(f"/v1/tickets/{ticket_id}")
    assert refused.status_code >= 500
    assert SUBJECT not in refused.text and "Ana Souza" not in refused.text


def test_an_access_log_from_before_gains_the_new_columns_and_keeps_its_rows(atende):
    table = atende.access_log.db.table(ACCESS_LOG)
    with atende.access_log.db.transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE {table}")
        cursor.execute(
            f"CREATE TABLE {table} (id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "
            "principal_id TEXT NOT NULL, principal_name TEXT NOT NULL, role TEXT NOT NULL, "
            "ticket_id TEXT, what TEXT NOT NULL, detail TEXT NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {table} VALUES ('old', 1.5, 'p1', 'ana', 'auditor', NULL, "
            "'export', 'from=a to=b')"
        )
    for _ in range(2):  # every start runs it again
        AccessLog(atende.access_log.db, atende.access_log.key).create_table()
    [old] = atende.access_log.reads(ticket_id=None, principal_id="p1", after=None, limit=5)
    assert (old["what"], old["detail"], old["route"], old["item_count"]) == (
        "export",
        "from=a to=b",
        None,
        None,
    )


def test_the_reads_of_a_ticket_include_the_list_reads_that_served_it(atende, client):
    ticket_id = open_ticket(atende).ticket.id
    other = open_ticket(atende).ticket.id
    assert client.simulate_get(f"/v1/tickets/{ticket_id}/history").status_code == 200
    catch_up_ticket_list(atende)
    assert client.simulate_get("/v1/tickets").status_code == 200
    assert client.simulate_get(f"/v1/tickets/{other}").status_code == 200
    reads = atende.access_log.reads(ticket_id=ticket_id, principal_id=None, after=None, limit=9)
    assert sorted(r["what"] for r in reads) == ["history", "list"]
