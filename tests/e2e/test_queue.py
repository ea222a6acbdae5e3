"""The queue through the real server and its projector: order, filters, pages,
read-your-writes, and its bad inputs."""

from __future__ import annotations

import uuid

import pytest

from domain.actor import ROLES
from tests.e2e.api import Api, agent_id
from tests.e2e.problems import assert_problem


def queue(api: Api, **params):
    response = api.get("/v1/queue", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_ticket_is_in_the_queue_when_read_after_its_position(api: Api):
    tag = f"rw{uuid.uuid4().hex[:8]}"
    ticket = api.open_ticket(tags=[tag])
    page = queue(api, tag=tag, after_position=ticket["position"])
    assert [item["id"] for item in page["items"]] == [ticket["id"]]
    item = page["items"][0]
    assert item["number"] == ticket["number"] and item["requester_name"] == "Ana Souza"
    assert item["sla_due_at"] is None and item["sla_breached"] is False


def test_the_queue_orders_by_priority_then_age_and_follows_commands(api: Api, api_as):
    tag = f"ord{uuid.uuid4().hex[:8]}"
    low = api.open_ticket(tags=[tag], priority="low")["id"]
    first = api.open_ticket(tags=[tag])["id"]
    second = api.open_ticket(tags=[tag])["id"]
    urgent = api.open_ticket(tags=[tag], priority="urgent")
    page = queue(api, tag=tag, after_position=urgent["position"])
    assert [i["id"] for i in page["items"]] == [urgent["id"], first, second, low]

    agent = api_as("agent")
    moved = agent.command(low, "priority", {"priority": "high"}).json()
    done = agent.command(first, "resolve", {}).json()
    position = max(moved["position"], done["position"])
    page = queue(api, tag=tag, after_position=position)
    assert [i["id"] for i in page["items"]] == [urgent["id"], low, second]


def test_every_filter_works_through_the_server(api: Api, api_as):
    tag = f"flt{uuid.uuid4().hex[:8]}"
    chat = api.open_ticket(tags=[tag], channel="chat", language="pt-BR", category="red")["id"]
    mine = api.open_ticket(tags=[tag], priority="high")["id"]
    last = api_as("agent").command(mine, "assign", {"agent_id": agent_id("maria")}).json()
    wait = {"tag": tag, "after_position": last["position"]}
    expectations = {
        "assignee": (agent_id("maria"), [mine]),
        "unassigned": ("true", [chat]),
        "language": ("pt", [chat]),
        "channel": ("chat", [chat]),
        "priority": ("high", [mine]),
        "category": ("red", [chat]),
        "status": ("open", [mine]),
    }
    for name, (value, expected) in expectations.items():
        got = [i["id"] for i in queue(api, **wait, **{name: value})["items"]]
        assert got == expected, name


def test_pages_of_the_queue_chain_through_next_cursor(api: Api):
    tag = f"pg{uuid.uuid4().hex[:8]}"
    opened = [api.open_ticket(tags=[tag]) for _ in range(5)]
    seen, params = [], {"tag": tag, "limit": 2, "after_position": opened[-1]["position"]}
    while True:
        page = queue(api, **params)
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"tag": tag, "limit": 2, "cursor": page["next_cursor"]}
    assert seen == [t["id"] for t in opened]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_read_the_queue(api_as, role):
    assert api_as(role).get("/v1/queue").status_code == 200


def test_the_queue_needs_a_token(api_as):
    assert_problem(api_as(None).get("/v1/queue"), 401)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": 201}, "limit"),
        ({"status": "resolved"}, "status"),
        ({"status": "bogus"}, "status"),
        ({"channel": "fax"}, "channel"),
        ({"priority": "asap"}, "priority"),
        ({"language": "español"}, "language"),
        ({"unassigned": "maybe"}, "unassigned"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"after_position": "abc"}, "after_position"),
        ({"after_position": 10**12}, "after_position"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_queue_query_is_422_naming_the_parameter(api: Api, params, field):
    assert_problem(api.get("/v1/queue", params=params), 422, field)


def test_a_cursor_from_another_query_is_refused(api: Api):
    tag = f"cur{uuid.uuid4().hex[:8]}"
    last = [api.open_ticket(tags=[tag]) for _ in range(2)][-1]
    page = queue(api, tag=tag, limit=1, after_position=last["position"])
    other = api.get("/v1/queue", params={"tag": "other", "cursor": page["next_cursor"]})
    assert_problem(other, 422, "cursor")
