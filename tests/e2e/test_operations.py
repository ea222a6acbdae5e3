"""Operations through a real server: /metrics, JSON logs with request ids, health with
the projector's lag, and rate limits.

The server runs without its projector (ATENDE_PROJECTOR=off), so every view's lag is
exactly the number of events written, and with one worker, so a token's budget is not
split between workers' buckets. A second server, with its projector, shows the
scheduler's runs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from infrastructure.views.registry import VIEWS
from tests.databases import BACKENDS
from tests.e2e.api import Api
from tests.e2e.problems import assert_problem
from tests.e2e.server import Server, running_server

SCRAPE_TOKEN = "e2e-scrape-token-0123456789"
BUDGET = 5  # requests per token an hour: nothing refills during a test
# Requests per client address an hour on public routes (every test client is 127.0.0.1,
# so only one test spends it).
PUBLIC_BUDGET = 3
WAIT_SECONDS = 30  # a bound on waiting for a log line or a scheduler run, not a measurement


@pytest.fixture(autouse=True)
def agents() -> None:
    """These servers need none of the shared server's agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def ops_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"operations-{request.param}")
    env = {
        "ATENDE_PROJECTOR": "off",
        "ATENDE_METRICS_TOKEN": SCRAPE_TOKEN,
        "ATENDE_RATE_LIMIT": f"{BUDGET}/1h",
        "ATENDE_PUBLIC_RATE_LIMIT": f"{PUBLIC_BUDGET}/1h",
        "ATENDE_HEALTH_MAX_LAG": "1",
        "ATENDE_ACCESS_LOG": str(directory / "access.log"),
    }
    with running_server(request.param, directory, workers=1, env=env) as server:
        yield server


@pytest.fixture
def client_as(ops_server: Server) -> Callable[[str | None], Api]:
    """A client with a token of its own (so its own budget) for the role, or none."""

    def make(role: str | None) -> Api:
        token = None if role is None else ops_server.create_token(role, f"ops-{role}")
        return Api(ops_server.base_url, token)

    return make


@pytest.fixture
def scraper(ops_server: Server) -> Api:
    return Api(ops_server.base_url, SCRAPE_TOKEN)


def samples(scraper: Api) -> dict[tuple[str, frozenset], float]:
    response = scraper.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def eventually(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {WAIT_SECONDS} s")


# /metrics


def test_metrics_need_a_token(client_as):
    response = client_as(None).get("/metrics")
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["integrator", "auditor", "analyst"])
def test_metrics_are_forbidden_to_roles_other_than_admin(client_as, role):
    assert_problem(client_as(role).get("/metrics"), 403)


def test_metrics_are_open_to_admins_and_to_the_scrape_token(client_as, scraper):
    for client in (client_as("admin"), scraper):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain")


def test_request_counters_and_latencies_move_after_requests(client_as, scraper):
    integrator = client_as("integrator")
    route = "/v1/tickets/{ticket_id:uuid}"
    before = samples(scraper)
    ticket = integrator.open_ticket()["id"]
    assert integrator.get(f"/v1/tickets/{ticket}").status_code == 200
    after = samples(scraper)
    opened = {"route": "/v1/tickets", "method": "POST", "status": "201"}
    read = {"route": route, "method": "GET", "status": "200"}
    for labels in (opened, read):
        moved = value(after, "atende_http_requests_total", **labels)
        assert moved == value(before, "atende_http_requests_total", **labels) + 1
    timings = "atende_http_request_duration_seconds_count"
    timed = value(after, timings, route=route, method="GET")
    assert timed == value(before, timings, route=route, method="GET") + 1


def test_group_commits_count_every_write_once_in_their_batch_sizes(client_as, scraper):
    clients = [client_as("integrator") for _ in range(4)]  # each within its own budget
    before = samples(scraper)

    def open_three(n: int) -> None:
        for i in range(3):
            requester = {"name": f"Grupo {n}-{i}", "email": f"grupo-{n}-{i}@example.com"}
            clients[n].open_ticket(requester=requester)

    threads = [threading.Thread(target=open_three, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_SECONDS)
    after = samples(scraper)

    def moved(sample: str, queue: str) -> float:
        name = f"atende_group_commit_writes_{sample}"
        return value(after, name, queue=queue) - value(before, name, queue=queue)

    # Twelve tickets, each of a customer never seen: twelve event writes and twelve keys,
    # however the worker's threads grouped them into commits.
    for queue in ("events", "keys"):
        assert moved("sum", queue) == 12
        assert 1 <= moved("count", queue) <= 12


def test_events_appended_and_each_views_lag_come_from_the_database(client_as, scraper):
    position = client_as("integrator").open_ticket()["position"]
    found = samples(scraper)
    head = value(found, "atende_events_appended_total")
    assert head >= position
    assert value(found, "atende_database_up") == 1
    for view in VIEWS:  # nothing projects: every view is as far behind as the log is long
        assert value(found, "atende_projection_lag_events", view=view) == head


# Health


def test_health_is_degraded_when_views_lag_beyond_the_threshold(client_as):
    integrator = client_as("integrator")
    integrator.open_ticket(), integrator.open_ticket()
    response = client_as(None).get("/v1/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "degraded" and health["database"] == "ok"
    projector = health["projector"]
    assert projector["status"] == "behind" and projector["max_lag"] == 1
    # Every view, and the webhook deliveries' follower (it follows the log like one).
    followed = {*VIEWS, "outbound_webhooks"}
    assert set(projector["lag"]) == followed == set(projector["behind"])
    assert all(lag == projector["head"] >= 2 for lag in projector["lag"].values())


# Request ids and JSON logs


def access_lines(server: Server) -> list[dict[str, Any]]:
    path = server.log_path.with_name("access.log")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_request_id_is_echoed_and_logged_with_the_route_status_and_principal(
    ops_server, client_as
):
    reader = client_as("auditor")
    response = reader.get("/v1/queue", headers={"X-Request-Id": "e2e-trace.42"})
    assert response.headers["X-Request-Id"] == "e2e-trace.42"

    def logged() -> list[dict[str, Any]]:
        return [e for e in access_lines(ops_server) if e.get("request_id") == "e2e-trace.42"]

    (entry,) = eventually(logged)
    assert entry["method"] == "GET" and entry["route"] == "/v1/queue"
    assert entry["status"] == response.status_code
    assert entry["principal"] == {"name": "ops-auditor", "role": "auditor"}
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    token = reader.session.headers["Authorization"].split()[1]
    assert token not in ops_server.log_path.with_name("access.log").read_text()


def test_an_unsafe_request_id_is_replaced_by_a_new_one(client_as):
    response = client_as(None).get("/v1/health", headers={"X-Request-Id": "x" * 500})
    assert len(response.headers["X-Request-Id"]) == 32


def test_refused_requests_carry_a_request_id_too(client_as):
    response = client_as(None).get("/v1/queue")
    assert response.status_code == 401 and response.headers["X-Request-Id"]


def test_every_line_the_server_writes_is_a_json_object(ops_server, client_as):
    client_as(None).get("/v1/health")
    lines = ops_server.log_path.read_text().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)


# Rate limits


def test_a_token_over_its_budget_gets_429_with_retry_after(client_as):
    integrator = client_as("integrator")
    allowed = [integrator.get("/v1/queue") for _ in range(BUDGET)]
    assert [r.status_code for r in allowed] == [200] * BUDGET
    assert [r.headers["RateLimit-Remaining"] for r in allowed] == ["4", "3", "2", "1", "0"]
    refused = integrator.get("/v1/queue")
    assert_problem(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == str(BUDGET)
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_budgets_are_per_token_and_never_stop_health_checks(client_as):
    spent = client_as("integrator")
    for _ in range(BUDGET + 1):
        spent.get("/v1/queue")
    assert spent.get("/v1/queue").status_code == 429
    assert client_as("integrator").get("/v1/queue").status_code == 200
    anyone = client_as(None)
    assert all(anyone.get("/v1/health").status_code == 200 for _ in range(BUDGET + 1))


def test_public_routes_spend_a_budget_per_client_address(client_as):
    anyone = client_as(None)
    answers = [anyone.get("/v1/surveys/not-a-real-link") for _ in range(PUBLIC_BUDGET)]
    assert all(r.status_code != 429 for r in answers)
    assert_problem(anyone.get("/v1/surveys/not-a-real-link"), 429)
    # The help centre (issue 23) spends the same budget: its reads and feedback too.
    for path in (
        "/v1/public/kb/search?q=factura&lang=es",
        "/v1/public/kb/suggest?q=factura&lang=es",
        "/v1/public/kb/articles/pagar-factura",
    ):
        assert_problem(anyone.get(path), 429)
    answer = anyone.post("/v1/public/kb/articles/pagar-factura/feedback", {"helpful": True})
    assert_problem(answer, 429)


# The scheduler, in the projector process


@pytest.fixture(scope="module")
def projecting_server(tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("operations-projector")
    env = {"ATENDE_METRICS_TOKEN": SCRAPE_TOKEN, "ATENDE_FOLLOW_UP_INTERVAL": "1s"}
    with running_server("sqlite", directory, env=env) as server:
        yield server


def test_scheduler_runs_in_the_projector_are_counted(projecting_server):
    scraper = Api(projecting_server.base_url, SCRAPE_TOKEN)

    def follow_up_runs() -> float:
        found = samples(scraper)
        return value(found, "atende_scheduler_runs_total", job="follow-up", outcome="ran")

    first = eventually(follow_up_runs)
    eventually(lambda: follow_up_runs() > first)
