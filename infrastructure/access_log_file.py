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
copies its rows, then its chain ends, into the new file and only then drops them from the
main one. The two files cannot commit together, so a move stopped anywhere is taken up at
the next start after the last row copied; a new file holding any other chain is refused.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from domain.audit_chain import Break
from infrastructure.access_log import ACCESS_LOG, ENDS, AccessLog
from infrastructure.access_log_chain import End
from infrastructure.private_files import private_database
from infrastructure.sql import SqlDatabase
from infrastructure.sqlite_lock import sqlite_write_lock

SUFFIX = ".access-log"
# The file's origin: a random id sealed into the file when it is made, and its copy in the
# main file, written only for a file being made. The copy goes first, as PINNING (its ``seq``), and
# becomes PINNED once the file holds the origin too: the two files cannot commit together,
# and a start stopped between them finds PINNING and finishes. Copies from before this
# have seq 0: pinned.
ORIGIN = "origin"
ORIGIN_TABLE = "access_log_origin"
PINNED, PINNING = 0, 1
# Rows copied per transaction: a 400-day log moves without being held in memory at once,
# and a start stopped partway keeps what it copied.
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


class MoveRefused(RuntimeError):
    """Both files hold an access log, and the file's is not a copy of the main file's
    (a main file restored from before the move beside a file that went on since, or a
    file from another deployment): moving would put a chain's ends back, or merge two."""


def move_into_own_file(main: SqlDatabase, access_log: AccessLog) -> int:
    """Move an access log left in the main file into ``access_log``'s own (its tables
    made already); answers how many rows were copied (0 when there was nothing to move).

    The main file's write lock is held throughout, so of processes starting together one
    moves and the others find the tables gone; the access-log file's lock is taken
    inside it (the only places the two nest, here and FileOrigin.pin, in this order).
    Rows are copied a page a transaction, so a start stopped midway (a gunicorn worker
    killed for booting longer than its timeout) leaves its pages, and the next start
    goes on after the last one; the ends follow the rows, and the drop comes last."""
    target = access_log.db
    if target is main:
        return 0
    with sqlite_write_lock(main.datastore):
        columns = _old_columns(main)
        if not columns:
            return 0
        copied = _copy_rows(main, target, columns, after=_resume_point(main, target))
        with target.transaction(commit=True) as into:
            _copy_ends(main, into)
        # Dropped only once rows and ends have committed, in the main file's own
        # transaction (its lock is held above: the library's, not SqlDatabase's).
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


def _resume_point(main: SqlDatabase, target: SqlDatabase) -> int:
    """The main file's rowid after which rows are still to copy: 0 into a new file; after
    the last row copied when a move was stopped (the file's head still its first, or
    already the main file's). Anything else is another chain: MoveRefused."""
    source_head, target_head = _head(main), _head(target)
    if target_head is not None and target_head[0] != 0 and target_head != source_head:
        raise _refused(main, target, source_head, target_head)
    with target.reading() as cursor:
        cursor.execute(f"SELECT id FROM {ACCESS_LOG} ORDER BY rowid DESC LIMIT 1")
        last = cursor.fetchone()
    if last is None:
        return 0
    with main.reading() as cursor:
        cursor.execute(f"SELECT rowid FROM {ACCESS_LOG} WHERE id = ?", (last[0],))
        found = cursor.fetchone()
    if found is None:  # rows the main file's log never had
        raise _refused(main, target, source_head, target_head)
    return int(found[0])


def _head(db: SqlDatabase) -> tuple[int, str] | None:
    """The (seq, seal) of a chain's head; None where there is none (a log from before
    the chain)."""
    if not _has_ends(db):
        return None
    with db.reading() as cursor:
        cursor.execute(f"SELECT seq, seal FROM {ENDS} WHERE name = 'head'")
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def _has_ends(db: SqlDatabase) -> bool:
    with db.reading() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (ENDS,))
        return cursor.fetchone() is not None


def _refused(
    main: SqlDatabase,
    target: SqlDatabase,
    source: tuple[int, str] | None,
    found: tuple[int, str] | None,
) -> MoveRefused:
    main_path, own_path = main.datastore.pool.db_name, target.datastore.pool.db_name
    return MoveRefused(
        f"{main_path} still holds an access log and {own_path} holds another (heads at "
        f"seq {source[0] if source else 0} and {found[0] if found else 0}): restore the two "
        "files from one backup, or, to keep the access-log file's chain, drop the tables "
        f"{ACCESS_LOG} and {ENDS} from {main_path}"
    )


def _copy_rows(main: SqlDatabase, target: SqlDatabase, columns: list[str], after: int) -> int:
    """The rows after rowid ``after``, a page a transaction; a row already there (the
    same id) is skipped."""
    listed = ", ".join(columns)
    insert = (
        f"INSERT INTO {ACCESS_LOG} ({listed}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (id) DO NOTHING"
    )
    copied = 0
    while True:
        with main.reading() as cursor:
            cursor.execute(
                f"SELECT rowid, {listed} FROM {ACCESS_LOG} WHERE rowid > ? "
                f"ORDER BY rowid LIMIT {_COPY_PAGE}",
                (after,),
            )
            page = [tuple(row) for row in cursor.fetchall()]
        if not page:
            return copied
        with target.transaction(commit=True) as into:
            into.executemany(insert, [row[1:] for row in page])
        copied += len(page)
        after = page[-1][0]


def _copy_ends(main: SqlDatabase, into: Any) -> None:
    """The chain's sealed head and purge watermark replace the new file's first ones: the
    chain goes on from where it was. A log from before the chain has no ends: the new
    file's first ones stay, as the old file's would have been made."""
    if not _has_ends(main):
        return
    with main.reading() as cursor:
        cursor.execute(f"SELECT {', '.join(_END_COLUMNS)} FROM {ENDS}")
        ends = [tuple(row) for row in cursor.fetchall()]
    into.executemany(
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
        """Give a new file its origin, and the main file a copy of it. Only a file made
        now is pinned: a file whose origin the database has no copy of keeps it missing,
        so verify goes on naming it. Under the main file's write lock, so processes
        starting together make one origin and pin it before any of them can verify."""
        with sqlite_write_lock(self.main.datastore):
            kept = self._read(self.main, self.kept)
            if kept is None:
                if self._read(self.log.db, self.log.ends) is not None:
                    return  # an origin the database never kept (its copy deleted)
                kept = End(ORIGIN, PINNING, uuid.uuid4().hex)
                # The library's transaction: the main file's write lock is held above.
                with self.main.datastore.transaction(commit=True) as cursor:
                    self._insert_in(cursor, self.kept, kept)
            if kept.seq != PINNING:  # pinned, or not Atende's (verify names it)
                return
            origin = End(ORIGIN, 0, kept.seal)
            self._insert(self.log.db, self.log.ends, origin)
            if self._read(self.log.db, self.log.ends) == origin:
                with self.main.datastore.transaction(commit=True) as cursor:
                    pinned = End(ORIGIN, PINNED, kept.seal)
                    cursor.execute(
                        f"UPDATE {self.kept} SET seq = ?, mark = ? WHERE name = ?",
                        (pinned.seq, pinned.mark(self.log.key), ORIGIN),
                    )

    def first_break(self) -> Break | None:
        kept = self._read(self.main, self.kept)
        found = self._read(self.log.db, self.log.ends)
        if kept is _UNMARKED or found is _UNMARKED:
            where = "database" if kept is _UNMARKED else "access-log file"
            return Break(f"the access log's origin in the {where} was not written by Atende")
        if kept is None:
            return Break("the database's record of the access-log file's origin is missing")
        if found is None and kept.seq == PINNING:
            return Break(
                "the access-log file's origin is not written yet: a start stopped while "
                "making the file (the next start writes it)"
            )
        if found is None or found.seal != kept.seal:
            return Break(
                "the access-log file is not the one this database began with: it was "
                "deleted or replaced, and its chain began again"
            )
        return None

    def _insert(self, db: SqlDatabase, table: str, origin: End) -> bool:
        """Whether ``origin`` was written (False: ``table`` had one)."""
        with db.transaction(commit=True) as cursor:
            return self._insert_in(cursor, table, origin)

    def _insert_in(self, cursor: Any, table: str, origin: End) -> bool:
        cursor.execute(
            f"INSERT INTO {table} (name, seq, seal, mark) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (origin.name, origin.seq, origin.seal, origin.mark(self.log.key)),
        )
        return self.main.rowcount(cursor) == 1  # SQLite's, in either file

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
