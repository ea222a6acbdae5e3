"""Articles' Markdown, rendered safely and read as plain text (issue 23).

An article's body is stored as written, ``<script>`` and all: the log keeps what the
editor typed. What leaves Atende as HTML is rendered by markdown-it-py in CommonMark
mode with raw HTML off, so any HTML in the source comes out as escaped text, never as
markup; and its link check refuses ``javascript:``, ``vbscript:``, ``file:`` and
``data:`` URLs (but images'), so such a link is left as text. A help centre can put
``body_html`` in its page as it is.
"""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt

_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
# Tokens whose text a reader sees (what the search index holds of a body).
_TEXT_TOKENS = ("text", "code_inline", "code_block", "fence")


@lru_cache(maxsize=512)
def to_html(markdown: str) -> str:
    return _RENDERER.render(markdown)


def to_text(markdown: str) -> str:
    """The words a reader sees, without the Markdown: what search indexes and snippets
    quote."""
    words: list[str] = []
    for token in _RENDERER.parse(markdown):
        if token.type in _TEXT_TOKENS:
            words.append(token.content)
        for child in token.children or ():
            if child.type in _TEXT_TOKENS:
                words.append(child.content)
            elif child.type in ("softbreak", "hardbreak"):
                words.append(" ")
        if token.block and token.nesting == -1:
            words.append("\n")
    return " ".join("".join(words).split())
