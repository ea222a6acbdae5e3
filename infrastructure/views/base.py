"""What every SQL view shares: its concrete SQLite/PostgreSQL classes (rows mixin plus a
tracking recorder of its own) and the swap that promotes a rebuilt copy to live."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.tracking import SQLiteViewTracking


class SqlViewRows:
    """Mixin for a view's rows. Subclasses set ``db`` in ``_setup_rows`` and say which
    tables and indexes they own, so a rebuilt copy can be swapped in."""

    db: SqlDatabase
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
        with self.db.transaction(commit=True) as cursor:
            for change in changes:
                self._apply_change(cursor, change)
            self._insert_tracking(cursor, tracking)  # from the view's tracking recorder

    def _apply_change(self, cursor: Any, change: Any) -> None:
        raise NotImplementedError

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
