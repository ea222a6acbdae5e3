"""The query-parameter guard on a bare Falcon app: a route takes the parameters its
OpenAPI entry declares and nothing else; a route without an entry takes none."""

from __future__ import annotations

import falcon
import falcon.testing
import pytest

from interface.http.middleware.query_params import QueryParams, accepted_names
from interface.http.openapi.operation import Operation
from interface.http.schemas.reports import DateRangeIn


class Plain:
    def on_get(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        resp.media = {"params": dict(req.params)}


@pytest.fixture
def client() -> falcon.testing.TestClient:
    declared = {("/declared", "get"): Operation("a report", "reports", None, query=DateRangeIn)}
    app = falcon.App(middleware=[QueryParams(declared)])
    app.add_route("/declared", Plain())
    app.add_route("/undeclared/{n:int}", Plain())
    return falcon.testing.TestClient(app)


def test_a_schemas_names_are_its_data_keys():
    assert accepted_names(DateRangeIn) == {"from", "to", "after_position"}
    assert accepted_names(None) == frozenset()


def test_declared_parameters_reach_the_responder(client):
    answer = client.simulate_get("/declared", params={"from": "2026-01-01", "to": "x"})
    assert answer.status_code == 200
    assert answer.json == {"params": {"from": "2026-01-01", "to": "x"}}


def test_an_undeclared_parameter_is_refused_naming_it_and_what_the_route_takes(client):
    answer = client.simulate_get("/declared", query_string="from=2026-01-01&since=2026-01-01")
    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["since"]
    assert "after_position, from, to" in answer.json["errors"]["since"][0]


def test_a_route_without_an_entry_refuses_any_parameter_even_a_blank_one(client):
    assert client.simulate_get("/undeclared/7").status_code == 200
    answer = client.simulate_get("/undeclared/7", query_string="as_of=")
    assert answer.status_code == 422
    refusal = "Unknown parameter; this route takes no parameters."
    assert answer.json["errors"] == {"as_of": [refusal]}


def test_unknown_routes_and_methods_keep_their_own_answers(client):
    assert client.simulate_get("/nowhere", query_string="x=1").status_code == 404
    assert client.simulate_post("/declared", query_string="x=1").status_code == 405
