"""Group commit: the writes one process has waiting share one transaction and one commit.

On SQLite every write queues for the database's single write lock (infrastructure/
sqlite_lock.py), and most of the time it holds that lock goes to the COMMIT (0.9 ms of
1.4 ms measured under load, issue 19). So when several of a worker's requests wait to
write, the first to get the process's turn writes all of them: each in a savepoint of
its own, so one refused write (a version conflict, a duplicate external reference)
is undone alone, and the others commit together. Each request still returns only once
its own write is committed, and the hash chain is extended write after write inside
the transaction, as if they had come one by one.

A lone write runs as before, in a transaction of its own. Nothing waits on purpose to
gather a batch: batches form only from writes that were queued anyway.

``Turns`` is the queue and the turn-taking; ``GroupCommit`` writes a batch with a savepoint
a write (SQLite's event writes, and the key inserts on both databases);
``OptimisticTurns`` writes a batch in one go and, when the database refuses it, each of
its writes alone; so are written the access-log appends on both databases
(``BatchedGroupCommit``) and PostgreSQL's event writes (infrastructure/
postgres_group_commit.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    OperationalError,
    PersistenceError,
)
from prometheus_client import Histogram

# What the library's SQLite transaction turns driver errors into, for the errors a write
# inside a savepoint raises (the library translates only what leaves its transaction).
_TRANSLATED = (
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.DataError, DataError),
    (sqlite3.Error, PersistenceError),
)


# How well each group commit groups, for GET /metrics: an operator sizing ATENDE_THREADS
# or watching a write-heavy hour sees how many writes share each commit.
GROUP_COMMIT_WRITES = Histogram(
    "atende_group_commit_writes",
    "Writes per turn of a group commit, by queue: events (every aggregate write), keys "
    "(new customers' keys), access_log (reads of personal data logged).",
    ["queue"],
    buckets=(1, 2, 4, 8, 16, 32),
)


class QueuedWrite:
    """One queued write (``work``), and once its batch is over, its result or its
    error."""

    def __init__(self, work: Any):
        self.work = work
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class Turns:
    """Writes (``run(work)``) that a process's threads queue up, taken a batch at a time
    by whichever thread has the turn and written by ``_commit``, which each kind of
    group commit defines. Each ``run`` returns once its own write is done, with its own
    result or error."""

    def __init__(self, queue: str) -> None:
        self._batch_sizes = GROUP_COMMIT_WRITES.labels(queue)
        self._pending: list[QueuedWrite] = []
        self._pending_lock = threading.Lock()
        self._turn = threading.Lock()  # whoever holds it writes a batch of what is queued

    def run(self, work: Any) -> Any:
        mine = QueuedWrite(work)
        with self._pending_lock:
            self._pending.append(mine)
        while not mine.done:
            with self._turn:
                if not mine.done:  # else an earlier turn wrote it (and committed, or failed)
                    with self._pending_lock:
                        batch, self._pending = self._batch(self._pending)
                    self._commit(batch)  # tells each write its outcome, even a failure
                    self._batch_sizes.observe(len(batch))  # after: never strands a write
        return mine.outcome()

    def _batch(self, pending: list[QueuedWrite]) -> tuple[list[QueuedWrite], list[QueuedWrite]]:
        """The writes this turn takes, and those left queued for the next, in order."""
        return pending, []

    def _commit(self, batch: list[QueuedWrite]) -> None:
        raise NotImplementedError


class GroupCommit(Turns):
    """Runs writes (``work(cursor)``) in ``transaction()``, several at once when they
    queue up. ``transaction`` takes the database's write lock, begins, and commits on a
    clean exit (rolls back otherwise). ``lone``, if given, is what a write that queued
    alone runs in instead: for a write that is one statement, PostgreSQL's autocommit
    saves the round trips of BEGIN and COMMIT."""

    def __init__(
        self,
        queue: str,
        transaction: Callable[[], AbstractContextManager[Any]],
        lone: Callable[[], AbstractContextManager[Any]] | None = None,
    ):
        super().__init__(queue)
        self._transaction = transaction
        self._lone = lone or transaction

    def _commit(self, batch: list[QueuedWrite]) -> None:
        try:
            if len(batch) == 1:  # a lone write in a transaction alone, as before
                with self._lone() as cursor:
                    batch[0].result = batch[0].work(cursor)
            else:
                with self._transaction() as cursor:
                    for write in batch:
                        _in_savepoint(cursor, write)
        except BaseException as error:  # noqa: BLE001 - re-raised on exit (share_failure)
            share_failure(batch, error)
        finally:
            for write in batch:
                write.done = True


class OptimisticTurns(Turns):
    """Turns whose batch is written in one go, with no savepoint a write, by
    ``_write_batch(works)`` (each write's result, in order). When the batch fails with an
    error ``_redo_alone`` accepts, it was rolled back as a whole and each of its writes is
    made again alone, as if there had been no batch, so each is answered as itself; any
    other error is every write's."""

    def _write_batch(self, works: list[Any]) -> list[Any]:
        raise NotImplementedError

    def _redo_alone(self, error: Exception) -> bool:
        return True

    def _commit(self, batch: list[QueuedWrite]) -> None:
        try:
            try:
                results = self._write_batch([queued.work for queued in batch])
            except Exception as error:
                if len(batch) == 1 or not self._redo_alone(error):
                    raise
                self._each_alone(batch)
            else:
                for queued, result in zip(batch, results, strict=True):
                    queued.result = result
        except BaseException as error:  # noqa: BLE001 - re-raised on exit (share_failure)
            share_failure(batch, error)
        finally:
            for queued in batch:
                queued.done = True

    def _each_alone(self, batch: list[QueuedWrite]) -> None:
        for queued in batch:
            try:
                queued.result = self._write_batch([queued.work])[0]
            except Exception as error:  # noqa: BLE001 - handed to the write's own request
                queued.error = error


class BatchedGroupCommit(OptimisticTurns):
    """A group commit for writes that cost less written together than one after another
    (``write_all(works, cursor)`` in ``transaction()``, which returns each one's result
    in order): the access log's rows share one read and one write of the chain's head
    instead of one each. A batch that fails is written again one write at a time, so a
    write that cannot be written fails alone and the others commit."""

    def __init__(
        self,
        queue: str,
        transaction: Callable[[], AbstractContextManager[Any]],
        write_all: Callable[[list[Any], Any], list[Any]],
    ):
        super().__init__(queue)
        self._transaction = transaction
        self._write_all = write_all

    def _write_batch(self, works: list[Any]) -> list[Any]:
        with self._transaction() as cursor:
            return self._write_all(works, cursor)


def share_failure(batch: list[QueuedWrite], error: BaseException) -> None:
    """The transaction failed as a whole (or the lone write did): every write not
    already refused on its own shares the failure."""
    for write in batch:
        if write.error is None:
            write.error = error
    if not isinstance(error, Exception):
        raise error  # the worker is exiting: the writes above are told why


def _in_savepoint(cursor: Any, write: QueuedWrite) -> None:
    cursor.execute("SAVEPOINT grouped_write")
    try:
        write.result = write.work(cursor)
    except Exception as error:  # noqa: BLE001 - handed to the write's own request
        cursor.execute("ROLLBACK TO grouped_write")
        write.error = _translated(error)
    cursor.execute("RELEASE grouped_write")


def _translated(error: Exception) -> Exception:
    for driver_error, persistence_error in _TRANSLATED:
        if isinstance(error, driver_error):
            translated = persistence_error(error)
            translated.__cause__ = error
            return translated
    return error
