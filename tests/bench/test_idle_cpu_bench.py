"""Idle CPU of a whole server, and how soon a write reaches the views (issue 17 item 10).

A real server (``atende serve``: gunicorn's master, two workers and the projector) on a
fresh database idles for ATENDE_BENCH_IDLE_SECONDS (60) with no requests; the CPU each
process used is read from /proc and printed as a share of one core, against the 1 %
target and against gunicorn idling with the bare app of the throughput benchmark (same
configuration, no projector: what gunicorn itself costs). Then ATENDE_BENCH_WRITES (200)
tickets are opened one at a time, and for each the bench measures

* write -> view: from the write's answer until the queue view's tracking (read straight
  from the database every millisecond) reaches the write's position;
* read-your-writes: the write plus ``GET /v1/queue?after_position=N``, as a client does.

Nothing is asserted on time; every write is checked to have reached the view.

    pytest tests/bench/test_idle_cpu_bench.py -s -p no:cacheprovider -o addopts="" -m bench
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from interface.wiring import bootstrap
from tests.bench.load import LoadResult
from tests.bench.process_cpu import CpuShare, idle_cpu
from tests.bench.summary import record
from tests.bench.test_open_ticket_throughput import BareServer
from tests.databases import BACKENDS, SECRET_KEY_TEXT, fresh_database_url, settings_for
from tests.e2e.api import Api, ticket_body
from tests.e2e.server import running_server, server_env

pytestmark = pytest.mark.bench

IDLE_SECONDS = float(os.environ.get("ATENDE_BENCH_IDLE_SECONDS", "60"))
WRITES = int(os.environ.get("ATENDE_BENCH_WRITES", "200"))
SETTLE_SECONDS = 5.0  # start-up work (first sweeps, first checkpoint) is not idling
TARGET_PERCENT = 1.0
VIEW_POLL_SECONDS = 0.001


def print_shares(title: str, shares: list[CpuShare]) -> None:
    print(f"\n{title}")
    for share in shares:
        print(f"  {share.percent:6.2f} %  {share.name}")


def percentiles(name: str, seconds: list[float]) -> str:
    result = LoadResult(len(seconds), sum(seconds), sorted(seconds))
    return f"{name}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"


@pytest.mark.parametrize("backend", BACKENDS)
def test_idle_cpu_and_write_to_view_latency(backend: str, tmp_path: Path) -> None:
    with running_server(backend, tmp_path) as server:
        api = Api(server.base_url, server.create_token("integrator", "bench"))
        api.open_ticket()  # every view has something: idling is not the empty case
        time.sleep(SETTLE_SECONDS)
        shares = idle_cpu(server.process.pid, IDLE_SECONDS)

        atende = bootstrap(settings_for(server.database_url))
        try:
            queue = atende.views["queue"]
            to_view, read_your_writes = [], []
            for n in range(WRITES):
                body = ticket_body(subject=f"Sin conexión {n}")
                response = api.post("/v1/tickets", body)
                answered = time.perf_counter()
                assert response.status_code == 201, response.text
                position = response.json()["position"]
                while (queue.max_tracking_id(atende.tickets.name) or 0) < position:
                    assert time.perf_counter() - answered < 10, f"write {n} never reached"
                    time.sleep(VIEW_POLL_SECONDS)
                to_view.append(time.perf_counter() - answered)

                started = time.perf_counter()
                response = api.post("/v1/tickets", body | {"subject": f"Otra {n}"})
                read = api.get(f"/v1/queue?after_position={response.json()['position']}")
                assert read.status_code == 200, read.text
                read_your_writes.append(time.perf_counter() - started)
        finally:
            atende.close()

    (tmp_path / "bare").mkdir()
    with fresh_database_url(backend, tmp_path / "bare") as url:
        env = {**server_env(url, SECRET_KEY_TEXT), "ATENDE_PROJECTOR": "off"}
        bare = BareServer(url, tmp_path / "bare.log", env=env).start()
        try:
            time.sleep(SETTLE_SECONDS)
            baseline = idle_cpu(bare.process.pid, IDLE_SECONDS)
        finally:
            bare.stop()

    total, bare_total = shares[-1].percent, baseline[-1].percent
    record("idle server, % of one core", backend, total, below=TARGET_PERCENT)
    print_shares(f"\n\n{backend}: Atende idle for {IDLE_SECONDS:.0f} s, % of one core", shares)
    print_shares(f"{backend}: gunicorn with the bare app, same config, no projector", baseline)
    print(
        f"{backend}: Atende idle {total:.2f} % of one core (target under {TARGET_PERCENT:.0f} %; "
        f"bare gunicorn {bare_total:.2f} %)\n"
        f"{backend}: {percentiles(f'write -> queue view ({WRITES} writes)', to_view)}\n"
        f"{backend}: {percentiles('write + GET /v1/queue?after_position', read_your_writes)}"
    )
