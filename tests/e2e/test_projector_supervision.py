"""The projector under gunicorn's master, killed for real: the master starts a new one
(views catch up again), and a projector whose master was SIGKILLed stops instead of living
on as an orphan."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.api import Api
from tests.e2e.server import BIN, Server, running_server

WAIT_SECONDS = 30


@pytest.fixture
def supervised(server: Server, tmp_path: Path) -> Iterator[Server]:
    """A server of its own (it gets killed), on the session server's backend."""
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    with running_server(backend, tmp_path, workers=1) as running:
        yield running


def _projectors_of(master: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == master and b"project" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(condition, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {WAIT_SECONDS} s")


def test_a_killed_projector_is_restarted_and_the_views_catch_up(supervised: Server):
    master = supervised.process.pid
    first = _wait_for(lambda: _projectors_of(master), "a projector under the master")[0]
    os.kill(first, signal.SIGKILL)

    _wait_for(lambda: [p for p in _projectors_of(master) if p != first and _alive(p)],
              "a new projector")  # fmt: skip

    api = Api(supervised.base_url, supervised.create_token("integrator", "supervision"))
    opened = api.open_ticket()
    queue = api.get("/v1/queue", params={"after_position": opened["position"], "limit": 200})
    assert queue.status_code == 200, queue.text
    assert opened["id"] in [item["id"] for item in queue.json()["items"]]


def test_a_projector_stops_when_its_master_is_killed(supervised: Server):
    master = supervised.process.pid
    projector = _wait_for(lambda: _projectors_of(master), "a projector under the master")[0]

    os.kill(master, signal.SIGKILL)
    supervised.process.wait()

    _wait_for(lambda: not _alive(projector), "the orphaned projector to stop")


@pytest.fixture
def impatient(server: Server, tmp_path: Path) -> Iterator[Server]:
    """A server of its own whose health wants a heartbeat at most 2 s old."""
    backend = "sqlite" if server.database_url.startswith("sqlite") else "postgres"
    env = {"ATENDE_HEALTH_MAX_HEARTBEAT_AGE": "2s"}
    with running_server(backend, tmp_path, workers=1, env=env) as running:
        yield running


def _health(server: Server) -> dict:
    response = requests.get(f"{server.base_url}/v1/health", timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_names_the_projectors_heartbeat_and_is_degraded_while_it_is_missing(
    impatient: Server,
):
    master = impatient.process.pid
    projector = _wait_for(lambda: _projectors_of(master), "a projector under the master")[0]
    beating = _wait_for(
        lambda: (h := _health(impatient))["status"] == "ok" and h, "health ok with a heartbeat"
    )
    heartbeat = beating["projector"]["heartbeat"]
    assert heartbeat["pid"] == projector and heartbeat["age_seconds"] <= 2
    status = subprocess.run(
        [str(BIN / "atende"), "projections", "status"],
        env=impatient.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "projector heartbeat: " in status and f"pid {projector}," in status

    os.kill(projector, signal.SIGSTOP)  # hung: alive to its master, doing nothing
    try:
        stale = _wait_for(
            lambda: (h := _health(impatient))["status"] == "degraded" and h, "health degraded"
        )
        assert stale["projector"]["heartbeat"]["age_seconds"] > 2
        assert stale["projector"]["lag"] and not stale["projector"]["behind"]
    finally:
        os.kill(projector, signal.SIGCONT)

    _wait_for(lambda: _health(impatient)["status"] == "ok", "health ok again")
