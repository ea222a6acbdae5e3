"""The side tables of the audit trail: each event's hashes and timestamp, and signed
checkpoints of the chain head (the access log is infrastructure/access_log.py).

The links are written by the recorder (infrastructure/recorders.py) in the events' own
transaction, after the events' INSERT: on PostgreSQL the table lock is held by then, on
SQLite the write lock, so the head of the chain read here is the real head (Clarification 14).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.audit_chain import GENESIS, Checkpoint, LinkRow, StoredRow, link_rows, micros
from infrastructure.sql import SqlDatabase, as_uuid
from infrastructure.views.bulk import rows_param, table_rows

LINKS = "event_links"
CHECKPOINTS = "audit_checkpoints"

CREATE = [
    "CREATE TABLE IF NOT EXISTS {links} (position BIGINT PRIMARY KEY, "
    "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, "
    "occurred_at BIGINT NOT NULL, event_hash TEXT NOT NULL, chain_hash TEXT NOT NULL, "
    "prev_position BIGINT NOT NULL, prev_chain_hash TEXT NOT NULL, seal TEXT)",
    # As-of finds the last version at or before an instant; the ticket's chain is walked
    # by version.
    "CREATE UNIQUE INDEX IF NOT EXISTS {links_name}_version "
    "ON {links} (originator_id, originator_version)",
    "CREATE INDEX IF NOT EXISTS {links_name}_time ON {links} (originator_id, occurred_at)",
    "CREATE INDEX IF NOT EXISTS {links_name}_at ON {links} (occurred_at)",
    "CREATE TABLE IF NOT EXISTS {checkpoints} (position BIGINT PRIMARY KEY, "
    "chain_hash TEXT NOT NULL, created_at TEXT NOT NULL, signature TEXT NOT NULL)",
]

# Rows written before links were sealed have none (LinkRow.seal).
SEAL_COLUMN = "ALTER TABLE {links} ADD COLUMN seal TEXT"
_WRITTEN_COLUMNS = (
    "position", "originator_id", "originator_version", "occurred_at", "event_hash",
    "chain_hash", "prev_position", "prev_chain_hash", "seal",
)  # fmt: skip
_INSERT_LINK = (
    f"INSERT INTO {{t}} ({', '.join(_WRITTEN_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _WRITTEN_COLUMNS)})"
)


@lru_cache(maxsize=8)
def _insert_links(table: str) -> str:
    """``_INSERT_LINK`` for all of a write's links at once (PostgreSQL)."""
    columns = ", ".join(_WRITTEN_COLUMNS)
    return f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table_rows(table)}"


_LINK_COLUMNS = (
    "position, originator_id, originator_version, event_hash, chain_hash, prev_position, "
    "prev_chain_hash, occurred_at, seal"
)
PAGE = 5000


def write_links(
    db: SqlDatabase,
    cursor: Any,
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    occurred_at: Sequence[datetime],
    seal_key: bytes | None = None,
) -> None:
    """Hash the events just inserted at ``positions`` onto the chain (same transaction)."""
    ends = read_chain_ends(db, cursor, stored_events)
    insert_links(db, cursor, stored_events, positions, occurred_at, ends, seal_key)


# Rows of a read: fetched already (SQLite), or once wanted (PostgreSQL's pipeline).
Rows = Callable[[], list[tuple]]


@dataclass
class ChainEnds:
    """What the links of a write hang from: the chain's head, and the hash of each
    written aggregate's version before the first one written. On PostgreSQL the two
    reads are sent (read_chain_ends) before their answers are wanted, so they travel
    with the events' INSERT in one round trip."""

    head: Rows
    previous: Rows

    def fetch(self) -> tuple[int, str, dict[tuple[UUID, int], str]]:
        found = self.head()
        head_position, head_chain = found[0] if found else (0, GENESIS)
        return head_position, head_chain, {(UUID(o), v): h for o, v, h in self.previous()}


def read_chain_ends(
    db: SqlDatabase, cursor: Any, stored_events: Sequence[StoredEvent]
) -> ChainEnds:
    """Ask for the chain's ends; call after the events' INSERT, which holds the write lock
    (so the head read is the real head)."""

    def read(statement: str, params: dict[str, Any] | None = None) -> Rows:
        if not db.is_postgres:
            db.execute(cursor, statement, params)
            rows = db.fetch_values(cursor)
            return lambda: rows
        # A cursor of its own: in a pipeline a cursor keeps only its last result.
        reader = cursor.connection.cursor()
        db.execute(reader, statement, params)
        return partial(db.fetch_values, reader)

    head = read(
        f"SELECT position, chain_hash FROM {db.table(LINKS)} ORDER BY position DESC LIMIT 1"
    )
    firsts: dict[UUID, int] = {}
    for s in stored_events:
        originator = as_uuid(s.originator_id)
        firsts[originator] = min(firsts.get(originator, s.originator_version), s.originator_version)
    wanted = [(o, v - 1) for o, v in firsts.items() if v > 1]
    if not wanted:
        return ChainEnds(head, list)
    clauses, params = _versions_clause(wanted)
    previous = read(
        f"SELECT originator_id, originator_version, event_hash FROM {db.table(LINKS)} "
        f"WHERE {clauses}",
        params,
    )
    return ChainEnds(head, previous)


def insert_links(
    db: SqlDatabase,
    cursor: Any,
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    occurred_at: Sequence[datetime],
    ends: ChainEnds,
    seal_key: bytes | None = None,
) -> None:
    """Insert the links of the events just inserted at ``positions``."""
    head_position, head_chain, prev_hashes = ends.fetch()
    instants = instants_of(stored_events, occurred_at)
    rows = [
        (p, as_uuid(s.originator_id), s.originator_version, s.topic, bytes(s.state), micros(at))
        for p, s, at in zip(positions, stored_events, instants, strict=True)
    ]
    links = link_rows(
        sorted(rows, key=lambda r: r[0]), prev_hashes, head_position, head_chain, seal_key
    )
    params = [
        {
            "position": link.position,
            "originator_id": link.originator_id.hex,
            "originator_version": link.version,
            "occurred_at": link.occurred_at,
            "event_hash": link.event_hash,
            "chain_hash": link.chain_hash,
            "prev_position": link.prev_position,
            "prev_chain_hash": link.prev_chain_hash,
            "seal": link.seal,
        }
        for link in links
    ]
    if db.is_postgres:
        # One statement, not one per link: each statement in a pipeline is Python of
        # psycopg's and a send of its own, under the events table's lock (issue 19).
        db.execute(cursor, _insert_links(db.table(LINKS)), rows_param(params))
    else:
        db.executemany(cursor, _INSERT_LINK.format(t=db.table(LINKS)), params)


class AuditLog:
    """Reads of the links (verify, as-of, export) and the checkpoints."""

    def __init__(self, db: SqlDatabase, events_table: str):
        self.db = db
        self.links = db.table(LINKS)
        self.checkpoints_table = db.table(CHECKPOINTS)
        self.events_table = events_table
        self.events = db.table(events_table)
        # SQLite's events table has no position column: its rowid is the position.
        self._position = "notification_id" if db.is_postgres else "rowid"

    def create_table(self) -> None:
        names = {
            "links": self.links,
            "links_name": LINKS,
            "checkpoints": self.checkpoints_table,
        }
        self.db.create_tables([s.format(**names) for s in CREATE])
        with self.db.transaction(commit=True) as cursor:
            if not self.db.has_column(cursor, LINKS, "seal"):
                self.db.execute(cursor, SEAL_COLUMN.format(links=self.links))

    # As of.

    def version_at(self, originator_id: UUID, at: datetime) -> int | None:
        """The aggregate's last version recorded at or before ``at``."""
        row = self.db.fetchone(
            f"SELECT originator_version FROM {self.links} WHERE originator_id = :id "
            "AND occurred_at <= :at ORDER BY occurred_at DESC, originator_version DESC LIMIT 1",
            {"id": originator_id.hex, "at": micros(at)},
        )
        return None if row is None else row["originator_version"]

    def versions_between(
        self, originator_id: UUID, start: datetime | None, end: datetime | None
    ) -> tuple[int, int] | None:
        """The first and last versions recorded within [start, end]."""
        clauses, params = ["originator_id = :id"], {"id": originator_id.hex}
        if start is not None:
            clauses.append("occurred_at >= :start")
            params["start"] = micros(start)
        if end is not None:
            clauses.append("occurred_at <= :end")
            params["end"] = micros(end)
        row = self.db.fetchone(
            "SELECT MIN(originator_version) AS lo, MAX(originator_version) AS hi "
            f"FROM {self.links} WHERE {' AND '.join(clauses)}",
            params,
        )
        return None if row is None or row["lo"] is None else (row["lo"], row["hi"])

    def positions_between(self, start: datetime, end: datetime) -> tuple[int, int] | None:
        row = self.db.fetchone(
            f"SELECT MIN(position) AS lo, MAX(position) AS hi FROM {self.links} "
            "WHERE occurred_at >= :start AND occurred_at <= :end",
            {"start": micros(start), "end": micros(end)},
        )
        return None if row is None or row["lo"] is None else (row["lo"], row["hi"])

    # The chain.

    def stored_rows(self, after: int = 0, upto: int | None = None) -> Iterator[StoredRow]:
        """The events table in position order, page by page."""
        p = self._position
        while True:
            rows = self._page(
                f"SELECT {p}, originator_id, originator_version, topic, state FROM {self.events} "
                f"WHERE {p} > :after{'' if upto is None else f' AND {p} <= :upto'} "
                f"ORDER BY {p} LIMIT {PAGE}",
                {"after": after, "upto": upto},
            )
            ids = _Ids()
            for position, originator, version, topic, state in rows:
                yield StoredRow(position, ids.of(originator), version, topic, _state_bytes(state))
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def link_rows(self, after: int = 0, upto: int | None = None) -> Iterator[LinkRow]:
        while True:
            rows = self._page(
                f"SELECT {_LINK_COLUMNS} FROM {self.links} WHERE position > :after"
                f"{'' if upto is None else ' AND position <= :upto'} "
                f"ORDER BY position LIMIT {PAGE}",
                {"after": after, "upto": upto},
            )
            ids = _Ids()
            for row in rows:
                yield _link(row, ids)
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def chained_rows(
        self, after: int = 0, upto: int | None = None
    ) -> Iterator[list[tuple[StoredRow, LinkRow | None]]]:
        """The events after ``after`` (to ``upto``) in position order, each with its hash
        record, a page at a time, read in one joined query a page: verify's usual path.
        It cannot see a hash record whose event was deleted: verify counts the records
        (``link_count``) and, on a difference, walks ``stored_rows`` and ``link_rows``
        merged to name it (application/audit.py)."""
        p = self._position
        columns = ", ".join(f"l.{c.strip()}" for c in _LINK_COLUMNS.split(","))
        while True:
            # The page of events first, then its links: joined the other way round,
            # PostgreSQL hashes the whole links table for every page.
            rows = self._page(
                f"SELECT e.position, e.originator_id, e.originator_version, e.topic, e.state, "
                f"{columns} FROM (SELECT {p} AS position, originator_id, originator_version, "
                f"topic, state FROM {self.events} WHERE {p} > :after"
                f"{'' if upto is None else f' AND {p} <= :upto'} ORDER BY {p} LIMIT {PAGE}) e "
                f"LEFT JOIN {self.links} l ON l.position = e.position ORDER BY e.position",
                {"after": after, "upto": upto},
            )
            of, page = _Ids().of, []
            for position, originator, version, topic, state, *link in rows:
                event = StoredRow(position, of(originator), version, topic, _state_bytes(state))
                if link[0] is None:
                    page.append((event, None))
                else:
                    link[1] = of(link[1])
                    page.append((event, LinkRow._make(link)))
            if page:
                yield page
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def link_count(self, after: int = 0, upto: int | None = None) -> int:
        row = self.db.fetchone(
            f"SELECT COUNT(*) AS n FROM {self.links} WHERE position > :after"
            f"{'' if upto is None else ' AND position <= :upto'}",
            {"after": after, "upto": upto},
        )
        return row["n"]

    def link_at_or_before(self, position: int) -> LinkRow | None:
        rows = self._page(
            f"SELECT {_LINK_COLUMNS} FROM {self.links} WHERE position <= :position "
            "ORDER BY position DESC LIMIT 1",
            {"position": position},
        )
        return _link(rows[0]) if rows else None

    def event_hashes_of(
        self, wanted: Sequence[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], LinkRow]:
        """The hash records of these (aggregate, version) pairs, where they exist."""
        found: dict[tuple[UUID, int], LinkRow] = {}
        for start in range(0, len(wanted), 400):
            clauses, params = _versions_clause(wanted[start : start + 400])
            statement = f"SELECT {_LINK_COLUMNS} FROM {self.links} WHERE {clauses}"
            for row in self._page(statement, params):
                link = _link(row)
                found[(link.originator_id, link.version)] = link
        return found

    def aggregate_rows(self, originator_id: UUID) -> tuple[list[StoredRow], dict[int, LinkRow]]:
        """One aggregate's events by version, and their links by position."""
        p = self._position
        key = originator_id if self.db.is_postgres else originator_id.hex
        events = self._page(
            f"SELECT {p}, originator_id, originator_version, topic, state FROM {self.events} "
            "WHERE originator_id = :id ORDER BY originator_version",
            {"id": key},
        )
        links = self._page(
            f"SELECT {_LINK_COLUMNS} FROM {self.links} WHERE originator_id = :id",
            {"id": originator_id.hex},
        )
        return (
            [StoredRow(r[0], as_uuid(r[1]), r[2], r[3], _state_bytes(r[4])) for r in events],
            {row[0]: _link(row) for row in links},
        )

    def chain_hashes_at(self, positions: set[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        ordered = sorted(positions)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            marks = ", ".join(f":p{n}" for n in range(len(chunk)))
            rows = self._page(
                f"SELECT position, chain_hash FROM {self.links} WHERE position IN ({marks})",
                {f"p{n}": position for n, position in enumerate(chunk)},
            )
            found.update(dict(rows))
        return found

    def event_hash_of(self, originator_id: UUID, version: int) -> str | None:
        row = self.db.fetchone(
            f"SELECT event_hash FROM {self.links} WHERE originator_id = :id "
            "AND originator_version = :version",
            {"id": originator_id.hex, "version": version},
        )
        return None if row is None else row["event_hash"]

    def head(self) -> tuple[int, str] | None:
        row = self.db.fetchone(
            f"SELECT position, chain_hash FROM {self.links} ORDER BY position DESC LIMIT 1"
        )
        return None if row is None else (row["position"], row["chain_hash"])

    def links_for(self, positions: Sequence[int]) -> dict[int, LinkRow]:
        if not positions:
            return {}
        rows = self._page(
            f"SELECT {_LINK_COLUMNS} FROM {self.links} WHERE position >= :lo AND position <= :hi",
            {"lo": min(positions), "hi": max(positions)},
        )
        wanted = set(positions)
        return {row[0]: _link(row) for row in rows if row[0] in wanted}

    # Checkpoints.

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.db.run(
            f"INSERT INTO {self.checkpoints_table} (position, chain_hash, created_at, signature) "
            "VALUES (:position, :chain_hash, :created_at, :signature) "
            "ON CONFLICT (position) DO NOTHING",
            {
                "position": checkpoint.position,
                "chain_hash": checkpoint.chain_hash,
                "created_at": checkpoint.created_at,
                "signature": checkpoint.signature,
            },
        )

    def last_checkpoint(self) -> Checkpoint | None:
        rows = self._page(
            f"SELECT position, chain_hash, created_at, signature FROM {self.checkpoints_table} "
            "ORDER BY position DESC LIMIT 1",
            {},
        )
        return Checkpoint(*rows[0]) if rows else None

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._page(
            f"SELECT position, chain_hash, created_at, signature FROM {self.checkpoints_table} "
            "ORDER BY position",
            {},
        )
        return [Checkpoint(*row) for row in rows]

    def _page(self, statement: str, params: dict[str, Any]) -> list[tuple]:
        with self.db.reading() as cursor:
            self.db.execute(cursor, statement, params)
            return self.db.fetch_values(cursor)


def _versions_clause(wanted: Sequence[tuple[UUID, int]]) -> tuple[str, dict[str, Any]]:
    """A WHERE clause matching these (aggregate, version) pairs in the links table."""
    clauses = " OR ".join(
        f"(originator_id = :i{n} AND originator_version = :v{n})" for n in range(len(wanted))
    )
    params: dict[str, Any] = {}
    for n, (originator, version) in enumerate(wanted):
        params[f"i{n}"], params[f"v{n}"] = originator.hex, version
    return clauses, params


def instants_of(
    stored_events: Sequence[StoredEvent], occurred_at: Sequence[datetime] = ()
) -> Sequence[datetime]:
    """When each event occurred: as its writer passed it, else as its state says."""
    return occurred_at or [_timestamp_of(s) for s in stored_events]


def _timestamp_of(stored: StoredEvent) -> datetime:
    """For writers that pass no timestamps (the application passes them): the one the
    library's JSON transcoder put in the state."""
    return datetime.fromisoformat(json.loads(stored.state)["timestamp"]["_data_"])


def _state_bytes(value: Any) -> bytes:
    """A stored state as bytes. SQLite keeps whatever type a raw UPDATE wrote (text after
    ``state || ' '``): verify must say the content changed, not fail to read it."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return b"" if value is None else bytes(value)


def _read_uuid(value: Any) -> UUID:
    """A stored id; one that is not a UUID at all (raw SQL on SQLite can write anything)
    reads as the nil UUID, which matches no hash record, so verify names the row."""
    try:
        return as_uuid(value)
    except (TypeError, ValueError, AttributeError):
        return UUID(int=0)


class _Ids:
    """One UUID per aggregate within a page: a ticket's events lie close together, and
    making a UUID from text took a sixth of verify's time."""

    def __init__(self) -> None:
        self._seen: dict[Any, UUID] = {}

    def of(self, value: Any) -> UUID:
        found = self._seen.get(value)
        if found is None:
            found = self._seen[value] = _read_uuid(value)
        return found


def _link(row: Sequence[Any], ids: _Ids | None = None) -> LinkRow:
    position, originator, version, eh, ch, prev_position, prev_chain, occurred_at, seal = row
    originator_id = _read_uuid(originator) if ids is None else ids.of(originator)
    return LinkRow(
        position, originator_id, version, eh, ch, prev_position, prev_chain, occurred_at, seal
    )
