"""Event recorders that also write side records in the events' own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from application.idempotency import IdempotencyOutcome
from infrastructure.idempotency import write_outcome
from infrastructure.sql import SqlDatabase


class SQLiteTicketRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency: IdempotencyOutcome | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # Events first: the INSERT takes SQLite's write lock, so the side write
        # cannot meet a concurrent writer after having read (deferred BEGIN).
        positions = super()._insert_events(c, stored_events, **kwargs)
        if idempotency is not None:
            write_outcome(SqlDatabase(self.datastore), c, idempotency)
        return positions

    def position_of(self, originator_id: UUID, version: int) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} "
                "WHERE originator_id=? AND originator_version=?",
                (originator_id.hex, version),
            )
            return c.fetchone()[0]


class PostgresTicketRecorder(PostgresApplicationRecorder):
    def _insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency: IdempotencyOutcome | None = None,
        **kwargs: Any,
    ) -> None:
        # Runs inside the same transaction as the events' INSERT (see insert_events).
        super()._insert_events(curs, stored_events, **kwargs)
        if idempotency is not None:
            write_outcome(SqlDatabase(self.datastore), curs, idempotency)

    def position_of(self, originator_id: UUID, version: int) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f'SELECT notification_id FROM "{self.datastore.schema}"."{self.events_table_name}" '
                "WHERE originator_id=%s AND originator_version=%s",
                (originator_id, version),
            )
            return curs.fetchone()["notification_id"]
