"""Guessing tokens through the real server (issue 20): after the configured number of
refused credentials a client address gets 429 for every credential it sends, even a good
one, until its budget refills; /metrics counts the failures by reason."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tests.databases import BACKENDS
from tests.e2e.server import Server, running_server

FAILURES_ALLOWED = 5


@pytest.fixture(scope="module", params=BACKENDS)
def throttled(request, tmp_path_factory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"throttle-{request.param}")
    # One worker: the budget is per worker, and this test counts it exactly.
    env = {"ATENDE_AUTH_FAILURE_LIMIT": f"{FAILURES_ALLOWED}/60s"}
    with running_server(request.param, directory, workers=1, env=env) as server:
        yield server


def status(server: Server, authorization: str | None) -> requests.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.get(f"{server.base_url}/v1/events", headers=headers, timeout=30)


def test_an_address_that_keeps_guessing_gets_429_even_for_a_good_token(throttled):
    good = throttled.create_token("admin", "ops")
    assert status(throttled, f"Bearer {good}").status_code == 200

    refused = [status(throttled, f"Bearer atd_guess{n}") for n in range(FAILURES_ALLOWED)]
    throttled_answer = status(throttled, "Bearer atd_one_more_guess")
    good_meanwhile = status(throttled, f"Bearer {good}")

    assert [answer.status_code for answer in refused] == [401] * FAILURES_ALLOWED
    assert throttled_answer.status_code == 429
    assert throttled_answer.headers["Content-Type"].startswith("application/problem+json")
    assert int(throttled_answer.headers["Retry-After"]) >= 1
    assert good_meanwhile.status_code == 429
    # Asking without credentials guesses nothing: still a plain 401.
    assert status(throttled, None).status_code == 401

    # /metrics checks its own credentials (it takes a scrape token too), throttled alike.
    scrape = requests.get(
        f"{throttled.base_url}/metrics", headers={"Authorization": f"Bearer {good}"}, timeout=30
    )
    assert scrape.status_code == 429


def test_metrics_count_refused_credentials_by_reason(tmp_path):
    # Two refusals every 2 s: the third credential in a row is throttled, and a second
    # later the scrape (a credential too) is let through again.
    env = {"ATENDE_AUTH_FAILURE_LIMIT": "2/2s", "ATENDE_METRICS_TOKEN": "scrape-secret"}
    with running_server("sqlite", tmp_path, workers=1, env=env) as server:
        answers = [
            status(server, authorization).status_code
            for authorization in ("Bearer atd_x", "Basic abc", "Bearer atd_y", None)
        ]
        time.sleep(1.5)
        scrape = requests.get(
            f"{server.base_url}/metrics",
            headers={"Authorization": "Bearer scrape-secret"},
            timeout=30,
        ).text
    assert answers == [401, 401, 429, 401]
    counts = {
        line.split('reason="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in scrape.splitlines()
        if line.startswith("atende_auth_failures_total{")
    }
    assert counts == {"invalid": 1.0, "malformed": 1.0, "throttled": 1.0, "missing": 1.0}
