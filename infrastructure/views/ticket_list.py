"""The ticket list view in SQL, on SQLite and PostgreSQL, rows and tracking in one transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.search_text import algorithm, fts5_match, indexed, query_words
from infrastructure.sql import SqlDatabase
from infrastructure.ticket_numbers import TABLE as NUMBERS
from infrastructure.ticket_numbers import numbered_insert
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows, row_batch
from infrastructure.views.batch import Params, RowOp
from infrastructure.views.kb import configuration_name, ensure_configurations
from projections.ticket_list import (
    RowChange,
    SearchChange,
    TicketListPage,
    TicketListQuery,
    TicketListView,
    fold,
)

TABLE = "ticket_list"
# Newest first; ``number`` (unique, in creation order) breaks ties between equal timestamps.
SORT_KEY = ("created_at", "number")
SHOWN = (
    "id", "number", "subject", "status", "priority", "channel", "language", "category",
    "assignee", "external_ref", "customer_id", "created_at", "updated_at", "resolved_at",
    "closed_at",
)  # fmt: skip
# Each filter that an index serves, walked in list order (subject search scans).
INDEXED = {
    "order": (),
    "customer": ("customer_id",),
    "status": ("status",),
    "ref": ("external_ref",),
}
_LIKE_SPECIALS = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


def _ddl(t: str, prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, number BIGINT NOT NULL, "
        "subject TEXT, subject_folded TEXT, status TEXT NOT NULL, priority TEXT NOT NULL, "
        "channel TEXT, language TEXT, category TEXT, assignee TEXT, external_ref TEXT, "
        "customer_id TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "resolved_at TEXT, closed_at TEXT)",
        *_index_ddl(t, prefix),
    ]


def _index_ddl(t: str, prefix: str) -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS {prefix}_by_{name} ON {t} ({', '.join((*columns, *SORT_KEY))})"
        for name, columns in INDEXED.items()
    ]


class SqlTicketListRows(SqlViewRows, TicketListView):
    """The ticket list's SQL, written once for both databases (see infrastructure.sql)."""

    db: SqlDatabase

    # What a query is read in: Atende's stemmed languages, and folded but unstemmed (""),
    # as texts in other languages (Quechua, Guarani...) were indexed.
    languages: tuple[str, ...] = ("es", "pt", "en", "")

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(TABLE + suffix)
        self.index_prefix = TABLE + suffix
        # The full-text index of subjects and descriptions (issue 23).
        self.search = self.db.table(f"{TABLE}_search{suffix}")
        self.search_keys = self.db.table(f"{TABLE}_search_keys{suffix}")

    def statements(self, changes: Any) -> list[tuple[str, list[Params]]]:
        rows = [c for c in changes if isinstance(c, RowChange)]
        searched = [c for c in changes if isinstance(c, SearchChange)]
        statements = self.row_statements(row_batch(rows))
        for change in searched:
            statements += self.search_statements(change)
        return statements

    def search_statements(self, change: SearchChange) -> list[tuple[str, list[Params]]]:
        raise NotImplementedError

    def search_clause(self, q: str, params: dict[str, Any]) -> str:
        """A condition on ``id``: the ticket's subject or description has every word of
        ``q``, read in any of the configured languages (a query has no language; each
        ticket's text was indexed in its own)."""
        raise NotImplementedError

    def _row_statement(self, row_id: str, op: RowOp) -> tuple[str, Params]:
        # A new row's number is the ticket's dense number, which the database reads from
        # the numbers table (the projection's is the opening event's position).
        if op.insert:
            return numbered_insert(self.t, self.db.table(NUMBERS), row_id, op.fields)
        return super()._row_statement(row_id, op)

    def page(self, query: TicketListQuery) -> TicketListPage:
        where, params = _where(query, self.search_clause)
        statement = (
            f"SELECT {', '.join(SHOWN)} FROM {self.t}{where} "
            f"ORDER BY {', '.join(c + ' DESC' for c in SORT_KEY)} LIMIT :limit"
        )
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, {**params, "limit": query.limit + 1})
            rows = [dict(row) for row in cursor.fetchall()]
        more = len(rows) > query.limit
        items = rows[: query.limit]
        last_key = tuple(items[-1][c] for c in SORT_KEY) if more else None
        return TicketListPage(items=items, last_key=last_key)

    def latest_language(self, customer_id: Any) -> str | None:
        """The language of the customer's newest ticket that has one (a fallback for
        language detection)."""
        with self.db.reading() as cursor:
            self.db.execute(
                cursor,
                f"SELECT language FROM {self.t} WHERE customer_id = :customer_id "
                "AND language IS NOT NULL ORDER BY created_at DESC, number DESC LIMIT 1",
                {"customer_id": str(customer_id)},
            )
            row = cursor.fetchone()
        return None if row is None else row["language"]

    def ticket_ids_of(self, customer_id: Any) -> list[UUID]:
        """Every ticket of the customer (an erasure names them, for views to scrub)."""
        with self.db.reading() as cursor:
            self.db.execute(
                cursor,
                f"SELECT id FROM {self.t} WHERE customer_id = :customer_id ORDER BY number",
                {"customer_id": str(customer_id)},
            )
            return [UUID(row[0]) for row in self.db.fetch_values(cursor)]

    def customer_ids(self) -> set[UUID]:
        """Every customer with a ticket (audit verify checks each still has a key row)."""
        with self.db.reading() as cursor:
            self.db.execute(cursor, f"SELECT DISTINCT customer_id FROM {self.t}")
            return {UUID(row[0]) for row in self.db.fetch_values(cursor)}

    def owned_tables(self) -> list[str]:
        return [self.t, self.search_keys, self.search]

    def index_names(self) -> list[str]:
        return [f"{self.index_prefix}_by_{name}" for name in INDEXED]

    def query_index_names(self) -> list[str]:
        return self.index_names()

    def index_ddl(self) -> list[str]:
        return _index_ddl(self.t, self.index_prefix)


def _where(query: TicketListQuery, search_clause: Any) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (or nothing) and its parameters."""
    f = query.filters
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for column in ("customer_id", "external_ref", "status"):
        if column in f:
            clauses.append(f"{column} = :{column}")
            params[column] = f[column]
    if "q" in f:
        # A part of the subject as typed (what q always found), or words of the subject
        # or description in any form (the full-text index).
        words = search_clause(f["q"], params)
        clauses.append(f"(subject_folded LIKE :pattern ESCAPE '\\'{words})")
        params["pattern"] = f"%{fold(f['q']).translate(_LIKE_SPECIALS)}%"
    if query.after is not None:
        clauses.append(f"({', '.join(SORT_KEY)}) < (:after_created_at, :after_number)")
        params["after_created_at"], params["after_number"] = query.after
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


class SQLiteTicketListView(SQLiteView, SqlTicketListRows):
    view_name = TABLE

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                *_ddl(self.t, self.index_prefix),
                # The index's rowid is the opening event's position; the keys table finds
                # it from the ticket's id, for an erasure.
                f"CREATE TABLE IF NOT EXISTS {self.search_keys} (id TEXT PRIMARY KEY, "
                "n INTEGER NOT NULL)",
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.search} USING fts5(id UNINDEXED, "
                "words, tokenize = 'unicode61 remove_diacritics 2')",
            ]
        )

    def search_statements(self, change: SearchChange) -> list[tuple[str, list[Params]]]:
        key = {"id": change.ticket_id}
        if change.text is None:
            return [
                (f"DELETE FROM {self.search} WHERE rowid = "
                 f"(SELECT n FROM {self.search_keys} WHERE id = :id)", [key]),
                (f"DELETE FROM {self.search_keys} WHERE id = :id", [key]),
            ]  # fmt: skip
        words = indexed(change.text, change.language or "")
        entry = {**key, "n": change.position, "words": words}
        return [
            (f"INSERT OR IGNORE INTO {self.search_keys} (id, n) VALUES (:id, :n)", [entry]),
            (f"INSERT OR IGNORE INTO {self.search} (rowid, id, words) VALUES (:n, :id, :words)",
             [entry]),
        ]  # fmt: skip

    def search_clause(self, q: str, params: dict[str, Any]) -> str:
        matches = {fts5_match(q, language) for language in self.languages} - {None}
        if not matches:
            return ""
        params["match"] = " OR ".join(f"({m})" for m in sorted(matches))
        return f" OR id IN (SELECT id FROM {self.search} WHERE {self.search} MATCH :match)"


class PostgresTicketListView(PostgresView, SqlTicketListRows):
    view_name = TABLE

    def create_row_tables(self) -> None:
        ensure_configurations(self.db)
        self.db.create_tables(
            [
                *_ddl(self.t, self.index_prefix),
                f"CREATE TABLE IF NOT EXISTS {self.search} (id TEXT PRIMARY KEY, "
                "document tsvector NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_search_words "
                f"ON {self.search} USING GIN (document)",
            ]
        )

    def owned_tables(self) -> list[str]:
        return [self.t, self.search]

    def index_names(self) -> list[str]:
        return [*super().index_names(), f"{self.index_prefix}_search_words"]

    def index_ddl(self) -> list[str]:
        return [
            *super().index_ddl(),
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_search_words "
            f"ON {self.search} USING GIN (document)",
        ]

    def _configuration(self, language: str) -> str:
        return f'"{self.db.datastore.schema}".{configuration_name(algorithm(language))}'

    def search_statements(self, change: SearchChange) -> list[tuple[str, list[Params]]]:
        if change.text is None:
            return [(f"DELETE FROM {self.search} WHERE id = :id", [{"id": change.ticket_id}])]
        entry = {
            "id": change.ticket_id,
            "config": self._configuration(change.language or ""),
            "text": change.text,
        }
        return [
            (f"INSERT INTO {self.search} (id, document) VALUES "
             "(:id, to_tsvector(CAST(:config AS regconfig), :text)) ON CONFLICT (id) DO NOTHING",
             [entry]),
        ]  # fmt: skip

    def search_clause(self, q: str, params: dict[str, Any]) -> str:
        words = list(dict.fromkeys(w.lower() for w in query_words(q)))
        if not words:
            return ""
        params["words"] = " & ".join(words)
        queries = " || ".join(
            f"to_tsquery(CAST(:config_{i} AS regconfig), :words)"
            for i, _ in enumerate(self.languages)
        )
        for i, language in enumerate(self.languages):
            params[f"config_{i}"] = self._configuration(language)
        return f" OR id IN (SELECT id FROM {self.search} WHERE document @@ ({queries}))"
