"""Bring an existing FAQ into the knowledge base (``atende kb import FILE``, issue 23).

Two shapes:
- JSON Lines: one article per line, as ``POST /v1/kb/articles`` takes it, plus an
  optional ``state`` (``published``, the default, ``draft`` or ``archived``);
- a folder of Markdown: ``<slug>/<language>.md`` per translation, whose first line is
  the title (``# Title``) and the rest the body; published.

Every article is checked by the same schema and rules as the HTTP route. An article whose
slug exists is left as it is and reported, so an import can run again after a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from application.kb import InvalidArticle, KnowledgeBase
from domain.actor import Actor
from domain.kb.article import ARCHIVED, DRAFT, PUBLISHED, DuplicateSlug
from domain.kb.categories import CategoryNotFound
from interface.http.schemas.kb import ArticleIn

IMPORTER = Actor(id="kb-import", name="atende kb import", role="admin")
_SCHEMA = ArticleIn()


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, why)


def import_articles(kb: KnowledgeBase, source: Path, actor: Actor = IMPORTER) -> ImportReport:
    report = ImportReport()
    for where, raw in _articles_in(source):
        if not isinstance(raw, dict):
            report.refused.append((where, raw if isinstance(raw, str) else "not an object"))
            continue
        state = raw.pop("state", PUBLISHED)
        if state not in (PUBLISHED, DRAFT, ARCHIVED):
            report.refused.append((where, f"state: {state!r} is not published/draft/archived"))
            continue
        try:
            body = _SCHEMA.load(raw)
            article = kb.create(
                body["slug"],
                body["translations"],
                actor,
                category_id=body["category_id"],
                tags=body["tags"],
            )
        except ValidationError as error:
            report.refused.append((where, json.dumps(error.normalized_messages())))
            continue
        except (InvalidArticle, CategoryNotFound) as error:
            report.refused.append((where, str(error)))
            continue
        except DuplicateSlug:
            report.existing.append(body["slug"])
            continue
        if state in (PUBLISHED, ARCHIVED):
            kb.publish(article.id, actor)
        if state == ARCHIVED:
            kb.archive(article.id, actor)
        report.created.append(article.slug)
    return report


def _articles_in(source: Path) -> Iterator[tuple[str, Any]]:
    if source.is_dir():
        yield from _markdown_folder(source)
        return
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{source.name}:{number}"
            try:
                yield where, json.loads(line)
            except json.JSONDecodeError as error:
                yield where, f"unreadable JSON ({error.msg})"


def _markdown_folder(folder: Path) -> Iterator[tuple[str, Any]]:
    for article in sorted(p for p in folder.iterdir() if p.is_dir()):
        translations = {}
        for page in sorted(article.glob("*.md")):
            title, _, body = page.read_text(encoding="utf-8").partition("\n")
            translations[page.stem] = {"title": title.lstrip("#").strip(), "body": body.strip()}
        yield str(article), {"slug": article.name, "translations": translations}
