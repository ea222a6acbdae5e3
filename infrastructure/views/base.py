"""What every SQL view shares: its concrete SQLite/PostgreSQL classes (rows mixin plus a
tracking recorder of its own), how a batch of row changes is written, and the swap that
promotes a rebuilt copy to live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.batch import Params, RowBatch, RowOp, grouped
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
        raise NotImplementedError

    def apply(self, changes: Sequence[Any], tracking: Tracking) -> None:
        """Apply a batch of row changes and record its position, in one transaction."""
        statements = self.statements(changes)
        with self.db.transaction(commit=True) as cursor, self.db.pipeline(cursor) as batch:
            for statement, params in statements:
                self.db.executemany(batch, statement, params)
            self._insert_tracking(cursor, tracking)  # from the view's tracking recorder

    def statements(self, changes: Sequence[Any]) -> list[tuple[str, list[Params]]]:
        """The batch's statements, in order, each with the parameters of every row it
        applies to (see infrastructure.views.batch)."""
        batch = RowBatch()
        for change in changes:
            batch.add(
                change.ticket_id,
                change.fields,
                insert=change.insert,
                only_if_status=change.only_if_status,
            )
        deletes = grouped(
            (f"DELETE FROM {self.t} WHERE id = :id", {"id": i}) for i in batch.deleted()
        )
        rounds = [grouped(self._row_statement(i, op) for i, op in ops) for ops in batch.rounds()]
        return deletes + [group for round_ in rounds for group in round_]

    def _row_statement(self, row_id: str, op: RowOp) -> tuple[str, Params]:
        params = {**op.fields, "id": row_id}
        if op.insert:
            columns = ", ".join(params)
            values = ", ".join(f":{c}" for c in params)
            return f"INSERT INTO {self.t} ({columns}) VALUES ({values})", params
        # Sorted, so updates of the same columns share a statement whatever their order.
        sets = ", ".join(f"{c} = :{c}" for c in sorted(op.fields))
        if op.guard is None:
            return f"UPDATE {self.t} SET {sets} WHERE id = :id", params
        params["only_if_status"] = op.guard
        return f"UPDATE {self.t} SET {sets} WHERE id = :id AND status = :only_if_status", params

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

    def create_table(self) -> None:
        super().create_table()
        self.create_row_tables()
