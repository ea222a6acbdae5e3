"""Header values simple enough to read without ``policy.default``'s header parser.

The modern header parser builds a full parse tree for every value it reads: about 160 µs
for a ``From`` of a name and an address, 80 µs for a ``Content-Type``, two thirds of an
inbound message's parsing time (issue 19). Most mail carries only plain values: a content
type with a charset or a boundary, a sender's name in ASCII words and an address, a
subject in ASCII words and (in Spanish or Portuguese) well-formed encoded words. For
those, what the parser would give back is the value itself, or a part of it a regular
expression can cut out. So each fast path here has a grammar (the ``*PLAIN_*`` patterns)
narrow enough that the modern parser's result equals ours for every value it matches; a
value that does not match goes to the modern parser, as before.

tests/unit/test_mail_plain_headers.py generates values from these grammars and checks the
premise against the modern parser itself.
"""

from __future__ import annotations

import re
from email import _encoded_words  # the parser's own decoder of one encoded word
from email.headerregistry import BaseHeader, HeaderRegistry
from functools import lru_cache

# RFC 2045 token: printable ASCII but space and the tspecials ()<>@,;:\"/[]?=
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
# A parameter's name and unquoted value as the modern parser reads them whole: it ends a
# name at "*", "'" or "%" and a value at "*" or "'" (RFC 2231 sections and charsets, which
# go to the parser).
_NAME = r"[!#$&+\-.^_`|~0-9A-Za-z]+"
_VALUE = r"[!#$%&+\-.^_`|~0-9A-Za-z]+"
# A quoted value without escapes, encoded words ("=?") or anything not ASCII.
_QUOTED = r'"(?:[ !#-<>-\[\]-~]|=(?!\?))*"'
_PARAMS = rf"(?:[ \t]*;[ \t]*{_NAME}=(?:{_VALUE}|{_QUOTED}))*[ \t]*"
PLAIN_MIME = {
    "content-type": re.compile(rf"{_TOKEN}/{_TOKEN}{_PARAMS}"),
    "content-disposition": re.compile(rf"{_TOKEN}{_PARAMS}"),
    "content-transfer-encoding": re.compile(rf"{_TOKEN}[ \t]*"),
}

# RFC 5322 atext without "=" and "?" (so no encoded word) and "." (an obsolete phrase).
_ATOM = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_ADDRESS = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_PLAIN_SENDER = re.compile(
    rf"(?:(?P<name>{_ATOM}(?: {_ATOM})*) )?<(?P<angled>{_ADDRESS})>|(?P<bare>{_ADDRESS})"
)
# Printable ASCII, spaces and tabs, no encoded word: the unstructured parser gives such a
# value back as it is (whitespace included).
_PLAIN_TEXT = re.compile(r"[ \t!-~]*")
_ENCODED_WORD_START = "=?"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what policy.default removes before parsing

# An unstructured value whose words are plain ASCII or whole RFC 2047 encoded words: a
# Spanish or Portuguese subject ("Re: Sin =?utf-8?q?conexi=C3=B3n?="). Encoded words in
# the charsets mail from Latin America comes in, their text without "?" or whitespace,
# a Q text's "=" only as "=XX" (the parser finds a Q word's end by its first "?=", and
# reads "=?charset?q?=XX" by a rule of its own), a B text whole base64 quanta.
_CHARSET = r"(?i:utf-8|us-ascii|iso-8859-1|iso-8859-15|windows-1252)"
_Q_TEXT = r"(?:=[0-9A-Fa-f]{2}|[!-<>@-~])+"
_B_TEXT = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
_ENCODED_WORD = re.compile(rf"=\?{_CHARSET}\?(?:[Qq]\?{_Q_TEXT}|[Bb]\?{_B_TEXT})\?=")
_PLAIN_WORD = re.compile(r"(?:[!-<>-~]|=(?!\?))+")  # printable ASCII, no "=?"
_WHITESPACE_RUN = re.compile(r"([ \t]+)")


def unfolded(value: str) -> str:
    return _LINE_BREAK.sub("", value)


def plain_sender(value: str) -> tuple[str | None, str] | None:
    """The display name (None without one) and address of a plain ``From`` value, as the
    modern parser's first address would give them; None when the value is not plain."""
    match = _PLAIN_SENDER.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    return match.group("name"), match.group("angled") or match.group("bare")


def plain_text(value: str) -> str | None:
    """An unstructured value (a subject) decoded, when it has nothing to decode."""
    if _PLAIN_TEXT.fullmatch(value) and _ENCODED_WORD_START not in value:
        return value
    return None


def encoded_text(value: str) -> str | None:
    """An unstructured value whose encoded words are all well formed, decoded as the
    modern parser decodes it: each encoded word by the stdlib's own decoder, the
    whitespace between two encoded words dropped (RFC 2047), all other text as it is.
    None when the value has anything else, or a word the decoder finds a defect in
    (bytes its charset cannot decode): the parser reads those."""
    pieces = _WHITESPACE_RUN.split(value)  # words at even places, whitespace at odd ones
    previous_encoded = False
    decoded: list[str] = []
    for at, piece in enumerate(pieces):
        if at % 2:
            decoded.append(piece)
            continue
        if not piece:
            continue  # the value starts or ends with whitespace
        if _ENCODED_WORD.fullmatch(piece):
            text, _, _, defects = _encoded_words.decode(piece)
            if defects:
                return None
            if previous_encoded:
                decoded[-1] = ""  # the whitespace between two encoded words
            decoded.append(text)
            previous_encoded = True
        elif _PLAIN_WORD.fullmatch(piece):
            decoded.append(piece)
            previous_encoded = False
        else:
            return None
    return "".join(decoded)


class PlainMimeValue(str):
    """A plain MIME header's value, standing in for the header object ``policy.default``
    would build: the stdlib reads such headers as strings, except ``MIMEPart.is_attachment``,
    which asks for the disposition."""

    __slots__ = ()

    @property
    def content_disposition(self) -> str:
        return self.partition(";")[0].strip(" \t").lower()


class HeadersReadOnce(HeaderRegistry):
    """``policy.default``'s header registry, for one message: a MIME header with a plain
    value is that value, any other is parsed as ``policy.default`` parses it, and each
    (name, value) is made once.

    The stdlib reads Content-Type again and again (the feed parser, ``get_body``,
    ``iter_attachments``, ``get_content_type``): some 37 header reads for a plain
    two-part message, six of them different (issue 19). Header objects are never changed
    in place (setting a header makes a new one), so handing the same one out is safe; one
    registry per message, so what it remembers goes with the message."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[tuple[str, str], str] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        return _header_class(name.lower())  # the stdlib builds a new class on every call

    def __call__(self, name: str, value: str) -> str:  # value: unfolded by the policy
        made = self._made.get((name, value))
        if made is None:
            grammar = PLAIN_MIME.get(name.lower())
            if grammar is not None and grammar.fullmatch(value):
                made = PlainMimeValue(value)
            else:
                made = self._parsed(name, value, mime=grammar is not None)
            self._made[(name, value)] = made
        return made


    def _parsed(self, name: str, value: str, *, mime: bool) -> str:
        try:
            return super().__call__(name, value)
        except PARSER_FAILURES:
            if not mime:
                raise  # read after parsing, where intake falls back to the raw text
            # The modern parser should note a defect in any value, yet fails on some
            # (CPython 3.11: "text/plain;e*" ends in an IndexError inside get_parameter)
            # while the feed parser is reading the message: every such mail was a 500.
            # Read as its text instead, as the stdlib's string reads (get_content_type,
            # get_param) take any value; a content type they cannot read is text/plain.
            return PlainMimeValue(value)


# What the modern header parser raises on values it fails on, where it should only note a
# defect: bugs of the stdlib, met by hostile mail (infrastructure/mail.py adds its own
# errors to these).
PARSER_FAILURES = (ValueError, LookupError, TypeError, IndexError, AttributeError)


@lru_cache(maxsize=256)  # bounded: header names are the sender's to choose
def _header_class(name: str) -> type[BaseHeader]:
    return HeaderRegistry()[name]
