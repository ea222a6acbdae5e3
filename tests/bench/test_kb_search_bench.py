"""Knowledge-base search (issue 23): ATENDE_BENCH_KB_ARTICLES articles (default 10,000),
each in Spanish, Portuguese and English, written into the ``kb`` view as the projector
writes them (so seeding takes seconds, not an hour of commands). Then the public search
route, in process through the Falcon app (query parsing, the view's query, snippets,
JSON), against the database's raw full-text query for the same words on the same tables
in the same run: p99 of each, and the ratio raw/route (1.0: the route costs nothing
above the engine).

Words are drawn by Zipf's law from 20,000 per language (tests/bench/vocabulary.py), and a
query pairs a helpdesk word with one of middling frequency: tens of hits, not thousands.
Ticket search over 1,000,000 tickets is tests/bench/test_ticket_search_bench.py.

    .venv/bin/pytest tests/bench/test_kb_search_bench.py -s -p no:cacheprovider \
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
from interface.http.app import create_app
from interface.wiring import bootstrap
from projections.kb import ARTICLE, TEXT, KbChange
from tests.bench.summary import p99_ms, record
from tests.bench.vocabulary import VOCABULARIES
from tests.databases import BACKENDS, fresh_database_url, settings_for

ARTICLES = int(os.environ.get("ATENDE_BENCH_KB_ARTICLES", 10_000))
QUERIES = int(os.environ.get("ATENDE_BENCH_KB_QUERIES", 400))
BATCH = 500

pytestmark = pytest.mark.bench

VOCABULARY = VOCABULARIES  # Zipf-shaped words per language (tests/bench/vocabulary.py)


def _text(rng: random.Random, language: str, words: int) -> str:
    return VOCABULARY[language].text(rng, words)


def _seed(view, tickets_name: str) -> None:
    rng = random.Random(23)
    for position, start in enumerate(range(0, ARTICLES, BATCH), start=1):
        changes = []
        for n in range(start, min(start + BATCH, ARTICLES)):
            article_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"/bench/{n}"))
            row = {
                "slug": f"articulo-{n}",
                "state": "published",
                "category_id": None,
                "tags": "",
                "source_language": "es",
                "updated_at": "2026-12-01T00:00:00",
            }
            changes.append(KbChange(ARTICLE, article_id, None, row, insert=True))
            for language in VOCABULARY:
                text = {"title": _text(rng, language, 6), "body": _text(rng, language, 120)}
                changes.append(KbChange(TEXT, article_id, language, text, insert=True))
        view.apply(changes, Tracking(tickets_name, position))



def _raw(view, query: str, language: str) -> None:
    if view.db.is_postgres:
        statement = (
            f"SELECT t.article_id, ts_rank_cd(t.document, q) AS r FROM {view.texts} t, "
            "to_tsquery(CAST(:config AS regconfig), :query) q "
            "WHERE t.document @@ q AND t.language = :language ORDER BY r DESC LIMIT 10"
        )
        params = {"config": view.configuration(language),
                  "query": " & ".join(query.split()), "language": language}  # fmt: skip
    else:
        statement = (
            f"SELECT t.article_id, bm25({view.fts}) AS r FROM {view.fts} s "
            f"JOIN {view.texts} t ON t.n = s.rowid WHERE {view.fts} MATCH :match "
            "AND t.language = :language ORDER BY r LIMIT 10"
        )
        params = {"match": fts5_match(query, language), "language": language}
    with view.db.reading() as cursor:
        view.db.execute(cursor, statement, params)
        cursor.fetchall()


@pytest.mark.parametrize("backend", BACKENDS)
def test_public_search_over_ten_thousand_articles_in_three_languages(backend, tmp_path: Path):
    with fresh_database_url(backend, tmp_path) as url:
        atende = bootstrap(settings_for(url))
        try:
            view = atende.views.kb
            started = time.perf_counter()
            _seed(view, atende.tickets.name)
            seeded = time.perf_counter() - started
            client = falcon.testing.TestClient(create_app(atende))
            rng = random.Random(7)
            asked = []
            for _ in range(QUERIES):
                language = rng.choice(tuple(VOCABULARY))
                asked.append((VOCABULARY[language].query(rng), language))
            route, raw = [], []
            for query, language in asked:  # alternately, so both see the same machine
                t0 = time.perf_counter()
                answer = client.simulate_get(
                    "/v1/public/kb/search", params={"q": query, "lang": language}
                )
                t1 = time.perf_counter()
                _raw(view, query, language)
                t2 = time.perf_counter()
                assert answer.status_code == 200, answer.text
                route.append(t1 - t0)
                raw.append(t2 - t1)
            answered = sum(
                bool(
                    client.simulate_get(
                        "/v1/public/kb/search", params={"q": query, "lang": language}
                    ).json["items"]
                )
                for query, language in asked[:40]
            )
            assert answered >= 20, "the bench's queries find little: it would measure nothing"
        finally:
            atende.close()
    route_p99, raw_p99 = p99_ms(route), p99_ms(raw)
    print(
        f"\n[{backend}] {ARTICLES:,} articles x 3 languages seeded in {seeded:.1f} s; "
        f"search p99: route {route_p99:.1f} ms, raw query {raw_p99:.1f} ms "
        f"(raw/route {raw_p99 / route_p99:.2f})"
    )
    record("kb search p99 ms (10k articles x 3)", backend, route_p99, below=50.0)
    record("kb search raw/route p99", backend, raw_p99 / route_p99, at_least=0.5)
