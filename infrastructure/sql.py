"""Our own small tables (tokens, keys, idempotency) on the datastore the event recorder opened.

The statements are written once with ``:name`` parameters and ``{table}`` names; this
module adapts them to SQLite or PostgreSQL, so each store is one class, not two.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import tuple_row

from infrastructure.sqlite_lock import sqlite_write_lock

_NAMED_PARAM = re.compile(r"(?<![:\w]):(\w+)")

# Arbitrary constant that identifies Atende's schema-creation lock among advisory locks.
_SCHEMA_LOCK_ID = 0x41_54_45_4E


class SqlDatabase:
    """Runs dialect-neutral SQL against a SQLite or PostgreSQL eventsourcing datastore."""

    def __init__(self, datastore: SQLiteDatastore | PostgresDatastore):
        self.datastore = datastore
        self.is_postgres = isinstance(datastore, PostgresDatastore)

    def table(self, name: str) -> str:
        if self.is_postgres:
            return f'"{self.datastore.schema}"."{name}"'
        return name

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[Any]:
        lock = (
            sqlite_write_lock(self.datastore) if commit and not self.is_postgres else nullcontext()
        )
        with lock, self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    @contextmanager
    def rebuildable_transaction(self) -> Iterator[Any]:
        """SQLite: a write transaction whose COMMIT does not wait for the disk (WAL with
        ``synchronous = NORMAL``), for what can be derived again from the log. A power
        cut may undo it - never half of it - and any later durable commit makes it
        durable too, the WAL being written in order. Each fsync otherwise held the one
        write lock every request waits on. (PostgreSQL's twin: written_with_position's
        ``synchronous_commit = off``.)"""
        assert not self.is_postgres
        with (
            sqlite_write_lock(self.datastore),
            self.datastore.get_connection(commit=True) as conn,
        ):
            # The safety level cannot change inside a transaction: set, then restored.
            pragma = conn.cursor()
            pragma.execute("PRAGMA synchronous")
            level = int(pragma.fetchone()[0])
            pragma.execute("PRAGMA synchronous = NORMAL")
            try:
                with conn.transaction(commit=True) as cursor:
                    yield cursor
            finally:
                pragma.execute(f"PRAGMA synchronous = {level}")

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A cursor for one read-only statement, outside any transaction: a statement is
        atomic on its own, and on PostgreSQL a BEGIN and ROLLBACK around it are two more
        round trips (a third of a queue page's time)."""
        if self.is_postgres:
            with self.autocommitted() as cursor:
                yield cursor
        else:
            with self.datastore.get_connection(commit=False) as conn, conn.cursor() as cursor:
                yield cursor

    @contextmanager
    def autocommitted(self) -> Iterator[Any]:
        """PostgreSQL: a cursor whose every statement is a transaction of its own. A
        write that is one statement needs no BEGIN and COMMIT around it, two round trips
        of its three."""
        assert self.is_postgres, "SQLite writes take the write lock: use transaction()"
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            yield cursor

    @contextmanager
    def pipelined_connection(self) -> Iterator[Any]:
        """PostgreSQL: a connection in pipeline mode, for a writer that sends BEGIN and
        COMMIT itself in the same flushes as its statements (each costs a round trip of
        its own through transaction()). A transaction an error leaves open is rolled
        back as the connection goes back to the pool (psycopg's Connection.__exit__)."""
        assert self.is_postgres, "SQLite writes take the write lock: use transaction()"
        with self.datastore.get_connection() as conn, conn.pipeline():
            yield conn

    def execute(self, cursor: Any, statement: str, params: dict[str, Any] | None = None) -> None:
        cursor.execute(self._adapt(statement), params or {})

    def executemany(self, cursor: Any, statement: str, params: list[dict[str, Any]]) -> None:
        cursor.executemany(self._adapt(statement), params)

    @contextmanager
    def pipeline(self, cursor: Any) -> Iterator[Any]:
        """A cursor in the same transaction whose statements, on PostgreSQL, leave together
        instead of each waiting for its answer (a view's batch is one round trip, not
        hundreds). A cursor of its own: in a pipeline a cursor keeps the result of every
        statement it ran and a fetch reads the first, so ``cursor`` must run no others."""
        if not self.is_postgres:
            yield cursor
            return
        with cursor.connection.cursor() as batch, cursor.connection.pipeline():
            yield batch

    @contextmanager
    def side_cursor(self, cursor: Any) -> Iterator[Any]:
        """Another cursor in ``cursor``'s transaction, for reads in the middle of a
        pipeline (written_with_position): on PostgreSQL a cursor of its own, since in a
        pipeline a fetch reads the first result its cursor holds, not the last."""
        if not self.is_postgres:
            yield cursor
            return
        with cursor.connection.cursor() as side:
            yield side

    def fetch_values(self, cursor: Any) -> list[tuple]:
        """The rows of the last statement as tuples, in its column order: quicker to read
        than by name, which SQLite's rows look up column by column."""
        if self.is_postgres:
            cursor.row_factory = tuple_row  # this cursor only: each read gets its own
            return cursor.fetchall()
        # sqlite3 makes plain tuples without a row factory: no Row object per row to
        # build and copy (a year's durations, 33,000 rows: 13 ms of 35).
        raw = getattr(cursor, "sqlite_cursor", cursor)  # eventsourcing's wrapper, or not
        factory, raw.row_factory = raw.row_factory, None
        try:
            return raw.fetchall()
        finally:
            raw.row_factory = factory

    def rowcount(self, cursor: Any) -> int:
        """How many rows the last statement changed (eventsourcing's SQLite cursor wraps
        sqlite3's and does not pass the count on)."""
        return cursor.rowcount if self.is_postgres else cursor.sqlite_cursor.rowcount

    def has_column(self, cursor: Any, name: str, column: str) -> bool:
        """Whether table ``name`` (unqualified) has ``column``."""
        params = {"name": name, "column": column}
        if self.is_postgres:
            statement = (
                "SELECT COUNT(*) AS n FROM information_schema.columns WHERE "
                "table_schema = :schema AND table_name = :name AND column_name = :column"
            )
            params["schema"] = self.datastore.schema
        else:
            statement = "SELECT COUNT(*) AS n FROM pragma_table_info(:name) WHERE name = :column"
        self.execute(cursor, statement, params)
        return cursor.fetchone()["n"] > 0

    def fetchone(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        """The first row of one read-only statement (``reading``: on PostgreSQL the BEGIN
        and ROLLBACK it was wrapped in were two round trips of three)."""
        with self.reading() as cursor:
            self.execute(cursor, statement, params)
            return cursor.fetchone()

    def run(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        """Execute one writing statement in its own transaction; return its first row."""
        with self.transaction(commit=True) as cursor:
            self.execute(cursor, statement, params)
            return cursor.fetchone() if "RETURNING" in statement else None

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Serialise schema creation across processes (gunicorn workers start together,
        and concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL)."""
        if not self.is_postgres:
            yield
            return
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK_ID,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK_ID,))

    def ensure_schema(self) -> None:
        if self.is_postgres:
            with self.transaction(commit=True) as cursor:
                cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.datastore.schema}"')

    def create_tables(self, statements: list[str]) -> None:
        with self.transaction(commit=True) as cursor:
            for statement in statements:
                self.execute(cursor, statement)

    def analyze(self, tables: list[str]) -> None:
        """Have the planner's statistics of ``tables`` collected now (a sample of each;
        cheap next to filling them), rather than when autovacuum next gets round to it."""
        with self.transaction(commit=True) as cursor:
            for table in tables:
                self.execute(cursor, f"ANALYZE {table}")

    def _adapt(self, statement: str) -> str:
        return _to_pyformat(statement) if self.is_postgres else statement


@lru_cache(maxsize=256)
def _to_pyformat(statement: str) -> str:
    return _NAMED_PARAM.sub(r"%(\1)s", statement.replace("%", "%%"))


def as_uuid(value: UUID | str) -> UUID:
    """An id as a UUID, whichever way the database or the library handed it over (the
    library gives a stored event's originator as a UUID or as text, by database)."""
    return value if isinstance(value, UUID) else UUID(str(value))

