"""Where one ``POST /v1/tickets`` spends its time, in process (issue 19): the real
application on a fresh database, 50 warm-up requests, then 1,000 profiled ones, printed by
cumulative time. Not a test: run it by hand.

    .venv/bin/python -m tests.bench.profile_write_path sqlite|postgres [sort-key]
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

import falcon.testing

from interface.http.app import create_app
from interface.wiring import bootstrap
from tests.databases import fresh_database_url, settings_for
from tests.hostile_inputs import ticket

WARM_UP, PROFILED = 50, 1000


def profile(backend: str, sort: str = "cumulative") -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        fresh_database_url(backend, Path(directory)) as url,
    ):
        atende = bootstrap(settings_for(url))
        token = atende.tokens.create("admin", "profile").token
        client = falcon.testing.TestClient(
            create_app(atende), headers={"Authorization": f"Bearer {token}"}
        )
        for _ in range(WARM_UP):
            client.simulate_post("/v1/tickets", json=ticket())
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(PROFILED):
            assert client.simulate_post("/v1/tickets", json=ticket()).status_code == 201
        profiler.disable()
        pstats.Stats(profiler).sort_stats(sort).print_stats(60)
        atende.close()


if __name__ == "__main__":
    profile(*sys.argv[1:3])
