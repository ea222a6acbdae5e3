"""Event recorders that also write side records in the events' own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry

from application.idempotency import IdempotencyOutcome
from infrastructure.idempotency import write_outcome
from infrastructure.sql import SqlDatabase
from infrastructure.sqlite_lock import sqlite_write_lock


class SQLiteTicketRecorder(SQLiteApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with sqlite_write_lock(self.datastore):
            return super().insert_events(stored_events, **kwargs)

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
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The library syncs the pipeline after the INSERT and commits in a second
        # round trip, holding the table lock (which serialises every writer) while
        # Python runs in between. Here BEGIN, side writes, LOCK, INSERT ... RETURNING
        # and COMMIT leave in one flush, so the lock is held only inside the server.
        with self.datastore.get_connection() as conn:
            with conn.pipeline(), conn.transaction():
                with conn.cursor() as side:
                    self._insert_events(side, stored_events, **kwargs)
                curs = conn.cursor()
                if stored_events:
                    self._insert_stored_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

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
