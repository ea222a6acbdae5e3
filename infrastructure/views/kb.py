"""The knowledge base's search view in SQL, with each database's own full-text engine.

PostgreSQL: a ``tsvector`` per text (title weighted above body) under a GIN index, built
by a text search configuration per language that folds accents (``unaccent``) and then
stems with the language's Snowball dictionary, ranked by ``ts_rank_cd``.

SQLite: an FTS5 table (``unicode61 remove_diacritics 2``) holding each text's stems,
which Atende computes with the same Snowball algorithms (infrastructure/search_text.py),
ranked by ``bm25``; its rowid is the text row's.

Both index every word: the configurations' stemming dictionaries have no stop-word list,
since FTS5 has none either, and "the same queries give the same top results on both
backends" would not hold if one of them dropped ``como`` from a query and the other
required it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row

from infrastructure.markdown import to_text
from infrastructure.search_text import (
    ALGORITHMS,
    SIMPLE,
    algorithm,
    fts5_match,
    indexed,
    query_words,
)
from infrastructure.sql import SqlDatabase
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows
from infrastructure.views.batch import Params
from projections.kb import (
    ARTICLE,
    CITATION,
    COUNT,
    FEEDBACK,
    FOLLOWED,
    SEARCHES,
    SUGGESTIONS_SHOWN,
    TEXT,
    UNANSWERED,
    VIEWS,
    KbChange,
    KbView,
    SearchHit,
)

TABLE = "kb"
_ARTICLE_COLUMNS = ("slug", "state", "category_id", "tags", "source_language", "updated_at")
TITLE_WEIGHT = 5.0  # a word in the title counts five times one in the body (SQLite's bm25)


class SqlKbRows(SqlViewRows, KbView):
    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(f"{TABLE}_articles{suffix}")
        self.texts = self.db.table(f"{TABLE}_texts{suffix}")
        self.fts = self.db.table(f"{TABLE}_search{suffix}")
        self.feedback = self.db.table(f"{TABLE}_feedback{suffix}")
        self.views = self.db.table(f"{TABLE}_views{suffix}")
        self.citations = self.db.table(f"{TABLE}_citations{suffix}")
        self.unanswered = self.db.table(f"{TABLE}_unanswered{suffix}")
        self.counts = self.db.table(f"{TABLE}_counts{suffix}")
        self.followed = self.db.table(f"{TABLE}_followed{suffix}")
        self.index_prefix = TABLE + suffix

    def owned_tables(self) -> list[str]:
        searched = [] if self.db.is_postgres else [self.fts]
        return [self.t, self.texts, *self._usage_tables(), *searched]

    def _usage_tables(self) -> list[str]:
        return [
            self.feedback, self.views, self.citations, self.unanswered, self.counts,
            self.followed,
        ]  # fmt: skip

    def _usage_tables_ddl(self) -> list[str]:
        count = "BIGINT NOT NULL"
        return [
            self._feedback_table_ddl(),
            f"CREATE TABLE IF NOT EXISTS {self.views} (article_id TEXT PRIMARY KEY, n {count})",
            f"CREATE TABLE IF NOT EXISTS {self.citations} (article_id TEXT NOT NULL, "
            "ticket_id TEXT NOT NULL, PRIMARY KEY (article_id, ticket_id))",
            f"CREATE TABLE IF NOT EXISTS {self.unanswered} (language TEXT NOT NULL, "
            f"query TEXT NOT NULL, n {count}, PRIMARY KEY (language, query))",
            f"CREATE TABLE IF NOT EXISTS {self.counts} (name TEXT PRIMARY KEY, n {count})",
            f"CREATE TABLE IF NOT EXISTS {self.followed} (suggestion_id TEXT PRIMARY KEY)",
        ]

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        tables = {
            "articles": (self.t, "id"),
            "texts": (self.texts, "key"),
            "feedback": (self.feedback, "article_id"),
            "views": (self.views, "article_id"),
            "citations": (self.citations, "article_id, ticket_id"),
            "unanswered": (self.unanswered, "language, query"),
            "counts": (self.counts, "name"),
            "followed": (self.followed, "suggestion_id"),
        }
        out: dict[str, list[dict[str, Any]]] = {}
        with self.db.transaction(commit=False) as cursor:
            for name, (table, order) in tables.items():
                # The texts' own columns: SQLite's n and PostgreSQL's document differ.
                columns = "key, article_id, language, title, body" if name == "texts" else "*"
                self.db.execute(cursor, f"SELECT {columns} FROM {table} ORDER BY {order}")
                out[name] = [dict(row) for row in cursor.fetchall()]
        return out

    def article_report(self) -> list[dict[str, Any]]:
        statement = (
            f"SELECT a.id, a.slug, a.state, COALESCE(f.helpful, 0), "
            f"COALESCE(f.not_helpful, 0), COALESCE(v.n, 0), "
            f"(SELECT COUNT(*) FROM {self.citations} c WHERE c.article_id = a.id) "
            f"FROM {self.t} a "
            f"LEFT JOIN {self.feedback} f ON f.article_id = a.id "
            f"LEFT JOIN {self.views} v ON v.article_id = a.id ORDER BY a.slug"
        )
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement)
            rows = self.db.fetch_values(cursor)
        columns = (
            "article_id", "slug", "state", "helpful", "not_helpful", "views", "cited_by_tickets"
        )  # fmt: skip
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def usage_report(self, unanswered_limit: int) -> dict[str, Any]:
        with self.db.reading() as cursor:
            self.db.execute(cursor, f"SELECT name, n FROM {self.counts}")
            counts = dict(self.db.fetch_values(cursor))
            self.db.execute(cursor, f"SELECT COUNT(*) FROM {self.followed}")
            [(followed,)] = self.db.fetch_values(cursor)
            self.db.execute(
                cursor,
                f"SELECT query, language, n FROM {self.unanswered} "
                "ORDER BY n DESC, language, query LIMIT :limit",
                {"limit": unanswered_limit},
            )
            unanswered = [
                {"query": query, "language": language, "searches": n}
                for query, language, n in self.db.fetch_values(cursor)
            ]
        return {
            "searches": int(counts.get(SEARCHES, 0)),
            "suggestions_shown": int(counts.get(SUGGESTIONS_SHOWN, 0)),
            "suggestions_followed": int(followed),
            "unanswered": unanswered,
        }

    def statements(self, changes: Sequence[KbChange]) -> list[tuple[str, list[Params]]]:
        # Articles are written rarely and a batch holds few: a statement per change, in
        # the order of the log, is plainer than grouping them as the ticket views do.
        out: list[tuple[str, list[Params]]] = []
        for change in changes:
            if change.kind == ARTICLE:
                out.append(self._article_statement(change))
            elif change.kind == FEEDBACK:
                out.append(self._feedback_statement(change))
            elif change.kind == TEXT:
                out += self._text_statements(change)
            else:
                out.append(self._usage_statement(change))
        return out

    def _usage_statement(self, change: KbChange) -> tuple[str, list[Params]]:
        n = change.fields.get("n", 0)
        if change.kind == VIEWS:
            return self._add_to(self.views, "article_id", [change.article_id], n)
        if change.kind == UNANSWERED:
            return self._add_to(
                self.unanswered, "language, query", [change.language, change.article_id], n
            )
        if change.kind == COUNT:
            return self._add_to(self.counts, "name", [change.article_id], n)
        if change.kind == CITATION:
            return (
                f"INSERT INTO {self.citations} (article_id, ticket_id) VALUES (:a, :t) "
                "ON CONFLICT (article_id, ticket_id) DO NOTHING",
                [{"a": change.article_id, "t": change.fields["ticket_id"]}],
            )
        if change.kind == FOLLOWED:
            return (
                f"INSERT INTO {self.followed} (suggestion_id) VALUES (:s) "
                "ON CONFLICT (suggestion_id) DO NOTHING",
                [{"s": change.article_id}],
            )
        raise ValueError(f"unknown kb change {change.kind!r}")

    def _add_to(
        self, table: str, key: str, values: list[Any], n: int
    ) -> tuple[str, list[Params]]:
        params: dict[str, Any] = {f"k{i}": value for i, value in enumerate(values)}
        params["n"] = n
        placeholders = ", ".join(f":k{i}" for i in range(len(values)))
        statement = (
            f"INSERT INTO {table} ({key}, n) VALUES ({placeholders}, :n) "
            f"ON CONFLICT ({key}) DO UPDATE SET n = {table}.n + excluded.n"
        )
        return statement, [params]

    def _article_statement(self, change: KbChange) -> tuple[str, list[Params]]:
        params = {**change.fields, "id": change.article_id}
        if change.insert:
            columns = ("id", *_ARTICLE_COLUMNS)
            values = ", ".join(f":{c}" for c in columns)
            updates = ", ".join(f"{c} = excluded.{c}" for c in _ARTICLE_COLUMNS)
            statement = (
                f"INSERT INTO {self.t} ({', '.join(columns)}) VALUES ({values}) "
                f"ON CONFLICT (id) DO UPDATE SET {updates}"
            )
            return statement, [params]
        sets = ", ".join(f"{c} = :{c}" for c in sorted(change.fields))
        return f"UPDATE {self.t} SET {sets} WHERE id = :id", [params]

    def _feedback_statement(self, change: KbChange) -> tuple[str, list[Params]]:
        helpful = change.fields["helpful"]
        params = {"article_id": change.article_id, "yes": int(helpful), "no": int(not helpful)}
        statement = (
            f"INSERT INTO {self.feedback} (article_id, helpful, not_helpful) "
            "VALUES (:article_id, :yes, :no) ON CONFLICT (article_id) DO UPDATE SET "
            f"helpful = {self.feedback}.helpful + excluded.helpful, "
            f"not_helpful = {self.feedback}.not_helpful + excluded.not_helpful"
        )
        return statement, [params]

    def _feedback_table_ddl(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.feedback} (article_id TEXT PRIMARY KEY, "
            "helpful BIGINT NOT NULL, not_helpful BIGINT NOT NULL)"
        )

    def _text_params(self, change: KbChange) -> dict[str, Any]:
        language = str(change.language)
        return {
            "key": f"{change.article_id}:{language}",
            "article_id": change.article_id,
            "language": language,
            "title": change.fields["title"],
            "body": to_text(change.fields["body"]),
        }

    def _text_statements(self, change: KbChange) -> list[tuple[str, list[Params]]]:
        raise NotImplementedError

    def _hits(self, rows: list[tuple]) -> list[SearchHit]:
        return [
            SearchHit(row[0], row[4], row[1], row[2], row[3], float(row[5]))
            for row in rows
        ]

    def index_names(self) -> list[str]:
        return [f"{self.index_prefix}_texts_by_article"]

    def index_ddl(self) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_texts_by_article "
            f"ON {self.texts} (article_id, language)"
        ]

    def _article_table_ddl(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.t} (id TEXT PRIMARY KEY, slug TEXT NOT NULL, "
            "state TEXT NOT NULL, category_id TEXT, tags TEXT NOT NULL, "
            "source_language TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )


class SQLiteKbView(SQLiteView, SqlKbRows):
    view_name = TABLE

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                self._article_table_ddl(),
                *self._usage_tables_ddl(),
                # n: the FTS5 row's rowid (kept by ON CONFLICT ... DO UPDATE).
                f"CREATE TABLE IF NOT EXISTS {self.texts} (n INTEGER PRIMARY KEY, "
                "key TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL, language TEXT NOT NULL, "
                "title TEXT NOT NULL, body TEXT NOT NULL)",
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {self.fts} USING fts5(title, body, "
                "tokenize = 'unicode61 remove_diacritics 2')",
                *self.index_ddl(),
            ]
        )

    def _text_statements(self, change: KbChange) -> list[tuple[str, list[Params]]]:
        params = self._text_params(change)
        language = params["language"]
        indexed_params = {
            "key": params["key"],
            "title_stems": indexed(params["title"], language),
            "body_stems": indexed(params["body"], language),
        }
        return [
            (
                f"DELETE FROM {self.fts} WHERE rowid = "
                f"(SELECT n FROM {self.texts} WHERE key = :key)",
                [{"key": params["key"]}],
            ),
            (
                f"INSERT INTO {self.texts} (key, article_id, language, title, body) "
                "VALUES (:key, :article_id, :language, :title, :body) ON CONFLICT (key) "
                "DO UPDATE SET title = excluded.title, body = excluded.body",
                [params],
            ),
            (
                f"INSERT INTO {self.fts} (rowid, title, body) VALUES "
                f"((SELECT n FROM {self.texts} WHERE key = :key), :title_stems, :body_stems)",
                [indexed_params],
            ),
        ]

    def search(
        self,
        query: str,
        language: str,
        *,
        limit: int,
        any_word: bool = False,
        states: tuple[str, ...] = ("published",),
    ) -> list[SearchHit]:
        match = fts5_match(query, language, any_word=any_word)
        if match is None:
            return []
        wanted_states = ", ".join(f"'{s}'" for s in states if s.isalpha())
        statement = (
            f"SELECT t.article_id, t.language, t.title, t.body, a.slug, "
            f"-bm25({self.fts}, {TITLE_WEIGHT}, 1.0) AS score "
            f"FROM {self.fts} s JOIN {self.texts} t ON t.n = s.rowid "
            f"JOIN {self.t} a ON a.id = t.article_id "
            f"WHERE {self.fts} MATCH :match AND t.language = :language "
            f"AND a.state IN ({wanted_states}) ORDER BY score DESC, a.slug LIMIT :limit"
        )
        with self.db.reading() as cursor:
            self.db.execute(
                cursor, statement, {"match": match, "language": language, "limit": limit}
            )
            return self._hits(self.db.fetch_values(cursor))


class PostgresKbView(PostgresView, SqlKbRows):
    view_name = TABLE

    def create_row_tables(self) -> None:
        # Under bootstrap's schema lock, like every table (workers start together).
        ensure_configurations(self.db)
        self.db.create_tables(
            [
                self._article_table_ddl(),
                *self._usage_tables_ddl(),
                f"CREATE TABLE IF NOT EXISTS {self.texts} (key TEXT PRIMARY KEY, "
                "article_id TEXT NOT NULL, language TEXT NOT NULL, title TEXT NOT NULL, "
                "body TEXT NOT NULL, document tsvector NOT NULL)",
                *self.index_ddl(),
            ]
        )

    def index_names(self) -> list[str]:
        return [*super().index_names(), f"{self.index_prefix}_texts_search"]

    def index_ddl(self) -> list[str]:
        return [
            *super().index_ddl(),
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_texts_search "
            f"ON {self.texts} USING GIN (document)",
        ]

    def configuration(self, language: str) -> str:
        return f'"{self.db.datastore.schema}".{configuration_name(algorithm(language))}'

    def _text_statements(self, change: KbChange) -> list[tuple[str, list[Params]]]:
        params = self._text_params(change)
        params["config"] = self.configuration(params["language"])
        document = (
            "setweight(to_tsvector(CAST(:config AS regconfig), :title), 'A') || "
            "setweight(to_tsvector(CAST(:config AS regconfig), :body), 'B')"
        )
        return [
            (
                f"INSERT INTO {self.texts} (key, article_id, language, title, body, document) "
                f"VALUES (:key, :article_id, :language, :title, :body, {document}) "
                "ON CONFLICT (key) DO UPDATE SET title = EXCLUDED.title, "
                "body = EXCLUDED.body, document = EXCLUDED.document",
                [params],
            )
        ]

    def search(
        self,
        query: str,
        language: str,
        *,
        limit: int,
        any_word: bool = False,
        states: tuple[str, ...] = ("published",),
    ) -> list[SearchHit]:
        # Words only (letters and digits), so nothing typed is tsquery syntax; the
        # configuration folds and stems each as it did the texts.
        words = list(dict.fromkeys(w.lower() for w in query_words(query)))
        if not words:
            return []
        joiner = " | " if any_word else " & "
        statement = (
            "SELECT t.article_id, t.language, t.title, t.body, a.slug, "
            "ts_rank_cd(t.document, q, 1) AS score "
            f"FROM {self.texts} t JOIN {self.t} a ON a.id = t.article_id, "
            "to_tsquery(CAST(:config AS regconfig), :query) q "
            "WHERE t.document @@ q AND t.language = :language AND a.state = ANY(:states) "
            "ORDER BY score DESC, a.slug LIMIT :limit"
        )
        params = {
            "config": self.configuration(language),
            "query": joiner.join(words),
            "language": language,
            "states": list(states),
            "limit": limit,
        }
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return self._hits(self.db.fetch_values(cursor))


def configuration_name(algorithm_name: str) -> str:
    return f"atende_{algorithm_name}"


# Every token type a word can be, so numbers and hyphenated words are folded and
# stemmed like plain words (as search_text treats them on SQLite).
_WORD_TOKENS = (
    "asciiword, word, numword, asciihword, hword, numhword, "
    "hword_asciipart, hword_part, hword_numpart"
)


def ensure_configurations(db: SqlDatabase) -> dict[str, str]:
    """The ``unaccent`` and ``pg_trgm`` extensions (in ``public``, so dropping an Atende
    schema never takes them) and, in Atende's schema, a configuration per language:
    unaccent, then the language's Snowball stemmer without stop words (or nothing more,
    for ``simple``). Returns the schema of each extension. One connection for all of
    it: every process runs this at start, one after another, under the schema lock."""
    schema = f'"{db.datastore.schema}"'
    with db.datastore.get_connection() as connection:
        conn = connection.cursor(row_factory=tuple_row)  # the pool's rows are dicts
        extensions = dict(
            conn.execute(
                "SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname IN ('unaccent', 'pg_trgm')"
            ).fetchall()
        )
        for name in ("unaccent", "pg_trgm"):
            if name not in extensions:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {name} SCHEMA public")
                extensions[name] = "public"
        extension_schema = extensions["unaccent"]
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT c.cfgname FROM pg_ts_config c JOIN pg_namespace n "
                "ON n.oid = c.cfgnamespace WHERE n.nspname = %s",
                (db.datastore.schema,),
            )
        }
        for name in sorted({*ALGORITHMS.values(), SIMPLE}):
            configuration = configuration_name(name)
            if configuration in existing:
                continue
            dictionaries = f'"{extension_schema}".unaccent'
            if name == SIMPLE:
                dictionaries += ", pg_catalog.simple"
            else:
                stemmer = f"{schema}.{configuration}_stem"
                conn.execute(
                    f"CREATE TEXT SEARCH DICTIONARY {stemmer} "
                    f"(TEMPLATE = pg_catalog.snowball, Language = {name})"
                )
                dictionaries += f", {stemmer}"
            conn.execute(
                f"CREATE TEXT SEARCH CONFIGURATION {schema}.{configuration} "
                "(COPY = pg_catalog.simple)"
            )
            conn.execute(
                f"ALTER TEXT SEARCH CONFIGURATION {schema}.{configuration} "
                f"ALTER MAPPING FOR {_WORD_TOKENS} WITH {dictionaries}"
            )
        connection.commit()
    return extensions

