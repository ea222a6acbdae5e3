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
from collections.abc import Callable

import pytest

from infrastructure.mail import parse_email

pytestmark = pytest.mark.bench

ROUNDS = 5
LIMIT = 10 * 1024 * 1024


def _plain() -> bytes:
    text = "Hola, el módem parpadea en rojo desde ayer. " * 230
    return f"From: ana@example.com\r\nSubject: Sin internet\r\n\r\n{text}\r\n".encode()


def _encoded_words() -> bytes:
    subject = " ".join(["=?utf-8?q?hola?="] * 600_000)[: LIMIT - 200]
    return f"From: ana@example.com\r\nSubject: {subject}\r\n\r\nHola\r\n".encode()


def _many_fields() -> bytes:
    field = " ".join(["=?utf-8?q?hola?="] * 100)
    fields = "".join(f"X-H{n}: {field}\r\n" for n in range(5_000))
    return f"From: ana@example.com\r\nSubject: s\r\n{fields}\r\nHola\r\n".encode()


def _parts() -> bytes:
    part = "--B\r\nContent-Type: text/plain\r\n\r\nparte\r\n"
    body = part * ((LIMIT - 500) // len(part))
    return (
        "From: ana@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}--B--\r\n"
    ).encode()


def _nested() -> bytes:
    levels = "".join(
        f"Content-Type: multipart/mixed; boundary=b{n}\r\n\r\n--b{n}\r\n" for n in range(50_000)
    )
    return f"From: ana@example.com\r\nSubject: s\r\n{levels}\r\nx\r\n".encode()


def _median_seconds(raw: bytes) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        parse_email(raw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


CASES: dict[str, Callable[[], bytes]] = {
    "encoded words": _encoded_words,
    "many fields": _many_fields,
    "MIME parts": _parts,
    "nested parts": _nested,
}


def test_worst_case_email_parse_time_against_a_plain_message():
    plain = _median_seconds(_plain())
    print(f"\n{'message':<15} {'bytes':>10} {'median ms':>10} {'x plain':>10}")
    print(f"{'plain 10 KB':<15} {len(_plain()):>10} {plain * 1000:>10.2f} {1:>10.0f}")
    for name, build in CASES.items():
        raw = build()
        assert len(raw) <= LIMIT
        seconds = _median_seconds(raw)
        verdict = "ok" if seconds < 0.5 else "OVER 0.5 s"
        print(f"{name:<15} {len(raw):>10} {seconds * 1000:>10.2f} {seconds / plain:>10.0f}"
              f"  ({verdict})")  # fmt: skip
