"""Inbound email for ``POST /v1/intake/email``: raw RFC 5322 bytes in, a ``ParsedEmail`` out.

The mail gateway hands us the message exactly as it arrived. This module turns it into the
few facts intake needs (who wrote, about what, the readable text, which conversation it
continues, what was attached) and rejects anything that is not a message with a sender as
``InvalidEmail``. Mail in the wild is messy, so every header is read defensively: a broken
header degrades to its raw text or to "missing", it never escapes as a parser exception.

Only the standard library is used (``email`` with the modern ``policy.default``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import errors
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import default

from infrastructure.html_text import html_to_text
from infrastructure.mail_bounds import SIZE_FIELD, bounded, within_limits
from infrastructure.mail_plain_headers import (
    PARSER_FAILURES,
    HeadersReadOnce,
    encoded_text,
    plain_sender,
    plain_text,
    unfolded,
)

# What the stdlib header and MIME machinery raises on malformed input. Listed instead of a
# bare ``Exception`` so real bugs in this module still surface.
_MALFORMED = (errors.MessageError, *PARSER_FAILURES)

# Defects meaning the header section itself could not be read, i.e. the bytes are not a
# message at all (plain text, binary, a body without headers...).
_NOT_A_MESSAGE = (
    errors.MissingHeaderBodySeparatorDefect,
    errors.FirstHeaderLineIsContinuationDefect,
)

# Bounded so a hostile subject cannot make int() choke (Python limits huge digit strings)
# and so the number fits a 64-bit column.
_TICKET_TOKEN = re.compile(r"\[#(\d{1,18})\]")
_BRACKETED_ID = re.compile(r"<([^<>]*)>")
_WIRE = default.clone(linesep="\r\n")  # RFC 5322 line endings, as on the wire


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # bytes of the decoded payload


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    sender_name: str | None
    sender_email: str
    subject: str
    text: str
    thread_refs: tuple[str, ...]  # most recent first
    ticket_number: int | None
    attachments: tuple[Attachment, ...]
    html_only: bool


class InvalidEmail(ValueError):
    """The bytes cannot become a ticket message; ``field`` says which part is at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_email(raw: bytes) -> ParsedEmail:
    """The parts of an inbound message intake needs; ``InvalidEmail`` if it has none to give."""
    readable, dropped = bounded(raw)
    try:
        msg = _parse_message(readable)
        sender_name, sender_email = _sender(msg)
        body = _body_part(msg)
        text, html_only = _body_text(body)
        subject, text = within_limits(_clean(_decoded_header(msg, "Subject") or ""), text, dropped)
        return ParsedEmail(
            message_id=_message_id(msg, raw),
            sender_name=sender_name,
            sender_email=sender_email,
            subject=subject,
            text=text,
            thread_refs=_thread_refs(msg),
            ticket_number=ticket_number_in(subject),
            attachments=tuple(_attachments(msg, body)),
            html_only=html_only,
        )
    except RecursionError:
        # The stdlib walks MIME trees recursively; absurd nesting is an attack, not mail.
        raise InvalidEmail("message", "The message's MIME parts are nested too deeply.") from None


def ticket_number_in(subject: str) -> int | None:
    """The ticket a reply is about, from the ``[#1234]`` token we put in our subjects."""
    match = _TICKET_TOKEN.search(subject)
    return int(match.group(1)) if match else None


# Parsing and headers


def _parse_message(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise InvalidEmail("message", "The email is empty.")
    # policy.default builds EmailMessage objects: get_body(), iter_attachments(), decoding.
    # Its header registry is the message's own (mail_plain_headers.HeadersReadOnce).
    policy = default.clone(header_factory=HeadersReadOnce())
    msg = BytesParser(policy=policy).parsebytes(raw)
    if not msg.keys() or any(isinstance(d, _NOT_A_MESSAGE) for d in msg.defects):
        raise InvalidEmail("message", "This is not an RFC 5322 email: no readable header section.")
    return msg


def _raw_header(msg: Message, name: str) -> str | None:
    # raw_items() gives the header text as received, before any parsing, so it cannot fail.
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return _unfold(value) if isinstance(value, str) else str(value)
    return None


def _decoded_header(msg: Message, name: str) -> str | None:
    """The header with encoded words decoded; its raw text if the parser chokes on it."""
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    text = unfolded(raw)
    plain = plain_text(text)
    if plain is None:
        plain = encoded_text(text)
    if plain is not None:
        return plain
    try:
        value = msg[name]
    except _MALFORMED:
        return _raw_header(msg, name)
    return None if value is None else str(value)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value)


def _clean(value: str) -> str:
    """Make a header string safe to store.

    Raw 8-bit header bytes come back from the parser as lone surrogates, which break JSON
    and databases. Most such headers are UTF-8 sent without encoded words, so try that.
    """
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _sender(msg: EmailMessage) -> tuple[str | None, str]:
    raw = _raw_header(msg, "From")
    plain = plain_sender(unfolded(raw)) if raw is not None else None
    if plain is not None:
        name, address = plain
        return (name or None, address.lower())
    try:
        header = msg["From"]
        addresses = header.addresses if header is not None else ()
    except _MALFORMED:
        addresses = ()  # An unreadable From is as good as none: we cannot reply to it.
    for address in addresses:
        if "@" in address.addr_spec:
            return (_clean(address.display_name) or None, _clean(address.addr_spec).lower())
    raise InvalidEmail("from", "The email has no sender address (From).")


def _message_id(msg: Message, raw: bytes) -> str:
    value = _clean(_raw_header(msg, "Message-ID") or "").strip()
    bracketed = _BRACKETED_ID.search(value)
    if bracketed and bracketed.group(1).strip():
        return bracketed.group(1).strip()
    if value.strip("<>"):
        return value.strip("<>").strip()
    # Without an id, the bytes themselves identify the message: a redelivery still dedupes,
    # even when a relay on the way rewrote its line endings.
    return "sha256:" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


def _thread_refs(msg: Message) -> tuple[str, ...]:
    """Ids of the messages this one answers, the most recent first, without repeats.

    In-Reply-To names the direct parent; References lists the thread oldest to newest.
    """
    in_reply_to = _message_ids(_id_header(msg, "In-Reply-To"))
    references = _message_ids(_id_header(msg, "References"))
    return tuple(dict.fromkeys([*in_reply_to, *reversed(references)]))


def _id_header(msg: Message, name: str) -> str | None:
    """The text of a header listing message ids. Ids belong there verbatim, but some
    generators (Python's ``email`` among them) cannot fold an id longer than a line, such
    as our own reply ids, and wrap it in RFC 2047 encoded words instead: decode those."""
    raw = _raw_header(msg, name)
    if raw is None or "=?" not in raw:
        return raw
    return _decoded_header(msg, name) or raw


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    value = _clean(value)
    found = [token.strip() for token in _BRACKETED_ID.findall(value)]
    if not found:
        found = re.split(r"[\s,]+", value)  # Some clients forget the angle brackets.
    return [token for token in found if token]


# Body and attachments


def _body_part(msg: EmailMessage) -> EmailMessage | None:
    try:
        return msg.get_body(preferencelist=("plain", "html"))
    except _MALFORMED:
        return None


def _body_text(part: EmailMessage | None) -> tuple[str, bool]:
    if part is None:
        return "", False
    text = _decode(_payload(part), _charset(part))
    html_only = part.get_content_subtype() == "html"
    if html_only:
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip(), html_only


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except _MALFORMED:
        return b""
    return payload if isinstance(payload, bytes) else b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except _MALFORMED:
        return None


def _decode(payload: bytes, charset: str | None) -> str:
    # Mail often omits or misstates its charset: trust the declared one, then UTF-8, then
    # Windows-1252 (what such Spanish/Portuguese mail usually is); latin-1 never fails.
    for candidate in (charset, "utf-8", "cp1252"):
        if candidate:
            try:
                return payload.decode(candidate)
            except (LookupError, ValueError):  # ValueError: decode errors, NULs in the name
                continue
    return payload.decode("latin-1")


def _attachments(msg: EmailMessage, body: Message | None) -> Iterator[Attachment]:
    # Only the top level: iter_attachments() already skips the text/alternative bodies.
    if not msg.is_multipart():
        return
    try:
        parts = list(msg.iter_attachments())
    except _MALFORMED:
        return
    for part in parts:
        if part is not body:
            content_type = _content_type(part)
            yield Attachment(_filename(part), content_type, _size(part, content_type))


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except _MALFORMED:
        return None
    return _clean(name) if name else None


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except _MALFORMED:
        return "application/octet-stream"


def _size(part: Message, content_type: str) -> int:
    # Content left out before parsing (mail_bounds.py) came with its size in our header.
    declared = _raw_header(part, SIZE_FIELD)
    if declared is not None and declared.strip().isdigit():
        return int(declared.strip())
    if content_type == "message/rfc822":
        # A forwarded message is parsed into a Message; measure it serialised again, with
        # the CRLF line endings it had on the wire (the size of the .eml the sender attached).
        try:
            inner = part.get_payload(0)
            if isinstance(inner, Message):
                return len(inner.as_bytes(policy=_WIRE))
            return len(_payload(part))
        except _MALFORMED:  # UnicodeError is a ValueError
            return len(_payload(part))
    return len(_payload(part))
