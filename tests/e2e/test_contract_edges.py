"""Contract edges through the real server (issue 17 items 12 and 17): If-Match on the
calendar and policy PUTs, past calendar revisions, unknown query parameters refused on
every route, and one window convention (and CSV) across the reports."""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.api import Api, agent_id
from tests.e2e.problems import assert_problem, head, nothing_stored

ALWAYS = {"timezone": "UTC", "always_open": True}
OFFICE = {"timezone": "Europe/Lisbon", "weekly": {"monday": [["09:00", "17:00"]]}}
LATE = {"timezone": "Europe/Lisbon", "weekly": {"monday": [["10:00", "19:00"]]}}
PRECONDITION_FAILED = "urn:atende:problem:precondition-failed"


@pytest.fixture
def admin(api_as) -> Api:
    return api_as("admin")


@pytest.fixture
def analyst(api_as) -> Api:
    return api_as("analyst")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def put(client: Api, path: str, body: Any, **headers: str) -> requests.Response:
    return client.session.put(f"{client.base_url}{path}", json=body, headers=headers, timeout=30)


def calendar(admin: Api, name: str, **params: Any) -> requests.Response:
    return admin.get(f"/v1/calendars/{name}", params=params)


def today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# If-Match on the calendar PUT


def test_a_calendar_put_with_a_stale_etag_is_refused_and_changes_nothing(admin: Api):
    name = unique("cal")
    created = put(admin, f"/v1/calendars/{name}", ALWAYS)
    assert (created.status_code, created.headers["ETag"]) == (201, '"1"')
    revised = put(admin, f"/v1/calendars/{name}", OFFICE, **{"If-Match": '"1"'})
    assert (revised.status_code, revised.headers["ETag"]) == (200, '"2"')
    before, position = calendar(admin, name).json(), head(admin)
    stale = put(admin, f"/v1/calendars/{name}", LATE, **{"If-Match": '"1"'})
    problem = assert_problem(stale, 412)
    assert (problem["type"], problem["current_version"]) == (PRECONDITION_FAILED, 2)
    assert calendar(admin, name).json() == before
    assert head(admin) == position
    assert_problem(calendar(admin, name, revision=3), 404)


@pytest.mark.parametrize("tag", ['W/"2"', '"two"', '"3"'])
def test_a_calendar_put_whose_if_match_is_not_the_current_strong_etag_is_refused(
    admin: Api, tag: str
):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    assert put(admin, f"/v1/calendars/{name}", OFFICE).status_code == 200
    before = calendar(admin, name).json()
    assert_problem(put(admin, f"/v1/calendars/{name}", LATE, **{"If-Match": tag}), 412)
    assert calendar(admin, name).json() == before


def test_a_calendar_put_with_the_current_etag_or_any_succeeds(admin: Api):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    etag = calendar(admin, name).headers["ETag"]
    matching = put(admin, f"/v1/calendars/{name}", OFFICE, **{"If-Match": etag})
    assert (matching.status_code, matching.json()["weekly"]) == (200, OFFICE["weekly"])
    anything = put(admin, f"/v1/calendars/{name}", LATE, **{"If-Match": "*"})
    assert (anything.status_code, anything.headers["ETag"]) == (200, '"3"')
    assert calendar(admin, name).json()["weekly"] == LATE["weekly"]


def test_a_calendar_put_without_if_match_still_overwrites(admin: Api):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    assert put(admin, f"/v1/calendars/{name}", OFFICE).status_code == 200
    assert calendar(admin, name).json()["revision"] == 2


def test_if_match_any_does_not_create_a_calendar(admin: Api):
    name = unique("cal")
    position = head(admin)
    assert_problem(put(admin, f"/v1/calendars/{name}", ALWAYS, **{"If-Match": "*"}), 412)
    assert_problem(calendar(admin, name), 404)
    assert head(admin) == position


# If-Match on the policy PUT


def own_policy(admin: Api, name: str) -> dict[str, Any]:
    cal = unique("cal")
    assert put(admin, f"/v1/calendars/{cal}", ALWAYS).status_code == 201
    return {"name": name, "calendar": cal, "targets": {"resolution": 3600},
            "conditions": {"tag": [unique("none")]}}  # fmt: skip


def test_the_policy_list_has_an_etag_and_a_stale_one_is_refused(admin: Api):
    current = admin.get("/v1/sla/policies")
    etag = current.headers["ETag"]
    assert etag == f'"{current.json()["version"]}"'
    mine = own_policy(admin, unique("policy"))
    replaced = put(admin, "/v1/sla/policies", {"policies": [mine]}, **{"If-Match": etag})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["ETag"] == f'"{replaced.json()["version"]}"' != etag
    before = admin.get("/v1/sla/policies").json()
    other = own_policy(admin, unique("policy"))
    position = head(admin)
    stale = put(admin, "/v1/sla/policies", {"policies": [other]}, **{"If-Match": etag})
    problem = assert_problem(stale, 412)
    assert (problem["type"], problem["current_version"]) == (PRECONDITION_FAILED, before["version"])
    assert admin.get("/v1/sla/policies").json() == before
    assert head(admin) == position


def test_the_policy_list_takes_if_match_any_and_no_if_match(admin: Api):
    first = own_policy(admin, unique("policy"))
    assert put(admin, "/v1/sla/policies", {"policies": [first]}, **{"If-Match": "*"}).ok
    second = own_policy(admin, unique("policy"))
    assert put(admin, "/v1/sla/policies", {"policies": [second]}).ok
    assert admin.get("/v1/sla/policies").json()["policies"][0]["name"] == second["name"]


# Past calendar revisions


def test_each_past_calendar_revision_reads_as_it_was(admin: Api, api_as):
    name = unique("cal")
    for body in (ALWAYS, OFFICE, LATE):
        assert put(admin, f"/v1/calendars/{name}", body).ok
    reader = api_as("analyst")
    first = calendar(reader, name, revision=1)
    assert first.status_code == 200, first.text
    assert (first.json()["revision"], first.json()["always_open"]) == (1, True)
    assert first.headers["ETag"] == '"1"'
    second = calendar(reader, name, revision=2).json()
    assert (second["revision"], second["weekly"]) == (2, OFFICE["weekly"])
    assert calendar(reader, name, revision=3).json() == calendar(reader, name).json()


def test_a_deleted_calendars_past_revisions_stay_readable(admin: Api):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", OFFICE).status_code == 201
    assert admin.session.delete(f"{admin.base_url}/v1/calendars/{name}").status_code == 204
    assert_problem(calendar(admin, name), 404)
    assert calendar(admin, name, revision=1).json()["weekly"] == OFFICE["weekly"]


def test_a_revision_the_calendar_never_had_is_not_found(admin: Api):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    assert_problem(calendar(admin, name, revision=2), 404)
    assert_problem(calendar(admin, unique("none"), revision=1), 404)


@pytest.mark.parametrize("revision", ["0", "-1", "two", "1.5", "", str(2**31)])
def test_a_bad_revision_is_refused_naming_it(admin: Api, revision: str):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    assert_problem(admin.get(f"/v1/calendars/{name}?revision={revision}"), 422, "revision")


# Unknown query parameters


UNKNOWN = [
    ("/v1/tickets/{ticket}/sla?as_of=", "as_of"),
    ("/v1/tickets/{ticket}/sla?as_of=2026-01-01T00:00:00Z", "as_of"),
    ("/v1/tickets/{ticket}?asof=2026-01-01T00:00:00Z", "asof"),
    ("/v1/tickets/{ticket}/history?since=2026-01-01", "since"),
    ("/v1/health?verbose=1", "verbose"),
    ("/v1/calendars/{calendar}?rev=1", "rev"),
    ("/v1/sla/policies?version=1", "version"),
    ("/v1/openapi.json?format=yaml", "format"),
    ("/docs?lang", "lang"),
    ("/v1/queue?sort=priority", "sort"),
    ("/v1/events?from=1", "from"),
    ("/v1/reports/agents?since=2026-01-01", "since"),
    ("/v1/sla/breaches?form=2026-01-01", "form"),
    ("/metrics?name=atende_http_requests", "name"),
]


@pytest.mark.parametrize(("path", "param"), UNKNOWN)
def test_an_unknown_query_parameter_is_refused_naming_it(
    admin: Api, ticket: str, path: str, param: str
):
    name = unique("cal")
    assert put(admin, f"/v1/calendars/{name}", ALWAYS).status_code == 201
    response = admin.get(path.format(ticket=ticket, calendar=name))
    problem = assert_problem(response, 422, param)
    assert list(problem["errors"]) == [param]


def test_declared_parameters_still_pass_beside_the_refusal(admin: Api, ticket: str):
    assert admin.get("/v1/queue", params={"limit": 1}).status_code == 200
    mixed = admin.get("/v1/queue", params={"limit": 1, "limt": 2})
    assert list(assert_problem(mixed, 422, "limt")["errors"]) == ["limt"]


def test_a_command_with_an_unknown_parameter_stores_nothing(api: Api, ticket: str):
    with nothing_stored(api, ticket):
        response = api.post(f"/v1/tickets/{ticket}/priority?dry_run=1", {"priority": "high"})
        assert_problem(response, 422, "dry_run")


def test_a_calendar_put_with_a_parameter_stores_nothing(admin: Api):
    name = unique("cal")
    position = head(admin)
    assert_problem(put(admin, f"/v1/calendars/{name}?revision=1", ALWAYS), 422, "revision")
    assert_problem(calendar(admin, name), 404)
    assert head(admin) == position


def test_a_stranger_is_told_to_authenticate_before_anything_about_parameters(api_as):
    assert_problem(api_as(None).get("/v1/queue?sort=priority"), 401)


# One window convention across the reports


REPORTS = [
    "/v1/reports/satisfaction",
    "/v1/reports/agents",
    "/v1/agents/{agent}/performance",
    "/v1/reports/sla",
    "/v1/sla/breaches",
]
DAY_REPORTS = REPORTS[:3]


def report_path(path: str) -> str:
    return path.format(agent=agent_id("maria"))


@pytest.mark.parametrize("path", REPORTS)
@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-03-10", "to": "2026-03-01"},
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "1952-01-01"},
        {"from": "2026-02-30"},
        {"from": "2026-03-01T00:00:00"},
        {"from": "yesterday"},
    ],
)
def test_every_report_refuses_the_same_bad_windows_naming_from(analyst: Api, path, params):
    assert_problem(analyst.get(report_path(path), params=params), 422, "from")


@pytest.mark.parametrize("path", REPORTS)
def test_every_report_refuses_a_bad_to(analyst: Api, path):
    assert_problem(analyst.get(report_path(path), params={"to": "tomorrow"}), 422, "to")


@pytest.mark.parametrize("path", REPORTS)
def test_every_report_takes_dates_and_midnight_instants(analyst: Api, path):
    day = today()
    for params in (
        {"from": day.date().isoformat(), "to": day.date().isoformat()},
        {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        {},
    ):
        response = analyst.get(report_path(path), params=params)
        assert response.status_code == 200, (params, response.text)


@pytest.mark.parametrize("path", DAY_REPORTS)
def test_day_reports_refuse_an_instant_off_midnight_naming_it(analyst: Api, path):
    noon = (today() + timedelta(hours=12)).isoformat()
    assert_problem(analyst.get(report_path(path), params={"from": noon}), 422, "from")
    response = analyst.get(report_path(path), params={"to": noon})
    assert list(assert_problem(response, 422, "to")["errors"]) == ["to"]


def test_every_report_defaults_to_the_last_thirty_days_up_to_today(analyst: Api):
    before = today()
    days = analyst.get("/v1/reports/agents").json()
    instants = analyst.get("/v1/reports/sla").json()
    # Midnight may pass between the requests: the server's today is one of these two.
    around = {before, today()}
    last_day = datetime.fromisoformat(days["to"]).replace(tzinfo=UTC)
    assert last_day in around
    assert days["from"] == (last_day - timedelta(days=29)).date().isoformat()
    end = datetime.fromisoformat(instants["to"])
    assert end - timedelta(days=1) in around
    assert datetime.fromisoformat(instants["from"]) == end - timedelta(days=30)


def test_the_sla_routes_take_a_date_as_its_whole_day(analyst: Api):
    day = today()
    response = analyst.get("/v1/reports/sla", params={"from": day.date().isoformat(),
                                                      "to": day.date().isoformat()})  # fmt: skip
    assert response.status_code == 200, response.text
    window = response.json()
    assert datetime.fromisoformat(window["from"]) == day
    assert datetime.fromisoformat(window["to"]) == day + timedelta(days=1)


# CSV on every report

CSV_HEADERS = {
    "/v1/reports/satisfaction": ["day", "surveys_sent", "responses", "response_rate",
                                 "average_rating", "csat"],
    "/v1/reports/agents": ["agent_id", "assigned", "resolved"],
    "/v1/agents/{agent}/performance": ["agent_id", "assigned", "resolved"],
    "/v1/reports/sla": ["metric", "policy", "period", "total", "met", "met_late", "breached",
                        "in_progress", "stopped"],
    "/v1/sla/breaches": ["ticket_id", "metric", "cycle", "policy", "target", "state",
                         "started_at", "due_at", "breached_at"],
}  # fmt: skip


def csv_rows(response: requests.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


@pytest.mark.parametrize("path", REPORTS)
def test_every_report_answers_csv_when_asked(analyst: Api, path: str):
    response = analyst.get(report_path(path), headers={"Accept": "text/csv"})
    header = csv_rows(response)[0]
    expected = CSV_HEADERS[path]
    assert header[: len(expected)] == expected
    assert analyst.get(report_path(path)).headers["Content-Type"].startswith("application/json")


def covered(admin: Api, targets: dict[str, int]) -> str:
    tag, cal = unique("edge"), unique("cal")
    assert put(admin, f"/v1/calendars/{cal}", ALWAYS).status_code == 201
    policy = {"name": f"policy-{tag}", "calendar": cal, "targets": targets,
              "conditions": {"tag": [tag]}}  # fmt: skip
    assert put(admin, "/v1/sla/policies", {"policies": [policy]}).status_code == 200
    return tag


def test_the_sla_report_as_csv_has_the_rows_of_the_json(api: Api, admin: Api, analyst: Api):
    tag = covered(admin, {"resolution": 3600})
    position = api.open_ticket(tags=[tag])["position"]
    params = {"after_position": position}
    groups = analyst.get("/v1/reports/sla", params=params).json()["groups"]
    mine = [g for g in groups if g["policy"] == f"policy-{tag}"]
    assert [(g["metric"], g["in_progress"]) for g in mine] == [("resolution", 1)]
    rows = csv_rows(analyst.get("/v1/reports/sla", params=params, headers={"Accept": "text/csv"}))
    as_csv = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    mine_csv = [r for r in as_csv if r["policy"] == f"policy-{tag}"]
    assert [(r["metric"], r["in_progress"], r["total"]) for r in mine_csv] == [
        ("resolution", "1", "1")
    ]


def test_breaches_as_csv_page_through_a_link_header(api: Api, admin: Api, analyst: Api):
    tag = covered(admin, {"first_response": 1})
    tickets = {api.open_ticket(tags=[tag])["id"] for _ in range(2)}
    window = {"from": (today() - timedelta(days=1)).isoformat(), "metric": "first_response"}
    deadline = time.monotonic() + 30
    while True:
        listed = analyst.get("/v1/sla/breaches", params={**window, "limit": 1000}).json()
        if tickets <= {item["ticket_id"] for item in listed["items"]}:
            break
        assert time.monotonic() < deadline, "the scheduler never breached both timers"
        time.sleep(0.3)
    seen: list[str] = []
    response = analyst.get("/v1/sla/breaches", params={**window, "limit": 1},
                           headers={"Accept": "text/csv"})  # fmt: skip
    while True:
        rows = csv_rows(response)
        assert rows[0] == CSV_HEADERS["/v1/sla/breaches"] and len(rows) <= 2
        seen += [row[0] for row in rows[1:]]
        if "next" not in response.links:
            break
        following = response.links["next"]["url"]
        assert following.startswith("/v1/sla/breaches?")
        response = analyst.get(following, headers={"Accept": "text/csv"})
    assert tickets <= set(seen)


@pytest.mark.parametrize(
    "path",
    ["/v1/reports/satisfaction", "/v1/reports/agents", "/v1/reports/sla", "/v1/sla/breaches"],
)
def test_a_report_s_csv_twin_answers_csv_whatever_accept_says(api_as, path: str) -> None:
    analyst = api_as("analyst")
    by_accept = analyst.get(path, headers={"Accept": "text/csv"})
    twin = analyst.get(path + ".csv", headers={"Accept": "application/json"})
    assert twin.status_code == by_accept.status_code == 200, twin.text
    assert twin.headers["content-type"].startswith("text/csv")
    assert twin.text == by_accept.text


def test_a_report_s_csv_twin_refuses_what_the_report_refuses(api_as) -> None:
    answer = api_as("analyst").get("/v1/reports/sla.csv", params={"period": "decade"})
    assert answer.status_code == 422
    assert "period" in answer.json()["errors"]
    assert api_as("agent").get("/v1/reports/sla.csv").status_code == 403
