"""The access log: one row per request that served personal data (issue 16).

The table keeps its first name, ``history_reads``, from when only histories were logged:
the retention purge (infrastructure/retention.py) deletes by its ``at`` column. The
columns added since (route, item_count, ticket_ids, and the chain's seq, prev_seal and
seal) are added in place to existing databases, so rows written before them stay readable
(NULL there). The chain itself, and the walk that checks it, are
infrastructure/access_log_chain.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from domain.actor import Actor
from domain.audit_chain import Break
from infrastructure.access_log_chain import (
    HEAD,
    PURGED,
    SEALED_COLUMNS,
    ChainWalk,
    End,
    Legacy,
    legacy_break,
    row_seal,
)
from infrastructure.group_commit import BatchedGroupCommit
from infrastructure.sql import SqlDatabase

ACCESS_LOG = "history_reads"
ENDS = "history_reads_ends"
# A list read names at most this many tickets (every list route pages at most 200); the
# feed also records its position range, which names exactly what it served.
MAX_TICKET_IDS = 200
# Rows checked per query by the walk: 400 days of reads stream, never load at once.
PAGE = 2000

CREATE = [
    "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "
    "principal_id TEXT NOT NULL, principal_name TEXT NOT NULL, role TEXT NOT NULL, "
    "ticket_id TEXT, what TEXT NOT NULL, detail TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {name}_ticket ON {t} (ticket_id, at)",
    "CREATE INDEX IF NOT EXISTS {name}_at ON {t} (at, id)",
    "CREATE TABLE IF NOT EXISTS {ends} (name TEXT PRIMARY KEY, seq BIGINT NOT NULL, "
    "seal TEXT NOT NULL, mark TEXT NOT NULL)",
]
ADDED_COLUMNS = {
    "route": "TEXT", "item_count": "INTEGER", "ticket_ids": "TEXT",
    "seq": "BIGINT", "prev_seal": "TEXT", "seal": "TEXT",
}  # fmt: skip
_COLUMNS = (
    "id, at, principal_id, principal_name, role, ticket_id, what, detail, route, item_count, "
    "ticket_ids"
)
_SEALED = ", ".join(SEALED_COLUMNS)
_INSERT = (
    f"INSERT INTO {{t}} ({_SEALED}, seal) VALUES "
    f"({', '.join(':' + c for c in SEALED_COLUMNS)}, :seal)"
)


class ChainTampered(RuntimeError):
    """An end of the chain does not carry Atende's mark: appending or purging from it
    would cover what was done, so the write is refused and verify names it."""


class AccessLog:
    """Who read whose personal data: the principal, the route, and the ticket read or
    how many items a list served and which tickets they were. The rows form a keyed
    hash chain (infrastructure/access_log_chain.py)."""

    def __init__(self, db: SqlDatabase, key: bytes):
        self.db = db
        self.key = key
        # What the rows cannot show: on SQLite, whether this is the file the database
        # began with (infrastructure/access_log_file.py's FileOrigin); checked first.
        self.file_origin: Callable[[], Break | None] | None = None
        self.t = db.table(ACCESS_LOG)
        self.ends = db.table(ENDS)
        # Every read of personal data appends a row and commits it before it answers: on
        # SQLite behind the database's one write lock, on PostgreSQL behind the head's row
        # lock, a commit each, half a queue page's time. The reads a process has waiting
        # share one transaction and one commit instead (infrastructure/group_commit.py),
        # and one read and one write of the chain's head: the rows are chained in memory
        # and inserted together.
        self._appends = (
            BatchedGroupCommit("access_log", db.pipelined_connection, self._append_pipelined)
            if db.is_postgres
            else BatchedGroupCommit("access_log", db.transaction, self._append_rows)
        )

    def create_table(self) -> None:
        self.db.create_tables([s.format(t=self.t, name=ACCESS_LOG, ends=self.ends) for s in CREATE])
        with self.db.transaction(commit=True) as cursor:
            for column, kind in ADDED_COLUMNS.items():
                if not self.db.has_column(cursor, ACCESS_LOG, column):
                    self.db.execute(cursor, f"ALTER TABLE {self.t} ADD COLUMN {column} {kind}")
            self.db.execute(
                cursor, f"CREATE UNIQUE INDEX IF NOT EXISTS {ACCESS_LOG}_seq ON {self.t} (seq)"
            )
            for end in (End(HEAD), End(PURGED)):
                self.db.execute(
                    cursor,
                    f"INSERT INTO {self.ends} (name, seq, seal, mark) VALUES "
                    "(:name, :seq, :seal, :mark) ON CONFLICT (name) DO NOTHING",
                    self._end_params(end),
                )

    def record(
        self,
        actor: Actor,
        route: str,
        what: str,
        *,
        ticket_id: UUID | None = None,
        ticket_ids: Sequence[str] = (),
        count: int | None = None,
        detail: str = "",
    ) -> None:
        """One row, committed before the caller answers: if it cannot be written, the
        caller fails rather than serve an unlogged read. Appends are serialised by the
        head's row lock (PostgreSQL) or the write lock (SQLite), so the chain stays in
        order; those of one process that queue up are committed together."""
        named = list(dict.fromkeys(ticket_ids))[:MAX_TICKET_IDS]
        row = {
            "id": uuid.uuid4().hex,
            "principal_id": actor.id,
            "principal_name": actor.name,
            "role": actor.role,
            "ticket_id": None if ticket_id is None else str(ticket_id),
            "what": what,
            "detail": detail,
            "route": route,
            "item_count": count,
            "ticket_ids": " ".join(named) if named else None,
        }
        self._appends.run(row)

    def _append_rows(self, rows: list[dict[str, Any]], cursor: Any) -> list[None]:
        """SQLite: append ``rows`` in the transaction of ``cursor`` (the write lock held)."""
        sealed, head = self._chained(rows, self._end(cursor, HEAD, lock=True))
        self._insert(cursor, sealed, head)
        return [None] * len(rows)

    def _append_pipelined(self, rows: list[dict[str, Any]], conn: Any) -> list[None]:
        """PostgreSQL: two round trips, the head's row lock held across one answer:
        BEGIN and the locked read of the head; then the rows, the head and COMMIT. The
        library's transaction() would add a round trip for BEGIN and one for COMMIT,
        that one under the lock. What an error leaves open, ``pipelined_connection``'s
        connection rolls back."""
        with conn.cursor() as cursor:
            cursor.execute("BEGIN")
            head = self._end(cursor, HEAD, lock=True)
        sealed, head = self._chained(rows, head)
        with conn.cursor() as cursor:
            self._insert(cursor, sealed, head)
            cursor.execute("COMMIT")
        return [None] * len(rows)

    def _chained(self, rows: list[dict[str, Any]], head: End) -> tuple[list[dict], End]:
        """The rows sealed and chained after ``head``, and the head after them."""
        seq, seal = head.seq, head.seal
        sealed = []
        for row in rows:
            seq += 1
            values = {**row, "at": time.time(), "seq": seq, "prev_seal": seal}
            seal = row_seal(self.key, [values[c] for c in SEALED_COLUMNS])
            sealed.append({**values, "seal": seal})
        return sealed, End(HEAD, seq, seal)

    def _insert(self, cursor: Any, sealed: list[dict[str, Any]], head: End) -> None:
        self.db.executemany(cursor, _INSERT.format(t=self.t), sealed)
        self._write_end(cursor, head)

    def purge(self, cutoff: float) -> int:
        """Delete the rows recorded before ``cutoff`` (the chain's oldest), and mark the
        last one deleted, in the same transaction, so the chain after it still verifies.
        Returns how many rows went."""
        with self.db.transaction(commit=True) as cursor:
            self._end(cursor, PURGED, lock=True)  # one purge at a time
            self.db.execute(
                cursor,
                f"SELECT MAX(seq) AS seq FROM {self.t} WHERE at < :cutoff AND seq IS NOT NULL",
                {"cutoff": cutoff},
            )
            last = cursor.fetchone()["seq"]
            if last is None:  # only rows from before seals can be due
                self.db.execute(
                    cursor,
                    f"DELETE FROM {self.t} WHERE seq IS NULL AND at < :cutoff",
                    {"cutoff": cutoff},
                )
                return self.db.rowcount(cursor)
            self.db.execute(cursor, f"SELECT seal FROM {self.t} WHERE seq = :seq", {"seq": last})
            seal = cursor.fetchone()["seal"]
            # The chain's prefix up to the last expired row; rows from before seals are older.
            self.db.execute(
                cursor, f"DELETE FROM {self.t} WHERE seq <= :seq OR seq IS NULL", {"seq": last}
            )
            deleted = self.db.rowcount(cursor)
            self._write_end(cursor, End(PURGED, last, seal))
            return deleted

    def first_break(self) -> Break | None:
        """The first row that Atende did not write as it stands: walks the chain from the
        purge watermark to the head. A purge that runs meanwhile restarts the walk."""
        if self.file_origin is not None and (replaced := self.file_origin()) is not None:
            return replaced
        broken = None
        for _ in range(3):
            ends = self._ends()
            if isinstance(ends, Break):
                return ends
            head, purged = ends
            walk = ChainWalk(self.key, head, purged)
            broken = self._legacy_break(purged) or self._walk(walk)
            now = self._ends()
            if isinstance(now, Break):
                return broken or now
            if broken is None:
                return walk.past(now[0])
            if now[1] == purged:
                return broken
        return broken

    def reads(
        self,
        *,
        ticket_id: UUID | None,
        principal_id: str | None,
        after: tuple[float, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Newest first. A ticket's reads include the list reads that served it."""
        clauses, params = [], {}
        if ticket_id is not None:
            clauses.append("(ticket_id = :ticket OR ticket_ids LIKE :listed)")
            params["ticket"], params["listed"] = str(ticket_id), f"%{ticket_id}%"
        if principal_id is not None:
            clauses.append("principal_id = :pid")
            params["pid"] = principal_id
        if after is not None:
            clauses.append("(at < :at OR (at = :at AND id < :id))")
            params["at"], params["id"] = after
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(
                cursor,
                f"SELECT {_COLUMNS} FROM {self.t} {where} "
                f"ORDER BY at DESC, id DESC LIMIT {int(limit)}",
                params,
            )
            return [dict(row) for row in cursor.fetchall()]

    # The chain's ends.

    def _end(self, cursor: Any, name: str, *, lock: bool) -> End:
        """The end ``name``, checked; ``lock`` holds its row until the transaction ends."""
        lock_clause = " FOR UPDATE" if lock and self.db.is_postgres else ""
        self.db.execute(
            cursor,
            f"SELECT seq, seal, mark FROM {self.ends} WHERE name = :name{lock_clause}",
            {"name": name},
        )
        row = cursor.fetchone()
        end = None if row is None else End(name, row["seq"], row["seal"])
        if end is None or not end.is_marked(self.key, row["mark"]):
            raise ChainTampered(f"the access log's {name} was not written by Atende")
        return end

    def _ends(self) -> tuple[End, End] | Break:
        try:
            with self.db.transaction(commit=False) as cursor:
                return self._end(cursor, HEAD, lock=False), self._end(cursor, PURGED, lock=False)
        except ChainTampered as tampered:
            return Break(f"{tampered} (missing, or its mark does not match)")

    def _write_end(self, cursor: Any, end: End) -> None:
        self.db.execute(
            cursor,
            f"UPDATE {self.ends} SET seq = :seq, seal = :seal, mark = :mark WHERE name = :name",
            self._end_params(end),
        )

    def _end_params(self, end: End) -> dict[str, Any]:
        return {"name": end.name, "seq": end.seq, "seal": end.seal, "mark": end.mark(self.key)}

    # The walk.

    def _walk(self, walk: ChainWalk) -> Break | None:
        after = None
        while True:
            rows = self._page(after)
            broken = walk.feed(rows)
            if broken is not None or len(rows) < PAGE:
                return broken or walk.finish()
            after = walk.seq

    def _page(self, after: int | None) -> list[tuple]:
        bound = "" if after is None else "AND seq > :after"
        with self.db.reading() as cursor:
            self.db.execute(
                cursor,
                f"SELECT {_SEALED}, seal FROM {self.t} WHERE seq IS NOT NULL {bound} "
                f"ORDER BY seq LIMIT {PAGE}",
                {"after": after},
            )
            return self.db.fetch_values(cursor)

    def _legacy_break(self, purged: End) -> Break | None:
        with self.db.transaction(commit=False) as cursor:
            self.db.execute(
                cursor,
                f"SELECT id, at FROM {self.t} WHERE seq IS NULL ORDER BY at DESC, id DESC LIMIT 1",
            )
            newest = cursor.fetchone()
            if newest is None:
                return None
            self.db.execute(
                cursor, f"SELECT at FROM {self.t} WHERE seq IS NOT NULL ORDER BY seq LIMIT 1"
            )
            first = cursor.fetchone()
        return legacy_break(
            Legacy(newest["id"], newest["at"], None if first is None else first["at"]), purged
        )
