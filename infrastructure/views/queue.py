"""The queue view in SQL, on SQLite and PostgreSQL, rows and tracking in one transaction."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows
from projections.queue import ACTIVE, Change, QueuePage, QueueQuery, QueueView, primary_language

TABLE = "queue_tickets"
TAGS = "queue_ticket_tags"
# Tickets without a due time sort after every real one (a far-future epoch).
NO_DUE = 1e15
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
        # Before the partial index existed, an index led by status (too slow; see IS_ACTIVE).
        self.superseded_index = self.db.table(f"{TABLE}{suffix}_order")

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                f"DROP INDEX IF EXISTS {self.superseded_index}",
                *self._all_ddl(),
            ]
        )

    def _apply_change(self, cursor: Any, change: Change) -> None:
        execute, tid = self.db.execute, {"id": change.ticket_id}
        if change.fields is None:
            execute(cursor, f"DELETE FROM {self.t} WHERE id = :id", tid)
            execute(cursor, f"DELETE FROM {self.tags_t} WHERE ticket_id = :id", tid)
            return
        if change.insert:
            columns = ["id", *change.fields]
            execute(
                cursor,
                f"INSERT INTO {self.t} ({', '.join(columns)}) "
                f"VALUES ({', '.join(':' + c for c in columns)})",
                {**change.fields, **tid},
            )
        elif change.fields:
            sets = ", ".join(f"{c} = :{c}" for c in change.fields)
            guard = " AND status = :only_if_status" if change.only_if_status else ""
            execute(
                cursor,
                f"UPDATE {self.t} SET {sets} WHERE id = :id{guard}",
                {**change.fields, **tid, "only_if_status": change.only_if_status},
            )
        for tag in change.add_tags:
            execute(
                cursor,
                f"INSERT INTO {self.tags_t} (tag, ticket_id) VALUES (:tag, :id) "
                "ON CONFLICT DO NOTHING",
                {**tid, "tag": tag},
            )
        for tag in change.remove_tags:
            execute(
                cursor, f"DELETE FROM {self.tags_t} WHERE tag = :tag AND ticket_id = :id",
                {**tid, "tag": tag},
            )  # fmt: skip

    def page(self, query: QueueQuery) -> QueuePage:
        where, params = self._where(query)
        statement = (
            f"SELECT {', '.join(SHOWN + SORT_KEY[:-1])} FROM {self.t} WHERE {where} "
            f"ORDER BY {', '.join(SORT_KEY)} LIMIT :limit"
        )
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, statement, {**params, "limit": query.limit + 1})
            rows = [dict(row) for row in cursor.fetchall()]
            tags = self._tags_of(cursor, [row["id"] for row in rows[: query.limit]])
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        last_key = tuple(rows[-1][c] for c in SORT_KEY) if more else None
        items = [
            # SQLite keeps booleans as 0/1.
            {**{k: row[k] for k in SHOWN}, "sla_breached": bool(row["sla_breached"]),
             "tags": tags.get(row["id"], [])}
            for row in rows
        ]  # fmt: skip
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

    def _tags_of(self, cursor: Any, ids: list[str]) -> dict[str, list[str]]:
        if not ids:
            return {}
        params = {f"i{n}": i for n, i in enumerate(ids)}
        self.db.execute(
            cursor,
            f"SELECT ticket_id, tag FROM {self.tags_t} "
            f"WHERE ticket_id IN ({', '.join(':' + k for k in params)}) ORDER BY tag",
            params,
        )
        tags: dict[str, list[str]] = {}
        for row in cursor.fetchall():
            tags.setdefault(row["ticket_id"], []).append(row["tag"])
        return tags

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
            self.db.execute(cursor, f"SELECT * FROM {self.t} ORDER BY id")
            rows = [dict(row) for row in cursor.fetchall()]
            self.db.execute(cursor, f"SELECT ticket_id, tag FROM {self.tags_t} ORDER BY tag")
            tags: dict[str, list[str]] = {}
            for row in cursor.fetchall():
                tags.setdefault(row["ticket_id"], []).append(row["tag"])
        return [{**row, "tags": tags.get(row["id"], [])} for row in rows]


class SQLiteQueueView(SQLiteView, SqlQueueRows):
    view_name = "queue"


class PostgresQueueView(PostgresView, SqlQueueRows):
    view_name = "queue"
