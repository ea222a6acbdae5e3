"""Reading the queue under load, against a bare Falcon app running the same query.

For each backend: seed ATENDE_BENCH_QUEUE_TICKETS active tickets (default 100,000: new,
open, pending, on hold; see tests/bench/seed.py), bring the queue view to the head of the
log, then start Atende (``atende serve --workers 2 --no-projector``) and the bare app
(tests/bench/bare_queue_app.py, same gunicorn config, same table, same indexed query) one
after the other and drive each with the same closed-loop load (tests/bench/load.py): 16
keep-alive clients spread evenly over the workers, ATENDE_BENCH_QUEUE_REQUESTS GETs
(default 5,000) per scenario:

* ``first``: the first page, ``/v1/queue?limit=50``;
* ``pt``: a filtered first page, ``?language=pt&limit=50``;
* ``page2``: the second page, through the first page's ``next_cursor``.

On PostgreSQL the queue's tables are VACUUM ANALYZEd after seeding (what autovacuum does
within a minute or so in production), so every run measures the same plans.

Targets (reported, never asserted): Atende's p99 under 15 ms and Atende/bare requests per
second >= 0.8. The run asserts every request succeeded and both apps agree on the pages.

    make bench        # or, smaller: ATENDE_BENCH_QUEUE_TICKETS=20000 make bench
"""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import psycopg
import pytest
import requests

from infrastructure.projector import ViewFollower
from infrastructure.views.registry import VIEWS
from interface.wiring import bootstrap
from tests.bench import load
from tests.bench.load import LoadResult, run_load
from tests.bench.seed import catch_up_queue, seed_history, seed_open_tickets
from tests.bench.summary import record
from tests.bench.test_open_ticket_throughput import (
    EvenSpread,
    connections_per_worker,
    wait_for_workers,
)
from tests.databases import POSTGRES_URL, SECRET_KEY_TEXT, fresh_database_url, settings_for
from tests.e2e.server import BIN, Server, free_port, server_env

pytestmark = pytest.mark.bench

TICKETS = int(os.environ.get("ATENDE_BENCH_QUEUE_TICKETS", "100000"))
REQUESTS = int(os.environ.get("ATENDE_BENCH_QUEUE_REQUESTS", "5000"))
CONCURRENCY = 16
WORKERS = 2
PAGE = 50
RATIO_TARGET = 0.8
P99_TARGET_MS = 15.0
REPO = Path(__file__).resolve().parents[2]
BARE_APP = "tests.bench.bare_queue_app:get_app()"


class AtendeServer(Server):
    """``atende serve --no-projector``: the views were caught up before the start."""

    def start(self, workers: int = WORKERS) -> AtendeServer:
        self.port = self.port or free_port()
        command = [str(BIN / "atende"), "serve", "--bind", f"127.0.0.1:{self.port}"]
        self._spawn([*command, "--workers", str(workers), "--no-projector"])
        return self

    def _spawn(self, argv: list[str], **kwargs) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv,
                env=kwargs.get("env", self.env),
                cwd=kwargs.get("cwd"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_healthy()


class BareQueueServer(AtendeServer):
    """The bare queue app under gunicorn with Atende's own config."""

    def start(self, workers: int = WORKERS) -> BareQueueServer:
        self.port = self.port or free_port()
        gunicorn = [str(BIN / "gunicorn"), "--config", "python:interface.http.server.gunicorn_conf"]
        self._spawn(
            [*gunicorn, "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers), BARE_APP],
            # No projector beside the bare app (gunicorn_conf starts one unless told).
            env={**self.env, "PYTHONPATH": str(REPO), "ATENDE_PROJECTOR": "off"},
            cwd=REPO,
        )
        return self


@dataclass
class Row:
    backend: str
    scenario: str
    target: str
    result: LoadResult
    connections: list[int]
    response_bytes: int


ROWS: list[Row] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if ROWS:
        print("\n\nQueue reads, all backends")
        print(format_table(ROWS))


def test_queue_read(backend: str, tmp_path: Path) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        seed_queue(backend, url)
        env = server_env(url, SECRET_KEY_TEXT)  # ATENDE_ACCESS_LOG="": no access log

        atende = AtendeServer(url, tmp_path / "atende.log", env=env)
        token = atende.create_token("admin", "bench")
        atende.start()
        try:
            atende_rows, atende_pages = drive_all(
                backend, "atende", atende, {"Authorization": f"Bearer {token}"}, "cursor"
            )
        finally:
            atende.stop()

        bare = BareQueueServer(url, tmp_path / "bare.log", env=env)
        bare.start()
        try:
            bare_rows, bare_pages = drive_all(backend, "bare", bare, {}, "after")
        finally:
            bare.stop()

    rows = [row for pair in zip(atende_rows, bare_rows, strict=True) for row in pair]
    ROWS.extend(rows)
    for mine, bare_row in zip(atende_rows, bare_rows, strict=True):
        ratio = mine.result.requests_per_second / bare_row.result.requests_per_second
        record(f"queue read {mine.scenario} atende/bare req/s", backend, ratio,
               at_least=RATIO_TARGET)  # fmt: skip
        record(f"queue read {mine.scenario} p99 ms", backend, mine.result.p99_ms,
               below=P99_TARGET_MS)  # fmt: skip
    print(
        f"\n\n{backend}: {TICKETS:,} active tickets, {REQUESTS:,} GETs per scenario, "
        f"{CONCURRENCY} keep-alive clients, {WORKERS} workers"
    )
    print(format_table(rows))

    for scenario, ids in atende_pages.items():
        assert len(ids) == PAGE, (scenario, len(ids))
        assert ids == bare_pages[scenario], f"{scenario}: the apps disagree on the page"
    for row in rows:
        r = row.result
        assert r.warmup_errors == 0, f"{row.target} {row.scenario}: {r.sample_error}"
        assert r.non_2xx == 0, (
            f"{row.target} {row.scenario}: {r.non_2xx} of {r.requests} failed, "
            f"statuses {dict(r.statuses)}, e.g. {r.sample_error}"
        )


def seed_queue(backend: str, url: str) -> None:
    atende = bootstrap(settings_for(url))
    try:
        print(f"\n\n{backend}: seeding {TICKETS:,} active tickets ...", flush=True)
        seeded = seed_open_tickets(atende, TICKETS)
        print(
            f"{backend}: seeded {seeded.tickets:,} tickets, {seeded.events:,} events in "
            f"{seeded.seconds:.1f} s; statuses {dict(seeded.statuses)}",
            flush=True,
        )
        position = catch_up_queue(atende)
        assert position == seeded.events
        view = atende.views["queue"]
        tables = (view.t, view.tags_t)
    finally:
        atende.close()
    if backend == "postgres":
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            for table in tables:
                conn.execute(f"VACUUM ANALYZE {table}")


def drive_all(
    backend: str, target: str, server: Server, headers: dict[str, str], cursor_param: str
) -> tuple[list[Row], dict[str, list[str]]]:
    """The three scenarios against one server; also each scenario's page of ids."""
    first = f"/v1/queue?limit={PAGE}"
    page = get_json(server, first, headers)
    paths = {
        "first": first,
        "pt": f"/v1/queue?language=pt&limit={PAGE}",
        "page2": f"/v1/queue?limit={PAGE}&{cursor_param}={page['next_cursor']}",
    }
    workers = wait_for_workers(server, WORKERS)
    rows, pages = [], {}
    for scenario, path in paths.items():
        body = get_json(server, path, headers)
        pages[scenario] = [item["id"] for item in body["items"]]
        size = len(requests.get(server.base_url + path, headers=headers, timeout=30).content)
        connections: list[int] = []
        with get_requests():
            result = run_load(
                "127.0.0.1",
                server.port,
                path,
                lambda i: b"",
                headers=headers,
                total=REQUESTS,
                concurrency=CONCURRENCY,
                warmup_per_client=5,
                keep_connection=EvenSpread(server.port, workers, CONCURRENCY),
                on_ready=lambda c=connections: c.extend(
                    connections_per_worker(server.port, workers)
                ),
            )
        rows.append(Row(backend, scenario, target, result, connections, size))
        print(
            f"  {backend} {target} {scenario}: {result.requests_per_second:,.0f} req/s, "
            f"p99 {result.p99_ms:.1f} ms",
            flush=True,
        )
    return rows, pages


def get_json(server: Server, path: str, headers: dict[str, str]) -> dict:
    response = requests.get(server.base_url + path, headers=headers, timeout=30)
    assert response.status_code == 200, response.text[:500]
    return response.json()


@contextmanager
def get_requests() -> Iterator[None]:
    """tests/bench/load.py POSTs; for this benchmark its one request function GETs."""
    with mock.patch.object(load, "_post", _get):
        yield


def _get(
    conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    conn.request("GET", path, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    response = conn.getresponse()
    data = response.read()
    if response.status // 100 == 2:
        return response.status, ""
    return response.status, data.decode("utf-8", "replace")


def format_table(rows: list[Row]) -> str:
    header = (
        f"{'backend':<9} {'scenario':<8} {'target':<7} {'req/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'bytes':>7}  conns/worker"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        r = row.result
        lines.append(
            f"{row.backend:<9} {row.scenario:<8} {row.target:<7} {r.requests_per_second:>8.1f} "
            f"{r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.non_2xx:>7} {row.response_bytes:>7}  "
            f"{'+'.join(map(str, row.connections)) or '?'}"
        )
    lines.append("")
    pairs: dict[tuple[str, str], dict[str, LoadResult]] = {}
    for row in rows:
        pairs.setdefault((row.backend, row.scenario), {})[row.target] = row.result
    for (backend, scenario), by_target in pairs.items():
        atende, bare = by_target.get("atende"), by_target.get("bare")
        if atende is None or bare is None:
            continue
        ratio = atende.requests_per_second / bare.requests_per_second
        lines.append(
            f"{backend:<9} {scenario:<6} atende/bare req/s = {ratio:.3f} (target >= "
            f"{RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'MISSED'}); atende p99 = "
            f"{atende.p99_ms:.1f} ms (target < {P99_TARGET_MS:.0f} ms: "
            f"{'met' if atende.p99_ms < P99_TARGET_MS else 'MISSED'}); bare p99 = "
            f"{bare.p99_ms:.1f} ms"
        )
    return "\n".join(lines)


BACKLOG_TICKETS = int(os.environ.get("ATENDE_BENCH_BACKLOG_TICKETS", "20000"))
BACKLOG_EVENTS = 20_000


def test_queue_read_while_the_projector_works_through_a_backlog(
    backend: str, tmp_path: Path
) -> None:
    """Issue 19: the first page read while the projector applies a 20,000-event backlog
    to every view, against the bare app reading the same table with no projector.

    BACKLOG_TICKETS active tickets are seeded and every view caught up; then 20,000
    events more are written (tickets opened and worked) and Atende starts with its
    projector, which takes them on while the load runs."""
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            print(f"\n\n{backend}: seeding {BACKLOG_TICKETS:,} active tickets ...", flush=True)
            seed_open_tickets(atende, BACKLOG_TICKETS)
            for name, view in atende.views.items():
                ViewFollower(atende.tickets, VIEWS[name].projection(view=view), 2000).catch_up()
            caught_up = atende.tickets.head_position()
            seed_history(atende, BACKLOG_EVENTS)
            head = atende.tickets.head_position()
        finally:
            atende.close()
        env = server_env(url, SECRET_KEY_TEXT)
        path = f"/v1/queue?limit={PAGE}"

        bare = BareQueueServer(url, tmp_path / "bare.log", env=env)
        bare.start()
        try:
            bare_result = read_under_load(bare, path, {})
        finally:
            bare.stop()

        mine = Server(url, tmp_path / "atende.log", env=env)  # with its projector
        token = mine.create_token("admin", "bench")
        mine.start(workers=WORKERS)
        try:
            atende_result = read_under_load(mine, path, {"Authorization": f"Bearer {token}"})
            reader = bootstrap(settings_for(url))
            try:
                applied = reader.views["queue"].max_tracking_id(reader.tickets.name) or 0
            finally:
                reader.close()
        finally:
            mine.stop()

    ratio = atende_result.requests_per_second / bare_result.requests_per_second
    record("queue read during a 20,000-event backlog, atende/bare req/s", backend, ratio,
           at_least=RATIO_TARGET)  # fmt: skip
    left = max(0, head - applied)
    print(
        f"\n{backend}: first page during a backlog of {head - caught_up:,} events: atende "
        f"{atende_result.requests_per_second:,.0f} req/s (p99 {atende_result.p99_ms:.1f} ms), "
        f"bare {bare_result.requests_per_second:,.0f} req/s; ratio {ratio:.3f} (target >= "
        f"{RATIO_TARGET}); the queue view had {left:,} events left when the load ended"
    )
    for result in (atende_result, bare_result):
        assert result.warmup_errors == 0 and result.non_2xx == 0, result.sample_error


def read_under_load(server: Server, path: str, headers: dict[str, str]) -> LoadResult:
    workers = [pid for pid in wait_for_workers(server, WORKERS) if pid]
    with get_requests():
        return run_load(
            "127.0.0.1", server.port, path, lambda i: b"",
            headers=headers, total=REQUESTS, concurrency=CONCURRENCY, warmup_per_client=5,
            keep_connection=EvenSpread(server.port, workers, CONCURRENCY),
        )  # fmt: skip
