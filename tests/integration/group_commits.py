"""Writes queued up behind a group commit (infrastructure/group_commit.py, and on
PostgreSQL infrastructure/postgres_group_commit.py), and how they were then written."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from infrastructure.group_commit import BatchedGroupCommit, GroupCommit, Turns

QUEUE_SECONDS = 10.0


def queued_all_at_once(group: Turns, writers: list[Callable[[], None]]) -> None:
    """Starts each writer in a thread of its own while the group's turn is held, so that
    all of them queue up; then lets them go and waits for them."""
    with group._turn:
        threads = [threading.Thread(target=write) for write in writers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + QUEUE_SECONDS
        while len(group._pending) < len(writers):
            assert time.monotonic() < deadline, "the writers never queued up"
            time.sleep(0.01)
    for thread in threads:
        thread.join(QUEUE_SECONDS)


def transactions_writing_queued(
    group: GroupCommit | BatchedGroupCommit, writers: list[Callable[[], None]]
) -> int:
    """How many transactions wrote the writers, queued up all at once."""
    transactions = []
    open_transaction = group._transaction

    def counted():
        transactions.append(1)
        return open_transaction()

    group._transaction = counted
    try:
        queued_all_at_once(group, writers)
    finally:
        group._transaction = open_transaction
    return len(transactions)
