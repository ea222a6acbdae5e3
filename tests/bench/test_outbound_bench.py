"""Outbound delivery (issue 22): can the outbox keep up with twice the rate tickets are
opened, and how long from a commit to its delivery on an idle system?

For each backend, in one run against one server (``atende serve --workers 2`` with its
projector):

- the create rate: ``POST /v1/tickets`` under the usual closed-loop load (16 keep-alive
  clients, ATENDE_BENCH_REQUESTS requests), with a webhook subscription to every opening;
- the webhook outbox's rate: a replay queues one delivery per opening at once, and the
  dispatcher sends them to a local receiver that answers 200 at once; the rate is
  deliveries over the time from the replay's answer to the last one received;
- the email outbox's rate: agents' replies (ATENDE_BENCH_REQUESTS of them, on email
  tickets) are queued while a local SMTP server (tests/bench/smtp_sink.py, a counting
  server) holds its answers to DATA; once it answers, the rate is emails over the time to
  the last one accepted. That server's own ceiling (``python -m tests.smtp_sink``)
  is about 10,000 emails a second here; aiosmtpd, used before, capped the figure at 380;
- the NATS stream's rate: the same server started again with ATENDE_NATS_URL publishes
  the whole log as a backlog; the rate is events over the time to the last
  acknowledgement;
- the delay from commit to delivery, idle: tickets opened one at a time, 100 ms apart,
  each timed from its 201 to its delivery at the receiver (p50, p99).

Targets: each outbox rate at least twice the create rate (ratio >= 1.0 of 2x create);
the idle delay's p99 under 100 ms (reported, never asserted).

    make bench
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from pathlib import Path

import pytest

from tests.bench.summary import record
from tests.bench.test_open_ticket_throughput import (
    MESSAGE,
    MESSAGE_TICKETS,
    WORKERS,
    drive,
    open_tickets,
    ticket_bodies,
)
from tests.databases import SECRET_KEY_TEXT, fresh_database_url
from tests.e2e.server import Server, server_env
from tests.nats_stream import count, fresh_stream
from tests.smtp_sink import counting_smtp_server
from tests.webhook_receiver import receiving

pytestmark = pytest.mark.bench

IDLE_SAMPLES = 50
IDLE_PAUSE_SECONDS = 0.1
DELAY_TARGET_MS = 100.0
DRAIN_TIMEOUT_SECONDS = 300


def _post(server: Server, token: str, path: str, body: dict) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST", path, json.dumps(body),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    answer = conn.getresponse()
    data = answer.read()
    assert answer.status in (200, 201, 202), data
    conn.close()
    return json.loads(data)


def _until(condition, what: str) -> float:
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {DRAIN_TIMEOUT_SECONDS} s: {what}"
        time.sleep(0.005)
    return time.monotonic()


def test_outbound_delivery_keeps_up_with_ticket_creation(backend: str, tmp_path: Path) -> None:
    bodies = ticket_bodies()
    with (
        fresh_database_url(backend, tmp_path) as url,
        receiving() as receiver,
        counting_smtp_server() as (mailbox, smtp_url),
    ):
        env = {
            **server_env(url, SECRET_KEY_TEXT),
            "ATENDE_WEBHOOK_ALLOW_PRIVATE": "true",
            "ATENDE_SMTP_URL": smtp_url,
            "ATENDE_MAIL_FROM": "soporte@atende.example",
        }
        atende = Server(url, tmp_path / "atende.log", env=env)
        atende.start(workers=WORKERS)
        try:
            admin = atende.create_token("admin", "bench-admin")
            token = atende.create_token("integrator", "bench")
            hook = _post(atende, admin, "/v1/webhooks",
                         {"url": receiver.url, "events": ["ticket.opened"]})  # fmt: skip
            created = drive(backend, "atende", "create", atende, "/v1/tickets",
                            {"Authorization": f"Bearer {token}"}, bodies)  # fmt: skip
            create_rate = created.result.requests_per_second
            # Every opening delivered (warm-up requests open tickets too) before the replay,
            # so no live send is under way when it starts.
            _until(lambda: not _pending(atende, admin, hook["id"]), "live deliveries")

            # The webhook outbox's own rate: every opening again, queued at once.
            received_before = len(receiver.received)
            started = time.monotonic()
            queued = _post(atende, admin, f"/v1/webhooks/{hook['id']}/replay",
                           {"after_position": 0})["queued"]  # fmt: skip
            assert queued >= created.result.requests, queued
            done = _until(
                lambda: len(receiver.received) >= received_before + queued, "the replay"
            )
            webhook_rate = queued / (done - started)

            # Commit to delivery, idle.
            time.sleep(1)
            delays = []
            for _ in range(IDLE_SAMPLES):
                seen = len(receiver.received)
                opened = _post(atende, token, "/v1/tickets", json.loads(bodies[0]))
                committed = time.monotonic()
                arrived = _until(lambda n=seen: len(receiver.received) > n, "a delivery")
                assert receiver.received[-1].event["ticket_id"] == opened["id"]
                delays.append((arrived - committed) * 1000)
                time.sleep(IDLE_PAUSE_SECONDS)
            # The email outbox's own rate: replies queued while the server holds DATA.
            tickets = open_tickets(atende, {"Authorization": f"Bearer {token}"},
                                   bodies[:1] * MESSAGE_TICKETS)  # fmt: skip
            mailbox.open.clear()
            drive(backend, "atende", "message", atende,
                            lambda i: f"/v1/tickets/{tickets[i % len(tickets)]}/messages",
                            {"Authorization": f"Bearer {token}"}, [MESSAGE])  # fmt: skip
            emails = _replies_queued(atende, token, tickets)
            started = time.monotonic()
            mailbox.open.set()
            done = _until(lambda: mailbox.count >= emails, "the email backlog")
            email_rate = emails / (done - started)

            events = _count_feed(atende, admin)
            atende.stop()

            # The stream's own rate: the whole log as a backlog on a new stream. Timed from
            # the server answering its health check (the projector starts with it).
            with fresh_stream() as backlog:
                atende.env.update(backlog.env())
                atende.start(workers=WORKERS)
                started = time.monotonic()
                done = _until(lambda: count(backlog) >= events, "the stream backlog")
                nats_rate = events / (done - started)
        finally:
            atende.stop()

    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    twice = 2 * create_rate
    record("webhook outbox/2x create rate", backend, webhook_rate / twice, at_least=1.0)
    record("nats stream/2x create rate", backend, nats_rate / twice, at_least=1.0)
    record("email outbox/2x create rate", backend, email_rate / twice, at_least=1.0)
    record("webhook commit-to-delivery p99 ms (idle)", backend, p99, below=DELAY_TARGET_MS)
    print(
        f"\n\n{backend}: create {create_rate:,.0f} tickets/s; "
        f"webhook outbox {webhook_rate:,.0f} deliveries/s ({queued} replayed); "
        f"NATS stream {nats_rate:,.0f} events/s ({events} published); "
        f"email outbox {email_rate:,.0f} emails/s ({emails} sent); "
        f"commit to delivery, idle: p50 {p50:.1f} ms, p99 {p99:.1f} ms ({IDLE_SAMPLES} samples)"
    )


def _pending(server: Server, token: str, hook_id: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", f"/v1/webhooks/{hook_id}/deliveries?status=pending&limit=1",
                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    items = json.loads(conn.getresponse().read())["items"]
    conn.close()
    return bool(items)


def _count_feed(server: Server, token: str) -> int:
    """How many events the log holds (PostgreSQL's positions have gaps)."""
    total, after = 0, 0
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    while True:
        conn.request("GET", f"/v1/events?after={after}&limit=1000",
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        page = json.loads(conn.getresponse().read())
        if not page["events"]:
            break
        total += len(page["events"])
        after = page["next_after"]
    conn.close()
    return total


def _replies_queued(server: Server, token: str, tickets: list[str]) -> int:
    """Agents' public replies on these tickets (every one is an email to send)."""
    total = 0
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for ticket in tickets:
        conn.request("GET", f"/v1/tickets/{ticket}", headers={"Authorization": f"Bearer {token}"})
        messages = json.loads(conn.getresponse().read())["messages"]
        total += sum(1 for m in messages if m["outbound"])
    conn.close()
    return total
