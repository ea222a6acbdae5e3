"""Knowledge-base routes (issue 23).

Editors (admins, supervisors, agents) write categories and articles; every token
holder reads them. Articles are read from the log: an edit is visible at once, and
``?as_of=`` shows any past version. Search and suggestions read the ``kb`` view.

The public help centre (no token: ``/v1/public/kb/...``) shows published articles
only. Its answers carry an ``ETag`` and ``Cache-Control: public``, and answer 304 to a
matching ``If-None-Match``; like every public route they spend the client address's
budget (ATENDE_PUBLIC_RATE_LIMIT).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import falcon

from application.kb import ArticleChange, KnowledgeBase
from application.ports import ReadsTickets
from domain.kb.article import Article
from infrastructure.markdown import to_html
from infrastructure.search_text import highlight
from interface.http.errors import validation_problem
from interface.http.hooks import expected_version, validate_body
from interface.http.kb_usage import HelpCentreUsage
from interface.http.middleware.auth import TICKET_READERS, allow
from interface.http.openapi.operation import PUBLIC, Operation, Operations
from interface.http.resources.reports import REPORT_READERS
from interface.http.schemas.common import EmptyIn
from interface.http.schemas.events import EventOut
from interface.http.schemas.kb import (
    UNANSWERED_SHOWN,
    ArticleChangeIn,
    ArticleHistoryOut,
    ArticleIn,
    ArticleOut,
    ArticleReadQueryIn,
    FeedbackIn,
    FeedbackOut,
    KbCategoryIn,
    KbCategoryListOut,
    KbCategoryOut,
    KbReportOut,
    PublicArticleOut,
    PublicArticleQueryIn,
    SearchOut,
    SearchQueryIn,
    SuggestionQueryIn,
    SuggestOut,
)
from projections.kb import KbView, SearchHit

EDITORS = ("admin", "supervisor", "agent")
READERS = ("admin", "supervisor", "agent", "integrator", "auditor", "analyst")
ARTICLE = "/v1/kb/articles/{article_id:uuid}"
# How long a shared cache may keep a public answer: an edit shows within a minute.
PUBLIC_MAX_AGE = 60

_CATEGORY_OUT = KbCategoryOut()
_ARTICLE_OUT = ArticleOut()
_PUBLIC_OUT = PublicArticleOut()
_HISTORY_OUT = EventOut(exclude=("position",), many=True)
_READ_QUERY = ArticleReadQueryIn()
_PUBLIC_QUERY = PublicArticleQueryIn()
_SEARCH_QUERY = SearchQueryIn()
_SUGGESTION_QUERY = SuggestionQueryIn()


def _language(wanted: str | None, languages: Collection[str], field: str = "lang") -> str | None:
    if wanted is not None and wanted not in languages:
        raise validation_problem(
            {field: [f"Not a configured language (configured: {', '.join(languages)})."]}
        )
    return wanted


def article_document(article: Article, wanted: str | None = None) -> dict[str, Any]:
    language = article.shown_language(wanted)
    shown = article.translations[language]
    document = {
        "id": article.id,
        "slug": article.slug,
        "state": article.state,
        "version": article.version,
        "source_language": article.source_language,
        "category_id": article.category_id,
        "tags": article.tags,
        "author": article.author,
        "translations": {
            code: {"title": t.title, "body": t.body, "outdated": article.outdated(code)}
            for code, t in sorted(article.translations.items())
        },
        "language": language,
        "title": shown.title,
        "body": shown.body,
        "body_html": to_html(shown.body),
        "created_at": article.created_on,
        "updated_at": article.modified_on,
    }
    return _ARTICLE_OUT.dump(document)


def _render_article(resp: falcon.Response, article: Article, wanted: str | None, status=200):
    resp.status = status
    resp.media = article_document(article, wanted)
    resp.etag = str(article.version)
    if status == 201:
        resp.location = f"/v1/kb/articles/{article.id}"


def _hits(hits: list[SearchHit], query: str) -> dict[str, Any]:
    return SearchOut().dump(
        {
            "items": [
                {
                    "id": hit.article_id,
                    "slug": hit.slug,
                    "language": hit.language,
                    "title": hit.title,
                    "snippet": highlight(hit.body, query, hit.language),
                    "score": round(hit.score, 6),
                }
                for hit in hits
            ]
        }
    )


def _public(req: falcon.Request, resp: falcon.Response, media: dict[str, Any]) -> None:
    """Cacheable by anyone: an ETag of the answer itself, 304 when the client has it."""
    body = json.dumps(media, sort_keys=True, default=str).encode()
    etag = hashlib.sha256(body).hexdigest()[:32]
    resp.etag = etag
    resp.cache_control = ["public", f"max-age={PUBLIC_MAX_AGE}"]
    if req.if_none_match and any(tag == etag for tag in req.if_none_match):
        resp.status = falcon.HTTP_304
        return
    resp.media = media


class _Kb:
    def __init__(self, *, kb: KnowledgeBase, view: KbView, languages: Collection[str]):
        self.kb = kb
        self.view = view
        self.languages = tuple(languages)


class CategoryCollection(_Kb):
    schema = KbCategoryIn()

    @falcon.before(allow(*EDITORS))
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        category = self.kb.add_category(body["names"], body["parent_id"], req.context.actor)
        resp.status = falcon.HTTP_201
        resp.media = _CATEGORY_OUT.dump(category)

    @falcon.before(allow(*READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"items": [_CATEGORY_OUT.dump(c) for c in self.kb.categories()]}


class ArticleCollection(_Kb):
    schema = ArticleIn()

    @falcon.before(allow(*EDITORS))
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        article = self.kb.create(
            body["slug"],
            body["translations"],
            req.context.actor,
            category_id=body["category_id"],
            tags=body["tags"],
        )
        _render_article(resp, article, None, status=201)


class ArticleItem(_Kb):
    schema = ArticleChangeIn()

    @falcon.before(allow(*READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, article_id: UUID) -> None:
        query = _READ_QUERY.load(req.params)
        wanted = _language(query.get("lang"), self.languages)
        at: datetime | None = query.get("as_of")
        _render_article(resp, self.kb.get(article_id, at), wanted)
        if at is not None:
            resp.media["as_of"] = at.isoformat()

    @falcon.before(allow(*EDITORS))
    @falcon.before(validate_body)
    def on_put(self, req: falcon.Request, resp: falcon.Response, article_id: UUID) -> None:
        body = req.context.body
        change = ArticleChange(
            translations=body.get("translations"),
            category_id=body.get("category_id"),
            category_given="category_id" in body,
            tags=body.get("tags"),
        )
        article = self.kb.change(article_id, change, req.context.actor, expected_version(req))
        _render_article(resp, article, None)


class ArticleTransition(_Kb):
    schema = EmptyIn()

    def __init__(self, *, publish: bool, **kwargs: Any):
        super().__init__(**kwargs)
        self.publish = publish

    @falcon.before(allow(*EDITORS))
    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response, article_id: UUID) -> None:
        move = self.kb.publish if self.publish else self.kb.archive
        _render_article(resp, move(article_id, req.context.actor), None)


class ArticleHistory(_Kb):
    @falcon.before(allow(*READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, article_id: UUID) -> None:
        events = self.kb.history(article_id)
        resp.media = {"article_id": str(article_id), "events": _HISTORY_OUT.dump(events)}


class _Counted(_Kb):
    """A public route whose use the help centre's report counts (kb_usage.py)."""

    def __init__(self, *, usage: HelpCentreUsage, **kwargs: Any):
        super().__init__(**kwargs)
        self.usage = usage


class PublicSearch(_Counted):
    """Every word must match; counted (searches, and the unanswered ones' queries)."""

    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _SEARCH_QUERY.load(req.params)
        language = str(_language(query["lang"], self.languages))
        hits = self.view.search(query["q"], language, limit=query["limit"])
        self.usage.searched(query["q"], language, len(hits))
        _public(req, resp, _hits(hits, query["q"]))


class PublicSuggest(_Counted):
    """Any word may match: what a customer types on a contact form. An answer that shows
    articles has a ``suggestion_id`` for the form to send with the ticket it opens anyway
    (``kb_suggestion_id``), which is how the report tells deflected suggestions from
    the rest. Not counted as searches: typing as-you-go would count every prefix."""

    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = _SEARCH_QUERY.load(req.params)
        language = str(_language(query["lang"], self.languages))
        hits = self.view.search(query["q"], language, limit=query["limit"], any_word=True)
        media = _hits(hits, query["q"])
        media["suggestion_id"] = None
        if hits:
            self.usage.suggested()
            media["suggestion_id"] = str(uuid4())
        resp.media = media
        # Each answer with articles is one suggestion shown, with its own id: no cache.
        resp.cache_control = ["no-store"]


class PublicArticle(_Counted):
    public = True

    def on_get(self, req: falcon.Request, resp: falcon.Response, slug: str) -> None:
        query = _PUBLIC_QUERY.load(req.params)
        wanted = _language(query.get("lang"), self.languages)
        article = self.kb.published(slug)
        # A 304 is a read too; a shared cache's hits never reach Atende to be counted.
        self.usage.viewed(str(article.id))
        language = article.shown_language(wanted)
        shown = article.translations[language]
        media = _PUBLIC_OUT.dump(
            {
                "slug": article.slug,
                "language": language,
                "title": shown.title,
                "body_html": to_html(shown.body),
                "category_id": article.category_id,
                "tags": article.tags,
                "updated_at": article.modified_on,
            }
        )
        resp.set_header("Content-Language", language)
        _public(req, resp, media)


class PublicFeedback(_Kb):
    """``POST {helpful}``: a visitor's answer about a published article, recorded as an
    event of its own (never the article's: its ETag stays as editors left it)."""

    public = True
    schema = FeedbackIn()

    @falcon.before(validate_body)
    def on_post(self, req: falcon.Request, resp: falcon.Response, slug: str) -> None:
        helpful = req.context.body["helpful"]
        article = self.kb.give_feedback(slug, helpful)
        resp.status = falcon.HTTP_202
        resp.media = FeedbackOut().dump({"slug": article.slug, "helpful": helpful})
        resp.cache_control = ["no-store"]


class KbReport(_Kb):
    """Per article, what visitors answered, how often it was read and cited; the
    searches that found nothing; how many suggestions deflected a ticket (the ``kb``
    view)."""

    @falcon.before(allow(*REPORT_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        items = []
        for row in self.view.article_report():
            answers = row["helpful"] + row["not_helpful"]
            rate = round(row["helpful"] / answers, 4) if answers else None
            items.append({**row, "helpful_rate": rate})
        usage = self.view.usage_report(UNANSWERED_SHOWN)
        shown, followed = usage["suggestions_shown"], usage["suggestions_followed"]
        # A ticket can name a suggestion this report never counted as shown (a worker
        # killed before it recorded its counts): never report fewer than none deflected.
        deflected = max(shown - followed, 0)
        resp.media = KbReportOut().dump(
            {
                "items": items,
                "searches": usage["searches"],
                "unanswered": usage["unanswered"],
                "suggestions": {
                    "shown": shown,
                    "followed_by_ticket": followed,
                    "deflected": deflected,
                    "deflection_rate": round(deflected / shown, 4) if shown else None,
                },
            }
        )


class TicketSuggestions(_Kb):
    """Published articles in the ticket's language, ranked against its subject,
    description and latest customer message."""

    def __init__(self, *, tickets: ReadsTickets, **kwargs: Any):
        super().__init__(**kwargs)
        self.tickets = tickets

    @falcon.before(allow(*TICKET_READERS))
    def on_get(self, req: falcon.Request, resp: falcon.Response, ticket_id: UUID) -> None:
        query = _SUGGESTION_QUERY.load(req.params)
        ticket = self.tickets.get_ticket(ticket_id)
        language = (ticket.language or "").split("-")[0].lower()
        if language not in self.languages:
            resp.media = {"items": []}
            return
        texts = [ticket.subject.text, ticket.description.text]
        from_customer = [m for m in ticket.messages if m["author_type"] == "customer"]
        if from_customer:
            texts.append(from_customer[-1]["body"].text)
        words = " ".join(texts)
        hits = self.view.search(words, language, limit=query["limit"], any_word=True)
        resp.media = _hits(hits, words)


def add_kb_routes(
    app: falcon.App,
    *,
    kb: KnowledgeBase,
    view: KbView,
    languages: Collection[str],
    tickets: ReadsTickets,
    usage: HelpCentreUsage,
) -> None:
    shared = {"kb": kb, "view": view, "languages": languages}
    app.add_route("/v1/kb/categories", CategoryCollection(**shared))
    app.add_route("/v1/kb/articles", ArticleCollection(**shared))
    app.add_route(ARTICLE, ArticleItem(**shared))
    app.add_route(f"{ARTICLE}/publish", ArticleTransition(publish=True, **shared))
    app.add_route(f"{ARTICLE}/archive", ArticleTransition(publish=False, **shared))
    app.add_route(f"{ARTICLE}/history", ArticleHistory(**shared))
    app.add_route("/v1/public/kb/search", PublicSearch(usage=usage, **shared))
    app.add_route("/v1/public/kb/suggest", PublicSuggest(usage=usage, **shared))
    app.add_route("/v1/public/kb/articles/{slug}", PublicArticle(usage=usage, **shared))
    app.add_route("/v1/public/kb/articles/{slug}/feedback", PublicFeedback(**shared))
    app.add_route("/v1/reports/kb", KbReport(**shared))
    app.add_route(
        "/v1/tickets/{ticket_id:uuid}/suggestions", TicketSuggestions(tickets=tickets, **shared)
    )


_EDIT_ERRORS = (404, 409)
OPERATIONS: Operations = {
    ("/v1/kb/categories", "post"): Operation(
        "Add a knowledge-base category (under a parent, or at the top)",
        "kb", EDITORS, KbCategoryOut, statuses=(201,), body=KbCategoryIn, errors=(404, 409),
        description="A parent_id no category has is a 404.",
    ),
    ("/v1/kb/categories", "get"): Operation(
        "Every knowledge-base category (a tree: each names its parent)",
        "kb", READERS, KbCategoryListOut,
    ),
    ("/v1/kb/articles", "post"): Operation(
        "Write a knowledge-base article (a draft until published)",
        "kb", EDITORS, ArticleOut, statuses=(201,), body=ArticleIn, errors=(404, 409),
        etag=True,
        description="A slug another article has is a 409, a category_id no category has "
        "a 404. Translations must be in configured languages (ATENDE_LANGUAGES), else a "
        "422 naming the field. The source language (the one the others translate) is the "
        "deployment's default language when it is given, else the first given.",
    ),
    (ARTICLE, "get"): Operation(
        "Read an article (from the event store), in a language, or as it was at an instant",
        "kb", READERS, ArticleOut, query=ArticleReadQueryIn, errors=(404,), etag=True,
        description="?lang= picks the translation shown as title and body (the source "
        "language when it has none); every translation is in translations, each marked "
        "outdated when the source changed after it.",
    ),
    (ARTICLE, "put"): Operation(
        "Change an article: write translations, move it to a category, replace its tags",
        "kb", EDITORS, ArticleOut, body=ArticleChangeIn, errors=_EDIT_ERRORS, if_match=True,
        etag=True,
        description="With If-Match (the ETag of a read), a PUT on a version someone else "
        "moved on from is a 412 and changes nothing.",
    ),
    (f"{ARTICLE}/publish", "post"): Operation(
        "Publish an article (public help centre, search, suggestions)",
        "kb", EDITORS, ArticleOut, body=EmptyIn, errors=_EDIT_ERRORS, etag=True,
    ),
    (f"{ARTICLE}/archive", "post"): Operation(
        "Archive an article (withdrawn from the help centre and suggestions)",
        "kb", EDITORS, ArticleOut, body=EmptyIn, errors=_EDIT_ERRORS, etag=True,
    ),
    (f"{ARTICLE}/history", "get"): Operation(
        "Every event of an article, in order", "kb", READERS, ArticleHistoryOut,
        errors=(404,),
    ),
    ("/v1/public/kb/search", "get"): Operation(
        "Search the published articles in a language (no token)",
        "kb", PUBLIC, SearchOut, query=SearchQueryIn, etag=True, statuses=(200, 304),
        description="Every word must be found, in the title or the body; accents and word "
        "endings do not matter. Cacheable (ETag, Cache-Control: public).",
    ),
    ("/v1/public/kb/suggest", "get"): Operation(
        "Articles that may answer what a customer is typing on a contact form (no token)",
        "kb", PUBLIC, SuggestOut, query=SearchQueryIn,
        description="Like search, but any word may match: the best matches first. An "
        "answer with articles carries a suggestion_id: send it as kb_suggestion_id when the "
        "customer opens a ticket anyway (GET /v1/reports/kb counts deflection from them). "
        "Not cached (Cache-Control: no-store): each answer is one suggestion shown.",
    ),
    ("/v1/public/kb/articles/{slug}", "get"): Operation(
        "Read a published article by its slug (no token)",
        "kb", PUBLIC, PublicArticleOut, query=PublicArticleQueryIn, errors=(404,), etag=True,
        statuses=(200, 304),
        description="Drafts and archived articles are not found. ?lang= picks the "
        "translation (the source language when it has none; Content-Language says which).",
    ),
    ("/v1/public/kb/articles/{slug}/feedback", "post"): Operation(
        "Say whether a published article helped (no token)",
        "kb", PUBLIC, FeedbackOut, statuses=(202,), body=FeedbackIn, errors=(404,),
        description="Recorded as an event of its own; GET /v1/reports/kb counts them "
        "(after the projector has seen it).",
    ),
    ("/v1/reports/kb", "get"): Operation(
        "The knowledge base: each article's reads, helpfulness and citing tickets; the "
        "searches that found nothing; suggestions that deflected a ticket",
        "kb", REPORT_READERS, KbReportOut,
        description="Help-centre reads, searches and suggestions are counted by each API "
        "worker and recorded every ATENDE_KB_USAGE_INTERVAL (and as it stops); like every "
        "report, a projection of the log (after the projector has seen it).",
    ),
    ("/v1/tickets/{ticket_id:uuid}/suggestions", "get"): Operation(
        "Published articles that may answer a ticket, best first",
        "kb", TICKET_READERS, SearchOut, query=SuggestionQueryIn, errors=(404,),
    ),
}  # fmt: skip
