"""The queue view in SQL, on SQLite and PostgreSQL, rows and tracking in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.ticket_numbers import TABLE as NUMBERS
from infrastructure.ticket_numbers import numbered_bulk_insert, numbered_insert
from infrastructure.views.base import (
    PostgresView,
    SQLiteView,
    SqlViewRows,
    bare_name,
    row_batch,
)
from infrastructure.views.batch import Params, RowOp, grouped
from infrastructure.views.bulk import delete_by, typed_rows
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
# What an item shows, in the order the HTTP items list it (see interface.http.schemas.queue).
SHOWN = (
    "id", "number", "subject", "status", "priority", "channel", "language", "category",
    "assignee", "requester_name", "created_at", "last_customer_message_at", "tags",
    "sla_breached", "sla_due_at",
)  # fmt: skip


# The queue's rows as one literal predicate, repeated word for word in every query: a
# partial index on it lets both databases walk the sort order and stop at LIMIT (with
# bound parameters, or an index led by status, they sort every active row instead).
IS_ACTIVE = f"status IN ({', '.join(repr(s) for s in ACTIVE)})"


# Each row keeps its ticket's tags (a JSON array) beside the tags table, which the tag
# filter reads: looking them up there for every row of a page took a sixth of the page's
# CPU on SQLite, more on PostgreSQL. A batch rewrites it for each ticket it retags.
TAGS_COLUMN = "tags TEXT NOT NULL DEFAULT '[]'"
_TAGS_JSON = json.JSONEncoder(separators=(",", ":")).encode


def _ddl(t: str, tags: str, index: str, tags_index: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, number BIGINT NOT NULL, "
        "subject TEXT, status TEXT NOT NULL, priority TEXT NOT NULL, "
        "priority_rank INTEGER NOT NULL, channel TEXT, language TEXT, language_primary TEXT, "
        "category TEXT, assignee TEXT, requester_name TEXT, created_at TEXT NOT NULL, "
        "last_customer_message_at TEXT, sla_breached BOOLEAN NOT NULL DEFAULT FALSE, "
        "sla_due_at TEXT, breach_rank INTEGER NOT NULL DEFAULT 1, "
        f"due_epoch DOUBLE PRECISION NOT NULL DEFAULT {NO_DUE}, {TAGS_COLUMN})",
        f"CREATE INDEX IF NOT EXISTS {index} ON {t} ({', '.join(SORT_KEY)}) WHERE {IS_ACTIVE}",
        f"CREATE TABLE IF NOT EXISTS {tags} (tag TEXT NOT NULL, ticket_id TEXT NOT NULL, "
        "PRIMARY KEY (tag, ticket_id))",
        # Rewriting a ticket's tags reads them from here alone, in order; a close
        # deletes a ticket's tags.
        f"CREATE INDEX IF NOT EXISTS {tags_index} ON {tags} (ticket_id, tag)",
    ]


class TagBatch:
    """What a batch does to tickets' tags. Each tag it touches ends present or absent,
    whatever it was before, so only its last change counts; a deleted ticket loses all
    its tags first."""

    def __init__(self, changes: Sequence[Change]):
        self.cleared: dict[str, None] = {}  # ordered set
        self.final: dict[str, dict[str, bool]] = {}
        for change in changes:
            if change.fields is None:
                self.cleared[change.ticket_id] = None
                self.final.pop(change.ticket_id, None)
            elif change.add_tags or change.remove_tags:
                final = self.final.setdefault(change.ticket_id, {})
                final.update(dict.fromkeys(change.add_tags, True))
                final.update(dict.fromkeys(change.remove_tags, False))

    def present(self, ticket_id: str) -> list[str]:
        return sorted(tag for tag, present in self.final.get(ticket_id, {}).items() if present)


class SqlQueueRows(SqlViewRows, QueueView):
    """The queue's SQL, written once for both databases (see infrastructure.sql)."""

    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(TABLE + suffix)
        self.tags_t = self.db.table(TAGS + suffix)
        self.index_name = f"{TABLE}{suffix}_active_order"
        self.tags_index_name = f"{TAGS}{suffix}_by_ticket_tag"
        self.superseded_indexes = [
            # Before the partial index existed, an index led by status (too slow; see
            # IS_ACTIVE); and the tags by ticket alone.
            self.db.table(f"{TABLE}{suffix}_order"),
            self.db.table(f"{TAGS}{suffix}_by_ticket"),
        ]
        tags = self.tags_t
        self.add_tag = (
            f"INSERT INTO {tags} (tag, ticket_id) VALUES (:tag, :id) ON CONFLICT DO NOTHING"
        )
        self.remove_tag = f"DELETE FROM {tags} WHERE tag = :tag AND ticket_id = :id"
        self.clear_tags = f"DELETE FROM {tags} WHERE ticket_id = :id"
        # What a rebuild writes, and a busy live batch: each group as one statement on
        # PostgreSQL (views.bulk). The numbered inserts' forms are added as their column
        # sets turn up (_row_statement).
        tag_rows = typed_rows({"tag": "text", "id": "text"})
        self.bulk: dict[str, str] = {
            self.delete_statement(): delete_by(self.t, "id"),
            self.clear_tags: delete_by(tags, "ticket_id"),
            self.add_tag: f"INSERT INTO {tags} (tag, ticket_id) SELECT r.tag, r.id "
            f"FROM {tag_rows} ON CONFLICT DO NOTHING",
            self.remove_tag: f"DELETE FROM {tags} t USING {tag_rows} "
            "WHERE t.tag = r.tag AND t.ticket_id = r.id",
        }

    def bulk_form(self, statement: str) -> str | None:
        return self.bulk.get(statement)

    def _row_statement(self, row_id: str, op: RowOp) -> tuple[str, Params]:
        # A new row's number is the ticket's dense number, which the database reads from
        # the numbers table (the projection's is the opening event's position).
        if op.insert:
            numbers = self.db.table(NUMBERS)
            statement, params = numbered_insert(self.t, numbers, row_id, op.fields)
            if statement not in self.bulk:
                self.bulk[statement] = numbered_bulk_insert(self.t, numbers, tuple(params))
            return statement, params
        return super()._row_statement(row_id, op)

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                *(f"DROP INDEX IF EXISTS {index}" for index in self.superseded_indexes),
                *self._all_ddl(),
            ]
        )
        self._add_tags_column()

    def _add_tags_column(self) -> None:
        """Tables made before rows kept their tags get the column, filled in, once (in a
        write transaction, which serialises concurrent starts on SQLite too)."""
        with self.db.transaction(commit=True) as cursor:
            if self.db.has_column(cursor, bare_name(self.t), "tags"):
                return
            self.db.execute(cursor, f"ALTER TABLE {self.t} ADD COLUMN {TAGS_COLUMN}")
            tags = _tags_json(self.db, self.tags_t, ticket=f"{self.t}.id")
            self.db.execute(cursor, f"UPDATE {self.t} SET tags = {tags}")

    def statements(self, changes: Sequence[Change]) -> list[tuple[str, list[Params]]]:
        rows, tags = row_batch(changes), TagBatch(changes)
        inserted = rows.inserted()
        for row_id, insert in inserted.items():
            # A row inserted now has no tags before this batch's (a ticket's events
            # start with its opening and its closing deletes its tags), so its column
            # is written with it instead of rewritten from the tags table after.
            insert.fields["tags"] = _TAGS_JSON(tags.present(row_id))
        rewrite = [tid for tid in tags.final if tid not in inserted]
        return self.row_statements(rows) + self._tag_statements(tags, rewrite)

    def _tag_statements(self, tags: TagBatch, rewrite: list[str]) -> list[tuple[str, list[Params]]]:
        clears = grouped((self.clear_tags, {"id": i}) for i in tags.cleared)
        changed = grouped(
            (self.add_tag if present else self.remove_tag, {"tag": tag, "id": tid})
            for tid, final in tags.final.items()
            for tag, present in final.items()
            # A cleared ticket's tags are known to be absent already.
            if present or tid not in tags.cleared
        )
        sets = f"UPDATE {self.t} SET tags = {_tags_json(self.db, self.tags_t)} WHERE id = :id"
        return clears + changed + grouped((sets, {"id": tid}) for tid in rewrite)

    def page(self, query: QueueQuery) -> QueuePage:
        where, params = self._where(query)
        # Each row is the item, then its sort key (the cursor of the next page).
        statement = (
            f"SELECT {', '.join(SHOWN + SORT_KEY)} FROM {self.t} WHERE {where} "
            f"ORDER BY {', '.join(SORT_KEY)} LIMIT :limit"
        )
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, {**params, "limit": query.limit + 1})
            rows = self.db.fetch_values(cursor)
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last_key = rows[-1][len(SHOWN) :] if more else None
        items = [dict(zip(SHOWN, row, strict=False)) for row in rows]
        for item, tags in zip(items, _read_tags([i["tags"] for i in items]), strict=True):
            item["tags"] = tags
            item["sla_breached"] = bool(item["sla_breached"])  # SQLite keeps booleans as 0/1
        return QueuePage(items=items, last_key=last_key)

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

    def query_index_names(self) -> list[str]:
        # Not the tags' index: deleting a closed ticket's tags goes by ticket.
        return [self.index_name]

    def index_ddl(self) -> list[str]:
        ddl = self._all_ddl()
        return [ddl[1], ddl[3]]

    def _all_ddl(self) -> list[str]:
        return _ddl(self.t, self.tags_t, self.index_name, self.tags_index_name)

    def rows(self) -> list[dict[str, Any]]:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT * FROM {self.t} ORDER BY id")
            rows = [dict(row) for row in cursor.fetchall()]
        tags = _read_tags([row["tags"] for row in rows])
        return [{**row, "tags": tags_of_row} for row, tags_of_row in zip(rows, tags, strict=True)]


def _tags_json(db: SqlDatabase, tags_t: str, ticket: str = ":id") -> str:
    """SQL for a ticket's tags as a JSON array (SQLite promises no order: readers sort)."""
    mine = f"FROM {tags_t} WHERE ticket_id = {ticket}"
    if db.is_postgres:
        return f"(SELECT COALESCE(json_agg(tag ORDER BY tag), '[]')::text {mine})"
    return f"(SELECT json_group_array(tag) {mine})"


def _read_tags(texts: list[str]) -> list[list[str]]:
    """The tags columns of rows, parsed in one go (one parse a row costs more), sorted."""
    return [sorted(tags) for tags in json.loads(f"[{','.join(texts)}]")]


class SQLiteQueueView(SQLiteView, SqlQueueRows):
    view_name = "queue"


class PostgresQueueView(PostgresView, SqlQueueRows):
    view_name = "queue"
