"""The queue view in SQL, on SQLite and PostgreSQL, rows and tracking in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows
from infrastructure.views.batch import Params, grouped
from projections.queue import (
    ACTIVE,
    NO_DUE,
    Change,
    QueuePage,
    QueueQuery,
    QueueView,
    primary_language,
)

TABLE = "queue_tickets"
TAGS = "queue_ticket_tags"
# Queue order (Clarification 15): breached first, earliest due, priority, oldest.
# ``number`` (unique, in creation order) breaks the last ties.
SORT_KEY = ("breach_rank", "due_epoch", "priority_rank", "created_at", "number")
SHOWN = (
    "id", "number", "subject", "status", "priority", "channel", "language", "category",
    "assignee", "requester_name", "created_at", "last_customer_message_at", "sla_breached",
    "sla_due_at",
)  # fmt: skip


# The queue's rows as one literal predicate, repeated word for word in every query: a
# partial index on it lets both databases walk the sort order and stop at LIMIT (with
# bound parameters, or an index led by status, they sort every active row instead).
IS_ACTIVE = f"status IN ({', '.join(repr(s) for s in ACTIVE)})"


def _ddl(t: str, tags: str, index: str, tags_index: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, number BIGINT NOT NULL, "
        "subject TEXT, status TEXT NOT NULL, priority TEXT NOT NULL, "
        "priority_rank INTEGER NOT NULL, channel TEXT, language TEXT, language_primary TEXT, "
        "category TEXT, assignee TEXT, requester_name TEXT, created_at TEXT NOT NULL, "
        "last_customer_message_at TEXT, sla_breached BOOLEAN NOT NULL DEFAULT FALSE, "
        "sla_due_at TEXT, breach_rank INTEGER NOT NULL DEFAULT 1, "
        f"due_epoch DOUBLE PRECISION NOT NULL DEFAULT {NO_DUE})",
        f"CREATE INDEX IF NOT EXISTS {index} ON {t} ({', '.join(SORT_KEY)}) WHERE {IS_ACTIVE}",
        f"CREATE TABLE IF NOT EXISTS {tags} (tag TEXT NOT NULL, ticket_id TEXT NOT NULL, "
        "PRIMARY KEY (tag, ticket_id))",
        # The page reads each shown ticket's tags; a close deletes a ticket's tags.
        f"CREATE INDEX IF NOT EXISTS {tags_index} ON {tags} (ticket_id)",
    ]


class SqlQueueRows(SqlViewRows, QueueView):
    """The queue's SQL, written once for both databases (see infrastructure.sql)."""

    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(TABLE + suffix)
        self.tags_t = self.db.table(TAGS + suffix)
        self.index_name = f"{TABLE}{suffix}_active_order"
        self.tags_index_name = f"{TAGS}{suffix}_by_ticket"
        self.tags_column, self.read_tags = _tags_column(self.db, self.t, self.tags_t)
        # Before the partial index existed, an index led by status (too slow; see IS_ACTIVE).
        self.superseded_index = self.db.table(f"{TABLE}{suffix}_order")

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                f"DROP INDEX IF EXISTS {self.superseded_index}",
                *self._all_ddl(),
            ]
        )

    def statements(self, changes: Sequence[Change]) -> list[tuple[str, list[Params]]]:
        return super().statements(changes) + self._tag_statements(changes)

    def _tag_statements(self, changes: Sequence[Change]) -> list[tuple[str, list[Params]]]:
        """Each tag a batch touches ends present or absent, whatever it was before, so
        only its last change counts; a deleted ticket loses all its tags first."""
        cleared: dict[str, None] = {}  # ordered set
        final: dict[str, dict[str, bool]] = {}
        for change in changes:
            if change.fields is None:
                cleared[change.ticket_id] = None
                final.pop(change.ticket_id, None)
                continue
            if change.add_tags or change.remove_tags:
                tags = final.setdefault(change.ticket_id, {})
                tags.update(dict.fromkeys(change.add_tags, True))
                tags.update(dict.fromkeys(change.remove_tags, False))
        add = f"INSERT INTO {self.tags_t} (tag, ticket_id) VALUES (:tag, :id) "
        add += "ON CONFLICT DO NOTHING"
        remove = f"DELETE FROM {self.tags_t} WHERE tag = :tag AND ticket_id = :id"
        clears = grouped(
            (f"DELETE FROM {self.tags_t} WHERE ticket_id = :id", {"id": i}) for i in cleared
        )
        changed = grouped(
            (add if present else remove, {"tag": tag, "id": tid})
            for tid, tags in final.items()
            for tag, present in tags.items()
            # A cleared ticket's tags are known to be absent already.
            if present or tid not in cleared
        )
        return clears + changed

    def page(self, query: QueueQuery) -> QueuePage:
        where, params = self._where(query)
        statement = (
            f"SELECT {', '.join(SHOWN + SORT_KEY[:-1])}, {self.tags_column} FROM {self.t} "
            f"WHERE {where} ORDER BY {', '.join(SORT_KEY)} LIMIT :limit"
        )
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, statement, {**params, "limit": query.limit + 1})
            rows = cursor.fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last_key = tuple(rows[-1][c] for c in SORT_KEY) if more else None
        return QueuePage(items=[self._item(row) for row in rows], last_key=last_key)

    def _item(self, row: Any) -> dict[str, Any]:
        item = {k: row[k] for k in SHOWN}
        item["sla_breached"] = bool(row["sla_breached"])  # SQLite keeps booleans as 0/1
        item["tags"] = self.read_tags(row["tags"])
        return item

    def _where(self, query: QueueQuery) -> tuple[str, dict[str, Any]]:
        f = query.filters
        clauses, params = [IS_ACTIVE], {}
        for column in ("status", "assignee", "channel", "priority", "category"):
            if column in f:
                clauses.append(f"{column} = :{column}")
                params[column] = f[column]
        if "language" in f:
            clauses.append("language_primary = :language")
            params["language"] = primary_language(f["language"])
        if "unassigned" in f:
            clauses.append(f"assignee IS {'' if f['unassigned'] else 'NOT '}NULL")
        if "tag" in f:
            clauses.append(f"id IN (SELECT ticket_id FROM {self.tags_t} WHERE tag = :tag)")
            params["tag"] = f["tag"]
        if query.after is not None:
            keys = [f"k{i}" for i in range(len(SORT_KEY))]
            clauses.append(f"({', '.join(SORT_KEY)}) > ({', '.join(':' + k for k in keys)})")
            params.update(zip(keys, query.after, strict=True))
        return " AND ".join(clauses), params

    def owned_tables(self) -> list[str]:
        return [self.t, self.tags_t]

    def index_names(self) -> list[str]:
        return [self.index_name, self.tags_index_name]

    def index_ddl(self) -> list[str]:
        ddl = self._all_ddl()
        return [ddl[1], ddl[3]]

    def _all_ddl(self) -> list[str]:
        return _ddl(self.t, self.tags_t, self.index_name, self.tags_index_name)

    def rows(self) -> list[dict[str, Any]]:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT *, {self.tags_column} FROM {self.t} ORDER BY id")
            rows = [dict(row) for row in cursor.fetchall()]
        return [{**row, "tags": self.read_tags(row["tags"])} for row in rows]


def _tags_column(db: SqlDatabase, t: str, tags_t: str) -> tuple[str, Callable[[Any], list[str]]]:
    """Each ticket's tags as a column of its row, so a page is one query, and how to read
    it: an array on PostgreSQL, a JSON array on SQLite (which has no arrays), sorted."""
    mine = f"FROM {tags_t} WHERE ticket_id = {t}.id"
    if db.is_postgres:
        return f"ARRAY(SELECT tag {mine} ORDER BY tag) AS tags", list
    return f"(SELECT json_group_array(tag) {mine}) AS tags", _sorted_json


def _sorted_json(text: str) -> list[str]:
    return sorted(json.loads(text))


class SQLiteQueueView(SQLiteView, SqlQueueRows):
    view_name = "queue"


class PostgresQueueView(PostgresView, SqlQueueRows):
    view_name = "queue"
