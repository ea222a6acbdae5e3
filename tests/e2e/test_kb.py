"""The knowledge base through the real server: editors write, translate, publish and
archive articles over HTTP; the public help centre (no token) finds published ones by
words without accents or endings, answers 304 to a matching ETag and renders Markdown
safely; a ticket gets suggestions; ``atende kb import`` loads the example set. Every bad
input is a problem naming the field, with nothing stored."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.catalogue_check import assert_feed_matches_catalogue
from tests.databases import BACKENDS
from tests.e2e.api import Api, ticket_body
from tests.e2e.drills import eventually
from tests.e2e.problems import assert_problem, head
from tests.e2e.server import BIN, Server, running_server

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples" / "kb-articles.jsonl"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def marker() -> str:
    """A word no other article has, so searches see only this test's articles."""
    return "zx" + uuid.uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))


@pytest.fixture
def editor(api_as) -> Api:
    return api_as("agent")


@pytest.fixture
def public(server: Server) -> Api:
    return Api(server.base_url, None)


def write(editor: Api, slug: str, translations: dict, **extra) -> dict:
    answer = editor.post("/v1/kb/articles", {"slug": slug, "translations": translations, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def published(editor: Api, slug: str, translations: dict, **extra) -> dict:
    article = write(editor, slug, translations, **extra)
    answer = editor.post(f"/v1/kb/articles/{article['id']}/publish", {})
    assert answer.status_code == 200, answer.text
    return answer.json()


def search(public: Api, q: str, lang: str, path: str = "search") -> list[dict]:
    answer = public.get(f"/v1/public/kb/{path}", params={"q": q, "lang": lang})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def found(public: Api, q: str, lang: str, slug: str) -> list[dict]:
    return eventually(
        lambda: [h for h in search(public, q, lang) if h["slug"] == slug],
        f"{q!r} finds {slug}",
    )


def test_a_published_article_is_found_by_customers_without_accents_or_word_endings(
    editor, public
):
    word, slug = marker(), unique("facturacion")
    article = published(
        editor,
        slug,
        {
            "es": {"title": f"Atención de facturas {word}", "body": "Pague la factura en línea."},
            "pt": {"title": f"Cobrança {word}", "body": "Pague a cobrança pelo aplicativo."},
        },
    )
    assert article["state"] == "published" and article["version"] == 2
    [hit] = found(public, f"atencion factura {word}", "es", slug)
    assert hit["id"] == article["id"] and "<mark>" in hit["snippet"]
    assert found(public, f"cobranca {word}", "pt", slug)
    read = public.get(f"/v1/public/kb/articles/{slug}", params={"lang": "pt"})
    assert read.status_code == 200 and read.json()["title"] == f"Cobrança {word}"
    assert read.headers["Content-Language"] == "pt"
    assert "public" in read.headers["Cache-Control"]


def test_a_draft_or_archived_article_is_not_on_the_public_side(editor, public):
    word, slug = marker(), unique("borrador")
    draft = write(editor, slug, {"es": {"title": f"Borrador {word}", "body": "..."}})
    assert public.get(f"/v1/public/kb/articles/{slug}").status_code == 404
    editor.post(f"/v1/kb/articles/{draft['id']}/publish", {})
    found(public, word, "es", slug)
    archived = editor.post(f"/v1/kb/articles/{draft['id']}/archive", {})
    assert archived.status_code == 200 and archived.json()["state"] == "archived"
    assert public.get(f"/v1/public/kb/articles/{slug}").status_code == 404
    eventually(lambda: search(public, word, "es") == [], "the archived article leaves search")


def test_a_public_answer_the_client_has_is_a_304_without_a_body(editor, public):
    slug = unique("cache")
    published(editor, slug, {"es": {"title": "Caché", "body": "Texto."}})
    first = public.get(f"/v1/public/kb/articles/{slug}")
    etag = first.headers["ETag"]
    again = public.get(f"/v1/public/kb/articles/{slug}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    changed = public.get(f"/v1/public/kb/articles/{slug}", headers={"If-None-Match": '"x"'})
    assert changed.status_code == 200 and changed.json()["slug"] == slug


def test_script_and_html_in_markdown_are_stored_as_written_and_shown_as_text(editor, public):
    slug = unique("hostil")
    body = (
        "<script>alert(1)</script>\n\n[clic](javascript:alert(2)) "
        '<img src=x onerror="alert(3)"> **negrita**'
    )
    article = published(editor, slug, {"es": {"title": "<b>Hostil</b>", "body": body}})
    assert article["body"] == body  # stored as the editor wrote it
    public_html = public.get(f"/v1/public/kb/articles/{slug}").json()["body_html"]
    for shown in (article["body_html"], public_html):
        assert "<script" not in shown and "<img" not in shown
        assert "href=" not in shown  # the javascript: link stays text
        assert "&lt;script&gt;" in shown and "<strong>negrita</strong>" in shown


def test_an_edit_needs_the_current_etag_and_a_stale_one_changes_nothing(editor):
    article = write(editor, unique("etag"), {"es": {"title": "Uno", "body": "uno"}})
    path = f"/v1/kb/articles/{article['id']}"
    change = {"translations": {"en": {"title": "One", "body": "one"}}}
    put = editor.session.put
    fresh = put(editor.base_url + path, json=change, headers={"If-Match": '"1"'}, timeout=30)
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"2"'
    stale = put(editor.base_url + path, json={"tags": ["x"]}, headers={"If-Match": '"1"'},
                timeout=30)  # fmt: skip
    assert_problem(stale, 412)
    now = editor.get(path, params={"lang": "en"}).json()
    assert (now["version"], now["tags"], now["title"]) == (2, [], "One")
    source = put(editor.base_url + path, json={"translations": {"es": {"title": "Uno",
                 "body": "uno, dos"}}}, timeout=30)  # fmt: skip
    assert source.json()["translations"]["en"]["outdated"] is True


def test_an_article_reads_as_it_was_before_an_edit(editor):
    article = write(editor, unique("asof"), {"es": {"title": "Antes", "body": "antes"}})
    path = f"/v1/kb/articles/{article['id']}"
    put = editor.session.put(editor.base_url + path, json={"translations": {"es": {
        "title": "Después", "body": "después"}}}, timeout=30)  # fmt: skip
    assert put.status_code == 200
    before = editor.get(path, params={"as_of": article["updated_at"]}).json()
    assert before["title"] == "Antes" and before["as_of"]
    history = editor.get(f"{path}/history").json()["events"]
    assert [e["type"] for e in history] == ["created", "translation_put"]


@pytest.mark.parametrize("q", ["", "a", " ", "!!", "x" * 201])
def test_a_search_without_two_characters_of_words_is_a_422_naming_q(public, q):
    assert_problem(public.get("/v1/public/kb/search", params={"q": q, "lang": "es"}), 422, "q")


@pytest.mark.parametrize("lang", ["fr", "xx", "ES", "es-419", ""])
def test_a_search_in_a_language_not_configured_is_a_422_naming_lang(public, lang):
    answer = public.get("/v1/public/kb/search", params={"q": "factura", "lang": lang})
    assert_problem(answer, 422, "lang")


def test_a_slug_in_use_is_a_409_and_the_first_article_is_unchanged(editor, auditor):
    slug = unique("doble")
    first = write(editor, slug, {"es": {"title": "Primero", "body": "uno"}})
    before = head(auditor)
    again = editor.post(
        "/v1/kb/articles", {"slug": slug, "translations": {"es": {"title": "Otro", "body": "x"}}}
    )
    assert assert_problem(again, 409)["slug"] == slug
    assert head(auditor) == before
    assert editor.get(f"/v1/kb/articles/{first['id']}").json()["title"] == "Primero"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"translations": {"fr": {"title": "Facture", "body": "x"}}}, "translations"),
        ({"translations": {}}, "translations"),
        ({"translations": {"es": {"title": "", "body": "x"}}}, "translations.es.value.title"),
        ({"slug": "Con Espacios"}, "slug"),
        ({"slug": "a--b"}, "slug"),
        ({"slug": "x" * 121}, "slug"),
        ({"tags": ["ok", "no space"]}, "tags.1"),
    ],
)
def test_a_bad_article_is_a_422_naming_the_field_and_stores_nothing(
    editor, auditor, body, field
):
    article = {"slug": unique("malo"), "translations": {"es": {"title": "T", "body": "b"}}}
    before = head(auditor)
    assert_problem(editor.post("/v1/kb/articles", {**article, **body}), 422, field)
    assert head(auditor) == before


def test_only_editors_write_and_every_token_reads(api_as, editor):
    article = write(editor, unique("roles"), {"es": {"title": "Roles", "body": "x"}})
    body = {"slug": unique("no"), "translations": {"es": {"title": "T", "body": "b"}}}
    for role in ("integrator", "auditor", "analyst"):
        assert_problem(api_as(role).post("/v1/kb/articles", body), 403)
        assert api_as(role).get(f"/v1/kb/articles/{article['id']}").status_code == 200
    assert_problem(api_as(None).get(f"/v1/kb/articles/{article['id']}"), 401)


def test_categories_make_a_tree_and_a_sibling_name_twice_is_a_409(editor):
    top = editor.post("/v1/kb/categories", {"names": {"es": unique("Pagos")}})
    assert top.status_code == 201, top.text
    child = editor.post(
        "/v1/kb/categories", {"names": {"es": "Tarjetas"}, "parent_id": top.json()["id"]}
    )
    assert child.status_code == 201 and child.json()["parent_id"] == top.json()["id"]
    again = editor.post("/v1/kb/categories", {"names": top.json()["names"]})
    assert assert_problem(again, 409)["category_id"] == top.json()["id"]
    nowhere = str(uuid.uuid4())
    orphan = editor.post("/v1/kb/categories", {"names": {"es": "X"}, "parent_id": nowhere})
    assert_problem(orphan, 404)
    no_category = {"slug": unique("sin"), "translations": {"es": {"title": "T", "body": "b"}},
                   "category_id": nowhere}  # fmt: skip
    assert_problem(editor.post("/v1/kb/articles", no_category), 404)
    assert_problem(editor.post("/v1/kb/categories", {"names": {"fr": "X"}}), 422, "names")
    listed = {c["id"] for c in editor.get("/v1/kb/categories").json()["items"]}
    assert {top.json()["id"], child.json()["id"]} <= listed


def test_a_ticket_gets_published_articles_in_its_language_as_suggestions(api, editor):
    word, slug = marker(), unique("sugerencia")
    published(editor, slug, {"es": {"title": f"Módem sin señal {word}", "body": "Reinicie."}})
    ticket = api.open_ticket(subject=f"Mi modem no tiene senal {word}", language="es")

    def suggested() -> list[str]:
        answer = api.get(f"/v1/tickets/{ticket['id']}/suggestions")
        return [hit["slug"] for hit in answer.json()["items"]]

    # Once the view has the article, it comes first: it shares the most words.
    assert eventually(lambda: slug in suggested() and suggested(), "the article")[0] == slug
    typed = search(api, f"senal {word} hoy", "es", path="suggest")
    assert typed[0]["slug"] == slug


def test_the_example_set_imports_through_the_cli_once(server: Server, public):
    run = [str(BIN / "atende"), "kb", "import", str(EXAMPLES)]
    first = subprocess.run(run, env=server.env, capture_output=True, text=True, check=False)
    again = subprocess.run(run, env=server.env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "9 articles imported" in first.stdout or "already there" in first.stdout
    assert "0 articles imported, 9 already there" in again.stdout
    assert found(public, "cobranca", "pt", "pagar-factura")


def test_visitors_say_whether_an_article_helped_and_the_report_counts_it(editor, public, api_as):
    slug = unique("util")
    article = published(editor, slug, {"es": {"title": "Útil", "body": "Texto."}})
    for helpful in (True, False, True):
        answer = public.post(f"/v1/public/kb/articles/{slug}/feedback", {"helpful": helpful})
        assert answer.status_code == 202 and answer.json() == {"slug": slug, "helpful": helpful}
    analyst = api_as("analyst")

    def counted() -> dict | None:
        rows = analyst.get("/v1/reports/kb").json()["items"]
        row = next((r for r in rows if r["slug"] == slug), None)
        return row if row and row["helpful"] + row["not_helpful"] == 3 else None

    row = eventually(counted, "three answers counted")
    assert (row["helpful"], row["not_helpful"], row["helpful_rate"]) == (2, 1, 0.6667)
    assert editor.get(f"/v1/kb/articles/{article['id']}").json()["version"] == 2
    assert_problem(api_as("agent").get("/v1/reports/kb"), 403)


@pytest.mark.parametrize("body", [{}, {"helpful": "yes"}, {"helpful": 1}, {"helpful": None}])
def test_a_bad_feedback_body_is_a_422_naming_helpful(editor, public, auditor, body):
    slug = unique("fb")
    published(editor, slug, {"es": {"title": "T", "body": "b"}})
    before = head(auditor)
    assert_problem(public.post(f"/v1/public/kb/articles/{slug}/feedback", body), 422, "helpful")
    assert head(auditor) == before


def test_feedback_on_a_draft_is_a_404(editor, public, auditor):
    slug = unique("borr")
    write(editor, slug, {"es": {"title": "T", "body": "b"}})
    before = head(auditor)
    answer = public.post(f"/v1/public/kb/articles/{slug}/feedback", {"helpful": True})
    assert_problem(answer, 404)
    assert head(auditor) == before


# Citations, counts and deflection (issue 23, item 6)


def kb_report(analyst: Api) -> dict:
    answer = analyst.get("/v1/reports/kb")
    assert answer.status_code == 200, answer.text
    return answer.json()


def article_row(report: dict, slug: str) -> dict | None:
    return next((r for r in report["items"] if r["slug"] == slug), None)


def test_a_reply_cites_published_articles_and_the_report_counts_the_citing_ticket(
    api, editor, api_as
):
    slug = unique("citada")
    article = published(editor, slug, {"es": {"title": "Citada", "body": "Texto."}})
    ticket = api.open_ticket()
    body = {"body": "Vea el artículo", "author_type": "agent", "visibility": "public"}
    answer = editor.command(ticket["id"], "messages", {**body, "articles": [article["id"]] * 2})
    assert answer.status_code == 200, answer.text
    assert answer.json()["messages"][-1]["articles"] == [article["id"]]
    history = api.get(f"/v1/tickets/{ticket['id']}/history").json()["events"]
    assert history[-1]["type"] == "message_added" and history[-1]["schema_version"] == 3
    assert history[-1]["data"]["articles"] == [article["id"]]

    def cited() -> dict | None:
        row = article_row(kb_report(api_as("analyst")), slug)
        return row if row and row["cited_by_tickets"] == 1 else None

    assert eventually(cited, "the citing ticket counted")


@pytest.mark.parametrize(
    "articles",
    [
        "not-a-list",
        ["not-a-uuid"],
        [None],
        [str(uuid.uuid4()) for _ in range(11)],
    ],
)
def test_a_bad_articles_list_is_a_422_naming_articles_and_stores_nothing(
    api, auditor, articles
):
    ticket = api.open_ticket()
    before = head(auditor)
    body = {"body": "x", "author_type": "agent", "visibility": "public", "articles": articles}
    problem = assert_problem(api.command(ticket["id"], "messages", body), 422)
    # The list itself, or the member at fault ("articles.0").
    assert all(name.split(".")[0] == "articles" for name in problem["errors"]), problem
    assert head(auditor) == before


def test_citing_an_unknown_article_is_a_404_and_a_draft_a_409_storing_nothing(
    api, editor, auditor
):
    draft = write(editor, unique("borrador"), {"es": {"title": "T", "body": "b"}})
    ticket = api.open_ticket()
    before = head(auditor)
    body = {"body": "x", "author_type": "agent", "visibility": "public"}
    unknown = api.command(ticket["id"], "messages", {**body, "articles": [str(uuid.uuid4())]})
    assert_problem(unknown, 404)
    assert_problem(api.command(ticket["id"], "messages", {**body, "articles": [draft["id"]]}), 409)
    assert head(auditor) == before


@pytest.fixture(scope="module", params=BACKENDS)
def counting_server(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Server]:
    """A server whose workers record the help centre's counts every second (the shared
    one records them only as it stops, so no test's head moves under it)."""
    directory = tmp_path_factory.mktemp(f"kb-usage-{request.param}")
    env = {"ATENDE_KB_USAGE_INTERVAL": "1s"}
    with running_server(request.param, directory, env=env) as server:
        yield server
        # Its kb_usage.counted events are as the event catalogue says.
        assert_feed_matches_catalogue(server.base_url, server.create_token("auditor", "cat"))


def test_help_centre_reads_unanswered_searches_and_deflection_reach_the_report(
    counting_server: Server,
):
    def api_as(role: str) -> Api:
        return Api(counting_server.base_url, counting_server.create_token(role, f"kb-{role}"))

    api, editor, analyst = api_as("integrator"), api_as("agent"), api_as("analyst")
    public = Api(counting_server.base_url, None)
    word, slug = marker(), unique("leida")
    published(editor, slug, {"es": {"title": f"Leída {word}", "body": "Texto."}})
    before = kb_report(analyst)
    for _ in range(2):
        assert public.get(f"/v1/public/kb/articles/{slug}").status_code == 200
    gap = marker()
    typed = f"{gap} pedido 4455-1234 ana@mail.example"
    assert search(public, typed, "es") == []
    shown = eventually(
        lambda: (a := public.get("/v1/public/kb/suggest", params={"q": word, "lang": "es"}))
        and a.json()["items"] and a,
        "a suggestion shown",
    )
    assert shown.headers["Cache-Control"] == "no-store"
    suggestion = shown.json()["suggestion_id"]
    assert suggestion
    public.get("/v1/public/kb/suggest", params={"q": word, "lang": "es"})  # deflected
    api.open_ticket(kb_suggestion_id=suggestion)
    nothing = public.get("/v1/public/kb/suggest", params={"q": marker(), "lang": "es"})
    assert nothing.json() == {"items": [], "suggestion_id": None}

    def counted() -> dict | None:
        report = kb_report(analyst)
        row = article_row(report, slug)
        gaps = [g for g in report["unanswered"] if g["query"].startswith(gap)]
        grown = report["suggestions"]["shown"] - before["suggestions"]["shown"]
        followed = (
            report["suggestions"]["followed_by_ticket"]
            - before["suggestions"]["followed_by_ticket"]
        )
        done = row and row["views"] == 2 and gaps and grown >= 2 and followed == 1
        return (report, gaps) if done else None

    report, gaps = eventually(counted, "the counts recorded and projected")
    # Words with digits or @ are never kept: only what describes the gap.
    assert gaps == [{"query": f"{gap} pedido", "language": "es", "searches": 1}]
    assert report["searches"] > before["searches"]
    suggestions = report["suggestions"]
    assert suggestions["deflected"] == suggestions["shown"] - suggestions["followed_by_ticket"]


def test_a_kb_suggestion_id_that_is_not_a_uuid_is_a_422_naming_it(api, auditor):
    before = head(auditor)
    answer = api.post("/v1/tickets", ticket_body(kb_suggestion_id="shown-twice"))
    assert_problem(answer, 422, "kb_suggestion_id")
    assert head(auditor) == before


def test_a_stopping_worker_records_the_counts_it_had_not_yet(tmp_path):
    """With a flush an hour away, only gunicorn's worker_exit hook records the reads."""
    directory = tmp_path / "kb-usage"
    directory.mkdir()
    env = {"ATENDE_KB_USAGE_INTERVAL": "1h"}
    with running_server("sqlite", directory, workers=1, env=env) as server:
        editor = Api(server.base_url, server.create_token("agent", "kb-editor"))
        slug = unique("ultima")
        published(editor, slug, {"es": {"title": "Última", "body": "Texto."}})
        visitor = Api(server.base_url, None)
        for _ in range(3):
            assert visitor.get(f"/v1/public/kb/articles/{slug}").status_code == 200
        server.stop()
        server.start(workers=1)
        analyst = Api(server.base_url, server.create_token("analyst", "kb-analyst"))

        def viewed() -> dict | None:
            rows = analyst.get("/v1/reports/kb").json()["items"]
            row = next((r for r in rows if r["slug"] == slug), None)
            return row if row and row["views"] == 3 else None

        assert eventually(viewed, "the stopped worker's reads")
