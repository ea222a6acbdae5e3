"""The bytes of an email Atende sends: text and a minimal HTML part (the text, escaped)
as multipart/alternative, 7-bit throughout (quoted-printable bodies, RFC 2047 headers),
CRLF line ends, as SMTP's DATA takes it.

Why not ``email.message.EmailMessage``: building and serialising one reply with it took
1.25 ms here (its header registry parses and refolds every header; 0.40 ms with the
compat32 MIME classes), about a third of what the outbox may spend on an email to keep up
with twice the create rate (issue 22). The pieces that need care are still the standard
library's: ``binascii.b2a_qp`` encodes and wraps the bodies, ``email.header.Header``
encodes and folds a header that is not short ASCII, ``email.utils`` writes the date and
the sender's address. tests/unit/test_outgoing_mime.py parses every shape back with the
library's default policy (no defects, the same headers and texts).
"""

from __future__ import annotations

import binascii
import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.charset import BASE64, Charset
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

CRLF = "\r\n"
SHORT_HEADER = 78  # RFC 5322's recommended line length, name included
# Any control character (CR and LF above all: a header value holding one could start a
# header of its own, "Bcc:", in the email).
CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
# Encoded words in base64: utf-8's default ("the shorter of Q and B") measures the Q
# form byte by byte in Python, a third of a reply's cost.
UTF8_HEADERS = Charset("utf-8")
UTF8_HEADERS.header_encoding = BASE64
PART_HEAD = (
    'Content-Type: text/{}; charset="utf-8"' + CRLF
    + "Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
)  # fmt: skip


@dataclass(frozen=True)
class OutgoingEmail:
    """One email as the dispatcher composed it: ``to`` is the envelope's recipient too."""

    sender: str  # ATENDE_MAIL_FROM: an address, with a display name or not
    to: str
    subject: str
    message_id: str  # without its angle brackets
    text: str
    language: str  # Content-Language
    thread: Sequence[str] = ()  # the conversation's Message-IDs, oldest first, without <>

    def as_bytes(self) -> bytes:
        # "=" never stands bare in quoted-printable, so no part can hold this boundary.
        boundary = f"=_atende_{uuid.uuid4().hex}"
        head = [
            "From: " + _address(self.sender),
            "To: " + _address(self.to),
            "Date: " + formatdate(localtime=False),
            _unstructured("Subject", self.subject),
            f"Message-ID: <{_message_id(self.message_id)}>",
        ]
        thread = [f"<{i}>" for i in map(_message_id, self.thread) if i]
        if thread:
            head.append("In-Reply-To: " + thread[-1])
            # One identifier a line: a long conversation stays within the line limit.
            head.append("References: " + (CRLF + " ").join(thread))
        head += [
            "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"',
            "Content-Language: " + _token(self.language),
        ]
        escaped = html.escape(self.text).replace("\n", "<br>\n")
        markup = f"<!doctype html><html><body><p>{escaped}</p></body></html>"
        delimiter = f"{CRLF}--{boundary}{CRLF}".encode()
        return b"".join(
            [
                CRLF.join(head).encode(),
                CRLF.encode(),
                delimiter,
                PART_HEAD.format("plain").encode(),
                _quoted_printable(self.text),
                delimiter,
                PART_HEAD.format("html").encode(),
                _quoted_printable(markup),
                f"{CRLF}--{boundary}--{CRLF}".encode(),
            ]
        )


def _quoted_printable(text: str) -> bytes:
    # Encoded with LF line ends, then every one made CRLF: b2a_qp ends the lines it
    # wraps with a bare LF ("=\n"), whatever the text's own line ends.
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(lines.encode(), istext=True).replace(b"\n", CRLF.encode())


def _unstructured(name: str, value: str) -> str:
    value = CONTROLS.sub(" ", value)
    if value.isascii() and len(name) + 2 + len(value) <= SHORT_HEADER:
        return f"{name}: {value}"
    charset = "us-ascii" if value.isascii() else UTF8_HEADERS
    folded = Header(value, charset, header_name=name).encode(linesep=CRLF)
    return f"{name}: {folded}"


def _address(value: str) -> str:
    name, address = parseaddr(CONTROLS.sub(" ", value))
    return formataddr((name, address), charset="utf-8") if name else address


def _message_id(value: str) -> str:
    """An identifier as it may stand between angle brackets: no space, control or
    non-ASCII character (a customer's mailer wrote the ones a thread holds)."""
    value = "".join(value.split()).strip("<>")
    return value if value.isascii() and not CONTROLS.search(value) else ""


def _token(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", value) or "und"
