"""The knowledge base on SQLite and PostgreSQL: the example articles imported, then the
same queries give the same top hits on both backends in three languages (accents and
word endings ignored), only published articles are found, edits and erasures of the
index follow the log, and a rebuilt view equals the live one."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from application.errors import StaleVersion
from application.kb import ArticleChange, InvalidArticle
from application.ticket_commands import TicketCommands
from domain.actor import Actor
from domain.kb.article import (
    ArticleNotFound,
    ArticleStateConflict,
    DuplicateSlug,
    article_id,
)
from domain.kb.categories import CategoryNotFound, DuplicateCategory
from infrastructure.projector import ViewFollower
from infrastructure.rebuild import rebuild
from infrastructure.views.registry import VIEWS
from interface.http.kb_usage import HelpCentreUsage
from interface.kb_import import import_articles
from tests.integration.builders import AGENT, open_ticket

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples" / "kb-articles.jsonl"
EDITOR = Actor(id="tok-1", name="Rosa", role="agent")

# (query, language, the expected first hit) - what a customer would type, without
# accents, in another form of the word, or both.
TOP_HITS = [
    ("facturas", "es", "pagar-factura"),
    ("pagar factura", "es", "pagar-factura"),
    ("atencion", "es", "horario-atencion"),
    ("modem", "es", "reiniciar-modem"),
    ("contrasena wifi", "es", "cambiar-contrasena-wifi"),
    ("mudanza", "es", "mudanza-domicilio"),
    ("cobranca", "pt", "pagar-factura"),
    ("conexao", "pt", "reiniciar-modem"),
    ("atendimento", "pt", "horario-atencion"),
    ("senha", "pt", "cambiar-contrasena-wifi"),
    ("lenta", "pt", "velocidad-lenta"),
    ("bills", "en", "pagar-factura"),
    ("paying bill", "en", "pagar-factura"),
    ("restarting modem", "en", "reiniciar-modem"),
    ("passwords", "en", "cambiar-contrasena-wifi"),
    ("cancelling", "en", "cancelar-servicio"),
    ("moving address", "en", "mudanza-domicilio"),
]


def catch_up(atende) -> None:
    ViewFollower(atende.tickets, VIEWS["kb"].projection(view=atende.views.kb)).catch_up()


@pytest.fixture
def examples(atende):
    report = import_articles(atende.kb, EXAMPLES)
    assert report.refused == [] and len(report.created) == 9
    catch_up(atende)
    return atende


def slugs(atende, query: str, language: str, **kwargs) -> list[str]:
    return [h.slug for h in atende.views.kb.search(query, language, limit=10, **kwargs)]


@pytest.mark.parametrize(("query", "language", "first"), TOP_HITS)
def test_a_query_finds_its_article_first_whatever_its_accents_and_word_endings(
    examples, query, language, first
):
    assert slugs(examples, query, language)[:1] == [first]


def test_every_word_of_a_search_must_be_found_while_a_suggestion_takes_any(examples):
    assert slugs(examples, "factura modem", "es") == []
    assert set(slugs(examples, "factura modem", "es", any_word=True)) >= {
        "pagar-factura",
        "reiniciar-modem",
    }


def test_drafts_and_archived_articles_are_never_found_on_the_public_side(examples):
    found = slugs(examples, "facturacion", "es", any_word=True) + slugs(
        examples, "factura", "es"
    )
    assert "factura-detallada" not in found and "tarifas-antiguas" not in found
    everything = ("published", "draft", "archived")
    assert "factura-detallada" in slugs(examples, "detalle", "es", states=everything)


def test_a_search_is_in_the_language_asked_for(examples):
    assert slugs(examples, "factura", "pt") == []  # the Portuguese text says fatura/cobrança
    assert slugs(examples, "modem", "pt") == ["reiniciar-modem"]


def test_text_that_looks_like_query_syntax_is_searched_as_words(examples):
    for hostile in ('"', "factura OR", "NEAR(factura", "factura*", "' & | !", "-- ;"):
        slugs(examples, hostile, "es")  # no error from either engine
    assert slugs(examples, 'factura" OR "modem', "es") == []


def test_a_rewritten_text_is_found_by_its_new_words_and_no_longer_by_its_old(examples):
    kb = examples.kb
    article = kb.published("horario-atencion")
    texts = {"es": {"title": "Horario de atención", "body": "Atendemos también los domingos."}}
    kb.change(article.id, ArticleChange(translations=texts), EDITOR, None)
    catch_up(examples)
    assert slugs(examples, "domingos", "es") == ["horario-atencion"]
    assert slugs(examples, "feriados", "es") == []


def test_archiving_takes_an_article_out_of_search_at_the_next_step(examples):
    kb = examples.kb
    kb.archive(kb.published("cancelar-servicio").id, EDITOR)
    catch_up(examples)
    assert "cancelar-servicio" not in slugs(examples, "cancelar", "es", any_word=True)
    with pytest.raises(ArticleNotFound):
        kb.published("cancelar-servicio")


def test_the_kb_view_rebuilt_from_the_log_equals_the_live_one(examples):
    kb = examples.kb
    article = kb.published("pagar-factura")
    kb.change(article.id, ArticleChange(tags=["pagos"]), EDITOR, None)
    catch_up(examples)
    live = examples.views.kb.rows()
    searched = slugs(examples, "factura", "es")
    rebuild(examples, "kb")
    assert examples.views.kb.rows() == live
    assert slugs(examples, "factura", "es") == searched


def test_a_slug_in_use_is_refused_and_the_first_article_is_unchanged(atende):
    kb = atende.kb
    first = kb.create("wifi", {"es": {"title": "Wifi", "body": "uno"}}, EDITOR)
    with pytest.raises(DuplicateSlug):
        kb.create("wifi", {"es": {"title": "Otro", "body": "dos"}}, EDITOR)
    assert kb.get(first.id).translations["es"].body == "uno" and kb.get(first.id).version == 1


def test_a_translation_in_an_unconfigured_language_is_refused_naming_the_field(atende):
    with pytest.raises(InvalidArticle) as refused:
        atende.kb.create("x-y", {"fr": {"title": "Facture", "body": "..."}}, EDITOR)
    assert refused.value.field == "translations"
    assert not atende.tickets.exists(article_id("x-y"))


def test_a_change_against_a_stale_version_is_refused_and_stores_nothing(atende):
    kb = atende.kb
    article = kb.create("wifi", {"es": {"title": "Wifi", "body": "uno"}}, EDITOR)
    kb.publish(article.id, EDITOR)
    change = ArticleChange(tags=["x"])
    with pytest.raises(StaleVersion) as stale:
        kb.change(article.id, change, EDITOR, expected=1)
    assert stale.value.current == 2 and kb.get(article.id).tags == []
    assert kb.change(article.id, change, EDITOR, expected=2).version == 3


def test_a_translation_is_outdated_once_its_source_changes_until_rewritten(atende):
    kb = atende.kb
    texts = {"es": {"title": "Wifi", "body": "uno"}, "en": {"title": "Wifi", "body": "one"}}
    article = kb.create("wifi", texts, EDITOR, source_language="es")
    assert not kb.get(article.id).outdated("en")
    new_source = {"es": {"title": "Wifi", "body": "uno, dos"}}
    kb.change(article.id, ArticleChange(translations=new_source), EDITOR, None)
    assert kb.get(article.id).outdated("en") and not kb.get(article.id).outdated("es")
    caught_up = {"en": {"title": "Wifi", "body": "one, two"}}
    kb.change(article.id, ArticleChange(translations=caught_up), EDITOR, None)
    assert not kb.get(article.id).outdated("en")


def test_an_article_reads_as_it_was_at_an_earlier_instant(atende):
    kb = atende.kb
    article = kb.create("wifi", {"es": {"title": "Wifi", "body": "uno"}}, EDITOR)
    before = kb.get(article.id).modified_on
    kb.change(article.id, ArticleChange(translations={"es": {"title": "Wifi", "body": "dos"}}),
              EDITOR, None)  # fmt: skip
    assert kb.get(article.id).translations["es"].body == "dos"
    assert kb.get(article.id, before).translations["es"].body == "uno"


def test_publishing_twice_is_a_conflict_and_records_nothing(atende):
    kb = atende.kb
    article = kb.create("wifi", {"es": {"title": "Wifi", "body": "uno"}}, EDITOR)
    kb.publish(article.id, EDITOR)
    with pytest.raises(ArticleStateConflict):
        kb.publish(article.id, EDITOR)
    assert kb.get(article.id).version == 2


def test_categories_form_a_tree_whose_parents_exist_and_siblings_differ(atende):
    kb = atende.kb
    billing = kb.add_category({"es": "Facturación"}, None, EDITOR)
    child = kb.add_category({"es": "Pagos"}, billing.id, EDITOR)
    assert {c.id: c.parent_id for c in kb.categories()} == {billing.id: None, child.id: billing.id}
    with pytest.raises(DuplicateCategory):
        kb.add_category({"es": "facturación"}, None, EDITOR)
    with pytest.raises(CategoryNotFound):
        kb.add_category({"es": "Huérfana"}, article_id("nothing"), EDITOR)
    nowhere = article_id("nothing")
    with pytest.raises(CategoryNotFound):
        kb.create("x", {"es": {"title": "X", "body": "x"}}, EDITOR, category_id=nowhere)
    assert len(kb.categories()) == 2


def test_an_import_run_again_creates_nothing_twice_and_says_so(atende, tmp_path):
    first = import_articles(atende.kb, EXAMPLES)
    again = import_articles(atende.kb, EXAMPLES)
    assert (len(first.created), again.created, len(again.existing)) == (9, [], 9)


def test_an_import_refuses_bad_lines_and_keeps_the_good_ones(atende, tmp_path):
    source = tmp_path / "faq.jsonl"
    good = {"slug": "bueno", "translations": {"es": {"title": "Bueno", "body": "sí"}}}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"slug": "Mal Slug", "translations": {"es": {"title": "x", "body": "y"}}}),
        json.dumps({"slug": "frances", "translations": {"fr": {"title": "x", "body": "y"}}}),
        json.dumps({**good, "slug": "estado", "state": "hidden"}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_articles(atende.kb, source)
    assert report.created == ["bueno"]
    assert [where for where, _ in report.refused] == [f"faq.jsonl:{n}" for n in (2, 3, 4, 5)]


def test_a_markdown_folder_imports_one_article_per_folder(atende, tmp_path):
    page = tmp_path / "faq" / "router-luces"
    page.mkdir(parents=True)
    (page / "es.md").write_text("# Luces del router\n\nLa luz **roja** indica...\n", "utf-8")
    (page / "pt.md").write_text("# Luzes do roteador\n\nA luz vermelha indica...\n", "utf-8")
    assert import_articles(atende.kb, tmp_path / "faq").created == ["router-luces"]
    article = atende.kb.published("router-luces")
    assert article.translations["pt"].title == "Luzes do roteador"
    assert article.translations["es"].body == "La luz **roja** indica..."


def test_visitors_answers_are_counted_per_article_and_never_move_its_version(examples):
    kb = examples.kb
    article = kb.published("pagar-factura")
    for helpful in (True, True, False):
        kb.give_feedback("pagar-factura", helpful)
    catch_up(examples)
    [row] = [r for r in examples.views.kb.article_report() if r["slug"] == "pagar-factura"]
    assert (row["helpful"], row["not_helpful"]) == (2, 1)
    assert kb.get(article.id).version == article.version
    live = examples.views.kb.rows()
    rebuild(examples, "kb")
    assert examples.views.kb.rows() == live


def test_feedback_on_a_draft_or_unknown_article_is_not_found_and_stores_nothing(examples):
    head = examples.tickets.head_position()
    for slug in ("factura-detallada", "tarifas-antiguas", "no-existe", "../x"):
        with pytest.raises(ArticleNotFound):
            examples.kb.give_feedback(slug, True)
    assert examples.tickets.head_position() == head


def test_replies_citing_articles_record_them_and_the_report_counts_each_citing_ticket_once(
    examples,
):
    commands = TicketCommands(examples.tickets, examples.kb)
    cited = examples.kb.published("pagar-factura").id
    first, second = open_ticket(examples).ticket, open_ticket(examples).ticket
    for ticket in (first, first, second):
        commands.add_message(
            ticket.id, body="Vea este artículo", author_type="agent", visibility="public",
            articles=[cited], actor=AGENT,
        )  # fmt: skip
    stored = examples.tickets.get_ticket(first.id).messages[-1]
    assert stored["articles"] == [str(cited)]
    catch_up(examples)
    [row] = [r for r in examples.views.kb.article_report() if r["slug"] == "pagar-factura"]
    assert row["cited_by_tickets"] == 2
    live = examples.views.kb.rows()
    rebuild(examples, "kb")
    assert examples.views.kb.rows() == live


@pytest.mark.parametrize(
    ("slug", "refusal"),
    [("factura-detallada", ArticleStateConflict), ("tarifas-antiguas", ArticleStateConflict)],
)
def test_a_reply_may_not_cite_a_draft_or_archived_article_and_stores_nothing(
    examples, slug, refusal
):
    commands = TicketCommands(examples.tickets, examples.kb)
    ticket = open_ticket(examples).ticket
    head = examples.tickets.head_position()
    with pytest.raises(refusal):
        commands.add_message(
            ticket.id, body="x", author_type="agent", visibility="public",
            articles=[article_id(slug)], actor=AGENT,
        )  # fmt: skip
    with pytest.raises(ArticleNotFound):
        commands.add_message(
            ticket.id, body="x", author_type="agent", visibility="public",
            articles=[article_id("no-existe")], actor=AGENT,
        )  # fmt: skip
    assert examples.tickets.head_position() == head


def test_help_centre_counts_become_an_event_the_report_shows_and_a_rebuild_keeps(examples):
    usage = HelpCentreUsage(examples.kb.record_usage)
    article = str(examples.kb.published("pagar-factura").id)
    usage.viewed(article)
    usage.viewed(article)
    usage.searched("factura", "es", found=3)
    for _ in range(2):
        usage.searched("Mi pedido 12345 de ana@mail.example NO llegó", "es", found=0)
    for _ in range(3):
        usage.suggested()
    suggestion = uuid4()
    open_ticket(examples, kb_suggestion_id=suggestion)
    open_ticket(examples, kb_suggestion_id=suggestion)  # the same suggestion counts once
    assert usage.flush() is True
    assert usage.flush() is False  # nothing new: no event
    catch_up(examples)
    report = examples.views.kb.usage_report(10)
    assert report == {
        "searches": 3,
        "suggestions_shown": 3,
        "suggestions_followed": 1,
        "unanswered": [{"query": "mi pedido de no llego", "language": "es", "searches": 2}],
    }
    [row] = [r for r in examples.views.kb.article_report() if r["slug"] == "pagar-factura"]
    assert row["views"] == 2
    live = examples.views.kb.rows()
    rebuild(examples, "kb")
    assert examples.views.kb.rows() == live


def test_counts_the_store_refused_are_kept_for_the_next_flush(examples):
    refusals = []

    def record(counted):
        if not refusals:
            refusals.append(counted)
            raise OSError("database away")
        examples.kb.record_usage(counted)

    usage = HelpCentreUsage(record)
    usage.searched("wifi", "es", found=0)
    assert usage.flush() is False
    usage.searched("wifi", "es", found=0)
    assert usage.flush() is True
    catch_up(examples)
    assert examples.views.kb.usage_report(10)["unanswered"] == [
        {"query": "wifi", "language": "es", "searches": 2}
    ]
