"""What every SQL view shares: its concrete SQLite/PostgreSQL classes (rows mixin plus a
tracking recorder of its own), how a batch of row changes is written, and the swap that
promotes a rebuilt copy to live."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.batch import Params, RowBatch, RowOp, grouped
from infrastructure.views.bulk import rows_param
from infrastructure.views.tracking import SQLiteViewTracking


class SqlViewRows:
    """Mixin for a view's rows. Subclasses set ``db`` in ``_setup_rows`` and say which
    tables and indexes they own, so a rebuilt copy can be swapped in."""

    db: SqlDatabase
    t: str  # the (qualified) table of the view's rows, one per ticket, keyed by ``id``
    tracking_table_name: str

    def _setup_rows(self, datastore: Any, suffix: str) -> None:
        raise NotImplementedError

    def create_row_tables(self) -> None:
        raise NotImplementedError

    def owned_tables(self) -> list[str]:
        """Qualified names of the row tables (the tracking table is added here)."""
        raise NotImplementedError

    def index_names(self) -> list[str]:
        raise NotImplementedError

    def index_ddl(self) -> list[str]:
        """The indexes of ``index_names``, in the same order."""
        raise NotImplementedError

    def query_index_names(self) -> list[str]:
        """Indexes only queries use (the view's own writes find rows by id): a rebuild
        leaves them out while it loads and builds each once at the end."""
        return []

    def drop_query_indexes_ddl(self) -> list[str]:
        return [f"DROP INDEX IF EXISTS {self.db.table(name)}" for name in self.query_index_names()]

    def query_index_ddl(self) -> list[str]:
        ddl = dict(zip(self.index_names(), self.index_ddl(), strict=True))
        return [ddl[name] for name in self.query_index_names()]

    def rows(self) -> Any:
        """Every row of the view's table, in id order (to compare a live view with a
        rebuild); views with more tables than one say how they compare."""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(cursor, f"SELECT * FROM {self.t} ORDER BY id")
            return [dict(row) for row in cursor.fetchall()]

    def apply(self, changes: Sequence[Any], tracking: Tracking) -> None:
        """Apply a batch of row changes and record its position, in one transaction."""
        statements = self.statements(changes)
        with written_with_position(self, tracking) as batch:
            for statement, params in statements:
                self.write_group(batch, statement, params)

    def write_group(self, cursor: Any, statement: str, params: list[Params]) -> None:
        """The rows one statement applies to: as one set-based statement where it has
        one (PostgreSQL, infrastructure/views/bulk.py), one by one otherwise."""
        bulk = self.bulk_form(statement) if self.db.is_postgres else None
        if bulk is None:
            self.db.executemany(cursor, statement, params)
        else:
            self.db.execute(cursor, bulk, rows_param(params))

    def bulk_form(self, statement: str) -> str | None:
        """The set-based form of ``statement`` (views.bulk), if the view gave it one."""
        return None

    def delete_statement(self) -> str:
        return f"DELETE FROM {self.t} WHERE id = :id"

    def statements(self, changes: Sequence[Any]) -> list[tuple[str, list[Params]]]:
        """The batch's statements, in order, each with the parameters of every row it
        applies to (see infrastructure.views.batch)."""
        return self.row_statements(row_batch(changes))

    def row_statements(self, batch: RowBatch) -> list[tuple[str, list[Params]]]:
        deletes = grouped((self.delete_statement(), {"id": i}) for i in batch.deleted())
        rounds = [grouped(self._row_statement(i, op) for i, op in ops) for ops in batch.rounds()]
        return deletes + [group for round_ in rounds for group in round_]

    def _row_statement(self, row_id: str, op: RowOp) -> tuple[str, Params]:
        params = {**op.fields, "id": row_id}
        if op.insert:
            return _insert_sql(self.t, tuple(params)), params
        if op.guard is not None:
            params["only_if_status"] = op.guard
        # Sorted, so updates of the same columns share a statement whatever their order.
        return _update_sql(self.t, tuple(sorted(op.fields)), op.guard is not None), params

    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    @property
    def tracking_table(self) -> str:
        return self.db.table(self.tracking_table_name)

    def promote_statements(self, live: SqlViewRows) -> list[str]:
        """SQL that makes this (rebuilt) view the live one, in one transaction: drop the
        live tables, rename these over them, and give their indexes the live names (both
        databases keep index names through a table rename)."""
        owned = list(
            zip(
                [*self.owned_tables(), self.tracking_table],
                [*live.owned_tables(), live.tracking_table],
                strict=True,
            )
        )
        statements = [f"DROP TABLE IF EXISTS {theirs}" for _, theirs in owned]
        statements += [
            f"ALTER TABLE {mine} RENAME TO {bare_name(theirs)}" for mine, theirs in owned
        ]
        if self.db.is_postgres:
            schema = f'"{self.db.datastore.schema}"'
            renames = list(zip(self.index_names(), live.index_names(), strict=True))
            renames += [(f"{bare_name(m)}_pkey", f"{bare_name(t)}_pkey") for m, t in owned]
            statements += [f"ALTER INDEX {schema}.{old} RENAME TO {new}" for old, new in renames]
        else:
            # SQLite cannot rename an index: recreate it under the live name.
            statements += [f"DROP INDEX IF EXISTS {name}" for name in self.index_names()]
            statements += live.index_ddl()
        return statements


# The library's single-row tracking upsert advances a view's position only forwards, and
# answers no row when it would not (another process applied this batch, or a later one).
# Wrapped so that case is an error on the server - division by zero, as no row was
# returned - which aborts the rest of the pipeline, the batch's rows and COMMIT included.
_ADVANCE_OR_FAIL = "WITH advanced AS ({upsert}) SELECT 1 / (SELECT COUNT(*) FROM advanced)"


@contextmanager
def written_with_position(view: Any, tracking: Tracking) -> Iterator[Any]:
    """A cursor whose statements are written, with the batch's ``tracking`` position, in
    one transaction; ``view`` is a view's tracking recorder (``db``; on PostgreSQL a
    PostgresView, with its ``advance_or_fail_statement``). On PostgreSQL the whole
    transaction - BEGIN, the position, the rows, COMMIT - leaves as one pipeline: one
    round trip where the library's transaction() and tracking insert took four (BEGIN,
    the rows, the tracking row's answer, COMMIT), paid by each of seven views on every
    batch the projector applies (issue 19). The position goes first, so a second process
    applying the same batch waits on its row and then fails rather than writing the rows
    twice."""
    db: SqlDatabase = view.db
    if not db.is_postgres:
        with db.rebuildable_transaction() as cursor:
            yield cursor
            view._insert_tracking(cursor, tracking)  # the library's, after the rows
        return
    if not db.datastore.single_row_tracking:
        with db.transaction(commit=True) as cursor, db.pipeline(cursor) as batch:
            yield batch
            view._insert_tracking(cursor, tracking)
        return
    statement = view.advance_or_fail_statement
    position = {
        "application_name": tracking.application_name,
        "notification_id": tracking.notification_id,
    }
    with db.datastore.get_connection() as conn:
        try:
            with conn.pipeline(), conn.cursor() as batch:
                batch.execute("BEGIN")
                # A view is derived from the log, so its COMMIT need not wait for the
                # WAL to reach the disk: a crash may undo the whole batch (its position
                # with it), which is applied again. Any later commit that waits makes
                # this one durable too; it is visible at once either way.
                batch.execute("SET LOCAL synchronous_commit = off")
                batch.execute(statement, position, prepare=True)
                yield batch
                batch.execute("COMMIT")
        except psycopg.errors.DivisionByZero as error:
            _roll_back(conn)
            raise IntegrityError(
                f"Failed to record tracking for {tracking.application_name} "
                f"{tracking.notification_id}: the view is already past it"
            ) from error
        except BaseException:
            _roll_back(conn)  # not left to the pool, which would warn of it
            raise


def _roll_back(conn: Any) -> None:
    with suppress(psycopg.Error):  # a lost connection: the pool discards it anyway
        conn.rollback()


def row_batch(changes: Sequence[Any]) -> RowBatch:
    batch = RowBatch()
    for change in changes:
        batch.add(
            change.ticket_id,
            change.fields,
            insert=change.insert,
            only_if_status=change.only_if_status,
        )
    return batch


@lru_cache(maxsize=1024)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


@lru_cache(maxsize=1024)
def _update_sql(table: str, columns: tuple[str, ...], guarded: bool) -> str:
    sets = ", ".join(f"{c} = :{c}" for c in columns)
    guard = " AND status = :only_if_status" if guarded else ""
    return f"UPDATE {table} SET {sets} WHERE id = :id{guard}"


def bare_name(qualified: str) -> str:
    """The table name without schema or quotes (what RENAME TO takes)."""
    return qualified.split(".")[-1].strip('"')


class SQLiteView(SQLiteViewTracking):
    view_name: str

    def __init__(self, datastore: SQLiteDatastore, suffix: str = "", **kwargs: Any):
        self.tracking_table_name = f"tracking_{self.view_name}{suffix}"
        self._setup_rows(datastore, suffix)
        super().__init__(datastore, **kwargs)

    def create_table(self) -> None:
        super().create_table()
        self.create_row_tables()


class PostgresView(PostgresTrackingRecorder):
    view_name: str

    def __init__(self, datastore: PostgresDatastore, suffix: str = "", **kwargs: Any):
        self._setup_rows(datastore, suffix)
        super().__init__(
            datastore, tracking_table_name=f"tracking_{self.view_name}{suffix}", **kwargs
        )
        # Rendered once: written_with_position sends it with every batch.
        self.advance_or_fail_statement = _ADVANCE_OR_FAIL.format(
            upsert=self.insert_tracking_statement.as_string()
        )

    def create_table(self) -> None:
        super().create_table()
        self.create_row_tables()
