"""Agents through the real server: register, read, list, change, roles, and assigning
tickets to them by hand.

Agents these tests bring online speak only Quechua ("qu") and have capacity 0, and every
ticket here is in Quechua: the router can never hand another test's ticket to one of them,
nor one of these tickets to another test's agent. Every agent brought online is set offline
again before the test ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from domain.agent import agent_id_for_email
from tests.e2e.api import Api, acting_as, agent_id
from tests.e2e.problems import assert_problem, head, history, nothing_stored

LANGUAGE = "qu"
CHANGE_BODIES = {
    "availability": {"availability": "away"},
    "languages": {"languages": ["qu", "qu-BO"]},
    "skills": {"skills": ["fibra"], "generalist": True},
    "capacity": {"capacity": 3},
    "deactivate": {},
    "reactivate": {},
}


@pytest.fixture
def admin(api_as) -> Api:
    return api_as("admin")


def agent_id_of(email: str) -> str:
    return str(agent_id_for_email(email))


def unique_email(prefix: str = "quispe") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@agents.e2e.test"


def agent_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Rosa Quispe",
        "email": unique_email(),
        "languages": [LANGUAGE],
        "capacity": 0,  # the router never gives her a ticket, even while online
    }
    body.update(overrides)
    return body


def register(admin: Api, **overrides: Any) -> dict[str, Any]:
    response = admin.post("/v1/agents", agent_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def read_agent(reader: Api, agent: str) -> dict[str, Any]:
    response = reader.get(f"/v1/agents/{agent}")
    assert response.status_code == 200, response.text
    return response.json()


def change(admin: Api, agent: str, name: str, body: Any) -> dict[str, Any]:
    response = admin.post(f"/v1/agents/{agent}/{name}", body)
    assert response.status_code == 200, (name, response.text)
    return response.json()


def listed(reader: Api, after_position: int, **filters: str) -> dict[str, dict[str, Any]]:
    response = reader.get("/v1/agents", params={"after_position": after_position, **filters})
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def agent_events(reader: Api, agent: dict[str, Any]) -> list[dict[str, Any]]:
    """The agent's events in the global feed, from its registration on."""
    response = reader.get("/v1/events", params={"after": agent["position"] - 1, "limit": 1000})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["events"] if e["aggregate_id"] == agent["id"]]


@contextmanager
def online(admin: Api, agent: str) -> Iterator[dict[str, Any]]:
    """The agent online for the block, and offline again whatever happens in it."""
    try:
        yield change(admin, agent, "availability", {"availability": "online"})
    finally:
        offline = admin.post(f"/v1/agents/{agent}/availability", {"availability": "offline"})
        assert offline.status_code == 200, offline.text


def quechua_ticket(api: Api) -> str:
    return api.open_ticket(language=LANGUAGE)["id"]


# Registering and reading


def test_a_registered_agent_starts_offline_and_active_and_reads_back_the_same(admin: Api):
    body = agent_body(skills=["fibra", "facturación"], generalist=True, capacity=7)
    response = admin.post("/v1/agents", body)

    assert response.status_code == 201, response.text
    doc = response.json()
    assert response.headers["Location"] == f"/v1/agents/{doc['id']}"
    assert doc["id"] == agent_id_of(body["email"])
    assert doc["availability"] == "offline" and doc["active"] is True
    assert doc["version"] == 1 and doc["position"] > 0
    assert doc["languages"] == [LANGUAGE] and doc["skills"] == ["fibra", "facturación"]
    assert doc["generalist"] is True and doc["capacity"] == 7

    stored = admin.get(f"/v1/agents/{doc['id']}")
    assert stored.status_code == 200
    assert stored.json() == doc
    assert stored.headers["ETag"] == '"1"'


def test_an_agent_registered_without_skills_or_capacity_gets_the_defaults(admin: Api):
    response = admin.post(
        "/v1/agents", {"name": "Tupac", "email": unique_email(), "languages": [LANGUAGE]}
    )
    assert response.status_code == 201, response.text
    doc = read_agent(admin, response.json()["id"])
    assert doc["capacity"] == 5 and doc["skills"] == [] and doc["generalist"] is False
    assert doc["availability"] == "offline"


def test_a_capacity_written_as_a_whole_float_is_that_integer(admin: Api):
    """7.0 is the JSON number 7, as the document's integer type says (issue 21)."""
    agent = register(admin, capacity=7.0)
    assert agent["capacity"] == 7 and isinstance(agent["capacity"], int)


def test_registering_the_same_email_again_is_a_conflict_naming_the_agent(admin: Api, auditor):
    first = register(admin)
    again = agent_body(name="Otra Persona", email=first["email"].upper())
    with nothing_stored(auditor):
        response = admin.post("/v1/agents", again)
    doc = assert_problem(response, 409)
    assert doc["type"].endswith("duplicate-agent")
    assert doc["agent_id"] == first["id"]
    assert read_agent(admin, first["id"])["name"] == "Rosa Quispe"


def test_the_agent_list_shows_a_new_agent_with_no_load(admin: Api, api_as):
    agent = register(admin, skills=["fibra"])
    items = listed(api_as("analyst"), agent["position"])
    assert agent["id"] in items
    item = items[agent["id"]]
    assert item["load"] == 0 and item["availability"] == "offline" and item["active"] is True
    assert item["languages"] == [LANGUAGE] and item["skills"] == ["fibra"]
    assert "version" not in item and "position" not in item


def test_the_agent_list_filters_by_availability_language_and_skill(admin: Api):
    agent = register(admin, languages=["qu-PE"], skills=["Routers"])
    position = agent["position"]
    me = agent["id"]

    assert me in listed(admin, position, availability="offline")
    assert me not in listed(admin, position, availability="away")
    assert me in listed(admin, position, language="qu")  # matched on the primary subtag
    assert me in listed(admin, position, language="qu-BO")
    assert me not in listed(admin, position, language="ay")
    assert me in listed(admin, position, skill="routers")
    assert me not in listed(admin, position, skill="facturación")
    assert me in listed(admin, position, active="true")

    with online(admin, me) as now:
        assert me in listed(admin, now["position"], availability="online")
        assert me not in listed(admin, now["position"], availability="offline")
    deactivated = change(admin, me, "deactivate", {})
    assert me in listed(admin, deactivated["position"], active="false")
    assert me not in listed(admin, deactivated["position"], active="true")


def test_the_e2e_agents_are_listed_as_away(admin: Api):
    items = listed(admin, 0, availability="away")
    assert agent_id("maria") in items and agent_id("a-1") in items


# Changing an agent


def test_each_change_route_changes_what_the_agent_reads_back(admin: Api, api_as):
    agent = register(admin)
    me = agent["id"]

    assert change(admin, me, "availability", {"availability": "away"})["availability"] == "away"
    assert read_agent(admin, me)["availability"] == "away"

    change(admin, me, "languages", {"languages": ["qu", "qu-BO", "qu"]})
    assert read_agent(admin, me)["languages"] == ["qu", "qu-BO"]  # repeats dropped

    change(admin, me, "skills", {"skills": ["fibra", "móvil"], "generalist": True})
    stored = read_agent(admin, me)
    assert stored["skills"] == ["fibra", "móvil"] and stored["generalist"] is True

    change(admin, me, "skills", {"skills": ["móvil"]})  # generalist kept when not given
    stored = read_agent(admin, me)
    assert stored["skills"] == ["móvil"] and stored["generalist"] is True

    change(admin, me, "capacity", {"capacity": 4})
    assert read_agent(admin, me)["capacity"] == 4

    deactivated = change(admin, me, "deactivate", {})
    assert deactivated["active"] is False and deactivated["availability"] == "offline"
    assert read_agent(admin, me)["active"] is False

    reactivated = change(admin, me, "reactivate", {})
    assert reactivated["active"] is True and reactivated["availability"] == "offline"
    stored = read_agent(admin, me)
    assert stored["active"] is True and stored["version"] == reactivated["version"] == 8

    events = agent_events(api_as("auditor"), agent)
    assert [e["type"] for e in events] == [
        "registered",
        "availability_changed",
        "languages_changed",
        "skills_changed",
        "skills_changed",
        "capacity_changed",
        "deactivated",
        "reactivated",
    ]
    assert all(e["aggregate_type"] == "agent" and e["ticket_id"] is None for e in events)
    assert [e["version"] for e in events] == list(range(1, 9))
    assert all(e["actor"]["role"] == "admin" for e in events)
    assert events[1]["data"]["availability"] == "away"
    assert events[5]["data"]["capacity"] == 4


def test_a_change_to_what_the_agent_already_has_records_nothing(admin: Api, auditor: Api):
    agent = register(admin, skills=["fibra"])
    me = agent["id"]
    with nothing_stored(auditor):
        for name, body in [
            ("availability", {"availability": "offline"}),
            ("languages", {"languages": [LANGUAGE]}),
            ("skills", {"skills": ["fibra"], "generalist": False}),
            ("capacity", {"capacity": 0}),
            ("reactivate", {}),
        ]:
            assert change(admin, me, name, body)["version"] == 1
    assert [e["type"] for e in agent_events(auditor, agent)] == ["registered"]


def test_an_agent_comes_online_and_goes_offline_again(admin: Api, auditor: Api):
    agent = register(admin)
    me = agent["id"]
    with online(admin, me) as now:
        assert now["availability"] == "online"
        assert read_agent(admin, me)["availability"] == "online"
    assert read_agent(admin, me)["availability"] == "offline"
    assert [e["data"]["availability"] for e in agent_events(auditor, agent)[1:]] == [
        "online",
        "offline",
    ]


def test_deactivating_an_online_agent_takes_them_offline(admin: Api):
    me = register(admin)["id"]
    with online(admin, me):
        change(admin, me, "deactivate", {})
        stored = read_agent(admin, me)
        assert stored["active"] is False and stored["availability"] == "offline"


def test_a_deactivated_agent_cannot_come_online_until_reactivated(admin: Api, auditor: Api):
    me = register(admin)["id"]
    change(admin, me, "deactivate", {})
    for availability in ("online", "away"):
        with nothing_stored(auditor):
            response = admin.post(f"/v1/agents/{me}/availability", {"availability": availability})
        assert assert_problem(response, 409)["type"].endswith("agent-unavailable")
    assert read_agent(admin, me)["availability"] == "offline"

    change(admin, me, "reactivate", {})
    with online(admin, me) as now:
        assert now["availability"] == "online" and now["active"] is True


# Bad input: 422 naming the field, nothing stored


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"languages": ["español"]}, "languages.0"),
        ({"languages": ["e"]}, "languages.0"),
        ({"languages": ["en_US_x"]}, "languages.0"),
        ({"languages": ["qu", "en_US"]}, "languages.1"),
        ({"languages": []}, "languages"),
        ({"languages": "qu"}, "languages"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": "5"}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
        ({"capacity": True}, "capacity"),  # a bool is not an integer in JSON Schema
        ({"capacity": 1001}, "capacity"),
        ({"name": None}, "name"),
        ({"name": "  "}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"generalist": "sometimes"}, "generalist"),
        ({"nickname": "Rosi"}, "nickname"),
        ({"availability": "online"}, "availability"),  # new agents start offline
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_registering_with_a_bad_field_is_422_naming_it(admin: Api, auditor, overrides, field):
    body = agent_body(**overrides)
    with nothing_stored(auditor):
        response = admin.post("/v1/agents", body)
    doc = assert_problem(response, 422, field)
    assert set(doc["errors"]) == {field}
    assert admin.get(f"/v1/agents/{agent_id_of(body.get('email', 'x@y.z'))}").status_code == 404


@pytest.mark.parametrize("missing", ["name", "email", "languages"])
def test_registering_without_a_required_field_is_422_naming_it(admin: Api, auditor, missing):
    body = agent_body()
    del body[missing]
    with nothing_stored(auditor):
        assert_problem(admin.post("/v1/agents", body), 422, missing)


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("availability", {"availability": "busy"}, "availability"),
        ("availability", {"availability": "ONLINE"}, "availability"),
        ("availability", {}, "availability"),
        ("languages", {"languages": ["español"]}, "languages.0"),
        ("languages", {"languages": ["e"]}, "languages.0"),
        ("languages", {"languages": ["en_US_x"]}, "languages.0"),
        ("languages", {"languages": []}, "languages"),
        ("skills", {"generalist": True}, "skills"),
        ("skills", {"skills": ["  "]}, "skills.0"),
        ("capacity", {"capacity": -1}, "capacity"),
        ("capacity", {"capacity": "5"}, "capacity"),
        ("capacity", {"capacity": 1.5}, "capacity"),
        ("capacity", {}, "capacity"),
        ("deactivate", {"reason": "vacaciones"}, "reason"),
        ("reactivate", {"now": True}, "now"),
        ("capacity", {"capacity": 2, "extra": 1}, "extra"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_bad_change_is_422_naming_the_field_and_changes_nothing(
    admin: Api, auditor: Api, name, body, field
):
    agent = register(admin)
    before = read_agent(admin, agent["id"])
    with nothing_stored(auditor):
        response = admin.post(f"/v1/agents/{agent['id']}/{name}", body)
    assert_problem(response, 422, field)
    assert read_agent(admin, agent["id"]) == before


def test_a_body_that_is_not_json_is_refused_and_registers_no_one(admin: Api, auditor: Api):
    with nothing_stored(auditor):
        response = admin.post(
            "/v1/agents", data=b"{not json", headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 400)


# Unknown agents


def test_an_unknown_agent_is_404(admin: Api):
    assert_problem(admin.get(f"/v1/agents/{uuid.uuid4()}"), 404)


@pytest.mark.parametrize("name", list(CHANGE_BODIES))
def test_changing_an_unknown_agent_is_404_and_stores_nothing(admin: Api, auditor, name):
    with nothing_stored(auditor):
        response = admin.post(f"/v1/agents/{uuid.uuid4()}/{name}", CHANGE_BODIES[name])
    assert_problem(response, 404)


@pytest.mark.parametrize("path", ["/v1/agents/not-a-uuid", "/v1/agents/123/availability"])
def test_an_agent_id_that_is_not_a_uuid_is_404(admin: Api, auditor: Api, path):
    assert_problem(admin.get(path), 404)
    with nothing_stored(auditor):
        assert_problem(admin.post(path, {"availability": "away"}), 404)


def test_a_ticket_id_is_not_an_agent(admin: Api, api: Api):
    tid = quechua_ticket(api)
    assert_problem(admin.get(f"/v1/agents/{tid}"), 404)


# Roles


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_analysts_and_auditors_may_read_agents_but_not_change_them(
    admin: Api, api_as, auditor: Api, role
):
    agent = register(admin)
    reader = api_as(role)
    assert reader.get(f"/v1/agents/{agent['id']}").json() == read_agent(admin, agent["id"])
    assert agent["id"] in listed(reader, agent["position"])
    with nothing_stored(auditor):
        assert_problem(reader.post("/v1/agents", agent_body()), 403)
        for name, body in CHANGE_BODIES.items():
            assert_problem(reader.post(f"/v1/agents/{agent['id']}/{name}", body), 403)
    assert read_agent(admin, agent["id"])["version"] == 1


def test_an_agent_may_set_availability_but_not_register_or_change_skills(
    admin: Api, api_as, auditor: Api
):
    agent = register(admin)
    me = agent["id"]
    person = acting_as(admin, me)
    away = person.post(f"/v1/agents/{me}/availability", {"availability": "away"})
    assert away.status_code == 200 and away.json()["availability"] == "away"
    events = agent_events(auditor, agent)
    assert events[-1]["actor"]["role"] == "agent"

    with nothing_stored(auditor):
        assert_problem(person.post("/v1/agents", agent_body()), 403)
        for name, body in CHANGE_BODIES.items():
            if name != "availability":
                assert_problem(person.post(f"/v1/agents/{me}/{name}", body), 403)
    assert read_agent(admin, me)["version"] == 2
    assert person.get(f"/v1/agents/{me}").status_code == 200


def test_an_integrator_may_register_and_change_agents(api: Api):
    agent = api.post("/v1/agents", agent_body())
    assert agent.status_code == 201, agent.text
    changed = api.post(f"/v1/agents/{agent.json()['id']}/capacity", {"capacity": 2})
    assert changed.status_code == 200 and changed.json()["capacity"] == 2


def test_without_a_token_agents_are_401(admin: Api, api_as, auditor: Api):
    agent = register(admin)
    anonymous = api_as(None)
    assert_problem(anonymous.get("/v1/agents"), 401)
    assert_problem(anonymous.get(f"/v1/agents/{agent['id']}"), 401)
    with nothing_stored(auditor):
        assert_problem(anonymous.post("/v1/agents", agent_body()), 401)
        response = anonymous.post(
            f"/v1/agents/{agent['id']}/availability", {"availability": "away"}
        )
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


# Assigning tickets by hand


def test_assigning_to_an_unknown_agent_is_404_and_stores_nothing(api: Api, auditor: Api):
    tid = quechua_ticket(api)
    with nothing_stored(auditor, tid):
        response = api.command(tid, "assign", {"agent_id": str(uuid.uuid4())})
    assert_problem(response, 404)
    assert api.get(f"/v1/tickets/{tid}").json()["assignee"] is None


def test_assigning_to_an_unknown_agent_is_404_even_when_forced(api: Api, auditor: Api):
    tid = quechua_ticket(api)
    with nothing_stored(auditor, tid):
        response = api.command(tid, "assign", {"agent_id": str(uuid.uuid4()), "force": True})
    assert_problem(response, 404)


def test_assigning_to_an_offline_agent_is_refused_unless_forced(api: Api, admin: Api, auditor: Api):
    tid = quechua_ticket(api)
    agent = register(admin)["id"]
    with nothing_stored(auditor, tid):
        refused = api.command(tid, "assign", {"agent_id": agent})
    doc = assert_problem(refused, 409)
    assert doc["type"].endswith("agent-unavailable") and "offline" in doc["detail"]

    forced = api.command(tid, "assign", {"agent_id": agent, "force": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["assignee"] == agent and forced.json()["status"] == "open"
    assert api.get(f"/v1/tickets/{tid}").json()["assignee"] == agent
    events = history(api, tid)
    assert [e["type"] for e in events] == ["opened", "assigned"]
    assert events[-1]["data"] == {"agent_id": agent, "reason": None}


def test_assigning_to_a_deactivated_agent_is_refused_unless_forced(
    api: Api, admin: Api, auditor: Api
):
    tid = quechua_ticket(api)
    agent = register(admin)["id"]
    change(admin, agent, "availability", {"availability": "away"})
    change(admin, agent, "deactivate", {})
    with nothing_stored(auditor, tid):
        refused = api.command(tid, "assign", {"agent_id": agent})
    doc = assert_problem(refused, 409)
    assert doc["type"].endswith("agent-unavailable") and "deactivated" in doc["detail"]

    forced = api.command(tid, "assign", {"agent_id": agent, "force": True})
    assert forced.status_code == 200, forced.text
    assert api.get(f"/v1/tickets/{tid}").json()["assignee"] == agent
    assert api.history_types(tid) == ["opened", "assigned"]


def test_an_online_agent_can_be_assigned_by_hand(api: Api, admin: Api):
    tid = quechua_ticket(api)
    agent = register(admin)["id"]  # capacity 0: a person may still give them a ticket
    with online(admin, agent):
        response = api.command(tid, "assign", {"agent_id": agent})
    assert response.status_code == 200, response.text
    assert api.get(f"/v1/tickets/{tid}").json()["assignee"] == agent


def test_an_away_agent_can_be_assigned_by_hand(api: Api, api_as):
    tid = quechua_ticket(api)
    response = api_as("agent").command(tid, "assign", {"agent_id": agent_id("a-2")})
    assert response.status_code == 200, response.text
    assert response.json()["assignee"] == agent_id("a-2")
    stored = api.get(f"/v1/tickets/{tid}").json()
    assert stored["assignee"] == agent_id("a-2") and stored["status"] == "open"
    assert api.history_types(tid) == ["opened", "assigned"]


def test_reassigning_to_the_same_agent_records_nothing(api: Api, auditor: Api):
    tid = quechua_ticket(api)
    assert api.command(tid, "assign", {"agent_id": agent_id("a-2")}).status_code == 200
    with nothing_stored(auditor, tid):
        again = api.command(tid, "assign", {"agent_id": agent_id("a-2")})
    assert again.status_code == 200 and again.json()["version"] == 2


@pytest.mark.parametrize("bad", ["a-2", "not-a-uuid", "1234"])
def test_assigning_to_an_agent_id_that_is_not_a_uuid_is_422(api: Api, auditor: Api, bad):
    tid = quechua_ticket(api)
    with nothing_stored(auditor, tid):
        assert_problem(api.command(tid, "assign", {"agent_id": bad}), 422, "agent_id")


@pytest.mark.parametrize("force", ["maybe", None, 2, []])
def test_assigning_with_force_that_is_not_a_boolean_is_422(api: Api, auditor: Api, force):
    tid = quechua_ticket(api)
    body = {"agent_id": agent_id("a-2"), "force": force}
    with nothing_stored(auditor, tid):
        assert_problem(api.command(tid, "assign", body), 422, "force")


def test_assigning_a_closed_ticket_is_409_and_stores_nothing(api: Api, auditor: Api, closed_ticket):
    with nothing_stored(auditor, closed_ticket):
        response = api.command(closed_ticket, "assign", {"agent_id": agent_id("a-2")})
    assert assert_problem(response, 409)["type"].endswith("transition-not-allowed")


def test_a_persons_assignment_moves_the_etag(api: Api):
    tid = quechua_ticket(api)
    assert api.get(f"/v1/tickets/{tid}").headers["ETag"] == '"1"'
    assigned = api.command(
        tid, "assign", {"agent_id": agent_id("a-1")}, headers={"If-Match": '"1"'}
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.headers["ETag"] == '"2"'
    assert api.get(f"/v1/tickets/{tid}").headers["ETag"] == '"2"'

    stale = api.command(tid, "priority", {"priority": "high"}, headers={"If-Match": '"1"'})
    assert_problem(stale, 412)
    current = api.command(tid, "priority", {"priority": "high"}, headers={"If-Match": '"2"'})
    assert current.status_code == 200 and current.headers["ETag"] == '"3"'
    assert api.history_types(tid) == ["opened", "assigned", "priority_changed"]


def test_an_assignment_with_a_stale_if_match_is_412_and_stores_nothing(api: Api, auditor: Api):
    tid = quechua_ticket(api)
    api.command(tid, "priority", {"priority": "low"})
    with nothing_stored(auditor, tid):
        response = api.command(
            tid, "assign", {"agent_id": agent_id("a-1")}, headers={"If-Match": '"1"'}
        )
    assert_problem(response, 412)


# The ticket's language


def test_a_ticket_language_can_be_changed_by_hand(api: Api):
    tid = quechua_ticket(api)
    # Assigned first, so the router never considers it once it is in a common language.
    assert api.command(tid, "assign", {"agent_id": agent_id("a-2")}).status_code == 200
    response = api.command(tid, "language", {"language": "pt-BR"})
    assert response.status_code == 200, response.text
    assert response.json()["language"] == "pt-BR"
    stored = api.get(f"/v1/tickets/{tid}")
    assert stored.json()["language"] == "pt-BR" and stored.headers["ETag"] == '"3"'
    events = history(api, tid)
    assert events[-1]["type"] == "language_changed"
    assert events[-1]["data"]["language"] == "pt-BR"


@pytest.mark.parametrize("language", ["português", "p", "pt_BR_x", "", None])
def test_an_invalid_ticket_language_is_422_and_stores_nothing(api: Api, auditor: Api, language):
    tid = quechua_ticket(api)
    with nothing_stored(auditor, tid):
        response = api.command(tid, "language", {"language": language})
    assert_problem(response, 422, "language")
    assert api.get(f"/v1/tickets/{tid}").json()["language"] == LANGUAGE


def test_a_closed_tickets_language_cannot_change(api: Api, auditor: Api, closed_ticket):
    with nothing_stored(auditor, closed_ticket):
        response = api.command(closed_ticket, "language", {"language": "pt-BR"})
    assert_problem(response, 409)


def test_the_head_of_the_feed_moves_with_each_agent_change(admin: Api, auditor: Api):
    before = head(auditor)
    agent = register(admin)
    assert agent["position"] > before
    changed = change(admin, agent["id"], "capacity", {"capacity": 2})
    assert changed["position"] > agent["position"]
    assert head(auditor) >= changed["position"]
