"""Every read of personal data leaves exactly one access-log row, through the real server
on SQLite and PostgreSQL; reads without personal data leave none; the analyst is served
no personal data at all (issue 16, item 6).

Each role reads as a principal of this module's own, so its rows are told apart from
whatever else the shared server has logged.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.api import Api, agent_id
from tests.e2e.problems import assert_problem, head, history
from tests.e2e.server import BIN, Server

TODAY = datetime.now(UTC).date().isoformat()


class Reader:
    """A principal of this module: its Api, and its id as the access log names it."""

    def __init__(self, server: Server, role: str):
        # An agent token acts as a registered agent (issue 20).
        bound = ["--agent", server.register_agent(f"log-{role}")] if role == "agent" else []
        out = subprocess.run(
            [str(BIN / "atende"), "tokens", "create", "--role", role, "--name", f"log-{role}",
             *bound],
            env=server.env, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        self.id = re.search(r"\(id ([0-9a-f-]+)\)", out).group(1)
        self.api = Api(server.base_url, out.strip().splitlines()[-1])
        self.role = role


@pytest.fixture(scope="module")
def readers(server: Server) -> dict[str, Reader]:
    return {role: Reader(server, role) for role in ("agent", "auditor", "analyst", "integrator")}


def rows_of(auditor: Api, principal_id: str) -> list[dict[str, Any]]:
    listed = auditor.get("/v1/audit/access-log", params={"principal": principal_id, "limit": 500})
    assert listed.status_code == 200, listed.text
    return listed.json()["items"]


def only_new_row(
    auditor: Api, reader: Reader, path: str, **params: Any
) -> tuple[dict[str, Any], Any]:
    """GET ``path`` as ``reader``: 200, and exactly one new row naming the reader; the
    row and the response's document."""
    before = {row["id"] for row in rows_of(auditor, reader.id)}
    response = reader.api.get(path, params=params)
    assert response.status_code == 200, response.text
    new = [row for row in rows_of(auditor, reader.id) if row["id"] not in before]
    assert len(new) == 1, new
    [row] = new
    assert row["principal"] == {"id": reader.id, "name": f"log-{reader.role}", "role": reader.role}
    is_json = response.headers["content-type"].startswith("application/json")
    served = response.json() if is_json else None
    return row, served


def newest_row_id(auditor: Api) -> str | None:
    items = auditor.get("/v1/audit/access-log", params={"limit": 1}).json()["items"]
    return items[0]["id"] if items else None


@pytest.fixture
def customer_ticket(api: Api) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10]
    requester = {"name": f"Lia Leitora {tag}", "email": f"lia.{tag}@example.com"}
    return api.open_ticket(subject=f"Fibra caída {tag}", requester=requester, category=tag)


@pytest.mark.parametrize(
    ("what", "path", "params"),
    [
        ("ticket", "/v1/tickets/{id}", {}),
        ("history", "/v1/tickets/{id}/history", {}),
        ("export", "/v1/audit/export", {"ticket": "{id}"}),
    ],
)
def test_a_single_ticket_read_leaves_one_row_naming_principal_route_and_ticket(
    readers, auditor: Api, customer_ticket, what, path, params
):
    tid = customer_ticket["id"]
    reader = readers["auditor"]
    filled = {k: v.format(id=tid) for k, v in params.items()}
    row, _ = only_new_row(auditor, reader, path.format(id=tid), **filled)
    route = path.replace("{id}", "{ticket_id:uuid}")
    assert (row["what"], row["route"], row["ticket_id"]) == (what, route, tid)
    assert (row["count"], row["tickets"]) == (None, [])


def test_an_as_of_read_leaves_one_row_with_its_instant(readers, auditor: Api, customer_ticket):
    tid = customer_ticket["id"]
    opened_at = history(auditor, tid)[0]["occurred_at"]
    row, served = only_new_row(auditor, readers["agent"], f"/v1/tickets/{tid}", as_of=opened_at)
    assert (row["what"], row["ticket_id"], row["route"]) == (
        "as_of",
        tid,
        "/v1/tickets/{ticket_id:uuid}",
    )
    assert row["detail"] == served["as_of"]


def test_a_search_leaves_one_row_with_the_count_and_ids_but_not_the_text(
    readers, auditor: Api, customer_ticket
):
    tid, subject = customer_ticket["id"], customer_ticket["subject"]
    word = subject.split()[-1]
    row, served = only_new_row(
        auditor, readers["integrator"], "/v1/tickets", q=word, after_position=head(auditor)
    )
    assert [item["id"] for item in served["items"]] == [tid]
    assert (row["what"], row["route"], row["count"], row["tickets"]) == (
        "list",
        "/v1/tickets",
        1,
        [tid],
    )
    assert row["ticket_id"] is None and row["detail"] == "query: q"
    assert word not in str(row)


def test_a_lookup_by_email_and_a_customers_tickets_each_leave_one_row(
    readers, auditor: Api, customer_ticket
):
    tid, email = customer_ticket["id"], customer_ticket["requester"]["email"]
    position = head(auditor)
    by_email, _ = only_new_row(
        auditor, readers["agent"], "/v1/tickets", requester_email=email, after_position=position
    )
    assert (by_email["count"], by_email["tickets"]) == (1, [tid])
    assert email not in str(by_email)
    customer = customer_ticket["customer_id"]
    path = f"/v1/customers/{customer}/tickets"
    listed, _ = only_new_row(auditor, readers["agent"], path, after_position=position)
    assert listed["route"] == "/v1/customers/{customer_id:uuid}/tickets"
    assert (listed["what"], listed["count"], listed["tickets"]) == ("list", 1, [tid])


def test_the_queue_and_the_feed_leave_one_row_each_with_their_counts(
    readers, auditor: Api, customer_ticket
):
    tid, category = customer_ticket["id"], customer_ticket["category"]
    position = customer_ticket["position"]
    queue, served = only_new_row(
        auditor, readers["agent"], "/v1/queue", category=category, after_position=position
    )
    assert [item["id"] for item in served["items"]] == [tid]
    assert (queue["what"], queue["route"], queue["count"], queue["tickets"]) == (
        "list",
        "/v1/queue",
        1,
        [tid],
    )
    after = max(position - 5, 0)  # the opening's events end at its position
    feed, events = only_new_row(auditor, readers["integrator"], "/v1/events", after=after, limit=5)
    tickets = [e["ticket_id"] for e in events["events"] if e["ticket_id"]]
    assert tid in tickets and feed["tickets"] == list(dict.fromkeys(tickets))
    assert (feed["what"], feed["route"], feed["count"]) == ("feed", "/v1/events", 5)
    assert feed["detail"] == f"after={after} next_after={events['next_after']}"


def test_the_customers_survey_page_leaves_one_row_for_the_link_holder(api: Api, auditor: Api):
    ticket = api.open_ticket(category=f"log-{uuid.uuid4().hex[:8]}", language="es")
    tid = ticket["id"]
    assigned = api.command(tid, "assign", {"agent_id": agent_id("maria"), "force": True})
    assert assigned.status_code == 200, assigned.text
    assert api.command(tid, "resolve", {"resolution": "Listo."}).status_code == 200
    link = api.get(f"/v1/tickets/{tid}/survey").json()["link"]
    before = {row["id"] for row in rows_of(auditor, "survey-link")}
    page = Api(api.base_url, None).get(link)
    assert page.status_code == 200, page.text
    new = [row for row in rows_of(auditor, "survey-link") if row["id"] not in before]
    assert [(r["what"], r["ticket_id"], r["route"]) for r in new] == [
        ("survey", tid, "/v1/surveys/{token}")
    ]
    assert link.rsplit("/", 1)[-1] not in str(new)  # the link is a credential


def test_the_analysts_queue_items_carry_no_name_or_subject_and_leave_no_row(
    readers, auditor: Api, customer_ticket
):
    params = {
        "category": customer_ticket["category"],
        "after_position": customer_ticket["position"],
    }
    analyst, agent = readers["analyst"].api, readers["agent"].api
    seen = analyst.get("/v1/queue", params=params)
    assert seen.status_code == 200, seen.text
    mine = [i for i in seen.json()["items"] if i["id"] == customer_ticket["id"]]
    assert mine and all("subject" not in i and "requester_name" not in i for i in mine)
    assert customer_ticket["subject"] not in seen.text
    assert customer_ticket["requester"]["name"] not in seen.text
    as_agent = agent.get("/v1/queue", params=params).json()["items"]
    assert {"subject", "requester_name"} <= set(as_agent[0])
    assert rows_of(auditor, readers["analyst"].id) == []


def test_reads_without_personal_data_leave_no_row(readers, auditor: Api, customer_ticket):
    tid = customer_ticket["id"]
    newest = newest_row_id(auditor)
    analyst = readers["analyst"].api
    dates = {"from": TODAY, "to": TODAY}
    instants = {"from": f"{TODAY}T00:00:00Z", "to": f"{TODAY}T23:59:59Z"}
    for reader, path, params in [
        (Api(auditor.base_url, None), "/v1/health", {}),
        (analyst, "/v1/reports/sla", instants),
        (analyst, "/v1/reports/satisfaction", {**dates, "group_by": "channel"}),
        (analyst, "/v1/reports/agents", dates),
        (analyst, "/v1/sla/breaches", instants),
        (analyst, f"/v1/tickets/{tid}/sla", {}),
        (auditor, "/v1/audit/verify", {"ticket": tid}),
    ]:
        assert reader.get(path, params=params).status_code == 200, path
    assert newest_row_id(auditor) == newest


def test_refused_and_failed_reads_leave_no_row(readers, auditor: Api):
    reader = readers["agent"]
    before = rows_of(auditor, reader.id)
    assert_problem(reader.api.get(f"/v1/tickets/{uuid.uuid4()}"), 404)
    assert_problem(reader.api.get("/v1/tickets", params={"limit": 0}), 422, "limit")
    assert_problem(readers["analyst"].api.get("/v1/tickets"), 403)
    assert rows_of(auditor, reader.id) == before
