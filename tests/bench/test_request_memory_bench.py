"""What one hostile request costs a worker in memory: each shape at the size limit, sent
to a real server (one worker, SQLite), its peak RSS over the worker's RSS before it
(``VmHWM`` after resetting it through ``/proc/PID/clear_refs``), next to a plain request.

Target (printed, not asserted): no request under the size limits raises a worker's peak
by more than 64 MB (issue 24); the last column says which do not.

    make bench
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests import hostile_inputs as hostile
from tests.bench.summary import record
from tests.e2e.server import running_server

pytestmark = pytest.mark.bench

TARGET_MB = 64
EMAIL = ("/v1/intake/email", {"Content-Type": "message/rfc822"})
JSON = ("/v1/tickets", {"Content-Type": "application/json"})
CASES: dict[str, tuple[tuple[str, dict[str, str]], Callable[[], bytes]]] = {
    "email, plain 10 KB": (EMAIL, hostile.plain_email),
    **{f"email, {name}": (EMAIL, build) for name, build in hostile.EMAILS.items()},
    "JSON, plain ticket": (JSON, hostile.plain_json),
    **{f"JSON, {name}": (JSON, build) for name, build in hostile.JSON_BODIES.items()},
}


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(key)


def _worker_pid(master: int) -> int | None:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    workers = [int(pid) for pid in children if b"project" not in _cmdline(int(pid))]
    return workers[0] if len(workers) == 1 else None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b"project"  # gone: not a worker


def _fresh_worker(master: int, session: requests.Session, base_url: str) -> int:
    """A worker at rest, as after a deployment: the old one is stopped (memory a previous
    request left mapped would hide this one's), the new one serves one plain request."""
    old = _worker_pid(master)
    if old is not None:
        os.kill(old, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        worker = _worker_pid(master)
        if worker not in (None, old):
            try:
                if session.post(f"{base_url}/v1/tickets", json=hostile.ticket(), timeout=5).ok:
                    return worker
            except requests.ConnectionError:
                pass
        time.sleep(0.1)
    raise RuntimeError("no new worker within 60 s")


def test_peak_worker_memory_of_hostile_requests_at_the_size_limits(tmp_path):
    with running_server("sqlite", tmp_path, workers=1, env={"ATENDE_THREADS": "1"}) as server:
        token = server.create_token("admin", "bench")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        master = server.process.pid
        print(f"\n{'request':<26} {'bytes':>9} {'status':>6} {'ms':>7} {'at rest MB':>10} "
              f"{'peak +MB':>9}  target {TARGET_MB} MB")  # fmt: skip
        peaks = []
        for name, ((path, headers), build) in CASES.items():
            body = build()
            worker = _fresh_worker(master, session, server.base_url)
            Path(f"/proc/{worker}/clear_refs").write_text("5")  # resets VmHWM to VmRSS
            before = _status_mb(worker, "VmRSS")
            start = time.perf_counter()
            response = session.post(server.base_url + path, data=body, headers=headers)
            elapsed = time.perf_counter() - start
            peak = max(0.0, _status_mb(worker, "VmHWM") - before)
            peaks.append(peak)
            verdict = "ok" if peak <= TARGET_MB else "OVER"
            print(f"{name:<26} {len(body):>9} {response.status_code:>6} {elapsed * 1000:>7.0f} "
                  f"{before:>10.0f} {peak:>9.1f}  {verdict}")  # fmt: skip
    record("hostile request, worst peak +MB", "sqlite", max(peaks), below=TARGET_MB)
