"""The audit trail (issue 7): as-of on a long ticket, and verifying a long log.

1. One ticket with ATENDE_BENCH_ASOF_EVENTS events (default 10,000: messages, saved 100 per
   transaction so snapshots land every 100 versions). Then ATENDE_BENCH_ASOF_RUNS (default
   500) as-of reads at random instants across its life, p50 and p99, against reading the
   ticket's current state (``repository.get``, from its latest snapshot) in the same run.
   Target: as-of p99 < 20 ms.
2. ATENDE_BENCH_AUDIT_EVENTS events (default 1,000,000; realistic tickets, tests/bench/seed.py).
   The baseline reads the events table raw, every row in position order in the pages
   verification uses; then ``audit.verify()`` walks the same log checking every hash, as a
   deployment does (in ranges side by side: ATENDE_VERIFY_WORKERS), then again in one
   process, printed for comparison. Target: verify events/s >= 0.3 x raw events/s.

Nothing is asserted on time; the results themselves are checked.

    .venv/bin/pytest tests/bench/test_audit_bench.py -s -p no:cacheprovider -o addopts="" -m bench
"""

from __future__ import annotations

import gc
import math
import os
import random
import time
from pathlib import Path

import pytest

from domain.actor import Actor
from domain.customer import Contact
from infrastructure.heap import freeze_startup_heap
from interface.wiring import bootstrap
from tests.bench.seed import seed_history
from tests.bench.summary import record
from tests.databases import BACKENDS, fresh_database_url, settings_for

LONG_TICKET_EVENTS = int(os.environ.get("ATENDE_BENCH_ASOF_EVENTS", 10_000))
AS_OF_RUNS = int(os.environ.get("ATENDE_BENCH_ASOF_RUNS", 500))
LOG_EVENTS = int(os.environ.get("ATENDE_BENCH_AUDIT_EVENTS", 1_000_000))
PER_SAVE = 100
AGENT = Actor(id="bench-agent", name="agente", role="agent")

# Every tenth event is a message; the others change priority, tags and status, as a long
# ticket's life does. A ticket's state holds its messages, so rebuilding it costs time in
# proportion to its messages (decoding them from the nearest snapshot), not its events.
MESSAGE_EVERY = 10
PRIORITIES = ("low", "normal", "high", "urgent")
STATUSES = ("open", "pending", "on_hold")

pytestmark = pytest.mark.bench


def _work_on(ticket) -> None:
    step = ticket.version
    _change(ticket, step)
    if ticket.version == step:  # that change was already so (same priority, status)
        ticket.add_message(f"mensaje {step}", "customer", None, "public", None, AGENT)


def _change(ticket, step: int) -> None:
    if step % MESSAGE_EVERY == MESSAGE_EVERY - 1:
        ticket.add_message(f"mensaje {step}", "customer", None, "public", None, AGENT)
    elif step % 3 == 0:
        ticket.change_priority(PRIORITIES[(step // 3) % 4], AGENT)
    elif step % 3 == 1:
        tag = f"t{step % 7}"
        ticket.change_tags([], [tag], AGENT) if tag in ticket.tags else ticket.change_tags(
            [tag], [], AGENT
        )
    else:
        ticket.change_status(STATUSES[(step // 3) % 3], AGENT)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    n = len(samples)
    return samples[math.ceil(0.5 * n) - 1], samples[math.ceil(0.99 * n) - 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_as_of_on_a_ticket_with_ten_thousand_events(backend: str, tmp_path: Path) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        # As a gunicorn worker does once it has built its app
        # (interface/http/server/gunicorn_conf.py).
        freeze_startup_heap()
        try:
            app = atende.tickets
            tid = app.open_ticket(
                subject="Cliente con historia larga",
                description="Muchos mensajes",
                contact=Contact(name="Ana", email="ana.larga@example.com"),
                channel="chat",
                actor=AGENT,
            ).ticket.id
            started = time.perf_counter()
            while app.get_ticket(tid).version < LONG_TICKET_EVENTS:
                ticket = app.get_ticket(tid)
                target = min(ticket.version + PER_SAVE, LONG_TICKET_EVENTS)
                while ticket.version < target:
                    _work_on(ticket)
                app.save(ticket)
            seeding = time.perf_counter() - started
            history = app.history(tid)
            assert len(history) == LONG_TICKET_EVENTS
            rng = random.Random(7)
            messages_upto, count = {}, 0
            for recorded in history:
                count += recorded.type == "message_added"
                messages_upto[recorded.version] = count
            # Keep only what the reads need: 10,000 decoded events held here would make every
            # full garbage collection during the reads walk them, which no server does.
            history = [(e.occurred_at, e.version) for e in history]
            gc.collect()
            picks = [rng.randrange(LONG_TICKET_EVENTS) for _ in range(AS_OF_RUNS)]
            samples, baseline = [], []
            for index in picks:
                at, version = history[index]
                started = time.perf_counter()
                as_of = atende.audit.ticket_as_of(tid, at).ticket
                samples.append((time.perf_counter() - started) * 1000)
                assert as_of.version >= version
                assert len(as_of.messages) == messages_upto[as_of.version]
                started = time.perf_counter()
                app.repository.get(tid)
                baseline.append((time.perf_counter() - started) * 1000)
            p50, p99 = _percentiles(samples)
            b50, b99 = _percentiles(baseline)
            record("as-of on a 10,000-event ticket, p99 ms", backend, p99, below=20.0)
            print(
                f"\n[{backend}] as-of on one ticket of {LONG_TICKET_EVENTS:,} events "
                f"(seeded in {seeding:.1f} s), {AS_OF_RUNS} reads at random instants:\n"
                f"  as-of               p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
                "   (target p99 < 20 ms)\n"
                f"  current state (get) p50 {b50:7.2f} ms   p99 {b99:7.2f} ms   "
                f"ratio as-of/get p99 {p99 / b99:.2f}"
            )
        finally:
            atende.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_verify_over_a_million_events_against_reading_them_raw(
    backend: str, tmp_path: Path
) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            started = time.perf_counter()
            seed_history(atende, LOG_EVENTS)
            seeding = time.perf_counter() - started
            head = atende.tickets.head_position()
            log = atende.audit.log

            started = time.perf_counter()
            raw = sum(1 for _ in log.stored_rows())
            raw_seconds = time.perf_counter() - started
            started = time.perf_counter()
            report = atende.audit.verify()
            verify_seconds = time.perf_counter() - started

            assert report.ok, report.first_break
            assert raw == report.checked == head
            workers = atende.audit.verify_workers
            # The same walk in the calling process alone, for comparison.
            atende.audit.verify_workers = 1
            started = time.perf_counter()
            alone = atende.audit.verify()
            alone_seconds = time.perf_counter() - started
            assert alone.ok and alone.checked == head
            raw_rate, verify_rate = raw / raw_seconds, report.checked / verify_seconds
            alone_rate = alone.checked / alone_seconds
            record("audit verify/raw read events/s", backend, verify_rate / raw_rate,
                   at_least=0.3)  # fmt: skip
            print(
                f"\n[{backend}] {raw:,} events (seeded in {seeding:.0f} s):\n"
                f"  raw read     {raw_seconds:6.1f} s  {raw_rate:10,.0f} events/s\n"
                f"  audit verify {verify_seconds:6.1f} s  {verify_rate:10,.0f} events/s"
                f"   ({workers} ranges side by side)\n"
                f"  ratio verify/raw {verify_rate / raw_rate:.2f} (target >= 0.3)\n"
                f"  verify in one process {alone_seconds:6.1f} s, "
                f"ratio {alone_rate / raw_rate:.2f}"
            )
        finally:
            atende.close()
