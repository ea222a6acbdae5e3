"""Rebuilding the queue view from a long log, against reading that log (Clarification 12).

For each backend: seed ATENDE_BENCH_EVENTS events (default 1,000,000: ~200,000 tickets,
each opened and then worked on by four domain commands; see tests/bench/seed.py), then
measure, over the same log and the same recorder:

* the baseline: every notification read raw (``select_notifications`` in batches of
  the rebuild's size) and turned into a domain event (``mapper.to_domain_event``);
* ``infrastructure.rebuild.rebuild(atende, "queue")``: fresh tables built from
  position 0 and swapped in.

Target (reported, never asserted): rebuild events/s >= 0.7 x baseline events/s. The run
does assert that the rebuilt view is right (one row per ticket not closed, at the head).

    make bench        # or, smaller: ATENDE_BENCH_EVENTS=100000 make bench
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infrastructure.rebuild import REBUILD_BATCH_SIZE, rebuild
from interface.container import Atende
from interface.wiring import bootstrap
from tests.bench.seed import Seeded, seed_history
from tests.bench.summary import record
from tests.databases import fresh_database_url, settings_for

pytestmark = pytest.mark.bench

EVENTS = int(os.environ.get("ATENDE_BENCH_EVENTS", "1000000"))
RATIO_TARGET = 0.7  # issue 19 (0.5 before)
# Seeding is setup, not the figure measured; past this it is worth mentioning.
SEED_BUDGET_SECONDS = 300.0


@dataclass
class Timed:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class Row:
    backend: str
    seeded: Seeded
    baseline: Timed
    rebuilt: Timed

    @property
    def ratio(self) -> float:
        return self.rebuilt.rate / self.baseline.rate if self.baseline.rate else 0.0


ROWS: list[Row] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if ROWS:
        print("\n\nQueue rebuild, all backends")
        print(format_table(ROWS))


def test_queue_rebuild(backend: str, tmp_path: Path) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            print(f"\n\n{backend}: seeding {EVENTS:,} events ...", flush=True)
            seeded = seed_history(atende, EVENTS)
            head = atende.tickets.head_position()
            print(
                f"{backend}: seeded {seeded.tickets:,} tickets, {seeded.events:,} events in "
                f"{seeded.seconds:.1f} s ({seeded.events_per_second:,.0f} events/s)"
                + (
                    f" -- over the {SEED_BUDGET_SECONDS:.0f} s seeding budget"
                    if seeded.seconds > SEED_BUDGET_SECONDS
                    else ""
                ),
                flush=True,
            )
            baseline = read_log(atende)
            print(f"{backend}: baseline {baseline.seconds:.1f} s", flush=True)
            rebuilt = rebuild_queue(atende)
            print(f"{backend}: rebuild {rebuilt.seconds:.1f} s", flush=True)

            assert baseline.events == head == seeded.events
            view = atende.views["queue"]
            assert view.max_tracking_id(atende.tickets.name) == head
            rows = atende.db.fetchone(f"SELECT COUNT(*) AS n FROM {view.t}")["n"]
            assert rows == seeded.in_view, (rows, seeded.statuses)
        finally:
            atende.close()

    row = Row(backend, seeded, baseline, rebuilt)
    ROWS.append(row)
    record("queue rebuild/raw read events/s", backend, row.ratio, at_least=RATIO_TARGET)
    print(format_table([row]))


def read_log(atende: Atende, batch: int = REBUILD_BATCH_SIZE) -> Timed:
    """Clarification 12's baseline: raw read plus ``to_domain_event``, same recorder,
    same batch size as the rebuild."""
    recorder, mapper = atende.tickets.recorder, atende.tickets.mapper
    position = count = 0
    started = time.perf_counter()
    while notifications := recorder.select_notifications(position, batch, inclusive_of_start=False):
        for notification in notifications:
            mapper.to_domain_event(notification)
        position = notifications[-1].id
        count += len(notifications)
    return Timed(count, time.perf_counter() - started)


def rebuild_queue(atende: Atende) -> Timed:
    """The whole operation an operator runs: fresh tables, catch up, swap."""
    head = atende.tickets.head_position()
    stream = io.StringIO()
    started = time.perf_counter()
    rebuild(atende, "queue", stream)
    seconds = time.perf_counter() - started
    return Timed(head, seconds)


def format_table(rows: list[Row]) -> str:
    header = (
        f"{'backend':<9} {'events':>10} {'seed s':>8} {'seed ev/s':>10} {'read s':>8} "
        f"{'read ev/s':>10} {'rebuild s':>10} {'rebuild ev/s':>13} {'ratio':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.backend:<9} {row.seeded.events:>10,} {row.seeded.seconds:>8.1f} "
            f"{row.seeded.events_per_second:>10,.0f} {row.baseline.seconds:>8.1f} "
            f"{row.baseline.rate:>10,.0f} {row.rebuilt.seconds:>10.1f} "
            f"{row.rebuilt.rate:>13,.0f} {row.ratio:>6.3f}"
        )
    lines.append("")
    for row in rows:
        met = "met" if row.ratio >= RATIO_TARGET else "MISSED"
        lines.append(
            f"{row.backend:<9} rebuild/baseline events/s = {row.ratio:.3f} "
            f"(target >= {RATIO_TARGET}: {met})"
        )
    return "\n".join(lines)
