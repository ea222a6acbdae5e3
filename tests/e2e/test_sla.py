"""The SLA engine through the real server and its projector/scheduler: calendars,
policies, timer rules, the breach sweep, breaches and the report, and bad inputs.

Every policy here covers only tickets with the test's own tag, so the tickets of other
tests (sharing the server) never get timers."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import assert_problem

ALWAYS = {"timezone": "UTC", "always_open": True}
TARGETS = {"first_response": 3600, "next_response": 1800, "resolution": 28800}


@pytest.fixture
def admin(api_as) -> Api:
    return api_as("admin")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def put_calendar(admin: Api, name: str, body: dict[str, Any]):
    return admin.session.put(f"{admin.base_url}/v1/calendars/{name}", json=body, timeout=30)


def put_policies(admin: Api, policies: list[dict[str, Any]]):
    return admin.session.put(
        f"{admin.base_url}/v1/sla/policies", json={"policies": policies}, timeout=30
    )


def covered(admin: Api, targets: dict[str, int] | None = None, **policy: Any) -> str:
    """A tag whose tickets get an always-open policy with the given targets."""
    tag, calendar = unique("sla"), unique("cal")
    assert put_calendar(admin, calendar, ALWAYS).status_code == 201
    body = {
        "name": f"policy-{tag}", "calendar": calendar, "targets": targets or TARGETS,
        "conditions": {"tag": [tag]}, **policy,
    }  # fmt: skip
    response = put_policies(admin, [body])
    assert response.status_code == 200, response.text
    return tag


def timers(api: Api, ticket_id: str) -> dict[str, dict[str, Any]]:
    response = api.get(f"/v1/tickets/{ticket_id}/sla")
    assert response.status_code == 200, response.text
    return {f"{t['metric']}:{t['cycle']}": t for t in response.json()["timers"]}


def customer_says(api: Api, ticket_id: str) -> None:
    body = {"body": "¿Y entonces?", "author_type": "customer", "visibility": "public"}
    assert api.command(ticket_id, "messages", body).status_code == 200


def agent_says(api: Api, ticket_id: str, visibility: str = "public") -> None:
    body = {"body": "Revisando", "author_type": "agent", "visibility": visibility}
    assert api.command(ticket_id, "messages", body).status_code == 200


def test_a_calendar_is_created_then_revised_and_read_back(admin: Api):
    name = unique("cal")
    body = {"timezone": "America/Sao_Paulo", "weekly": {"monday": [["09:00", "18:00"]]},
            "holidays": {"country": "BR", "subdivision": "SP", "years": [2026]},
            "closures": [{"date": "2026-02-18", "end": "14:00", "reason": "Cinzas"}]}  # fmt: skip
    created = put_calendar(admin, name, body)
    assert created.status_code == 201, created.text
    assert {"date": "2026-04-21", "name": "Tiradentes"} in created.json()["holidays"]
    assert created.json()["tzdata_version"] and created.json()["holidays_version"]
    same = put_calendar(admin, name, body)
    assert (same.status_code, same.json()["version"]) == (200, created.json()["version"])
    body["weekly"]["tuesday"] = [["09:00", "13:00"], ["14:00", "24:00"]]
    revised = put_calendar(admin, name, body)
    assert revised.json()["revision"] == 2
    read = admin.get(f"/v1/calendars/{name}").json()
    assert read["weekly"]["tuesday"] == [["09:00", "13:00"], ["14:00", "24:00"]]


def test_a_ticket_under_a_policy_shows_its_timers(api: Api, admin: Api):
    tag = covered(admin)
    ticket = api.open_ticket(tags=[tag])
    found = timers(api, ticket["id"])
    assert sorted(found) == ["first_response:1", "resolution:1"]
    first = found["first_response:1"]
    assert (first["state"], first["target"], first["policy"]) == ("running", 3600, f"policy-{tag}")
    due = datetime.fromisoformat(first["due_at"]) - datetime.fromisoformat(first["started_at"])
    assert abs(due - timedelta(hours=1)) < timedelta(seconds=1)
    assert ticket["version"] == 1  # timers are on a companion: the ETag is untouched


def opened_on_a_new_connection(api: Api, tag: str) -> dict[str, Any]:
    """A ticket opened over a connection of its own, so the kernel hands it to either
    worker (a session's keep-alive connection stays with one)."""
    response = requests.post(
        f"{api.base_url}/v1/tickets", json=ticket_body(tags=[tag]),
        headers={"Authorization": api.session.headers["Authorization"],
                 "Connection": "close"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def test_every_worker_opens_tickets_under_the_policy_the_last_put_set(api: Api, admin: Api):
    """Each worker keeps the policies and calendars it read; on PostgreSQL it opens
    tickets on them without asking again, and the ticket's write checks they are current
    (application/assumed_reads.py). So right after a PUT, whichever worker opens the
    next tickets opens them under the new policy."""
    tag, calendar = unique("sla"), unique("cal")
    assert put_calendar(admin, calendar, ALWAYS).status_code == 201

    def policy(first_response: int) -> None:
        body = {"name": f"policy-{tag}", "calendar": calendar,
                "targets": {"first_response": first_response}, "conditions": {"tag": [tag]}}
        assert put_policies(admin, [body]).status_code == 200

    policy(3600)
    for _ in range(6):  # every worker now keeps the policies and the calendar
        opened = opened_on_a_new_connection(api, tag)
        assert timers(api, opened["id"])["first_response:1"]["target"] == 3600
    for target in (600, 1200):
        policy(target)
        for _ in range(6):
            opened = opened_on_a_new_connection(api, tag)
            assert timers(api, opened["id"])["first_response:1"]["target"] == target


def test_pending_pauses_and_a_customer_reply_resumes(api: Api, admin: Api):
    ticket = api.open_ticket(tags=[covered(admin)])["id"]
    assert api.command(ticket, "status", {"status": "pending"}).status_code == 200
    paused = timers(api, ticket)["resolution:1"]
    assert (paused["state"], paused["due_at"]) == ("paused", None)
    assert timers(api, ticket)["first_response:1"]["state"] == "running"
    customer_says(api, ticket)
    assert timers(api, ticket)["resolution:1"]["state"] == "running"


def test_an_internal_note_does_not_stop_first_response_but_a_public_reply_does(
    api: Api, admin: Api
):
    ticket = api.open_ticket(tags=[covered(admin)])["id"]
    agent_says(api, ticket, visibility="internal")
    assert timers(api, ticket)["first_response:1"]["state"] == "running"
    agent_says(api, ticket)
    first = timers(api, ticket)["first_response:1"]
    assert (first["state"], first["met"]) == ("fulfilled", True)
    customer_says(api, ticket)
    assert timers(api, ticket)["next_response:1"]["state"] == "running"


def test_reopen_continues_the_resolution_timer(api: Api, admin: Api):
    ticket = api.open_ticket(tags=[covered(admin)])["id"]
    assert api.command(ticket, "resolve", {}).status_code == 200
    assert timers(api, ticket)["resolution:1"]["state"] == "fulfilled"
    assert api.command(ticket, "reopen", {}).status_code == 200
    resolution = timers(api, ticket)["resolution:1"]
    assert (resolution["state"], resolution["fulfilled_at"]) == ("running", None)
    assert "resolution:2" not in timers(api, ticket)


def test_a_priority_change_retargets_the_running_timers(api: Api, admin: Api):
    tag, calendar = unique("sla"), unique("cal")
    assert put_calendar(admin, calendar, ALWAYS).status_code == 201
    urgent = {"name": f"urgent-{tag}", "calendar": calendar, "targets": {"resolution": 3600},
              "conditions": {"tag": [tag], "priority": ["urgent"]}}  # fmt: skip
    normal = {"name": f"normal-{tag}", "calendar": calendar, "targets": {"resolution": 7200},
              "conditions": {"tag": [tag]}}  # fmt: skip
    assert put_policies(admin, [urgent, normal]).status_code == 200
    ticket = api.open_ticket(tags=[tag])["id"]
    assert timers(api, ticket)["resolution:1"]["target"] == 7200
    assert api.command(ticket, "priority", {"priority": "urgent"}).status_code == 200
    resolution = timers(api, ticket)["resolution:1"]
    assert (resolution["target"], resolution["policy"]) == (3600, f"urgent-{tag}")


def test_the_scheduler_breaches_a_passed_target_exactly_once(api: Api, admin: Api, api_as):
    tag = covered(admin, targets={"first_response": 1})
    ticket = api.open_ticket(tags=[tag])["id"]
    deadline = time.monotonic() + 20
    while not timers(api, ticket)["first_response:1"]["breached_at"]:
        assert time.monotonic() < deadline, "the scheduler never breached the timer"
        time.sleep(0.2)
    breached = timers(api, ticket)["first_response:1"]
    assert breached["breached_at"] is not None
    analyst = api_as("analyst")
    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    window = {"from": (now - hour).isoformat(), "to": (now + hour).isoformat()}
    time.sleep(1)  # a second sweep would have run by now if it were going to record again
    feed = api.get(f"/v1/tickets/{ticket}/sla").json()
    assert feed["timers"][0]["breached_at"] == breached["breached_at"]
    listed = analyst.get("/v1/sla/breaches", params={**window, "metric": "first_response"})
    assert ticket in [item["ticket_id"] for item in listed.json()["items"]]
    report = analyst.get("/v1/reports/sla", params=window).json()
    assert any(g["policy"] == f"policy-{tag}" and g["breached"] == 1 for g in report["groups"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "America/Atlantis", "always_open": True}, "timezone"),
        ({"timezone": "UTC", "weekly": {"monday": [["09:00", "13:00"], ["12:00", "18:00"]]}},
         "weekly.monday[1]"),
        ({"timezone": "UTC", "weekly": {"monday": [["18:00", "09:00"]]}}, "weekly.monday[0].end"),
        ({"timezone": "UTC", "weekly": {"monday": [["09:00", "24:30"]]}}, "weekly.monday[0].end"),
        ({"timezone": "UTC", "weekly": {"funday": [["09:00", "10:00"]]}}, "weekly.funday.key"),
        ({"timezone": "UTC", "always_open": True, "holidays": {"country": "XX"}},
         "holidays.country"),
        ({"timezone": "UTC", "always_open": True,
          "holidays": {"country": "BR", "subdivision": "ZZ"}}, "holidays.subdivision"),
        ({"timezone": "UTC"}, "weekly"),
    ],
)  # fmt: skip
def test_a_bad_calendar_is_refused_naming_the_field(admin: Api, body, field):
    name = unique("bad")
    response = put_calendar(admin, name, body)
    assert_problem(response, 422)
    assert field in response.json()["errors"], response.json()
    assert admin.get(f"/v1/calendars/{name}").status_code == 404


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ({"first_response": 0}, "policies.0.targets.first_response"),
        ({"resolution": -60}, "policies.0.targets.resolution"),
        ({}, "policies.0.targets"),
    ],
)
def test_a_non_positive_target_is_refused(admin: Api, targets, field):
    before = admin.get("/v1/sla/policies").json()
    policy = {"name": "p", "calendar": "x", "targets": targets}
    response = put_policies(admin, [policy])
    assert_problem(response, 422)
    assert field in response.json()["errors"]
    assert admin.get("/v1/sla/policies").json() == before


def test_a_policy_on_an_unknown_calendar_is_refused(admin: Api):
    policy = {"name": "p", "calendar": unique("none"), "targets": {"resolution": 60}}
    response = put_policies(admin, [policy])
    assert_problem(response, 422)
    assert "policies[0].calendar" in response.json()["errors"]


def test_a_calendar_still_used_by_a_policy_cannot_be_deleted(admin: Api):
    tag = covered(admin)
    calendar = admin.get("/v1/sla/policies").json()["policies"][0]["calendar"]
    response = admin.session.delete(f"{admin.base_url}/v1/calendars/{calendar}", timeout=30)
    assert_problem(response, 409)
    assert response.json()["policies"] == [f"policy-{tag}"]
    assert admin.get(f"/v1/calendars/{calendar}").status_code == 200


def test_an_unused_calendar_can_be_deleted(admin: Api):
    name = unique("cal")
    assert put_calendar(admin, name, ALWAYS).status_code == 201
    response = admin.session.delete(f"{admin.base_url}/v1/calendars/{name}", timeout=30)
    assert response.status_code == 204
    assert admin.get(f"/v1/calendars/{name}").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-01-02T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00"}, "from"),
        ({"from": "yesterday", "to": "2026-01-01T00:00:00+00:00"}, "from"),
        ({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00+00:00"}, "from"),
        ({"from": "2026-01-01T00:00:00+00:00", "to": "2026-01-02T00:00:00+00:00",
          "metric": "speed"}, "metric"),
    ],
)  # fmt: skip
def test_bad_breach_queries_are_refused(api_as, params, field):
    response = api_as("analyst").get("/v1/sla/breaches", params=params)
    assert_problem(response, 422)
    assert field in response.json()["errors"]


def test_only_admins_configure_calendars_and_policies(api_as):
    for role in ("agent", "integrator", "auditor", "analyst"):
        client = api_as(role)
        assert put_calendar(client, unique("cal"), ALWAYS).status_code == 403
        assert put_policies(client, []).status_code == 403


def test_the_event_feed_names_whose_each_sla_event_is(api: Api, admin: Api):
    tag = covered(admin)
    after = api.get("/v1/events", params={"after": 0, "limit": 1}).json()["head"]
    ticket = api.open_ticket(tags=[tag])
    events = api.get("/v1/events", params={"after": after, "limit": 20}).json()["events"]
    mine = [(e["aggregate_type"], e["type"]) for e in events if e["ticket_id"] == ticket["id"]]
    assert mine[:3] == [("ticket", "opened"), ("ticket_sla", "created"),
                        ("ticket_sla", "policy_applied")]  # fmt: skip
    assert ("ticket_sla", "timer_started") in mine
