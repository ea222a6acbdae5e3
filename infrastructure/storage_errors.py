"""Telling a database that refuses writes for good from one that is briefly busy.

A locked SQLite file, a PostgreSQL restart or a lost connection pass by themselves: the
client should retry shortly. A read-only file system, a full disk, a read-only
transaction or a missing table do not: retrying only adds load, and an operator must act.
Both arrive as the same few exception classes (eventsourcing wraps the driver's error,
which it keeps as ``__cause__``), so the driver's own code decides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg

# sqlite3's extended result codes (Python 3.11+: ``sqlite_errorname``).
_SQLITE_PERMANENT = {
    "SQLITE_READONLY": "the database is read-only",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk fails to read or write",
    "SQLITE_CANTOPEN": "the database file cannot be opened",
    "SQLITE_CORRUPT": "the database file is corrupt",
    "SQLITE_NOTADB": "the database file is not a database",
    "SQLITE_PERM": "the database refuses access",
}
# PostgreSQL SQLSTATEs that no retry fixes.
_POSTGRES_PERMANENT = {
    "25006": "the database is read-only (read-only transaction)",
    "53100": "the database's disk is full",
    "58030": "the database fails to read or write its files",
    "42501": "the database refuses this user the write",
    "42P01": "a table is missing (schema not created)",
    "XX001": "the database's data is corrupt",
}


def cannot_write(error: BaseException) -> str | None:
    """Why the database refuses writes for good, when that is what ``error`` says."""
    for cause in _causes(error):
        if isinstance(cause, sqlite3.Error):
            name = getattr(cause, "sqlite_errorname", "") or ""
            for code, reason in _SQLITE_PERMANENT.items():
                if name == code or name.startswith(code + "_"):
                    return reason
            if "readonly database" in str(cause):
                return _SQLITE_PERMANENT["SQLITE_READONLY"]
        if isinstance(cause, psycopg.Error):
            reason = _POSTGRES_PERMANENT.get(cause.sqlstate or "")
            if reason is not None:
                return reason
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
