"""Readable plain text of an HTML email body, for mail that arrives without a text part.

A small ``HTMLParser`` subclass rather than a library: it adds no dependency, and a ticket
only needs the words, line breaks and link targets, not the layout.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML email body."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return extractor.text()


# Block elements start on a new line; the paragraph-like ones leave a blank line around them.
_LINE_TAGS = frozenset(
    {"div", "li", "tr", "ul", "ol", "dl", "dt", "dd", "hr", "pre", "section", "article",
     "header", "footer", "address", "center", "form", "fieldset", "caption"}
)  # fmt: skip
_PARAGRAPH_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title"})
_CELL_TAGS = frozenset({"td", "th"})
_LINKED_SCHEMES = ("http://", "https://", "mailto:")


class _TextExtractor(HTMLParser):
    """Collects the readable text of an HTML body.

    A small HTMLParser subclass rather than a library: it adds no dependency, and a ticket
    only needs the words, line breaks and link targets, not the layout.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities arrive already unescaped
        self._chunks: list[str] = []
        self._newlines = 2  # pretend we start after a paragraph: no leading blank lines
        self._skipping = 0
        self._link: tuple[str, int] | None = None  # (href, index of its first chunk)

    def text(self) -> str:
        return _tidy_lines("".join(self._chunks))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "body":
            self._skipping = 0  # an unclosed <head> must not swallow the whole body
        elif tag == "br":
            self._emit_newline()
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)
            if tag == "li":
                self._emit("- ")
        elif tag in _CELL_TAGS and not self._newlines:
            self._emit(" ")
        elif tag == "a":
            self._link = (dict(attrs).get("href") or "", len(self._chunks))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)
        elif tag == "a" and self._link:
            self._close_link(*self._link)
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        text = re.sub(r"\s+", " ", data)  # HTML collapses whitespace, newlines included
        if self._newlines:
            text = text.lstrip()
        if text:
            self._emit(text)

    def _close_link(self, href: str, start: int) -> None:
        label = " ".join("".join(self._chunks[start:]).split())
        href = href.strip()
        if label and href.lower().startswith(_LINKED_SCHEMES) and not _same_target(label, href):
            self._emit(f" ({href})")

    def _emit(self, text: str) -> None:
        self._chunks.append(text)
        self._newlines = 0

    def _emit_newline(self) -> None:
        self._chunks.append("\n")
        self._newlines += 1

    def _break(self, newlines: int) -> None:
        while self._newlines < newlines:
            self._emit_newline()


def _same_target(label: str, href: str) -> bool:
    def bare(value: str) -> str:
        value = value.lower().rstrip("/")
        return value.removeprefix("mailto:")

    return bare(label) == bare(href)


def _tidy_lines(text: str) -> str:
    """Collapse spaces within lines and keep at most one blank line in a row."""
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(_without_repeated_blanks(lines)).strip("\n")


def _without_repeated_blanks(lines: Iterable[str]) -> Iterator[str]:
    previous_blank = False
    for line in lines:
        blank = not line
        if not (blank and previous_blank):
            yield line
        previous_blank = blank
