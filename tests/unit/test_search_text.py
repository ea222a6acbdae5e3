"""Words as SQLite's index sees them, the snippets both backends show, and Markdown
rendered for a page: hostile text stays text (issue 23)."""

from __future__ import annotations

from infrastructure.markdown import to_html, to_text
from infrastructure.search_text import fold, fts5_match, highlight, stems


def test_folding_takes_accents_and_case_off_before_stemming():
    assert fold("Atención Cobrança ÑANDÚ") == "atencion cobranca nandu"
    assert stems("Facturas", "es") == stems("factura", "es")
    assert stems("cobrança", "pt") == stems("cobranca", "pt")
    assert stems("Ñandú", "qu") == ["nandu"]  # no stemmer: folded only


def test_an_fts5_expression_quotes_every_word_so_nothing_typed_is_syntax():
    assert fts5_match('factura" OR NEAR(x', "es") == '"factur" AND "or" AND "near" AND "x"'
    assert fts5_match("modem wifi", "es", any_word=True) == '"modem" OR "wifi"'
    assert fts5_match("!!! ***", "es") is None


def test_a_snippet_escapes_the_text_and_marks_only_matching_words():
    snippet = highlight('Pague <script>alert("x")</script> sus facturas', "factura", "es")
    assert "<script" not in snippet and "&lt;script&gt;" in snippet
    assert "<mark>facturas</mark>" in snippet and snippet.count("<mark>") == 1


def test_a_snippet_of_a_long_text_starts_near_the_first_match():
    text = " ".join(["relleno"] * 100 + ["factura"] + ["cola"] * 100)
    snippet = highlight(text, "facturas", "es")
    assert snippet.startswith("… ") and snippet.endswith(" …") and "<mark>factura</mark>" in snippet


def test_markdown_html_and_unsafe_links_come_out_as_text():
    html = to_html('<script>x()</script>\n\n[a](javascript:x()) [b](data:text/html,x) **ok**')
    assert "<script" not in html and "href" not in html and "<strong>ok</strong>" in html


def test_the_indexed_text_of_markdown_is_what_a_reader_sees():
    assert to_text("# Título\n\n*Pague* [aquí](https://x.example) `código`") == (
        "Título Pague aquí código"
    )
