"""Reliability drills against real servers: a worker killed mid-stream, PostgreSQL cut off
under load, sixteen clients on one ticket, hostile clients, an event one view cannot
apply and the projector killed, both under load. Each drill prints its
figures (run with -s to see them) and asserts them; docs/deployment.md says what an
operator can expect from each."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.databases import BACKENDS, POSTGRES_URL, SECRET_KEY_TEXT, fresh_database_url
from tests.e2e.api import Api, ticket_body
from tests.e2e.drills import (
    HUNG,
    Stream,
    each_request_once_in_log,
    eventually,
    feed,
    settle,
    worker_pids,
)
from tests.e2e.problems import history
from tests.e2e.server import Server, running_server, server_env
from tests.e2e.tcp_proxy import TcpProxy, through_port
from tests.e2e.test_projector_supervision import _alive, _projectors_of
from tests.e2e.test_view_failures import POISON, cure_ticket_list, poison_ticket_list

ROLES = ("integrator", "agent", "auditor")


@dataclass
class Drill:
    backend: str
    database_url: str
    server: Server
    tokens: dict[str, str]

    def api(self, role: str) -> Api:
        return Api(self.server.base_url, self.tokens[role])

    def workers(self) -> set[int]:
        return worker_pids(self.server.process.pid)


@pytest.fixture(autouse=True)
def agents() -> None:
    """The drills run their own servers, so they need none of the shared server's agents."""


@pytest.fixture(scope="module", params=BACKENDS)
def drill(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Drill]:
    directory = tmp_path_factory.mktemp(f"drill-{request.param}")
    with running_server(request.param, directory) as server:
        tokens = {role: server.create_token(role, f"drill-{role}") for role in ROLES}
        yield Drill(request.param, server.database_url, server, tokens)


def report(drill: str, backend: str, **figures: Any) -> None:
    print(f"\nDRILL {drill} [{backend}]: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# a. A worker killed mid-stream


def test_a_worker_killed_mid_stream_loses_no_acknowledged_ticket_and_retries_add_none(drill):
    before = drill.workers()
    victim = min(before)
    with Stream(drill.server.base_url, drill.tokens["integrator"]) as stream:
        stream.wait_for(201, 20)
        os.kill(victim, signal.SIGKILL)
        eventually(lambda: len(drill.workers() - before) == 1, "the master restarts the worker")
        stream.wait_for(201, 20)
    assert victim not in drill.workers()
    sent = stream.attempts
    # The killed worker's requests get no answer; no request gets an error status.
    assert {a.status for a in sent} <= {201, None}, Counter(a.status for a in sent)
    assert not [a for a in sent if a.problem == HUNG]
    unacknowledged = [a for a in sent if not a.acknowledged]
    retried, held = settle(drill.api("integrator"), drill.database_url, unacknowledged)
    assert all(a.acknowledged for a in retried), [(a.number, a.status) for a in retried]
    figures = each_request_once_in_log(drill.api("auditor"), stream.run, sent, retried)
    report(
        "worker-killed",
        drill.backend,
        sent=len(sent),
        acknowledged=len(sent) - len(unacknowledged),
        unacknowledged=len(unacknowledged),
        held_in_flight=held,
        retries_replayed=sum(a.replayed for a in retried),
        retries_created=sum(not a.replayed for a in retried),
        **figures,
    )


# c. Sixteen clients on one ticket

CLIENTS = 16
ROUNDS = 3
PRIORITIES = ("low", "normal", "high", "urgent")


def test_sixteen_clients_on_one_ticket_every_acknowledged_change_is_in_its_history(drill):
    """Extends tests/e2e/test_concurrency.py (8 clients, one kind of command each) to
    unconditional and conditional commands mixed on one ticket."""
    integrator = drill.api("integrator")
    tid = integrator.open_ticket(subject="Dieciséis a la vez")["id"]
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = [
            answer
            for client in pool.map(lambda n: one_client(drill.api("agent"), tid, n), range(CLIENTS))
            for answer in client
        ]
    statuses = Counter(status for _, _, status, _ in answers)
    events = {event["version"]: event for event in history(integrator, tid)}
    acknowledged = [a for a in answers if a[2] == 200]
    report(
        "one-ticket",
        drill.backend,
        sent=len(answers),
        acknowledged=len(acknowledged),
        statuses=dict(sorted(statuses.items())),
        events_in_history=len(events),
    )
    assert set(statuses) <= {200, 409, 412}, statuses
    versions = [version for _, _, _, version in acknowledged]
    assert len(set(versions)) == len(versions), "two acknowledged changes claim one version"
    for kind, value, _, version in acknowledged:
        assert change_in(events[version]) == (kind, value), (version, events[version])
    assert len(events) == 1 + len(acknowledged), "an event nobody acknowledged"


def one_client(agent: Api, tid: str, client: int) -> list[tuple[str, str, int, int | None]]:
    """A few commands: (kind, value, status, version written)."""
    answers = []
    for round_ in range(ROUNDS):
        kind, value, response = command(agent, tid, (client + round_) % 3, f"{client}-{round_}")
        version = response.json()["version"] if response.status_code == 200 else None
        answers.append((kind, value, response.status_code, version))
    return answers


def command(agent: Api, tid: str, which: int, label: str):
    if which == 0:
        return "tag", f"c{label}", agent.command(tid, "tags", {"add": [f"c{label}"]})
    if which == 1:
        body = {"body": f"mensaje {label}", "author_type": "agent", "visibility": "internal"}
        return "message", body["body"], agent.command(tid, "messages", body)
    # Conditional: a priority other than the one read, only if nobody wrote since.
    current = agent.get(f"/v1/tickets/{tid}")
    other = next(p for p in PRIORITIES if p != current.json()["priority"])
    headers = {"If-Match": current.headers["ETag"]}
    return "priority", other, agent.command(tid, "priority", {"priority": other}, headers=headers)


def change_in(event: dict[str, Any]) -> tuple[str, str]:
    data = event["data"]
    if event["type"] == "tags_changed":
        return "tag", data["added"][0]
    if event["type"] == "message_added":
        return "message", data["body"]
    if event["type"] == "priority_changed":
        return "priority", data["priority"]
    return event["type"], ""


# b. PostgreSQL cut off under load


@pytest.fixture
def behind_proxy(tmp_path) -> Iterator[tuple[Drill, TcpProxy]]:
    """A server whose every PostgreSQL connection goes through a proxy the drill can cut."""
    upstream = urlparse(POSTGRES_URL)
    proxy = TcpProxy(upstream.hostname, upstream.port or 5432).start()
    with fresh_database_url("postgres", tmp_path) as url:
        proxied = through_port(url, proxy.port)
        server = Server(proxied, tmp_path / "server.log", env=server_env(proxied, SECRET_KEY_TEXT))
        server.start(workers=2)
        try:
            tokens = {role: server.create_token(role, f"drill-{role}") for role in ROLES}
            yield Drill("postgres", url, server, tokens), proxy
        finally:
            server.stop()
            proxy.cut()


def test_postgres_cut_off_under_load_is_503_with_retry_after_then_recovers_losing_nothing(
    behind_proxy,
):
    drill, proxy = behind_proxy
    health = Api(drill.server.base_url, None)
    with Stream(drill.server.base_url, drill.tokens["integrator"]) as stream:
        stream.wait_for(201, 20)
        proxy.cut()
        stream.wait_for(503, 8)
        during = health.session.get(f"{drill.server.base_url}/v1/health", timeout=15)
        proxy.restore()
        eventually(lambda: health.get("/v1/health").status_code == 200, "health back to 200")
        stream.wait_for(201, 20)
    sent = stream.attempts
    statuses = Counter(a.status for a in sent)
    assert not [a for a in sent if a.problem == HUNG]
    odd = [(a.number, a.status, a.problem) for a in sent if a.status not in (201, 503)]
    assert set(statuses) <= {201, 503}, (statuses, odd)
    assert all(a.retry_after for a in sent if a.status == 503)
    assert during.status_code == 503 and during.headers.get("Retry-After")

    unacknowledged = [a for a in sent if not a.acknowledged]
    retried, held = settle(drill.api("integrator"), drill.database_url, unacknowledged)
    assert all(a.acknowledged for a in retried), [(a.number, a.status) for a in retried]
    auditor = drill.api("auditor")
    figures = each_request_once_in_log(auditor, stream.run, sent, retried)
    # The projector reconnects too: the views catch up with the log.
    head = auditor.get("/v1/events", params={"limit": 1}).json()["head"]
    caught_up = eventually(
        lambda: auditor.get("/v1/tickets", params={"after_position": head, "limit": 1}).ok,
        "the ticket list reaches the log's head",
    )
    report(
        "postgres-cut",
        drill.backend,
        sent=len(sent),
        acknowledged=statuses[201],
        answered_503=statuses[503],
        slowest_503_seconds=round(max(a.seconds for a in sent if a.status == 503), 1),
        slowest_answer_seconds=round(max(a.seconds for a in sent), 1),
        held_in_flight=held,
        retries_created=sum(not a.replayed for a in retried),
        health_during_cut=during.status_code,
        views_caught_up=caught_up,
        **figures,
    )


def test_a_ticket_whose_commit_answer_was_lost_is_answered_201_and_stored_once(behind_proxy):
    """PostgreSQL applies a COMMIT whose answer the network then loses: the server finds
    its write stored and answers 201, so the client does not retry into a duplicate."""
    drill, proxy = behind_proxy
    integrator = drill.api("integrator")
    integrator.open_ticket()

    proxy.drop_next_commit_answer()
    answer = integrator.post("/v1/tickets", json=ticket_body(subject="Respuesta perdida"))

    assert proxy.dropped_commits == 1
    assert answer.status_code == 201, answer.text
    auditor = drill.api("auditor")
    log = auditor.get("/v1/events", params={"limit": 500})
    assert log.status_code == 200, log.text
    events = log.json()["events"]
    opened = [e for e in events if e["type"] == "opened"]
    assert [e["ticket_id"] for e in opened].count(answer.json()["id"]) == 1
    assert len(opened) == 2
    report("lost-acknowledgement", drill.backend, answered=answer.status_code,
           tickets_opened=len(opened), dropped_commit_answers=proxy.dropped_commits)  # fmt: skip


# d. Hostile clients

SLOW_CLIENTS = 6  # fewer than the server's threads: each one holds a thread while it drips
DRIP_SECONDS = 3
MiB = 1024 * 1024
HOSTILE_HEADS = {
    "header-too-big": (b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000, {431, 400}),
    "too-many-headers": (
        b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)),
        {431, 400},
    ),
    "request-line-too-long": (b"GET /v1/health?q=" + b"a" * 9000 + b" HTTP/1.1", {414, 400}),
    "garbage-request-line": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage", {400}),
    "no-http-version": (b"GET /v1/health", {400}),
}
HOSTILE_BODIES = {
    "oversized-body": (b"{" + b" " * MiB + b"}", 413),
    "invalid-utf8": (b'{"subject": "\xff\xfe"}', 400),
    "deeply-nested": (b"[" * 100_000 + b"]" * 100_000, 400),
}


@pytest.mark.parametrize("drill", ["sqlite"], indirect=True)
def test_hostile_clients_take_no_worker_down_and_normal_requests_still_succeed(drill):
    """Transport abuse the bad-input tests (tests/e2e/test_bad_input_bodies.py) do not
    reach, with a slow-header client holding threads meanwhile; the bodies are theirs,
    sent again here only as load."""
    before = drill.workers()
    port = drill.server.port
    stop = threading.Event()
    dripping = [
        threading.Thread(target=drip_headers, args=(port, stop)) for _ in range(SLOW_CLIENTS)
    ]
    for thread in dripping:
        thread.start()
    try:
        heads = {
            name: raw_status(port, raw + b"\r\n\r\n") for name, (raw, _) in HOSTILE_HEADS.items()
        }
        bodies = {name: post_body(drill, raw) for name, (raw, _) in HOSTILE_BODIES.items()}
        opened_meanwhile = quick_opening(drill)
        for thread in dripping:  # they stop by themselves after DRIP_SECONDS
            thread.join()
    finally:
        stop.set()
    opened_after = quick_opening(drill)
    report(
        "hostile-clients",
        drill.backend,
        slow_clients=SLOW_CLIENTS,
        **heads,
        **bodies,
        opened_meanwhile=opened_meanwhile,
        opened_after=opened_after,
        workers_unchanged=drill.workers() == before,
    )
    for name, (_, expected) in HOSTILE_HEADS.items():
        assert heads[name] in expected, (name, heads[name])
    for name, (_, expected) in HOSTILE_BODIES.items():
        assert bodies[name] == expected, (name, bodies[name])
    assert opened_meanwhile == opened_after == 201
    assert drill.workers() == before


def drip_headers(port: int, stop: threading.Event) -> None:
    """A slowloris client: a request head sent a byte at a time, never finished."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /v1/tickets HTTP/1.1\r\nHost: x\r\n")
        for _ in range(DRIP_SECONDS * 10):
            if stop.wait(0.1):
                return
            sock.sendall(b"X")


def raw_status(port: int, raw: bytes) -> int | None:
    """The status gunicorn answers a raw request with (None if it just closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(1024)):
            answer += chunk
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def post_body(drill: Drill, raw: bytes) -> int:
    headers = {"Content-Type": "application/json", "Connection": "close"}
    response = drill.api("integrator").session.post(
        f"{drill.server.base_url}/v1/tickets", data=raw, headers=headers, timeout=15
    )
    return response.status_code


def quick_opening(drill: Drill) -> int:
    """A normal request; the timeout bounds the wait, it is not a measurement."""
    response = drill.api("integrator").session.post(
        f"{drill.server.base_url}/v1/tickets", json=ticket_body(), timeout=10
    )
    return response.status_code


# e. An event one view cannot apply (a poison event), under load


def test_a_poison_event_stops_one_view_only_and_once_cured_it_catches_up_losing_nothing(drill):
    """The ticket list's table refuses one ticket's row (a trigger, as in
    tests/e2e/test_view_failures.py) while clients keep opening tickets: writes go on,
    every other view keeps up, health names the view and the event; once the table is
    cured the view gets past it and holds every ticket of the log exactly once."""
    integrator, auditor = drill.api("integrator"), drill.api("auditor")
    poison_ticket_list(drill.server)
    try:
        with Stream(drill.server.base_url, drill.tokens["integrator"]) as stream:
            stream.wait_for(201, 10)
            before = log_head(auditor)
            poisoned = integrator.open_ticket(external_ref=POISON, subject="Veneno")
            stream.wait_for(201, 10)
        failing = eventually(
            lambda: public_health(drill)["projector"]["failing"].get("ticket_list"),
            "health names the failing ticket list",
        )
        head = log_head(auditor)
        queue = integrator.get("/v1/queue", params={"after_position": head, "limit": 1})
        stuck = integrator.get("/v1/tickets", params={"after_position": head, "limit": 1})
        during = public_health(drill)
    finally:
        cure_ticket_list(drill.server)
    recovered = eventually(lambda: public_health(drill)["status"] == "ok", "health ok again")
    listed = ticket_list_ids(integrator, head)
    in_log = opened_ids(auditor)
    sent = stream.attempts
    statuses = Counter(a.status for a in sent)
    report(
        "poison-event",
        drill.backend,
        sent=len(sent),
        statuses=dict(statuses),
        failing_at=failing["position"],
        poisoned_position=poisoned["position"],
        attempts=failing["attempts"],
        health_during=during["status"],
        other_views_caught_up=queue.status_code == 200,
        stuck_view_answered=stuck.status_code,
        recovered=recovered,
        listed=len(listed),
        in_log=len(in_log),
    )
    assert set(statuses) == {201}, statuses  # the view's failure never reaches a writer
    assert before < failing["position"] <= poisoned["position"]  # at the poisoned ticket
    assert during["status"] == "failing"
    assert list(during["projector"]["failing"]) == ["ticket_list"]
    assert queue.status_code == 200, queue.text  # the queue went past the poison
    assert stuck.status_code == 503 and stuck.json()["type"].endswith("view-behind")
    assert stuck.headers["Retry-After"]
    assert public_health(drill)["projector"]["failing"] == {}
    assert len(listed) == len(set(listed)), "a ticket listed twice"
    assert set(listed) == in_log  # every ticket of the log, the poisoned one included
    assert {a.ticket_id for a in sent} | {poisoned["id"]} <= set(listed)


# f. The projector killed under load


def test_the_projector_killed_under_load_is_restarted_and_its_views_lose_and_repeat_nothing(
    drill,
):
    """SIGKILL the projector mid-batch while clients open tickets: writes never notice,
    the master starts a new projector, and it resumes every view from the position its
    last committed batch recorded, so each ticket is in the views exactly once."""
    master = drill.server.process.pid
    integrator, auditor = drill.api("integrator"), drill.api("auditor")
    (victim,) = eventually(lambda: _projectors_of(master), "a projector under the master")
    with Stream(drill.server.base_url, drill.tokens["integrator"]) as stream:
        stream.wait_for(201, 20)
        os.kill(victim, signal.SIGKILL)
        (successor,) = eventually(
            lambda: [p for p in _projectors_of(master) if p != victim and _alive(p)],
            "the master starts a new projector",
        )
        stream.wait_for(201, 20)
    head = log_head(auditor)
    caught_up = eventually(
        lambda: integrator.get("/v1/tickets", params={"after_position": head, "limit": 1}).ok,
        "the ticket list reaches the log's head",
    )
    listed, queued = ticket_list_ids(integrator, head), queue_ids(integrator, head)
    in_log = opened_ids(auditor)
    sent = stream.attempts
    statuses = Counter(a.status for a in sent)
    acknowledged = {a.ticket_id for a in sent if a.acknowledged}
    report(
        "projector-killed",
        drill.backend,
        sent=len(sent),
        statuses=dict(statuses),
        victim=victim,
        successor=successor,
        views_caught_up=caught_up,
        listed=len(listed),
        queued_from_this_run=len(acknowledged & set(queued)),
        in_log=len(in_log),
        health=public_health(drill)["status"],
    )
    assert set(statuses) == {201}, statuses  # writes do not go through the projector
    assert not _alive(victim)
    assert len(listed) == len(set(listed)) and len(queued) == len(set(queued))
    assert set(listed) == in_log
    assert acknowledged <= set(queued)  # new tickets, all active: each one in the queue
    eventually(lambda: public_health(drill)["status"] == "ok", "health ok (a fresh heartbeat)")


def public_health(drill: Drill) -> dict[str, Any]:
    response = Api(drill.server.base_url, None).get("/v1/health")
    assert response.status_code == 200, response.text
    return response.json()


def log_head(auditor: Api) -> int:
    return auditor.get("/v1/events", params={"limit": 1}).json()["head"]


def opened_ids(auditor: Api) -> set[str]:
    return {e["aggregate_id"] for e in feed(auditor) if e["type"] == "opened"}


def ticket_list_ids(reader: Api, after_position: int) -> list[str]:
    return view_ids(reader, "/v1/tickets", after_position)


def queue_ids(reader: Api, after_position: int) -> list[str]:
    return view_ids(reader, "/v1/queue", after_position)


def view_ids(reader: Api, path: str, after_position: int) -> list[str]:
    """Every item of a view's listing, page by page, read once it reached the position."""
    ids: list[str] = []
    params: dict[str, Any] = {"after_position": after_position, "limit": 200}
    while True:
        response = reader.get(path, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            return ids
        params = {"cursor": page["next_cursor"], "limit": 200}
