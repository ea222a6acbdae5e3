"""Concurrent requests through the real server: races end in one write, never two."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.api import Api, agent_id, ticket_body


def _all_at_once(count: int, call):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def test_concurrent_retries_with_one_idempotency_key_open_exactly_one_ticket(server, tokens):
    body = ticket_body(subject="Carrera de reintentos")
    key = "race-open-1"

    def post():
        return Api(server.base_url, tokens["integrator"]).post(
            "/v1/tickets", body, headers={"Idempotency-Key": key}
        )

    responses = _all_at_once(8, post)
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.headers.get("Retry-After") for r in in_flight)
    # Once the first is done, every retry replays it.
    again = post()
    assert again.status_code == 201 and again.json()["id"] in created


def test_of_two_conditional_writes_on_one_version_exactly_one_lands(api: Api, server, tokens):
    tid = api.open_ticket()["id"]

    def assign(agent: str):
        return Api(server.base_url, tokens["agent"]).command(
            tid, "assign", {"agent_id": agent}, headers={"If-Match": '"1"'}
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(assign, [agent_id(f"agent-{i}") for i in range(8)]))
    assert sorted(r.status_code for r in responses).count(200) == 1
    assert all(r.status_code in (200, 412) for r in responses)
    assert api.history_types(tid) == ["opened", "assigned"]


def test_unconditional_concurrent_writes_all_land(api: Api, server, tokens):
    tid = api.open_ticket()["id"]

    def tag(name: str):
        return Api(server.base_url, tokens["agent"]).command(tid, "tags", {"add": [name]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(tag, [f"t{i}" for i in range(8)]))
    assert [r.status_code for r in responses] == [200] * 8
    final = api.get(f"/v1/tickets/{tid}").json()
    assert sorted(final["tags"]) == sorted(f"t{i}" for i in range(8))
    assert final["version"] == 9
