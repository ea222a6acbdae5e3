"""Event recorders that also write side records in the events' own transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, retry
from psycopg import Connection
from psycopg.sql import SQL, Composable, Composed, Identifier

from application.assumed_reads import StaleRead, stale_reads
from application.idempotency import IdempotencyOutcome
from domain.audit_chain import Break
from infrastructure.audit_log import insert_links, instants_of, read_chain_ends, write_links
from infrastructure.crypto import destroy_key
from infrastructure.group_commit import GroupCommit
from infrastructure.idempotency import write_outcome
from infrastructure.pool_ping import ping_only_idle_connections
from infrastructure.pool_reconnect import reconnect_promptly
from infrastructure.postgres_group_commit import EventWrite, PostgresGroupCommit
from infrastructure.read_ahead import AnswersAhead
from infrastructure.snapshot_seals import OneRead, SnapshotSeals
from infrastructure.sql import SqlDatabase
from infrastructure.sqlite_lock import sqlite_write_lock
from infrastructure.ticket_numbers import TicketNumbers, write_numbers

log = logging.getLogger("atende.recorder")


class NumberedTickets:
    """What both ticket recorders share: the numbers table their writes fill in."""

    datastore: SQLiteDatastore | PostgresDatastore
    events_table_name: str

    @cached_property
    def numbers(self) -> TicketNumbers:
        return TicketNumbers(SqlDatabase(self.datastore), self.events_table_name)


class SQLiteTicketRecorder(AnswersAhead, NumberedTickets, SQLiteApplicationRecorder):
    link_seal_key: bytes | None = None  # set by AtendeSQLiteFactory (LINK_SEAL_KEY)
    # A command may read small aggregates from its process's cache without asking; each
    # write checks what it assumed once it holds the write lock, in one statement
    # (application/assumed_reads.py): two reads fewer for a new ticket, outside the lock.
    verifies_reads = True

    @cached_property
    def _group_commit(self) -> GroupCommit:
        # SqlDatabase's write transaction takes the cross-process write lock first.
        return GroupCommit("events", SqlDatabase(self.datastore).transaction)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The process's writes waiting together share a commit (infrastructure/
        # group_commit.py), each in a savepoint of its own.
        numbered: list[Callable[[], dict[UUID, int]]] = []
        positions = self._group_commit.run(
            lambda c: self._insert_events(c, stored_events, numbered=numbered, **kwargs)
        )
        for given in numbered:  # committed: the numbers are the tickets' for good
            self.numbers.remember(given())
        return positions

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency: IdempotencyOutcome | None = None,
        occurred_at: Sequence[datetime] = (),
        erase_key_of: UUID | None = None,
        numbered: list[Callable[[], dict[UUID, int]]] | None = None,
        assumed: Mapping[UUID, int] | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # Events first: the INSERT takes SQLite's write lock, so the side writes
        # cannot meet a concurrent writer after having read (deferred BEGIN), and the
        # head of the hash chain read next is the real head.
        positions = super()._insert_events(c, stored_events, **kwargs)
        db = SqlDatabase(self.datastore)
        if assumed:
            # Under the write lock: nothing can change them before the COMMIT.
            self._refuse_stale(db, c, assumed, {e.originator_id for e in stored_events})
        if stored_events:
            write_links(db, c, stored_events, positions or [], occurred_at, self.link_seal_key)
            given = write_numbers(db, c, stored_events, positions or [])
            if numbered is not None:
                numbered.append(given)
        if idempotency is not None:
            write_outcome(db, c, idempotency)
        if erase_key_of is not None:
            destroy_key(db, c, erase_key_of)
        return positions

    def _refuse_stale(
        self, db: SqlDatabase, c: Any, assumed: Mapping[UUID, int], written: set[UUID]
    ) -> None:
        """StaleRead if an aggregate the command read unasked moved since (one the write
        extends is left out: the unique (originator, version) index checks it)."""
        ids = [i for i in assumed if i not in written]
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        c.execute(
            f"SELECT originator_id, MAX(originator_version) FROM {self.events_table_name} "
            f"WHERE originator_id IN ({marks}) GROUP BY originator_id",
            [i.hex for i in ids],
        )
        found = {UUID(row[0]): row[1] for row in c.fetchall()}
        if stale := stale_reads(assumed, found, written):
            raise StaleRead(stale)

    def position_of(self, originator_id: UUID, version: int) -> int:
        return self.positions_of(originator_id, (version,))[version]

    def positions_of(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        """The global positions of some of an aggregate's versions, in one query."""
        marks = ", ".join("?" * len(versions))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_version, rowid FROM {self.events_table_name} "
                f"WHERE originator_id=? AND originator_version IN ({marks})",
                (originator_id.hex, *versions),
            )
            return {row[0]: row[1] for row in c.fetchall()}


# eventsourcing retries each PostgreSQL call ten times; behind the 3 s pool timeout that
# holds a request for half a minute when the database is down (reliability drill b).
# One retry covers a connection that died in the pool; after it the HTTP layer answers
# 503 + Retry-After (Clarification 10).
_retry_once = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)


class BinaryEventSelect:
    """An aggregate's events fetched in binary. Fetched as text, bytea
    travels as hex, twice its size, and is parsed back: a 260 KB snapshot (a ticket with
    1,200 messages) took 2.7 ms to fetch that way and 0.6 ms in binary. Otherwise the
    library's ``select_events``, whose cursor cannot be asked for binary rows."""

    datastore: PostgresDatastore
    select_events_statement: Composed

    @cached_property
    def _select_events_text(self) -> str:
        return self.select_events_statement.as_string()

    @_retry_once
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        # Text, not the library's composed SQL: psycopg caches a text query's conversion,
        # and renders a composed one anew on every run (_as_text).
        statement, params = self._select_events_text, [originator_id]
        if gt is not None:
            statement += " AND originator_version > %s"
            params.append(gt)
        if lte is not None:
            statement += " AND originator_version <= %s"
            params.append(lte)
        statement += (
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC"
        )
        if limit is not None:
            statement += " LIMIT %s"
            params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in curs.fetchall()
            ]


SNAPSHOT_SEAL_KEY = "SNAPSHOT_SEAL_KEY"
LINK_SEAL_KEY = "LINK_SEAL_KEY"


def _seal_key(env: Environment, name: str = SNAPSHOT_SEAL_KEY) -> bytes:
    text = env.get(name)
    if not text:
        raise OSError(
            f"{name} is not set: snapshots and hash records are sealed with keys derived "
            "from ATENDE_SECRET_KEY (infrastructure/derived_keys.py)"
        )
    return bytes.fromhex(text)


def _with_link_seals(recorder: Any, env: Environment) -> Any:
    recorder.link_seal_key = _seal_key(env, LINK_SEAL_KEY)
    return recorder


class SealedSnapshots:
    """What the SQLite and PostgreSQL snapshot recorders share: the seals table beside
    theirs, reading back only sound snapshots, and naming (or retaking) the others."""

    seals: SnapshotSeals
    events_table: str  # the application recorder's, read with the snapshots in one go

    def create_table(self) -> None:
        super().create_table()  # type: ignore[misc]
        self.seals.create_table()

    def select_newest_and_after(
        self, originator_id: UUID, ahead: Mapping[UUID, int | None] | None = None
    ) -> OneRead | None:
        """The newest sound snapshot and the aggregate's events after it, and the events
        of ``ahead``'s aggregates after their versions, in one read
        (application/ticket_loads.py); None when the newest snapshot is refused."""
        return self.seals.newest_and_after(originator_id, self.events_table, ahead or {})

    def select_after(
        self, originator_id: UUID, after: int, ahead: Mapping[UUID, int | None] | None = None
    ) -> OneRead:
        """The aggregate's events after version ``after``, and ``ahead``'s as
        ``select_newest_and_after`` reads them, in one read: no snapshot is asked for
        (application/ticket_loads.py, an aggregate the process kept)."""
        return self.seals.events_after(originator_id, after, self.events_table, ahead or {})

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.seals.select(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def first_refused(self, originator_id: UUID | None = None) -> Break | None:
        """The first stored snapshot that loading refuses (for verify)."""
        return self.seals.first_refused(originator_id)

    def retake_refused(self, take: Callable[[UUID, int], None]) -> int:
        return self.seals.retake_refused(take)


class SQLiteSnapshotRecorder(SealedSnapshots, SQLiteAggregateRecorder):
    """Snapshots, each sealed in its own transaction; only sound ones are read back."""

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str, *, seal_key: bytes, events: str
    ):
        super().__init__(datastore, events_table_name)
        self.seals = SnapshotSeals(datastore, seal_key, events_table_name)
        self.events_table = events

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        seals = self.seals.seals_for(stored_events)
        with sqlite_write_lock(self.datastore), self.datastore.transaction(commit=True) as c:
            self._insert_events(c, stored_events, **kwargs)
            self.seals.write(c, seals)
        return None


class AtendeSQLiteFactory(SQLiteFactory):
    """The library's factory, with sealed snapshots and sealed hash records."""

    def application_recorder(self) -> ApplicationRecorder:
        return _with_link_seals(super().application_recorder(), self.env)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        if purpose != "snapshots":
            return super().aggregate_recorder(purpose)
        return SQLiteSnapshotRecorder(
            self.datastore, f"stored_{purpose}", seal_key=_seal_key(self.env),
            events="stored_events",
        )  # fmt: skip


class PostgresSnapshotRecorder(SealedSnapshots, PostgresAggregateRecorder):
    """Snapshots, each sealed in its own transaction; only sound ones are read back
    (in binary, SnapshotSeals)."""

    def __init__(
        self, datastore: PostgresDatastore, events_table_name: str, *, seal_key: bytes, events: str
    ):
        super().__init__(datastore, events_table_name=events_table_name)
        self.seals = SnapshotSeals(datastore, seal_key, events_table_name)
        self.events_table = events

    select_events = _retry_once(SealedSnapshots.select_events)
    select_newest_and_after = _retry_once(SealedSnapshots.select_newest_and_after)

    @_retry_once
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        seals = self.seals.seals_for(stored_events)
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                self._insert_stored_events(curs, stored_events, **kwargs)
            with conn.cursor() as curs:
                self.seals.write(curs, seals)
        return None


class AtendePostgresFactory(PostgresFactory):
    """The library's factory, with sealed snapshots and sealed hash records, and pooled
    connections pinged only when idle (infrastructure/pool_ping.py) and replaced promptly
    once PostgreSQL is back (infrastructure/pool_reconnect.py)."""

    def __init__(self, env: Environment):
        super().__init__(env)
        ping_only_idle_connections(self.datastore.pool)
        reconnect_promptly(self.datastore.pool)

    def application_recorder(self) -> ApplicationRecorder:
        return _with_link_seals(super().application_recorder(), self.env)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        if purpose != "snapshots":
            return super().aggregate_recorder(purpose)
        prefix = self.env.name.lower() or "stored"  # the library's table name
        return PostgresSnapshotRecorder(
            self.datastore, f"{prefix}_{purpose}", seal_key=_seal_key(self.env),
            events=f"{prefix}_events",
        )  # fmt: skip


class PostgresTicketRecorder(
    AnswersAhead, NumberedTickets, BinaryEventSelect, PostgresApplicationRecorder
):
    link_seal_key: bytes | None = None  # set by AtendePostgresFactory (LINK_SEAL_KEY)
    # A command may read small aggregates from its process's cache without asking, and
    # this recorder checks what it assumed under the events table's lock
    # (application/assumed_reads.py): two round trips fewer for a new ticket.
    verifies_reads = True
    select_notifications = _retry_once(PostgresApplicationRecorder.select_notifications.__wrapped__)
    max_notification_id = _retry_once(PostgresApplicationRecorder.max_notification_id.__wrapped__)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.insert_events_statement = _as_text(self.insert_events_statement)
        self.lock_table_statements = [_as_text(s) for s in self.lock_table_statements]
        self._notify_statement = _as_text(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self._notify_statement)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert, retrying once after a lost connection (``_retry_once``'s reason) - but
        first asking whether the first attempt's COMMIT was applied and only its
        acknowledgement lost: then the write is there, and a retry would hit the unique
        (originator, version) index and answer an error for a write that happened."""
        try:
            return self._insert_or_fail(stored_events, **kwargs)
        except (InterfaceError, OperationalError):
            time.sleep(0.2)
            stored = self._already_stored(stored_events)
            if stored is not None:
                log.warning("a commit's acknowledgement was lost; its write is stored")
                return stored
            return self._insert_or_fail(stored_events, **kwargs)

    def _already_stored(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The positions of exactly these events (same topic and state bytes), if every
        one is stored; None otherwise (a different event at a version is a conflict, which
        the retry reports as one)."""
        if not stored_events:
            return None
        keys = [(s.originator_id, s.originator_version) for s in stored_events]
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT originator_id, originator_version, topic, state, notification_id "
                f'FROM "{self.datastore.schema}"."{self.events_table_name}" '
                "WHERE (originator_id, originator_version) IN "
                f"({', '.join(['(%s, %s)'] * len(keys))})",
                [value for key in keys for value in key],
            )
            found = {
                (row["originator_id"], row["originator_version"]): row for row in curs.fetchall()
            }
        positions = []
        for event, key in zip(stored_events, keys, strict=True):
            row = found.get((UUID(str(key[0])), key[1]))
            if (
                row is None
                or row["topic"] != event.topic
                or bytes(row["state"]) != bytes(event.state)
            ):
                return None
            positions.append(row["notification_id"])
        return positions

    def _insert_or_fail(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        write = EventWrite(
            stored_events, kwargs.pop("occurred_at", ()), kwargs.pop("assumed", None), kwargs
        )
        if not stored_events or kwargs.get("erase_key_of") is not None:
            # Nothing to chain, or a customer's key destroyed: rare, and alone.
            return self._write([write])[0]
        # The writes this process has waiting go together (postgres_group_commit.py).
        return self._group_commit.run(write)

    @cached_property
    def _group_commit(self) -> PostgresGroupCommit:
        return PostgresGroupCommit(self._write)

    def _write(self, writes: list[EventWrite]) -> list[Any]:
        """Write in one transaction, and number the tickets opened; each write's
        positions (None for a write of no events)."""
        # A write that fails midway is rolled back by the pool's connection context
        # (psycopg's Connection.__exit__), after its pipeline's closing sync.
        with SqlDatabase(self.datastore).pipelined_connection() as conn:
            written = self._write_in(conn, writes)
        if written is None:
            return [None]
        positions, given = written
        self.numbers.remember(given())  # committed: the numbers are theirs for good
        each: list[Any] = []
        for write in writes:
            each.append(positions[: len(write.events)])
            positions = positions[len(write.events) :]
        return each

    def _write_in(
        self, conn: Connection, writes: list[EventWrite]
    ) -> tuple[list[int], Callable[[], dict[UUID, int]]] | None:
        """One transaction in two round trips, the events table's lock held across one
        answer, whatever the number of writes.

        The first flush carries BEGIN, the side writes, the LOCK, the events' INSERT ...
        RETURNING, the reads of the hash chain's ends (after the LOCK: the head read
        is the real head, Clarification 14) and of the versions the commands assumed
        (``assumed``, application/assumed_reads.py: after the LOCK, so they cannot change
        before the COMMIT); the second, once Python has hashed the new links and found
        the assumptions true, carries the links, new tickets' numbers and COMMIT. A
        stale assumption raises StaleRead instead, and the connection's context rolls
        the transaction back. The library's
        transaction() is not used for BEGIN and COMMIT: in a pipeline each of them waits
        for its own answer, two more round trips, the COMMIT's under the lock.
        """
        with conn.cursor() as side:
            side.execute("BEGIN")
            for write in writes:
                self._insert_events(side, write.events, **write.side)
        stored_events = [event for write in writes for event in write.events]
        if not stored_events:
            conn.execute("COMMIT")
            return None
        occurred_at = [t for w in writes for t in instants_of(w.events, w.occurred_at)]
        db = SqlDatabase(self.datastore)
        with conn.cursor() as curs:
            self._insert_stored_events(curs, stored_events)
            ends = read_chain_ends(db, curs, stored_events)
            stale = self._check_assumed(curs, writes)
            positions = [row["notification_id"] for row in curs.fetchall()]
        if stale is not None and (found := stale()):
            raise StaleRead(found)
        with conn.cursor() as links:
            insert_links(db, links, stored_events, positions, occurred_at, ends, self.link_seal_key)
            # Under the table lock, like the links: numbers follow positions.
            given = write_numbers(db, links, stored_events, positions)
            links.execute("COMMIT")
        return positions, given

    def _check_assumed(
        self, curs: Any, writes: list[EventWrite]
    ) -> Callable[[], dict[UUID, tuple[int, int]]] | None:
        """Ask for the current versions of what the commands assumed; answers the stale
        ones once the pipeline has synced. An aggregate the writes themselves extend is
        left out: the unique (originator, version) index checks it already."""
        written = {a for write in writes for a in write.aggregates}
        ids = list({i for write in writes for i in write.assumes} - written)
        if not ids:
            return None
        reader = curs.connection.cursor()  # in a pipeline a cursor keeps only its last result
        reader.execute(self._assumed_versions_statement, (ids,))

        def stale() -> dict[UUID, tuple[int, int]]:
            found = {row["originator_id"]: row["version"] for row in reader.fetchall()}
            return {
                i: versions
                for write in writes
                for i, versions in stale_reads(write.assumed or {}, found, written).items()
            }

        return stale

    @cached_property
    def _assumed_versions_statement(self) -> str:
        return (
            "SELECT originator_id, MAX(originator_version) AS version "
            f'FROM "{self.datastore.schema}"."{self.events_table_name}" '
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        )

    def _insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        idempotency: IdempotencyOutcome | None = None,
        erase_key_of: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        # Runs inside the same transaction as the events' INSERT (see insert_events).
        super()._insert_events(curs, stored_events, **kwargs)
        db = SqlDatabase(self.datastore)
        if idempotency is not None:
            write_outcome(db, curs, idempotency)
        if erase_key_of is not None:
            destroy_key(db, curs, erase_key_of)

    def position_of(self, originator_id: UUID, version: int) -> int:
        return self.positions_of(originator_id, (version,))[version]

    def positions_of(self, originator_id: UUID, versions: Sequence[int]) -> dict[int, int]:
        """The global positions of some of an aggregate's versions, in one query."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT originator_version, notification_id "
                f'FROM "{self.datastore.schema}"."{self.events_table_name}" '
                "WHERE originator_id=%s AND originator_version = ANY(%s)",
                (originator_id, list(versions)),
            )
            return {row["originator_version"]: row["notification_id"] for row in curs.fetchall()}


def _as_text(statement: Any) -> Any:
    """The library's composed SQL (psycopg.sql) as plain text, rendered once. psycopg
    renders a composed statement to bytes on every run, and caches the conversion of a
    text one: on the write path, with five statements, that was 0.3 ms a request."""
    return statement.as_string() if isinstance(statement, Composable) else statement
