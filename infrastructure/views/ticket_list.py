"""The ticket list view in SQL, on SQLite and PostgreSQL, rows and tracking in one transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row

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
        # SQLite: the subjects' trigrams, so q's "part of the subject as typed" is found
        # through an index, not by reading every row (PostgreSQL: pg_trgm on the row).
        self.subjects = self.db.table(f"{TABLE}_subjects{suffix}")

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
        """A condition on ``id``: the ticket's subject holds ``q`` as typed (folded), or
        its subject or description has every word of ``q``, read in any of the
        configured languages (a query has no language; each ticket's text was indexed in
        its own). Both through indexes: a million rows are never read one by one."""
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
        clauses.append(search_clause(f["q"], params))
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
        self._create_subject_index()

    def _create_subject_index(self) -> None:
        """The subjects' trigram index, keyed like the words' (the opening position); a
        database from before it fills it from the rows the words' index has."""
        with self.db.transaction() as cursor:
            self.db.execute(
                cursor,
                "SELECT 1 FROM sqlite_master WHERE name = :name",
                {"name": self.subjects},
            )
            existed = cursor.fetchone() is not None
            if existed:
                return
            self.db.execute(
                cursor,
                f"CREATE VIRTUAL TABLE {self.subjects} USING fts5(id UNINDEXED, subject, "
                "tokenize = 'trigram')",
            )
            self.db.execute(
                cursor,
                f"INSERT INTO {self.subjects} (rowid, id, subject) SELECT k.n, t.id, "
                f"t.subject_folded FROM {self.t} t JOIN {self.search_keys} k ON k.id = t.id",
            )

    def owned_tables(self) -> list[str]:
        return [*super().owned_tables(), self.subjects]

    def search_statements(self, change: SearchChange) -> list[tuple[str, list[Params]]]:
        key = {"id": change.ticket_id}
        if change.text is None:
            found = f"(SELECT n FROM {self.search_keys} WHERE id = :id)"
            scrubbed = {**key, "subject": change.subject_folded or ""}
            return [
                (f"DELETE FROM {self.search} WHERE rowid = {found}", [key]),
                (f"UPDATE {self.subjects} SET subject = :subject WHERE rowid = {found}",
                 [scrubbed]),
                (f"DELETE FROM {self.search_keys} WHERE id = :id", [key]),
            ]  # fmt: skip
        words = indexed(change.text, change.language or "")
        entry = {**key, "n": change.position, "words": words,
                 "subject": change.subject_folded or ""}  # fmt: skip
        return [
            (f"INSERT OR IGNORE INTO {self.search_keys} (id, n) VALUES (:id, :n)", [entry]),
            (f"INSERT OR IGNORE INTO {self.search} (rowid, id, words) VALUES (:n, :id, :words)",
             [entry]),
            (f"INSERT OR IGNORE INTO {self.subjects} (rowid, id, subject) "
             "VALUES (:n, :id, :subject)", [entry]),
        ]  # fmt: skip

    def search_clause(self, q: str, params: dict[str, Any]) -> str:
        found = [self._subject_part(q, params)]
        matches = {fts5_match(q, language) for language in self.languages} - {None}
        if matches:
            params["match"] = " OR ".join(f"({m})" for m in sorted(matches))
            found.append(f"SELECT id FROM {self.search} WHERE {self.search} MATCH :match")
        return f"id IN ({' UNION ALL '.join(found)})"

    def _subject_part(self, q: str, params: dict[str, Any]) -> str:
        """The subjects holding ``q`` as typed (folded). FTS5's trigram index serves a
        LIKE of three characters or more, but not one with an ESCAPE clause: a query
        holding LIKE's own characters is asked as a phrase instead, which matches them
        as they are."""
        folded = fold(q)
        if not any(c in folded for c in "%_\\"):
            params["pattern"] = f"%{folded}%"
            return f"SELECT id FROM {self.subjects} WHERE subject LIKE :pattern"
        if len(folded) >= 3:
            params["phrase"] = '"' + folded.replace('"', '""') + '"'
            return f"SELECT id FROM {self.subjects} WHERE {self.subjects} MATCH :phrase"
        params["pattern"] = f"%{folded.translate(_LIKE_SPECIALS)}%"
        return f"SELECT id FROM {self.subjects} WHERE subject LIKE :pattern ESCAPE '\\'"


class PostgresTicketListView(PostgresView, SqlTicketListRows):
    view_name = TABLE

    def create_row_tables(self) -> None:
        self._trigram_schema = ensure_configurations(self.db)["pg_trgm"]
        self.db.create_tables(
            [
                *_ddl(self.t, self.index_prefix),
                f"CREATE TABLE IF NOT EXISTS {self.search} (id TEXT PRIMARY KEY, "
                "document tsvector NOT NULL)",
                *self._text_index_ddl(),
            ]
        )

    def owned_tables(self) -> list[str]:
        return [self.t, self.search]

    def index_names(self) -> list[str]:
        return [
            *super().index_names(),
            f"{self.index_prefix}_search_words",
            f"{self.index_prefix}_subject_trigrams",
        ]

    def index_ddl(self) -> list[str]:
        return [*super().index_ddl(), *self._text_index_ddl()]

    def _text_index_ddl(self) -> list[str]:
        # The subject's trigrams (pg_trgm), so q's "part of the subject as typed" is an
        # index lookup, not a read of every row.
        extension = getattr(self, "_trigram_schema", None) or trigram_schema(self.db)
        trigram_ops = f'"{extension}".gin_trgm_ops'
        return [
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_search_words "
            f"ON {self.search} USING GIN (document)",
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_subject_trigrams "
            f"ON {self.t} USING GIN (subject_folded {trigram_ops})",
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
        params["pattern"] = f"%{fold(q).translate(_LIKE_SPECIALS)}%"
        subject = f"SELECT id FROM {self.t} WHERE subject_folded LIKE :pattern ESCAPE '\\'"
        words = list(dict.fromkeys(w.lower() for w in query_words(q)))
        if not words:
            return f"id IN ({subject})"
        params["words"] = " & ".join(words)
        queries = " || ".join(
            f"to_tsquery(CAST(:config_{i} AS regconfig), :words)"
            for i, _ in enumerate(self.languages)
        )
        for i, language in enumerate(self.languages):
            params[f"config_{i}"] = self._configuration(language)
        return (
            f"id IN ({subject} UNION ALL "
            f"SELECT id FROM {self.search} WHERE document @@ ({queries}))"
        )


def trigram_schema(db: SqlDatabase) -> str:
    """Where ``pg_trgm`` is, for a view made without create_row_tables (which learns it
    from ensure_configurations, creating it when missing)."""
    with db.datastore.get_connection() as connection:
        cursor = connection.cursor(row_factory=tuple_row)  # the pool's rows are dicts
        query = (
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )
        found = cursor.execute(query).fetchone()
    return str(found[0]) if found else "public"
