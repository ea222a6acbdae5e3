"""Helpers for the reliability drills: a stream of keyed requests from several client
threads, the tickets the event log holds, and the server's worker processes."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import requests

from infrastructure.idempotency import IN_FLIGHT_TIMEOUT_SECONDS, TABLE
from tests.databases import POSTGRES_URL
from tests.e2e.api import Api, ticket_body

# A request unanswered this long (gunicorn's worker timeout) counts as hung and fails
# the drill, rather than stalling the whole run.
CLIENT_TIMEOUT_SECONDS = 30
WAIT_SECONDS = 20  # a bound on waiting for the server to come back, not a measurement
HUNG = f"no answer within {CLIENT_TIMEOUT_SECONDS} s"


@dataclass
class Attempt:
    """One keyed POST /v1/tickets; ``status`` is None when no answer came back."""

    number: int
    key: str
    body: dict[str, Any]
    status: int | None = None
    ticket_id: str | None = None
    retry_after: str | None = None
    problem: str | None = None
    replayed: bool = False
    seconds: float = 0.0  # a figure for the report, never asserted on

    @property
    def acknowledged(self) -> bool:
        return self.status == 201


def opening(run: str, number: int) -> Attempt:
    """A ticket whose tags name the drill run and the request, so the log can be counted."""
    body = ticket_body(subject=f"Simulacro {number}", tags=[f"drill-{run}", f"req-{number}"])
    return Attempt(number, key=f"drill-{run}-{number}", body=body)


def send(api: Api, attempt: Attempt) -> Attempt:
    started = time.monotonic()
    try:
        return _answer(attempt, _post(api, attempt))
    except requests.Timeout:  # recorded, not raised: the client may be a thread
        attempt.problem = HUNG
        return attempt
    except requests.RequestException:  # the worker died mid-answer, or nothing listens yet
        return attempt
    finally:
        attempt.seconds = time.monotonic() - started


def _post(api: Api, attempt: Attempt) -> requests.Response:
    return api.session.post(
        f"{api.base_url}/v1/tickets",
        json=attempt.body,
        headers={"Idempotency-Key": attempt.key},
        timeout=CLIENT_TIMEOUT_SECONDS,
    )


def _answer(attempt: Attempt, response: requests.Response) -> Attempt:
    attempt.status = response.status_code
    attempt.retry_after = response.headers.get("Retry-After")
    attempt.replayed = response.headers.get("Idempotent-Replayed") == "true"
    if response.status_code == 201:
        attempt.ticket_id = response.json()["id"]
    elif response.headers.get("Content-Type", "").startswith("application/problem+json"):
        attempt.problem = response.json()["type"].rsplit(":", 1)[-1]
    return attempt


def retry(api: Api, attempt: Attempt) -> Attempt:
    """The same request again: same key, same body."""
    return send(api, Attempt(attempt.number, attempt.key, attempt.body))


def settle(api: Api, database_url: str, unacknowledged: list[Attempt]) -> tuple[list[Attempt], int]:
    """Retry each unacknowledged request with its key. A request that died half-way keeps
    its key reserved until the takeover timeout: age those reservations rather than wait
    it out. Returns the retries' answers and how many keys were held."""
    retried = [retry(api, a) for a in unacknowledged]
    held = [a.key for a in retried if a.problem == "request-in-flight"]
    assert age_reservations(database_url, held) == len(held)
    return [retry(api, a) if a.key in held else a for a in retried], len(held)


def age_reservations(database_url: str, keys: list[str]) -> int:
    """Make in-flight reservations look older than the takeover timeout, as if that
    long had passed since their worker died; returns how many were aged."""
    statement = "UPDATE {t} SET started_at = started_at - %s WHERE state = 'in_flight' AND key = %s"
    params = [(IN_FLIGHT_TIMEOUT_SECONDS + 1, key) for key in keys]
    if database_url.startswith("sqlite:"):
        with closing(sqlite3.connect(database_url[len("sqlite:///") :])) as conn, conn:
            sql = statement.format(t=TABLE).replace("%s", "?")
            return sum(conn.execute(sql, p).rowcount for p in params)
    schema = parse_qs(urlparse(database_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        sql = statement.format(t=f'"{schema}".{TABLE}')
        return sum(conn.execute(sql, p).rowcount for p in params)


@dataclass
class Stream:
    """Client threads opening keyed tickets back to back until stopped."""

    base_url: str
    token: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    clients: int = 4
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Stream:
        self._threads = [
            threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_SECONDS + 5)

    def _client(self) -> None:
        api = Api(self.base_url, self.token)
        while not self._stop.is_set():
            with self._lock:
                attempt = opening(self.run, len(self.attempts))
                self.attempts.append(attempt)
            send(api, attempt)

    def count(self, status: int) -> int:
        with self._lock:
            return sum(a.status == status for a in self.attempts)

    def wait_for(self, status: int, more: int) -> None:
        """Until ``more`` further requests were answered with ``status`` (bounded)."""
        target = self.count(status) + more
        eventually(lambda: self.count(status) >= target, f"{more} more answered {status}")


def eventually(check: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def health_is_ok(client: Api) -> bool:
    """Whether /v1/health answers 200 "ok". Every answer must be a 200; "degraded" while
    the projector catches up with what earlier tests on the shared server wrote (on a
    loaded two-core machine it can be a moment over the lag bound) is waited out."""
    response = client.get("/v1/health")
    assert response.status_code == 200, response.text
    return response.json()["status"] == "ok"


def opened_tickets(reader: Api, run: str) -> Counter[tuple[int, str]]:
    """(request number, ticket id) of every ticket the log holds for this run, counted."""
    found: Counter[tuple[int, str]] = Counter()
    for event in feed(reader):
        tags = (event["data"].get("tags") or []) if event["type"] == "opened" else []
        if f"drill-{run}" in tags:
            number = next(int(t[len("req-") :]) for t in tags if t.startswith("req-"))
            found[(number, event["aggregate_id"])] += 1
    return found


def each_request_once_in_log(
    reader: Api, run: str, sent: list[Attempt], retried: list[Attempt]
) -> dict[str, int]:
    """Every request of the run opened exactly one ticket, the one its answer named;
    returns the figures."""
    logged = opened_tickets(reader, run)
    per_request = Counter(number for number, _ in logged)
    duplicates = sum(logged.values()) - len(per_request)
    assert duplicates == 0, [n for n, count in per_request.items() if count > 1]
    assert set(per_request) == {a.number for a in sent}
    for answered in [a for a in sent if a.acknowledged] + retried:
        assert logged[(answered.number, answered.ticket_id)] == 1, answered
    return {"found_in_log": len(per_request), "duplicates": duplicates}


def feed(reader: Api) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        response = reader.get("/v1/events", params={"after": after, "limit": 1000})
        for _ in range(3):
            # Right after a drill a pooled connection can still be the dead one: its 503
            # says retry after a delay, as a client would.
            if response.status_code != 503:
                break
            time.sleep(float(response.headers["Retry-After"]))
            response = reader.get("/v1/events", params={"after": after, "limit": 1000})
        assert response.status_code == 200, response.text
        page = response.json()
        yield from page["events"]
        if not page["events"]:
            return
        after = page["next_after"]


def worker_pids(master_pid: int) -> set[int]:
    """gunicorn's workers: the master's children, except the projector it starts."""
    children: set[int] = set()
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        children |= {int(pid) for pid in (task / "children").read_text().split()}
    return {pid for pid in children if b"project" not in _cmdline(pid)}


def projector_pids(master_pid: int) -> set[int]:
    """The projector gunicorn's master starts beside its workers (none while it restarts)."""
    children: set[int] = set()
    for task in Path(f"/proc/{master_pid}/task").iterdir():
        children |= {int(pid) for pid in (task / "children").read_text().split()}
    return {pid for pid in children if b"project" in _cmdline(pid, missing=b"")}


def _cmdline(pid: int, missing: bytes = b"project") -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        # Exited between the two reads: gone (FileNotFoundError), or dying and not yet
        # reaped, when reading it answers ESRCH (a worker just killed by a drill).
        return missing
