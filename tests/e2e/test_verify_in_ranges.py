"""Verify in ranges, each in a spawned process, through the real entry points: the CLI
(``atende audit verify``) and a gunicorn worker (``GET /v1/audit/verify``), on both
databases. Spawned workers re-import the caller's main module (the console script,
gunicorn's), so these are what can break where an in-process test cannot."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.api import Api
from tests.e2e.server import BIN, Server, running_server

RANGES = {"ATENDE_VERIFY_WORKERS": "2", "ATENDE_VERIFY_PARALLEL_FROM": "1"}


@pytest.fixture(scope="module")
def ranged_server(server: Server, tmp_path_factory) -> Iterator[Server]:
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    directory = tmp_path_factory.mktemp(f"ranges-{backend}")
    with running_server(backend, directory, workers=1, env=RANGES) as running:
        yield running


def _verify_cli(server: Server) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "atende"), "audit", "verify"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_log_verified_in_ranges_by_the_server_and_the_cli_is_whole(ranged_server):
    server = ranged_server
    api = Api(server.base_url, server.create_token("integrator", "ranges"))
    tickets = [api.open_ticket()["id"] for _ in range(3)]
    for n in range(4):
        for ticket in tickets:  # interleaved, so a range boundary falls inside each life
            reply = api.post(
                f"/v1/tickets/{ticket}/messages",
                json={"body": f"m {n}", "author_type": "customer", "visibility": "public"},
            )
            assert reply.status_code == 200, reply.text

    auditor = Api(server.base_url, server.create_token("auditor", "ranges-auditor"))
    report = auditor.get("/v1/audit/verify").json()
    assert report["ok"], report["first_break"]
    assert report["checked_events"] == report["head_position"] >= 15

    done = _verify_cli(server)
    assert done.returncode == 0, done.stderr
    assert f"{report['head_position']}" in done.stdout
