"""Where the access log lives (infrastructure/access_log_file.py): on a SQLite file, a file
of its own beside the database, so reads of personal data do not queue for the write lock
behind ticket writes and the projector (issue 19); on PostgreSQL, the schema. A database
from before keeps its rows and its chain: they move at the next start, once, whatever
the move was cut off by."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from uuid import uuid4

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from domain.actor import Actor
from infrastructure.access_log import ACCESS_LOG, ENDS, AccessLog
from infrastructure.access_log_chain import End
from infrastructure.access_log_file import (
    ORIGIN,
    ORIGIN_TABLE,
    PINNED,
    PINNING,
    FileOrigin,
    MoveRefused,
    access_log_path,
)
from infrastructure.sql import SqlDatabase
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import settings_for

READER = Actor(id="t-1", name="lectora", role="agent")


@contextmanager
def started(settings) -> Iterator[Atende]:
    """Atende started on ``settings``'s database, as a worker starts it, and closed."""
    atende = bootstrap(settings)
    try:
        yield atende
    finally:
        atende.close()


def _log_in_own_file(path: Path, key: bytes) -> AccessLog:
    """An access log on the file ``path`` alone, made there without Atende's start."""
    log = AccessLog(SqlDatabase(SQLiteDatastore(str(path), lock_timeout=10)), key)
    log.create_table()
    return log


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        found = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in found}


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as raw:
        return raw.execute(f"SELECT seq, id, ticket_id FROM {ACCESS_LOG} ORDER BY seq").fetchall()


def _log_in_main_file(settings, reads: int) -> list[str]:
    """A database as Atende left it before the move: the access log's tables and a chain
    of ``reads`` rows in the main file, and no access-log file."""
    with started(settings) as atende:
        old = AccessLog(atende.db, atende.access_log.key)  # the key is the deployment's
        old.create_table()
        tickets = [str(uuid4()) for _ in range(reads)]
        for ticket in tickets:
            old.record(READER, "/v1/tickets/{ticket_id}", "ticket", ticket_id=ticket)
    _delete_log_file(settings)
    with closing(sqlite3.connect(settings.sqlite_path())) as raw, raw:
        raw.execute(f"DROP TABLE {ORIGIN_TABLE}")  # nor a record of that file
    return tickets


def test_on_sqlite_the_access_log_is_a_private_file_beside_the_database(backend, atende, settings):
    atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=["a", "b"], count=2)
    if backend == "postgres":  # the schema's, as before: nothing there waits on event writes
        assert atende.access_log.db is atende.db
        read = atende.access_log.reads(ticket_id=None, principal_id="t-1", after=None, limit=5)
        assert len(read) == 1
        return
    main = settings.sqlite_path()
    own = access_log_path(main)
    assert own == main.with_name("atende.db.access-log")
    assert [row[0] for row in _rows(own)] == [1]
    assert ACCESS_LOG not in _tables(main) and ENDS not in _tables(main)
    assert stat.S_IMODE(own.stat().st_mode) == 0o600


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_access_log_left_in_the_main_file_moves_to_its_own_with_its_chain(settings):
    tickets = _log_in_main_file(settings, reads=3)

    with started(settings) as atende:
        own = access_log_path(settings.sqlite_path())
        assert [(seq, ticket) for seq, _, ticket in _rows(own)] == list(
            zip([1, 2, 3], tickets, strict=True)
        )
        assert ACCESS_LOG not in _tables(settings.sqlite_path())
        assert atende.access_log.first_break() is None
        # The chain goes on from the moved head, not from a new one.
        atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
        assert [row[0] for row in _rows(own)] == [1, 2, 3, 4]
        assert atende.access_log.first_break() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_move_cut_off_between_its_copy_and_its_drop_is_finished_at_the_next_start(settings):
    _log_in_main_file(settings, reads=3)
    bootstrap(settings).close()  # moved
    main, own = settings.sqlite_path(), access_log_path(settings.sqlite_path())
    # What a crash after the copy's commit and before the drop leaves: both files hold it.
    with closing(sqlite3.connect(main)) as raw, raw:
        raw.execute("ATTACH DATABASE ? AS moved", (str(own),))
        raw.execute(f"CREATE TABLE {ACCESS_LOG} AS SELECT * FROM moved.{ACCESS_LOG}")
        raw.execute(f"CREATE TABLE {ENDS} AS SELECT * FROM moved.{ENDS}")

    with started(settings) as atende:
        assert [row[0] for row in _rows(own)] == [1, 2, 3]
        assert ACCESS_LOG not in _tables(main) and ENDS not in _tables(main)
        assert atende.access_log.first_break() is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_move_into_a_file_holding_another_chain_fails_and_keeps_the_main_files_rows(settings):
    _log_in_main_file(settings, reads=2)
    own = access_log_path(settings.sqlite_path())
    # An access-log file from elsewhere (a restored backup of the wrong day, say): its
    # seq 1 and 2 are other rows. Merging two chains would hide which rows are whose.
    other = _log_in_own_file(own, b"k" * 32)
    for _ in range(2):
        other.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
    other.db.datastore.close()

    with pytest.raises(MoveRefused, match=f"drop the tables {ACCESS_LOG} and {ENDS}"):
        bootstrap(settings)
    with sqlite3.connect(settings.sqlite_path()) as raw:
        assert raw.execute(f"SELECT count(*) FROM {ACCESS_LOG}").fetchone()[0] == 2
    assert len(_rows(own)) == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_main_file_restored_from_before_the_move_is_refused_not_moved_over_newer_rows(
    settings, tmp_path
):
    _log_in_main_file(settings, reads=3)
    main = settings.sqlite_path()
    before = tmp_path / "before-the-move.db"
    shutil.copyfile(main, before)  # closed: no -wal left beside it
    with started(settings) as atende:  # moves
        for _ in range(2):
            atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
    shutil.copyfile(before, main)  # only the main file restored

    # Moving again would put the file's head back to seq 3 under rows 4 and 5: every
    # later append would fail on seq 4, and verify would not see why.
    with pytest.raises(MoveRefused, match="restore the two files from one backup"):
        bootstrap(settings)
    assert [row[0] for row in _rows(access_log_path(main))] == [1, 2, 3, 4, 5]
    assert ACCESS_LOG in _tables(main)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_move_stopped_midway_goes_on_after_the_last_row_it_copied(settings):
    _log_in_main_file(settings, reads=5)
    main, own = settings.sqlite_path(), access_log_path(settings.sqlite_path())
    # What a worker killed during the move leaves: the first pages copied, the ends not.
    _log_in_own_file(own, b"k" * 32).db.datastore.close()
    with closing(sqlite3.connect(own)) as raw, raw:
        raw.execute("ATTACH DATABASE ? AS main_file", (str(main),))
        raw.execute(
            f"INSERT INTO {ACCESS_LOG} SELECT * FROM main_file.{ACCESS_LOG} ORDER BY rowid LIMIT 2"
        )

    with started(settings) as atende:
        assert [row[0] for row in _rows(own)] == [1, 2, 3, 4, 5]
        atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
        assert atende.access_log.first_break() is None


_START = """
import sys, time
from interface.container import Atende
from interface.wiring import bootstrap
from tests.databases import settings_for
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
bootstrap(settings_for(sys.argv[1])).close()
"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_processes_starting_together_move_an_old_access_log_once(settings, database_url):
    # Without the main file's lock around the move this failed about half the runs (one
    # process dropped the tables while another copied): a race, so not every time.
    _log_in_main_file(settings, reads=5)
    at = str(time.time() + 4)  # imported by then, each starts at once
    starting = [
        subprocess.Popen([sys.executable, "-c", _START, database_url, at], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in starting]
    assert [process.returncode for process in starting] == [0] * 4, errors

    own = access_log_path(settings.sqlite_path())
    assert [row[0] for row in _rows(own)] == [1, 2, 3, 4, 5]
    assert ACCESS_LOG not in _tables(settings.sqlite_path())
    with started(settings) as atende:
        assert atende.access_log.first_break() is None


def _delete_log_file(settings) -> None:
    main = settings.sqlite_path()
    for path in main.parent.glob(main.name + ".access-log*"):
        path.unlink()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_verify_names_an_access_log_file_deleted_and_begun_again(settings):
    with started(settings) as atende:
        for _ in range(2):
            atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
        assert atende.access_log.first_break() is None
    _delete_log_file(settings)

    with started(settings) as atende:
        atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
        [row] = _rows(access_log_path(settings.sqlite_path()))
        assert row[0] == 1  # a new chain: its rows alone would verify
        broken = atende.access_log.first_break()
        assert broken is not None and "deleted or replaced" in broken.reason


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_verify_names_an_access_log_file_swapped_for_another_databases(settings, tmp_path):
    other = settings_for(f"sqlite:///{tmp_path / 'other' / 'atende.db'}")
    for each in (settings, other):
        atende = bootstrap(each)
        atende.access_log.record(READER, "/v1/queue", "list", ticket_ids=[], count=0)
        atende.close()
    access_log_path(other.sqlite_path()).replace(access_log_path(settings.sqlite_path()))

    with started(settings) as atende:
        broken = atende.access_log.first_break()
        assert broken is not None and "not the one this database began with" in broken.reason


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("where", ["database", "access-log file"])
def test_an_origin_written_by_hand_in_either_file_is_named(settings, where):
    bootstrap(settings).close()
    main, own = settings.sqlite_path(), access_log_path(settings.sqlite_path())
    path, table = (main, ORIGIN_TABLE) if where == "database" else (own, ENDS)
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute(f"UPDATE {table} SET seal = 'f00' WHERE name = 'origin'")

    with started(settings) as atende:
        broken = atende.access_log.first_break()
        assert broken is not None
        assert broken.reason == f"the access log's origin in the {where} was not written by Atende"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_databases_record_of_the_origin_deleted_stays_named_after_a_restart(settings):
    bootstrap(settings).close()
    with closing(sqlite3.connect(settings.sqlite_path())) as raw, raw:
        raw.execute(f"DELETE FROM {ORIGIN_TABLE}")
    for _ in range(2):  # the next start does not take the file's origin as the record
        with started(settings) as atende:
            broken = atende.access_log.first_break()
            assert broken is not None and "origin is missing" in broken.reason


def _origins(settings) -> tuple[tuple | None, tuple | None]:
    """(seq, seal) of the origin the database keeps, and of the access-log file's."""
    found = []
    for path, table in (
        (settings.sqlite_path(), ORIGIN_TABLE),
        (access_log_path(settings.sqlite_path()), ENDS),
    ):
        with closing(sqlite3.connect(path)) as raw:
            query = f"SELECT seq, seal FROM {table} WHERE name = 'origin'"
            found.append(raw.execute(query).fetchone())
    return found[0], found[1]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_first_start_stopped_between_the_two_origins_is_finished_by_the_next(
    settings, monkeypatch
):
    def killed(*args):
        raise RuntimeError("the process was killed here")

    monkeypatch.setattr(FileOrigin, "_insert", killed)  # after the database's copy
    with pytest.raises(RuntimeError):
        bootstrap(settings)
    kept, found = _origins(settings)
    assert kept[0] == PINNING and found is None
    monkeypatch.undo()

    with started(settings) as atende:
        assert atende.access_log.first_break() is None
    kept, found = _origins(settings)
    assert kept == (PINNED, found[1])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_first_start_stopped_before_the_copy_was_marked_pinned_verifies_and_is_finished(
    settings,
):
    with started(settings) as atende:
        key = atende.access_log.key
    (_, seal), _ = _origins(settings)
    pinning = End(ORIGIN, PINNING, seal)  # as that start left it, sealed by Atende
    with closing(sqlite3.connect(settings.sqlite_path())) as raw, raw:
        raw.execute(f"UPDATE {ORIGIN_TABLE} SET seq = ?, mark = ?", (PINNING, pinning.mark(key)))

    with started(settings) as atende:
        assert atende.access_log.first_break() is None
    assert _origins(settings) == ((PINNED, seal), (0, seal))
