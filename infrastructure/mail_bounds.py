"""Bounds on what the email parser is given, so any message under the size limit parses
quickly and in little memory.

The standard library's parser is quadratic in places (50,000 RFC 2047 encoded words in one
header took 53 s of CPU and gigabytes; the same words in an attachment's file name, 2.9 GB)
and it holds every line of every part as an object of its own (900,000 header lines in one
part: +200 MB). Intake keeps little of a message: its headers, the text of its body (at most
``TEXT_LIMIT_BYTES``) and the name, type and size of each attachment. So before parsing,
``bounded`` walks the MIME tree itself, with ``bytes.find`` over the raw message (no copies
of what it skips), and hands the parser a small message:

- every header section is cut to ``MAX_FIELDS`` fields and all of them together to
  ``MAX_HEADER_BYTES`` (the top-level fields intake reads are kept first), each field to
  ``MAX_ENCODED_WORDS`` encoded words and ``MAX_FIELD_BYTES``;
- at most ``MAX_PARTS`` MIME parts, nested at most ``MAX_DEPTH`` deep;
- text parts (plain, HTML) keep ``MAX_TEXT_BYTES`` between them, enough for the ticket's text;
- an attachment's content is left out, its decoded size carried in a header of ours
  (``SIZE_FIELD``), which the parser's caller reads instead of measuring a payload.

The message still opens a ticket with what was read; ``dropped`` says what was not.
Attachments' contents are not "dropped": intake never kept them.

Written here rather than found in a library: no maintained Python MIME parser bounds its
memory by the bytes it keeps (the stdlib's feedparser and its successors all materialise
every line and payload).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from itertools import chain, islice

from domain.ticket_vocabulary import SUBJECT_MAX, TEXT_LIMIT_BYTES
from infrastructure.mail_plain_headers import PLAIN_MIME

MAX_ENCODED_WORDS = 100
MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 200  # per header section
MAX_HEADER_BYTES = 256 * 1024  # all header sections together
MAX_PARTS = 200
MAX_DEPTH = 20
MAX_TEXT_BYTES = 1024 * 1024  # of text parts, as encoded, all together
MAX_MARGIN_BYTES = 4096  # a multipart's preamble or epilogue, kept when no longer
# Bytes of the text kept for the note saying what an email lost to the bounds.
NOTE_ROOM_BYTES = 2048
# Our own header on an attachment whose content was left out: its decoded size. A sender's
# header of that name is removed first, so only ours is ever read.
SIZE_FIELD = "X-Atende-Original-Size"
_SIZE_NAME = SIZE_FIELD.lower().encode()
# What intake reads: kept even when the top-level header section is over its bounds.
_WANTED = (
    b"from", b"subject", b"message-id", b"in-reply-to", b"references", b"date",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-disposition",
)  # fmt: skip
_WANTED_FIELD = re.compile(rb"\n(" + b"|".join(_WANTED) + rb")[ \t]*:", re.IGNORECASE)
_RESCUE_SCAN_LIMIT = 10_000  # wanted-name matches looked at beyond the bounds
_ENCODED_WORD = re.compile(rb"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
_FIELD_END = re.compile(rb"\n(?![ \t])")  # a line break not followed by a folded line
# Boundaries renamed per message, at most, and the size of message past which none is.
_RENAMED_MAX = 8
_RENAME_BYTES_MAX = 1024 * 1024
_RENAMED_PREFIX = b"atende-boundary-"
_PLAIN_CONTENT_TYPE = PLAIN_MIME["content-type"]
_LINE_BREAK = re.compile(r"\r|\n")
_BOUNDARY_PARAM = b"boundary="
_BEFORE_NAME = (b" ", b"\t", b";", b"\n")
_VALUE_END = re.compile(rb"[; \t\r\n]|\Z")
# A field the header parser reads as one header: a name (the parser's headerRE), a colon,
# then only folded lines, each ended by LF or CRLF.
_PLAIN_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_BODY_TEXT = ("text/plain", "text/html")
# The fields a part's kind is read from (_PartKind.of).
_KIND_NAMES = frozenset({b"content-type", b"content-transfer-encoding", b"content-disposition"})
_WHITESPACE = (b" ", b"\t", b"\r", b"\n")


def bounded(raw: bytes) -> tuple[bytes, list[str]]:
    """The message cut to the parser's bounds, and a note for each thing left out."""
    walk = _Walk(raw, renames_left=_RENAMED_MAX if _may_rename(raw) else 0)
    walk.section(0, len(raw), depth=0, default_type="text/plain", top=True)
    return b"".join(walk.out), walk.dropped


@dataclass
class _Walk:
    raw: bytes
    out: list[bytes] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    header_room: int = MAX_HEADER_BYTES
    parts_left: int = MAX_PARTS
    text_room: int = MAX_TEXT_BYTES
    too_deep: bool = False
    renames_left: int = 0  # multiparts whose boundary may still be renamed

    # One header section and what follows it: the whole message, or one MIME part.

    def section(self, start: int, end: int, depth: int, default_type: str, top: bool) -> None:
        head_end, body_start = _split(self.raw, start, end)
        fields = self.head(start, head_end, top)
        eol = b"\r\n" if self.raw[head_end : head_end + 1] == b"\r" else b"\n"
        separated = body_start > head_end
        kind = _PartKind.of(fields, default_type)
        if kind.maintype == "multipart" and kind.boundary:
            if depth >= MAX_DEPTH:
                if not self.too_deep:
                    self.too_deep = True
                    self.dropped.append(f"MIME parts nested deeper than {MAX_DEPTH} levels")
            elif self.multipart(fields, eol, body_start, end, kind, depth):
                return
            else:
                kind = _PartKind("text/plain", b"", kind.encoding, False)  # as the parser reads it
        if kind.is_body_text:
            self.text_leaf(fields, eol, separated, body_start, end, kind)
        else:
            size = kind.decoded_size(self.raw, body_start, end)
            self.emit_head([*fields, b"%s: %d" % (SIZE_FIELD.encode(), size)], eol, True)

    def emit_head(self, fields: list[bytes], eol: bytes, separated: bool) -> None:
        if fields:
            self.out.append(eol.join(fields))
            self.out.append(eol + eol if separated else eol)
        elif separated:
            self.out.append(eol)

    def head(self, start: int, end: int, top: bool) -> list[bytes]:
        """The section's fields, bounded (each field's lines joined as they came)."""
        kept: list[bytes] = []
        names: set[bytes] = set()
        seen = 0
        at = start
        for field_start, field_end in _fields(self.raw, start, end):
            if seen >= MAX_FIELDS:
                break
            seen += 1
            name = _name(self.raw, field_start, field_end)
            value, note = self.field(field_start, field_end, name)
            name = name.lower()
            if len(value) >= self.header_room:
                break
            at = field_end + 1
            if name == _SIZE_NAME:
                continue  # only ours is ever read
            self.header_room -= len(value) + 1
            kept.append(value)
            names.add(name)
            if note:
                self.dropped.append(note)
        if at < end:
            lines = self.raw.count(b"\n", at, end) + 1
            self.dropped.append(
                f"{lines} header lines beyond {MAX_FIELDS} fields or {MAX_HEADER_BYTES} bytes"
            )
            if top:
                kept.extend(self.rescued(at, end, names))
        return kept

    def rescued(self, start: int, end: int, seen: set[bytes]) -> list[bytes]:
        """The first of each field intake reads, from beyond the header bounds."""
        found = []
        for match in islice(_WANTED_FIELD.finditer(self.raw, start - 1, end), _RESCUE_SCAN_LIMIT):
            name = match.group(1)
            if name.lower() not in seen:
                seen.add(name.lower())
                field_end = _field_end(self.raw, match.end(), end)
                value, note = self.field(match.start() + 1, field_end, name)
                found.append(value)
                if note:
                    self.dropped.append(note)
        return found

    def field(self, start: int, end: int, name: bytes) -> tuple[bytes, str | None]:
        """The field cut to its bounds, and a note when it was."""
        cut = min(end, start + MAX_FIELD_BYTES)
        value = self.raw[start:cut]
        if value.endswith(b"\r"):
            value = value[:-1]  # the line break's; fields are joined again with their own
        # Each encoded word starts at an "=?" of its own: a field with no more of those
        # than the bound has no more words, and most have none (no regex scan then).
        if value.count(b"=?") > MAX_ENCODED_WORDS:
            # Only the first words are looked at: a match object for each of 600,000
            # words in a 10 MiB header would itself cost most of a second.
            words = list(islice(_ENCODED_WORD.finditer(value), MAX_ENCODED_WORDS + 1))
            if len(words) > MAX_ENCODED_WORDS:
                beyond = self.raw.count(b"=?", start + words[MAX_ENCODED_WORDS].start(), end)
                note = f"{beyond} encoded words of header {_label(name)}"
                return value[: words[MAX_ENCODED_WORDS - 1].end()], note
        if cut < end:
            return value, f"header {_label(name)} beyond {MAX_FIELD_BYTES} bytes"
        return value, None

    # Bodies

    def multipart(
        self, fields: list[bytes], eol: bytes, start: int, end: int, kind: _PartKind, depth: int
    ) -> bool:
        """Emit the section and its parts, between the boundary's delimiter lines; False,
        emitting nothing, when there is no delimiter (the parser then reads a text body)."""
        delimiters = _delimiters(self.raw, start, end, kind.boundary)
        current = next(delimiters, None)
        if current is None:
            return False
        fields, boundary, delimiters = self.renamed(fields, current, delimiters, kind.boundary)
        self.emit_head(fields, eol, True)
        self.out.append(self.margin(start, current.line_start))  # the preamble
        child_type = "message/rfc822" if kind.subtype == "digest" else "text/plain"
        while not current.closing:
            following = next(delimiters, None)
            if self.parts_left == 0:
                self.dropped.append(f"{self.parts_beyond(current, end, kind.boundary)} MIME "
                                    f"parts beyond the first {MAX_PARTS}")  # fmt: skip
                self.out.append(b"--" + boundary + b"--" + eol)
                return True
            self.parts_left -= 1
            self.out.append(self.delimiter_line(current, kind.boundary, boundary))
            part_end = following.content_end if following else end
            self.section(current.line_end, part_end, depth + 1, child_type, top=False)
            if following is None:
                return True  # no closing delimiter: the last part ran to the end
            self.out.append(self.raw[part_end : following.line_start])
            current = following
        self.out.append(self.delimiter_line(current, kind.boundary, boundary))
        self.out.append(self.margin(current.line_end, end))  # the epilogue
        return True

    def renamed(
        self, fields: list[bytes], first: _Delimiter, rest: Iterator[_Delimiter], boundary: bytes
    ) -> tuple[list[bytes], bytes, Iterator[_Delimiter]]:
        """The fields, the boundary to write and the delimiters after ``first``: the
        boundary renamed to one the parser has seen before where that changes nothing
        else, the sender's otherwise.

        The stdlib's feed parser compiles a regular expression for every boundary it
        meets, 190 µs, and senders make each boundary unique: a quarter of parsing an
        ordinary two-part message (issue 19). Renamed ``atende-boundary-<n>`` it is
        compiled once per process. Only where nothing else can change: every occurrence of
        the boundary in the whole message is one of these delimiter lines (no other line
        the parser could take for one, no nested part reusing it), the Content-Type field
        is a plain one naming it once, and the message never mentions our names."""
        if self.renames_left == 0:
            return fields, boundary, rest
        self.renames_left -= 1
        occurrences = self.raw.count(b"--" + boundary)
        if occurrences > MAX_PARTS + 1:
            return fields, boundary, rest
        found = list(islice(rest, occurrences))
        rest = chain(found, rest)
        if len(found) + 1 != occurrences:
            return fields, boundary, rest
        new = b"%s%d" % (_RENAMED_PREFIX, _RENAMED_MAX - self.renames_left)
        kept = _with_boundary(fields, boundary, new)
        return (fields, boundary, rest) if kept is None else (kept, new, rest)

    def delimiter_line(self, at: _Delimiter, boundary: bytes, written: bytes) -> bytes:
        """The delimiter line as the sender wrote it, with ``written`` for its boundary."""
        if written == boundary:
            return self.raw[at.line_start : at.line_end]
        return b"--" + written + self.raw[at.line_start + 2 + len(boundary) : at.line_end]

    def margin(self, start: int, end: int) -> bytes:
        return self.raw[start:end] if end - start <= MAX_MARGIN_BYTES else b""

    def parts_beyond(self, current: _Delimiter, end: int, boundary: bytes) -> int:
        delimiter = b"\n--" + boundary
        lines = 1 + self.raw.count(delimiter, current.line_start, end)
        return lines - (self.raw.find(delimiter + b"--", current.line_start - 1, end) >= 0)

    def text_leaf(
        self,
        fields: list[bytes],
        eol: bytes,
        separated: bool,
        start: int,
        end: int,
        kind: _PartKind,
    ) -> None:
        keep = min(end - start, self.text_room)
        if keep < end - start:
            keep = _cut_point(self.raw, start, start + keep, kind.encoding)
            self.dropped.append(f"{end - start - keep} bytes of a {kind.content_type} part "
                                f"beyond the {MAX_TEXT_BYTES} bytes of text read")  # fmt: skip
            size = kind.decoded_size(self.raw, start, end)
            fields = [*fields, b"%s: %d" % (SIZE_FIELD.encode(), size)]
        self.text_room -= keep
        self.emit_head(fields, eol, separated)
        self.out.append(self.raw[start : start + keep])


@dataclass(frozen=True)
class _Delimiter:
    content_end: int  # where the previous part ends: before the line break ahead of "--"
    line_start: int
    line_end: int  # after the delimiter line's own line break
    closing: bool


def _delimiters(raw: bytes, start: int, end: int, boundary: bytes):
    """The boundary's delimiter lines, in order, up to and with the closing one."""
    marker = b"--" + boundary
    at = raw.find(marker, start, end)
    while at >= 0:
        after = at + len(marker)
        line_break = raw.find(b"\n", after, end)
        line_end = end if line_break < 0 else line_break + 1
        rest = raw[after : min(line_end, after + 256)]
        closing = rest.startswith(b"--")
        at_line_start = at == start or raw[at - 1 : at] == b"\n"
        if at_line_start and not rest[2 if closing else 0 :].strip(b" \t\r\n"):
            content_end = at
            if at > start and raw[at - 1 : at] == b"\n":
                content_end -= 2 if raw[at - 2 : at - 1] == b"\r" else 1
            yield _Delimiter(max(content_end, start), at, line_end, closing)
            if closing:
                return
        at = raw.find(marker, after, end)


@dataclass(frozen=True)
class _PartKind:
    content_type: str
    boundary: bytes
    encoding: str
    attachment: bool

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    @property
    def is_body_text(self) -> bool:
        return self.content_type in _BODY_TEXT and not self.attachment

    @classmethod
    def of(cls, fields: list[bytes], default_type: str) -> _PartKind:
        """Read with the compat32 parser: linear in the (already bounded) fields, where
        the modern one is not, and only these four facts are needed."""
        try:
            read = _kind_fields(fields)
            if read is None:  # not all plain: the parser reads them all
                read, headers = fields, _section_headers(fields)
            else:
                headers = _held_as_parsed(read)
            headers.set_default_type(default_type)
            boundary = (headers.get_boundary() if _may_name_a_boundary(read) else None) or ""
            return cls(
                headers.get_content_type(),
                boundary.encode("ascii", "surrogateescape"),
                str(headers.get("content-transfer-encoding", "")).strip().lower(),
                headers.get_content_disposition() == "attachment",
            )
        except (ValueError, LookupError, TypeError, IndexError, AttributeError):
            return cls(default_type, b"", "", False)

    def decoded_size(self, raw: bytes, start: int, end: int) -> int:
        """Bytes of the content once decoded, counted without copying it."""
        length = end - start
        if self.encoding == "base64":
            spaces = sum(raw.count(space, start, end) for space in _WHITESPACE)
            tail = raw[max(start, end - 8) : end].rstrip(b" \t\r\n")
            padding = len(tail) - len(tail.rstrip(b"="))
            return max(0, (length - spaces) * 3 // 4 - min(padding, 2))
        if self.encoding == "quoted-printable":
            # "=XX" is one byte, "=" at a line's end (a soft break) none, with its "\r\n".
            escapes = raw.count(b"=", start, end)
            return max(0, length - 2 * escapes - raw.count(b"=\r\n", start, end))
        if self.content_type == "message/rfc822":
            # The parser measured a forwarded message as serialised with CRLF line ends.
            return length + raw.count(b"\n", start, end) - raw.count(b"\r\n", start, end)
        return length


def _may_rename(raw: bytes) -> bool:
    # Bounded so that counting a boundary's occurrences in the whole message stays cheap.
    return len(raw) <= _RENAME_BYTES_MAX and _RENAMED_PREFIX not in raw


def _with_boundary(fields: list[bytes], boundary: bytes, new: bytes) -> list[bytes] | None:
    """The fields with the Content-Type's boundary parameter set to ``new``; None unless
    that field is one the parser reads as plain text and names ``boundary`` exactly once."""
    if not all(_PLAIN_FIELD.fullmatch(one) for one in fields):
        return None
    for index, one in enumerate(fields):
        name, _, value = one.partition(b":")
        if name.lower() != b"content-type":
            continue
        text = value.decode("ascii", "surrogateescape").lstrip(" \t")
        if not _PLAIN_CONTENT_TYPE.fullmatch(_LINE_BREAK.sub("", text)):
            return None
        lowered = one.lower()
        if lowered.count(_BOUNDARY_PARAM) != 1:
            return None
        at = lowered.find(_BOUNDARY_PARAM) + len(_BOUNDARY_PARAM)
        if one[at - len(_BOUNDARY_PARAM) - 1 : at - len(_BOUNDARY_PARAM)] not in _BEFORE_NAME:
            return None  # the end of another parameter's name
        if one[at : at + 1] == b'"':
            after = one.find(b'"', at + 1) + 1
            given = one[at + 1 : after - 1]
        else:
            after = _VALUE_END.search(one, at).start()
            given = one[at:after]
        if given != boundary:
            return None
        return [*fields[:index], one[:at] + b'"' + new + b'"' + one[after:], *fields[index + 1 :]]
    return None


def _kind_fields(fields: list[bytes]) -> list[bytes] | None:
    """The fields ``_PartKind.of`` reads its facts from, when every field is plain: then a
    field's name is all before its first colon, and the parser's reads of these names see
    these fields alone. The others (From, Received, DKIM-Signature...) were each decoded
    and stored for nothing: a fifth of the bounds walk of an ordinary message (issue 19).
    None otherwise: all of them go to the parser, to split as it does."""
    if not all(_PLAIN_FIELD.fullmatch(one) for one in fields):
        return None
    return [one for one in fields if one[: one.find(b":")].lower() in _KIND_NAMES]


def _may_name_a_boundary(fields: list[bytes]) -> bool:
    """False when no field says "boundary" (in any case) or has a "*": then the parser's
    ``get_boundary`` finds none, and raises nothing (an RFC 2231 parameter, "name*0=",
    can make it raise TypeError, which ``_PartKind.of`` answers with the default kind).
    Asked, it parsed every parameter of every text part, a fifth of the bounds walk of
    an ordinary message (issue 19). Non-ASCII bytes are surrogates here, which no
    case-folding turns into these letters."""
    return any(b"*" in one or b"boundary" in one.lower() for one in fields)


def _section_headers(fields: list[bytes]) -> Message:
    """The fields as the compat32 header parser would hold them. Fields of a name, a colon
    and folded lines are stored directly, as the parser's ``_parse_headers`` stores them:
    its feed machinery cost 50 µs a section, a fifth of parsing a plain message (issue 19).
    A section with any other field (no name, a bare CR, a unix "From " line), which the
    parser may read differently, goes to the parser."""
    if not all(_PLAIN_FIELD.fullmatch(one) for one in fields):
        return BytesHeaderParser(policy=compat32).parsebytes(b"\n".join(fields))
    return _held_as_parsed(fields)


def _held_as_parsed(fields: list[bytes]) -> Message:
    """Plain fields (``_PLAIN_FIELD``, checked by the caller) as the parser holds them."""
    headers = Message(policy=compat32)
    for one in fields:
        lines = one.decode("ascii", "surrogateescape").split("\n")
        headers.set_raw(*compat32.header_source_parse([line + "\n" for line in lines]))
    return headers


def _split(raw: bytes, start: int, end: int) -> tuple[int, int]:
    """Where the header section ends and the body starts (both ``end``: no body)."""
    if raw.startswith(b"\r\n", start) or raw.startswith(b"\n", start):
        return start, start  # no header fields: the body starts after this line break
    # bytes.find, not a regex: a regex scan of a 10 MiB header section costs 50 ms a pass.
    # The LF search only looks ahead of the CRLF one: "\n\n" is slow to find among the
    # line breaks of a CRLF message that has none.
    crlf = raw.find(b"\r\n\r\n", start, end)
    lf = raw.find(b"\n\n", start, end if crlf < 0 else crlf)
    if lf >= 0:
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 4
    return end, end


def _fields(raw: bytes, start: int, end: int):
    """(start, end) of each header field, folded lines included, its line break excluded."""
    at = start
    while at < end:
        field_end = _field_end(raw, at, end)
        yield at, field_end
        at = field_end + 1


def _field_end(raw: bytes, start: int, end: int) -> int:
    found = _FIELD_END.search(raw, start, end)
    return found.start() if found else end


def _label(name: bytes) -> str:
    return name.decode("ascii", "replace") or "(unnamed)"


def _name(raw: bytes, start: int, end: int) -> bytes:
    return raw[start : min(end, start + 200)].split(b":", 1)[0].strip()


def _cut_point(raw: bytes, start: int, stop: int, encoding: str) -> int:
    """Bytes kept of a part cut at ``stop``: up to a line's end when there is one not far
    back, so an encoded line is never halved; base64 on a whole quantum otherwise."""
    line_end = raw.rfind(b"\n", start, stop)
    if line_end >= start + (stop - start) // 2:
        return line_end + 1 - start
    keep = stop - start
    return keep - keep % 4 if encoding == "base64" else keep


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
