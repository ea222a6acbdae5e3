"""Which database errors mean "retry shortly" and which "an operator must act", read from
real sqlite3 errors (the driver's own codes decide, not the message)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from infrastructure.storage_errors import cannot_write


def _error_of(connection: sqlite3.Connection, statement: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        connection.execute(statement)
    return raised.value


def test_a_read_only_database_is_refused_for_good_even_wrapped_by_the_library(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    driver_error = _error_of(read_only, "INSERT INTO t VALUES (1)")
    try:
        raise OperationalError(driver_error) from driver_error
    except OperationalError as wrapped:
        assert cannot_write(wrapped) == "the database is read-only"


def test_a_locked_database_passes_by_itself(tmp_path: Path):
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0)
    assert cannot_write(_error_of(waiter, "INSERT INTO t VALUES (1)")) is None


def test_errors_that_are_not_the_databases_say_nothing():
    assert cannot_write(ValueError("no")) is None
