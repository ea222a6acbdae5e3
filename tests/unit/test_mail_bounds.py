"""Hostile email stays cheap to parse and is never lost: the parser gets a bounded message,
the ticket gets what could be read, and the text says what was left out."""

from __future__ import annotations

from domain.ticket_vocabulary import SUBJECT_MAX, TEXT_LIMIT_BYTES
from infrastructure.mail import parse_email
from infrastructure.mail_bounds import MAX_ENCODED_WORDS, MAX_PARTS, bounded

WORD = "=?utf-8?q?hola?="


def _message(headers: str, body: str = "Hola") -> bytes:
    return f"From: ana@example.com\r\n{headers}\r\n\r\n{body}\r\n".encode()


def _multipart(parts: int) -> bytes:
    body = "".join(
        f"--B\r\nContent-Type: text/plain\r\n\r\nparte {n}\r\n" for n in range(parts)
    )
    headers = "Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B"
    return _message(headers, body + "--B--")


def test_a_header_of_fifty_thousand_encoded_words_is_cut_to_the_bound():
    raw = _message("Subject: " + " ".join([WORD] * 50_000))
    readable, dropped = bounded(raw)
    assert readable.count(b"=?utf-8?q?") == MAX_ENCODED_WORDS
    assert dropped == [f"{50_000 - MAX_ENCODED_WORDS} encoded words of header Subject"]


def test_a_message_with_twenty_thousand_parts_is_read_up_to_the_bound_and_says_so():
    parsed = parse_email(_multipart(20_000))
    assert parsed.text.startswith("parte 0")
    assert f"{20_001 - MAX_PARTS} MIME parts beyond the first {MAX_PARTS}" in parsed.text


def test_what_the_bounds_left_out_is_said_at_the_end_of_the_text():
    parsed = parse_email(_message("Subject: " + " ".join(["=?utf-8?q?a?="] * 500), "Mi módem"))
    assert parsed.text.startswith("Mi módem")
    assert parsed.text.endswith("[Atende: not kept from this email: "
                                "400 encoded words of header Subject]")  # fmt: skip
    assert parsed.subject == "a" * MAX_ENCODED_WORDS


def test_a_subject_over_the_limit_is_shortened_and_kept_whole_in_the_text():
    subject = "Sin internet en Calle Falsa " * 20
    parsed = parse_email(_message(f"Subject: {subject}", "Hola"))
    assert len(parsed.subject) == SUBJECT_MAX and parsed.subject.endswith("…")
    assert parsed.text.startswith(f"Subject: {subject.strip()}")


def test_a_body_over_the_message_limit_is_cut_and_says_how_much_was_left_out():
    parsed = parse_email(_message("Subject: largo", "x" * (3 * TEXT_LIMIT_BYTES)))
    assert len(parsed.text.encode("utf-8")) <= TEXT_LIMIT_BYTES
    assert "bytes of text over the message limit]" in parsed.text


def test_an_ordinary_message_is_untouched_by_the_bounds():
    raw = _multipart(3)
    assert bounded(raw) == (raw, [])
    assert "[Atende:" not in parse_email(raw).text


def test_without_a_message_id_the_same_mail_is_one_message_whatever_its_line_endings():
    crlf = _message("Subject: Sin id", "Hola\r\nchau")
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse_email(crlf).message_id == parse_email(lf).message_id
