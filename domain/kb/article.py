"""A knowledge-base article: a title and a Markdown body per language, a category, tags,
and a state (draft, published, archived). Every change is an event.

An article's id is derived from its slug (uuid5), so the slug is claimed by the write
that creates the article: two articles asking for the same slug race for the same
aggregate id, and the store refuses the second (409), with no index to keep in step.
The public side finds an article by slug in the log itself, never through a view.

Translations are written against the source language's text. Each remembers the
source's revision it was written against; when the source changes after it, it is
``outdated`` until it is written again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

ARTICLES_NAMESPACE = uuid5(NAMESPACE_URL, "/kb/articles/")
DRAFT, PUBLISHED, ARCHIVED = "draft", "published", "archived"
STATES = (DRAFT, PUBLISHED, ARCHIVED)
# Lower-case ASCII words joined by single hyphens: safe in a URL as it is, and the same
# slug whoever types it.
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_MAX = 120


def is_slug(text: str) -> bool:
    return len(text) <= SLUG_MAX and SLUG.match(text) is not None


def article_id(slug: str) -> UUID:
    return uuid5(ARTICLES_NAMESPACE, slug)


class ArticleNotFound(Exception):
    def __init__(self, key: object):
        super().__init__(f"article {key} not found")
        self.key = key


class DuplicateSlug(Exception):
    def __init__(self, slug: str):
        super().__init__(f"an article with slug {slug!r} already exists")
        self.slug = slug


class ArticleStateConflict(Exception):
    """Publishing a published article, archiving an archived one."""


@dataclass(frozen=True)
class Translation:
    title: str
    body: str  # Markdown, as written: rendered safely on the way out
    source_revision: int  # the source language's revision this text was written against


class Article(Aggregate):
    @staticmethod
    def create_id(slug: str, **_: Any) -> UUID:
        return article_id(slug)

    @event("Created")
    def __init__(
        self,
        slug: str,
        source_language: str,
        translations: dict[str, dict[str, str]],
        category_id: UUID | None,
        tags: list[str],
        actor: Actor,
    ) -> None:
        self.slug = slug
        self.source_language = source_language
        self.source_revision = 1
        self.translations = {
            language: Translation(text["title"], text["body"], 1)
            for language, text in translations.items()
        }
        self.category_id = category_id
        self.tags = list(tags)
        self.state = DRAFT
        self.author = actor.as_dict()

    # Reads

    def outdated(self, language: str) -> bool:
        found = self.translations.get(language)
        return found is not None and found.source_revision < self.source_revision

    def shown_language(self, wanted: str | None) -> str:
        """The translation a reader asking for ``wanted`` gets: that one, or the source
        text when there is none (a help centre shows something rather than nothing)."""
        if wanted is not None and wanted in self.translations:
            return wanted
        return self.source_language

    # Commands

    def put_translation(self, language: str, title: str, body: str, actor: Actor) -> None:
        current = self.translations.get(language)
        if current is not None and (current.title, current.body) == (title, body):
            return  # nothing changed: no event
        self._translation_put(language=language, title=title, body=body, actor=actor)

    @event("TranslationPut")
    def _translation_put(self, language: str, title: str, body: str, actor: Actor) -> None:
        if language == self.source_language:
            self.source_revision += 1
        self.translations[language] = Translation(title, body, self.source_revision)

    def recategorise(self, category_id: UUID | None, actor: Actor) -> None:
        if category_id != self.category_id:
            self._recategorised(category_id=category_id, actor=actor)

    @event("Recategorised")
    def _recategorised(self, category_id: UUID | None, actor: Actor) -> None:
        self.category_id = category_id

    def retag(self, tags: list[str], actor: Actor) -> None:
        if sorted(tags) != sorted(self.tags):
            self._retagged(tags=list(tags), actor=actor)

    @event("Retagged")
    def _retagged(self, tags: list[str], actor: Actor) -> None:
        self.tags = list(tags)

    def publish(self, actor: Actor) -> None:
        if self.state == PUBLISHED:
            raise ArticleStateConflict("the article is already published")
        self._published(actor=actor)

    @event("Published")
    def _published(self, actor: Actor) -> None:
        self.state = PUBLISHED

    def archive(self, actor: Actor) -> None:
        if self.state == ARCHIVED:
            raise ArticleStateConflict("the article is already archived")
        self._archived(actor=actor)

    @event("Archived")
    def _archived(self, actor: Actor) -> None:
        self.state = ARCHIVED
