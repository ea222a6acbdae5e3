"""A queue rebuild in a fresh process, against a raw read of the same log (issue 19). Not
a test: run it by hand, to compare two trees on one seeded database.

    .venv/bin/python -m tests.bench.rebuild_fresh seed sqlite|postgres EVENTS
    .venv/bin/python -m tests.bench.rebuild_fresh run sqlite|postgres [ROUNDS]
    .venv/bin/python -m tests.bench.rebuild_fresh drop sqlite|postgres

``make bench``'s rebuild runs in the process that seeded the log, so most customers' keys
are still in its cache; an operator's ``atende projections rebuild`` starts with none. Each
round here reads the log raw (as the bench's baseline) and then rebuilds the queue, and
prints wall and CPU seconds of both: the first round is the fresh process's, later ones
have the keys cached. Seed once, then run each tree in turn (``PYTHONPATH=.`` from the
other tree's directory) on the same database: SQLite in ``var/rebuild-bench/``,
PostgreSQL in the schema ``atende_rebuild_bench`` of the test database.
"""

from __future__ import annotations

import io
import shutil
import sys
import time
from pathlib import Path

import psycopg

from infrastructure.rebuild import rebuild
from interface.wiring import bootstrap
from tests.bench.seed import seed_history
from tests.bench.test_queue_rebuild import read_log
from tests.databases import POSTGRES_URL, outside_state, settings_for

SQLITE_DIRECTORY = Path("var/rebuild-bench")
SCHEMA = "atende_rebuild_bench"


def database_url(backend: str) -> str:
    if backend == "postgres":
        return f"{POSTGRES_URL}?schema={SCHEMA}"
    return f"sqlite:///{SQLITE_DIRECTORY.resolve() / 'atende.db'}"


def timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(arguments: list[str]) -> None:
    command, backend = arguments[0], arguments[1]
    if command == "drop":
        if backend == "postgres":
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
            shutil.rmtree(outside_state(database_url(backend)), ignore_errors=True)
        else:
            shutil.rmtree(SQLITE_DIRECTORY, ignore_errors=True)
        return
    if backend == "sqlite":
        SQLITE_DIRECTORY.mkdir(parents=True, exist_ok=True)
    atende = bootstrap(settings_for(database_url(backend)))
    try:
        if command == "seed":
            seeded = seed_history(atende, int(arguments[2]))
            print(f"{backend}: seeded {seeded.events:,} events")
            return
        rounds = int(arguments[2]) if len(arguments) > 2 else 2
        for round_ in range(1, rounds + 1):
            read = timed(lambda: read_log(atende))
            rebuilt = timed(lambda: rebuild(atende, "queue", io.StringIO()))
            print(
                f"{backend} round {round_}: read {read[0]:.2f} s (cpu {read[1]:.2f}), "
                f"rebuild {rebuilt[0]:.2f} s (cpu {rebuilt[1]:.2f}), "
                f"rebuild/read events/s {read[0] / rebuilt[0]:.3f}",
                flush=True,
            )
    finally:
        atende.close()


if __name__ == "__main__":
    main(sys.argv[1:])
