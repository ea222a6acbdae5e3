"""Satisfaction surveys and the reports, through the real server: resolve -> survey ->
rating -> report figures, exact for a hand-computed data set.

Each test works in a category and with an agent of its own, so its report rows are its
own whatever else the shared server holds.
"""

from __future__ import annotations

import base64
import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.api import Api, agent_email
from tests.e2e.problems import assert_problem, history, nothing_stored


def today() -> date:
    return datetime.now(UTC).date()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_agent(admin: Api) -> str:
    name = unique("csat")
    body = {"name": name, "email": agent_email(name), "languages": ["es"], "capacity": 100}
    registered = admin.post("/v1/agents", body)
    assert registered.status_code == 201, registered.text
    return registered.json()["id"]


def worked_ticket(api: Api, agent: str, category: str, **overrides: Any) -> dict[str, Any]:
    """Opened, assigned to ``agent``, answered by them in public, resolved."""
    ticket = api.open_ticket(category=category, language="es", **overrides)
    tid = ticket["id"]
    assigned = api.command(tid, "assign", {"agent_id": agent, "force": True})
    assert assigned.status_code == 200, assigned.text
    reply = {"body": "Ya lo revisamos.", "author_type": "agent", "author_id": agent,
             "visibility": "public"}  # fmt: skip
    assert api.command(tid, "messages", reply).status_code == 200
    resolved = api.command(tid, "resolve", {"resolution": "Reiniciamos el puerto."})
    assert resolved.status_code == 200, resolved.text
    return resolved.json()


def survey_of(api: Api, ticket_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/tickets/{ticket_id}/survey")
    assert response.status_code == 200, response.text
    return response.json()


def answer(customer: Api, token: str, rating: Any, **body: Any) -> Any:
    return customer.post(f"/v1/surveys/{token}", {"rating": rating, **body})


def report(reader: Api, path: str, position: int, **params: Any) -> dict[str, Any]:
    """The window runs from yesterday to tomorrow, taken when asked: a test whose
    tickets and report straddle midnight (UTC) still finds its rows."""
    around = {"from": (today() - timedelta(days=1)).isoformat(),
              "to": (today() + timedelta(days=1)).isoformat()}  # fmt: skip
    params = {**around, **params}
    response = reader.get(path, params={**params, "after_position": position})
    assert response.status_code == 200, response.text
    return response.json()


def seconds_between(earlier: str, later: str) -> int:
    return int((datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds())


@pytest.fixture
def analyst(api_as) -> Api:
    return api_as("analyst")


@pytest.fixture
def customer(api_as) -> Api:
    return api_as(None)  # the survey link is the customer's only credential


def test_resolve_survey_rating_and_reports_add_up_exactly(api, api_as, analyst, customer):
    admin, category = api_as("admin"), unique("fibra")
    agent = new_agent(admin)
    tickets = [worked_ticket(api, agent, category) for _ in range(3)]
    tokens = [survey_of(api, t["id"])["token"] for t in tickets]
    ratings = [5, 4, 2]
    positions = []
    for token, rating in zip(tokens, ratings, strict=True):
        rated = answer(customer, token, rating, comment="Gracias")
        assert rated.status_code == 200, rated.text
        assert rated.json()["status"] == "rated" and rated.json()["rating"] == rating
        positions.append(rated.json()["position"])
    # The third customer changes their mind inside the window: 2 becomes 3.
    replaced = answer(customer, tokens[2], 3)
    assert replaced.status_code == 200 and replaced.json()["rating"] == 3
    position = replaced.json()["position"]
    assert position > max(positions)

    by_category = report(analyst, "/v1/reports/satisfaction", position, group_by="category")
    [group] = [g for g in by_category["groups"] if g["group"] == category]
    # Hand-computed: 3 sent, 3 answered, ratings 5, 4, 3: average 4, two of three 4-5.
    assert group == {
        "group": category, "surveys_sent": 3, "responses": 3, "response_rate": 100.0,
        "average_rating": 4.0, "csat": 66.67,
    }  # fmt: skip

    figures = report(analyst, f"/v1/agents/{agent}/performance", position)
    assert figures["agent_id"] == agent
    assert (figures["assigned"], figures["resolved"], figures["reopened"]) == (3, 3, 0)
    assert figures["resolution_rate"] == 100.0 and figures["reopen_rate"] == 0.0
    assert figures["csat"]["responses"] == 3 and figures["csat"]["csat"] == 66.67
    # Calendar times from the recorded events, nearest rank (3 samples: median = 2nd).
    first_responses, resolutions = [], []
    for t in tickets:
        events = history(api, t["id"])
        opened = events[0]["occurred_at"]
        reply = next(e for e in events if e["type"] == "message_added")["occurred_at"]
        resolved = next(e for e in events if e["type"] == "resolved")["occurred_at"]
        first_responses.append(seconds_between(opened, reply))
        resolutions.append(seconds_between(opened, resolved))
    assert figures["first_response"]["count"] == 3
    assert figures["first_response"]["calendar_seconds"]["median"] == sorted(first_responses)[1]
    assert figures["resolution"]["calendar_seconds"]["p90"] == max(resolutions)

    everyone = report(analyst, "/v1/reports/agents", position)
    assert [a for a in everyone["agents"] if a["agent_id"] == agent] == [
        {k: v for k, v in figures.items() if k not in ("from", "to")}
    ]


def test_a_get_of_the_link_shows_the_question_and_records_nothing(api, api_as, customer):
    ticket = worked_ticket(api, new_agent(api_as("admin")), unique("cat"), subject="Sin señal")
    survey = survey_of(api, ticket["id"])
    with nothing_stored(api, ticket["id"]):
        for _ in range(3):  # a mail scanner, a preview, the customer
            shown = customer.get(survey["link"])
            assert shown.status_code == 200, shown.text
    page = shown.json()
    assert page["ticket"]["subject"] == "Sin señal"
    assert page["language"] == "es" and page["question"].startswith("¿Cómo")
    assert page["status"] == "open" and page["rating"] is None
    assert shown.headers["Cache-Control"] == "no-store"
    assert survey_of(api, ticket["id"])["rating"] is None


def test_reopening_the_ticket_voids_its_survey(api, api_as, customer):
    ticket = worked_ticket(api, new_agent(api_as("admin")), unique("cat"))
    token = survey_of(api, ticket["id"])["token"]
    assert api.command(ticket["id"], "reopen", {"reason": "sigue sin andar"}).status_code == 200
    assert assert_problem(customer.get(f"/v1/surveys/{token}"), 410)["state"] == "voided"
    assert_problem(answer(customer, token, 5), 410)
    assert survey_of(api, ticket["id"])["status"] == "voided"


def test_only_those_who_send_the_link_see_its_token(api, api_as):
    ticket = worked_ticket(api, new_agent(api_as("admin")), unique("cat"))
    as_agent = survey_of(api_as("agent"), ticket["id"])
    assert "token" not in as_agent and as_agent["status"] == "open"
    assert survey_of(api, ticket["id"])["link"].startswith("/v1/surveys/")


def test_reports_can_be_exported_as_csv(api, api_as, analyst, customer):
    category = unique("csv")
    ticket = worked_ticket(api, new_agent(api_as("admin")), category)
    rated = answer(customer, survey_of(api, ticket["id"])["token"], 5)
    position = rated.json()["position"]
    response = analyst.get(
        "/v1/reports/satisfaction",
        params={"group_by": "category", "after_position": position},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["category", "surveys_sent", "responses", "response_rate",
                       "average_rating", "csat"]  # fmt: skip
    assert [category, "1", "1", "100.0", "5.0", "100.0"] in rows
    agents = analyst.get("/v1/reports/agents", headers={"Accept": "text/csv"})
    header = next(csv.reader(io.StringIO(agents.text)))
    assert "first_response.business_seconds.median" in header and "csat.csat" in header


def test_reports_are_for_analysts_not_agents(api_as):
    assert_problem(api_as("agent").get("/v1/reports/satisfaction"), 403)
    assert_problem(api_as(None).get("/v1/reports/agents"), 401)


# Bad input: a clear problem naming the field, and nothing stored.


def test_unknown_or_malformed_survey_links_are_not_found(api, customer):
    forged = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode()
    with nothing_stored(api):
        for token in (forged, "abc", "x" * 43, "%00"):
            assert_problem(customer.get(f"/v1/surveys/{token}"), 404)
            assert_problem(answer(customer, token, 5), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "4"}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({"rating": True}, "rating"),
        ({}, "rating"),
        ({"rating": 4, "comment": "x" * 5001}, "comment"),
        ({"rating": 4, "comment": 7}, "comment"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_stored(api, api_as, customer, body, field):
    ticket = worked_ticket(api, new_agent(api_as("admin")), unique("cat"))
    token = survey_of(api, ticket["id"])["token"]
    with nothing_stored(api, ticket["id"]):
        assert_problem(customer.post(f"/v1/surveys/{token}", body), 422, field)
    assert survey_of(api, ticket["id"])["rating"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-03-01T12:00:00Z"}, "from"),  # these reports count whole UTC days
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
    ],
)
def test_bad_report_queries_name_the_field(analyst, params, field):
    assert_problem(analyst.get("/v1/reports/satisfaction", params=params), 422, field)
    if field != "group_by":
        assert_problem(analyst.get("/v1/reports/agents", params=params), 422, field)


def test_the_performance_of_an_unknown_agent_is_not_found(analyst):
    assert_problem(analyst.get(f"/v1/agents/{uuid.uuid4()}/performance"), 404)


def test_a_ticket_never_resolved_has_no_survey(api, ticket):
    assert_problem(api.get(f"/v1/tickets/{ticket}/survey"), 404)


def test_the_default_range_is_the_last_thirty_days(analyst):
    before = today()
    document = report(analyst, "/v1/reports/satisfaction", 0, **{"from": None, "to": None})
    # The server's today is one of the two days the request fell between.
    last = date.fromisoformat(document["to"])
    assert last in {before, today()}
    assert document["from"] == (last - timedelta(days=29)).isoformat()
