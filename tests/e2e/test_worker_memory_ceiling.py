"""Each worker's memory ceiling (docs/deployment.md), on a real server of its own: the
hard limit is in place, a worker over its resident ceiling is replaced after its request
while the service goes on, and a bad setting stops the start naming it. (A request that
exhausts the limit: tests/unit/test_memory_ceiling.py; the parsers leave none that would
here.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests import hostile_inputs as hostile
from tests.e2e.server import Server, running_server

MiB = 1024 * 1024
WAIT_SECONDS = 30


def _backend(server: Server) -> str:
    return "sqlite" if server.database_url.startswith("sqlite") else "postgres"


@contextmanager
def _own_server(server: Server, directory: Path, **env: str) -> Iterator[Server]:
    environment = {"ATENDE_THREADS": "1", **env}
    directory.mkdir(parents=True, exist_ok=True)
    with running_server(_backend(server), directory, workers=1, env=environment) as running:
        yield running


def _worker(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    workers = []
    for pid in children:
        try:
            if b"project" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                workers.append(int(pid))
        except OSError:
            continue
    return workers[0] if len(workers) == 1 else None


def _new_worker(master: int, old: int) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        worker = _worker(master)
        if worker not in (None, old):
            return worker
        time.sleep(0.05)
    raise AssertionError(f"worker {old} was not replaced within {WAIT_SECONDS} s")


def _session(running: Server) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {running.create_token('admin', 'memory')}"
    return session


def _open_ticket(session: requests.Session, running: Server) -> requests.Response:
    """A ticket, retried while the one worker is being replaced (connection refused)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return session.post(f"{running.base_url}/v1/tickets", json=hostile.ticket(), timeout=10)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _data_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max data size"):
            return int(line.split()[3])
    raise LookupError("Max data size")


def test_each_worker_serves_under_the_configured_data_limit(server: Server, tmp_path: Path):
    with _own_server(server, tmp_path, ATENDE_WORKER_MEMORY_LIMIT="3000") as running:
        assert _data_limit(_worker(running.process.pid)) == 3000 * MiB


def test_workers_get_a_two_gib_data_limit_by_default(server: Server, tmp_path: Path):
    with _own_server(server, tmp_path) as running:
        assert _data_limit(_worker(running.process.pid)) == 2048 * MiB


def test_a_worker_over_its_resident_ceiling_is_replaced_after_its_request_and_service_goes_on(
    server: Server, tmp_path: Path
):
    # A ceiling of 1 MiB: every worker is over it after its first request.
    with _own_server(server, tmp_path, ATENDE_WORKER_MAX_RSS="1") as running:
        session, master = _session(running), running.process.pid
        seen = []
        for _ in range(3):
            worker = _worker(master) or _new_worker(master, 0)
            assert _open_ticket(session, running).status_code == 201
            seen.append(worker)
            _new_worker(master, worker)
        assert len(set(seen)) == 3
        log = running.log_path.read_text()
        assert "is over ATENDE_WORKER_MAX_RSS=1" in log


@pytest.mark.parametrize("variable", ["ATENDE_WORKER_MAX_RSS", "ATENDE_WORKER_MEMORY_LIMIT"])
def test_a_memory_setting_that_is_not_a_size_stops_the_start_naming_it(
    server: Server, tmp_path: Path, variable
):
    with pytest.raises(RuntimeError) as failed, _own_server(server, tmp_path, **{variable: "lots"}):
        pass
    assert f"{variable} must be a size in MiB or 'off'" in str(failed.value)
