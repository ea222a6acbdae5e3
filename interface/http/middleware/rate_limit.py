"""Request budgets: a token bucket per API token (and, if configured, per client address
on public routes), answering 429 with Retry-After and RateLimit-* headers.

The buckets live in the worker process: with W gunicorn workers a client may get up
to W times the configured rate (its connections land on any worker). Sharing them
through the database would cost a write per request; a per-worker bound is enough to
stop a runaway integration, which is what this is for.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import falcon

from infrastructure.settings import Rate
from interface.http.errors import Problem

# Forget buckets that have refilled once there are this many (client addresses come
# and go; a full bucket is the same as no bucket).
MAX_BUCKETS = 10_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until one request is allowed again (0 when allowed)
    reset: float  # seconds until the bucket is full again


class TokenBucket:
    """``capacity`` requests at once, refilled at ``per_second``; time comes from the caller."""

    def __init__(self, capacity: int, per_second: float, now: float):
        self.capacity, self.per_second = capacity, per_second
        self.tokens, self.updated = float(capacity), now

    def take(self, now: float) -> Decision:
        self._refill(now)
        allowed = self.tokens >= 1
        if allowed:
            self.tokens -= 1
        missing = 0.0 if allowed else 1 - self.tokens
        return Decision(
            allowed=allowed,
            remaining=int(self.tokens),
            retry_after=missing / self.per_second,
            reset=(self.capacity - self.tokens) / self.per_second,
        )

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now


class RateLimiter:
    """One bucket per key, safe to share between a worker's threads."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic):
        self.rate, self.clock = rate, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> Decision:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_full(now)
                bucket = TokenBucket(self.rate.requests, self.rate.per_second, now)
                self._buckets[key] = bucket
            return bucket.take(now)

    def peek(self, key: str) -> Decision:
        """Whether ``key`` could spend one now, spending nothing."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return Decision(True, self.rate.requests, 0.0, 0.0)
            bucket._refill(now)
            missing = max(0.0, 1 - bucket.tokens)
            return Decision(
                allowed=bucket.tokens >= 1,
                remaining=int(bucket.tokens),
                retry_after=missing / bucket.per_second,
                reset=(bucket.capacity - bucket.tokens) / bucket.per_second,
            )

    def _forget_full(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]


class RateLimit:
    """Middleware after Authentication: authenticated requests spend their token's budget,
    public ones their client address's. Resources with ``unlimited = True`` (health,
    metrics) are never limited, so probes and scrapes cannot be starved."""

    def __init__(self, per_token: Rate | None, per_address: Rate | None):
        self.per_token = RateLimiter(per_token) if per_token else None
        self.per_address = RateLimiter(per_address) if per_address else None

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: Any
    ) -> None:
        if resource is None or getattr(resource, "unlimited", False):
            return
        actor = getattr(req.context, "actor", None)
        if actor is not None:
            limiter, key = self.per_token, f"token:{actor.id}"
        else:
            limiter, key = self.per_address, f"address:{req.remote_addr}"
        if limiter is None:
            return
        decision = limiter.take(key)
        headers = rate_limit_headers(limiter.rate, decision)
        if not decision.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
            raise Problem(
                falcon.HTTP_429,
                "rate-limited",
                "Too many requests",
                f"This client may make {limiter.rate.requests} requests every "
                f"{int(limiter.rate.per.total_seconds())} s; retry after the Retry-After delay.",
                headers=headers,
            )
        resp.set_headers(headers)


def rate_limit_headers(rate: Rate, decision: Decision) -> dict[str, str]:
    """The IETF httpapi draft's fields: the budget, what is left, and when it is whole."""
    return {
        "RateLimit-Limit": str(rate.requests),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(math.ceil(decision.reset)),
        "RateLimit-Policy": f"{rate.requests};w={int(rate.per.total_seconds())}",
    }
