"""A blocking, cross-process lock around SQLite write transactions.

SQLite's busy handler makes a waiting writer sleep with growing backoff (up to 100 ms
a time) instead of waking when the write lock frees, so under concurrent writers from
several gunicorn workers most of the tail latency is sleeping. A file lock queues the
writers in the kernel, which wakes the next one as soon as the lock is released.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from eventsourcing.sqlite import SQLiteDatastore


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    # A new open file description per acquisition, so threads of one process
    # exclude each other too (flock is per description, not per process).
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def sqlite_write_lock(datastore: SQLiteDatastore) -> AbstractContextManager[None]:
    if datastore.pool.is_sqlite_memory_mode:
        return nullcontext()
    return _file_lock(f"{datastore.pool.db_name}.writelock")
