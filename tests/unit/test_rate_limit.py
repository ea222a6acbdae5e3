"""Token buckets and request budgets, on an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from infrastructure.settings import Rate, optional_rate
from interface.http.middleware.rate_limit import RateLimiter, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_of_its_capacity_then_refuses():
    bucket = TokenBucket(capacity=3, per_second=1.0, now=0.0)
    assert [bucket.take(0.0).allowed for _ in range(4)] == [True, True, True, False]


def test_remaining_counts_down_to_zero():
    bucket = TokenBucket(capacity=3, per_second=1.0, now=0.0)
    assert [bucket.take(0.0).remaining for _ in range(3)] == [2, 1, 0]


def test_a_refusal_says_how_long_until_the_next_request_is_allowed():
    bucket = TokenBucket(capacity=2, per_second=0.5, now=0.0)
    bucket.take(0.0), bucket.take(0.0)
    refused = bucket.take(0.0)
    assert not refused.allowed and refused.retry_after == pytest.approx(2.0)
    assert refused.reset == pytest.approx(4.0)


def test_the_bucket_refills_with_time_but_never_beyond_its_capacity():
    bucket = TokenBucket(capacity=2, per_second=0.5, now=0.0)
    bucket.take(0.0), bucket.take(0.0)
    assert bucket.take(2.0).allowed
    assert not bucket.take(2.0).allowed
    assert bucket.take(1000.0).remaining == 1  # two at most, one just taken


def test_each_key_has_its_own_budget():
    limiter = RateLimiter(Rate(1, timedelta(minutes=1)), clock=Clock())
    assert limiter.take("token:a").allowed
    assert not limiter.take("token:a").allowed
    assert limiter.take("token:b").allowed


def test_a_spent_budget_comes_back_after_its_period():
    clock = Clock()
    limiter = RateLimiter(Rate(2, timedelta(seconds=10)), clock=clock)
    limiter.take("k"), limiter.take("k")
    assert not limiter.take("k").allowed
    clock.now += 5
    assert limiter.take("k").allowed


def test_a_rate_reads_as_requests_per_duration():
    rate = optional_rate({"ATENDE_RATE_LIMIT": "600/60s"}, "ATENDE_RATE_LIMIT")
    assert rate == Rate(600, timedelta(seconds=60)) and rate.per_second == 10


@pytest.mark.parametrize("text", [None, "", "off", "0"])
def test_no_rate_means_no_limit(text):
    env = {} if text is None else {"ATENDE_RATE_LIMIT": text}
    assert optional_rate(env, "ATENDE_RATE_LIMIT") is None


@pytest.mark.parametrize("text", ["600", "/60s", "0/60s", "ten/60s", "600/0s", "600/soon"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValueError, match="ATENDE_RATE_LIMIT"):
        optional_rate({"ATENDE_RATE_LIMIT": text}, "ATENDE_RATE_LIMIT")
