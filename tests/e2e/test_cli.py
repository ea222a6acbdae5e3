"""The operator's commands, run as an operator would."""

from __future__ import annotations

import subprocess

import pytest

from tests.databases import BACKENDS, SECRET_KEY_TEXT, fresh_database_url
from tests.e2e.server import BIN, server_env


@pytest.fixture(params=BACKENDS)
def env(request, tmp_path):
    with fresh_database_url(request.param, tmp_path) as url:
        yield server_env(url, SECRET_KEY_TEXT)


def atende(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "atende"), *args], env=env, capture_output=True, text=True)


def test_rebuilding_an_unknown_view_exits_2_listing_the_views(env):
    done = atende(env, "projections", "rebuild", "nonesuch")
    assert done.returncode == 2
    assert "queue" in done.stderr and "ticket_list" in done.stderr


def test_status_and_rebuild_report_every_view(env):
    assert atende(env, "tokens", "create", "--role", "admin", "--name", "ops").returncode == 0
    rebuilt = atende(env, "projections", "rebuild", "--all")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "queue: rebuilt to position" in rebuilt.stderr
    assert "ticket_list: rebuilt to position" in rebuilt.stderr
    status = atende(env, "projections", "status")
    table, heartbeat = status.stdout.split("\n\n")
    lines = table.splitlines()
    assert lines[0].split() == ["view", "position", "head", "lag", "failing"]
    # Every view, then what follows the log out of Atende (webhook deliveries, always).
    views = {"follow_up", "kb", "queue", "reports", "routing", "sla", "ticket_list"}
    assert {line.split()[0] for line in lines[1:]} == views | {"outbound_webhooks"}
    assert {line.split()[-1] for line in lines[1:]} == {"-"}  # none failing
    # No projector runs here: the status says so rather than "lag 0, all well".
    assert heartbeat.strip() == "projector heartbeat: none (no projector is running)"


def test_a_token_for_an_unknown_role_is_refused(env):
    done = atende(env, "tokens", "create", "--role", "root", "--name", "x")
    assert done.returncode == 2 and "invalid choice" in done.stderr
