"""The follow-up view in SQL: resolved and pending tickets with when that began."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from infrastructure.sql import SqlDatabase
from infrastructure.views.base import PostgresView, SQLiteView, SqlViewRows
from projections.follow_up import FollowUpView

TABLE = "follow_up"
_WHERE = {
    "close": "status = 'resolved'",
    "remind": "status = 'pending' AND reminded = 0",
    "resolve": "status = 'pending'",
}


class SqlFollowUpRows(SqlViewRows, FollowUpView):
    db: SqlDatabase

    def _setup_rows(self, datastore: SQLiteDatastore | PostgresDatastore, suffix: str) -> None:
        self.db = SqlDatabase(datastore)
        self.t = self.db.table(TABLE + suffix)
        self.index_prefix = TABLE + suffix

    def create_row_tables(self) -> None:
        self.db.create_tables(
            [
                f"CREATE TABLE IF NOT EXISTS {self.t} (id TEXT PRIMARY KEY, "
                "status TEXT NOT NULL, since TEXT NOT NULL, reminded INTEGER NOT NULL)",
                *self.index_ddl(),
            ]
        )

    def due(
        self, kind: str, since_at_most: str, limit: int, after: tuple[str, str] | None = None
    ) -> list[tuple[str, str]]:
        params: dict[str, Any] = {"cutoff": since_at_most, "limit": limit}
        page = ""
        if after is not None:
            page = " AND (since, id) > (:after_since, :after_id)"
            params["after_since"], params["after_id"] = after
        statement = (
            f"SELECT since, id FROM {self.t} WHERE {_WHERE[kind]} AND since <= :cutoff{page} "
            "ORDER BY since, id LIMIT :limit"
        )
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return [(row[0], row[1]) for row in self.db.fetch_values(cursor)]

    def owned_tables(self) -> list[str]:
        return [self.t]

    def index_names(self) -> list[str]:
        return [f"{self.index_prefix}_by_status"]

    def index_ddl(self) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {self.index_prefix}_by_status "
            f"ON {self.t} (status, since, id)"
        ]


class SQLiteFollowUpView(SQLiteView, SqlFollowUpRows):
    view_name = TABLE


class PostgresFollowUpView(PostgresView, SqlFollowUpRows):
    view_name = TABLE
