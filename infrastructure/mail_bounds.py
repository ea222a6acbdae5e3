"""Bounds on what the email parser is given, so any message under the size limit parses
in well under a second.

The standard library's parser is quadratic in places: 50,000 RFC 2047 encoded words in one
header took 53 s of CPU, 20,000 MIME parts 15 s. Real mail has a handful of each. So before
parsing, over-long header fields are cut after ``MAX_ENCODED_WORDS`` encoded words (or
``MAX_FIELD_BYTES``), the header section is capped at ``MAX_HEADER_BYTES`` (the fields
intake reads are kept first), and the body after ``MAX_PARTS`` MIME delimiter lines is
left out. The message still opens a ticket with what was read; ``dropped`` says what
was not.
"""

from __future__ import annotations

import re
from itertools import islice

from domain.ticket_vocabulary import SUBJECT_MAX, TEXT_LIMIT_BYTES

MAX_ENCODED_WORDS = 100
MAX_FIELD_BYTES = 16 * 1024
MAX_HEADER_BYTES = 256 * 1024
MAX_PARTS = 200
# Bytes of the text kept for the note saying what an email lost to the bounds.
NOTE_ROOM_BYTES = 2048
# What intake reads: kept even when the header section is over its cap.
_WANTED = {
    b"from", b"subject", b"message-id", b"in-reply-to", b"references", b"date",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-disposition",
}  # fmt: skip
_ENCODED_WORD = re.compile(rb"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
_DELIMITER_LINE = re.compile(rb"(?m)^--")


def bounded(raw: bytes) -> tuple[bytes, list[str]]:
    """The message cut to the parser's bounds, and a note for each thing left out."""
    split = _body_start(raw)
    if split is None:
        return raw, []  # no body: the parser rejects it or reads the headers alone
    start, separator = split
    head, body = raw[:start], raw[start + len(separator) :]
    dropped: list[str] = []
    head = _bounded_head(head, dropped)
    body = _bounded_body(body, dropped)
    return head + separator + body, dropped


def _body_start(raw: bytes) -> tuple[int, bytes] | None:
    # bytes.find, not a regex: a regex scan of a 10 MiB header section costs 50 ms a pass.
    found = [(at, sep) for sep in (b"\r\n\r\n", b"\n\n") if (at := raw.find(sep)) >= 0]
    return min(found) if found else None


def _header_fields(head: bytes) -> list[bytes]:
    """The header section's fields, each with its folded continuation lines (which start
    with a space or a tab); lines keep their "\r", so joining with "\n" restores them."""
    fields: list[list[bytes]] = []
    for line in head.split(b"\n"):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1].append(line)
        else:
            fields.append([line])
    return [b"\n".join(lines) for lines in fields]


def _bounded_head(head: bytes, dropped: list[str]) -> bytes:
    fields = [_bounded_field(field, dropped) for field in _header_fields(head)]
    if sum(len(f) + 1 for f in fields) <= MAX_HEADER_BYTES:
        return b"\n".join(fields)
    wanted = [f for f in fields if _name(f) in _WANTED]
    dropped.append(f"{len(fields) - len(wanted)} header fields over the header section's "
                   f"{MAX_HEADER_BYTES} bytes")  # fmt: skip
    return b"\n".join(wanted)


def _bounded_field(field: bytes, dropped: list[str]) -> bytes:
    name = field.split(b":", 1)[0].strip().decode("ascii", "replace") or "(unnamed)"
    # Only the first words are looked at: a match object for each of 600,000 words in a
    # 10 MiB header would itself cost most of a second.
    words = list(islice(_ENCODED_WORD.finditer(field), MAX_ENCODED_WORDS + 1))
    if len(words) > MAX_ENCODED_WORDS:
        beyond = field.count(b"=?", words[MAX_ENCODED_WORDS].start())
        field = field[: words[MAX_ENCODED_WORDS - 1].end()]
        dropped.append(f"{beyond} encoded words of header {name}")
    if len(field) > MAX_FIELD_BYTES:
        field = field[:MAX_FIELD_BYTES]
        dropped.append(f"header {name} beyond {MAX_FIELD_BYTES} bytes")
    return field


def _bounded_body(body: bytes, dropped: list[str]) -> bytes:
    delimiters = list(islice(_DELIMITER_LINE.finditer(body), MAX_PARTS + 1))
    if len(delimiters) <= MAX_PARTS:
        return body
    cut = delimiters[MAX_PARTS].start()
    beyond = 1 + body.count(b"\n--", cut)
    dropped.append(f"{beyond} MIME parts beyond the first {MAX_PARTS}")
    return body[:cut]


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def within_limits(subject: str, text: str, dropped: list[str]) -> tuple[str, str]:
    """Subject and text cut to what a ticket holds. A longer subject stays whole at the top
    of the text (encrypted with the message); what was left out is said at its end."""
    if len(subject) > SUBJECT_MAX:
        text = f"Subject: {subject}\n\n{text}"
        subject = subject[: SUBJECT_MAX - 1] + "…"
    room = TEXT_LIMIT_BYTES - NOTE_ROOM_BYTES
    encoded = text.encode("utf-8")
    if len(encoded) > room:
        dropped = [*dropped, f"{len(encoded) - room} bytes of text over the message limit"]
        text = encoded[:room].decode("utf-8", "ignore")
    if dropped:
        note = "; ".join(dropped)[: NOTE_ROOM_BYTES // 4 - 40]
        text = f"{text}\n\n[Atende: not kept from this email: {note}]"
    return subject, text
