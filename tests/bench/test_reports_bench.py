"""The reports view (issue 6): report queries over one year of data, p99 < 100 ms.

One year (2025) of ATENDE_BENCH_REPORT_TICKETS tickets (default 500,000) handled by
ATENDE_BENCH_REPORT_AGENTS agents (default 50) over 6 channels, 3 languages and 10
categories is fed to the view as the projection's own changes (opened, assigned, replied,
SLA timers, resolved, a few reopened and resolved again, a survey per resolution, ~30%
rated), in batches of ~20,000 changes, on SQLite and PostgreSQL. Then each report query,
as the HTTP layer runs it, ATENDE_BENCH_REPORT_RUNS times (default 50): p50 and p99 against
a raw ``SELECT COUNT(*)`` of the satisfaction rollup on the same database. Nothing is
asserted on time; the results themselves are checked.

    .venv/bin/pytest tests/bench/test_reports_bench.py -s -p no:cacheprovider -o addopts="" -m bench
"""

from __future__ import annotations

import math
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Tracking

from interface.wiring import bootstrap
from projections.reports import GROUPS, ReportChange, percentile
from projections.timestamps import timestamp
from tests.bench.summary import record
from tests.databases import BACKENDS, fresh_database_url, settings_for

pytestmark = pytest.mark.bench
REPORT_P99_TARGET_MS = 100.0

TICKETS = int(os.environ.get("ATENDE_BENCH_REPORT_TICKETS", "500000"))
AGENT_COUNT = int(os.environ.get("ATENDE_BENCH_REPORT_AGENTS", "50"))
RUNS = int(os.environ.get("ATENDE_BENCH_REPORT_RUNS", "50"))
BATCH = 20_000  # changes per apply (whole tickets)
AGENTS = tuple(f"agent-{i:03d}" for i in range(AGENT_COUNT))
CHANNELS = ("email", "web", "whatsapp", "phone", "chat", "api")
LANGUAGES = ("es", "pt", "en")
CATEGORIES = tuple(f"topic-{i}" for i in range(10))
START, END = date(2025, 1, 1), date(2025, 12, 31)
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_LAST = datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC)  # later events are clamped here
SPAN = (YEAR_LAST - YEAR_START).total_seconds()


def ticket(rng: random.Random, i: int, counts: Counter) -> list[ReportChange]:
    """One ticket's changes in event order, its surveys' after their resolution."""
    key, agent = str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.choice(AGENTS)
    clock = YEAR_START + timedelta(seconds=(i + rng.random()) * SPAN / TICKETS)
    changes: list[ReportChange] = []

    def add(kind: str, after: float, change_key: str = key, **data: Any) -> None:
        nonlocal clock
        clock = min(clock + timedelta(seconds=after), YEAR_LAST)
        changes.append(ReportChange(kind, change_key, timestamp(clock), data))
        counts[kind] += 1

    def resolve_and_survey() -> None:
        add("resolved", rng.expovariate(1 / 14_400))
        survey = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        add("survey_issued", 1, survey, agent=agent, channel=rng.choice(CHANNELS),
            language=rng.choice(LANGUAGES), category=rng.choice(CATEGORIES))  # fmt: skip
        counts["sent " + changes[-1].at[:7]] += 1
        if rng.random() < 0.3:
            add("survey_rated", rng.expovariate(1 / 86_400), survey,
                rating=rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 6))[0], previous=None)  # fmt: skip

    add("opened", 0)
    add("assigned", rng.expovariate(1 / 300), agent=agent)
    add("replied", rng.expovariate(1 / 1_800), author=agent)
    business = int(rng.expovariate(1 / 1_800))
    add("timer_fulfilled", 0, metric="first_response", cycle=1, business=business,
        met=business < 4 * 3_600)  # fmt: skip
    resolve_and_survey()
    business = int(rng.expovariate(1 / 10_000))
    add("timer_fulfilled", 0, metric="resolution", cycle=1, business=business,
        met=business < 24 * 3_600)  # fmt: skip
    if rng.random() < 0.03:
        add("reopened", rng.expovariate(1 / 86_400))
        resolve_and_survey()
    return changes


def batches(rng: random.Random, counts: Counter) -> Iterator[list[ReportChange]]:
    batch: list[ReportChange] = []
    for i in range(TICKETS):
        batch.extend(ticket(rng, i, counts))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def measure(run: Callable[[], Any]) -> tuple[Any, float, float]:
    """The last result, and p50 and p99 (nearest rank) in ms."""
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return result, samples[math.ceil(0.5 * RUNS) - 1], samples[math.ceil(0.99 * RUNS) - 1]


def agents_report(view: Any, start: date, end: date, agent: str | None = None) -> dict:
    """The agents report: counters, CSAT, and median and p90 of every duration."""
    counters = view.agent_counters(start, end, agent)
    durations = view.agent_durations(start, end, agent)
    satisfaction = view.agent_satisfaction(start, end, agent)
    return {
        name: {
            **counters[name],
            **satisfaction.get(name, {}),
            **{
                f"{metric} {q}": percentile(histogram, q)
                for metric, histogram in durations.get(name, {}).items()
                for q in (0.5, 0.9)
            },
        }
        for name in counters
    }


def raw(view: Any, select: str, table: str = "satisfaction") -> list[tuple]:
    with view.db.reading() as cursor:
        view.db.execute(cursor, f"SELECT {select} FROM {view.tables[table]}")
        return view.db.fetch_values(cursor)


def settle_after_bulk_load(view: Any) -> None:
    """What autovacuum does on a live server within a minute of such a load (and a
    rebuild, before its swap, analyzes): statistics for the planner, which otherwise
    guesses (the 30-day report took three times as long), and the vacuum that would
    otherwise run during the measurement, competing for the two cores; then the
    checkpoint the load's WAL would trigger during it, writing gigabytes at once."""
    with view.db.datastore.get_connection() as conn:
        conn.commit()
        conn.autocommit = True
        try:
            for table in view.tables.values():
                conn.execute(f"VACUUM (ANALYZE) {table}")
            conn.execute("CHECKPOINT")
        finally:
            conn.autocommit = False


@pytest.mark.parametrize("backend", BACKENDS)
def test_report_queries_over_a_year(backend: str, tmp_path: Path) -> None:
    rng, counts = random.Random(6), Counter()
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            view = atende.views["reports"]
            started, position = time.perf_counter(), 0
            for batch in batches(rng, counts):
                position += len(batch)
                view.apply(batch, Tracking("Atende", position))
            seeding = time.perf_counter() - started
            if view.db.is_postgres:
                settle_after_bulk_load(view)
            sizes = {name: raw(view, "COUNT(*)", name)[0][0] for name in view.tables}
            march = (date(2025, 3, 1), date(2025, 3, 31))
            window = (date(2025, 5, 17), date(2025, 6, 15))  # 30 days, no whole month
            queries: dict[str, Callable[[], Any]] = {
                "raw COUNT(*) satisfaction": lambda: raw(view, "COUNT(*)")[0][0],
                "raw read, all satisfaction rows": lambda: raw(view, "*"),
                **{
                    f"satisfaction by {g}, year": lambda g=g: view.satisfaction(g, START, END)
                    for g in GROUPS
                },
                "satisfaction by agent, March": lambda: view.satisfaction("agent", *march),
                "satisfaction by agent, 30 days": lambda: view.satisfaction("agent", *window),
                "agents report, year": lambda: agents_report(view, START, END),
                "one agent's report, year": lambda: agents_report(view, START, END, AGENTS[7]),
                "agents report, 30 days": lambda: agents_report(view, *window),
            }
            results = {name: measure(run) for name, run in queries.items()}
        finally:
            atende.close()

    surveys, resolved = counts["survey_issued"], counts["resolved"]
    for g in GROUPS:
        rows = results[f"satisfaction by {g}, year"][0]
        assert sum(r["sent"] for r in rows) == surveys, g
        assert sum(r["responses"] for r in rows) == counts["survey_rated"], g
    assert len(results["satisfaction by channel, year"][0]) == len(CHANNELS)
    assert len(results["satisfaction by day, year"][0]) == 365
    march_sent = sum(r["sent"] for r in results["satisfaction by agent, March"][0])
    assert march_sent == counts["sent 2025-03"]
    report = results["agents report, year"][0]
    assert sorted(report) == sorted(AGENTS)
    assert sum(a["resolved"] for a in report.values()) == resolved
    assert sum(a["assigned"] for a in report.values()) == TICKETS
    assert sum(a["reopened"] for a in report.values()) == counts["reopened"]
    assert sum(a["sent"] for a in report.values()) == surveys
    assert all(len(a) == 5 + 4 + 8 and None not in a.values() for a in report.values())
    assert results["one agent's report, year"][0] == {AGENTS[7]: report[AGENTS[7]]}
    assert results["raw COUNT(*) satisfaction"][0] == sizes["satisfaction"]

    baseline = results["raw COUNT(*) satisfaction"][1]
    print(
        f"\n\n{backend}: {TICKETS:,} tickets, {position:,} changes ({surveys:,} surveys, "
        f"{resolved:,} resolutions) seeded in {seeding:.1f} s ({position / seeding:,.0f} "
        f"changes/s); rows: {', '.join(f'{n} {k:,}' for n, k in sizes.items())}"
    )
    print(f"{'query (' + str(RUNS) + ' runs)':<34}{'p50 ms':>9}{'p99 ms':>9}{'p50/raw':>9}")
    for name, (_, p50, p99) in results.items():
        print(f"{name:<34}{p50:>9.1f}{p99:>9.1f}{p50 / baseline:>9.1f}")
    # Issue 19: the all-agents performance report over a year, p99 under 100 ms.
    record("agents report, year, p99 ms", backend, results["agents report, year"][2],
           below=REPORT_P99_TARGET_MS)  # fmt: skip
