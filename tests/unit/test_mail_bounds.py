"""Hostile email stays cheap to parse and is never lost: the parser gets a bounded message,
the ticket gets what could be read, and the text says what was left out."""

from __future__ import annotations

import base64
import tracemalloc
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32, default

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.ticket_vocabulary import SUBJECT_MAX, TEXT_LIMIT_BYTES
from infrastructure.mail import Attachment, parse_email
from infrastructure.mail_bounds import (
    MAX_DEPTH,
    MAX_ENCODED_WORDS,
    MAX_FIELDS,
    MAX_PARTS,
    MAX_TEXT_BYTES,
    SIZE_FIELD,
    _PartKind,
    _section_headers,
    bounded,
)
from tests import hostile_inputs as hostile
from tests.hostile_inputs import fill

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
    assert f"{20_000 - MAX_PARTS} MIME parts beyond the first {MAX_PARTS}" in parsed.text


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


def test_an_ordinary_message_keeps_every_byte_but_its_boundarys_name():
    raw = _multipart(3)
    readable, dropped = bounded(raw)
    assert dropped == []
    renamed = raw.replace(b"boundary=B", b'boundary="atende-boundary-1"')
    assert readable == renamed.replace(b"--B", b"--atende-boundary-1")
    assert "[Atende:" not in parse_email(raw).text


def _parsed(raw: bytes):
    return BytesParser(policy=default).parsebytes(raw)


def _structure(message) -> list:
    return [
        (part.get_content_type(), part.get_filename(), part.get_payload(decode=True))
        for part in message.walk()
    ]


def test_a_renamed_boundary_gives_the_parser_the_same_parts_as_the_senders():
    raw = (
        b"From: ana@example.com\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed;\r\n boundary="===============12345=="\r\n\r\n'
        b"preamble\r\n--===============12345==\r\n"
        b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
        b"--inner\r\nContent-Type: text/plain\r\n\r\nHola\r\n"
        b"--inner\r\nContent-Type: text/html\r\n\r\n<p>Hola</p>\r\n--inner--\r\n"
        b"--===============12345==\r\nContent-Type: text/plain; name=notas.txt\r\n\r\n"
        b"notas\r\n--===============12345==--  \r\nepilogue\r\n"
    )
    readable, _ = bounded(raw)
    assert b"12345" not in readable and b"--inner" not in readable
    assert b"atende-boundary-1" in readable and b"atende-boundary-2" in readable
    assert _structure(_parsed(readable)) == _structure(_parsed(raw))


@pytest.mark.parametrize(
    "raw",
    [
        # Our name already in the message: a sender could aim it at our own delimiters.
        _multipart(2).replace(b"parte 1", b"--atende-boundary-1"),
        # The boundary where no delimiter line is: a part's text, after a bare CR.
        _multipart(2).replace(b"parte 1", b"parte\r--B\r\nmas"),
        _multipart(2).replace(b"parte 1", b"see --B inline"),
        # A nested multipart reusing its parent's boundary.
        _multipart(1).replace(
            b"Content-Type: text/plain\r\n\r\nparte 0",
            b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nx\r\n--B--",
        ),
        # A Content-Type the plain grammar does not cover, or naming boundary twice.
        _multipart(2).replace(b"boundary=B", b"boundary=B (comment)"),
        _multipart(2).replace(b"boundary=B", b'boundary=B; name="x;boundary=B"'),
    ],
    ids=["our name", "bare CR", "inline", "nested reuse", "comment", "named twice"],
)
def test_a_boundary_that_is_not_only_delimiter_lines_keeps_its_senders_name(raw: bytes):
    readable, _ = bounded(raw)
    assert b"atende-boundary-" not in readable or b"atende-boundary-" in raw
    assert _structure(_parsed(readable)) == _structure(_parsed(raw))


def test_without_a_message_id_the_same_mail_is_one_message_whatever_its_line_endings():
    crlf = _message("Subject: Sin id", "Hola\r\nchau")
    lf = crlf.replace(b"\r\n", b"\n")
    assert parse_email(crlf).message_id == parse_email(lf).message_id


# The MIME tree: attachments' contents, parts' headers, depth, text


def _with_attachment(content: bytes, *extra_headers: str) -> bytes:
    encoded = base64.encodebytes(content).decode().replace("\n", "\r\n")
    headers = "".join(f"{header}\r\n" for header in extra_headers)
    return _message(
        "Subject: factura\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B",
        "--B\r\nContent-Type: text/plain\r\n\r\nAdjunto.\r\n--B\r\n"
        "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="f.pdf"\r\n{headers}\r\n{encoded}--B--',
    )


@pytest.mark.parametrize("size", [0, 1, 2, 3, 57, 58, 100_000, 3_000_001])
def test_an_attachments_content_is_left_out_before_parsing_and_its_exact_size_kept(size):
    content = bytes(range(256)) * (size // 256) + bytes(size % 256)
    raw = _with_attachment(content)
    readable, dropped = bounded(raw)
    assert len(readable) < 400 and dropped == []
    parsed = parse_email(raw)
    assert parsed.attachments == (Attachment("f.pdf", "application/pdf", size),)
    assert parsed.text == "Adjunto."


def test_a_senders_own_size_header_is_ignored():
    raw = _with_attachment(b"%PDF" * 100, f"{SIZE_FIELD}: 1")
    assert parse_email(raw).attachments[0].size == 400


def test_an_attachment_name_of_half_a_million_encoded_words_is_cut_to_the_bound():
    raw = hostile.encoded_file_name()
    readable, _ = bounded(raw)
    assert readable.count(b"=?utf-8?q?") == MAX_ENCODED_WORDS
    parsed = parse_email(raw)
    assert parsed.attachments[0].filename == "hola" * MAX_ENCODED_WORDS
    assert "encoded words of header Content-Disposition" in parsed.text


def test_parts_nest_at_most_the_depth_bound_and_the_deeper_ones_are_said():
    parsed_tree = BytesParser(policy=default).parsebytes(bounded(hostile.nesting())[0])
    depth, part = 0, parsed_tree
    while part.is_multipart():
        depth, part = depth + 1, part.get_payload(0)
    assert depth == MAX_DEPTH
    assert "MIME parts nested deeper than 20 levels" in parse_email(hostile.nesting()).text


def test_a_header_section_beyond_its_bounds_keeps_the_fields_intake_reads():
    junk = "".join(f"X-Relleno-{n}: a\r\n" for n in range(MAX_FIELDS * 3))
    raw = f"{junk}From: Ana <ana@example.com>\r\nSubject: Sin internet\r\n\r\nHola\r\n".encode()
    parsed = parse_email(raw)
    assert (parsed.sender_email, parsed.subject) == ("ana@example.com", "Sin internet")
    assert parsed.text.startswith("Hola")
    assert f"header lines beyond {MAX_FIELDS} fields" in parsed.text


def test_a_parts_header_section_is_bounded_like_the_messages():
    readable, dropped = bounded(hostile.part_header_lines())
    assert readable.count(b"X-Relleno") == MAX_FIELDS
    assert any("header lines beyond" in note for note in dropped)


def test_a_message_without_a_body_is_bounded_too():
    raw = f"From: ana@example.com\r\nSubject: {' '.join([WORD] * 50_000)}\r\n".encode()
    readable, _ = bounded(raw)
    assert readable.count(b"=?utf-8?q?") == MAX_ENCODED_WORDS
    assert parse_email(raw).sender_email == "ana@example.com"


def test_text_parts_share_the_text_bound_and_what_was_cut_is_said():
    line = "Mi módem parpadea en rojo.\r\n"
    body = fill(line, 3 * MAX_TEXT_BYTES)
    raw = _message("Subject: largo\r\nContent-Type: text/plain; charset=utf-8", body)
    readable, dropped = bounded(raw)
    assert MAX_TEXT_BYTES - len(line.encode()) < len(readable) - raw.index(b"\r\n\r\n") < (
        MAX_TEXT_BYTES + 200
    )
    assert dropped and "bytes of a text/plain part beyond" in dropped[0]
    assert parse_email(raw).text.startswith("Mi módem parpadea en rojo.\nMi módem")


def test_a_multipart_without_its_delimiters_is_read_as_text_as_the_parser_would():
    raw = _message("Subject: s\r\nContent-Type: multipart/mixed; boundary=B", "solo texto")
    assert bounded(raw) == (raw, [])
    assert parse_email(raw).sender_email == "ana@example.com"


# Memory: the promise of docs/deployment.md, measured as the parser's Python allocations


@pytest.mark.parametrize("build", hostile.EMAILS.values(), ids=list(hostile.EMAILS))
def test_no_email_under_the_size_limit_makes_the_parser_allocate_more_than_64_mb(build):
    raw = build()
    assert len(raw) <= hostile.EMAIL_LIMIT
    tracemalloc.start()
    try:
        parse_email(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024


# A field's lines drawn from the bytes that decide how the header parser splits them.
_FIELD_BYTES = st.lists(
    st.sampled_from([b"Content-Type", b"X", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"From ",
                     b"text/plain", b";", b"boundary=B", b'"', b"\xe9", b"=?"]),
    min_size=1, max_size=12,
).map(b"".join)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_FIELD_BYTES, max_size=4))
@example([b"Content-Type: multipart/mixed;\r\n boundary=B", b"Content-Transfer-Encoding: 7bit"])
@example([b"From nobody", b"Content-Type: text/html"])
@example([b"Content-Type: text/html\rX: y"])
def test_a_sections_fields_are_held_as_the_header_parser_holds_them(fields) -> None:
    parsed = BytesHeaderParser(policy=compat32).parsebytes(b"\n".join(fields))
    assert list(_section_headers(fields).raw_items()) == list(parsed.raw_items())


# Fields a part's kind is read from, and others, as senders write them: a name, a colon
# and a value, or the same pieces in any order.
_KIND_PIECES = [b"Content-Type", b"content-TYPE", b"Content-Disposition",
                b"Content-Transfer-Encoding", b"Received", b"X-Content-Type", b":", b": ", b" ",
                b"\t", b"\r\n ", b"\r", b"\n", b"From ", b"multipart/mixed", b"text/html",
                b"; boundary=B", b'; boundary="C"', b"; BoundarY=D", b"; name*0=a",
                b"; name*=x", b"; boundary*=utf-8''%C3%A9", b"*", b"attachment", b"inline",
                b"base64", b";", b"\xe9"]  # fmt: skip
_KIND_FIELD = st.one_of(
    st.tuples(
        st.sampled_from(_KIND_PIECES[:6]),
        st.sampled_from([b":", b": ", b" :", b":\t"]),
        st.lists(st.sampled_from(_KIND_PIECES[6:]), max_size=5).map(b"".join),
    ).map(b"".join),
    st.lists(st.sampled_from(_KIND_PIECES), min_size=1, max_size=8).map(b"".join),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_KIND_FIELD, max_size=5), st.sampled_from(["text/plain", "message/rfc822"]))
@example([b"Received: x", b"Content-Type: text/html", b"content-type: multipart/mixed"],
         "text/plain")  # fmt: skip
@example([b"X-Content-Type: multipart/mixed; boundary=B", b"Content-Type: text/html"],
         "text/plain")  # fmt: skip
@example([b"Received: x", b"Content-Disposition: attachment", b"Content-Type: text/html"],
         "text/plain")  # fmt: skip
@example([b"Content-Type: text/html; name*=x; name*0=y"], "text/plain")
@example([b"Content-Type: text/html; boundary*=utf-8''%C3%A9"], "text/plain")
def test_a_parts_kind_is_what_the_header_parser_reads_from_all_its_fields(fields, default_type):
    # The kind is read from the MIME fields alone when every field is plain.
    parsed = BytesHeaderParser(policy=compat32).parsebytes(b"\n".join(fields))
    parsed.set_default_type(default_type)
    try:
        expected = (
            parsed.get_content_type(),
            (parsed.get_boundary() or "").encode("ascii", "surrogateescape"),
            str(parsed.get("content-transfer-encoding", "")).strip().lower(),
            parsed.get_content_disposition() == "attachment",
        )
    except (ValueError, LookupError, TypeError, IndexError, AttributeError):
        expected = (default_type, b"", "", False)
    kind = _PartKind.of(fields, default_type)
    assert (kind.content_type, kind.boundary, kind.encoding, kind.attachment) == expected
