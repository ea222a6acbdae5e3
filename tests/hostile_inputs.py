"""Hostile request bodies at the size limits, shared by the parser tests (tests/unit) and
the benchmarks (tests/bench): each shape once, built to just under its limit."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

EMAIL_LIMIT = 10 * 1024 * 1024  # ATENDE_MAX_EMAIL_BYTES's default
JSON_LIMIT = 1024 * 1024  # ATENDE_MAX_BODY_BYTES's default
_HEAD = "From: ana@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"


def fill(unit: str, room: int) -> str:
    """``unit`` repeated to fill ``room`` bytes of UTF-8."""
    return unit * (room // len(unit.encode()))


def plain_email() -> bytes:
    text = "Hola, el módem parpadea en rojo desde ayer. " * 230
    return f"From: ana@example.com\r\nSubject: Sin internet\r\n\r\n{text}\r\n".encode()


def encoded_words() -> bytes:
    subject = fill("=?utf-8?q?hola?= ", EMAIL_LIMIT - 200)
    return f"From: ana@example.com\r\nSubject: {subject}\r\n\r\nHola\r\n".encode()


def encoded_file_name() -> bytes:
    name = fill("=?utf-8?q?hola?= ", EMAIL_LIMIT - 500)
    return (
        f"{_HEAD}Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        "Content-Type: text/plain\r\n\r\nHola\r\n--B\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\nxx\r\n--B--\r\n'
    ).encode()


def many_fields() -> bytes:
    field = " ".join(["=?utf-8?q?hola?="] * 100)
    fields = fill(f"X-H: {field}\r\n", EMAIL_LIMIT - 200)
    return f"From: ana@example.com\r\nSubject: s\r\n{fields}\r\nHola\r\n".encode()


def long_headers() -> bytes:
    fields = fill("X-Relleno: aaaaaaaaaaaa\r\n", EMAIL_LIMIT - 200)
    return f"From: ana@example.com\r\nSubject: s\r\n{fields}\r\nHola\r\n".encode()


def part_header_lines() -> bytes:
    fields = fill("X-Relleno: a\r\n", EMAIL_LIMIT - 500)
    return (
        f"{_HEAD}Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n{fields}"
        "Content-Type: text/plain\r\n\r\nHola\r\n--B--\r\n"
    ).encode()


def parts() -> bytes:
    body = fill("--B\r\nContent-Type: text/plain\r\n\r\nparte\r\n", EMAIL_LIMIT - 500)
    return f"{_HEAD}Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}--B--\r\n".encode()


def nesting() -> bytes:
    level = "Content-Type: multipart/mixed; boundary=b{n:06}\r\n\r\n--b{n:06}\r\n"
    count = (EMAIL_LIMIT - 200) // len(level.format(n=0))
    levels = "".join(level.format(n=n) for n in range(count))
    return f"From: ana@example.com\r\nSubject: s\r\n{levels}\r\nx\r\n".encode()


def attachment() -> bytes:
    """An ordinary big mail: a short text and a 7.5 MB PDF, base64."""
    # base64 lines: 57 bytes become 76 characters and a line break of two.
    pdf = base64.encodebytes(bytes(range(256)) * ((EMAIL_LIMIT - 2000) * 57 // 78 // 256))
    return (
        f"{_HEAD}Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        "Content-Type: text/plain\r\n\r\nAdjunto la factura.\r\n--B\r\n"
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        'Content-Disposition: attachment; filename="factura.pdf"\r\n\r\n'
    ).encode() + pdf.replace(b"\n", b"\r\n") + b"--B--\r\n"


def html() -> bytes:
    markup = fill("<div><b>hola</b> <i>qué tal</i></div>", EMAIL_LIMIT - 500)
    return f"{_HEAD}Content-Type: text/html; charset=utf-8\r\n\r\n{markup}\r\n".encode()


EMAILS: dict[str, Callable[[], bytes]] = {
    "encoded words": encoded_words,
    "encoded file name": encoded_file_name,
    "many fields": many_fields,
    "long headers": long_headers,
    "part header lines": part_header_lines,
    "MIME parts": parts,
    "nesting": nesting,
    "7 MB attachment": attachment,
    "10 MB HTML": html,
}


def ticket(**extra) -> dict:
    return {
        "subject": "Sin internet",
        "description": "El módem parpadea",
        "requester": {"name": "Ana", "email": "ana@example.com"},
        "channel": "web",
        **extra,
    }


def plain_json() -> bytes:
    return json.dumps(ticket()).encode()


def _tags(item, size: int) -> bytes:
    return json.dumps(ticket(tags=[item] * ((JSON_LIMIT - 300) // size))).encode()


def unknown_fields() -> bytes:
    fields = {f"x{n}": 0 for n in range(JSON_LIMIT // 12)}
    return json.dumps({**ticket(), **fields}).encode()[: JSON_LIMIT - 2] + b"}"


def deep_json() -> bytes:
    depth = (JSON_LIMIT - 300) // 2
    return b'{"subject": ' + b"[" * depth + b"]" * depth + b"}"


JSON_BODIES: dict[str, Callable[[], bytes]] = {
    "array of numbers": lambda: _tags(0, 3),
    "array of objects": lambda: _tags({}, 4),
    "array of arrays": lambda: _tags([], 4),
    "unknown fields": unknown_fields,
    "deep nesting": deep_json,
}
