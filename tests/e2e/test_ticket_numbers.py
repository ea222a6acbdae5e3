"""Dense ticket numbers through real gunicorn workers: the 201 of the first tickets says
1, 2, 3; tickets opened at once through both workers get the next numbers with no gap or
repeat; GET /v1/tickets/by-number/{n} answers as GET /v1/tickets/{id} does, 404 for a
number no ticket has, 422 naming n for anything that is not a number.

The module has its own server (a fresh database per backend): the first tickets must be
its first tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests

from tests.databases import BACKENDS
from tests.e2e.api import Api, ticket_body
from tests.e2e.problems import assert_problem
from tests.e2e.server import Server, running_server

ROLES = ("integrator", "analyst")


@pytest.fixture(scope="module")
def agents() -> None:
    """This module never touches the shared e2e server, so it need not seed its agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"numbers-{request.param}")
    with running_server(request.param, directory, workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    return {
        role: server.create_token(role, f"numbers-{role}") for role in ("integrator", "analyst")
    }


@pytest.fixture(scope="module")
def first_three(server: Server, tokens: dict[str, str]) -> list[dict]:
    """The server's first three tickets, opened before any other test's."""
    api = Api(server.base_url, tokens["integrator"])
    return [api.open_ticket(subject=f"Primero {i}") for i in range(3)]


@pytest.fixture
def api(server: Server, tokens: dict[str, str], first_three: list[dict]) -> Api:
    return Api(server.base_url, tokens["integrator"])


def by_number(api: Api, n: object, **kwargs):
    return api.get(f"/v1/tickets/by-number/{n}", **kwargs)


def test_the_first_tickets_are_numbered_one_two_three(first_three):
    assert [t["number"] for t in first_three] == [1, 2, 3]


def test_tickets_opened_at_once_through_both_workers_get_the_next_numbers(api):
    before = api.open_ticket()["number"]

    def post(i: int) -> dict:
        body = ticket_body(requester={"name": f"C{i}", "email": f"c{i}@example.com"})
        # A session of its own per request: requests' sessions are not for sharing
        # between threads.
        headers = {"Authorization": api.session.headers["Authorization"]}
        answer = requests.post(api.base_url + "/v1/tickets", json=body, headers=headers, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        opened = list(pool.map(post, range(24)))
    assert sorted(t["number"] for t in opened) == list(range(before + 1, before + 25))
    for ticket in opened:
        found = by_number(api, ticket["number"])
        assert found.status_code == 200, found.text
        assert found.json()["id"] == ticket["id"]


def test_a_ticket_reads_back_by_its_number_as_by_its_id(api, first_three):
    second = first_three[1]
    found = by_number(api, 2)
    direct = api.get(f"/v1/tickets/{second['id']}")
    assert found.status_code == 200, found.text
    assert found.json() == direct.json()
    assert found.json()["number"] == 2 and found.json()["id"] == second["id"]
    assert found.headers["ETag"] == direct.headers["ETag"]
    assert found.headers["Content-Location"] == f"/v1/tickets/{second['id']}"


def test_a_ticket_reads_by_its_number_as_it_was(api, first_three):
    first = first_three[0]
    assert api.command(first["id"], "priority", {"priority": "urgent"}).status_code == 200
    at = datetime.fromisoformat(first["created_at"]).astimezone(UTC).isoformat()
    then = by_number(api, 1, params={"as_of": at})
    assert then.status_code == 200, then.text
    assert (then.json()["priority"], then.json()["version"]) == ("normal", 1)
    assert by_number(api, 1).json()["priority"] == "urgent"


def test_a_number_no_ticket_has_is_404(api):
    doc = assert_problem(by_number(api, 999_999), 404)
    assert "999999" in doc["detail"]
    assert_problem(by_number(api, 2**63 - 1), 404)


@pytest.mark.parametrize(
    "n",
    [
        "0", "-1", "+1", "01", "1.5", "1e3", "abc", "%201", "1_0", "0x1",
        "%D9%A1",  # ARABIC-INDIC DIGIT ONE, which int() reads as 1
        str(2**63), "9" * 200,
    ],
)  # fmt: skip
def test_a_number_that_is_not_a_positive_64_bit_integer_is_422_naming_n(api, n):
    assert_problem(by_number(api, n), 422, "n")


def test_by_number_takes_no_unknown_parameter(api):
    assert_problem(by_number(api, 1, params={"number": "1"}), 422, "number")


def test_by_number_needs_a_ticket_reader(server, tokens, first_three):
    assert_problem(by_number(Api(server.base_url, None), 1), 401)
    assert_problem(by_number(Api(server.base_url, tokens["analyst"]), 1), 403)


def test_the_list_and_the_queue_show_the_numbers(api, first_three):
    head = api.get(f"/v1/tickets/{first_three[2]['id']}").json()["position"]
    listed = api.get(f"/v1/tickets?limit=200&after_position={head}").json()["items"]
    numbers = {t["id"]: t["number"] for t in listed}
    assert [numbers[t["id"]] for t in first_three] == [1, 2, 3]
    queue = api.get(f"/v1/queue?limit=200&after_position={head}").json()["items"]
    assert {t["id"]: t["number"] for t in queue}[first_three[2]["id"]] == 3
