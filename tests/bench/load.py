"""A small closed-loop load generator: N client threads, each on its own keep-alive
connection (http.client), sharing M requests between them; per-request latency is
recorded, and requests/s, p50, p99 and non-2xx counts derived from it.

Every client first sends a few warm-up requests (not counted, and before the clock
starts), so connections are open and each server worker has served traffic.
"""

from __future__ import annotations

import http.client
import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Connections refused by keep_connection are made again, up to this many times.
CONNECT_ATTEMPTS = 50

# Builds the i-th request body (the same i always gives the same body).
BodyFor = Callable[[int], bytes]


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies: list[float]  # seconds, sorted
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0  # requests that got no HTTP answer at all (connection errors)
    warmup_errors: int = 0  # warm-up requests that failed or were not 2xx (not counted)
    sample_error: str | None = None

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        """Every request that did not get a 2xx answer, connection errors included."""
        return self.failures + sum(n for status, n in self.statuses.items() if status // 100 != 2)

    def percentile_ms(self, p: float) -> float:
        """Nearest-rank percentile of the recorded latencies, in milliseconds."""
        if not self.latencies:
            return float("nan")
        rank = max(1, min(len(self.latencies), math.ceil(p / 100 * len(self.latencies))))
        return self.latencies[rank - 1] * 1000

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)


def run_load(
    host: str,
    port: int,
    path: str | Callable[[int], str],
    body_for: BodyFor,
    *,
    headers: Mapping[str, str],
    total: int,
    concurrency: int = 16,
    warmup_per_client: int = 3,
    timeout: float = 30.0,
    on_ready: Callable[[], None] | None = None,
    keep_connection: Callable[[int], bool] | None = None,
    connect_spacing: float = 0.005,
) -> LoadResult:
    """POST ``total`` requests to ``path`` (or ``path(i)`` for the i-th) from
    ``concurrency`` keep-alive clients.

    ``keep_connection`` is asked about each new connection (by its local port) and may
    refuse it, to have it made again (e.g. to spread connections evenly over workers).

    ``on_ready`` runs once every client is connected and warmed up, before the clock
    starts (e.g. to see how the connections spread over the server's workers).
    """
    all_headers = {"Content-Type": "application/json", "Connection": "keep-alive", **headers}
    path_for = path if callable(path) else lambda i: path
    next_index = itertools.count()
    claim = threading.Lock()
    ready = threading.Barrier(concurrency + 1)
    go = threading.Event()
    results: list[_ClientResult] = [_ClientResult() for _ in range(concurrency)]

    def take() -> int | None:
        with claim:
            i = next(next_index)
        return i if i < total else None

    # Connect one at a time, a little apart, so keep_connection can see where each one
    # landed (a burst of connects mostly goes to whichever server worker is awake).
    connections = []
    for _ in range(concurrency):
        for attempt in range(CONNECT_ATTEMPTS):
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            conn.connect()
            if keep_connection is None or attempt == CONNECT_ATTEMPTS - 1:
                break
            if keep_connection(conn.sock.getsockname()[1]):
                break
            conn.close()
        connections.append(conn)
        time.sleep(connect_spacing)

    def client(mine: _ClientResult, number: int) -> None:
        conn = connections[number]
        for w in range(warmup_per_client):
            index = -1 - number * warmup_per_client - w
            try:
                status, text = _post(conn, path_for(index), body_for(index), all_headers)
            except Exception as error:  # noqa: BLE001 - reported with the result
                mine.warmup_errors += 1
                mine.sample_error = mine.sample_error or f"{type(error).__name__}: {error}"
                conn.close()
                continue
            if status // 100 != 2:
                mine.warmup_errors += 1
                mine.sample_error = mine.sample_error or f"HTTP {status}: {text[:300]}"
        ready.wait()
        go.wait()
        while (i := take()) is not None:
            started = time.perf_counter()
            try:
                status, text = _post(conn, path_for(i), body_for(i), all_headers)
            except Exception as error:  # noqa: BLE001 - counted as a failed request
                mine.note_failure(error)
                conn.close()  # the next request reconnects
                continue
            mine.latencies.append(time.perf_counter() - started)
            mine.statuses[status] += 1
            if status // 100 != 2 and mine.sample_error is None:
                mine.sample_error = f"HTTP {status}: {text[:300]}"
        conn.close()

    threads = [
        threading.Thread(target=client, args=(results[n], n), name=f"load-{n}", daemon=True)
        for n in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    ready.wait()  # every client connected and warmed up
    try:
        if on_ready is not None:
            on_ready()
    finally:
        started = time.perf_counter()
        go.set()  # even if on_ready failed, so no client waits forever
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started

    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    failures = warmup_errors = 0
    sample_error = None
    for r in results:
        statuses.update(r.statuses)
        latencies.extend(r.latencies)
        failures += r.failures
        warmup_errors += r.warmup_errors
        sample_error = sample_error or r.sample_error
    latencies.sort()
    return LoadResult(
        requests=len(latencies) + failures,
        seconds=seconds,
        latencies=latencies,
        statuses=statuses,
        failures=failures,
        warmup_errors=warmup_errors,
        sample_error=sample_error,
    )


@dataclass
class _ClientResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    warmup_errors: int = 0
    sample_error: str | None = None

    def note_failure(self, error: Exception) -> None:
        self.failures += 1
        if self.sample_error is None:
            self.sample_error = f"{type(error).__name__}: {error}"


def _post(
    conn: http.client.HTTPConnection, path: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int, str]:
    conn.request("POST", path, body=body, headers=dict(headers))
    response = conn.getresponse()
    data = response.read()
    if response.status // 100 == 2:
        return response.status, ""
    return response.status, data.decode("utf-8", "replace")
