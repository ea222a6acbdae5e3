"""The knowledge base (issue 23): categories and articles written by agents, supervisors
and admins, read by everyone with a token, and the published ones by anyone on the
public help centre.

Articles are read from the log (by id, or by slug, which is the id's name), so an edit
is visible at once and ``as_of`` shows any past version. Search and suggestions read the
``kb`` view (infrastructure/views/kb.py): eventually consistent, like every view.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.errors import StaleVersion
from application.retries import Save, save_with_retries
from domain.actor import Actor
from domain.kb.article import (
    PUBLISHED,
    SLUG_MAX,
    Article,
    ArticleNotFound,
    ArticleStateConflict,
    DuplicateSlug,
    article_id,
    is_slug,
)
from domain.kb.categories import CATEGORIES_ID, Category, CategoryNotFound, KbCategories
from domain.kb.feedback import ArticleFeedback
from domain.kb.usage import KbUsage

CONFLICT_RETRIES = 5


class InvalidArticle(Exception):
    """A field the schema let through that the knowledge base refuses (422)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class VersionLog(Protocol):
    def version_at(self, originator_id: UUID, at: datetime) -> int | None: ...


@dataclass(frozen=True)
class ArticleChange:
    """What a PUT changes: any of the texts, the category, the tags (None: unchanged)."""

    translations: dict[str, dict[str, str]] | None = None
    category_id: UUID | None = None
    category_given: bool = False  # category_id was sent (null moves it to no category)
    tags: list[str] | None = None


class KnowledgeBase:
    def __init__(
        self,
        app: Any,  # the ticket application: its repository and save
        log: VersionLog,
        *,
        languages: Collection[str],
        default_language: str | None = None,
    ):
        self.app = app
        self.log = log
        self.languages = tuple(languages)
        self.default_language = default_language

    # Categories

    def category_tree(self, at: datetime | None = None) -> KbCategories | None:
        version = None
        if at is not None:
            version = self.log.version_at(CATEGORIES_ID, at)
            if version is None:
                return None
        try:
            return self.app.repository.get(CATEGORIES_ID, version=version)
        except AggregateNotFoundError:
            return None

    def categories(self) -> list[Category]:
        tree = self.category_tree()
        return list(tree.categories.values()) if tree else []

    def add_category(
        self, names: dict[str, str], parent_id: UUID | None, actor: Actor
    ) -> Category:
        self._check_languages("names", names)
        category_id = uuid4()

        def attempt() -> Category | Save[Category]:
            tree = self.category_tree() or KbCategories()
            tree.add(category_id, names, parent_id, actor)

            def write() -> Category:
                self.app.save(tree)
                return tree.find(category_id)

            return Save(write)

        return save_with_retries(attempt, what="the categories", retries=CONFLICT_RETRIES)

    # Articles

    def create(
        self,
        slug: str,
        translations: dict[str, dict[str, str]],
        actor: Actor,
        *,
        source_language: str | None = None,
        category_id: UUID | None = None,
        tags: list[str] | None = None,
    ) -> Article:
        self._check_slug(slug)
        self._check_languages("translations", translations)
        source = source_language or self._source_of(translations)
        if source not in translations:
            raise InvalidArticle(
                "source_language", f"{source!r} is not one of the translations given"
            )
        self._check_category(category_id)
        article = Article(
            slug=slug,
            source_language=source,
            translations=translations,
            category_id=category_id,
            tags=_tags(tags or []),
            actor=actor,
        )
        try:
            self.app.save(article)
        except IntegrityError:
            raise DuplicateSlug(slug) from None  # the slug's id is taken
        return article

    def get(self, article: UUID, at: datetime | None = None) -> Article:
        version = None
        if at is not None:
            version = self.log.version_at(article, at)
            if version is None:
                raise ArticleNotFound(article)
        try:
            found = self.app.repository.get(article, version=version)
        except AggregateNotFoundError:
            raise ArticleNotFound(article) from None
        if not isinstance(found, Article):
            raise ArticleNotFound(article)
        return found

    def published(self, slug: str) -> Article:
        """A published article by slug (the public side): any other is not found."""
        if not is_slug(slug):
            raise ArticleNotFound(slug)
        try:
            found = self.get(article_id(slug))
        except ArticleNotFound:
            raise ArticleNotFound(slug) from None
        if found.state != PUBLISHED:
            raise ArticleNotFound(slug)
        return found

    def change(
        self, article: UUID, change: ArticleChange, actor: Actor, expected: int | None
    ) -> Article:
        if change.translations is not None:
            self._check_languages("translations", change.translations)
        if change.category_given:
            self._check_category(change.category_id)

        def apply(found: Article) -> None:
            for language, text in (change.translations or {}).items():
                found.put_translation(language, text["title"], text["body"], actor)
            if change.category_given:
                found.recategorise(change.category_id, actor)
            if change.tags is not None:
                found.retag(_tags(change.tags), actor)

        return self._changed(article, apply, expected)

    def publish(self, article: UUID, actor: Actor) -> Article:
        return self._changed(article, lambda found: found.publish(actor), None)

    def archive(self, article: UUID, actor: Actor) -> Article:
        return self._changed(article, lambda found: found.archive(actor), None)

    def give_feedback(self, slug: str, helpful: bool) -> Article:
        """A help-centre visitor's answer about a published article (404 for any other)."""
        article = self.published(slug)
        self.app.save(ArticleFeedback(article_id=article.id, helpful=helpful))
        return article

    def record_usage(self, counted: dict[str, Any]) -> None:
        """One API worker's help-centre counts over a stretch (domain/kb/usage.py)."""
        self.app.save(KbUsage(**counted))

    def citable(self, articles: Collection[UUID]) -> list[str]:
        """The ids a reply may cite: each a published article (404 for an unknown one,
        409 for a draft or archived one, which the customer could not open)."""
        for each in articles:
            found = self.get(each)
            if found.state != PUBLISHED:
                raise ArticleStateConflict(
                    f"article {found.slug} is {found.state}: only a published article "
                    "can be cited"
                )
        return [str(each) for each in articles]

    def history(self, article: UUID) -> list[Any]:
        self.get(article)  # 404 for no such article
        return self.app.history(article)

    # Checks

    def _changed(
        self, article: UUID, apply: Callable[[Article], None], expected: int | None
    ) -> Article:
        def attempt() -> Article | Save[Article]:
            found = self.get(article)
            if expected is not None and found.version != expected:
                raise StaleVersion(expected, found.version)
            apply(found)
            if not found.pending_events:
                return found

            def write() -> Article:
                self.app.save(found)
                return found

            return Save(write)

        # With If-Match a lost race is the caller's to resolve (412 on the retry's read).
        return save_with_retries(attempt, what="the article", retries=CONFLICT_RETRIES)

    def _source_of(self, translations: dict[str, Any]) -> str:
        if self.default_language in translations:
            return str(self.default_language)
        return next(iter(translations))

    def _check_slug(self, slug: str) -> None:
        if not is_slug(slug):
            raise InvalidArticle(
                "slug",
                f"lower-case letters and digits in words joined by single hyphens, "
                f"at most {SLUG_MAX} characters",
            )

    def _check_languages(self, field: str, by_language: dict[str, Any]) -> None:
        if not by_language:
            raise InvalidArticle(field, "give at least one language")
        unknown = sorted(set(by_language) - set(self.languages))
        if unknown:
            raise InvalidArticle(
                field,
                f"languages not configured here: {', '.join(unknown)} "
                f"(configured: {', '.join(self.languages)}; ATENDE_LANGUAGES)",
            )

    def _check_category(self, category_id: UUID | None) -> None:
        if category_id is None:
            return
        tree = self.category_tree()
        if tree is None:
            raise CategoryNotFound(category_id)
        tree.find(category_id)


def _tags(tags: list[str]) -> list[str]:
    return sorted({tag.strip().lower() for tag in tags if tag.strip()})
