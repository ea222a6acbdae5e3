"""The knowledge base's search view (issue 23): one row per article (its slug, state,
category, tags) and one per article and language (its title and body), which the
database's full-text index covers. Search and suggestions read it; an article itself is
read from the log."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, NamedTuple

from domain.kb.article import DRAFT, Article
from domain.kb.feedback import ArticleFeedback
from domain.kb.usage import KbUsage
from domain.ticket import Ticket
from projections.base import RowProjection, RowView
from projections.timestamps import timestamp

ARTICLE, TEXT, FEEDBACK = "article", "text", "feedback"
# What the help centre and the helpdesk did with the articles (the report's counts).
VIEWS, UNANSWERED, COUNT, CITATION, FOLLOWED = (
    "views", "unanswered", "count", "citation", "followed"
)  # fmt: skip
SEARCHES, SUGGESTIONS_SHOWN = "searches", "suggestions_shown"


class KbChange(NamedTuple):
    """An article's row (``key`` its id) or one language's text (``key`` the article's
    id and the language): inserted, or its given fields updated."""

    # ARTICLE | TEXT | FEEDBACK (a visitor's answer, counted) | VIEWS (fields: n) |
    # CITATION (a ticket, in fields, cited the article) | UNANSWERED (article_id: the
    # query; fields: n) | COUNT (article_id: SEARCHES or SUGGESTIONS_SHOWN; fields: n) |
    # FOLLOWED (article_id: a suggestion a ticket was opened after)
    kind: str
    article_id: str
    language: str | None
    fields: dict[str, Any]
    insert: bool = False


@dataclass(frozen=True)
class SearchHit:
    article_id: str
    slug: str
    language: str
    title: str
    body: str  # the body's plain text (the snippet is cut from it)
    score: float  # higher is better; comparable within one answer only


class KbView(RowView[KbChange]):
    @abstractmethod
    def search(
        self,
        query: str,
        language: str,
        *,
        limit: int,
        any_word: bool = False,
        states: tuple[str, ...] = ("published",),
    ) -> list[SearchHit]:
        """Articles whose text in ``language`` has every word of the query (or any,
        for suggestions), best first."""

    @abstractmethod
    def article_report(self) -> list[dict[str, Any]]:
        """Every article (slug, state) with its visitors' helpful and not helpful
        answers, its reads on the help centre and the tickets that cited it, by slug."""

    @abstractmethod
    def usage_report(self, unanswered_limit: int) -> dict[str, Any]:
        """The help centre's totals (searches, suggestions shown and followed by a
        ticket) and its most frequent unanswered searches, most frequent first."""

    @abstractmethod
    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Every article row and text row, in key order (to compare with a rebuild)."""


class KbProjection(RowProjection[KbChange]):
    name = "kb"

    def handles(self, event_class: type) -> bool:
        return event_class in _CHANGES

    def changes(self, domain_event: Any, position: int) -> list[KbChange]:
        handler = _CHANGES.get(type(domain_event))
        return handler(domain_event) if handler else []


def _created(e: Any) -> list[KbChange]:
    article_id = str(e.originator_id)
    row = {
        "slug": e.slug,
        "state": DRAFT,
        "category_id": None if e.category_id is None else str(e.category_id),
        "tags": " ".join(e.tags),
        "source_language": e.source_language,
        "updated_at": timestamp(e.timestamp),
    }
    changes = [KbChange(ARTICLE, article_id, None, row, insert=True)]
    for language, text in e.translations.items():
        changes.append(_text(article_id, language, text["title"], text["body"]))
    return changes


def _text(article_id: str, language: str, title: str, body: str) -> KbChange:
    return KbChange(TEXT, article_id, language, {"title": title, "body": body}, insert=True)


def _translation_put(e: Any) -> list[KbChange]:
    article_id = str(e.originator_id)
    return [
        _text(article_id, e.language, e.title, e.body),
        _article(e, {}),
    ]


def _article(e: Any, fields: dict[str, Any]) -> KbChange:
    return KbChange(
        ARTICLE, str(e.originator_id), None, {**fields, "updated_at": timestamp(e.timestamp)}
    )


_CHANGES: dict[type, Any] = {
    Article.Created: _created,
    Article.TranslationPut: _translation_put,
    Article.Recategorised: lambda e: [
        _article(e, {"category_id": None if e.category_id is None else str(e.category_id)})
    ],
    Article.Retagged: lambda e: [_article(e, {"tags": " ".join(e.tags)})],
    Article.Published: lambda e: [_article(e, {"state": "published"})],
    Article.Archived: lambda e: [_article(e, {"state": "archived"})],
    ArticleFeedback.Given: lambda e: [
        KbChange(FEEDBACK, str(e.article_id), None, {"helpful": bool(e.helpful)})
    ],
    KbUsage.Counted: lambda e: _counted(e),
    Ticket.MessageAdded: lambda e: [
        KbChange(CITATION, str(article), None, {"ticket_id": str(e.originator_id)})
        for article in getattr(e, "articles", None) or ()
    ],
    Ticket.Opened: lambda e: (
        [KbChange(FOLLOWED, str(e.kb_suggestion_id), None, {})]
        if getattr(e, "kb_suggestion_id", None)
        else []
    ),
}


def _counted(e: Any) -> list[KbChange]:
    changes = [KbChange(VIEWS, article, None, {"n": n}) for article, n in e.views.items()]
    changes += [
        KbChange(UNANSWERED, row["query"], row["language"], {"n": row["count"]})
        for row in e.unanswered
    ]
    for name, n in ((SEARCHES, e.searches), (SUGGESTIONS_SHOWN, e.suggestions_shown)):
        if n:
            changes.append(KbChange(COUNT, name, None, {"n": n}))
    return changes
