"""Words as the full-text indexes see them, for SQLite (issue 23).

PostgreSQL folds and stems inside its text search configurations (``unaccent`` then the
language's Snowball stemmer: infrastructure/views/kb.py). SQLite's FTS5 has no stemmer
and Python's sqlite3 cannot register a tokenizer, so Atende does the same two steps
here, at index and at query time alike: fold (lower case, accents off), then stem with
the same Snowball algorithms (PyStemmer). The FTS5 table then stores and matches stems.

The same folding marks the words of a snippet on both backends (``highlight``), so the
two show the same snippet for the same hit.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import Stemmer

# A word: letters and digits (``\w`` without the underscore), as PostgreSQL's parser
# splits text for the ``word`` and ``numword`` tokens its configurations stem.
WORD = re.compile(r"[^\W_]+")
# ISO 639-1 -> the Snowball algorithm (PyStemmer) and PostgreSQL's configuration of the
# same name. Languages without one (Quechua, Guarani...) are folded but not stemmed: the
# ``simple`` configuration.
ALGORITHMS = {
    "es": "spanish", "pt": "portuguese", "en": "english", "fr": "french",
    "it": "italian", "de": "german", "nl": "dutch", "ca": "catalan", "eu": "basque",
}  # fmt: skip
SIMPLE = "simple"
MAX_QUERY_WORDS = 16  # a query is a few words; more only makes a search slower


def algorithm(language: str) -> str:
    """The Snowball algorithm and PostgreSQL configuration for a language (``pt-BR``
    is ``pt``), or ``simple``."""
    return ALGORITHMS.get(language.split("-")[0].lower(), SIMPLE)


def fold(text: str) -> str:
    """Lower case without accents: ``Atención`` -> ``atencion``, ``ç`` -> ``c``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=32)
def _stemmer(name: str) -> Stemmer.Stemmer | None:
    return None if name == SIMPLE else Stemmer.Stemmer(name)


def stems(text: str, language: str) -> list[str]:
    """Every word of ``text``, folded and stemmed in ``language``, in order."""
    words = WORD.findall(fold(text))
    stemmer = _stemmer(algorithm(language))
    return stemmer.stemWords(words) if stemmer else words


def indexed(text: str, language: str) -> str:
    """What the FTS5 table stores for a text: its stems, space-separated."""
    return " ".join(stems(text, language))


def query_words(query: str) -> list[str]:
    """The words of a search query, as typed (each backend folds and stems them)."""
    return WORD.findall(query)[:MAX_QUERY_WORDS]


def fts5_match(query: str, language: str, *, any_word: bool = False) -> str | None:
    """An FTS5 MATCH expression for the query's stems (all of them, or any), each
    quoted, so nothing typed is read as FTS5 syntax; None for a query with no words."""
    found = list(dict.fromkeys(stems(" ".join(query_words(query)), language)))
    if not found:
        return None
    joiner = " OR " if any_word else " AND "
    return joiner.join(f'"{stem}"' for stem in found)


SNIPPET_WORDS = 30


def highlight(text: str, query: str, language: str, *, words: int = SNIPPET_WORDS) -> str:
    """A snippet of ``text`` around its first word matching the query, HTML-escaped,
    matching words in ``<mark>``: safe to put in a page as it is."""
    wanted = set(stems(" ".join(query_words(query)), language))
    tokens = list(WORD.finditer(text))
    if not tokens:
        return html.escape(text[: words * 8])
    hits = [_stem_of(t.group(), language) in wanted for t in tokens]  # each word once
    first = hits.index(True) if True in hits else 0
    start = max(0, first - words // 3)
    end = min(len(tokens), start + words)
    out, cursor = [], tokens[start].start()
    for token, hit in zip(tokens[start:end], hits[start:end], strict=True):
        out.append(html.escape(text[cursor : token.start()]))
        word = html.escape(token.group())
        out.append(f"<mark>{word}</mark>" if hit else word)
        cursor = token.end()
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(tokens) else ""
    return prefix + "".join(out).strip() + suffix


@lru_cache(maxsize=8192)  # a help centre's texts repeat their words across answers
def _stem_of(word: str, language: str) -> str:
    found = stems(word, language)
    return found[0] if found else ""
