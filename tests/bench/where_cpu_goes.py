"""Where the CPU of one request goes under load (issue 19), for Atende, the floor app
(tests/bench/floor_app.py) or the bare app, on one database. Not a test: run it by hand.

    .venv/bin/python -m tests.bench.where_cpu_goes DATABASE TARGET [requests]

DATABASE is sqlite or postgres; TARGET is atende, message, floor or bare.

It starts the server as the throughput bench does (2 workers, the projector with Atende),
drives ``POST`` requests from 16 keep-alive clients (new tickets; with ``message``, messages
on tickets opened beforehand, as the throughput bench's message case), and prints:

- the CPU each kind of process spent per request (the server's workers, Atende's
  projector, PostgreSQL's backends, this load generator), and how idle the machine was:
  on a machine whose cores are all busy, requests per second are about the cores divided
  by the sum;
- on PostgreSQL, what the database did per request (transactions, rows written), how
  many backends waited on a lock on average (a write path serialised by a lock shows
  here), and, when the server loads pg_stat_statements, the statements that took its
  time. Loading it needs a restart, so it is left to the operator::

    ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';  -- then restart
    CREATE EXTENSION pg_stat_statements;
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.bench.load import run_load
from tests.bench.process_cpu import TICKS_PER_SECOND, read_tree
from tests.bench.test_open_ticket_throughput import (
    MESSAGE,
    MESSAGE_TICKETS,
    BareServer,
    FloorServer,
    open_tickets,
    ticket_bodies,
    wait_for_workers,
)
from tests.databases import SECRET_KEY_TEXT, fresh_database_url
from tests.e2e.server import Server, server_env

CLIENTS = 16
ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=test"
LOCK_SAMPLE_SECONDS = 0.01


def start(
    target: str, url: str, logs: Path
) -> tuple[Server, str | Callable[[int], str], dict[str, str]]:
    env = server_env(url, SECRET_KEY_TEXT)
    if target in ("atende", "message"):
        server = Server(url, logs / "atende.log", env=env).start(workers=2)
        token = server.create_token("integrator", "cpu")
        headers = {"Authorization": f"Bearer {token}"}
        if target == "atende":
            return server, "/v1/tickets", headers
        tickets = open_tickets(server, headers, ticket_bodies()[:1] * MESSAGE_TICKETS)
        return server, lambda i: f"/v1/tickets/{tickets[i % len(tickets)]}/messages", headers
    baseline = (FloorServer if target == "floor" else BareServer)(
        url, logs / f"{target}.log", env=env
    )
    baseline.start(workers=2)
    return baseline, baseline.path, {}


def machine_ticks() -> tuple[int, int]:
    """(idle, all) clock ticks of every core so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return values[3] + values[4], sum(values)


class PostgresWatch:
    """Database counters around the run, and a sampler of lock waits during it."""

    COUNTERS = "xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted"

    def __init__(self) -> None:
        self.connection = psycopg.connect(ADMIN_DSN, autocommit=True)
        self.statements = bool(
            self.connection.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'"
            ).fetchone()
        ) and "pg_stat_statements" in self.connection.execute(
            "SHOW shared_preload_libraries"
        ).fetchone()[0]
        self.waiting: list[int] = []
        self._stop = threading.Event()

    def cpu_ticks(self) -> int:
        """The CPU clock ticks of the server's every process so far (the postmaster's
        tree: backends, WAL writer, checkpointer, autovacuum)."""
        (directory,) = self.connection.execute("SHOW data_directory").fetchone()
        postmaster = int((Path(directory) / "postmaster.pid").read_text().split()[0])
        return sum(reading.ticks for reading in read_tree(postmaster).values())

    def begin(self) -> None:
        self.ticks_before = self.cpu_ticks()
        if self.statements:
            self.connection.execute("SELECT pg_stat_statements_reset()")
        self.before = self._counters()
        threading.Thread(target=self._sample, daemon=True).start()

    def end(self) -> None:
        self._stop.set()
        self.ticks_after = self.cpu_ticks()
        time.sleep(0.5)  # the statistics collector's last report
        self.after = self._counters()

    def _counters(self) -> tuple[int, ...]:
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        return self.connection.execute(
            f"SELECT {self.COUNTERS} FROM pg_stat_database WHERE datname = 'test'"
        ).fetchone()

    def _sample(self) -> None:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as sampler:
            while not self._stop.is_set():
                (count,) = sampler.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'test' "
                    "AND wait_event_type = 'Lock'"
                ).fetchone()
                self.waiting.append(count)
                time.sleep(LOCK_SAMPLE_SECONDS)

    def report(self, requests: int) -> list[str]:
        names = self.COUNTERS.replace("xact_", "").replace("tup_", "rows ").split(", ")
        changes = [(b - a) / requests for a, b in zip(self.before, self.after, strict=True)]
        counts = zip(names, changes, strict=True)
        lines = ["per request: " + ", ".join(f"{n} {v:.2f}" for n, v in counts)]
        if self.waiting:
            waiting = statistics.mean(self.waiting)
            lines.append(f"backends waiting on a lock, on average: {waiting:.1f}")
        if not self.statements:
            lines.append("statements: pg_stat_statements is not loaded (see this file's doc)")
            return lines
        rows = self.connection.execute(
            "SELECT calls, total_exec_time + total_plan_time, query FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'test') "
            "AND query NOT LIKE '%pg_stat%' ORDER BY 2 DESC"  # not this watch's own
        ).fetchall()
        total = sum(row[1] for row in rows)
        lines.append(f"statements, executing and planning: {total / requests:.3f} ms per request")
        for calls, spent, query in rows[:15]:
            shown = re.sub(r'"atende_test_\w+"\.', "", " ".join(query.split()))[:90]
            lines.append(
                f"  {calls / requests:5.2f} a request, {spent / requests * 1000:6.1f} us: {shown}"
            )
        return lines


def group(name: str, pid: int, workers: list[int]) -> str:
    if "project" in name:  # Atende's projector, a child of gunicorn's master like a worker
        return "projector"
    if pid in workers:
        return "server workers"
    return "server, other"


def measure(backend: str, target: str, requests: int) -> None:
    bodies = ticket_bodies()
    with (
        tempfile.TemporaryDirectory() as directory,
        fresh_database_url(backend, Path(directory)) as url,
    ):
        server, path, headers = start(target, url, Path(directory))
        watch = PostgresWatch() if backend == "postgres" else None
        marks: dict[str, object] = {}
        try:
            workers = wait_for_workers(server, 2)

            def began() -> None:
                marks["tree"] = read_tree(server.process.pid)
                marks["machine"] = machine_ticks()
                marks["self"] = sum(os.times()[:2])
                if watch is not None:
                    watch.begin()

            if target == "message":
                bodies = [MESSAGE]
            result = run_load(
                "127.0.0.1", server.port, path, lambda i: bodies[i % len(bodies)],
                headers=headers, total=requests, concurrency=CLIENTS, on_ready=began,
            )  # fmt: skip
            tree, machine = read_tree(server.process.pid), machine_ticks()
            own = sum(os.times()[:2])
            if watch is not None:
                watch.end()
        finally:
            server.stop()

    spent: Counter[str] = Counter()
    for pid, reading in tree.items():
        before = marks["tree"].get(pid)
        spent[group(reading.name, pid, workers)] += reading.ticks - (before.ticks if before else 0)
    in_ms = 1000 / TICKS_PER_SECOND / requests
    per_request = {name: ticks * in_ms for name, ticks in spent.items()}
    if watch is not None:
        per_request["postgres"] = (watch.ticks_after - watch.ticks_before) * in_ms
    per_request["load generator"] = (own - marks["self"]) * 1000 / requests
    idle = (machine[0] - marks["machine"][0]) / (machine[1] - marks["machine"][1])

    print(
        f"{backend} {target}: {result.requests_per_second:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, {result.non_2xx} failed; machine idle {idle:.0%}"
    )
    print("CPU per request:")
    for name, ms in sorted(per_request.items(), key=lambda item: -item[1]):
        print(f"  {name:<16} {ms:6.2f} ms")
    print(f"  {'sum':<16} {sum(per_request.values()):6.2f} ms")
    if watch is not None:
        print("\n".join(watch.report(requests)))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    measure(arguments[0], arguments[1], int(arguments[2]) if len(arguments) > 2 else 3000)
