"""A ticket from first contact to closed, through the real server."""

from __future__ import annotations

from tests.e2e.api import Api, agent_id
from tests.e2e.drills import eventually, health_is_ok


def test_a_ticket_runs_from_first_contact_to_closed(api: Api, api_as):
    ticket = api.open_ticket(tags=["wifi"], priority="high", language="es")
    assert ticket["status"] == "new" and ticket["version"] == 1
    tid = ticket["id"]

    agent = api_as("agent")
    steps = [
        ("assign", {"agent_id": agent_id("agent-7")}, "open"),
        (
            "messages",
            {"body": "¿Reinició el módem?", "author_type": "agent", "visibility": "public"},
            "open",
        ),
        ("status", {"status": "pending"}, "pending"),
        (
            "messages",
            {"body": "Sí, sigue igual", "author_type": "customer", "visibility": "public"},
            "open",
        ),
        ("escalate", {"reason": "fibra cortada"}, "open"),
        ("resolve", {"resolution": "Técnico reparó la fibra"}, "resolved"),
        ("close", None, "closed"),
    ]
    for name, body, status in steps:
        response = agent.command(tid, name, body)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["status"] == status, name

    final = api.get(f"/v1/tickets/{tid}")
    assert final.status_code == 200
    doc = final.json()
    assert doc["status"] == "closed" and doc["assignee"] == agent_id("agent-7")
    assert [m["body"] for m in doc["messages"]] == ["¿Reinició el módem?", "Sí, sigue igual"]
    assert doc["escalation"]["level"] == 1
    assert final.headers["ETag"] == f'"{doc["version"]}"'
    assert api.history_types(tid) == [
        "opened",
        "assigned",
        "message_added",
        "status_changed",
        "status_changed",
        "message_added",
        "escalated",
        "resolved",
        "closed",
    ]


def test_a_new_ticket_answers_201_with_location_number_and_position(api: Api):
    response = api.post(
        "/v1/tickets",
        {
            "subject": "Factura duplicada",
            "description": "Me cobraron dos veces",
            "requester": {"name": "Jo", "phone": "+56 9 1234 5678"},
            "channel": "phone",
        },
    )
    assert response.status_code == 201
    doc = response.json()
    assert response.headers["Location"] == f"/v1/tickets/{doc['id']}"
    assert response.headers["ETag"] == '"1"'
    # Dense numbers count tickets; positions count every event in the log.
    assert 1 <= doc["number"] <= doc["position"]
    assert doc["priority"] == "normal" and doc["tags"] == []


def test_history_records_who_did_what_and_when(api: Api, api_as):
    tid = api.open_ticket()["id"]
    api_as("agent").command(tid, "assign", {"agent_id": agent_id("a-1")})
    events = api.get(f"/v1/tickets/{tid}/history").json()["events"]
    assert [e["version"] for e in events] == [1, 2]
    assert (
        events[0]["actor"]["role"] == "integrator"
        and events[0]["actor"]["name"] == "e2e-integrator"
    )
    assert events[1]["actor"]["role"] == "agent"
    assert events[1]["data"] == {"agent_id": agent_id("a-1"), "reason": None}
    assert events[0]["data"]["requester"]["email"] == "ana@example.com"
    assert events[0]["occurred_at"] <= events[1]["occurred_at"]
    assert events[0]["occurred_at"].endswith("+00:00")


def test_the_event_feed_pages_through_every_event_in_order(api: Api, api_as):
    tid = api.open_ticket()["id"]
    api.command(tid, "priority", {"priority": "urgent"})
    auditor = api_as("auditor")
    after, seen = 0, []
    while True:
        page = auditor.get("/v1/events", params={"after": after, "limit": 3}).json()
        seen += page["events"]
        if not page["events"]:
            break
        after = page["next_after"]
    positions = [e["position"] for e in seen]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    mine = [(e["version"], e["type"]) for e in seen if e["ticket_id"] == tid]
    assert mine == [(1, "opened"), (2, "priority_changed")]
    assert page["head"] >= positions[-1]


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(api: Api):
    body = {
        "subject": "Idempotente",
        "description": "una vez",
        "requester": {"name": "Rui", "email": "rui@example.com"},
        "channel": "web",
    }
    first = api.post("/v1/tickets", body, headers={"Idempotency-Key": "open-rui-1"})
    again = api.post("/v1/tickets", body, headers={"Idempotency-Key": "open-rui-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"

    tid = first.json()["id"]
    for _ in range(2):
        reply = api.command(
            tid,
            "messages",
            {"body": "hola", "author_type": "customer", "visibility": "public"},
            headers={"Idempotency-Key": "msg-1"},
        )
        assert reply.status_code == 200 and reply.json()["version"] == 2
    assert api.history_types(tid) == ["opened", "message_added"]


def test_an_idempotent_retry_replays_after_the_server_restarts(server, api: Api):
    body = {
        "subject": "Durable",
        "description": "sobrevive reinicio",
        "requester": {"name": "Li", "email": "li@example.com"},
        "channel": "chat",
    }
    first = api.post("/v1/tickets", body, headers={"Idempotency-Key": "restart-1"})
    server.stop()
    server.start()
    again = api.post("/v1/tickets", body, headers={"Idempotency-Key": "restart-1"})
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_a_stale_if_match_is_refused_and_a_current_one_accepted(api: Api):
    tid = api.open_ticket()["id"]
    stale = api.command(tid, "priority", {"priority": "low"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    current = api.command(tid, "priority", {"priority": "low"}, headers={"If-Match": '"1"'})
    assert current.status_code == 200 and current.headers["ETag"] == '"2"'
    assert api.history_types(tid) == ["opened", "priority_changed"]


def test_a_second_ticket_with_the_same_external_ref_names_the_first(api: Api):
    first = api.open_ticket(external_ref="crm-4711")
    second = api.post("/v1/tickets", {**first_body(), "external_ref": "crm-4711"})
    assert second.status_code == 409
    assert second.json()["ticket_id"] == first["id"]


def first_body() -> dict:
    return {
        "subject": "Otra",
        "description": "misma ref",
        "requester": {"name": "Ana", "email": "ana@example.com"},
        "channel": "api",
    }


def test_health_needs_no_token(api_as):
    eventually(lambda: health_is_ok(api_as(None)), "health ok without a token")
