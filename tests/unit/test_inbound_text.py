"""Control characters out of intake's texts (application.inbound_text), held to the
definition: Unicode categories Cc and Cs, over every code point."""

from __future__ import annotations

import sys
import unicodedata

from application.inbound_text import LINE_BREAKS, multi_line, one_line

EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cs")


def test_a_text_keeps_every_character_but_controls_and_keeps_its_line_breaks():
    expected = "".join(ch for ch in EVERY_CHARACTER if ch in LINE_BREAKS or not _is_control(ch))
    assert multi_line(EVERY_CHARACTER) == expected
    assert len(expected) == len(EVERY_CHARACTER) - 65 - 2048 + 3  # Cc, Cs, but the breaks


def test_a_line_turns_its_breaks_into_spaces_and_drops_every_other_control():
    spaced = "".join(" " if ch in LINE_BREAKS else ch for ch in EVERY_CHARACTER)
    expected = "".join(ch for ch in spaced if not _is_control(ch)).strip()
    assert one_line(EVERY_CHARACTER) == expected
    assert one_line("\tHola\x00 mundo\r\n\x1b[31m\u0085") == "Hola mundo  [31m"


def test_printable_text_comes_back_as_it_was():
    text = "Olá, meu modem não conecta — ñandú 🙂"
    assert multi_line(text) is text and one_line(text) is text
