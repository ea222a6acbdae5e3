"""The SLA engine (issue 4): business-time due dates and the breach sweep.

* ``due_at`` calls/s on a realistic calendar (America/Sao_Paulo, 09-13 and 14-18 Monday to
  Friday, BR/SP public and optional holidays), random starts, 1-5 business-day targets;
* due dates for ATENDE_BENCH_SLA_OPEN open tickets (default 100,000), first response in 4
  business hours and resolution in 3 business days, with the caches cold and then warm;
* the breach sweep per due ticket, on SQLite and PostgreSQL, over ATENDE_BENCH_SLA_TICKETS
  tickets (default 2,000) whose first response is overdue (a warning and a breach each).

Each figure is printed with a baseline measured in the same run (plain always-open
``start + timedelta`` arithmetic; one ticket command on the same store). Nothing is
asserted on time; the results themselves are checked.

    make bench        # or, only this: .venv/bin/pytest tests/bench/test_sla_bench.py -s \
                      #   -p no:cacheprovider -o addopts="" -m bench
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from application.sla_sweep import sweep
from domain.actor import Actor
from domain.calendar import Calendar
from domain.customer import Contact
from domain.sla import business_time
from domain.sla.business_time import BusinessHours, business_seconds_between, due_at
from domain.sla.policy import SlaPolicy
from infrastructure.holidays import library_versions, seed_holidays
from infrastructure.projector import ViewFollower
from infrastructure.views.registry import VIEWS
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import fresh_database_url, settings_for
from tests.integration.builders import AGENT, open_ticket

pytestmark = pytest.mark.bench

CALLS = int(os.environ.get("ATENDE_BENCH_SLA_CALLS", "200000"))
OPEN_TICKETS = int(os.environ.get("ATENDE_BENCH_SLA_OPEN", "100000"))
SWEPT_TICKETS = int(os.environ.get("ATENDE_BENCH_SLA_TICKETS", "2000"))

ADMIN = Actor(id="a", name="a", role="admin")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
SPLIT_SHIFT = [["09:00", "13:00"], ["14:00", "18:00"]]
HOUR = 3600
BUSINESS_DAY = 8 * HOUR  # the calendar's open time on a working day
FIRST_RESPONSE = 4 * HOUR
RESOLUTION = 3 * BUSINESS_DAY
# Starts fall in 2025-2026; a 5-business-day target from late December ends in 2027.
YEARS = (2025, 2026, 2027)
STARTS_FROM = datetime(2025, 1, 1, tzinfo=UTC)
STARTS_SPAN = int((datetime(2027, 1, 1, tzinfo=UTC) - STARTS_FROM).total_seconds())
CHECKED = 2_000  # results checked against business_seconds_between
CUSTOMERS = 50


@dataclass
class Timed:
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


@dataclass
class SweepRow:
    backend: str
    tickets: int
    command: Timed  # one ticket command per ticket
    due_query: Timed  # view.due(now) alone, once
    swept: Timed  # count = due tickets

    @property
    def ratio(self) -> float:
        per_ticket = self.swept.seconds / self.swept.count
        return per_ticket / (self.command.seconds / self.command.count)


SWEEPS: list[SweepRow] = []


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    yield
    if SWEEPS:
        print("\n\nBreach sweep, all backends")
        print(format_sweeps(SWEEPS))


@pytest.fixture(scope="module")
def sao_paulo() -> BusinessHours:
    """The realistic calendar, built the way a revision is: seeded, then checked."""
    versions = library_versions()
    calendar = Calendar.create(
        actor=ADMIN,
        name="sao-paulo",
        timezone="America/Sao_Paulo",
        weekly={day: SPLIT_SHIFT for day in WEEKDAYS},
        holidays=seed_holidays("BR", "SP", ["public", "optional"], YEARS),
        tzdata_version=versions["tzdata"],
        holidays_version=versions["holidays"],
    )
    print(f"\n\ncalendar: America/Sao_Paulo, {len(calendar.holidays)} holidays in {YEARS}")
    return calendar.business_hours()


# 1. due_at calls/s


def test_due_at_calls_per_second(sao_paulo: BusinessHours) -> None:
    rng = random.Random(20240604)
    starts = random_starts(rng, CALLS)
    targets = [rng.randint(1, 5) * BUSINESS_DAY for _ in range(CALLS)]
    clear_caches()
    run_due_at(starts[: CALLS // 10], targets, sao_paulo)  # warm the per-day caches

    baseline = timed(CALLS, lambda: run_plain(starts, targets))
    business = timed(CALLS, lambda: run_due_at(starts, targets, sao_paulo))
    check_due_dates(starts[:CHECKED], targets[:CHECKED], sao_paulo)

    print(f"\ndue_at, {CALLS:,} calls, random starts in 2025-2026, 1-5 business days")
    print(format_rates("calls", [("plain start + timedelta", baseline), ("due_at", business)]))
    print(ratio_line("due_at/plain calls/s", business, baseline))


# 2. Due dates for every open ticket


def test_due_dates_for_all_open_tickets(sao_paulo: BusinessHours) -> None:
    rng = random.Random(20240605)
    opened = random_starts(rng, OPEN_TICKETS)
    first = [FIRST_RESPONSE] * OPEN_TICKETS
    resolution = [RESOLUTION] * OPEN_TICKETS

    baseline = timed(
        OPEN_TICKETS, lambda: (run_plain(opened, first), run_plain(opened, resolution))
    )
    clear_caches()  # the first pass computes every day's open spans once
    cold = timed(
        OPEN_TICKETS,
        lambda: (run_due_at(opened, first, sao_paulo), run_due_at(opened, resolution, sao_paulo)),
    )
    warm = timed(
        OPEN_TICKETS,
        lambda: (run_due_at(opened, first, sao_paulo), run_due_at(opened, resolution, sao_paulo)),
    )
    check_due_dates(opened[:CHECKED], first[:CHECKED], sao_paulo)
    check_due_dates(opened[:CHECKED], resolution[:CHECKED], sao_paulo)

    print(
        f"\ndue dates for {OPEN_TICKETS:,} open tickets "
        "(first response 4 business hours, resolution 3 business days)"
    )
    rows = [("plain start + timedelta", baseline), ("due_at, cold", cold), ("due_at, warm", warm)]
    print(format_rates("tickets", rows))
    print(ratio_line("due_at cold/plain tickets/s", cold, baseline))
    print(ratio_line("due_at warm/plain tickets/s", warm, baseline))


def random_starts(rng: random.Random, count: int) -> list[datetime]:
    return [
        STARTS_FROM
        + timedelta(seconds=rng.randrange(STARTS_SPAN), microseconds=rng.randrange(10**6))
        for _ in range(count)
    ]


def run_due_at(starts: Sequence[datetime], seconds: Sequence[int], hours: BusinessHours) -> list:
    return [due_at(start, s, hours) for start, s in zip(starts, seconds, strict=False)]


def run_plain(starts: Sequence[datetime], seconds: Sequence[int]) -> list:
    return [start + timedelta(seconds=s) for start, s in zip(starts, seconds, strict=False)]


def check_due_dates(starts: Sequence[datetime], seconds: Sequence[int], hours: BusinessHours):
    for start, s in zip(starts, seconds, strict=True):
        due = due_at(start, s, hours)
        assert due >= start.replace(microsecond=0) + timedelta(seconds=s), (start, s, due)
        assert business_seconds_between(start, due, hours) == s, (start, s, due)


def clear_caches() -> None:
    # Per-day open spans and zone offsets are memoised: clear them to measure a cold pass.
    business_time._open_spans.cache_clear()
    business_time._date_pieces.cache_clear()


# 3. The breach sweep


def test_breach_sweep_per_due_ticket(backend: str, tmp_path: Path) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            row = measure_sweep(atende, backend, SWEPT_TICKETS)
        finally:
            atende.close()
    SWEEPS.append(row)
    print(f"\n\n{backend}: breach sweep over {row.tickets:,} overdue tickets")
    print(format_sweeps([row]))


def measure_sweep(atende: Atende, backend: str, tickets: int) -> SweepRow:
    atende.sla_config.put_calendar("main", {"timezone": "UTC", "always_open": True}, ADMIN)
    policy = SlaPolicy(name="p", calendar="main", targets={"first_response": HOUR})
    atende.sla_config.replace_policies([policy], ADMIN)
    started = time.perf_counter()
    ids = [open_ticket(atende, contact=contact(n)).ticket.id for n in range(tickets)]
    print(f"\n\n{backend}: opened {tickets:,} tickets in {time.perf_counter() - started:.1f} s")

    # Baseline: one ticket command each (it reads the ticket, its timers, the policies
    # and the calendar, then saves one event).
    command = timed(
        tickets,
        lambda: [atende.tickets.change(i, lambda t: t.change_priority("high", AGENT)) for i in ids],
    )

    view = atende.views["sla"]
    ViewFollower(atende.tickets, VIEWS["sla"].projection(view=view)).catch_up()
    now = datetime.now(UTC) + timedelta(hours=2)
    due_query = timed(1, lambda: view.due(now))
    assert len(view.due(now)) == 2 * tickets

    result: list = []
    swept = timed(tickets, lambda: result.append(sweep(atende.tickets, view, now)))
    recorded = result[0].recorded
    assert len(recorded) == 2 * tickets
    assert sorted(d.threshold for d in recorded) == ["breach"] * tickets + ["warning"] * tickets
    assert {d.ticket_id for d in recorded} == {str(i) for i in ids}
    return SweepRow(backend, tickets, command, due_query, swept)


def contact(n: int) -> Contact:
    customer = n % CUSTOMERS
    return Contact(name=f"Cliente {customer}", email=f"cliente{customer}@example.com")


def format_sweeps(rows: list[SweepRow]) -> str:
    header = (
        f"{'backend':<9} {'tickets':>8} {'command ms/ticket':>18} {'due() query ms':>15} "
        f"{'sweep s':>8} {'sweep ms/due ticket':>20} {'ratio':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(
            f"{row.backend:<9} {row.tickets:>8,} "
            f"{1000 * row.command.seconds / row.command.count:>18.2f} "
            f"{1000 * row.due_query.seconds:>15.1f} {row.swept.seconds:>8.1f} "
            f"{1000 * row.swept.seconds / row.swept.count:>20.2f} {row.ratio:>6.2f}"
        )
    lines.append("")
    for row in rows:
        lines.append(
            f"{row.backend:<9} sweep per due ticket (a warning and a breach) / one ticket "
            f"command = {row.ratio:.2f}"
        )
    return "\n".join(lines)


# Shared


def timed(count: int, work: Callable[[], object]) -> Timed:
    started = time.perf_counter()
    work()
    return Timed(count, time.perf_counter() - started)


def format_rates(unit: str, rows: list[tuple[str, Timed]]) -> str:
    header = f"{'':<24} {'seconds':>8} {unit + '/s':>12} {'us/' + unit.rstrip('s'):>10}"
    lines = [header, "-" * len(header)]
    for label, t in rows:
        lines.append(
            f"{label:<24} {t.seconds:>8.3f} {t.rate:>12,.0f} {1e6 * t.seconds / t.count:>10.2f}"
        )
    return "\n".join(lines)


def ratio_line(label: str, measured: Timed, baseline: Timed) -> str:
    ratio = measured.rate / baseline.rate
    return f"{label} = {ratio:.4f} (plain arithmetic is {1 / ratio:,.1f}x faster)"
