"""Header values simple enough to read without ``policy.default``'s header parser.

The modern header parser builds a full parse tree for every value it reads: about 160 µs
for a ``From`` of a name and an address, 80 µs for a ``Content-Type``, two thirds of an
inbound message's parsing time (issue 19). Most mail carries only plain values: a content
type with a charset or a boundary, a sender's name in ASCII words and an address. For
those, what the parser would give back is the value itself, or a part of it a regular
expression can cut out. So each fast path here has a grammar (the ``_PLAIN_*`` patterns)
narrow enough that the modern parser's result equals ours for every value it matches; a
value that does not match goes to the modern parser, as before.

tests/unit/test_mail_plain_headers.py generates values from these grammars and checks the
premise against the modern parser itself.
"""

from __future__ import annotations

import re
from email.policy import EmailPolicy

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


class PlainMimeValue(str):
    """A plain MIME header's value, standing in for the header object ``policy.default``
    would build: the stdlib reads such headers as strings, except ``MIMEPart.is_attachment``,
    which asks for the disposition."""

    __slots__ = ()

    @property
    def content_disposition(self) -> str:
        return self.partition(";")[0].strip(" \t").lower()


class PlainMimeFirst(EmailPolicy):
    """``policy.default``, but a MIME header with a plain value is handed out as that value.

    The feed parser, ``get_body``, ``iter_attachments`` and ``get_content_type`` read the
    Content-Type of each part several times; they all read it as a string, which for a
    plain value is the string itself."""

    def header_fetch_parse(self, name: str, value: str):  # returns str or a header object
        if not hasattr(value, "name"):  # not already a header object
            grammar = PLAIN_MIME.get(name.lower())
            if grammar is not None:
                flat = unfolded(value)
                if grammar.fullmatch(flat):
                    return PlainMimeValue(flat)
        return super().header_fetch_parse(name, value)
