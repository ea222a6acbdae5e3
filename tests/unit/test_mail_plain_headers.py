"""The premise of the plain-header fast paths (infrastructure/mail_plain_headers.py): for
every value their grammars accept, the modern header parser (``policy.default``) gives
back exactly what the fast path does. Values are generated from the grammars themselves,
so a grammar widened past what the parser agrees with fails here."""

from __future__ import annotations

import base64
from email.message import Message
from email.policy import default

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from infrastructure import mail_plain_headers as plain
from infrastructure.mail_plain_headers import PlainMimeValue

PREMISE = settings(max_examples=400, deadline=None)


def modern(name: str, value: str):
    return default.header_fetch_parse(name, value)


def as_read_under(policy, name: str, value: str) -> Message:
    """A message holding the value as the parser stores it, read through ``policy``."""
    message = Message(policy=policy)
    message.set_raw(name, value)
    return message


def as_modern_message(name: str, value: str) -> Message:
    return as_read_under(default, name, value)


def as_plain_message(name: str, value: str) -> Message:
    return as_read_under(default.clone(header_factory=plain.HeadersReadOnce()), name, value)


def reading(message: Message, name: str) -> dict:
    """Everything the stdlib and intake read from a MIME header, all through strings."""
    if name == "content-transfer-encoding":
        return {"cte": str(message.get(name, "")).lower()}
    names = [param for param, _ in message.get_params(header=name) or ()]
    return {
        "params": {param.lower(): message.get_param(param, header=name) for param in names},
        "type": message.get_content_type(),
        "boundary": message.get_boundary(),
        "charset": message.get_content_charset(),
        "filename": message.get_filename(),
        "disposition": message.get_content_disposition(),
    }


@pytest.mark.parametrize("name", sorted(plain.PLAIN_MIME))
@PREMISE
@given(data=st.data())
def test_a_plain_mime_value_reads_as_the_modern_parser_reads_it(name: str, data) -> None:
    value = data.draw(st.from_regex(plain.PLAIN_MIME[name], fullmatch=True))
    by_modern, by_plain = as_modern_message(name, value), as_plain_message(name, value)
    assert reading(by_plain, name) == reading(by_modern, name)
    if name == "content-disposition":
        header = modern(name, value)
        assert PlainMimeValue(value).content_disposition == header.content_disposition


def every_character_in_every_place(name: str):
    """Each printable ASCII character (and a space, a tab) put into each part of a value."""
    shapes = {
        "content-type": ["a{c}b/x; n=v", "a/x{c}y; n=v", "a/x; n{c}m=v", "a/x; n=v{c}w",
                         'a/x; n="v{c}w"', "a/x{c} n=v", "a/x; n=v{c}"],
        "content-disposition": ["a{c}b; n=v", "a; n{c}m=v", "a; n=v{c}w", 'a; n="v{c}w"',
                                "a{c} n=v", "a; n=v{c}", "a;{c}n=v"],
        "content-transfer-encoding": ["a{c}b", "ab{c}"],
    }[name]  # fmt: skip
    return placed(shapes)


def placed(shapes: list[str]) -> list[str]:
    """Each shape with each printable ASCII character, a space, a tab or an encoded
    word's ends in its place."""
    characters = [chr(code) for code in range(0x21, 0x7F)] + [" ", "\t", "=?", "?="]
    return [shape.format(c=c) for shape in shapes for c in characters]


@pytest.mark.parametrize("name", sorted(plain.PLAIN_MIME))
def test_every_character_the_mime_grammars_accept_reads_as_the_modern_parser_reads_it(
    name: str,
) -> None:
    accepted = 0
    for value in every_character_in_every_place(name):
        if plain.PLAIN_MIME[name].fullmatch(value):
            accepted += 1
            by_modern, by_plain = as_modern_message(name, value), as_plain_message(name, value)
            assert reading(by_plain, name) == reading(by_modern, name), value
            if name == "content-disposition":
                header = modern(name, value)
                assert PlainMimeValue(value).content_disposition == header.content_disposition
    assert accepted > 100  # the grammar is not so narrow that it never applies


def test_every_character_the_sender_grammar_accepts_gives_the_modern_parsers_address() -> None:
    shapes = ["A{c}b <a@b.c>", "A b{c} <a@b.c>", "A <a{c}b@c.d>", "A <ab@c{c}d>", "a{c}b@c.d",
              "ab@c{c}d", "{c}A <a@b.c>", "A <a@b.c>{c}", "A{c}<a@b.c>"]  # fmt: skip
    accepted = 0
    for value in placed(shapes):
        if plain.plain_sender(value) is not None:
            accepted += 1
            first = modern("From", value).addresses[0]
            assert plain.plain_sender(value) == (first.display_name or None, first.addr_spec), value
    assert accepted > 100


@PREMISE
@given(st.from_regex(plain._PLAIN_SENDER, fullmatch=True))
@example("Cliente 7 <cliente7@example.com>")
@example("cliente7@example.com")
def test_a_plain_sender_is_the_modern_parsers_first_address(value: str) -> None:
    first = modern("From", value).addresses[0]
    assert plain.plain_sender(value) == (first.display_name or None, first.addr_spec)


@PREMISE
@given(st.from_regex(plain._PLAIN_TEXT, fullmatch=True))
@example("Re: Sin conexion [#1234]")
def test_a_plain_subject_is_what_the_modern_parser_decodes(value: str) -> None:
    decoded = plain.plain_text(value)
    if decoded is not None:
        assert decoded == str(modern("Subject", value))


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?Sin_conexi=C3=B3n?=",
        "Sin conexión",
        "a control \x00 character",
    ],
)
def test_a_subject_with_anything_to_decode_or_keep_is_not_plain(value: str) -> None:
    assert plain.plain_text(value) is None


# Subjects with encoded words (plain.encoded_text): words as senders' mailers write them.
_CHARSETS = ["utf-8", "UTF-8", "iso-8859-1", "ISO-8859-15", "windows-1252", "us-ascii"]


@st.composite
def encoded_words(draw) -> str:
    """An encoded word, well formed or not quite: its text encoded in its charset (or in
    another, so the bytes may not decode), in Q (underscores for spaces, any byte as =XX,
    upper or lower case) or B."""
    charset = draw(st.sampled_from(_CHARSETS))
    text = draw(st.text(st.characters(max_codepoint=0x2FF), min_size=1, max_size=12))
    encoding = draw(st.sampled_from([charset, "utf-8", "latin-1"]))
    data = text.encode(encoding, "replace")
    if draw(st.booleans()):
        body = base64.b64encode(data).decode()
        return f"=?{charset}?{draw(st.sampled_from('bB'))}?{body}?="
    pieces = []
    for byte in data:
        char = chr(byte)
        if char == " " and draw(st.booleans()):
            pieces.append("_")
        elif 0x21 <= byte <= 0x7E and char not in "=?_" and draw(st.booleans()):
            pieces.append(char)
        else:
            pieces.append(f"={byte:02X}" if draw(st.booleans()) else f"={byte:02x}")
    return f"=?{charset}?{draw(st.sampled_from('qQ'))}?{''.join(pieces)}?="


_SUBJECT_WORDS = st.one_of(
    encoded_words(),
    st.from_regex(plain._PLAIN_WORD, fullmatch=True),
    st.sampled_from(["Re:", "[#1234]", "=", "?=", "=?", "=?utf-8?q??=", "=?utf-8?x?a?=",
                     "=?utf-8*es?q?a?=", "=?utf-8?q?=zz?=", "=?utf-8?b?w6k?=", "é"]),
)  # fmt: skip


@PREMISE
@given(
    st.lists(st.tuples(_SUBJECT_WORDS, st.sampled_from(["", " ", "  ", "\t", " \t"])), max_size=6)
)
@example([("Re:", " "), ("Sin", " "), ("=?utf-8?q?conexi=C3=B3n?=", " "), ("3", "")])
@example([("=?utf-8?q?a?=", " "), ("=?utf-8?b?w6k=?=", "  "), ("x", " "), ("=?utf-8?q?b?=", "")])
def test_a_subject_with_encoded_words_is_what_the_modern_parser_decodes(words) -> None:
    value = "".join(word + space for word, space in words)
    decoded = plain.encoded_text(value)
    if decoded is not None:
        assert decoded == str(modern("Subject", value)), value


def test_every_character_in_every_place_of_an_encoded_subject_decodes_as_the_parser_does():
    shapes = ["=?utf-8?q?a{c}b?=", "=?utf-8?q?{c}ab?=", "=?utf-8?q?ab{c}?=", "=?utf-8?b?w6{c}k?=",
              "=?utf-8?b?w6k{c}?=", "=?utf{c}-8?q?a?=", "=?utf-8{c}?q?a?=", "=?utf-8?{c}q?a?=",
              "=?utf-8?q?a?{c}=", "a{c}=?utf-8?q?a?=", "=?utf-8?q?a?={c}b", "{c}=?utf-8?q?a?=",
              "=?utf-8?q?a?={c}=?utf-8?q?b?=", "x{c}y =?utf-8?q?=C3=A9?=",
              "=?utf-8?q?=C3{c}=A9?="]  # fmt: skip
    accepted = 0
    for value in placed(shapes):
        decoded = plain.encoded_text(value)
        if decoded is not None:
            accepted += 1
            assert decoded == str(modern("Subject", value)), value
    assert accepted > 300  # the grammar is not so narrow that it never applies


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?\xe9?=",  # not ASCII
        "=?utf-8?q?=FF?=",  # bytes utf-8 cannot decode: the parser notes a defect
        "=?koi8-r?q?=C1?=",  # a charset left to the parser
        "=?utf-8?q?a?=b",  # no whitespace after the word
        "Sin=?utf-8?q?a?=",  # nor before it
        "a\x00b",
    ],
)
def test_a_subject_the_encoded_grammar_does_not_cover_goes_to_the_parser(value: str) -> None:
    assert plain.encoded_text(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?Jos=C3=A9?= <jose@example.com>",
        '"Pérez, Juan" <juan@example.com>',
        "John Q. Public <john@example.com>",
        "Ana <ana@example.com>, Bea <bea@example.com>",
        "ana@example.com (Ana)",
        "<@route:ana@example.com>",
    ],
)
def test_a_sender_needing_the_full_parser_is_not_plain(value: str) -> None:
    assert plain.plain_sender(value) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("content-type", 'text/plain; charset="=?utf-8?q?x?="'),
        ("content-type", "text/plain (a comment)"),
        ("content-type", 'text/plain; name="a\\"b"'),
        ("content-disposition", 'attachment; filename="=?UTF-8?B?w6k=?="'),
        ("content-disposition", 'attachment; filename="é.pdf"'),
    ],
)
def test_a_mime_value_with_encoded_words_comments_escapes_or_8bit_is_not_plain(
    name: str, value: str
) -> None:
    assert not plain.PLAIN_MIME[name].fullmatch(value)
