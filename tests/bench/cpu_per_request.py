"""The CPU one ``POST /v1/tickets`` and one ``POST /v1/tickets/{id}/messages`` cost in
process (issue 19): the real application on a fresh database, one thread, no server, no
projector. Not a test: run it by hand, alternating two trees, to compare them (copy it
into a tree older than it).

    .venv/bin/python -m tests.bench.cpu_per_request sqlite|postgres [requests]

Throughput under load (the throughput bench, where_cpu_goes) moved by a third between
runs of one tree on this machine; this leaves out the scheduler, the lock waits and the
other processes, so what two trees' code costs shows through. It counts this process's
CPU only: PostgreSQL's own work is not in it, SQLite's is. The body and ticket mix are
the throughput bench's: new customers' tickets, and messages going round 200 tickets.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import falcon.testing

from interface.http.app import create_app
from interface.wiring import bootstrap
from tests.bench.test_open_ticket_throughput import MESSAGE, MESSAGE_TICKETS, ticket_bodies
from tests.databases import fresh_database_url, settings_for


def measure(backend: str, requests: int) -> tuple[float, float]:
    """CPU microseconds per create and per message."""
    with (
        tempfile.TemporaryDirectory() as directory,
        fresh_database_url(backend, Path(directory)) as url,
    ):
        atende = bootstrap(settings_for(url))
        try:
            token = atende.tokens.create("admin", "cpu").token
            client = falcon.testing.TestClient(
                create_app(atende),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            bodies = ticket_bodies()

            def create(n: int) -> str:
                answer = client.simulate_post("/v1/tickets", body=bodies[n % len(bodies)])
                assert answer.status_code == 201, answer.text
                return answer.json["id"]

            tickets = [create(n) for n in range(MESSAGE_TICKETS)]  # also the warm-up
            started = time.process_time()
            for n in range(requests):
                create(MESSAGE_TICKETS + n)
            per_create = (time.process_time() - started) / requests
            started = time.process_time()
            for n in range(requests):
                path = f"/v1/tickets/{tickets[n % len(tickets)]}/messages"
                assert client.simulate_post(path, body=MESSAGE).status_code == 200
            per_message = (time.process_time() - started) / requests
        finally:
            atende.close()
    return per_create * 1e6, per_message * 1e6


if __name__ == "__main__":
    backend = sys.argv[1]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    create_us, message_us = measure(backend, requests)
    print(f"{backend}: create {create_us:.0f} µs CPU, message {message_us:.0f} µs CPU")
