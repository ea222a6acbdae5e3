"""Ticket search (issue 23): ATENDE_BENCH_TICKETS tickets (default 1,000,000), each a
subject and a description in Spanish, Portuguese or English with Zipf-shaped words
(tests/bench/vocabulary.py), written into the ``ticket_list`` view and its full-text
index as the projector writes them (the view's own statements, in batches), so seeding
takes minutes, not the days a million commands would.

Then ``GET /v1/tickets?q=`` in process through the Falcon app (token check, query
parsing, the view's query: the subject as typed OR the full-text index in every
language, newest first, a page of 50, JSON) against the database's raw full-text query
for the same words (the index alone, newest 50 of its matches) in the same run: p99 of
each, and the ratio raw/route. The index's write rate is printed beside a raw read of
the same number of rows.

    .venv/bin/pytest tests/bench/test_ticket_search_bench.py -s -p no:cacheprovider \
        -o addopts="" -m bench
"""

from __future__ import annotations

import os
import random
import time
import uuid
from pathlib import Path

import falcon.testing
import pytest
from eventsourcing.persistence import Tracking

from infrastructure.search_text import fts5_match
from infrastructure.ticket_numbers import TABLE as NUMBERS
from interface.http.app import create_app
from interface.wiring import bootstrap
from projections.ticket_list import RowChange, SearchChange
from tests.bench.summary import p99_ms, record
from tests.bench.vocabulary import LANGUAGES, VOCABULARIES
from tests.databases import BACKENDS, fresh_database_url, settings_for

TICKETS = int(os.environ.get("ATENDE_BENCH_TICKETS", 1_000_000))
QUERIES = int(os.environ.get("ATENDE_BENCH_TICKET_QUERIES", 300))
BATCH = 5_000

pytestmark = pytest.mark.bench


def _row(n: int, language: str, subject: str) -> dict:
    created = f"2026-{1 + n * 11 // TICKETS:02d}-01T00:00:00.{n:06d}"
    return {
        "number": n + 1, "subject": subject, "subject_folded": subject.casefold(),
        "status": "open", "priority": "normal", "channel": "email", "language": language,
        "category": None, "assignee": None, "external_ref": None,
        "customer_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"/bench/c/{n % 50_000}")),
        "created_at": created, "updated_at": created, "resolved_at": None, "closed_at": None,
    }  # fmt: skip


def _seed(view, tickets_name: str) -> float:
    """Seconds spent writing the rows and their index entries."""
    rng = random.Random(23)
    spent = 0.0
    for position, start in enumerate(range(0, TICKETS, BATCH), start=1):
        changes: list = []
        for n in range(start, min(start + BATCH, TICKETS)):
            language = LANGUAGES[n % len(LANGUAGES)]
            words = VOCABULARIES[language]
            subject, description = words.text(rng, 6), words.text(rng, 40)
            ticket_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"/bench/t/{n}"))
            changes.append(RowChange(ticket_id, _row(n, language, subject), insert=True))
            changes.append(SearchChange(ticket_id, n + 1, language, f"{subject}\n{description}"))
        # The numbers the write path gives tickets (the view's rows read theirs).
        numbered = [
            {"number": c.position, "ticket_id": c.ticket_id, "position": c.position}
            for c in changes
            if isinstance(c, SearchChange)
        ]
        with view.db.transaction() as cursor:
            view.db.executemany(
                cursor,
                f"INSERT INTO {view.db.table(NUMBERS)} (number, ticket_id, position) "
                "VALUES (:number, :ticket_id, :position)",
                numbered,
            )
        started = time.perf_counter()
        view.apply(changes, Tracking(tickets_name, position))
        spent += time.perf_counter() - started
    return spent


def _raw_search(view, query: str) -> list:
    """The index alone: the newest 50 tickets whose words match, in any language."""
    if view.db.is_postgres:
        configs = " || ".join(
            f"to_tsquery(CAST(:c{i} AS regconfig), :q)" for i in range(len(view.languages))
        )
        params = {f"c{i}": view._configuration(lang) for i, lang in enumerate(view.languages)}
        params["q"] = " & ".join(query.split())
        matched = f"SELECT id FROM {view.search} WHERE document @@ ({configs})"
    else:
        # Each language's stems, any of them (as the view asks FTS5).
        alternatives = [fts5_match(query, lang) for lang in view.languages]
        params = {"m": " OR ".join(f"({a})" for a in alternatives if a)}
        matched = f"SELECT id FROM {view.search} WHERE {view.search} MATCH :m"
    statement = (
        f"SELECT * FROM {view.t} WHERE id IN ({matched}) "
        "ORDER BY created_at DESC, number DESC LIMIT 50"
    )
    with view.db.reading() as cursor:
        view.db.execute(cursor, statement, params)
        return cursor.fetchall()


def _raw_read_seconds(view) -> float:
    """Reading back as many rows as were indexed (their subject), for the write rate's
    baseline: what the database does with no index to build."""
    started = time.perf_counter()
    with view.db.reading() as cursor:
        view.db.execute(cursor, f"SELECT id, subject, customer_id FROM {view.t}")
        while cursor.fetchmany(10_000):
            pass
    return time.perf_counter() - started



@pytest.mark.parametrize("backend", BACKENDS)
def test_ticket_search_over_a_million_tickets(backend, tmp_path: Path):
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            view = atende.views.ticket_list
            written = _seed(view, atende.tickets.name)
            read = _raw_read_seconds(view)
            token = atende.tokens.create("integrator", "bench").token
            client = falcon.testing.TestClient(create_app(atende))
            headers = {"Authorization": f"Bearer {token}"}
            rng = random.Random(7)
            asked = [VOCABULARIES[rng.choice(LANGUAGES)].query(rng) for _ in range(QUERIES)]
            route, raw, found = [], [], 0
            for query in asked:  # alternately, so both see the same machine
                t0 = time.perf_counter()
                answer = client.simulate_get("/v1/tickets", params={"q": query}, headers=headers)
                t1 = time.perf_counter()
                _raw_search(view, query)
                t2 = time.perf_counter()
                assert answer.status_code == 200, answer.text
                found += bool(answer.json["items"])
                route.append(t1 - t0)
                raw.append(t2 - t1)
            assert found >= QUERIES // 2, "the bench's queries find little: it measures nothing"
        finally:
            atende.close()
    route_p99, raw_p99 = p99_ms(route), p99_ms(raw)
    write_rate, read_rate = TICKETS / written, TICKETS / read
    print(
        f"\n[{backend}] {TICKETS:,} tickets indexed at {write_rate:,.0f}/s (a raw read of "
        f"their rows: {read_rate:,.0f}/s, {write_rate / read_rate:.3f}); search p99: route "
        f"{route_p99:.1f} ms, raw query {raw_p99:.1f} ms (raw/route {raw_p99 / route_p99:.2f})"
    )
    size = f"{TICKETS // 1000}k" if TICKETS < 1_000_000 else f"{TICKETS // 1_000_000}M"
    record(f"ticket search p99 ms ({size} tickets)", backend, route_p99, below=50.0)
    record(f"ticket search raw/route p99 ({size} tickets)", backend, raw_p99 / route_p99,
           at_least=0.5)  # fmt: skip
