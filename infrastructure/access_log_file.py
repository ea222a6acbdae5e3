"""On SQLite the access log is a database file of its own, beside the main one.

Every read of personal data appends a row and commits it before it answers. In the main
file those commits queued for SQLite's one write lock behind ticket writes and the
projector's batches: while the projector caught up on a backlog, a queue read waited up
to 400 ms for its row (issue 19). In a file of its own the rows have a write lock of their
own; what is logged, when, and how it is chained do not change (infrastructure/access_log.py).

A file can be deleted or swapped as a whole, which no row of it can show. So the file is
made with an origin, a random id sealed like the chain's ends, and the main file keeps a
sealed copy of it (``FileOrigin``): a start that finds the file gone makes a new one with a
new origin, and verify names the difference from then on.

The file is ``<database>.access-log`` (``var/atende.db.access-log``), like the keystore and
the checkpoints beside it. An in-memory database keeps its access log inside: there is no
file to put beside it. PostgreSQL keeps it in the schema: its appends already wait only
on the chain head's row lock, not on the event writes.

A database from before the move still has the log in the main file. ``move_into_own_file``
copies its rows and chain ends into the new file and only then drops them from the main
one; the two files cannot commit together, so a move cut off between the two commits is
simply done again at the next start: the copy skips the rows it finds and writes the same
ends, then the drop finishes it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from eventsourcing.sqlite import SQLiteDatastore

from domain.audit_chain import Break
from infrastructure.access_log import ACCESS_LOG, ENDS, AccessLog
from infrastructure.access_log_chain import End
from infrastructure.private_files import private_database
from infrastructure.sql import SqlDatabase
from infrastructure.sqlite_lock import sqlite_write_lock

SUFFIX = ".access-log"
# The file's origin: a random id sealed into the file when it is made, and its copy in the
# main file, written at the first start that finds none there.
ORIGIN = "origin"
ORIGIN_TABLE = "access_log_origin"
# Rows copied per statement: a 400-day log moves without being held in memory at once.
_COPY_PAGE = 5000
_END_COLUMNS = ("name", "seq", "seal", "mark")


def access_log_path(main: Path) -> Path:
    return main.with_name(main.name + SUFFIX)


def access_log_database(db: SqlDatabase, *, lock_timeout: int = 10) -> SqlDatabase:
    """Where the access log lives for the main database ``db``: a file of its own on a
    SQLite file, ``db`` itself otherwise."""
    if db.is_postgres or db.datastore.pool.is_sqlite_memory_mode:
        return db
    path = access_log_path(Path(db.datastore.pool.db_name))
    private_database(path)  # 0600 before SQLite first creates it, as the main file
    return SqlDatabase(SQLiteDatastore(str(path), lock_timeout=lock_timeout))


def move_into_own_file(main: SqlDatabase, access_log: AccessLog) -> int:
    """Move an access log left in the main file into ``access_log``'s own (its tables
    made already); answers how many rows were copied (0 when there was nothing to move).

    The main file's write lock is held throughout, so of workers starting together one
    moves and the others find the tables gone; the access-log file's lock is taken
    inside it (the only place the two nest, always in this order)."""
    target = access_log.db
    if target is main:
        return 0
    with sqlite_write_lock(main.datastore):
        columns = _old_columns(main)
        if not columns:
            return 0
        copied = _copy(main, target, columns)
        # Dropped only once the copy has committed, in the main file's own transaction
        # (its lock is held above: the library's, not SqlDatabase.transaction's).
        with main.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {ENDS}")
            cursor.execute(f"DROP TABLE IF EXISTS {ACCESS_LOG}")
    return copied


def _old_columns(main: SqlDatabase) -> list[str]:
    """The columns of the main file's access-log table, none if it has none (an old
    table may lack those added since: they stay NULL, as they were)."""
    with main.reading() as cursor:
        cursor.execute(f"PRAGMA table_info({ACCESS_LOG})")
        return [row[1] for row in cursor.fetchall()]


def _copy(main: SqlDatabase, target: SqlDatabase, columns: list[str]) -> int:
    """Every row, in one transaction of the new file. A row already there (the same id:
    a move done again) is skipped; a different row at a taken ``seq`` is refused by the
    unique index, which fails the move and keeps the main file's table, rather than
    merge two chains."""
    listed = ", ".join(columns)
    insert = (
        f"INSERT INTO {ACCESS_LOG} ({listed}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (id) DO NOTHING"
    )
    copied, after = 0, 0
    with target.transaction(commit=True) as into:
        while True:
            with main.reading() as cursor:
                cursor.execute(
                    f"SELECT rowid, {listed} FROM {ACCESS_LOG} WHERE rowid > ? "
                    f"ORDER BY rowid LIMIT {_COPY_PAGE}",
                    (after,),
                )
                page = [tuple(row) for row in cursor.fetchall()]
            if not page:
                break
            into.executemany(insert, [row[1:] for row in page])
            copied += len(page)
            after = page[-1][0]
        _copy_ends(main, into)
    return copied


def _copy_ends(main: SqlDatabase, into: object) -> None:
    """The chain's sealed head and purge watermark replace the new file's first ones: the
    chain goes on from where it was. A log from before the chain has no ends: the new
    file's first ones stay, as the old file's would have been made."""
    with main.reading() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (ENDS,)
        )
        if not cursor.fetchone()[0]:
            return
        cursor.execute(f"SELECT {', '.join(_END_COLUMNS)} FROM {ENDS}")
        ends = [tuple(row) for row in cursor.fetchall()]
    into.executemany(  # type: ignore[attr-defined]
        f"INSERT INTO {ENDS} ({', '.join(_END_COLUMNS)}) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, seal = excluded.seal, "
        "mark = excluded.mark",
        ends,
    )


def pin_file_origin(main: SqlDatabase, access_log: AccessLog) -> None:
    """Give ``access_log``'s own file an origin and the main file its copy, and have the
    log's verify check them first; nothing when the log is in the main database."""
    if access_log.db is main:
        return
    origin = FileOrigin(main, access_log)
    origin.create_table()
    origin.pin()
    access_log.file_origin = origin.first_break


class FileOrigin:
    """Which access-log file the main database began with (see the module's doc)."""

    def __init__(self, main: SqlDatabase, access_log: AccessLog):
        self.main, self.log = main, access_log
        self.kept = main.table(ORIGIN_TABLE)

    def create_table(self) -> None:
        self.main.create_tables(
            [
                f"CREATE TABLE IF NOT EXISTS {self.kept} (name TEXT PRIMARY KEY, "
                "seq BIGINT NOT NULL, seal TEXT NOT NULL, mark TEXT NOT NULL)"
            ]
        )

    def pin(self) -> None:
        """The file's origin, made with it; its copy in the main file, unless one is
        there already (from the file this database began with)."""
        self._insert(self.log.db, self.log.ends, End(ORIGIN, 0, uuid.uuid4().hex))
        found = self._read(self.log.db, self.log.ends)  # the file's own, if it had one
        if found is not None and found is not _UNMARKED:
            self._insert(self.main, self.kept, found)

    def first_break(self) -> Break | None:
        kept = self._read(self.main, self.kept)
        found = self._read(self.log.db, self.log.ends)
        if kept is _UNMARKED or found is _UNMARKED:
            where = "database" if kept is _UNMARKED else "access-log file"
            return Break(f"the access log's origin in the {where} was not written by Atende")
        if kept is None:  # not pinned yet: a database from before the file had an origin
            return None
        if found is None or found.seal != kept.seal:
            return Break(
                "the access-log file is not the one this database began with: it was "
                "deleted or replaced, and its chain began again"
            )
        return None

    def _insert(self, db: SqlDatabase, table: str, origin: End) -> None:
        with db.transaction(commit=True) as cursor:
            db.execute(
                cursor,
                f"INSERT INTO {table} (name, seq, seal, mark) VALUES "
                "(:name, :seq, :seal, :mark) ON CONFLICT (name) DO NOTHING",
                {**vars(origin), "mark": origin.mark(self.log.key)},
            )

    def _read(self, db: SqlDatabase, table: str) -> End | None:
        """The origin row of ``table``: None if there is none, _UNMARKED if its mark is
        not Atende's."""
        with db.reading() as cursor:
            db.execute(
                cursor, f"SELECT seq, seal, mark FROM {table} WHERE name = :n", {"n": ORIGIN}
            )
            row = cursor.fetchone()
        if row is None:
            return None
        end = End(ORIGIN, row["seq"], row["seal"])
        return end if end.is_marked(self.log.key, row["mark"]) else _UNMARKED


_UNMARKED = End(ORIGIN, -1, "")  # an origin row someone else wrote
