"""Parsing hostile email against a plain one: the worst messages under the 10 MiB limit
that the parser's bounds (infrastructure/mail_bounds.py) let through, each timed against a
plain 10 KB message parsed in the same run.

Target (reported, never asserted): every worst case parses in well under a second; the
table prints each one's median time and its ratio to the plain message.

    make bench
"""

from __future__ import annotations

import statistics
import time

import pytest

from infrastructure.mail import parse_email
from tests import hostile_inputs as hostile

pytestmark = pytest.mark.bench

ROUNDS = 5


def _median_seconds(raw: bytes) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        parse_email(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_worst_case_email_parse_time_against_a_plain_message():
    plain = _median_seconds(hostile.plain_email())
    print(f"\n{'message':<18} {'bytes':>10} {'median ms':>10} {'x plain':>10}")
    print(f"{'plain 10 KB':<18} {len(hostile.plain_email()):>10} {plain * 1000:>10.2f} {1:>10.0f}")
    for name, build in hostile.EMAILS.items():
        raw = build()
        assert len(raw) <= hostile.EMAIL_LIMIT
        seconds = _median_seconds(raw)
        verdict = "ok" if seconds < 0.5 else "OVER 0.5 s"
        print(f"{name:<18} {len(raw):>10} {seconds * 1000:>10.2f} {seconds / plain:>10.0f}"
              f"  ({verdict})")  # fmt: skip
