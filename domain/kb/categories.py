"""The knowledge base's categories, a tree: each has a name per language and maybe a
parent. One aggregate holds them all, like the webhook subscriptions: they are few,
editors add them rarely, and one aggregate makes "the parent exists" and "no two
siblings share a name" invariants its version guards instead of races between writers.
A parent is fixed when a category is added, so the tree can have no cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.actor import Actor

CATEGORIES_ID = uuid5(NAMESPACE_URL, "/kb/categories")


class CategoryNotFound(Exception):
    def __init__(self, category_id: object):
        super().__init__(f"category {category_id} not found")
        self.category_id = category_id


class DuplicateCategory(Exception):
    def __init__(self, existing: UUID, language: str, name: str):
        super().__init__(
            f"category {existing} already has the {language} name {name!r} under this parent"
        )
        self.existing = existing


@dataclass(frozen=True)
class Category:
    id: UUID
    names: dict[str, str]  # language -> name
    parent_id: UUID | None


class KbCategories(Aggregate):
    @staticmethod
    def create_id(**_: Any) -> UUID:
        return CATEGORIES_ID

    @event("Created")
    def __init__(self) -> None:
        self.categories: dict[UUID, Category] = {}

    def find(self, category_id: UUID) -> Category:
        found = self.categories.get(category_id)
        if found is None:
            raise CategoryNotFound(category_id)
        return found

    def add(
        self, category_id: UUID, names: dict[str, str], parent_id: UUID | None, actor: Actor
    ) -> None:
        if parent_id is not None:
            self.find(parent_id)
        for sibling in self.categories.values():
            if sibling.parent_id != parent_id:
                continue
            for language, name in names.items():
                if sibling.names.get(language, "").casefold() == name.casefold():
                    raise DuplicateCategory(sibling.id, language, name)
        self._added(category_id=category_id, names=dict(names), parent_id=parent_id, actor=actor)

    @event("Added")
    def _added(
        self, category_id: UUID, names: dict[str, str], parent_id: UUID | None, actor: Actor
    ) -> None:
        self.categories[category_id] = Category(category_id, dict(names), parent_id)
